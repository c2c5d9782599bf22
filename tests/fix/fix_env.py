"""What a fix test gets: the demo simulator and a Slack sink over real HTTP, a config written per
test (fix keys, fix modes, options), the real command line, and the daemon's check step."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.jobs.check import TenantResult
from monitor.jobs.deliver import dispatch
from monitor.jobs.fix import check_and_fix
from monitor.jobs.runtime import Runtime
from monitor.settings import load_config
from monitor.simulator.server import RunningSimulator
from monitor.simulator.slack import SlackSink
from monitor.store.fixes import StoredAttempt, StoredPlan, attempts, plans

CLIENT_ID = "00000000-0000-4000-8000-000000000001"
# The demo scenario's keys (config/scenarios/demo.yaml): obviously fake.
READ_KEYS = {
    "globex": ("globexpub000001", "fake-globex-private-key-0001"),
    "initech": ("initechpub00001", "fake-initech-private-key-0001"),
}
FIX_KEYS = {
    "globex": ("globexfix000001", "fake-globex-fix-private-0001"),  # its role may Edit
    "initech": ("initechfix00001", "fake-initech-fix-private-0001"),  # its role may not
}
EXPENSES = "transfer-expenses-as-bill-is-off"
PACKAGE = "accounting-package-is-other"
ROLE = "api-member-has-custom-security-role"
SEGMENTS = "account-segments-are-typed-account"
ACCOUNTING_PATCH = "/finance/accountingPackageSetup/{id}"


@dataclass
class FixEnv:
    sim: RunningSimulator
    slack: SlackSink
    directory: Path
    database: str
    runner: CliRunner = field(default_factory=CliRunner)
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.directory / "cwdrift.yaml"

    def tenant(self, company: str, *, fix_keys: bool = True, **extra: Any) -> None:
        """Watch ``company`` (globex or initech) with these extra config fields."""
        public, private = READ_KEYS[company]
        entry: dict[str, Any] = {
            "id": company,
            "name": company.capitalize(),
            "site": self.sim.url,
            "company_id": company,
            "public_key": public,
            "private_key": f"${{{company.upper()}_KEY:-{private}}}",
            "client_id": CLIENT_ID,
            "integration_member": "GozyntaAPI",
        }
        if fix_keys:
            fix_public, fix_private = FIX_KEYS[company]
            entry["fix_public_key"] = fix_public
            entry["fix_private_key"] = f"${{{company.upper()}_FIX_KEY:-{fix_private}}}"
        entry.update(extra)
        self.tenants[company] = entry
        self.write()

    def write(self) -> None:
        data = {
            "database": self.database,
            "tenants": list(self.tenants.values()),
            "notify": {
                "slack": [{"name": "ops", "webhook_url": "${FIX_TEST_SLACK_URL}"}],
                "failure_threshold": 1,
            },
        }
        self.config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    def run(self, *args: str) -> tuple[int, str, str]:
        """The real command line: exit code, stdout, stderr."""
        result = self.runner.invoke(app, ["--config", str(self.config), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    def run_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        code, out, err = self.run(*args, "--json")
        assert out, err
        return code, json.loads(out)

    def daemon_check(self, company: str) -> TenantResult:
        """One scheduled check of the daemon (``check_and_fix``), then the outbox sent."""
        runtime = Runtime.open(load_config(self.config))

        async def step() -> TenantResult:
            async with runtime:
                result = await check_and_fix(runtime, runtime.config.tenant(company))
            await dispatch(runtime)
            return result

        try:
            return asyncio.run(step())
        finally:
            runtime.db.dispose()

    def writes(self, company: str | None = None, endpoint: str | None = None) -> int:
        return self.sim.state.writes(company, endpoint=endpoint)

    def stored(self) -> tuple[list[StoredPlan], list[StoredAttempt]]:
        runtime = Runtime.open(load_config(self.config))
        try:
            with runtime.db.session() as session:
                return plans(session), attempts(session)
        finally:
            runtime.db.dispose()

    def slack_texts(self) -> list[str]:
        """Each Slack message's text: the fallback line and every section."""
        found = []
        for message in self.slack.messages:
            parts = [str(message.get("text", ""))]
            for block in message.get("blocks", []):
                text = block.get("text")
                if isinstance(text, dict):
                    parts.append(str(text.get("text", "")))
            found.append("\n".join(parts))
        return found
