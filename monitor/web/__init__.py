"""What a browser, an orchestrator and Prometheus reach over HTTP: one Starlette app, one port.

    app.py      create_app(route groups) and start_server(): uvicorn inside the caller's event
                loop (the node's), so the daemon keeps its signals and nothing needs a thread
    health.py   /healthz (alive), /readyz (watching), /metrics: the route group every node serves

Adding pages is adding a route group (a list of routes) to ``create_app``; nothing here knows
what a node is. The node (``monitor.daemon.node``) builds the probes from its parts; a process
without a daemon (a web-only server) builds its own from the database alone.
"""
