"""Web fixtures: a real history (web_store.py) built once per module, and the real app over it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import httpx
import pytest
from web_store import DAY3, WebStore, build_history, write_config

from monitor.data import bundled_file
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator
from monitor.store import Database
from monitor.web.health import Health, health_routes, templates_probe
from monitor.web.serve import web_app_for

NOW = DAY3.replace(hour=12)  # the pages' clock: three hours after the last check


@pytest.fixture(scope="module")
def web_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStore]:
    folder = tmp_path_factory.mktemp("web")
    with running_simulator(load_scenario(bundled_file("scenarios/demo.yaml"))) as sim:
        config = write_config(folder, sim)
        yield WebStore(config=config, loaded=build_history(config, sim), sim=sim)


@pytest.fixture
def db(web_store: WebStore) -> Iterator[Database]:
    database = Database(web_store.loaded.config.database)
    yield database
    database.dispose()


def app_for(store: WebStore, db: Database, *, host: str = "127.0.0.1", now: datetime = NOW):
    """The app a server on ``host`` runs: pages, login, health; the clock fixed at ``now``."""
    health = Health({"templates": templates_probe()})
    return web_app_for(lambda: store.loaded, db, host, health_routes(health), clock=lambda: now)


@pytest.fixture
async def client(web_store: WebStore, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_for(web_store, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
        yield c
