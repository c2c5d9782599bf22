"""ConnectWise text is printed literally and harmlessly: Rich markup, terminal escapes, Slack
control sequences, HTML and 10,000-character values, from a simulated tenant over real HTTP,
through the real command line (a separate process, as a person runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.simulator.scenario import scenario_from_data
from monitor.simulator.server import RunningSimulator, running_simulator, serve_asgi
from monitor.simulator.slack import SlackSink, create_slack_app

MARKUP = "Tracking [/] 1"  # today's crash: a closing tag with nothing to close
STYLED = "[bold red]loud[/bold red] :warning:"  # markup and an emoji code, both to stay text
ANSI = "\x1b[31mred\x1b[0m\x1b[2J"  # colour, then clear the screen
OSC8 = "\x1b]8;;https://evil.example/\x07click me\x1b]8;;\x07"  # a hidden hyperlink
OSC_TITLE = "\x1b]0;pwned\x07"  # retitles the terminal window
C1 = "\x9b2J\r\x08\x00"  # a lone CSI, carriage return, backspace, NUL
SLACK_PING = "<!channel> <@U024BE7LH>"
HTML = "<b>bold</b> <script>alert(1)</script> &amp;"
LONG = "L" * 10_000

CONTROL_CHARACTERS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, 0x9B)]

SCENARIO = {
    "tenants": [
        {
            "company_id": "hostile",
            "name": "Hostile Inc",
            "roles": [
                {
                    "name": "[/] <!channel> \x1b[2J",
                    "template": "mobius",
                    "updated_by": f"{OSC_TITLE}[/]{SLACK_PING}",
                }
            ],
            "members": [
                {
                    "identifier": "GozyntaAPI",
                    "role": "[/] <!channel> \x1b[2J",
                    "keys": [{"public_key": "hostilepub", "private_key": "fake-hostile-key"}],
                }
            ],
            "gl_captions": {
                "segment1": "Account",
                "segment1type": "Account",
                "segment2": MARKUP,
                "segment2type": "Class",  # fails: the captions reach findings and alerts
                "segment3": f"{ANSI} {OSC8}",
                "segment3type": "Account",
                "segment4": f"{SLACK_PING} {HTML} {STYLED}",
                "segment4type": "Account",
                "segment5": LONG,
                "segment5type": "Account",
                "cogs1": C1,
            },
        }
    ]
}

CONFIG = """\
database: sqlite:///cwdrift.db
tenants:
  - id: hostile
    name: Hostile Inc
    site: {site}
    company_id: hostile
    public_key: hostilepub
    private_key: ${{HOSTILE_KEY:-fake-hostile-key}}
    client_id: 00000000-0000-4000-8000-000000000001
    integration_member: GozyntaAPI
notify:
  slack:
    - name: sink
      webhook_url: ${{HOSTILE_SLACK:-{slack}}}
"""


@dataclass
class Hostile:
    sim: RunningSimulator
    slack: SlackSink
    config: Path

    def run(self, *args: str) -> tuple[int, str, str]:
        """``cwdrift`` in its own process; wide, so a value is not folded across lines."""
        env = {**os.environ, "COLUMNS": "400"}
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """Two checks of the hostile tenant, with a hostile change by a hostile editor between."""
    folder = tmp_path_factory.mktemp("hostile")
    sink = SlackSink()
    with (
        running_simulator(scenario_from_data(SCENARIO, source="hostile")) as sim,
        serve_asgi(create_slack_app(sink)) as slack_url,
    ):
        config = folder / "cwdrift.yaml"
        config.write_text(
            CONFIG.format(site=sim.url, slack=f"{slack_url}/services/T0/B0/x"), encoding="utf-8"
        )
        env = Hostile(sim, sink, config)
        assert env.run("check")[0] == 1  # drift: segment 2 is typed Class
        # one GL record: its last editor (the second) is who ConnectWise names for both
        sim.state.set_segment("hostile", 5, caption=LONG + "!", by="jsmith")
        sim.state.set_segment("hostile", 2, caption=f"{OSC8}{MARKUP}", by=f"{OSC8}{SLACK_PING}")
        assert env.run("check")[0] == 1
        yield env


def assert_harmless(text: str) -> None:
    found = sorted({repr(c) for c in CONTROL_CHARACTERS if c in text})
    assert found == [], f"control characters reached the output: {found}"


def week() -> str:
    return datetime.now(UTC).strftime("%G-W%V")


@pytest.mark.parametrize(
    "args",
    [
        ("check",),
        ("show", "--tenant", "hostile", "--failing"),
        ("timeline", "--tenant", "hostile", "--setting", "gl.segment2"),
        ("timeline", "--tenant", "hostile", "--setting", "gl.segment5"),
        ("status",),
    ],
    ids=" ".join,
)
def test_terminal_output_is_literal_and_has_no_control_characters(
    hostile: Hostile, args: tuple[str, ...]
) -> None:
    code, out, err = hostile.run(*args)
    assert "Traceback" not in err
    assert code in (0, 1), err  # 1: check finds the drift
    assert_harmless(out + err)
    # control characters are shown, escaped, where the value is shown
    if args[0] == "show" or args[-1] == "gl.segment2":
        assert "\\x1b]8;;https://evil.example/\\x07" in out


def test_show_prints_every_hostile_value_literally(hostile: Hostile) -> None:
    code, out, err = hostile.run("show", "--tenant", "hostile")
    assert code == 0, err
    assert_harmless(out + err)
    assert f"\\x1b]8;;https://evil.example/\\x07click me\\x1b]8;;\\x07{MARKUP}" in out
    assert f"{SLACK_PING} {HTML} {STYLED}" in out  # markup, emoji code and HTML as typed
    assert "\\x1b[31mred\\x1b[0m\\x1b[2J" in out
    assert "\\x9b2J\\x0d\\x08\\x00" in out
    assert "[/] <!channel> \\x1b[2J" in out  # the role name
    # a 10,000-character caption is clipped in the table, and whole in --json
    assert "… (10,001 characters in all)" in out
    assert out.count("L") < 1_000
    _, raw, _ = hostile.run("show", "--tenant", "hostile", "--json")
    data = json.loads(raw)
    assert data["settings"]["gl.segment5"]["value"] == LONG + "!"
    assert data["settings"]["gl.segment3"]["value"] == f"{ANSI} {OSC8}"


def test_history_names_the_hostile_editor_literally(hostile: Hostile) -> None:
    code, out, err = hostile.run("history", "--tenant", "hostile")
    assert code == 0, err
    assert_harmless(out + err)
    assert MARKUP in out
    assert "\\x1b]8;;https://evil.example/\\x07click me\\x1b]8;;\\x07<!channel> <@U024BE7LH>" in out
    _, raw, _ = hostile.run("history", "--tenant", "hostile", "--json")
    editors = {c["setting"]: c["changed_by"] for c in json.loads(raw)["changes"]}
    assert editors["gl.segment2"] == f"{OSC8}{SLACK_PING}"


def test_text_report_escapes_control_characters(hostile: Hostile) -> None:
    code, out, err = hostile.run("report", "--week", week(), "--format", "text")
    assert code == 0, err
    assert_harmless(out)
    assert f"\\x1b]8;;https://evil.example/\\x07click me\\x1b]8;;\\x07{MARKUP}" in out
    assert SLACK_PING in out and HTML in out  # plain text: nothing to interpret


def test_html_report_escapes_html(hostile: Hostile) -> None:
    code, out, err = hostile.run("report", "--week", week(), "--format", "html")
    assert code == 0, err
    assert "<script>alert(1)</script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert_harmless(out.replace("\n", ""))


def test_slack_messages_ping_nobody(hostile: Hostile) -> None:
    payloads = json.dumps([m for m in hostile.slack.messages])
    assert hostile.slack.messages, "the drift was alerted"
    assert "Tracking [/] 1" in payloads  # the caption is in the message
    assert "<!channel>" not in payloads and "<@U024BE7LH>" not in payloads
    assert "&lt;!channel&gt;" in payloads
