"""The weekly report over a real history (report_history.py): exact numbers in every format."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from html_tables import parse_tables
from report_history import GENERATED, SINCE, UNTIL, History, weekly

from monitor.reports.messages import build_report_slack
from monitor.reports.render import render_csv, render_html, render_json, render_text
from monitor.store.database import Database
from monitor.store.report_reads import weekly_report

GLOBEX_FLAG = "accounting.transferExpensesAsBillFlag"
ACME_TAX = "accounting.includeSalesTaxFlag"
INITECH_DELETE = "permission.finance.invoicing.delete"
EXPENSES_LABEL = "Transfer Expenses as a Bill should be DISABLED."
TAX_LABEL = 'In the Sales Tax Options section, ensure that "Include Sales Tax" is checked.'
DELETE_LABEL = "Finance > Invoicing: Delete - All"


def history_cmd(tenant: str, key: str) -> str:
    return f'cwdrift history --tenant {tenant} --setting "{key}"'


def score(passing: int, applicable: int) -> dict[str, Any]:
    percent = None if applicable == 0 else round(100 * passing / applicable, 1)
    return {"passing": passing, "applicable": applicable, "percent": percent}


def umbrella_error(h: History) -> str:
    """The typed error's text as the first real check recorded it (message and fix)."""
    error = h.first_results["umbrella"].error
    assert error is not None and error.kind == "auth"
    return str(error)


def expected_json(h: History) -> dict[str, Any]:
    a, g, i = h.applicable["acme"], h.applicable["globex"], h.applicable["initech"]
    fleet_before = score(a + g - 1 + i - 1, a + g + i)
    empty_weeks = ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]
    trend = [
        {"week": week, "until": f"2026-{m:02d}-{d:02d}T00:00:00+00:00", **score(0, 0)}
        for week, (m, d) in zip(
            empty_weeks, [(10, 5), (10, 12), (10, 19), (10, 26), (11, 2)], strict=True
        )
    ]
    trend += [
        {"week": "2026-W45", "until": "2026-11-09T00:00:00+00:00", **fleet_before},
        {"week": "2026-W46", "until": "2026-11-16T00:00:00+00:00", **fleet_before},
        {
            "week": "2026-W47",
            "until": "2026-11-23T00:00:00+00:00",
            **score(a + g + i - 3, a + g + i),
        },
    ]

    def tenant(tid: str, name: str, n: int, previous_passing: int, open_: int) -> dict[str, Any]:
        return {
            "tenant": tid,
            "name": name,
            **score(n - 1, n),
            "previous_percent": score(previous_passing, n)["percent"],
            "open_violations": open_,
            "readable": True,
        }

    return {
        "report": "weekly",
        "label": "2026-W47",
        "since": "2026-11-16T00:00:00+00:00",
        "until": "2026-11-23T00:00:00+00:00",
        "generated_at": "2026-11-23T08:00:00+00:00",
        "fleet": score(a + g + i - 3, a + g + i),
        "trend": trend,
        # worst first: umbrella, which cannot be read, on top; then by score, ties by id
        "tenants": [
            {
                "tenant": "umbrella",
                "name": "Umbrella Corporation",
                **score(0, 0),
                "previous_percent": None,
                "open_violations": 0,
                "readable": False,
            },
            tenant("acme", "Acme Corporation", a, a, 1),
            tenant("globex", "Globex Corporation", g, g - 1, 1),
            tenant("initech", "Initech", i, i - 1, 1),
        ],
        # critical on top; then newest failure first. initech's fix at exactly 11-23 00:00
        # belongs to next week, so it is still open here.
        "violations": [
            {
                "tenant": "globex",
                "name": "Globex Corporation",
                "rule": "transfer-expenses-as-bill-is-off",
                "label": EXPENSES_LABEL,
                "severity": "critical",
                "expected": "off",
                "actual": "on",
                "first_failed_at": "2026-11-19T12:00:00+00:00",
                "age_hours": 84.0,
                "command": history_cmd("globex", GLOBEX_FLAG),
            },
            {
                "tenant": "acme",
                "name": "Acme Corporation",
                "rule": "include-sales-tax-is-on",
                "label": TAX_LABEL,
                "severity": "high",
                "expected": "on",
                "actual": "off",
                "first_failed_at": "2026-11-17T10:00:00+00:00",
                "age_hours": 134.0,
                "command": history_cmd("acme", ACME_TAX),
            },
            {
                "tenant": "initech",
                "name": "Initech",
                "rule": "role-grants-invoicing-delete-all",
                "label": DELETE_LABEL,
                "severity": "high",
                "expected": "All",
                "actual": "None",
                "first_failed_at": "2026-11-02T09:00:00+00:00",
                "age_hours": 495.0,
                "command": history_cmd("initech", INITECH_DELETE),
            },
        ],
        "new": [
            {
                "kind": "new",
                "tenant": "acme",
                "name": "Acme Corporation",
                "rule": "include-sales-tax-is-on",
                "label": TAX_LABEL,
                "severity": "high",
                "at": "2026-11-17T10:00:00+00:00",
                "status": "fail",
                "expected": "on",
                "actual": "off",
                "time_to_fix_hours": None,
                "last_resolved_at": None,
                "command": history_cmd("acme", ACME_TAX),
                "fixed_by": None,
                "cwdrift_operator": None,
            }
        ],
        "resolved": [
            {
                "kind": "resolved",
                "tenant": "globex",
                "name": "Globex Corporation",
                "rule": "transfer-expenses-as-bill-is-off",
                "label": EXPENSES_LABEL,
                "severity": "critical",
                "at": "2026-11-17T10:00:00+00:00",
                "status": "pass",
                "expected": "off",
                "actual": "off",
                "time_to_fix_hours": 361.0,  # 15 days 1 hour
                "last_resolved_at": None,
                "command": history_cmd("globex", GLOBEX_FLAG),
                "fixed_by": "person",  # mwilson in the UI, not a cwdrift write
                "cwdrift_operator": None,
            }
        ],
        "regressed": [
            {
                "kind": "regressed",
                "tenant": "globex",
                "name": "Globex Corporation",
                "rule": "transfer-expenses-as-bill-is-off",
                "label": EXPENSES_LABEL,
                "severity": "critical",
                "at": "2026-11-19T12:00:00+00:00",
                "status": "fail",
                "expected": "off",
                "actual": "on",
                "time_to_fix_hours": None,
                "last_resolved_at": "2026-11-17T10:00:00+00:00",
                "command": history_cmd("globex", GLOBEX_FLAG),
                "fixed_by": None,
                "cwdrift_operator": None,
            }
        ],
        # observed_at is when cwdrift saw it; changed_at is ConnectWise's own lastUpdated.
        "changes": [
            {
                "tenant": "acme",
                "name": "Acme Corporation",
                "observed_at": "2026-11-17T10:00:00+00:00",
                "setting": ACME_TAX,
                "label": "Include Sales Tax",
                "old": True,
                "new": False,
                "changed_by": "jsmith",
                "changed_at": "2026-11-17T08:30:00Z",
                "command": history_cmd("acme", ACME_TAX),
            },
            {
                "tenant": "globex",
                "name": "Globex Corporation",
                "observed_at": "2026-11-17T10:00:00+00:00",
                "setting": GLOBEX_FLAG,
                "label": "Transfer Expenses as a Bill",
                "old": True,
                "new": False,
                "changed_by": "mwilson",
                "changed_at": "2026-11-17T08:30:00Z",
                "command": history_cmd("globex", GLOBEX_FLAG),
            },
            {
                "tenant": "globex",
                "name": "Globex Corporation",
                "observed_at": "2026-11-19T12:00:00+00:00",
                "setting": GLOBEX_FLAG,
                "label": "Transfer Expenses as a Bill",
                "old": False,
                "new": True,
                "changed_by": "jsmith",
                "changed_at": "2026-11-19T11:00:00Z",
                "command": history_cmd("globex", GLOBEX_FLAG),
            },
        ],
        "unchecked": [
            {
                "tenant": "umbrella",
                "name": "Umbrella Corporation",
                "state": "failing",
                "since": "2026-11-02T09:00:00+00:00",
                "consecutive_errors": 4,  # 11-02, 11-09, 11-17, 11-19; 11-23 is next week's
                "error_kind": "auth",
                "error_message": umbrella_error(h),
                "last_checked_at": "2026-11-19T12:00:00+00:00",
                "summary": "failing since 2026-11-02 09:00 UTC, 4 checks in a row: auth: "
                + umbrella_error(h),
                "command": "cwdrift check --tenant umbrella",
            }
        ],
        "waivers": [
            {
                "tenant": "acme",
                "name": "Acme Corporation",
                "rule": "include-cogs-entries-is-on",
                "value": "off",
                "reason": "COGS moves to the ERP in Q1",
                "accepted_by": "cfo@acme.example",
                "expires": "2026-12-01T00:00:00+00:00",
                "source": "config",
                "expiring_soon": True,
                "command": "cwdrift waivers --tenant acme",
            },
            {
                "tenant": "globex",
                "name": "Globex Corporation",
                "rule": "inventory-soh-option-is-on",
                "value": "off",
                "reason": "SOH tracked in the warehouse system",
                "accepted_by": "ana@msp.example",
                "expires": "2027-06-30T00:00:00+00:00",
                "source": "database",
                "expiring_soon": False,
                "command": "cwdrift waivers --tenant globex",
            },
        ],
        "silences": [
            {
                "tenant": "umbrella",
                "rule": None,
                "reason": "keys being rotated",
                "author": "ana",
                "expires": "2026-11-28T00:00:00+00:00",
                "source": "config",
            },
            {
                "tenant": "initech",
                "rule": "role-grants-invoicing-delete-all",
                "reason": "role rebuild scheduled",
                "author": "ana",
                "expires": "2026-11-30T00:00:00+00:00",
                "source": "database",
            },
        ],
        "warning_days": 14,
        "median_time_to_fix_hours": 361.0,  # the one fix: globex, 15 days 1 hour
        "fixed_by": {
            "cwdrift": {"count": 0, "median_time_to_fix_hours": None},
            "person": {"count": 1, "median_time_to_fix_hours": 361.0},
        },
    }


def test_json_is_exact_on_sqlite_and_postgres(history: History) -> None:
    import json

    report = weekly(history)
    assert history.applicable["acme"] > 20  # the bundled baseline scored on real checks
    assert json.loads(render_json(report)) == expected_json(history)


def test_text_has_the_exact_lines(sqlite_history: History) -> None:
    h = sqlite_history
    a, g, i = h.applicable["acme"], h.applicable["globex"], h.applicable["initech"]
    fleet = score(a + g + i - 3, a + g + i)
    lines = render_text(weekly(h)).splitlines()
    expected = [
        "cwdrift weekly compliance report 2026-W47",
        "Period: 2026-11-16 00:00 UTC to 2026-11-23 00:00 UTC (generated 2026-11-23 08:00 UTC)",
        f"Fleet compliance: {fleet['percent']:.1f}% ({fleet['passing']}/{fleet['applicable']} "
        "rules passing)",
        "Open violations: 3 (1 critical) | new 1 | resolved 1 | regressed 1 | settings changed 3"
        " | not checked 1",
        f"  acme (Acme Corporation): {score(a - 1, a)['percent']:.1f}% ({a - 1}/{a}), "
        "last week 100.0%, 1 open",
        "  umbrella (Umbrella Corporation): n/a (0/0), last week n/a, 0 open, cannot be read",
        "Median time to fix: 15d 1h",
        f"  [critical] globex: {EXPENSES_LABEL}: expected off, actual on; failing since "
        "2026-11-19 12:00 UTC (3d 12h)",
        f"    -> {history_cmd('globex', GLOBEX_FLAG)}",
        f"  [high] initech: {DELETE_LABEL}: expected All, actual None; failing since "
        "2026-11-02 09:00 UTC (20d 15h)",
        f"  [critical] globex: {EXPENSES_LABEL}: fixed at 2026-11-17 10:00 UTC after 15d 1h",
        f"  [critical] globex: {EXPENSES_LABEL}: actual on at 2026-11-19 12:00 UTC "
        "(last resolved 2026-11-17 10:00 UTC)",
        "  2026-11-19 12:00 UTC globex: Transfer Expenses as a Bill: off -> on; record last "
        "edited by jsmith at 2026-11-19T11:00:00Z",
        f"  umbrella (Umbrella Corporation): failing since 2026-11-02 09:00 UTC, 4 checks in a "
        f"row: auth: {umbrella_error(h)}",
        "  acme: include-cogs-entries-is-on = off until 2026-12-01 00:00 UTC (EXPIRES SOON); "
        "accepted by cfo@acme.example: COGS moves to the ERP in Q1 [config]",
        "  initech / role-grants-invoicing-delete-all until 2026-11-30 00:00 UTC; by ana: "
        "role rebuild scheduled [database]",
        "  2026-W44  ........................................  n/a",
    ]
    missing = [line for line in expected if line not in lines]
    assert missing == []
    # the critical violation is listed before the high ones
    assert lines.index(expected[7]) < lines.index(expected[9])


def test_csv_has_the_exact_rows(sqlite_history: History) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(weekly(sqlite_history)))))
    by_section: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_section.setdefault(row["section"], []).append(row)
    assert {k: len(v) for k, v in by_section.items()} == {
        "fleet": 1,
        "trend": 8,
        "tenant": 4,
        "violation": 3,
        "new": 1,
        "regressed": 1,
        "resolved": 1,
        "change": 3,
        "unchecked": 1,
        "waiver": 2,
        "silence": 2,
    }
    assert by_section["change"][0] == {
        "section": "change",
        "tenant": "acme",
        "tenant_name": "Acme Corporation",
        "item": ACME_TAX,
        "label": "Include Sales Tax",
        "severity": "",
        "expected": "",
        "actual": "",
        "old": "on",
        "new": "off",
        "changed_by": "jsmith",
        "changed_at": "2026-11-17T08:30:00Z",
        "at": "2026-11-17 10:00 UTC",
        "detail": "",
        "command": history_cmd("acme", ACME_TAX),
    }
    assert by_section["resolved"][0]["detail"] == "fixed after 15d 1h"
    assert [(r["tenant"], r["item"], r["at"]) for r in by_section["violation"]] == [
        ("globex", "transfer-expenses-as-bill-is-off", "2026-11-19 12:00 UTC"),
        ("acme", "include-sales-tax-is-on", "2026-11-17 10:00 UTC"),
        ("initech", "role-grants-invoicing-delete-all", "2026-11-02 09:00 UTC"),
    ]
    assert by_section["unchecked"][0]["at"] == "2026-11-02 09:00 UTC"
    assert by_section["waiver"][0]["detail"] == "COGS moves to the ERP in Q1 [config]; expires soon"


def test_html_tables_carry_the_same_items_and_no_script(sqlite_history: History) -> None:
    h = sqlite_history
    tables, scripts = parse_tables(render_html(weekly(h)))
    assert scripts == 0  # email clients strip or block scripts: the email never has one
    assert tables["violations"][1:] == [
        [
            "critical",
            "globex",
            f"{EXPENSES_LABEL} | {history_cmd('globex', GLOBEX_FLAG)}",
            "off / on",
            "2026-11-19 12:00 UTC | 3d 12h",
        ],
        [
            "high",
            "acme",
            f"{TAX_LABEL} | {history_cmd('acme', ACME_TAX)}",
            "on / off",
            "2026-11-17 10:00 UTC | 5d 14h",
        ],
        [
            "high",
            "initech",
            f"{DELETE_LABEL} | {history_cmd('initech', INITECH_DELETE)}",
            "All / None",
            "2026-11-02 09:00 UTC | 20d 15h",
        ],
    ]
    assert [row[0] for row in tables["trend"]] == [f"2026-W{n}" for n in range(40, 48)]
    a = h.applicable["acme"]
    assert tables["tenants"][1][0] == "Umbrella Corporation (umbrella) | cannot be read"
    assert tables["tenants"][2] == [
        "Acme Corporation (acme)",
        f"{score(a - 1, a)['percent']:.1f}%",
        f"{a - 1}/{a}",
        "100.0%",
        "1",
    ]
    assert tables["resolved"][1][-1] == "fixed after 15d 1h"
    assert tables["regressed"][1][-1] == "actual on; last resolved 2026-11-17 10:00 UTC"
    assert tables["changes"][1:] == [
        [
            "2026-11-17 10:00 UTC",
            "acme",
            f"Include Sales Tax | {history_cmd('acme', ACME_TAX)}",
            "on → off",
            "jsmith | 2026-11-17T08:30:00Z",
        ],
        [
            "2026-11-17 10:00 UTC",
            "globex",
            f"Transfer Expenses as a Bill | {history_cmd('globex', GLOBEX_FLAG)}",
            "on → off",
            "mwilson | 2026-11-17T08:30:00Z",
        ],
        [
            "2026-11-19 12:00 UTC",
            "globex",
            f"Transfer Expenses as a Bill | {history_cmd('globex', GLOBEX_FLAG)}",
            "off → on",
            "jsmith | 2026-11-19T11:00:00Z",
        ],
    ]
    assert tables["unchecked"][1][:3] == [
        "Umbrella Corporation (umbrella) | cwdrift check --tenant umbrella",
        "failing since 2026-11-02 09:00 UTC",
        "4",
    ]
    assert [row[1] for row in tables["waivers"][1:]] == [
        "include-cogs-entries-is-on",
        "inventory-soh-option-is-on",
    ]
    assert "expires within 14 days" in tables["waivers"][1][-1]
    assert [row[0] for row in tables["silences"][1:]] == ["umbrella", "initech"]


def test_slack_summary_lists_the_worst_items(sqlite_history: History) -> None:
    payload = build_report_slack(weekly(sqlite_history), worst=2)
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Weekly compliance 2026-W47"},
    }
    violations = blocks[2]["text"]["text"]
    assert violations.splitlines() == [
        "*Worst open violations*",
        f"• *critical* Globex Corporation: {EXPENSES_LABEL} (actual on, failing 3d 12h)",
        '• *high* Acme Corporation: In the Sales Tax Options section, ensure that "Include '
        'Sales Tax" is checked. (actual off, failing 5d 14h)',
        "… and 1 more in the email report",
    ]
    assert blocks[3]["text"]["text"].splitlines() == [
        "*Not verified in this period*",
        "• Umbrella Corporation: failing since 2026-11-02 09:00 UTC",
    ]
    assert payload["text"].startswith("cwdrift weekly report 2026-W47: fleet compliance ")


@pytest.mark.parametrize(
    ("tenants", "expected_unchecked", "violations"),
    [
        (["acme"], [], 1),
        (["umbrella"], ["umbrella"], 0),
        (["globex", "initech"], [], 2),
    ],
)
def test_tenant_filter_limits_every_section(
    sqlite_history: History, tenants: list[str], expected_unchecked: list[str], violations: int
) -> None:
    config = sqlite_history.loaded.config
    db = Database(sqlite_history.database)
    with db.session() as session:
        report = weekly_report(
            session,
            since=SINCE,
            until=UNTIL,
            tenants=[config.tenant(t) for t in tenants],
            now=GENERATED,
        )
    db.dispose()
    assert [t.tenant_id for t in report.tenants] == sorted(tenants)
    assert [u.tenant_id for u in report.unchecked] == expected_unchecked
    assert len(report.violations) == violations
    assert {c.tenant_id for c in report.changes} <= set(tenants)
