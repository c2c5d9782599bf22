"""Fixtures for alert tests; the servers behind them live in alert_servers.py."""

from alert_servers import slack, smtp

__all__ = ["slack", "smtp"]
