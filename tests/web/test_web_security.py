"""Safe by default: off loopback every page wants the token; the login form is CSRF-protected and
its cookie HttpOnly, Secure and SameSite=Strict; read-only; strict headers; no secret shown.

The 401 test binds a real server to a non-loopback address (0.0.0.0) and asks over real HTTP.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from test_web_pages import PAGES
from web_store import WebStore, app_for

from monitor.settings import LoadedConfig, WebConfig
from monitor.store import Database
from monitor.web.app import RunningServer, TLSFiles, start_server
from monitor.web.security import SESSION_COOKIE, Access

TOKEN = "test-token-0123456789abcdef"
OPEN = ["/healthz", "/readyz", "/metrics", "/static/app.css", "/login"]


def with_web(store: WebStore, **web: object) -> WebStore:
    """``store`` with its config's ``web:`` section replaced (validated like a file's)."""
    config = store.loaded.config.model_copy(update={"web": WebConfig.model_validate(web)})
    return replace(store, loaded=LoadedConfig(config=config, path=store.loaded.path))


@pytest.fixture
async def exposed(web_store: WebStore, db: Database) -> AsyncIterator[RunningServer]:
    """A real server on 0.0.0.0 (every interface: not loopback), behind a TLS proxy."""
    store = with_web(web_store, host="0.0.0.0", token=TOKEN, behind_tls_proxy=True)
    server = await start_server(app_for(store, db, host="0.0.0.0"), "0.0.0.0", 0)
    try:
        yield server
    finally:
        await server.close()


def url(server: RunningServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


async def test_off_loopback_every_page_and_twin_is_401_without_the_token(
    exposed: RunningServer,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for path in PAGES:
            joiner = "&" if "?" in path else "?"
            for target, accept in ((path, "text/html"), (f"{path}{joiner}format=json", "*/*")):
                refused = await client.get(url(exposed, target), headers={"accept": accept})
                assert refused.status_code == 401, target
                assert refused.headers["www-authenticate"] == 'Bearer realm="cwdrift"'
                assert TOKEN not in refused.text
                wrong = await client.get(
                    url(exposed, target), headers={"authorization": "Bearer not-the-token"}
                )
                assert wrong.status_code == 401, target
                allowed = await client.get(
                    url(exposed, target), headers={"authorization": f"Bearer {TOKEN}"}
                )
                assert allowed.status_code == 200, target
            page = await client.get(url(exposed, path), headers={"accept": "text/html"})
            assert '<form method="post" action="/login">' in page.text  # a person gets a form
        for path in OPEN:  # Docker's probe, Prometheus, the stylesheet, the form itself
            assert (await client.get(url(exposed, path))).status_code == 200, path


async def test_the_login_form_sets_a_strict_session_cookie(exposed: RunningServer) -> None:
    async with httpx.AsyncClient(timeout=10, base_url=url(exposed, "")) as client:
        form = await client.get("/login", params={"next": "/alerts"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        cookie = form.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
        csrf_cookie = cookie.split(";")[0].split("=", 1)[1]
        headers = {"cookie": f"cwdrift_csrf={csrf_cookie}", "origin": url(exposed, "")}

        wrong = await client.post(
            "/login", data={"token": "nope", "csrf": csrf[1], "next": "/alerts"}, headers=headers
        )
        assert wrong.status_code == 401 and "wrong token" in wrong.text
        no_csrf = await client.post("/login", data={"token": TOKEN, "next": "/"}, headers=headers)
        assert no_csrf.status_code == 403
        forged = await client.post(
            "/login",
            data={"token": TOKEN, "csrf": csrf[1]},
            headers={**headers, "origin": "https://evil.example"},
        )
        assert forged.status_code == 403

        good = await client.post(
            "/login", data={"token": TOKEN, "csrf": csrf[1], "next": "/alerts"}, headers=headers
        )
        assert good.status_code == 303 and good.headers["location"] == "/alerts"
        session = next(
            c for c in good.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
            assert attribute in session
        value = session.split(";")[0].split("=", 1)[1]
        assert TOKEN not in value  # an HMAC of its expiry, never the token itself
        page = await client.get("/alerts", headers={"cookie": f"{SESSION_COOKIE}={value}"})
        assert page.status_code == 200 and "Alerts" in page.text
        tampered = value[:-1] + ("0" if value[-1] != "0" else "1")
        refused = await client.get("/", headers={"cookie": f"{SESSION_COOKIE}={tampered}"})
        assert refused.status_code == 401

        offsite = await client.post(
            "/login", data={"token": TOKEN, "csrf": csrf[1], "next": "//evil.example/"},
            headers=headers,
        )  # fmt: skip
        assert offsite.headers["location"] == "/"


def test_a_session_expires_and_a_new_token_ends_it() -> None:
    access = Access(token=TOKEN)
    session = access.new_session(now=1_000_000)
    assert access.session_valid(session, now=1_000_001)
    assert not access.session_valid(session, now=1_000_000 + 13 * 3600)
    assert not Access(token=TOKEN + "x").session_valid(session, now=1_000_001)
    assert not access.session_valid("not a session")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/tenants/acme", "/alerts", "/nothing-here", "/healthz"])
async def test_only_reads_are_served(client: httpx.AsyncClient, method: str, path: str) -> None:
    answer = await client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"


async def test_every_answer_carries_the_headers(client: httpx.AsyncClient) -> None:
    for path in [*PAGES[:-1], "/login", "/healthz", "/nothing-here"]:
        answer = await client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp, path
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", [*PAGES[:-1], "/login"])
async def test_no_inline_script_or_style_in_the_pages(client: httpx.AsyncClient, path: str) -> None:
    page = (await client.get(path)).text
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert re.findall(r"\son[a-z]+=", page) == []  # no event handler attributes
    assert re.findall(r"\sstyle=", page) == []  # the CSP would block them (and log errors)


async def test_a_tokenless_server_answers_only_to_its_own_names(
    client: httpx.AsyncClient,
) -> None:
    for host in ("127.0.0.1:8080", "localhost", "[::1]:80"):
        assert (await client.get("/", headers={"host": host})).status_code == 200
    rebound = await client.get("/", headers={"host": "attacker.example"})
    assert rebound.status_code == 403


def test_web_config_refuses_an_open_or_clear_text_exposure() -> None:
    with pytest.raises(ValueError, match="without an access token"):
        WebConfig(host="0.0.0.0")
    with pytest.raises(ValueError, match="unencrypted"):
        WebConfig(host="10.1.2.3", token=TOKEN)
    with pytest.raises(ValueError, match="at least 16 characters"):
        WebConfig(token="short")
    with pytest.raises(ValueError, match="https"):
        WebConfig(base_url="http://cwdrift.example.com/")
    with pytest.raises(ValueError, match="only one of certfile and keyfile"):
        WebConfig(certfile="cert.pem")
    assert WebConfig(host="0.0.0.0", token=TOKEN, behind_tls_proxy=True).token is not None
    assert WebConfig(base_url="https://cw.example/drift").base_url == "https://cw.example/drift/"
    assert TOKEN not in repr(WebConfig(token=TOKEN))


def self_signed(folder: Path) -> TLSFiles:
    cert, key = folder / "cert.pem", folder / "key.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip("openssl cannot make a test certificate here")
    return TLSFiles(cert, key)


async def test_tls_is_spoken_when_configured(
    web_store: WebStore, db: Database, tmp_path: Path
) -> None:
    tls = self_signed(tmp_path)
    store = with_web(
        web_store, host="0.0.0.0", token=TOKEN, certfile=str(tls.certfile),
        keyfile=str(tls.keyfile),
    )  # fmt: skip
    server = await start_server(app_for(store, db, host="0.0.0.0"), "0.0.0.0", 0, tls=tls)
    try:
        assert server.url.startswith("https://")
        async with httpx.AsyncClient(verify=False, timeout=10) as client:
            answer = await client.get(
                f"https://127.0.0.1:{server.port}/", headers={"authorization": f"Bearer {TOKEN}"}
            )
            assert answer.status_code == 200
            assert answer.headers["strict-transport-security"].startswith("max-age=")
            with pytest.raises(httpx.HTTPError):
                await client.get(f"http://127.0.0.1:{server.port}/healthz")
    finally:
        await server.close()


async def test_a_bad_certificate_is_one_config_error(tmp_path: Path) -> None:
    from monitor.errors import ConfigError
    from monitor.web.app import create_app

    (tmp_path / "cert.pem").write_text("not a certificate")
    files = TLSFiles(tmp_path / "cert.pem", tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match=r"web\.certfile: cannot use the TLS certificate"):
        await start_server(create_app([]), "127.0.0.1", 0, tls=files)
