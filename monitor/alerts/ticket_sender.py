"""Ticket sender: carries out a ticket message's steps in the MSP's own ConnectWise (I/O, thin).

Only transmits payloads planned by :mod:`monitor.alerts.tickets`. Every write is idempotent,
because the outbox delivers at least once and a write may land without its answer arriving:

* before creating a ticket, look its ``externalXRef`` up (two rows: a human must merge them);
* before posting a note, read the ticket's notes for the step's ``[cwdrift:event N]``;
* a write is sent once (the client never retries one): a timeout or 5xx after sending is a
  transient failure, and the next attempt looks everything up again before writing;
* a step whose ticket already carries a higher event number is late (a newer message got there
  first, see :mod:`monitor.alerts.late`): its note is posted marked ``[late]``, but it never
  changes the ticket's status;
* a ticket a person closed while the drift persists stays closed: reminders are not posted to
  it; a new failing rule or a regression reopens it.

Status changes follow the documented PATCH (the whole ``status`` object by id) and are re-read:
the ticket's ``closedFlag`` must show the change (connectwise-audit-tickets.md §4.5). Board,
statuses, type, priorities and companies are resolved by name on each dispatch pass; a name
that does not resolve, a 403 (naming the permission), or refused keys are permanent failures,
recorded on the channel with the fix and shown by ``cwdrift status``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.alerts.config import TicketChannel
from monitor.alerts.sender import ChannelType, Payload
from monitor.alerts.tickets import (
    KIND,
    StatusChange,
    TicketMessage,
    TicketStep,
    events_in,
)
from monitor.connectwise.client import ConnectWiseClient, RetryPolicy
from monitor.connectwise.conditions import equals
from monitor.core.findings import Severity
from monitor.errors import (
    AuthenticationFailed,
    Conflict,
    CwdriftError,
    DeliveryError,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationRejected,
    WriteOutcomeUnknown,
)

log = logging.getLogger("cwdrift.alerts")

Json = dict[str, Any]
READ_ATTEMPTS = 3  # reads are retried by the client; writes never are


@dataclass(frozen=True, slots=True)
class Ref:
    """A ConnectWise record named by id, as a ticket references it."""

    id: int
    name: str

    def reference(self) -> dict[str, int]:
        return {"id": self.id}


@dataclass(frozen=True, slots=True)
class Desk:
    """What the channel's config names on the MSP's ConnectWise, resolved to ids."""

    board: Ref
    new_status: Ref
    closed_status: Ref
    ticket_type: Ref | None = None
    priorities: Mapping[Severity, Ref] = field(default_factory=dict)


def open_client(config: TicketChannel) -> ConnectWiseClient:
    """A client for the channel's keys (``async with`` it)."""
    return ConnectWiseClient(
        config.site,
        config.company_id,
        config.public_key,
        config.private_key,
        config.client_id,
        retry=RetryPolicy(attempts=READ_ATTEMPTS),
        timeout=config.timeout,
        tenant=f"ticket channel {config.name}",
    )


# -- resolving names (reads only; `cwdrift tickets check` uses them too) -----------------------


async def resolve_desk(cw: ConnectWiseClient, config: TicketChannel) -> Desk:
    """The board, its statuses, the type and the priorities the config names; a name that does
    not resolve is a permanent :class:`DeliveryError` naming what exists."""
    boards = await cw.get_list("/service/boards")
    board_row = _named(boards, config.board)
    if board_row is None or _flag(board_row, "inactiveFlag", "inactive"):
        found = "is inactive" if board_row is not None else "does not exist"
        raise _setup(
            config,
            f"board {config.board!r} {found} on {cw.site.host}",
            "set board to one of: " + _names(b for b in boards if not _flag(b, "inactiveFlag")),
        )
    board = _ref_of(board_row, "/service/boards")
    statuses = await cw.get_list(f"/service/boards/{board.id}/statuses")
    active = [s for s in statuses if not _flag(s, "inactive", "inactiveFlag")]
    new_status = pick_status(config, board, active, closed=False)
    closed_status = pick_status(config, board, active, closed=True)
    ticket_type = None
    if config.ticket_type is not None:
        types = await cw.get_list(f"/service/boards/{board.id}/types")
        type_row = _named(types, config.ticket_type)
        if type_row is None:
            raise _setup(
                config,
                f"board {board.name!r} has no type {config.ticket_type!r}",
                "set ticket_type to one of: " + _names(types) + ", or leave it out",
            )
        ticket_type = _ref_of(type_row, f"/service/boards/{board.id}/types")
    priorities: dict[Severity, Ref] = {}
    if config.priority_by_severity:
        rows = await cw.get_list("/service/priorities")
        for severity, name in config.priority_by_severity.items():
            row = _named(rows, name)
            if row is None:
                raise _setup(
                    config,
                    f"no priority {name!r} (priority_by_severity.{severity.value})",
                    "use one of: " + _names(rows),
                )
            priorities[severity] = _ref_of(row, "/service/priorities")
    return Desk(board, new_status, closed_status, ticket_type, priorities)


def pick_status(config: TicketChannel, board: Ref, active: Sequence[Json], *, closed: bool) -> Ref:
    """The configured status, else the board's default (new) or first closed one by sort order.

    Both flag spellings are read: BoardStatus says ``closedStatus``, BoardStatusInfo
    ``closedFlag`` (connectwise-audit-tickets.md §4.4).
    """
    wanted = config.statuses.closed if closed else config.statuses.new
    candidates = [s for s in active if _flag(s, "closedStatus", "closedFlag") == closed]
    key = "closed" if closed else "new"
    if wanted is not None:
        row = _named(candidates, wanted)
        if row is None:
            kind = "active closed" if closed else "active open"
            raise _setup(
                config,
                f"board {board.name!r} has no {kind} status {wanted!r}",
                f"set statuses.{key} to one of: {_names(candidates)}",
            )
    elif closed:
        ordered = sorted(candidates, key=lambda s: (_int(s.get("sortOrder")), _int(s.get("id"))))
        row = ordered[0] if ordered else None
    else:
        row = next((s for s in candidates if _flag(s, "defaultFlag")), None)
    if row is None:
        what = "an active closed status" if closed else "an active default status"
        raise _setup(
            config,
            f"board {board.name!r} has no {what}",
            f"name one in statuses.{key}, or add it to the board in ConnectWise",
        )
    return _ref_of(row, f"/service/boards/{board.id}/statuses")


async def find_company(cw: ConnectWiseClient, config: TicketChannel, identifier: str) -> Ref:
    """The MSP's company whose identifier is ``identifier`` (exactly; ConnectWise compares
    without case); a permanent :class:`DeliveryError` when there is none."""
    rows = await cw.get_list("/company/companies", {"conditions": equals("identifier", identifier)})
    row = next(
        (r for r in rows if str(r.get("identifier", "")).casefold() == identifier.casefold()),
        None,
    )
    if row is None:
        raise _setup(
            config,
            f"no company with identifier {identifier!r} on {cw.site.host}",
            "set the tenant's ticket_company (or the channel's company) to the identifier the "
            "customer has in Companies > Company Maintenance",
        )
    return _ref_of({**row, "name": row.get("name") or identifier}, "/company/companies")


async def find_ticket(cw: ConnectWiseClient, config: TicketChannel, xref: str) -> Json | None:
    """The ticket whose ``externalXRef`` is ``xref``, or None; two are a permanent failure (a
    person must keep one), never a guess."""
    rows = await cw.get_list("/service/tickets", {"conditions": equals("externalXRef", xref)})
    rows = [r for r in rows if r.get("externalXRef") == xref]
    if len(rows) > 1:
        ids = ", ".join(f"#{r.get('id')}" for r in rows)
        raise _setup(
            config,
            f"several tickets carry externalXRef {xref!r} ({ids})",
            "merge them in ConnectWise, or clear External Reference on all but one",
        )
    return rows[0] if rows else None


# -- the sender --------------------------------------------------------------------------------


class TicketSender:
    kind = KIND

    def __init__(self, config: TicketChannel) -> None:
        self.name = config.name
        self.config = config
        # Resolved once per dispatch pass (a sender lives for one pass).
        self._desk: Desk | None = None
        self._companies: dict[str, Ref] = {}

    def __repr__(self) -> str:
        return f"TicketSender({self.name!r})"

    async def send(self, payload: Mapping[str, Any]) -> None:
        try:
            message = TicketMessage.from_dict(payload)
        except (KeyError, TypeError, ValueError):
            raise DeliveryError(
                f"ticket channel {self.name!r}: the queued message cannot be read",
                permanent=True,
                fix="a cwdrift bug worth reporting; the message is kept in the outbox",
            ) from None
        try:
            async with open_client(self.config) as cw:
                if self._desk is None:
                    self._desk = await resolve_desk(cw, self.config)
                company = await self._company(cw, message)
                for step in message.steps:
                    await self._apply(cw, self._desk, company, step)
        except DeliveryError:
            raise
        except CwdriftError as exc:
            raise classify(self.name, exc) from None

    async def _company(self, cw: ConnectWiseClient, message: TicketMessage) -> Ref:
        identifier = message.company
        if identifier is None:
            raise _setup(
                self.config,
                f"tenant {message.tenant_id!r} has no ticket_company and the channel no company",
                f"set ticket_company on tenant {message.tenant_id}, or company on the channel",
            )
        if identifier not in self._companies:
            self._companies[identifier] = await find_company(cw, self.config, identifier)
        return self._companies[identifier]

    async def _apply(
        self, cw: ConnectWiseClient, desk: Desk, company: Ref, step: TicketStep
    ) -> None:
        ticket = await find_ticket(cw, self.config, step.xref)
        if ticket is None:
            if not step.create:
                log.info("ticket %s: nothing to close, it was never created", step.xref)
                return
            ticket = await cw.post(
                "/service/tickets", ticket_body(self.config, desk, company, step)
            )
            log.info("ticket %s: created #%s", step.xref, ticket.get("id"))
        ticket_id = ticket.get("id")
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
            raise MalformedResponse(
                f"ticket {step.xref!r} came back without an id", endpoint="/service/tickets"
            )
        notes = await cw.get_list(f"/service/tickets/{ticket_id}/notes")
        seen = events_in(str(note.get("text") or "") for note in notes)
        late = any(event > step.event for event in seen)  # a newer step reached it first
        closed = bool(ticket.get("closedFlag"))
        if step.status is StatusChange.OPEN and closed and not late:
            await self._set_status(cw, ticket_id, desk.new_status, closed=False)
            closed = False
        if step.event not in seen:
            if closed and step.skip_if_closed:
                # A person closed it while the drift persists: respected; reminders go to the
                # alert channels only until a new rule fails or one regresses.
                log.info("ticket #%s: closed by a person; reminder not posted", ticket_id)
            else:
                note = note_body(self.config, step, late=late)
                await cw.post(f"/service/tickets/{ticket_id}/notes", note)
        if step.status is StatusChange.CLOSE and not closed and not late:
            await self._set_status(cw, ticket_id, desk.closed_status, closed=True)

    async def _set_status(
        self, cw: ConnectWiseClient, ticket_id: int, status: Ref, *, closed: bool
    ) -> None:
        """PATCH the whole status object by id, then re-read: ``closedFlag`` must follow."""
        operations: list[Json] = [{"op": "replace", "path": "status", "value": status.reference()}]
        if not self.config.process_notifications:
            operations.append({"op": "replace", "path": "processNotifications", "value": False})
        await cw.patch(f"/service/tickets/{ticket_id}", operations)
        ticket = await cw.get_one(f"/service/tickets/{ticket_id}")
        now_closed = bool(ticket.get("closedFlag"))
        if now_closed != closed:
            reads = ticket.get("status")
            shown = reads.get("name") if isinstance(reads, dict) else None
            raise _setup(
                self.config,
                f"ConnectWise accepted moving ticket #{ticket_id} to {status.name!r} but the "
                f"ticket reads back {'closed' if now_closed else 'open'} (status {shown!r})",
                "check the board's workflow rules and statuses.new/statuses.closed",
            )
        log.info("ticket #%s: %s (%s)", ticket_id, "closed" if closed else "reopened", status.name)


def ticket_body(config: TicketChannel, desk: Desk, company: Ref, step: TicketStep) -> Json:
    """The POST that creates a step's ticket.

    The details go in an internal note posted next, not in ``initialInternalAnalysis``: looked
    up by its event marker, that note is posted exactly once whatever ConnectWise does with the
    initial texts (undocumented).
    """
    body: Json = {
        "summary": step.summary,
        "recordType": "ServiceTicket",
        "board": desk.board.reference(),
        "company": company.reference(),
        "status": desk.new_status.reference(),
        "externalXRef": step.xref,
        "processNotifications": config.process_notifications,
    }
    if desk.ticket_type is not None:
        body["type"] = desk.ticket_type.reference()
    priority = desk.priorities.get(step.severity)
    if priority is not None:
        body["priority"] = priority.reference()
    return body


def note_body(config: TicketChannel, step: TicketStep, *, late: bool = False) -> Json:
    """The POST of a step's note: internal, so customers are not shown drift details."""
    return {
        "text": f"[late] {step.note}" if late else step.note,
        "internalAnalysisFlag": True,
        "detailDescriptionFlag": False,
        "resolutionFlag": step.resolution,
        "processNotifications": config.process_notifications,
    }


def classify(channel: str, exc: CwdriftError) -> DeliveryError:
    """A ConnectWise failure as the outbox sees it: permanent (recorded on the channel with the
    fix) or transient (retried with backoff; writes are looked up again first)."""
    where = f"ticket channel {channel!r}: {exc.message}"
    if isinstance(exc, WriteOutcomeUnknown):
        return DeliveryError(
            where,
            permanent=False,
            fix="retried automatically; the ticket and its notes are looked up before any rewrite",
        )
    if isinstance(exc, PermissionDenied):
        return DeliveryError(where, permanent=True, fix=exc.fix)
    if isinstance(exc, AuthenticationFailed):
        return DeliveryError(
            where,
            permanent=True,
            fix="check the channel's company_id, public_key, private_key and client_id",
        )
    if isinstance(exc, RateLimited):
        return DeliveryError(where, permanent=False, retry_after=exc.retry_after, fix=exc.fix)
    if exc.transient or isinstance(exc, Conflict | MalformedResponse):
        return DeliveryError(where, permanent=False, fix="retried automatically")
    if isinstance(exc, ValidationRejected):
        return DeliveryError(
            where,
            permanent=True,
            fix="check the board, statuses, ticket_type and priorities the channel names",
        )
    if isinstance(exc, NotFound):
        return DeliveryError(where, permanent=True, fix=exc.fix)
    return DeliveryError(where, permanent=True, fix=exc.fix or "see the message")


def _setup(config: TicketChannel, message: str, fix: str) -> DeliveryError:
    return DeliveryError(f"ticket channel {config.name!r}: {message}", permanent=True, fix=fix)


def _named(rows: Sequence[Json], name: str) -> Json | None:
    """The row whose ``name`` is ``name`` (ConnectWise compares names without case)."""
    wanted = name.casefold()
    return next((r for r in rows if str(r.get("name", "")).casefold() == wanted), None)


def _names(rows: Any) -> str:
    names = [str(r.get("name")) for r in rows if r.get("name")]
    return ", ".join(repr(n) for n in names) if names else "(none)"


def _flag(row: Json, *names: str) -> bool:
    """The first of ``names`` the row has, as a bool (absent: False)."""
    for name in names:
        if name in row:
            return bool(row[name])
    return False


def _ref_of(row: Json, endpoint: str) -> Ref:
    """A record's id and name; a row without an integer id is a malformed answer (the outbox
    retries it), never a guess."""
    record_id, name = row.get("id"), row.get("name")
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        raise MalformedResponse(f"a row of {endpoint} has no integer id", endpoint=endpoint)
    return Ref(record_id, str(name) if name else f"#{record_id}")


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _summarize(payload: Payload) -> str:
    return str(payload.get("summary", ""))[:200]


def _stateless_build(_group: Any, _config: Any) -> Payload:
    raise TypeError("a ticket channel is planned with its incidents: see alerts.tickets")


CHANNEL = ChannelType(
    kind=KIND,
    build=_stateless_build,
    summarize=_summarize,
    make_sender=TicketSender,
    rebuild_late=False,
)
