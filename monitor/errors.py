"""The exception tree. Every error says what failed and how to fix it, and never carries a secret.

CwdriftError                      base; ``kind`` is a stable short name stored on check runs
├── ConfigError                   a config or baseline file is invalid (names file, field, fix)
│   └── ConfigErrors              several problems of one file, reported together (one line each)
├── ConnectWiseError              a request to ConnectWise failed; ``transient`` drives retries
│   ├── AuthenticationFailed      401, or ConnectWise's "UserNotAuthenticated"
│   ├── PermissionDenied          403 on a named endpoint; names the missing permission
│   ├── NotFound                  404 (on cloud this can also mean bad authentication)
│   ├── RateLimited               429 after the retry budget; carries ``retry_after``
│   ├── ServerError               5xx to a read, after the retry budget
│   ├── ConnectionFailed          DNS, refused, reset, TLS, timeout after the retry budget
│   ├── MalformedResponse         not JSON, or JSON of the wrong shape
│   │   └── ResponseTooLarge      over the size cap (``max_response_mb``) or the row cap
│   ├── IncompleteRead            a read ended early (e.g. paging broke mid-way)
│   ├── ValidationRejected        400 to a write: ConnectWise refused values; ``problems``
│   ├── Conflict                  409 to a write: the record is in use
│   └── WriteOutcomeUnknown       a write may or may not have landed: re-read before retrying
├── StoreError                    the database refused a write or read
└── DeliveryError                 a notification could not be sent; ``permanent`` or not
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CwdriftError(Exception):
    """Base of every error cwdrift raises on purpose."""

    kind = "error"
    transient = False

    def __init__(self, message: str, *, fix: str = "") -> None:
        self.message = message
        self.fix = fix
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message

    def as_dict(self) -> dict[str, str]:
        """The typed error as plain data, for check runs, alerts and ``--json``."""
        return {"kind": self.kind, "message": self.message, "fix": self.fix}


class ConfigError(CwdriftError):
    """A config or baseline file is invalid. ``location`` is ``file:line`` or ``file: field``.

    Always one line (``file:line: field: problem (fix: ...)``): newlines in the parts are folded,
    so a message is never mistaken for two problems, and a value from the file cannot fake one.
    """

    kind = "config"

    def __init__(self, message: str, *, location: str = "", fix: str = "") -> None:
        self.location = _one_line(location)
        self.problem = _one_line(message)  # without the location
        message = self.problem
        super().__init__(
            f"{self.location}: {message}" if self.location else message, fix=_one_line(fix)
        )

    @property
    def problems(self) -> tuple[ConfigError, ...]:
        """Each problem on its own (this one alone; several for :class:`ConfigErrors`)."""
        return (self,)


class ConfigErrors(ConfigError):
    """Every problem found in a file, so one run of ``config validate`` shows them all.

    ``str()`` is one line per problem; ``message``, ``location`` and ``fix`` are the first one's.
    Build it with :func:`config_errors`, which returns a lone problem as itself.
    """

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        flat = tuple(problem for error in errors for problem in error.problems)
        if not flat:
            raise ValueError("ConfigErrors needs at least one problem")
        self._problems = flat
        first = flat[0]
        super().__init__(first.problem, location=first.location, fix=first.fix)

    @property
    def problems(self) -> tuple[ConfigError, ...]:
        return self._problems

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self._problems)

    def as_dict(self) -> dict[str, str]:
        data = super().as_dict()
        data["message"] = f"{len(self._problems)} problems: " + "; ".join(
            str(problem) for problem in self._problems
        )
        return data


def config_errors(errors: Sequence[ConfigError]) -> ConfigError:
    """One error for ``errors`` (not empty): the error itself when there is only one."""
    flat = [problem for error in errors for problem in error.problems]
    return flat[0] if len(flat) == 1 else ConfigErrors(flat)


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


class ConnectWiseError(CwdriftError):
    """A ConnectWise request failed. ``endpoint`` is the API path, never a full URL with secrets;
    ``method`` is the HTTP method (``GET`` for every read)."""

    kind = "connectwise"

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        fix: str = "",
        method: str = "GET",
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        self.method = method
        super().__init__(message, fix=fix)

    def as_dict(self) -> dict[str, str]:
        data = super().as_dict()
        data["endpoint"] = self.endpoint
        if self.method != "GET":  # reads keep the shape they always had
            data["method"] = self.method
        if self.status is not None:
            data["status"] = str(self.status)
        return data


class AuthenticationFailed(ConnectWiseError):
    kind = "auth"


class PermissionDenied(ConnectWiseError):
    kind = "permission"

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        permission: str = "",
        fix: str = "",
        method: str = "GET",
    ) -> None:
        self.permission = permission
        super().__init__(message, endpoint=endpoint, status=403, fix=fix, method=method)


class NotFound(ConnectWiseError):
    kind = "not_found"


class RateLimited(ConnectWiseError):
    kind = "rate_limited"
    transient = True

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        retry_after: float | None = None,
        fix: str = "",
        method: str = "GET",
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, endpoint=endpoint, status=429, fix=fix, method=method)


class ServerError(ConnectWiseError):
    kind = "server"
    transient = True


class ConnectionFailed(ConnectWiseError):
    kind = "connection"
    transient = True


class MalformedResponse(ConnectWiseError):
    kind = "malformed"


class ResponseTooLarge(MalformedResponse):
    """An answer over the size cap, or a list over the row cap: the read stopped there.

    No configuration record of ConnectWise comes near the caps, so such an answer is not one we
    understand (a proxy's endless page, a runaway list): malformed, not transient.
    """


class IncompleteRead(ConnectWiseError):
    kind = "incomplete"
    transient = True


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One ``ValidationError`` of a refused write: ``field``, ``code`` and ``message`` as
    ConnectWise sent them (scrubbed of secrets and control characters, bounded in length)."""

    field: str
    code: str
    message: str

    def __str__(self) -> str:
        said = f"{self.field}: {self.message}" if self.field else self.message
        return f"{said} ({self.code})" if self.code else said


class ValidationRejected(ConnectWiseError):
    """400 to a write: ConnectWise refused the values (``ErrorResponseMessage.errors[]``).

    Nothing was written; sending the same request again would be refused again.
    """

    kind = "rejected"

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        method: str,
        problems: tuple[FieldProblem, ...] = (),
        fix: str = "",
    ) -> None:
        self.problems = problems
        super().__init__(message, endpoint=endpoint, status=400, fix=fix, method=method)


class Conflict(ConnectWiseError):
    """409 to a write: ConnectWise says the record is in use (or changed); nothing was written."""

    kind = "conflict"
    transient = True


class WriteOutcomeUnknown(ConnectWiseError):
    """A write may or may not have landed: a timeout, a dropped connection or a 5xx after it was
    sent, or a success answer we could not read. Never sent again blindly: the caller re-reads
    the record (remediation) or looks the ticket up by ``externalXRef`` before trying again."""

    kind = "write_unknown"
    transient = True


class StoreError(CwdriftError):
    kind = "store"


class DeliveryError(CwdriftError):
    """A channel could not deliver. ``permanent`` errors are recorded, transient ones retried."""

    kind = "delivery"

    def __init__(
        self, message: str, *, permanent: bool, fix: str = "", retry_after: float | None = None
    ) -> None:
        self.permanent = permanent
        self.retry_after = retry_after  # seconds the channel asked us to wait (Slack 429)
        super().__init__(message, fix=fix)
