"""The README's screenshots, taken by the real browser against the demo's data.

    .venv/bin/python tests/web/capture_screenshots.py [docs/screenshots]

Runs ``cwdrift demo`` in a scratch folder, adds a silence (so the alerts page has one to show),
serves the demo's database with ``cwdrift web`` and captures each page in Debian's headless
Chromium at 1280 px wide; the PNGs are reduced to a 256-colour palette to keep the repository
small. Not a test (nothing here asserts); the browser tests are test_web_browser.py.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[2]
PAGES = {
    "fleet": "/",
    "tenant": "/tenants/acme",
    "timeline": "/tenants/acme/rules/include-sales-tax-is-on",
    "alerts": "/alerts",
    "report": "/reports",
}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def cwdrift(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, env=_env())  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CWDRIFT_")}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cwdrift("demo", "--workdir", "demo-out", cwd=work)
        config = "demo-out/cwdrift.yaml"
        cwdrift("--config", config, "silence", "add", "--tenant", "initech", "--reason",
                "role change under review with the client", "--author", "ana", "--expires", "7d",
                cwd=work)  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", config, "web", "--port", "0"],
            cwd=work, stdout=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        try:
            assert server.stdout is not None
            ready, _, _ = select.select([server.stdout], [], [], 60)
            found = re.search(r"(http://\S+?)/ ", server.stdout.readline() if ready else "")
            assert found, "cwdrift web did not say where it listens"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                for name, path in PAGES.items():
                    page.goto(found[1] + path)
                    target = out / f"{name}.png"
                    page.screenshot(path=str(target), full_page=True)
                    Image.open(target).convert("RGB").quantize(colors=256).save(
                        target, optimize=True
                    )
                    print(f"{target}: {target.stat().st_size // 1024} KB")
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots")
