"""A message retried after its channel recovered: what it drops, what it says (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from alert_builders import ACME, EXPENSE_RULE, T0, hours

from monitor.alerts.late import Newer, Superseded, resend
from monitor.alerts.messages import SLACK_MAX_BLOCKS, build_email, build_slack, subject_line
from monitor.alerts.model import AlertEvent, EventKind, LateNote, NotificationGroup
from monitor.core.findings import Severity

NEW_EVENT = AlertEvent(
    kind=EventKind.NEW,
    alert_key=EXPENSE_RULE,
    label="Transfer Expenses as a Bill is off",
    severity=Severity.CRITICAL,
    expected="off",
    actual="on",
    first_seen=T0,
    remediation="Finance > Accounting Interface > Setup",
)
RESOLVED_EVENT = AlertEvent(
    kind=EventKind.RESOLVED,
    alert_key="role.gl_interface",
    label="Role allows the GL Interface",
    severity=Severity.HIGH,
    expected="All",
    actual="All",
    first_seen=hours(-30),
)
GROUP = NotificationGroup(ACME, T0, (NEW_EVENT, RESOLVED_EVENT))
EXPENSES = NEW_EVENT.alert_key
GL = RESOLVED_EVENT.alert_key
LATE = LateNote(written_at=T0, sent_at=hours(3))


def newer(outbox_id: int, *keys: str, sent: int = 2) -> Newer:
    return Newer(outbox_id=outbox_id, sent_at=hours(sent), alert_keys=frozenset(keys))


CASES = {
    "nothing newer: all of it, marked late": ((), (EXPENSES, GL), ()),
    "newer news of other alerts: all of it": ((newer(5, "role.other"),), (EXPENSES, GL), ()),
    "one item covered: the rest, naming the one left out": (
        (newer(5, EXPENSES),),
        (GL,),
        (NEW_EVENT.label,),
    ),
    "items covered by several newer messages": (
        (newer(5, GL), newer(7, "role.other")),
        (EXPENSES,),
        (RESOLVED_EVENT.label,),
    ),
}


@pytest.mark.parametrize(("newer_ones", "kept", "dropped"), CASES.values(), ids=CASES)
def test_resend_keeps_what_no_newer_message_said(
    newer_ones: tuple[Newer, ...], kept: tuple[str, ...], dropped: tuple[str, ...]
) -> None:
    result = resend(GROUP, written_at=T0, now=hours(3), newer=newer_ones)
    assert isinstance(result, NotificationGroup)
    assert tuple(event.alert_key for event in result.events) == kept
    assert result.late == LateNote(written_at=T0, sent_at=hours(3), dropped=dropped)
    assert (result.tenant, result.checked_at) == (GROUP.tenant, GROUP.checked_at)


def test_resend_drops_a_message_whose_every_item_newer_messages_covered() -> None:
    result = resend(
        GROUP, written_at=T0, now=hours(9), newer=[newer(8, GL, sent=4), newer(6, EXPENSES)]
    )
    assert result == Superseded(
        "superseded: newer messages (#6, #8, the last sent 2026-03-02 13:00 UTC) already "
        "told this channel about every alert in it"
    )


def test_a_group_survives_the_outbox_unchanged() -> None:
    hostile = AlertEvent(
        kind=EventKind.CANNOT_VERIFY,
        alert_key="collection",
        label="cannot verify <acme>",
        severity=Severity.HIGH,
        first_seen=T0,
        last_resolved_at=hours(-5),
        silenced_until=hours(1),
        error={"kind": "auth", "message": "401", "fix": "new keys"},
    )
    group = NotificationGroup(ACME, T0, (NEW_EVENT, RESOLVED_EVENT, hostile))
    assert NotificationGroup.from_dict(group.to_dict()) == group


def test_a_late_slack_message_says_so_first() -> None:
    late = replace(GROUP.only((RESOLVED_EVENT,)), late=replace(LATE, dropped=("A <b> & c",)))
    payload = build_slack(late)
    assert payload["text"] == "[late] cwdrift: Acme MSP (acme) [resolved] 0 new, 1 resolved"
    assert payload["blocks"][2] == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "Late: written by the check of 2026-03-02 09:00 UTC; its delivery "
                "failed and is retried now that the channel works again (2026-03-02 12:00 UTC)."
                " Left out, because newer messages already covered them: A &lt;b&gt; &amp; c.",
            }
        ],
    }
    assert payload["blocks"][3]["text"]["text"].startswith("*RESOLVED*")


def test_a_late_slack_message_still_fits_the_block_limit() -> None:
    events = tuple(
        AlertEvent(EventKind.NEW, f"rule.{n}", f"Rule {n}", Severity.LOW) for n in range(80)
    )
    payload = build_slack(NotificationGroup(ACME, T0, events, late=LATE))
    assert len(payload["blocks"]) == SLACK_MAX_BLOCKS
    assert payload["blocks"][-1]["elements"][0]["text"].startswith("… and 34 more")


def test_a_late_email_says_so_in_the_subject_and_is_dated_when_sent() -> None:
    late = replace(GROUP, late=LATE)
    payload = build_email(late, channel="finance", domain="example.com")
    assert subject_line(late) == "[cwdrift] [late] [CRITICAL] acme: 1 new, 1 resolved"
    assert payload["subject"] == subject_line(late)
    assert payload["date"] == "Mon, 02 Mar 2026 12:00:00 GMT"
    # the same message, never delivered before: the same Message-ID
    on_time = build_email(GROUP, channel="finance", domain="example.com")
    assert payload["message_id"] == on_time["message_id"]
    assert payload["text"].startswith(
        "cwdrift: Acme MSP (acme)\n"
        "1 new, 1 resolved - worst severity critical - checked 2026-03-02 09:00 UTC\n"
        "\n"
        "Late: written by the check of 2026-03-02 09:00 UTC; its delivery failed and is "
        "retried now that the channel works again (2026-03-02 12:00 UTC).\n"
        "\n"
        "[NEW] critical:"
    )
    assert "Late: written by the check" in payload["html"]
