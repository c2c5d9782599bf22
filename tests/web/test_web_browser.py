"""The web view in a real browser: Debian's headless Chromium, driven by Playwright, against a
real daemon (``cwdrift run``, a process of its own) serving a database built by real checks
against the simulator (web_store.py).

A person opens the fleet, filters it to drift, opens a tenant, follows a finding to its
setting's timeline, and moves the tenant page back to before the change: the old value shows.
Every page must load with no console error (a CSP violation is one). Screenshots go to
tests/artifacts/ (not committed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_process import cwdrift_process
from web_store import BEFORE_CHANGE, SALES_TAX, SALES_TAX_RULE, WebStore

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import ConsoleMessage, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev dependencies were not installed
    sync_playwright = None  # type: ignore[assignment]


@pytest.fixture(scope="module")
def browser(web_store: WebStore) -> Iterator[Any]:
    """Chromium, launched once the history is built: Playwright's sync API runs an event loop
    of its own in this thread, and the checks that build the history run theirs first."""
    if sync_playwright is None:
        pytest.skip("Playwright for Python is not installed (make install adds it)")
    if not CHROMIUM.exists():
        pytest.skip(
            "Chromium not installed (/usr/bin/chromium): .ci/run installs Debian's chromium"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def daemon(web_store: WebStore) -> Iterator[str]:
    """A real node, ``cwdrift run``, serving the pages beside /healthz on its health port."""
    with cwdrift_process(
        "--config", str(web_store.config), "run", "--health-port", "0", listening="listening on"
    ) as (url, _):
        yield url


class Console:
    """What the browser's console said: errors, failed loads, uncaught exceptions."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def fleet_rows(page: Page) -> list[str]:
    return [
        row.get_attribute("data-tenant") or "" for row in page.query_selector_all("tr[data-tenant]")
    ]


def test_from_the_fleet_to_a_setting_as_it_was(browser: Any, daemon: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console = Console(page)

    page.goto(daemon + "/")
    assert page.locator("h1").inner_text() == "Fleet"
    assert sorted(fleet_rows(page)) == ["acme", "globex", "initech", "umbrella"]
    assert "<script>alert(1)</script>" in page.locator("tr[data-tenant=initech]").inner_text()
    shoot(page, "fleet")

    # Filter to drift: the list applies itself (app.js) and the page reloads filtered.
    page.select_option("select[name=status]", "drift")
    page.wait_for_url(re.compile(r"status=drift"))
    assert fleet_rows(page) == ["initech", "acme"]
    assert page.locator("#result-count").inner_text() == "2 tenants"
    shoot(page, "fleet-drift")

    page.click("tr[data-tenant=acme] a.tenant-name")
    page.wait_for_url(re.compile(r"/tenants/acme$"))
    finding = page.locator(f"article[data-rule={SALES_TAX_RULE}]")
    assert "Include Sales Tax" in finding.inner_text()
    assert "Actual\noff" in finding.inner_text()
    assert "last edited by <b>jsmith</b>" in finding.inner_text()
    assert "Fix in ConnectWise:" in finding.inner_text()
    shoot(page, "tenant")

    finding.locator("a.timeline-link").click()
    page.wait_for_url(re.compile(rf"/tenants/acme/rules/{SALES_TAX_RULE}$"))
    timeline = page.locator(f"section.timeline[data-key='{SALES_TAX}']")
    assert timeline.locator("svg.step-chart").count() == 1
    values = timeline.locator("td.period-value").all_inner_texts()
    assert values == ["off", "on"]  # newest first: on until jsmith's change, off since
    shoot(page, "timeline")

    # Back on the tenant page, the date switch: before the change, the old value.
    page.go_back()
    page.wait_for_url(re.compile(r"/tenants/acme$"))
    page.fill("#at", BEFORE_CHANGE.strftime("%Y-%m-%dT%H:%M"))
    page.click(".at-form button[type=submit]")
    page.wait_for_url(re.compile(r"/tenants/acme\?at=2026-11-02T15%3A00"))
    assert "as they were at 2026-11-02 15:00 UTC" in page.locator("#past-banner").inner_text()
    page.locator("details.section", has_text="Accounting package setup").first.evaluate(
        "element => element.open = true"
    )
    row = page.locator(f"tr[data-key='{SALES_TAX}'] td.setting-value")
    assert row.inner_text() == "on"
    assert page.locator(f"article[data-rule={SALES_TAX_RULE}]").count() == 0
    assert "compliant" in page.locator("#tenant-status").inner_text()
    shoot(page, "tenant-before-change")

    for path in ("/alerts", "/reports?week=2026-W45"):
        page.goto(daemon + path)
        assert page.locator("h1").first.inner_text()
    shoot(page, "report")
    assert console.errors == []
    page.close()


def test_signing_in_with_the_token(browser: Any, web_store: WebStore, tmp_path: Path) -> None:
    """A token configured: the browser gets the form, signs in once, and reads the pages."""
    token = "browser-token-0123456789abcdef"
    (tmp_path / "token").write_text(token)
    config = tmp_path / "cwdrift.yaml"
    text = web_store.config.read_text(encoding="utf-8").replace(
        "sqlite:///cwdrift.db", f"sqlite:///{web_store.config.parent}/cwdrift.db"
    )
    config.write_text(text + "web:\n  token_file: token\n", encoding="utf-8")
    with cwdrift_process(
        "--config", str(config), "web", "--port", "0", listening="cwdrift web view on"
    ) as (base, _):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        console = Console(page)
        response = page.goto(base + "/alerts")
        assert response is not None and response.status == 401
        assert page.locator("h1").inner_text() == "Sign in"
        page.fill("#token", "wrong-token-0123456789")
        page.click("button[type=submit]")
        assert "wrong token" in page.locator(".alert-box").inner_text()
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/alerts$"))
        assert page.locator("h1").inner_text() == "Alerts"
        page.goto(base + "/")
        assert page.locator("h1").inner_text() == "Fleet"
        cookies = {c["name"]: c for c in page.context.cookies()}
        session = cookies["cwdrift_session"]
        assert (session["httpOnly"], session["secure"], session["sameSite"]) == (
            True,
            True,
            "Strict",
        )
        assert token not in session["value"]
        # The 401 and the refused token are the only failed loads, and they were meant.
        unexpected = [e for e in console.errors if "status of 401" not in e]
        assert unexpected == []
        page.close()
