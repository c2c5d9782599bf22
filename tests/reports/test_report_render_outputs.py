"""The email HTML in a real headless Chromium (layout), and the PDF read back with pypdf."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader
from report_history import WEEK, History, weekly

from monitor.reports.render import render_html, render_pdf

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
