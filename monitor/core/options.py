"""Per-tenant evaluation options and accepted deviations (waivers), as validated data.

These come from the tenant's entry in the config file (``options:`` and ``waivers:``) and, for
waivers, also from ``cwdrift waive``. They are plain pydantic models so the config loader can
name the exact field that is wrong.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.clock import ensure_utc

# Where a waiver (or a silence) comes from: the config file, or `cwdrift waive` / `silence add`.
FROM_CONFIG = "config"
FROM_DATABASE = "database"


class TenantOptions(BaseModel):
    """How the baseline applies to one tenant (the vendor page allows these differences)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transfers_costing: bool = Field(
        default=True,
        description="The tenant transfers costing, so 'Include COGS Entries' must be on.",
    )
    class_segments: tuple[int, ...] = Field(
        default=(),
        description="Account segments (1-10) allowed to be typed 'Class' instead of 'Account'.",
    )
    least_privilege: bool = Field(
        default=False,
        description="Also report permissions granted beyond the baseline (warnings).",
    )
    expected_role: str | None = Field(
        default=None,
        min_length=1,
        description="Name of the security role the API member must have; any other role fails.",
    )

    @field_validator("class_segments")
    @classmethod
    def _segments_in_range(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [n for n in value if not 1 <= n <= 10]
        if bad:
            raise ValueError(f"segment numbers must be 1-10, got {bad}")
        return tuple(sorted(set(value)))


class Waiver(BaseModel):
    """An accepted deviation: the rule may fail with exactly ``value`` until ``expires``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    value: str | None = Field(
        description="The accepted actual value, pinned: any other value fails again.",
    )
    reason: str = Field(min_length=1)
    accepted_by: str = Field(min_length=1)
    expires: datetime

    @field_validator("expires")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return ensure_utc(value)

    def covers(self, rule_id: str, actual: str | None, now: datetime) -> bool:
        return self.rule == rule_id and self.value == actual and now < self.expires
