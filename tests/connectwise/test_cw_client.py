"""The client against the real simulator over HTTP: auth, codebase, paging, faults, errors."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from monitor.connectwise.client import ACCEPT, ConnectWiseClient, required_permission
from monitor.connectwise.limits import HostLimiter
from monitor.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    ConnectWiseError,
    IncompleteRead,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
)
from monitor.simulator.app import create_app
from monitor.simulator.scenario import Fault
from monitor.simulator.server import RunningSimulator, serve_asgi
from monitor.simulator.state import SimulatorState

from .conftest import (
    CLIENT_ID,
    GOZYNTA_PRIVATE,
    GOZYNTA_PUBLIC,
    ClientFactory,
    RecordingSleep,
    scenario,
)
from .fake_http_server import Answer, Request, serve_handler

# -- connection and headers ------------------------------------------------------------------


class HeaderRecorder:
    """ASGI wrapper around the real simulator app that keeps each request's raw headers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, dict[str, str]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.seen.append((scope["path"], headers))
        await self.app(scope, receive, send)


async def test_headers_as_sent() -> None:
    recorder = HeaderRecorder(create_app(SimulatorState(scenario())))
    with serve_asgi(recorder) as url:
        client = ConnectWiseClient(url, "acme", GOZYNTA_PUBLIC, GOZYNTA_PRIVATE, CLIENT_ID)
        async with client as cw:
            await cw.get_list("/finance/glCaptions")
    expected_auth = (
        "Basic " + base64.b64encode(f"acme+{GOZYNTA_PUBLIC}:{GOZYNTA_PRIVATE}".encode()).decode()
    )
    assert [path for path, _ in recorder.seen] == [
        "/login/companyinfo/acme",
        "/v2025_1/apis/3.0/finance/glCaptions",
    ]
    for _, headers in recorder.seen:
        assert headers["authorization"] == expected_auth
        assert headers["clientid"] == CLIENT_ID
        assert headers["accept"] == ACCEPT
        assert "content-type" not in headers  # GETs have no body


async def test_simulator_log_shows_client_id_accept_and_page_size(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    async with make_client() as cw:
        rows = await cw.get_list("/system/apiMembers", {"conditions": 'identifier="GozyntaAPI"'})
    assert [r["identifier"] for r in rows] == ["GozyntaAPI"]
    last = sim.state.requests[-1]
    assert (last.path, last.status) == ("/system/apiMembers", 200)
    assert last.headers == {"clientId": CLIENT_ID, "Accept": ACCEPT}
    assert last.query == {"pageSize": "1000", "conditions": 'identifier="GozyntaAPI"'}


@pytest.mark.parametrize(
    ("company", "codebase"),
    [("acme", "v2025_1/"), ("onprem", "v4_6_release/"), ("labelled", "v2025_1/")],
)
async def test_codebase_lookup_sets_the_base_url(
    sim: RunningSimulator, make_client: ClientFactory, company: str, codebase: str
) -> None:
    async with make_client(company_id=company) as cw:
        # acme is cloud, but a loopback IP never gets the api- prefix.
        assert cw.base_url == sim.api_url(company) == f"{sim.url}/{codebase}apis/3.0"
        assert cw.company_info is not None
        assert cw.company_info.codebase == codebase
        assert cw.company_info.is_cloud is (company == "acme")


async def test_plain_http_to_a_remote_host_is_refused_before_any_request() -> None:
    with pytest.raises(ConfigError) as caught:
        ConnectWiseClient(
            "http://na.myconnectwise.net", "acme", "pub", "priv", CLIENT_ID, tenant="acme"
        )
    assert "tenant 'acme': site" in str(caught.value)
    assert "https://na.myconnectwise.net" in caught.value.fix


async def test_unknown_company_is_not_found(make_client: ClientFactory) -> None:
    with pytest.raises(NotFound) as caught:
        async with make_client(company_id="nosuchco"):
            pass
    assert caught.value.endpoint == "/login/companyinfo/nosuchco"
    assert "cloud" in caught.value.fix


# -- paging ----------------------------------------------------------------------------------


async def test_paging_follows_next_links_to_the_end(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    async with make_client(page_size=1000) as cw:
        whole = await cw.get_list("/system/mySecurity")
    sim.state.clear_requests()
    async with make_client(page_size=25) as cw:
        paged = await cw.get_list("/system/mySecurity")
    assert len(whole) > 100  # the simulator's role has ~120 rows
    assert paged == whole
    pages = [r.query.get("page", "1") for r in sim.state.requests if r.path == "/system/mySecurity"]
    assert pages == [str(n) for n in range(1, len(pages) + 1)]
    assert len(pages) == -(-len(whole) // 25)


async def test_broken_paging_is_an_incomplete_read(
    sim: RunningSimulator, make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    sim.state.add_fault("acme", Fault(kind="broken_paging", endpoint="/system/mySecurity"))
    async with make_client() as cw:
        with pytest.raises(IncompleteRead) as caught:
            await cw.get_list("/system/mySecurity")
    assert caught.value.endpoint == "/system/mySecurity"
    assert "page 2" in caught.value.message
    assert len(sleep.delays) == 2  # page 2's 500 was retried within the budget first


Pages = dict[str, tuple[list[Any], str | None]]


@contextmanager
def _fake_connectwise(pages: Callable[[str], Pages]) -> Iterator[str]:
    """A stand-in ConnectWise serving companyinfo and fixed pages keyed by query string.

    ``pages`` gets the server's API base (``http://127.0.0.1:PORT/v2025_1/apis/3.0``).
    """
    served: Pages = {}

    def handler(request: Request) -> Answer:
        if request.path.startswith("/login/companyinfo/"):
            return Answer.json({"Codebase": "v2025_1/", "IsCloud": "False"})
        body, link = served[request.query]
        return Answer.json(body, **({"Link": link} if link else {}))

    with serve_handler(handler) as server:
        served.update(pages(f"{server.url}/v2025_1/apis/3.0"))
        yield server.url


def _page_repeats(base: str) -> Pages:
    # page 2 says its next page is page 2 again
    again = f'<{base}/x?pageSize=1000&page=2>; rel="next"'
    return {"pageSize=1000": ([{"id": 1}], again), "pageSize=1000&page=2": ([{"id": 2}], again)}


def _page_leaves_host(_: str) -> Pages:
    # a next link to another server must not receive the keys
    return {"pageSize=1000": ([{"id": 1}], '<https://evil.example/x?page=2>; rel="next"')}


@pytest.mark.parametrize(
    ("pages", "says"),
    [(_page_repeats, "repeats an earlier page"), (_page_leaves_host, "points at another server")],
)
async def test_next_links_that_loop_or_leave_the_host_are_refused(
    pages: Callable[[str], Pages], says: str
) -> None:
    with _fake_connectwise(pages) as url:
        async with ConnectWiseClient(url, "acme", "pub", "priv", CLIENT_ID) as cw:
            with pytest.raises(IncompleteRead, match=says):
                await cw.get_list("/x")


async def test_relative_next_links_are_followed() -> None:
    def pages(_: str) -> Pages:
        return {
            "pageSize=1000": (
                [{"id": 1}],
                '</v2025_1/apis/3.0/x?pageSize=1000&page=2>; rel="next"',
            ),
            "pageSize=1000&page=2": ([{"id": 2}], None),
        }

    with _fake_connectwise(pages) as url:
        async with ConnectWiseClient(url, "acme", "pub", "priv", CLIENT_ID) as cw:
            assert await cw.get_list("/x") == [{"id": 1}, {"id": 2}]


# -- faults: retried and then OK -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected_delays"),
    [
        (Fault(kind="status", status=500, times=2), [0.5, 1.0]),
        (Fault(kind="status", status=503, times=1), [0.5]),
        (Fault(kind="rate_limit", retry_after=7, times=1), [7.0]),
        (Fault(kind="rate_limit", retry_after=9999, times=1), [120.0]),  # Retry-After is capped
        (Fault(kind="connection_reset", times=1), [0.5]),
    ],
)
async def test_transient_faults_are_retried_then_succeed(
    sim: RunningSimulator,
    make_client: ClientFactory,
    sleep: RecordingSleep,
    fault: Fault,
    expected_delays: list[float],
) -> None:
    async with make_client() as cw:
        sim.state.add_fault("acme", fault.model_copy(update={"endpoint": "/finance/glCaptions"}))
        rows = await cw.get_list("/finance/glCaptions")
    assert rows[0]["segment1"] == "Account"
    assert sleep.delays == expected_delays


async def test_a_timeout_is_retried(sim: RunningSimulator, make_client: ClientFactory) -> None:
    sim.state.add_fault(
        "acme", Fault(kind="latency", seconds=0.6, times=1, endpoint="/finance/glCaptions")
    )
    async with make_client(timeout=0.1) as cw:
        rows = await cw.get_list("/finance/glCaptions")
    assert len(rows) == 1


# -- faults: typed errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "tries", "says"),
    [
        (Fault(kind="status", status=500), ServerError, 3, "failed with 500"),
        (Fault(kind="rate_limit", retry_after=5), RateLimited, 3, "Too many requests"),
        (Fault(kind="connection_reset"), ConnectionFailed, 3, "could not read"),
        (Fault(kind="malformed_json"), MalformedResponse, 1, "expected JSON"),
        (Fault(kind="html_error", status=200), MalformedResponse, 1, "text/html"),
        (Fault(kind="html_error"), ServerError, 3, "502 on /finance/glCaptions after 3 tries"),
        (Fault(kind="html_error"), ServerError, 3, "text/html"),  # says what came back
        (Fault(kind="wrong_shape"), MalformedResponse, 1, "expected a JSON list of objects"),
        (Fault(kind="status", status=400), ConnectWiseError, 1, "answered 400"),
        (Fault(kind="status", status=404), NotFound, 1, "404"),
        (Fault(kind="status", status=403), PermissionDenied, 1, "Finance > Accounting Interface"),
        (Fault(kind="status", status=401), AuthenticationFailed, 1, "rejected the API keys"),
    ],
)
async def test_faults_give_typed_errors_naming_the_endpoint(
    sim: RunningSimulator,
    make_client: ClientFactory,
    fault: Fault,
    error: type[ConnectWiseError],
    tries: int,
    says: str,
) -> None:
    async with make_client() as cw:
        sim.state.clear_requests()
        sim.state.add_fault("acme", fault.model_copy(update={"endpoint": "/finance/glCaptions"}))
        with pytest.raises(error) as caught:
            await cw.get_list("/finance/glCaptions")
    assert type(caught.value) is error
    assert caught.value.endpoint == "/finance/glCaptions"
    assert says in str(caught.value)
    assert caught.value.fix
    assert len(sim.state.requests) == tries


async def test_rate_limited_carries_retry_after(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    async with make_client() as cw:
        sim.state.add_fault("acme", Fault(kind="rate_limit", retry_after=42, endpoint="/finance/*"))
        with pytest.raises(RateLimited) as caught:
            await cw.get_list("/finance/glCaptions")
    assert caught.value.retry_after == 42.0


async def test_wrong_shape_on_a_single_record(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    async with make_client(public_key="auditpub0001", private_key="Priv-Audit-Secret-1a2b3c") as cw:
        role_id = (await cw.get_list("/system/securityroles"))[0]["id"]
        sim.state.add_fault("acme", Fault(kind="wrong_shape", endpoint="/system/securityroles/*"))
        with pytest.raises(MalformedResponse, match="expected a JSON object"):
            await cw.get_one(f"/system/securityroles/{role_id}")


async def test_bad_keys_are_an_authentication_failure_not_retried(
    sim: RunningSimulator, make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    async with make_client(private_key="not-the-key") as cw:
        with pytest.raises(AuthenticationFailed) as caught:
            await cw.get_list("/system/mySecurity")
    assert "company 'acme'" in caught.value.message
    assert "public/private key pair, the company id and the clientId" in caught.value.fix
    assert sleep.delays == []
    assert sim.state.requests[-1].status == 401


async def test_forbidden_names_the_permission_the_role_lacks(make_client: ClientFactory) -> None:
    # The Mobius role has no System > Security Roles access.
    async with make_client() as cw:
        with pytest.raises(PermissionDenied) as caught:
            await cw.get_list("/system/securityroles")
    assert caught.value.permission == "System > Security Roles: Inquire"
    assert caught.value.status == 403
    assert "System > Security Roles: Inquire" in str(caught.value)


async def test_missing_path_is_not_found_with_the_cloud_hint(make_client: ClientFactory) -> None:
    async with make_client() as cw:
        with pytest.raises(NotFound) as caught:
            await cw.get_one("/system/nothingHere")
    assert caught.value.endpoint == "/system/nothingHere"
    assert "cloud" in caught.value.fix


@pytest.mark.parametrize(
    ("endpoint", "permission"),
    [
        ("/system/securityroles/27", "System > Security Roles: Inquire"),
        ("/system/securityRoles/27/settings", "System > Security Roles: Inquire"),
        ("/system/apiMembers", "System > Member Maintenance: Inquire"),
        ("/finance/glCaptions", "Finance > Accounting Interface: Inquire"),
        ("/finance/accountingPackageSetup", "Finance > Accounting Interface: Inquire"),
        ("/system/setupScreens", "System > Table Setup: Inquire"),
        ("/system/mySecurity", ""),
    ],
)
def test_required_permission(endpoint: str, permission: str) -> None:
    assert required_permission(endpoint) == permission


# -- limits ----------------------------------------------------------------------------------


async def test_every_request_goes_through_the_host_limiter(
    sim: RunningSimulator, make_client: ClientFactory
) -> None:
    now = [0.0]

    async def advance(seconds: float) -> None:
        now[0] += seconds

    limiter = HostLimiter("127.0.0.1", per_minute=60, burst=1, clock=lambda: now[0], sleep=advance)
    async with make_client(limiter=limiter) as cw:
        await cw.get_list("/finance/glCaptions")
        await cw.get_list("/finance/accountingPackageSetup")
    # companyinfo took the only token; the two reads each waited a second for theirs.
    assert limiter.rate_limit_waits == 2
    assert now[0] == pytest.approx(2.0)
