"""Message builders: exact payloads, escaping of ConnectWise data, subjects that thread."""

from __future__ import annotations

from pathlib import Path

from alert_builders import ACME, EXPENSE_RULE, T0, hours

from monitor.alerts.messages import (
    build_email,
    build_slack,
    escape_mrkdwn,
    subject_line,
)
from monitor.alerts.model import AlertEvent, EventKind, NotificationGroup
from monitor.core.findings import Severity
from monitor.data import template_environment

REPO = Path(__file__).resolve().parents[2]

NEW_EVENT = AlertEvent(
    kind=EventKind.NEW,
    alert_key=EXPENSE_RULE,
    label="Transfer Expenses as a Bill is off",
    severity=Severity.CRITICAL,
    expected="off",
    actual="on",
    first_seen=T0,
    remediation="Finance > Accounting Interface > Setup",
    changed_by="jdoe",
    changed_at="2026-03-02T08:55:00Z",
)
RESOLVED_EVENT = AlertEvent(
    kind=EventKind.RESOLVED,
    alert_key="role.gl_interface",
    label="Role allows the GL Interface",
    severity=Severity.HIGH,
    expected="All",
    actual="All",
    first_seen=hours(-30),
    remediation="not shown for resolved items",
)
GROUP = NotificationGroup(ACME, T0, (NEW_EVENT, RESOLVED_EVENT))


def test_slack_payload_exactly() -> None:
    assert build_slack(GROUP) == {
        "text": "cwdrift: Acme MSP (acme) [critical] 1 new, 1 resolved",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "Acme MSP: 1 new, 1 resolved"},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Tenant `acme` · worst severity *critical* · "
                        "checked 2026-03-02 09:00 UTC",
                    }
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*NEW* · critical · *Transfer Expenses as a Bill is off*\n"
                    "Expected: off · actual: on\n"
                    "First seen 2026-03-02 09:00 UTC · record last edited in ConnectWise by "
                    "jdoe at 2026-03-02T08:55:00Z\n"
                    "Fix: Finance &gt; Accounting Interface &gt; Setup",
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*RESOLVED* · high · *Role allows the GL Interface*\n"
                    "Expected: All · actual: All\n"
                    "First seen 2026-03-01 03:00 UTC",
                },
            },
        ],
    }


def test_connectwise_data_cannot_ping_a_slack_channel() -> None:
    hostile = AlertEvent(
        kind=EventKind.NEW,
        alert_key="role.name",
        label="Role <!channel> & <@U123>",
        severity=Severity.HIGH,
        expected="Mobius",
        actual="<!here|x>",
        changed_by="<!everyone>",
    )
    payload = build_slack(NotificationGroup(ACME, T0, (hostile,)))
    text = payload["blocks"][2]["text"]["text"]
    assert "<!" not in text and "<@" not in text
    assert "Role &lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "actual: &lt;!here|x&gt;" in text


def test_escape_mrkdwn_does_not_double_escape() -> None:
    assert escape_mrkdwn("a & <b>") == "a &amp; &lt;b&gt;"
    assert escape_mrkdwn(None) == ""


SUBJECTS = [
    ((NEW_EVENT,), "[cwdrift] [CRITICAL] acme: 1 new, 0 resolved"),
    ((RESOLVED_EVENT,), "[cwdrift] [RESOLVED] acme: 0 new, 1 resolved"),
    (
        (
            AlertEvent(EventKind.REGRESSED, "a", "A", Severity.MEDIUM),
            AlertEvent(EventKind.REMINDER, "b", "B", Severity.LOW),
        ),
        "[cwdrift] [MEDIUM] acme: 0 new, 0 resolved, 1 regressed, 1 still failing",
    ),
    (
        (AlertEvent(EventKind.CANNOT_VERIFY, "collection", "cannot verify", Severity.HIGH),),
        "[cwdrift] [HIGH] acme: 0 new, 0 resolved, cannot verify",
    ),
]


def test_subject_lines() -> None:
    for events, subject in SUBJECTS:
        assert subject_line(NotificationGroup(ACME, T0, events)) == subject


def test_email_threads_per_tenant_and_escapes_html() -> None:
    hostile = AlertEvent(
        kind=EventKind.NEW,
        alert_key="role.name",
        label="Role <script>alert(1)</script> & co",
        severity=Severity.HIGH,
        expected="Mobius",
        actual="<b>Admin</b>",
    )
    first = build_email(
        NotificationGroup(ACME, T0, (hostile,)), channel="finance", domain="example.com"
    )
    later = build_email(GROUP.only((RESOLVED_EVENT,)), channel="finance", domain="example.com")
    assert first["thread_id"] == later["thread_id"] == "<cwdrift.acme@example.com>"
    assert first["message_id"] == "<cwdrift.acme.20260302T090000000000Z.finance@example.com>"
    assert (
        first["message_id"]
        != build_email(
            NotificationGroup(ACME, hours(1), (hostile,)), channel="finance", domain="example.com"
        )["message_id"]
    )
    assert "<script>" not in first["html"]
    assert "Role &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in first["html"]
    assert "&lt;b&gt;Admin&lt;/b&gt;" in first["html"]
    # plain text stays plain: no HTML entities
    assert "Role <script>alert(1)</script> & co" in first["text"]


def test_email_text_body_exactly() -> None:
    payload = build_email(GROUP, channel="finance", domain="example.com")
    assert payload["subject"] == "[cwdrift] [CRITICAL] acme: 1 new, 1 resolved"
    assert payload["text"] == (
        "cwdrift: Acme MSP (acme)\n"
        "1 new, 1 resolved - worst severity critical - checked 2026-03-02 09:00 UTC\n"
        "\n"
        "[NEW] critical: Transfer Expenses as a Bill is off\n"
        "  Expected: off\n"
        "  Actual:   on\n"
        "  First seen: 2026-03-02 09:00 UTC\n"
        "  Last edited in ConnectWise by: jdoe at 2026-03-02T08:55:00Z (the record's last editor)\n"
        "  Fix: Finance > Accounting Interface > Setup\n"
        "\n"
        "[RESOLVED] high: Role allows the GL Interface\n"
        "  Expected: All\n"
        "  Actual:   All\n"
        "  First seen: 2026-03-01 03:00 UTC\n"
        "\n"
        "-- \n"
        "Sent by cwdrift. Run `cwdrift status` for every tenant's state.\n"
    )


def test_templates_are_found_from_the_repository() -> None:
    source, filename, _ = template_environment().loader.get_source(  # type: ignore[union-attr]
        template_environment(), "email/alert.html.j2"
    )
    assert filename == str(REPO / "templates" / "email" / "alert.html.j2")
    assert "<html" in source.lower()
