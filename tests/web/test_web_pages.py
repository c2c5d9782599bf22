"""Every page over a real history: what it shows, and its JSON twin, which must say what the
matching CLI ``--json`` says (the same keys, the same values)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from freezegun import freeze_time
from web_store import (
    BEFORE_CHANGE,
    DAY1,
    DAY2,
    EXPENSES_RULE,
    FIXED,
    FIXER,
    HOSTILE_CAPTION,
    HOSTILE_EDITOR,
    HOSTILE_NAME,
    NOW,
    SALES_TAX,
    SALES_TAX_RULE,
    WEEK,
    WebStore,
    cli,
)

from monitor.weblinks import rule_path, setting_path, tenant_path

PAGES = [
    "/",
    "/?status=drift&sort=score",
    tenant_path("acme"),
    tenant_path("acme", BEFORE_CHANGE),
    setting_path("acme", SALES_TAX),
    rule_path("acme", SALES_TAX_RULE),
    "/alerts",
    f"/reports?week={WEEK}",
]


async def twin(client: httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    """The JSON twin of ``path`` (whose own query is kept: httpx's params would replace it)."""
    query = "&".join(f"{key}={value}" for key, value in {**params, "format": "json"}.items())
    return await client.get(f"{path}{'&' if '?' in path else '?'}{query}")


def rows(page: str) -> list[str]:
    """The fleet table's tenant ids, in order."""
    return re.findall(r'<tr data-tenant="([^"]+)"', page)


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_and_its_json_twin_answer(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path, headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    data = await twin(client, path)
    assert data.status_code == 200, data.text
    assert data.headers["content-type"] == "application/json"
    assert isinstance(data.json(), dict)


async def test_the_fleet_filters_sorts_searches_and_pages(client: httpx.AsyncClient) -> None:
    everyone = (await client.get("/")).text
    # Worst first; equals by name ("<script>..." sorts before "Acme Corporation").
    assert rows(everyone) == ["umbrella", "initech", "acme", "globex"]
    drift = await client.get("/", params={"status": "drift"})
    assert rows(drift.text) == ["initech", "acme"]
    assert (await client.get("/", params={"status": "cannot-verify"})).text.count("<tr data") == 1
    assert rows((await client.get("/", params={"q": "GLOB"})).text) == ["globex"]
    assert rows((await client.get("/", params={"q": "zzz", "status": "drift"})).text) == []
    by_name = await client.get("/", params={"sort": "name"})
    assert rows(by_name.text) == ["initech", "acme", "globex", "umbrella"]
    reverse = await client.get("/", params={"sort": "tenant", "desc": "1"})
    assert rows(reverse.text) == ["umbrella", "initech", "globex", "acme"]
    seen = []
    for page in (1, 2, 3, 4):
        twin = (await client.get("/", params={"per_page": "1", "page": str(page),
                                              "format": "json"})).json()  # fmt: skip
        assert (twin["total"], twin["pages"], len(twin["tenants"])) == (4, 4, 1)
        seen += [row["tenant"] for row in twin["tenants"]]
    assert seen == ["umbrella", "initech", "acme", "globex"]
    tagged = (await client.get("/", params={"tag": "demo", "format": "json"})).json()
    assert tagged["total"] == 4
    assert (await client.get("/", params={"tag": "nope", "format": "json"})).json()["total"] == 0


async def test_the_fleet_counts_scores_and_ages(client: httpx.AsyncClient) -> None:
    data = (await client.get("/", params={"format": "json"})).json()
    assert data["counts"] == {"cannot_verify": 1, "drift": 2, "never_checked": 0, "compliant": 1}
    by_id = {row["tenant"]: row for row in data["tenants"]}
    assert by_id["acme"]["status"] == "drift"
    assert by_id["acme"]["failing_since"] == DAY2.isoformat()
    assert by_id["umbrella"]["failing_since"] == DAY1.isoformat()  # its error streak began
    assert by_id["umbrella"]["consecutive_errors"] == 3
    assert by_id["globex"]["score"] == 100.0 and by_id["globex"]["failing_since"] is None
    assert by_id["acme"]["open_by_severity"]["high"] == 1
    assert [f["rule"] for f in by_id["acme"]["open_findings"]] == [SALES_TAX_RULE]
    assert data["trend"][-1]["week"] == "now"
    assert data["trend"][-1]["percent"] == data["score"]["percent"]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"status": "broken"}, "status='broken' is not one of"),
        ({"sort": "colour"}, "sort='colour' is not one of"),
        ({"page": "0"}, "page='0' must be a whole number"),
        ({"per_page": "100000"}, "per_page='100000' must be a whole number"),
    ],
)
async def test_a_wrong_fleet_parameter_is_a_400_naming_the_choices(
    client: httpx.AsyncClient, params: dict[str, str], problem: str
) -> None:
    twin = await client.get("/", params={**params, "format": "json"})
    assert twin.status_code == 400 and problem in twin.json()["error"]
    page = await client.get("/", params=params, headers={"accept": "text/html"})
    assert page.status_code == 400
    assert problem.replace("'", "&#39;") in page.text


async def test_a_tenant_page_shows_what_fails_how_to_fix_it_and_who_changed_it(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get(tenant_path("acme"))).text
    finding = page[page.index('data-rule="include-sales-tax-is-on"') :]
    finding = finding[: finding.index("</article>")]
    assert "Include Sales Tax" in finding
    assert "System &gt; Setup Tables &gt; Accounting Package" in finding  # the baseline's fix
    assert "&lt;b&gt;jsmith&lt;/b&gt;" in finding and HOSTILE_EDITOR not in page
    assert rule_path("acme", SALES_TAX_RULE) in finding
    assert "Recent changes" in page and setting_path("acme", SALES_TAX) in page


async def test_at_shows_the_configuration_and_findings_as_they_were(
    client: httpx.AsyncClient,
) -> None:
    then = (await twin(client, tenant_path("acme", BEFORE_CHANGE))).json()
    now = (await twin(client, tenant_path("acme"))).json()
    assert then["settings"][SALES_TAX]["value"] is True
    assert now["settings"][SALES_TAX]["value"] is False
    assert then["findings"][SALES_TAX_RULE]["status"] == "pass"
    assert now["findings"][SALES_TAX_RULE]["status"] == "fail"
    assert then["status"] == "compliant" and now["status"] == "drift"
    assert then["changes"] == []  # nothing had changed by then
    page = (await client.get(tenant_path("acme", BEFORE_CHANGE))).text
    assert "as they were at" in page and "2026-11-02 15:00 UTC" in page
    row = page[page.index(f'data-key="{SALES_TAX}"') :]
    assert "<strong>on</strong>" in row[: row.index("</tr>")]


async def test_a_bad_at_or_an_unknown_tenant_is_a_clear_answer(client: httpx.AsyncClient) -> None:
    bad = await client.get(tenant_path("acme"), params={"at": "yesterday", "format": "json"})
    assert bad.status_code == 400 and "at='yesterday' is not a date" in bad.json()["error"]
    missing = await client.get(tenant_path("nobody"), headers={"accept": "text/html"})
    assert missing.status_code == 404 and "no tenant &#39;nobody&#39; in the config" in missing.text
    setting = await client.get(
        setting_path("acme", "accounting.nothing"), params={"format": "json"}
    )
    assert setting.status_code == 404


def show_json(store: WebStore, *args: str) -> dict[str, Any]:
    return json.loads(cli(store.config, *args, "--json"))


async def test_the_tenant_twin_says_what_show_json_says(
    client: httpx.AsyncClient, web_store: WebStore
) -> None:
    for at in (BEFORE_CHANGE, NOW):
        shown = show_json(web_store, "show", "--tenant", "acme", "--at", at.isoformat())
        data = (await twin(client, tenant_path("acme", at))).json()
        assert set(shown) <= set(data)
        assert {key: data[key] for key in shown} == shown


async def test_the_timeline_twin_is_timeline_json(
    client: httpx.AsyncClient, web_store: WebStore
) -> None:
    expected = show_json(web_store, "timeline", "--tenant", "acme", "--setting", SALES_TAX)
    twin = (await client.get(setting_path("acme", SALES_TAX), params={"format": "json"})).json()
    assert twin == expected
    assert [p["value"] for p in twin["periods"]] == [True, False]
    assert twin["periods"][1]["changed_by"] == HOSTILE_EDITOR
    rule = (await client.get(rule_path("acme", SALES_TAX_RULE), params={"format": "json"})).json()
    assert rule["settings"] == [expected]


async def test_the_fleet_and_alerts_twins_say_what_status_json_says(
    client: httpx.AsyncClient, web_store: WebStore
) -> None:
    with freeze_time(NOW):
        status = show_json(web_store, "status")
    fleet = (await client.get("/", params={"format": "json", "sort": "tenant"})).json()
    assert len(fleet["tenants"]) == len(status["tenants"])
    for row, expected in zip(fleet["tenants"], status["tenants"], strict=True):
        assert {key: row[key] for key in expected} == expected
    alerts = (await client.get("/alerts", params={"format": "json"})).json()
    assert alerts["channels"] == status["channels"]
    assert alerts["silences"] == status["silences"]
    assert alerts["messages"], "the demo's Slack webhook is unreachable: messages wait"
    assert {m["status"] for m in alerts["messages"]} <= {"pending", "sending", "failed"}


async def test_the_report_twin_is_report_format_json(
    client: httpx.AsyncClient, web_store: WebStore
) -> None:
    with freeze_time(NOW):
        expected = json.loads(cli(web_store.config, "report", "--week", WEEK, "--format", "json"))
    twin = (await client.get("/reports", params={"week": WEEK, "format": "json"})).json()
    assert twin == expected
    assert twin["fleet"]["percent"] is not None


async def test_the_report_page_is_the_email_with_links_into_the_pages(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/reports", params={"week": WEEK})
    assert page.status_code == 200
    assert "Weekly compliance report 2026-W45" in page.text
    assert f'href="{rule_path("acme", SALES_TAX_RULE)}"' in page.text
    assert f'href="{setting_path("acme", SALES_TAX)}"' in page.text
    assert 'href="/reports?week=2026-W44"' in page.text
    # The e-mail is styled inline: this page alone may use inline styles, still no script.
    csp = page.headers["content-security-policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp and "script-src" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    bad = await client.get("/reports", params={"week": "2026-W99", "format": "json"})
    assert bad.status_code == 400 and "does not exist" in bad.json()["error"]


@pytest.mark.parametrize("path", PAGES)
async def test_hostile_connectwise_and_config_text_is_shown_as_text(
    client: httpx.AsyncClient, path: str
) -> None:
    page = (await client.get(path)).text
    for hostile in (HOSTILE_NAME, HOSTILE_EDITOR, HOSTILE_CAPTION, "<img src=x", "<b>jsmith"):
        assert hostile not in page, f"{hostile!r} is markup on {path}"


async def test_the_hostile_strings_appear_escaped(client: httpx.AsyncClient) -> None:
    fleet = (await client.get("/")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fleet
    initech = (await client.get(tenant_path("initech"))).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in initech
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in initech
    caption = (await client.get(setting_path("initech", "gl.segment2"))).text
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in caption
    twin = await client.get(setting_path("initech", "gl.segment2"), params={"format": "json"})
    assert twin.json()["periods"][-1]["value"] == HOSTILE_CAPTION  # JSON has it exactly


async def test_a_change_cwdrift_made_is_marked_on_the_tenant_page(
    client: httpx.AsyncClient,
) -> None:
    data = (await twin(client, tenant_path("globex"))).json()
    fixed = [c for c in data["changes"] if c["fixed_by_cwdrift"]]
    assert [c["setting"] for c in fixed] == ["accounting.transferExpensesAsBillFlag"]
    assert fixed[0]["fixed_by_cwdrift"]["operator"] == FIXER
    assert data["findings"][EXPENSES_RULE]["status"] == "pass"
    page = (await client.get(tenant_path("globex"))).text
    assert "fixed by cwdrift" in page and f"run by {FIXER}" in page
    assert FIXED.isoformat() <= fixed[0]["observed_at"]
