"""A ``cwdrift run``-like process for the signal test: the real ``Daemon.run()`` (signals, loops,
store) with the small store-writing jobs of :mod:`daemon_jobs` instead of ConnectWise checks.

    python tests/daemon/daemon_process.py CONFIG
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from daemon_jobs import StoreJobs

from monitor.clock import utcnow
from monitor.daemon.loop import Daemon
from monitor.settings import LoadedConfig
from monitor.store import Database

log = logging.getLogger("cwdrift.test_process")


class LoggedJobs(StoreJobs):
    async def dispatch(self, loaded: LoadedConfig) -> None:
        await super().dispatch(loaded)
        log.info("dispatch ran")


async def serve(config: Path) -> None:
    jobs = LoggedJobs(utcnow)
    daemon = Daemon(config, run_check=jobs.run_check, dispatch=jobs.dispatch, open_db=Database)
    await daemon.run()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    asyncio.run(serve(Path(sys.argv[1])))
