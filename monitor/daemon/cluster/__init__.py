"""Cluster mode: several cwdrift nodes on one PostgreSQL, checks spread by Procrastinate.

mode.resolve_mode(config)            "single" | "cluster" from daemon.mode and the database
mode.SchedulerFactory(config_path)   the daemon's scheduler_factory: picks the engine at start
engine.ClusterCheckScheduler         the CheckScheduler of cluster mode (worker + leader clock)
queue.defer_check(app, tenant_id)    queue one check (coalesced per tenant)
status.cluster_status(session, now)  nodes, the leader, running and queued checks
node.main                            ``python -m monitor.daemon.node``: a fully wired node
"""
