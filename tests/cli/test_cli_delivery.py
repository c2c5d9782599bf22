"""Delivery through the real CLI: a failed alert comes back, status forgets a healed error,
`alerts retry`, and SMTP AUTH without TLS refused at load time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_env import Env

GLOBEX = "(globex)"
INITECH = "(initech)"


def channel(env: Env) -> dict[str, object]:
    code, out = env.run("status", "--json")
    assert code == 0, out
    (found,) = json.loads(out)["channels"]
    assert isinstance(found, dict)
    return found


def test_a_failed_alert_goes_out_late_after_the_next_send_shows_the_channel_works(
    demo_env: Env,
) -> None:
    demo_env.slack.revoked = True  # the webhook answers 404 no_service: a permanent failure
    assert demo_env.run("check", "--tenant", "globex")[0] == 1
    assert demo_env.slack.texts() == []
    down = channel(demo_env)
    assert (down["permanent_failure"], down["failed"], down["pending"]) == (True, 1, 0)
    assert "no_service" in str(down["last_error"])
    code, out = demo_env.run("status")
    assert code == 0
    assert "FAILED (permanent)" in out and "1 failed" in out and "no_service" in out

    demo_env.slack.revoked = False  # the webhook is fixed
    assert demo_env.run("check", "--tenant", "initech")[0] == 1

    texts = demo_env.slack.texts()
    assert len(texts) == 2
    assert INITECH in texts[0] and not texts[0].startswith("[late]")
    assert GLOBEX in texts[1] and texts[1].startswith("[late] ")
    healed = channel(demo_env)
    assert (healed["permanent_failure"], healed["failed"], healed["last_error"]) == (
        False,
        0,
        None,
    )
    _, out = demo_env.run("status")
    assert "no_service" not in out and "FAILED" not in out

    assert demo_env.run("check", "--tenant", "globex", "--tenant", "initech")[0] == 1
    assert len(demo_env.slack.texts()) == 2  # nothing twice


def test_alerts_retry_sends_what_failed_once_the_channel_is_fixed(demo_env: Env) -> None:
    demo_env.slack.revoked = True
    demo_env.run("check", "--tenant", "globex")

    code, out = demo_env.run("alerts", "retry", "--json")  # still broken
    assert code == 2
    (row,) = json.loads(out)["retried"]
    assert (row["tenant"], row["channel"], row["status"]) == ("globex", "demo-slack", "failed")
    assert "no_service" in row["error"]

    demo_env.slack.revoked = False
    code, out = demo_env.run("alerts", "retry", "--channel", "demo-slack", "--json")
    assert code == 0, out
    data = json.loads(out)
    (row,) = data["retried"]
    assert (row["tenant"], row["status"], row["error"]) == ("globex", "sent", None)
    assert data["dispatched"]["sent"] == 1
    (text,) = demo_env.slack.texts()
    assert text.startswith("[late] ") and GLOBEX in text
    assert channel(demo_env)["last_error"] is None

    code, out = demo_env.run("alerts", "retry")
    assert code == 0
    assert "Nothing to retry" in out
    assert len(demo_env.slack.texts()) == 1


def test_alerts_retry_names_an_unknown_channel_in_one_line(demo_env: Env) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from monitor.cli.app import main; main()",
            "--config",
            str(demo_env.config),
            "alerts",
            "retry",
            "--channel",
            "pager",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "no channel named 'pager'" in proc.stderr and "demo-slack" in proc.stderr


def test_config_validate_refuses_smtp_auth_without_tls_to_a_remote_host(tmp_path: Path) -> None:
    config = tmp_path / "cwdrift.yaml"
    config.write_text(
        "tenants:\n"
        "  - {id: a, name: A, site: https://cw.example.com, company_id: a, public_key: p,\n"
        "     private_key: '${K:-x}', client_id: c, integration_member: m}\n"
        "notify:\n"
        "  email:\n"
        "    - name: finance\n"
        "      host: smtp.example.com\n"
        "      port: 25\n"
        "      starttls: false\n"
        "      username: cwdrift\n"
        "      password: ${SMTP_PASSWORD:-hunter2-smtp}\n"
        "      sender: cwdrift@example.com\n"
        "      recipients: [finance@example.com]\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from monitor.cli.app import main; main()",
            "--config",
            str(config),
            "config",
            "validate",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert f"{config}:11" in proc.stderr  # the password's line
    assert "notify.email[0].password" in proc.stderr
    assert "email channel 'finance'" in proc.stderr and "without TLS" in proc.stderr
    assert "hunter2" not in proc.stderr
