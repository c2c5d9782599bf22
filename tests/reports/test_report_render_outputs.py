"""The email HTML in a real headless Chromium (layout); the PDF read back with pypdf, and its
layout inspected in WeasyPrint's boxes (bars to scale, no header left alone at a page foot)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from report_history import WEEK, History, weekly

from monitor.reports.model import (
    Score,
    SettingChangeItem,
    TenantScore,
    Violation,
    WeeklyReport,
)
from monitor.reports.render import pdf_layout, render_html, render_pdf

WINDOW_WIDTH = 1200
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

# Test copy only: the email itself never carries a script. It writes the page's measurements
# into the DOM so --dump-dom returns them.
MEASURE = """<script>
window.addEventListener('load', function () {
  var d = document.documentElement, widest = 0;
  document.querySelectorAll('table').forEach(function (t) {
    widest = Math.max(widest, t.getBoundingClientRect().right);
  });
  var out = document.createElement('pre');
  out.id = 'measure';
  out.textContent = 'scroll=' + d.scrollWidth + ' client=' + d.clientWidth +
    ' widest=' + Math.ceil(widest) + ' rows=' + document.querySelectorAll('tr').length;
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip("Chromium not installed (/usr/bin/chromium): .ci/run installs Debian's chromium")


def run_chromium(binary: str, profile: Path, *args: str) -> str:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW_WIDTH},2000",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"chromium failed: {result.stderr[-2000:]}"
    return result.stdout


@pytest.mark.browser
def test_email_html_fits_the_window_in_chromium(sqlite_history: History, tmp_path: Path) -> None:
    binary = chromium()
    html = render_html(weekly(sqlite_history))
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    measured = tmp_path / "measured.html"
    measured.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")

    dom = run_chromium(
        binary,
        tmp_path / "profile-dom",
        "--virtual-time-budget=5000",
        "--dump-dom",
        measured.as_uri(),
    )
    match = re.search(r"scroll=(\d+) client=(\d+) widest=(\d+) rows=(\d+)", dom)
    assert match, f"measurement missing from the dumped DOM: {dom[-500:]}"
    scroll, client, widest, rows = (int(g) for g in match.groups())
    assert scroll <= client, f"page scrolls sideways: scrollWidth {scroll} > {client}"
    assert widest <= client, f"a table is wider than the window: {widest} > {client}"
    assert rows > 20  # the tables really rendered

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-email.png"
    shot.unlink(missing_ok=True)
    run_chromium(binary, tmp_path / "profile-shot", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000  # a real picture for people to look at


def test_pdf_reads_back_with_tenant_names_and_scores(sqlite_history: History) -> None:
    report = weekly(sqlite_history)
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF-")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.pdf").write_bytes(pdf)
    text = "\n".join(page.extract_text() for page in PdfReader(ARTIFACTS / "report.pdf").pages)
    flat = " ".join(text.split())
    for tenant in report.tenants:
        assert tenant.name in flat
    assert f"Weekly compliance report {WEEK}" in flat
    assert report.fleet.text in flat
    for tenant in report.tenants:
        assert f"{tenant.score.passing}/{tenant.score.applicable}" in flat
    assert "Transfer Expenses as a Bill" in flat


# -- the PDF's layout, read from WeasyPrint's boxes (what render_pdf writes) -------------------


def boxes(box: Any, parents: tuple[Any, ...] = ()) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """Every box under ``box`` with its ancestors, in document order."""
    yield box, parents
    for child in getattr(box, "children", None) or ():
        yield from boxes(child, (*parents, box))


def element_id(box: Any) -> str | None:
    element = getattr(box, "element", None)
    return None if element is None else element.get("id")


def test_pdf_trend_bars_are_proportional_to_the_score(sqlite_history: History) -> None:
    report = weekly(sqlite_history)
    (page, *_) = pdf_layout(report).pages
    bars = []
    for box, parents in boxes(page._page_box):
        element = getattr(box, "element", None)
        is_cell = type(box).__name__ == "TableCellBox"
        if is_cell and element is not None and element.get("class") == "bar":
            tables = [p for p in parents if type(p).__name__ == "TableBox"]
            trend, track = next(t for t in tables if element_id(t) == "trend"), tables[-1]
            # the track takes the row's width but for the week and score columns
            assert track.border_width() > 0.7 * trend.border_width()
            bars.append(box.border_width() / track.border_width())
    expected = [p.score.percent / 100 for p in report.trend if p.score.percent]
    assert len(bars) == len(expected) == 3
    assert bars == pytest.approx(expected, abs=0.01)  # 97.5% is nearly the whole track


def sized_report(violations: int, changes: int) -> WeeklyReport:
    """A report with as many rows as asked, to move table headers across the page."""
    at = datetime(2026, 11, 23, tzinfo=UTC)
    return WeeklyReport(
        label="2026-W47",
        since=at - timedelta(days=7),
        until=at,
        generated_at=at,
        fleet=Score(3, 4),
        trend=(),
        tenants=tuple(
            TenantScore(f"tenant{n}", f"Tenant {n}", Score(3, 4), Score(4, 4), 1) for n in range(4)
        ),
        violations=tuple(
            Violation(
                f"tenant{n}",
                f"Tenant {n}",
                "rule-is-on",
                f"Rule {n} should be on.",
                "high",
                "on",
                "off",
                at - timedelta(days=1),
                timedelta(days=1),
                "cwdrift history",
            )
            for n in range(violations)
        ),
        new=(),
        resolved=(),
        regressed=(),
        changes=tuple(
            SettingChangeItem(
                f"tenant{n}",
                f"Tenant {n}",
                at,
                "accounting.flag",
                "A flag",
                True,
                False,
                "jsmith",
                "2026-11-20T10:00:00Z",
                "cwdrift history --tenant x --setting flag",
            )
            for n in range(changes)
        ),
        unchecked=(),
        waivers=(),
        silences=(),
    )


def stranded(document: Any) -> list[tuple[int, str]]:
    """(page, table id) where a page holds a table's header row and none of its body rows, and
    (page, "heading") where a page ends with a section heading."""
    found = []
    for number, page in enumerate(document.pages, start=1):
        for box, _ in boxes(page._page_box):
            if type(box).__name__ != "TableBox" or element_id(box) is None:
                continue
            rows = [row for group in box.children for row in group.children]
            headers = [r for r in rows if any(c.element_tag == "th" for c in r.children)]
            if headers and len(headers) == len(rows):
                found.append((number, str(element_id(box))))
            if element_id(box) == "report":
                cell = box.children[0].children[0].children[0]
                blocks = [b for b in cell.children if getattr(b, "element_tag", None)]
                if blocks and blocks[-1].element_tag == "h2":
                    found.append((number, "heading"))
    return found


def test_pdf_never_strands_a_table_header_at_the_foot_of_a_page() -> None:
    """One more row at a time moves every later table down by a row, so across a page's worth
    of rows each header meets the page end at every offset."""
    split_tables = 0
    for violations in range(19):
        document = pdf_layout(sized_report(violations, 12))
        assert stranded(document) == [], f"with {violations} violations"
        split_tables += sum(
            1
            for page in document.pages[1:]
            for box, _ in boxes(page._page_box)
            if getattr(box, "element_tag", None) == "thead"
            and box.children  # a header repeated at the top of a continued table
        )
    assert split_tables > 0  # the sweep did break tables across pages
