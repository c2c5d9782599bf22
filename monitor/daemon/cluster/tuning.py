"""The timings of cluster mode, apart from the engine: ``cwdrift run`` shows them as option
defaults, and its ``--help`` must not import Procrastinate to do so."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClusterTuning:
    """Timings of cluster mode. Defaults are Procrastinate's (heartbeat 10 s, stalled at 30 s)."""

    ping_every: float = 1.0  # leader lock attempt / session ping / recovery scan
    worker_heartbeat: float = 10.0
    stalled_after: float = 30.0  # a worker silent this long is dead; its checks are recovered
    fetch_poll: float = 5.0  # fallback poll; LISTEN/NOTIFY wakes workers at once
    clock_in_flight: int = 64  # concurrent deferrals by the clock (each is one INSERT)


DEFAULT_TUNING = ClusterTuning()
