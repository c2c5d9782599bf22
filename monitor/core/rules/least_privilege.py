"""Rule kind ``least_privilege``: the role grants nothing beyond what the baseline requires.

Advisory (give it severity ``warning``, and ``applies_if: least_privilege`` so it only runs for
tenants that ask). One finding lists the extra grants per function, capped so alerts stay short.
"""

from __future__ import annotations

from collections import defaultdict

from monitor.core.findings import Status
from monitor.core.rules.base import LEVELS, Context, Outcome, Requirement, level_rank
from monitor.core.rules.permission import PermissionRequirement

EXPECTED = "nothing beyond the baseline"
MAX_LISTED = 15  # functions named in ``actual``; the rest are counted


class LeastPrivilegeRequirement(Requirement):
    kind = "least_privilege"
    person_reason = (
        "role permission rows are read-only in the ConnectWise API (connectwise-api.md §7)"
    )

    def evaluate(self, ctx: Context) -> Outcome:
        reason = ctx.unknown_reason(("permission.",))
        if reason is not None:
            return ctx.unknown(EXPECTED, (), reason)
        required: dict[str, int] = {}
        for requirement in ctx.requirements:
            if isinstance(requirement, PermissionRequirement):
                required[requirement.key] = max(
                    required.get(requirement.key, 0), level_rank(requirement.level)
                )
        extra: dict[str, list[str]] = defaultdict(list)  # "module.function" -> ["add=All", ...]
        keys = []
        for key, setting in ctx.snapshot.settings.items():
            if not key.startswith("permission.") or setting.value not in LEVELS:
                continue
            level = str(setting.value)
            if level_rank(level) > required.get(key, 0):
                function, op = key.removeprefix("permission.").rsplit(".", 1)
                extra[function].append(f"{op}={level}")
                keys.append(key)
        unread = ctx.snapshot.unknown_settings("permission")
        if not extra and unread:
            # An unread level may be an extra grant: a pass would be a guess.
            return ctx.unknown(EXPECTED, tuple(unread), next(iter(unread.values())))
        if not extra:
            return Outcome(Status.PASS, EXPECTED, "none", ())
        listed = [f"{function}: {' '.join(ops)}" for function, ops in sorted(extra.items())]
        actual = "; ".join(listed[:MAX_LISTED])
        if len(listed) > MAX_LISTED:
            actual += f"; and {len(listed) - MAX_LISTED} more functions"
        note = f"{len(keys)} grants on {len(listed)} functions exceed what the integration needs"
        return Outcome(Status.FAIL, EXPECTED, actual, tuple(keys), note)
