"""cwdrift: configuration drift monitor for ConnectWise Manage.

Data flows one way, and so do imports:

    ConnectWise API ─► connectwise (collect: I/O; normalize: pure) ─► core (snapshot,
        evaluate + diff: pure) ─► store (I/O) ─► alerts (plan: pure; deliver: Slack, email)
    store ─► reports (pure builders, Jinja2) ─► the alerts outbox

``jobs`` orchestrates those stages (the use cases); ``cli`` and ``daemon`` call ``jobs``.
"""

__version__ = "0.1.0"
