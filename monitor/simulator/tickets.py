"""Service tickets and their notes in an MSP's own ConnectWise: ``POST /service/tickets``,
``PATCH /service/tickets/{id}``, ``POST /service/tickets/{parentId}/notes``
(../shared/connectwise-audit-tickets.md §4).

Documented behaviour simulated: ``summary`` (at most 100 characters) and ``company`` are required;
``board``, ``status``, ``type`` and ``priority`` are references by ``{"id": N}`` or
``{"name": "..."}`` (``company`` by ``id`` or ``identifier``); ``externalXRef`` is at most 100
characters and filterable (``conditions=externalXRef="..."``) but, as in ConnectWise, not unique:
posting twice makes two tickets, which is why a client looks the key up before creating;
``initialDescription``/``initialInternalAnalysis``/``initialResolution`` and
``processNotifications`` are accepted and never returned. A note needs at least one of
``detailDescriptionFlag``/``internalAnalysisFlag``/``resolutionFlag``, or it is refused with the
message ConnectWise gives (LabtechConsulting/ConnectWise-Manage-Powershell#12).

The simulator's choices where ConnectWise is silent [INF]:

* ``board`` is required (ConnectWise picks an undocumented default board); a status defaults to
  the board's ``defaultFlag`` status, a priority to the default priority; an inactive status is
  refused. Names match case-insensitively, as SQL Server compares.
* The ``initial*`` texts become the ticket's first notes (Discussion, Internal, Resolution
  respectively), written by the creating member, as the ConnectWise UI shows them.
* Other fields of the spec's Ticket/ServiceNote are accepted and ignored on POST; a name the
  spec does not have is refused (UnknownField), so a misspelt ``externalXref`` cannot pass.
* PATCH writes ``summary``, ``status``, ``priority``, ``type`` and ``externalXRef``
  (``processNotifications``/``skipCallback`` are accepted for the one save); ``closedFlag``,
  ``closedDate`` and ``closedBy`` are read-only (close by status, as documented); moving a
  ticket to another board is not simulated (NotSupported). A sub-path such as ``status/name``
  gets the documented false 200 (see ``patch.py``).
* A note does not change its ticket's ``_info``; a PATCH does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from monitor.simulator import render
from monitor.simulator.desk import NoteState, ServiceDesk, StatusState, TicketState
from monitor.simulator.patch import Fields, parse_patch
from monitor.simulator.responses import FieldProblem, Problem, Problems, invalid, not_found
from monitor.simulator.writes import WriteRequest, flag, is_int, reference, text

Json = dict[str, Any]
SUMMARY_MAX = 100  # spec: "Max length: 100;"
EXTERNAL_XREF_MAX = 100
TEXT_MAX = 1_000_000  # note and initial texts: no documented limit; a sanity cap
NOTE_DISPLAY_REQUIRED = "Please choose where to display the notes in order to save this record."

# The spec's Ticket properties (Go client, 2025.1 build/docs/Ticket.md), as JSON names.
TICKET_SPEC_FIELDS = frozenset(
    """id summary recordType board status workRole workType company site siteName addressLine1
    addressLine2 city stateIdentifier zip country contact contactName contactPhoneNumber
    contactPhoneExtension contactEmailAddress type subType item team owner priority
    serviceLocation source requiredDate budgetHours opportunity agreement agreementType severity
    impact externalXRef poNumber knowledgeBaseCategoryId knowledgeBaseSubCategoryId
    allowAllClientsPortalView customerUpdatedFlag automaticEmailContactFlag
    automaticEmailResourceFlag automaticEmailCcFlag automaticEmailCc initialDescription
    initialInternalAnalysis initialResolution initialDescriptionFrom contactEmailLookup
    processNotifications skipCallback closedDate closedBy closedFlag actualHours approved
    estimatedExpenseCost estimatedExpenseRevenue estimatedProductCost estimatedProductRevenue
    estimatedTimeCost estimatedTimeRevenue billingMethod billingAmount hourlyRate
    subBillingMethod subBillingAmount subDateAccepted dateResolved dateResplan dateResponded
    resolveMinutes resPlanMinutes respondMinutes isInSla knowledgeBaseLinkId resources
    parentTicketId hasChildTicket hasMergedChildTicketFlag knowledgeBaseLinkType billTime
    billExpenses billProducts predecessorType predecessorId predecessorClosedFlag lagDays
    lagNonworkingDaysFlag estimatedStartDate duration location department mobileGuid sla
    slaStatus requestForChangeFlag currency mergedParentTicket integratorTags _info
    escalationStartDateUTC escalationLevel minutesBeforeWaiting respondedSkippedMinutes
    resplanSkippedMinutes respondedHours respondedBy resplanHours resplanBy resolutionHours
    resolvedBy minutesWaiting customFields""".split()  # noqa: SIM905 - a word list reads best
)
# ServiceNote (Go client 2025.1 build/docs/ServiceNote.md).
NOTE_SPEC_FIELDS = frozenset(
    """id ticketId text detailDescriptionFlag internalAnalysisFlag resolutionFlag issueFlag member
    contact customerUpdatedFlag processNotifications dateCreated createdBy internalFlag
    externalFlag sentimentScore _info""".split()  # noqa: SIM905 - as above
)

_PATCH_WRITABLE = frozenset(
    {
        "summary",
        "status",
        "priority",
        "type",
        "externalXRef",
        "processNotifications",
        "skipCallback",
    }
)
_READ_ONLY = frozenset({"id", "_info", "closedDate", "closedBy", "closedFlag", "dateResolved"})
TICKET_FIELDS = Fields(
    "ticket",
    writable=_PATCH_WRITABLE,
    read_only=_READ_ONLY,
    not_simulated=TICKET_SPEC_FIELDS - _PATCH_WRITABLE - _READ_ONLY,
)


class _Record(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_Record)


def _pick(field: str, value: object, records: Sequence[R], *, key: str = "name") -> R:
    """Resolve a reference object by ``id`` and/or ``key`` (``name``; ``identifier`` for a
    company) against ``records``; both given must name the same record."""
    ref = reference(field, value, f'{{"id": 12}} or {{"{key}": "..."}}')
    wanted_id, wanted_key = ref.get("id"), ref.get(key)
    if wanted_id is None and wanted_key is None:
        raise FieldProblem("Required", field, f'{field} needs "id" or "{key}".')
    found: R | None = None
    if wanted_id is not None:
        if not is_int(wanted_id):
            raise FieldProblem("InvalidType", field, f"{field}.id must be an integer.")
        found = next((r for r in records if r.id == wanted_id), None)
        if found is None:
            raise FieldProblem("NotFound", field, f"{field} {wanted_id} does not exist.")
    if wanted_key is not None:
        if not isinstance(wanted_key, str):
            raise FieldProblem("InvalidType", field, f"{field}.{key} must be a string.")
        named = next(
            (r for r in records if str(getattr(r, key)).casefold() == wanted_key.casefold()), None
        )
        if named is None:
            raise FieldProblem("NotFound", field, f"{field} {wanted_key!r} does not exist.")
        if found is not None and named is not found:
            raise FieldProblem("InvalidValue", field, f"{field} {wanted_id} is not {wanted_key!r}.")
        found = named
    assert found is not None  # one of id/key was given, and each either resolved or raised
    return found


def _active(status: StatusState) -> StatusState:
    if status.inactive:
        raise FieldProblem("InvalidValue", "status", f"Status {status.name!r} is inactive.")
    return status


def _desk(request: WriteRequest) -> ServiceDesk:
    return request.caller.tenant.desk


def _ticket(request: WriteRequest, name: str) -> TicketState:
    ticket = _desk(request).tickets.get(request.record_id(name))
    if ticket is None:
        raise not_found(f"Ticket {request.record_id(name)}")
    return ticket


def _body_object(problems: Problems, body: object, known: frozenset[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        message = f"The body must be a {problems.resource} object."
        raise invalid(problems.resource, Problem("InvalidType", "", message))
    for name in sorted(set(body) - known):
        problems.add(
            "UnknownField", name, f"{problems.resource} has no field {name!r} (case-sensitive)."
        )
    return body


def _note(request: WriteRequest, ticket_id: int, note_text: str, **flags: bool) -> NoteState:
    member = request.caller.member
    return NoteState(
        id=_desk(request).take_note_id(),
        ticket_id=ticket_id,
        text=note_text,
        detail=flags.get("detail", False),
        internal=flags.get("internal", False),
        resolution=flags.get("resolution", False),
        member_id=member.id,
        member_identifier=member.identifier,
        member_name=member.name,
        created=request.now,
        process_notifications=None,
    )


def create_ticket(request: WriteRequest) -> tuple[int, Json]:
    desk = _desk(request)
    problems = Problems("ticket")
    body = _body_object(problems, request.body, TICKET_SPEC_FIELDS)
    summary = external_xref = notify = None
    company = board = status = ticket_type = None
    priority = desk.default_priority()
    initial: dict[str, str | None] = {}
    with problems.catch():
        summary = text("summary", body.get("summary"), SUMMARY_MAX, required=True)
    with problems.catch():
        if body.get("company") is None:
            raise FieldProblem("Required", "company", "company is required.")
        company = _pick("company", body["company"], desk.companies, key="identifier")
    with problems.catch():
        if body.get("board") is None:
            raise FieldProblem("Required", "board", "board is required by the simulator.")
        board = _pick("board", body["board"], desk.boards)
    if board is not None:
        with problems.catch():
            status = board.default_status()
            if body.get("status") is not None:
                status = _active(_pick("status", body["status"], board.statuses))
        with problems.catch():
            if body.get("type") is not None:
                ticket_type = _pick("type", body["type"], board.types)
    with problems.catch():
        if body.get("priority") is not None:
            priority = _pick("priority", body["priority"], desk.priorities)
        elif priority is None:
            raise FieldProblem("Required", "priority", "The service desk has no priorities.")
    with problems.catch():
        external_xref = text("externalXRef", body.get("externalXRef"), EXTERNAL_XREF_MAX)
    with problems.catch():
        notify = flag("processNotifications", body.get("processNotifications"))
    for name in ("initialDescription", "initialInternalAnalysis", "initialResolution"):
        with problems.catch():
            initial[name] = text(name, body.get(name), TEXT_MAX)
    with problems.catch():
        if body.get("recordType") not in (None, "ServiceTicket"):
            raise FieldProblem(
                "InvalidValue", "recordType", "The simulator files ServiceTicket records only."
            )
    problems.raise_if_any()
    assert summary is not None and company and board and status and priority  # refused otherwise
    by, now = request.by, request.now
    ticket = TicketState(
        id=desk.take_ticket_id(),
        summary=summary,
        board_id=board.id,
        status_id=status.id,
        company_id=company.id,
        type_id=ticket_type.id if ticket_type else None,
        priority_id=priority.id,
        external_xref=external_xref,
        info={"lastUpdated": now, "updatedBy": by, "dateEntered": now, "enteredBy": by},
        process_notifications=notify,
        initial_description=initial["initialDescription"],
        initial_internal_analysis=initial["initialInternalAnalysis"],
        initial_resolution=initial["initialResolution"],
    )
    ticket.move_to(status, by=by, when=now)
    for name, where in (
        ("initialDescription", "detail"),
        ("initialInternalAnalysis", "internal"),
        ("initialResolution", "resolution"),
    ):
        initial_text = initial[name]
        if initial_text:
            note = _note(request, ticket.id, initial_text, **{where: True})
            note.process_notifications = notify
            ticket.notes.append(note)
    desk.tickets[ticket.id] = ticket
    return 201, render.ticket(ticket, desk, request.caller.api_base)


def patch_ticket(request: WriteRequest) -> tuple[int, Json]:
    desk = _desk(request)
    ticket = _ticket(request, "id")
    board = desk.board(ticket.board_id)
    problems = Problems(TICKET_FIELDS.resource)
    changes: list[tuple[str, Any]] = []
    for op in parse_patch(request.body, TICKET_FIELDS.resource):
        with problems.catch():
            if not TICKET_FIELDS.applies(op):
                continue
            if op.field in ("processNotifications", "skipCallback"):
                flag(op.field, op.value)  # they govern this one save: checked, not stored
            elif op.field == "summary":
                changes.append((op.field, text(op.field, op.value, SUMMARY_MAX, required=True)))
            elif op.field == "externalXRef":
                changes.append((op.field, text(op.field, op.value, EXTERNAL_XREF_MAX)))
            elif op.removes and op.field in ("status", "priority"):
                raise FieldProblem("Required", op.field, f"{op.field} is required.")
            elif op.field == "status":
                changes.append((op.field, _active(_pick("status", op.value, board.statuses))))
            elif op.field == "priority":
                changes.append((op.field, _pick("priority", op.value, desk.priorities)))
            else:  # type
                changes.append(
                    (op.field, None if op.removes else _pick("type", op.value, board.types))
                )
    problems.raise_if_any()
    for field, value in changes:
        if field == "summary":
            ticket.summary = value
        elif field == "externalXRef":
            ticket.external_xref = value
        elif field == "status":
            ticket.move_to(value, by=request.by, when=request.now)
        elif field == "priority":
            ticket.priority_id = value.id
        else:
            ticket.type_id = None if value is None else value.id
    if changes:
        ticket.info.update(request.stamp())
    return 200, render.ticket(ticket, desk, request.caller.api_base)


def create_note(request: WriteRequest) -> tuple[int, Json]:
    ticket = _ticket(request, "parentId")
    problems = Problems("serviceNote")
    body = _body_object(problems, request.body, NOTE_SPEC_FIELDS)
    note_text: str | None = None
    flags: dict[str, bool] = {}
    notify: bool | None = None
    with problems.catch():
        note_text = text("text", body.get("text"), TEXT_MAX, required=True)
    for name, key in (
        ("detailDescriptionFlag", "detail"),
        ("internalAnalysisFlag", "internal"),
        ("resolutionFlag", "resolution"),
    ):
        with problems.catch():
            flags[key] = bool(flag(name, body.get(name)))
    with problems.catch():
        notify = flag("processNotifications", body.get("processNotifications"))
    if not any(flags.values()) and len(flags) == 3:
        problems.add("Required", "", NOTE_DISPLAY_REQUIRED)
    problems.raise_if_any()
    assert note_text is not None
    note = _note(request, ticket.id, note_text, **flags)
    note.process_notifications = notify
    ticket.notes.append(note)
    return 201, render.note(note, request.caller.api_base)
