"""Whatever ConnectWise answers about boards, statuses and notes, the ticket sender either
understands it or says it cannot (a typed error the outbox handles): never a crash, never a
guess. Property tests (Hypothesis) over the pure parts that read those answers."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ticket_builders import ticket_channel

from monitor.alerts.config import TicketChannel
from monitor.alerts.ticket_sender import Ref, pick_status
from monitor.alerts.tickets import event_marker, events_in
from monitor.errors import DeliveryError, MalformedResponse

CHANNEL = TicketChannel.model_validate(ticket_channel())
NAMED = TicketChannel.model_validate(ticket_channel(statuses={"new": "New", "closed": "Done"}))
BOARD = Ref(12, "Alerts")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 200), st.text(max_size=12), st.floats()
)
status_rows = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": scalars,
            "name": st.one_of(st.sampled_from(["New", "Done", ">Closed", "new"]), scalars),
            "closedStatus": scalars,
            "closedFlag": scalars,
            "defaultFlag": scalars,
            "inactive": scalars,
            "sortOrder": scalars,
        },
    ),
    max_size=6,
)


@given(rows=status_rows, closed=st.booleans(), named=st.booleans())
def test_any_status_list_gives_a_status_or_a_typed_error(
    rows: list[dict[str, Any]], closed: bool, named: bool
) -> None:
    try:
        found = pick_status(NAMED if named else CHANNEL, BOARD, rows, closed=closed)
    except (DeliveryError, MalformedResponse):
        return
    assert isinstance(found.id, int) and not isinstance(found.id, bool)
    row = next(r for r in rows if r.get("id") == found.id)
    assert bool(row.get("closedStatus", row.get("closedFlag"))) == closed


@given(texts=st.lists(st.text(max_size=200), max_size=5), event=st.integers(1, 10**6))
def test_a_marker_is_found_in_any_surrounding_text(texts: list[str], event: int) -> None:
    found = events_in([*texts, f"{texts[0] if texts else ''} {event_marker(event)}"])
    assert event in found
    assert all(isinstance(n, int) and n >= 0 for n in found)
