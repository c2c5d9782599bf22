"""Configs for the simulator's generated fleet, shared by the cluster tests."""

from monitor.simulator.fleet_config import fleet_config, write_fleet_config

__all__ = ["fleet_config", "write_fleet_config"]
