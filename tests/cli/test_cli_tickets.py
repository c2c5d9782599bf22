"""`cwdrift tickets check` and `cwdrift check` filing tickets, through the real CLI against the
simulator over real HTTP. `tickets check` never writes to ConnectWise."""

from __future__ import annotations

import json

import pytest
from ticket_env import MSP, TicketEnv, ticket_config, tickets_env

from monitor.errors import ConfigError

__all__ = ["tickets_env"]  # the fixture, imported for pytest


def test_tickets_check_reads_everything_and_files_nothing(tickets_env: TicketEnv) -> None:
    code, output = tickets_env.run("tickets", "check")
    assert code == 0, output
    assert "ticket channel psa" in output and "ready" in output
    assert "board        Alerts (#12)" in output
    assert "new: New (#87); closed: >Closed (#95)" in output
    assert "Service Desk > Service Tickets: Add: All" in output
    assert "acme -> Acme: Acme Corporation (#251) [ticket_company]" in output
    assert "globex -> Globex: Globex Corporation (#252) [ticket_company]" in output
    assert "next ticket (an example; nothing was filed)" in output
    assert "[cwdrift:event 1]" in output
    assert tickets_env.writes() == 0 and tickets_env.tickets() == []


def test_tickets_check_json_is_the_same_facts(tickets_env: TicketEnv) -> None:
    code, output = tickets_env.run("tickets", "check", "--json")
    assert code == 0
    [channel] = json.loads(output)["channels"]
    assert channel["ok"] is True
    assert channel["board"] == {"id": 12, "name": "Alerts"}
    assert channel["statuses"]["closed"] == {"id": 95, "name": ">Closed"}
    assert [c["company"]["id"] for c in channel["companies"]] == [251, 252]
    assert all(p["ok"] for p in channel["permissions"])
    ticket = channel["next_ticket"]["ticket"]
    assert ticket["board"] == {"id": 12} and ticket["processNotifications"] is False
    assert channel["next_ticket"]["note"]["internalAnalysisFlag"] is True


def test_tickets_check_names_each_problem_with_its_fix(tickets_env: TicketEnv) -> None:
    ticket_config(tickets_env.config, board="Escalations")
    tickets_env.sim.state.set_permission(
        MSP, "Cwdrift Tickets", "Service Desk", "Service Tickets", edit="None"
    )
    code, output = tickets_env.run("tickets", "check")
    assert code == 2
    assert "PROBLEMS" in output
    assert "board 'Escalations' does not exist" in output
    assert "set board to one of: 'Alerts', 'Help Desk'" in output
    assert "Service Desk > Service Tickets: Edit: None" in output
    assert tickets_env.writes() == 0


def test_tickets_check_names_a_company_that_does_not_exist(tickets_env: TicketEnv) -> None:
    text = tickets_env.config.read_text().replace("ticket_company: Globex", "ticket_company: Glo")
    tickets_env.config.write_text(text)
    code, output = tickets_env.run("tickets", "check", "--json")
    assert code == 2
    [channel] = json.loads(output)["channels"]
    [missing] = [c for c in channel["companies"] if c["problem"]]
    assert missing["tenant"] == "globex"
    assert "no company with identifier 'Glo'" in missing["problem"]["message"]


def test_tickets_check_without_a_ticket_channel_says_so(tickets_env: TicketEnv) -> None:
    tickets_env.config.write_text(tickets_env.config.read_text().split("notify:")[0])
    code, output = tickets_env.run("tickets", "check")
    assert code == 0 and "no ticket channel is configured" in output
    assert json.loads(tickets_env.run("tickets", "check", "--json")[1]) == {"channels": []}
    with pytest.raises(ConfigError, match="no ticket channel named 'psa'"):
        tickets_env.run("tickets", "check", "--channel", "psa")


def test_check_files_one_ticket_for_the_drifting_tenant_and_none_twice(
    tickets_env: TicketEnv,
) -> None:
    code, _ = tickets_env.run("check")
    assert code == 1  # globex drifts
    [ticket] = tickets_env.tickets()
    assert (ticket["company"], ticket["board"], ticket["status"]) == ("Globex", "Alerts", "New")
    assert ticket["externalXRef"].startswith("cwdrift:psa:globex:drift:")
    [note] = ticket["notes"]
    assert "NEW (critical)" in note["text"] and note["internalAnalysisFlag"]
    tickets_env.run("check")  # still failing, no reminder due: nothing new
    assert len(tickets_env.tickets()) == 1 and len(tickets_env.tickets()[0]["notes"]) == 1
    code, output = tickets_env.run("tickets", "check")
    assert "incident     globex drift: cwdrift:psa:globex:drift:" in output
