"""``cwdrift run``, ``status`` and ``silence``: the daemon and what it is doing."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli import render
from monitor.cli.common import JsonOpt, expiry, load, open_database
from monitor.clock import utcnow
from monitor.daemon.cluster.tuning import ClusterTuning
from monitor.errors import ConfigError
from monitor.printable import printable

if TYPE_CHECKING:  # the node, the store and the baseline are imported by the commands
    from monitor.daemon.cluster.status import ClusterStatus

commands = typer.Typer()
silence_app = typer.Typer(help="Silence alerts for a while, with a reason.", no_args_is_help=True)
commands.add_typer(silence_app, name="silence")


@commands.command()
def run(
    health_port: Annotated[
        int | None,
        typer.Option(
            help="Serve /healthz, /readyz and /metrics on this port (default daemon.health_port)."
        ),
    ] = None,
    health_host: Annotated[
        str | None,
        typer.Option(
            help="Address to serve them on (default daemon.health_host). The container image "
            "passes 0.0.0.0: a container's loopback is out of reach of its published ports."
        ),
    ] = None,
    ping_every: Annotated[
        float, typer.Option(help="Cluster: seconds between leader-lock attempts and pings.")
    ] = ClusterTuning.ping_every,
    worker_heartbeat: Annotated[
        float, typer.Option(help="Cluster: seconds between worker heartbeats.")
    ] = ClusterTuning.worker_heartbeat,
    stalled_after: Annotated[
        float,
        typer.Option(help="Cluster: a worker silent this long is dead; its checks are redone."),
    ] = ClusterTuning.stalled_after,
    fetch_poll: Annotated[
        float, typer.Option(help="Cluster: fallback poll of the queue (NOTIFY wakes at once).")
    ] = ClusterTuning.fetch_poll,
) -> None:
    """Run a node: check every tenant on its schedule and send alerts, until SIGTERM.

    The one way to start a node, single or cluster (daemon.mode). SIGHUP reloads the config
    (tenants added, removed, changed) without a restart. The cluster options tune failover;
    the defaults suit production.

    Example: cwdrift --config /etc/cwdrift/cwdrift.yaml run
    """
    import asyncio

    from monitor.daemon.node import serve
    from monitor.observability import configure_logging

    configure_logging()  # first: the config's warnings are log lines (JSON when logs are)
    loaded = load(tenants=True, warn=False)  # fail fast, naming file and line; the daemon logs
    tuning = ClusterTuning(
        ping_every=ping_every,
        worker_heartbeat=worker_heartbeat,
        stalled_after=stalled_after,
        fetch_poll=fetch_poll,
    )
    asyncio.run(serve(loaded, tuning=tuning, health_port=health_port, health_host=health_host))


@commands.command()
def status(as_json: JsonOpt = False) -> None:
    """What the monitor is doing: per tenant last check, outcome, next run, open findings.

    Also the daemon's liveness, each channel's delivery health and the active silences.

    Example: cwdrift status --json
    """
    from monitor.daemon.cluster.status import cluster_status
    from monitor.daemon.mode import resolve_mode
    from monitor.store.daemon_tables import daemon_status
    from monitor.store.history import open_findings, tenant_summaries
    from monitor.store.outbox import channel_status
    from monitor.store.silences import list_silences, silence_dict

    loaded = load(connectwise=False)  # reads the database only
    now = utcnow()
    db = open_database(loaded)
    with db.session() as session:
        summaries = {s.tenant_id: s for s in tenant_summaries(session)}
        daemon = daemon_status(session, now)
        findings = open_findings(session)
        channels = channel_status(session)
        silences = list_silences(session, now=now)
        cluster = (
            _cluster_dict(cluster_status(session, now))
            if resolve_mode(loaded.config) == "cluster"
            else None
        )
        silence_rows = [silence_dict(s) for s in silences]
    open_by_tenant: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        open_by_tenant.setdefault(finding.tenant_id, []).append(
            {
                "rule": finding.rule_id,
                "severity": finding.severity.value,
                "since": _iso(finding.first_failed_at),
                "actual": finding.actual,
            }
        )
    tenants = []
    for tenant in loaded.config.tenants:
        summary = summaries.get(tenant.id)
        tenants.append(
            {
                "tenant": tenant.id,
                "last_check": _iso(summary.last_started_at if summary else None),
                "outcome": summary.outcome if summary else None,
                "error": summary.error_message if summary else None,
                "consecutive_errors": summary.consecutive_errors if summary else 0,
                "next_run": _iso(daemon.next_runs.get(tenant.id)),
                "open_findings": open_by_tenant.get(tenant.id, []),
            }
        )
    data = {
        "daemon": {
            "alive": daemon.alive,
            "nodes": [
                {
                    "node": n.node_id,
                    "role": n.role,
                    "alive": n.alive,
                    "last_beat": _iso(n.last_beat_at),
                    "stopped_at": _iso(n.stopped_at),
                }
                for n in daemon.nodes
            ],
        },
        "cluster": cluster,
        "tenants": tenants,
        "channels": [c.to_dict() for c in channels],
        "silences": silence_rows,
    }
    if as_json:
        render.print_json(data)
        return
    _print_status(data)


def _cluster_dict(status: ClusterStatus) -> dict[str, Any]:
    """Multi-node mode: who holds the clock and what each node's worker is running."""
    return {
        "leader": status.leader,
        "queued": status.queued,
        "running": status.running,
        "nodes": [
            {
                "node": n.node_id,
                "alive": n.alive,
                "leader": n.leader,
                "running": list(n.running),
                "last_seen": _iso(n.last_seen_at),
            }
            for n in status.nodes
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _print_status(data: dict[str, Any]) -> None:
    daemon = data["daemon"]
    state_word = ("running", "green") if daemon["alive"] else ("not running", "yellow")
    render.out.print(
        render.line("daemon: ", state_word, f" ({_live_count(daemon['nodes'], 'node')})")
    )
    cluster = data["cluster"]
    if cluster is not None:
        render.out.print(
            f"cluster: leader {cluster['leader'] or 'none'}, {cluster['queued']} queued, "
            f"{cluster['running']} running, {_live_count(cluster['nodes'], 'worker node')}",
            soft_wrap=True,
        )
        for node in cluster["nodes"]:
            if not node["alive"]:
                continue  # a stopped node (or one copied by `db migrate-to`) is history
            holds = ", ".join(node["running"]) or "nothing"
            role = " (leader)" if node["leader"] else ""
            render.out.print(f"  node {node['node']}{role}: running {holds}", soft_wrap=True)
    table = render.table(
        "tenants", ("tenant", "last check", "outcome", "next run", "open findings")
    )
    for row in data["tenants"]:
        findings = ", ".join(f"{f['rule']} ({f['severity']})" for f in row["open_findings"])
        outcome = render.styled(str(row["outcome"] or "—"))
        if row["consecutive_errors"]:
            outcome.append(f" ×{row['consecutive_errors']}")
        table.add_row(
            render.cell(row["tenant"]),
            render.when_text(row["last_check"]) if row["last_check"] else "never",
            outcome,
            render.when_text(row["next_run"]),
            render.cell(findings or "—"),
        )
    render.out.print(table)
    for channel in data["channels"]:
        state = ("FAILED (permanent)", "red") if channel["permanent_failure"] else "ok"
        detail = f": {channel['last_error']}" if channel["last_error"] else ""
        counts = [f"{channel['pending']} pending"]
        counts += [f"{channel[key]} {key}" for key in ("failed", "rejected") if channel[key]]
        render.out.print(
            render.line(
                f"channel {channel['channel']} ({channel['kind']}): ",
                state,
                f", {', '.join(counts)}{detail}",
            ),
            soft_wrap=True,
        )
        if channel["failed"]:
            render.out.print(
                "  failed: sent again after the channel's next successful send, "
                "or now with: cwdrift alerts retry",
                markup=False,
            )
        if channel["rejected"]:
            render.out.print(
                "  rejected: refused again after the channel had worked; "
                "try again with: cwdrift alerts retry",
                markup=False,
            )
    for silence in data["silences"]:
        render.out.print(f"silence {_silence_line(silence)}", soft_wrap=True)


def _live_count(nodes: list[dict[str, Any]], noun: str) -> str:
    """``2 live nodes`` and how many others are on record (stopped, silent, or copied)."""
    live = sum(1 for n in nodes if n["alive"])
    text = f"{live} live {noun}{'' if live == 1 else 's'}"
    gone = len(nodes) - live
    return text + (f"; {gone} stopped or silent, not counted" if gone else "")


def _silence_line(silence: dict[str, Any]) -> str:
    return (
        f"#{silence['id']}: tenant={silence['tenant'] or '*'} rule={silence['rule'] or '*'} "
        f"until {render.when_text(silence['expires'])} by {printable(silence['author'])}: "
        f"{printable(silence['reason'])}"
    )


@silence_app.command("add")
def silence_add(
    reason: Annotated[str, typer.Option(help="Why (shown in status and reports).")],
    author: Annotated[str, typer.Option(help="Who silences it.")],
    expires: Annotated[str, typer.Option(help="A duration such as 2d, or an ISO date/time.")],
    tenant: Annotated[str | None, typer.Option(help="Tenant id (omit for all).")] = None,
    rule: Annotated[str | None, typer.Option(help="Rule id (omit for all rules).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hold back notifications for a tenant and/or rule until it expires.

    Example: cwdrift silence add --tenant acme --reason "tax migration" --author ana --expires 3d
    """
    from monitor.core.baseline import load_baseline
    from monitor.store.silences import add_silence, silence_dict

    loaded = load(connectwise=False)  # reads the database only
    if tenant is not None:
        loaded.config.tenant(tenant)
    if rule is not None and rule not in load_baseline(loaded.baseline_path):
        raise ConfigError(
            f"no rule {rule!r} in the baseline, so the silence would hold back nothing",
            location="--rule",
            fix="`cwdrift baseline validate` lists the rule ids",
        )
    now = utcnow()
    db = open_database(loaded)
    with db.session() as session:
        row = add_silence(
            session,
            tenant=tenant,
            rule=rule,
            reason=reason,
            author=author,
            expires=expiry(expires, now),
            now=now,
        )
        data = silence_dict(row)
    if as_json:
        render.print_json({"silence": data})
    else:
        render.out.print(f"added silence {_silence_line(data)}")


@silence_app.command("list")
def silence_list(
    include_expired: Annotated[bool, typer.Option(help="Also show expired silences.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List silences, soonest to expire first.

    Example: cwdrift silence list --json
    """
    from monitor.store.silences import list_silences, silence_dict

    loaded = load(connectwise=False)  # reads the database only
    db = open_database(loaded)
    with db.session() as session:
        rows = [
            silence_dict(r)
            for r in list_silences(session, now=utcnow(), include_expired=include_expired)
        ]
    if as_json:
        render.print_json({"silences": rows})
        return
    if not rows:
        render.out.print("No active silences.")
    for row in rows:
        render.out.print(_silence_line(row), soft_wrap=True)


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[int, typer.Argument(help="The silence's id.")],
    as_json: JsonOpt = False,
) -> None:
    """End a silence now; the next check delivers what it held back.

    Example: cwdrift silence expire 3
    """
    from monitor.store.silences import expire_silence, silence_dict

    loaded = load(connectwise=False)  # reads the database only
    db = open_database(loaded)
    with db.session() as session:
        data = silence_dict(expire_silence(session, silence_id, now=utcnow()))
    if as_json:
        render.print_json({"silence": data})
    else:
        render.out.print(f"expired silence {_silence_line(data)}")
