"""Fixtures for alert tests; the servers behind them live in alert_servers.py."""

from alert_servers import database_url, db, pg_url, slack, smtp

__all__ = ["database_url", "db", "pg_url", "slack", "smtp"]
