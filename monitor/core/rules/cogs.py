"""Rule kind ``cogs_segments``: every COGS segment in use is typed "Account".

ConnectWise's API exposes COGS segment captions only (GLCaption has ``cogs1..cogs10`` and no
``cogsNtype``; connectwise-api.md §3.10), so this rule is *unknown* unless the snapshot carries
``gl.cogs<N>type`` for every COGS segment in use. It never passes or fails on a guess.
"""

from __future__ import annotations

from monitor.core.findings import Status
from monitor.core.rules.base import Context, Outcome, Requirement
from monitor.core.rules.segments import judge_segments, segments_in_use

EXPECTED = "Account"
NOT_EXPOSED = (
    "the ConnectWise API exposes COGS segment captions only, not their type; check "
    "System > Setup Tables > Accounting Package > COGS Segments by hand"
)


class CogsSegmentsRequirement(Requirement):
    kind = "cogs_segments"
    person_reason = "the ConnectWise API exposes no type for COGS segments"

    def evaluate(self, ctx: Context) -> Outcome:
        reason = ctx.snapshot.unknown_section("gl")
        if reason is not None:
            return ctx.unknown(EXPECTED, ("gl.cogs1",), reason)
        segments = segments_in_use(ctx.snapshot, "cogs")
        keys = tuple(s.caption_key for s in segments) or ("gl.cogs1",)
        if not segments or any(s.type is None for s in segments):
            return Outcome(Status.UNKNOWN, EXPECTED, None, keys, NOT_EXPOSED)
        return judge_segments(segments, (), EXPECTED)
