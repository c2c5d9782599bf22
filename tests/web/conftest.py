"""Web fixtures: a real history (web_store.py) built once per module, and the real app over it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from web_store import WebStore, app_for, build_history, write_config

from monitor.data import bundled_file
from monitor.simulator.scenario import load_scenario
from monitor.simulator.server import running_simulator
from monitor.store import Database


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


@pytest.fixture
async def client(web_store: WebStore, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_for(web_store, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
        yield c
