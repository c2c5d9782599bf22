"""Cluster mode: several cwdrift nodes on one PostgreSQL, checks spread by Procrastinate.

scheduler.ClusterCheckScheduler      the CheckScheduler of cluster mode (worker + leader clock)
leader.LeaderLock                    the advisory lock whose holder runs the clock
queue.defer_check(app, tenant_id)    queue one check (coalesced per tenant)
status.cluster_status(session, now)  nodes, the leader, running and queued checks
tuning.ClusterTuning                 its timings (light: ``cwdrift run --help`` shows them)

The mode is chosen by ``monitor.daemon.mode``; the node is wired by ``monitor.daemon.node``.
"""
