"""``cwdrift`` as a process of its own, for the web tests: started, waited for until it says it
listens (a bounded wait on its output, never a fixed sleep), stopped with SIGTERM."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

WAIT = 60.0  # seconds; reached only when something is broken


@contextmanager
def cwdrift_process(*args: str, listening: str) -> Iterator[tuple[str, list[str]]]:
    """``cwdrift ARGS``; yields the URL after ``listening`` in its output, and the lines read
    so far (later lines are not read). Exits 0 on SIGTERM, or the test fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CWDRIFT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], WAIT)
            line = proc.stdout.readline() if ready else ""
            if not line:
                pytest.fail(f"no {listening!r} from cwdrift {' '.join(args)}:\n" + "".join(seen))
            seen.append(line)
            found = re.search(re.escape(listening) + r" (https?://[\w.\[\]:]+)", line)
            if found:
                break
        yield found[1], seen
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=WAIT)
    assert code == 0, f"cwdrift {' '.join(args)} exited {code}"
