"""The write path against ConnectWise's documented answers, through ``httpx.MockTransport``.

Every answer here is a shape ../shared/connectwise-api.md §5 and §7 document (the 400
``ErrorResponseMessage`` with ``errors[]``, 403, 404, 409, 429 with ``Retry-After``, 5xx) or a
transport fault after the request left. What matters most: **a write that may have reached
ConnectWise is never sent again** (count the requests), and what is known is said.
test_cw_writes.py runs the same path against the simulator over real HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from monitor.connectwise.client import required_permission
from monitor.connectwise.limits import HostLimiter
from monitor.errors import (
    Conflict,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationRejected,
    WriteOutcomeUnknown,
)

from .conftest import RETRY, RecordingSleep
from .mock_connectwise import PRIVATE, TOKEN, Deadlines, api_requests, client, connectwise

SETUP = "/finance/accountingPackageSetup/1"
FLAG_OFF = [{"op": "replace", "path": "transferExpensesAsBillFlag", "value": False}]
RECORD = {"id": 1, "transferExpensesAsBillFlag": False, "_info": {"updatedBy": "CwdriftFix"}}
CLOSE = [{"op": "replace", "path": "status", "value": {"id": 95}}]
TICKET = {
    "summary": "[Config drift] Acme",
    "company": {"id": 250},
    "externalXRef": "cwdrift:acme:1",
}


def error_body(code: str, message: str, errors: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "errors": errors}


def answering(*answers: httpx.Response | Exception) -> Any:
    """A handler giving ``answers`` in turn (an exception is raised, as a transport would)."""
    pending = list(answers)

    def api(_: httpx.Request) -> httpx.Response:
        answer = pending.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return api


# -- what is sent ------------------------------------------------------------------------------


async def test_patch_sends_a_json_patch_array_and_returns_the_record(
    sleep: RecordingSleep,
) -> None:
    http, sent = connectwise(answering(httpx.Response(200, json=RECORD)))
    async with client(http, sleep) as cw:
        assert await cw.patch(SETUP, FLAG_OFF) == RECORD
    (request,) = api_requests(sent)
    assert request.method == "PATCH"
    assert request.url.path == f"/v4_6_release/apis/3.0{SETUP}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Basic {TOKEN}"
    assert request.headers["accept"].startswith("application/vnd.connectwise.com+json")
    assert orjson.loads(request.content) == FLAG_OFF


async def test_post_sends_the_body_and_returns_the_created_record(sleep: RecordingSleep) -> None:
    created = {"id": 50123, **TICKET}
    http, sent = connectwise(answering(httpx.Response(201, json=created)))
    async with client(http, sleep) as cw:
        assert await cw.post("/service/tickets", TICKET) == created
    (request,) = api_requests(sent)
    assert (request.method, request.headers["content-type"]) == ("POST", "application/json")
    assert orjson.loads(request.content) == TICKET


@pytest.mark.parametrize(
    "operations",
    [
        [],
        [{"op": "replace", "path": "status/name", "value": ">Closed"}],  # the false-200 trap
        [{"op": "replace", "path": "/status", "value": {"id": 95}}],
        [{"op": "move", "path": "status", "value": 1}],
        [{"op": "replace", "path": "status"}],  # no value
        [{"op": "replace", "path": "status", "value": {"id": 95}, "from": "x"}],
    ],
)
async def test_operations_connectwise_would_misread_are_refused_before_sending(
    sleep: RecordingSleep, operations: list[dict[str, Any]]
) -> None:
    http, sent = connectwise(answering())
    async with client(http, sleep) as cw:
        with pytest.raises(ValueError, match="PATCH"):
            await cw.patch("/service/tickets/50123", operations)
    assert api_requests(sent) == []


async def test_remove_needs_no_value(sleep: RecordingSleep) -> None:
    http, sent = connectwise(answering(httpx.Response(200, json=RECORD)))
    async with client(http, sleep) as cw:
        await cw.patch(SETUP, [{"op": "remove", "path": "invoiceFormat"}])
    assert orjson.loads(api_requests(sent)[0].content) == [
        {"op": "remove", "path": "invoiceFormat"}
    ]


async def test_writes_wait_for_the_hosts_rate_limiter_like_reads(sleep: RecordingSleep) -> None:
    now = [0.0]

    async def advance(seconds: float) -> None:
        now[0] += seconds

    limiter = HostLimiter(
        "cw.example.test", per_minute=60, burst=1, clock=lambda: now[0], sleep=advance
    )
    answers = answering(httpx.Response(200, json=RECORD), httpx.Response(201, json=TICKET))
    http, _ = connectwise(answers)
    async with client(http, sleep, limiter=limiter) as cw:
        await cw.patch(SETUP, FLAG_OFF)
        await cw.post("/service/tickets", TICKET)
    # companyinfo took the only token; each write waited a second for its own.
    assert limiter.rate_limit_waits == 2
    assert now[0] == pytest.approx(2.0)


# -- what ConnectWise answers ------------------------------------------------------------------


async def test_a_400_is_a_validation_rejection_with_the_field_problems(
    sleep: RecordingSleep,
) -> None:
    body = error_body(
        "InvalidObject",
        "accountingPackageSetup object is invalid",
        [
            {
                "code": "InvalidType",
                "message": "transferExpensesAsBillFlag must be true or false.",
                "resource": "accountingPackageSetup",
                "field": "transferExpensesAsBillFlag",
            },
            {"code": "OutOfRange", "message": f"key {PRIVATE} \x1b[31mred", "field": "x"},
        ],
    )
    http, sent = connectwise(answering(httpx.Response(400, json=body)))
    async with client(http, sleep) as cw:
        with pytest.raises(ValidationRejected) as caught:
            await cw.patch(SETUP, FLAG_OFF)
    error = caught.value
    assert (error.endpoint, error.method, error.status) == (SETUP, "PATCH", 400)
    assert [(p.field, p.code) for p in error.problems] == [
        ("transferExpensesAsBillFlag", "InvalidType"),
        ("x", "OutOfRange"),
    ]
    assert error.problems[1].message == "key ***  [31mred"  # scrubbed of the key and ESC
    assert error.message == (
        f"ConnectWise refused PATCH {SETUP} (ConnectWise said: InvalidObject: "
        "accountingPackageSetup object is invalid): transferExpensesAsBillFlag: "
        "transferExpensesAsBillFlag must be true or false. (InvalidType); "
        "x: key ***  [31mred (OutOfRange)"
    )
    assert error.as_dict()["method"] == "PATCH"
    assert PRIVATE not in str(error)
    assert len(api_requests(sent)) == 1


async def test_field_problems_are_bounded(sleep: RecordingSleep) -> None:
    errors = [{"code": "X", "message": "m" * 1000, "field": f"f{n}"} for n in range(50)]
    body = error_body("InvalidObject", "bad", errors)
    http, _ = connectwise(answering(httpx.Response(400, json=body)))
    async with client(http, sleep) as cw:
        with pytest.raises(ValidationRejected) as caught:
            await cw.post("/service/tickets", TICKET)
    assert len(caught.value.problems) == 20
    assert all(len(p.message) == 200 for p in caught.value.problems)


async def test_an_error_answer_past_64_kb_is_cut_and_still_a_rejection(
    sleep: RecordingSleep,
) -> None:
    errors = [{"code": "X", "message": "m" * 10_000, "field": f"f{n}"} for n in range(500)]
    body = error_body("InvalidObject", "bad", errors)
    http, _ = connectwise(answering(httpx.Response(400, json=body)))
    async with client(http, sleep) as cw:
        with pytest.raises(ValidationRejected) as caught:
            await cw.post("/service/tickets", TICKET)
    assert caught.value.problems == ()  # the cut body is no longer JSON; its start is quoted
    assert 'application/json starting \'{"code":"InvalidObject"' in caught.value.message
    assert len(caught.value.message) < 400


async def test_a_400_without_errors_is_still_a_rejection(sleep: RecordingSleep) -> None:
    http, _ = connectwise(answering(httpx.Response(400, text="<html>Bad Request</html>")))
    async with client(http, sleep) as cw:
        with pytest.raises(ValidationRejected) as caught:
            await cw.post("/service/tickets", TICKET)
    assert caught.value.problems == ()
    assert "Bad Request" in caught.value.message


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("PATCH", SETUP, "Finance > Accounting Interface: Edit"),
        ("PATCH", "/finance/glCaptions/1", "Finance > Accounting Interface: Edit"),
        ("PATCH", "/system/apiMembers/311", "System > Member Maintenance: Edit"),
        ("POST", "/service/tickets", "Service Desk > Service Tickets: Add"),
        ("PATCH", "/service/tickets/50123", "Service Desk > Service Tickets: Edit"),
        ("POST", "/service/tickets/50123/notes", "Service Desk > Service Tickets: Edit"),
    ],
)
async def test_a_403_names_the_permission_the_write_needs(
    sleep: RecordingSleep, method: str, path: str, permission: str
) -> None:
    body = error_body("Forbidden", "You do not have permission")
    http, sent = connectwise(answering(httpx.Response(403, json=body)))
    async with client(http, sleep) as cw:
        with pytest.raises(PermissionDenied) as caught:
            if method == "PATCH":
                await cw.patch(path, FLAG_OFF)
            else:
                await cw.post(path, TICKET)
    assert caught.value.permission == permission
    assert f"ConnectWise refused {method} {path} for company 'acme'" in caught.value.message
    assert f"the security role lacks {permission}" in caught.value.message
    assert len(api_requests(sent)) == 1


async def test_a_409_is_a_conflict_and_not_retried(sleep: RecordingSleep) -> None:
    body = error_body("Conflict", "The record is in use.")
    http, sent = connectwise(answering(httpx.Response(409, json=body)))
    async with client(http, sleep) as cw:
        with pytest.raises(Conflict) as caught:
            await cw.patch("/service/tickets/50123", CLOSE)
    assert caught.value.status == 409
    assert "409 Conflict to PATCH /service/tickets/50123" in caught.value.message
    assert len(api_requests(sent)) == 1


async def test_a_404_is_not_found(sleep: RecordingSleep) -> None:
    http, sent = connectwise(answering(httpx.Response(404, json=error_body("NotFound", "gone"))))
    async with client(http, sleep) as cw:
        with pytest.raises(NotFound, match="404 Not Found for PATCH /service/tickets/9"):
            await cw.patch("/service/tickets/9", FLAG_OFF)
    assert len(api_requests(sent)) == 1


async def test_a_429_was_not_processed_so_the_write_is_sent_again_after_retry_after(
    sleep: RecordingSleep,
) -> None:
    busy = {"error": "ConnectWiseAPI", "message": "Too many requests."}
    http, sent = connectwise(
        answering(
            httpx.Response(429, json=busy, headers={"Retry-After": "7"}),
            httpx.Response(201, json={"id": 50123, **TICKET}),
        )
    )
    async with client(http, sleep) as cw:
        assert (await cw.post("/service/tickets", TICKET))["id"] == 50123
    assert len(api_requests(sent)) == 2
    assert sleep.delays == [7.0]


async def test_a_429_every_time_is_rate_limited_after_the_budget(sleep: RecordingSleep) -> None:
    busy = httpx.Response(429, headers={"Retry-After": "3"})
    http, sent = connectwise(answering(*[busy] * RETRY.attempts))
    async with client(http, sleep) as cw:
        with pytest.raises(RateLimited) as caught:
            await cw.patch(SETUP, FLAG_OFF)
    assert caught.value.method == "PATCH"
    assert len(api_requests(sent)) == RETRY.attempts


# -- the outcome is unknown: never sent again --------------------------------------------------


class ResetAfterHeaders(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"id": '
        raise httpx.RemoteProtocolError("Response payload is not completed")


UNKNOWN_CASES = {
    "500": httpx.Response(500, json=error_body("UnexpectedServerError", "try again")),
    "503": httpx.Response(503, text="<html>nginx</html>"),
    "read timeout": httpx.ReadTimeout("timed out"),
    "write timeout": httpx.WriteTimeout("timed out"),
    "reset before the answer": httpx.RemoteProtocolError("Server disconnected"),
    "reset mid-answer": httpx.Response(200, stream=ResetAfterHeaders()),
    "proxy error": httpx.ProxyError("502 from the proxy"),
    "not the record": httpx.Response(200, text="OK"),
    "a list": httpx.Response(201, json=[{"id": 1}]),
}


@pytest.mark.parametrize("case", list(UNKNOWN_CASES))
async def test_a_write_that_may_have_landed_is_never_sent_again(
    sleep: RecordingSleep, case: str
) -> None:
    http, sent = connectwise(answering(UNKNOWN_CASES[case]))
    async with client(http, sleep) as cw:
        with pytest.raises(WriteOutcomeUnknown) as caught:
            await cw.post("/service/tickets", TICKET)
    assert len(api_requests(sent)) == 1
    assert sleep.delays == []
    error = caught.value
    assert (error.endpoint, error.method) == ("/service/tickets", "POST")
    assert "POST /service/tickets" in error.message
    assert error.fix.startswith("read the record back")
    assert error.transient  # may be tried again, after a look-up


async def test_a_write_past_the_deadline_is_unknown(sleep: RecordingSleep) -> None:
    deadlines = Deadlines()

    async def api(_: httpx.Request) -> httpx.Response:
        deadlines.pass_it()  # the request arrived; no answer comes before the deadline
        await asyncio.Event().wait()
        raise AssertionError("the deadline ends the wait")

    http, sent = connectwise(api)
    async with client(http, sleep, deadline=deadlines) as cw:
        with pytest.raises(WriteOutcomeUnknown, match=r"within 10s \(deadline\)"):
            await cw.patch(SETUP, FLAG_OFF)
    assert len(api_requests(sent)) == 1


@pytest.mark.parametrize(
    "refused",
    [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ConnectTimeout("connect")],
)
async def test_a_write_that_never_left_is_tried_again(
    sleep: RecordingSleep, refused: Exception
) -> None:
    http, sent = connectwise(answering(refused, refused, httpx.Response(200, json=RECORD)))
    async with client(http, sleep) as cw:
        assert await cw.patch(SETUP, FLAG_OFF) == RECORD
    assert len(api_requests(sent)) == 3
    assert sleep.delays == [0.5, 1.0]


async def test_a_write_that_never_left_after_the_budget_is_a_connection_failure(
    sleep: RecordingSleep,
) -> None:
    refused = httpx.ConnectError(f"refused, key={PRIVATE}")
    http, _ = connectwise(answering(*[refused] * RETRY.attempts))
    async with client(http, sleep) as cw:
        with pytest.raises(ConnectionFailed) as caught:
            await cw.patch(SETUP, FLAG_OFF)
    assert "could not send PATCH /finance/accountingPackageSetup/1 to cw.example.test" in str(
        caught.value
    )
    assert caught.value.fix.startswith("nothing reached ConnectWise")
    assert PRIVATE not in str(caught.value)


# -- the permission table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "endpoint", "permission"),
    [
        ("GET", "/service/tickets", "Service Desk > Service Tickets: Inquire"),
        ("GET", "/service/tickets/50123/notes", "Service Desk > Service Tickets: Inquire"),
        ("GET", "/service/boards/12/statuses", "Service Desk > Service Tickets: Inquire"),
        ("GET", "/company/companies", "Companies > Company Maintenance: Inquire"),
        ("PATCH", "/system/members/7", "System > Member Maintenance: Edit"),
        ("post", "/service/tickets/", "Service Desk > Service Tickets: Add"),
        ("PUT", SETUP, ""),  # cwdrift never PUTs
        ("DELETE", "/service/tickets/1", ""),
    ],
)
def test_required_permission_by_method(method: str, endpoint: str, permission: str) -> None:
    assert required_permission(endpoint, method) == permission
