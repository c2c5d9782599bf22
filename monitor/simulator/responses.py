"""ConnectWise's error answers, and the ``Refusal`` a write handler raises to give one.

Every error body is the documented ``ErrorResponseMessage`` ``{"code", "message", "errors"}``
(../shared/connectwise-api.md §3.13, §5). A refused write answers 400 ``InvalidObject`` with the
message ConnectWise uses ("ticket object is invalid") and one ``ValidationError``
``{"code", "message", "resource", "field"}`` per problem.

Only ``InvalidObject`` (and the inner ``OutOfRange``/``ObjectExists``) have been seen in real
answers. The inner codes below are the simulator's own, stable so tests can assert them:

==================  =========================================================================
``InvalidOperation``  the body is not a JSON Patch array, or ``op`` is not add/replace/remove
``InvalidPath``       ``path`` is missing, empty or not a string
``UnknownField``      the record has no field of that (case-sensitive) name
``ReadOnly``          the field exists but is not writable (``id``, ``_info``, ``closedFlag``...)
``NotSupported``      a real field the simulator does not write (it says so rather than pretend)
``Required``          a required value is missing, or a ``remove`` of a required field
``InvalidType``       wrong JSON type (a string for a flag, a bare id for a reference object)
``InvalidValue``      outside the field's enum, longer than its maximum, or contradictory
``NotFound``          a reference (role id, board name, company identifier...) matches no record
==================  =========================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

# Error codes per status. 401's body is the one ConnectWise users have reported
# (christaylorcodes/ConnectWiseManageAPI#18); 400 InvalidObject is a real, quoted response.
# The real 403 (and 404/405/409/500) code and message strings are NOT documented anywhere we
# could find: the ones below are stand-ins in the documented ErrorResponseMessage shape.
_ERROR_CODES: dict[int, tuple[str, str]] = {
    400: ("InvalidObject", "The request is invalid."),
    401: ("ConnectWiseApi", "UserNotAuthenticated"),
    403: ("Forbidden", "You do not have permission to access this resource."),
    404: ("NotFound", "The requested resource was not found."),
    405: ("MethodNotAllowed", "The requested method is not supported on this resource."),
    409: ("Conflict", "The record is in use."),
    500: ("UnexpectedServerError", "An unexpected error occurred, please try again."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}


def error_response(status: int, message: str | None = None, *, errors: Any = None) -> JSONResponse:
    """ConnectWise's ErrorResponseMessage ``{"code", "message", "errors"}``."""
    code, default = _ERROR_CODES.get(status, ("Error", "The request failed."))
    return JSONResponse({"code": code, "message": message or default, "errors": errors}, status)


@dataclass(frozen=True)
class Problem:
    """One ``ValidationError`` of a refused write."""

    code: str
    field: str
    message: str


class FieldProblem(Exception):
    """Raised by a field check; ``Problems.catch`` collects it so every problem is reported."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(code, field, message)


class Refusal(Exception):
    """A write ConnectWise would refuse: the status and the ErrorResponseMessage to answer."""

    def __init__(
        self, status: int, message: str, *, resource: str = "", problems: tuple[Problem, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.resource = resource
        self.problems = problems

    def response(self) -> JSONResponse:
        errors = [
            {"code": p.code, "message": p.message, "resource": self.resource, "field": p.field}
            for p in self.problems
        ]
        return error_response(self.status, self.message, errors=errors or None)


def not_found(what: str) -> Refusal:
    return Refusal(404, f"{what} not found.")


def invalid(resource: str, *problems: Problem) -> Refusal:
    """400 ``InvalidObject`` "<resource> object is invalid", as ConnectWise words it."""
    return Refusal(400, f"{resource} object is invalid", resource=resource, problems=problems)


class Problems:
    """Collect every field problem of one write, then refuse once with all of them."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.items: list[Problem] = []

    def add(self, code: str, field: str, message: str) -> None:
        self.items.append(Problem(code, field, message))

    @contextmanager
    def catch(self) -> Iterator[None]:
        try:
            yield
        except FieldProblem as exc:
            self.items.append(exc.problem)

    def raise_if_any(self) -> None:
        if self.items:
            raise invalid(self.resource, *self.items)
