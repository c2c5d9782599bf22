"""An uncaught exception (a cwdrift bug) exits 3 with one line, never 1 (drift) or 2 (bad input),
and never prints a traceback or local variables unless asked to."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from monitor.cli.common import EXIT_DRIFT, EXIT_ERROR, EXIT_INTERNAL, EXIT_OK

REPO = Path(__file__).resolve().parents[2]

# The real entry point with one extra command that has a bug (a command of ours cannot be
# made to crash on purpose without one).
CRASHING = """
from monitor.cli.app import app, main

@app.command("crash")
def crash() -> None:
    \"\"\"Example: cwdrift crash\"\"\"
    api_private_key = "hunter2-private-key"
    raise KeyError("no such thing")

main()
"""


def run_crashing(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "crashing_cwdrift.py"  # a file: tracebacks quote its source lines
    script.write_text(CRASHING)
    return subprocess.run(
        [sys.executable, str(script), "crash"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp_path), **env},
        timeout=120,
    )


def test_a_bug_exits_3_with_one_line_pointing_at_the_traceback(tmp_path: Path) -> None:
    proc = run_crashing(tmp_path)
    assert proc.returncode == EXIT_INTERNAL == 3
    [line] = proc.stderr.splitlines()
    assert line.startswith("internal error: KeyError (a bug in cwdrift")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    [crash_file] = re.findall(r"the traceback is in (\S+?);", line)
    saved = Path(crash_file)
    assert saved.parent == tmp_path
    assert saved.name.startswith("cwdrift-crash-")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600  # exception text can be sensitive
    content = saved.read_text()
    assert "Traceback" in content and "KeyError: 'no such thing'" in content
    assert 'raise KeyError("no such thing")' in content  # source lines are there, locals not
    assert "hunter2" not in content + proc.stderr  # local variables are never written


def test_cwdrift_debug_prints_the_traceback(tmp_path: Path) -> None:
    proc = run_crashing(tmp_path, CWDRIFT_DEBUG="1")
    assert proc.returncode == 3
    assert "Traceback" in proc.stderr and "KeyError: 'no such thing'" in proc.stderr
    assert "hunter2" not in proc.stderr


def test_the_readme_documents_every_exit_code() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert {EXIT_OK, EXIT_DRIFT, EXIT_ERROR, EXIT_INTERNAL} <= documented
