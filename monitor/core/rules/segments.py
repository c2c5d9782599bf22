"""Rule kind ``account_segments``: every account segment in use is typed "Account".

A segment is in use when its caption (``gl.segment<N>``) is non-empty; its type is
``gl.segment<N>type``. The vendor page allows Class segments "in certain circumstances", so
``TenantOptions.class_segments`` lists the segment numbers that may be typed "Class".

Fixed by ``PATCH /finance/glCaptions/{id}`` replacing each offending ``segment<N>type`` with
"Account" (connectwise-api.md §7); segments allowed to be Class are left alone. Captions are
never invented: with no segment in use a person sets up the account structure.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from monitor.core.findings import Status
from monitor.core.remedy import (
    ACCOUNTING_EDIT,
    GL_CAPTIONS,
    FieldChange,
    PatchOperation,
    PersonNeeded,
    Remedy,
    RemedyContext,
    Write,
)
from monitor.core.rules.base import Context, Outcome, Requirement, human
from monitor.core.snapshot import Snapshot

SEGMENT_NUMBERS = range(1, 11)  # GLCaption has segment1..segment10 and cogs1..cogs10
EXPECTED_TYPE = "Account"


@dataclass(frozen=True, slots=True)
class Segment:
    number: int
    caption: str
    caption_key: str
    type_key: str
    type: str | None


def segments_in_use(snapshot: Snapshot, prefix: str) -> list[Segment]:
    """Segments whose caption is set, for ``prefix`` "segment" or "cogs"."""
    found = []
    for n in SEGMENT_NUMBERS:
        caption = snapshot.value(f"gl.{prefix}{n}")
        if isinstance(caption, str) and caption.strip():
            kind = snapshot.value(f"gl.{prefix}{n}type")
            found.append(
                Segment(n, caption, f"gl.{prefix}{n}", f"gl.{prefix}{n}type", _str_or_none(kind))
            )
    return found


def judge_segments(
    segments: list[Segment], class_allowed: Collection[int], expected: str
) -> Outcome:
    """Pass when each segment is "Account", or "Class" where allowed; name the offenders."""
    keys = tuple(k for s in segments for k in (s.caption_key, s.type_key))
    actual = ", ".join(f"{s.number} {s.caption!r}={human(s.type)}" for s in segments)
    offenders = _offenders(segments, class_allowed)
    if not offenders:
        return Outcome(Status.PASS, expected, actual, keys)
    note = "; ".join(f"segment {s.number} ({s.caption!r}) is {human(s.type)}" for s in offenders)
    if any(s.type == "Class" for s in offenders):
        note += (
            "; if Class is intended, list the segment number in the tenant's options.class_segments"
        )
    return Outcome(Status.FAIL, expected, actual, keys, note)


def _offenders(segments: list[Segment], class_allowed: Collection[int]) -> list[Segment]:
    return [
        s
        for s in segments
        if not (s.type == "Account" or (s.type == "Class" and s.number in class_allowed))
    ]


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class AccountSegmentsRequirement(Requirement):
    kind = "account_segments"
    writable = True

    def evaluate(self, ctx: Context) -> Outcome:
        allowed = ctx.options.class_segments
        expected = "Account"
        if allowed:
            expected += f" (Class allowed for segment {', '.join(map(str, allowed))})"
        reason = ctx.unknown_reason(("gl.segment1",))
        if reason is not None:
            return ctx.unknown(expected, ("gl.segment1",), reason)
        segments = segments_in_use(ctx.snapshot, "segment")
        if not segments:
            note = "no account segment has a caption: the GL account structure is not set up"
            return Outcome(Status.FAIL, expected, "no segments", ("gl.segment1",), note)
        return judge_segments(segments, allowed, expected)

    def remedy(self, ctx: RemedyContext) -> Remedy:
        record_id = ctx.targets.gl_captions_id
        if record_id is None:
            return PersonNeeded("ConnectWise returned no GL captions record to change")
        segments = segments_in_use(ctx.snapshot, "segment")
        if not segments:
            return PersonNeeded(
                "no account segment has a caption: a person sets up the GL account structure"
            )
        offenders = _offenders(segments, ctx.options.class_segments)
        if not offenders:
            return PersonNeeded("every account segment in use already has an allowed type")
        operations = tuple(
            PatchOperation("replace", f"segment{s.number}type", EXPECTED_TYPE) for s in offenders
        )
        changes = tuple(
            FieldChange(
                s.type_key,
                f"segment{s.number}type",
                f"Account segment {s.number} ({s.caption}) type",
                s.type,
                EXPECTED_TYPE,
            )
            for s in offenders
        )
        return Write(GL_CAPTIONS, record_id, operations, changes, ACCOUNTING_EDIT)
