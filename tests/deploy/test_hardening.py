"""The systemd unit's MemoryDenyWriteExecute=yes leaves PDF reports working.

systemd (254+) implements it with the kernel's own switch, ``prctl(PR_SET_MDWE,
PR_MDWE_REFUSE_EXEC_GAIN)`` (Linux 6.3+; older systemd uses a seccomp filter with the same
rule): no memory may be writable and executable. The child process turns the switch on, proves
it is on (a W+X mapping is refused), then renders a PDF report through the real command line:
Python, cffi and WeasyPrint's Pango must need no W+X memory.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

CHILD = textwrap.dedent(
    f"""
    import ctypes, mmap, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
        print("no-mdwe", os.strerror(ctypes.get_errno()))
        sys.exit(77)
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except PermissionError:
        print("w+x refused")
    else:
        print("w+x allowed")
        sys.exit(3)
    from monitor.cli.app import main
    sys.argv = ["cwdrift", *sys.argv[1:]]
    main()
    """
)


def test_a_pdf_report_renders_with_write_execute_memory_denied(tmp_path: Path) -> None:
    config = tmp_path / "cwdrift.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            database: sqlite:///{tmp_path}/cwdrift.db
            tenants:
              - id: acme
                name: Acme
                site: https://acme.example.com
                company_id: acme
                public_key: pub
                private_key: ${{ACME_KEY:-k}}
                client_id: 00000000-0000-4000-8000-000000000001
                integration_member: GozyntaAPI
            """
        ),
        encoding="utf-8",
    )
    pdf = tmp_path / "report.pdf"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "--config", str(config), "report", "--format", "pdf",
         "--out", str(pdf)],
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    if child.returncode == 77:
        pytest.skip(f"this kernel has no PR_SET_MDWE (Linux 6.3+): {child.stdout.strip()}")
    assert child.stdout.startswith("w+x refused"), child.stdout + child.stderr
    assert child.returncode == 0, child.stdout + child.stderr
    assert pdf.read_bytes().startswith(b"%PDF-")
