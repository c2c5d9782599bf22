"""The service desk of an MSP's own ConnectWise: companies, boards, statuses, tickets and notes.

Plain records, held by ``state.TenantState.desk`` and changed only under the state's lock.
Ids are handed out like a database sequence (companies from 250, boards from 12, statuses from
80, types from 30, tickets from 50001, notes from 7001; priorities from 1): deterministic, and
never reused, even when a write is undone (fault ``not_persisted``).

Closing follows the documented route (connectwise-audit-tickets.md §4.2, §4.5): a ticket's
``closedFlag`` follows its status's ``closedStatus``; moving it to a closed status stamps
``closedDate`` and ``closedBy`` (whoever moved it), and moving it back to an open status clears
both [INF: whether ConnectWise clears them on reopening is not documented].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.simulator.scenario import NamedSpec, ServiceDeskSpec

FIRST_TICKET_ID = 50001
FIRST_NOTE_ID = 7001


@dataclass
class CompanyState:
    id: int
    identifier: str
    name: str


@dataclass
class StatusState:
    id: int
    name: str
    sort_order: int
    closed: bool  # closedStatus
    default: bool  # defaultFlag
    inactive: bool


@dataclass
class NamedState:
    """A board's service type, or a priority."""

    id: int
    name: str
    sort: int
    default: bool = False


@dataclass
class BoardState:
    id: int
    name: str
    inactive: bool
    statuses: list[StatusState]
    types: list[NamedState]

    def status(self, status_id: int) -> StatusState:
        return next(s for s in self.statuses if s.id == status_id)

    def default_status(self) -> StatusState:
        return next(s for s in self.statuses if s.default)


@dataclass
class NoteState:
    id: int
    ticket_id: int
    text: str
    detail: bool  # detailDescriptionFlag (Discussion)
    internal: bool  # internalAnalysisFlag (Internal)
    resolution: bool  # resolutionFlag (Resolution)
    member_id: int
    member_identifier: str
    member_name: str
    created: str  # dateCreated
    process_notifications: bool | None  # as sent; never rendered


@dataclass
class TicketState:
    id: int
    summary: str
    board_id: int
    status_id: int
    company_id: int
    type_id: int | None
    priority_id: int
    external_xref: str | None
    info: dict[str, str]  # lastUpdated, updatedBy, dateEntered, enteredBy
    # What the creator sent but the API never returns (kept for tests to inspect).
    process_notifications: bool | None = None
    initial_description: str | None = None
    initial_internal_analysis: str | None = None
    initial_resolution: str | None = None
    closed: bool = False
    closed_date: str | None = None
    closed_by: str | None = None
    notes: list[NoteState] = field(default_factory=list)

    def move_to(self, status: StatusState, *, by: str, when: str) -> None:
        """Change the status; closing or reopening follows it (see the module docstring)."""
        if status.closed and not self.closed:
            self.closed_date, self.closed_by = when, by
        elif not status.closed:
            self.closed_date = self.closed_by = None
        self.status_id = status.id
        self.closed = status.closed


@dataclass
class ServiceDesk:
    companies: list[CompanyState] = field(default_factory=list)
    boards: list[BoardState] = field(default_factory=list)
    priorities: list[NamedState] = field(default_factory=list)
    tickets: dict[int, TicketState] = field(default_factory=dict)
    next_ticket_id: int = FIRST_TICKET_ID
    next_note_id: int = FIRST_NOTE_ID

    def board(self, board_id: int) -> BoardState:
        return next(b for b in self.boards if b.id == board_id)

    def company(self, company_id: int) -> CompanyState:
        return next(c for c in self.companies if c.id == company_id)

    def priority(self, priority_id: int) -> NamedState:
        return next(p for p in self.priorities if p.id == priority_id)

    def default_priority(self) -> NamedState | None:
        return next((p for p in self.priorities if p.default), None) or next(
            iter(self.priorities), None
        )

    def take_ticket_id(self) -> int:
        self.next_ticket_id += 1
        return self.next_ticket_id - 1

    def take_note_id(self) -> int:
        self.next_note_id += 1
        return self.next_note_id - 1


class _Ids:
    """Hand out ids from ``start``, skipping the ones a scenario gave explicitly."""

    def __init__(self, start: int, taken: list[int | None]) -> None:
        self.next = start
        self.taken = {i for i in taken if i is not None}

    def take(self, given: int | None) -> int:
        if given is not None:
            return given
        while self.next in self.taken:
            self.next += 1
        self.taken.add(self.next)
        return self.next


def _named(specs: list[NamedSpec], ids: _Ids) -> list[NamedState]:
    return [
        NamedState(id=ids.take(s.id), name=s.name, sort=index, default=s.default)
        for index, s in enumerate(specs, start=1)
    ]


def build_desk(spec: ServiceDeskSpec | None) -> ServiceDesk:
    """A tenant without a ``service_desk`` still has ConnectWise's stock priorities."""
    spec = spec or ServiceDeskSpec()
    company_ids = _Ids(250, [c.id for c in spec.companies])
    board_ids = _Ids(12, [b.id for b in spec.boards])
    status_ids = _Ids(80, [s.id for b in spec.boards for s in b.statuses])
    type_ids = _Ids(30, [t.id for b in spec.boards for t in b.types])
    boards = []
    for board in spec.boards:
        first_is_default = not any(s.default for s in board.statuses)
        statuses = [
            StatusState(
                id=status_ids.take(s.id),
                name=s.name,
                sort_order=index,
                closed=s.closed,
                default=s.default or (first_is_default and index == 0),
                inactive=s.inactive,
            )
            for index, s in enumerate(board.statuses)
        ]
        boards.append(
            BoardState(
                id=board_ids.take(board.id),
                name=board.name,
                inactive=board.inactive,
                statuses=statuses,
                types=_named(board.types, type_ids),
            )
        )
    return ServiceDesk(
        companies=[
            CompanyState(id=company_ids.take(c.id), identifier=c.identifier, name=c.name)
            for c in spec.companies
        ],
        boards=boards,
        priorities=_named(spec.priorities, _Ids(1, [p.id for p in spec.priorities])),
    )
