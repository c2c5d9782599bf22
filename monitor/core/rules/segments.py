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
    unknown: str | None = None  # why the type (or whether the segment is in use) is unknown


def segments_in_use(snapshot: Snapshot, prefix: str) -> list[Segment]:
    """Segments whose caption is set, for ``prefix`` "segment" or "cogs".

    A segment whose caption could not be read is listed too, as unknown: it may be in use.
    """
    found = []
    for n in SEGMENT_NUMBERS:
        caption_key, type_key = f"gl.{prefix}{n}", f"gl.{prefix}{n}type"
        caption_unknown = snapshot.unknown_reason(caption_key)
        caption = snapshot.value(caption_key)
        if caption_unknown is not None:
            found.append(Segment(n, "?", caption_key, type_key, None, caption_unknown))
        elif isinstance(caption, str) and caption.strip():
            kind = snapshot.value(type_key)
            found.append(
                Segment(
                    n,
                    caption,
                    caption_key,
                    type_key,
                    _str_or_none(kind),
                    snapshot.unknown_reason(type_key),
                )
            )
    return found


def judge_segments(
    segments: list[Segment], class_allowed: Collection[int], expected: str
) -> Outcome:
    """Fail when a segment read is neither "Account" nor an allowed "Class"; else unknown when
    any segment could not be read; else pass. Names the offenders."""
    keys = tuple(k for s in segments for k in (s.caption_key, s.type_key))
    actual = ", ".join(
        f"{s.number} {s.caption!r}={'unknown' if s.unknown else human(s.type)}" for s in segments
    )
    readable = _readable(segments)
    unreadable = [s for s in segments if s not in readable]
    offenders = _offenders(readable, class_allowed)
    if offenders:
        note = "; ".join(
            f"segment {s.number} ({s.caption!r}) is {human(s.type)}" for s in offenders
        )
        if any(s.type == "Class" for s in offenders):
            note += (
                "; if Class is intended, list the segment number in the tenant's "
                "options.class_segments"
            )
        if unreadable:
            note += f"; segment {', '.join(str(s.number) for s in unreadable)} could not be read"
        return Outcome(Status.FAIL, expected, actual, keys, note)
    if unreadable:
        why = "; ".join(
            f"segment {s.number}: {s.unknown or 'its type was not read'}" for s in unreadable
        )
        return Outcome(Status.UNKNOWN, expected, None, keys, f"not readable: {why}")
    return Outcome(Status.PASS, expected, actual, keys)


def _readable(segments: list[Segment]) -> list[Segment]:
    return [s for s in segments if s.unknown is None and s.type is not None]


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
        reason = ctx.snapshot.unknown_section("gl")
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
        # A segment whose type could not be read is never written: unknown is not wrong.
        offenders = _offenders(_readable(segments), ctx.options.class_segments)
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
