"""cwdrift: configuration drift monitor for ConnectWise Manage.

Data flows one way:

    ConnectWise API ─► connectwise.collect (I/O) ─► connectwise.normalize (pure) ─► Snapshot
        ─► engine.evaluate + engine.diff (pure) ─► store (I/O) ─► alerts.lifecycle (pure)
        ─► alerts.dispatch (I/O: Slack, email)
    store ─► reports / history (pure builders, Jinja2) ─► delivery
"""

__version__ = "0.1.0"
