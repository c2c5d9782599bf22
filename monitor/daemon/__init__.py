"""When things run: the node (one composition root), the single-node clock, the cluster.

node.py              a fully wired node: daemon loop, engine, health and metrics
loop.Daemon          the long-running loop, a thin shell over steps tests call directly
scheduler.py         the single-node APScheduler clock behind ``CheckScheduler``
mode.py              single or cluster, from daemon.mode and the database URL
cluster/             Procrastinate queue, advisory-lock leader, the cluster engine, status
"""
