"""Chart geometry (pure): a setting's values over time as a step chart, the fleet score as a line.

The pages draw these as inline SVG from the templates (``templates/web/charts.html.j2``): no
script, no library, nothing fetched; labels (ConnectWise values among them) are escaped by
Jinja like any other text. Coordinates are in the SVG's own units (``viewBox``), so a chart
scales to its container.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.core.snapshot import Value
from monitor.store.history import Period

WIDTH = 1000
LEFT = 150  # room for the value labels
RIGHT = 20
TOP = 16
ROW = 34  # height per value level
AXIS = 34  # room for the time labels
MAX_LEVELS = 12  # a setting with more distinct values groups the rest as "other"


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Level:
    y: float
    label: str
    kind: str  # "value" | "absent" | "unknown": how it is drawn


@dataclass(frozen=True, slots=True)
class Step:
    """One period: a horizontal run at its value's level, and the rise into it."""

    x1: float
    x2: float
    y: float
    y_from: float | None  # the previous period's level (None: the first period)
    kind: str
    title: str  # the tooltip: value, from, until, who


@dataclass(frozen=True, slots=True)
class StepChart:
    width: int
    height: int
    left: int
    right: int
    levels: tuple[Level, ...]
    steps: tuple[Step, ...]
    ticks: tuple[Tick, ...]
    plot_top: int
    plot_bottom: int


def show_value(value: Value, *, present: bool = True, unknown: str | None = None) -> str:
    """A setting value as people read it (flags are on/off)."""
    if unknown:
        return "unknown"
    if not present:
        return "absent"
    if value is True:
        return "on"
    if value is False:
        return "off"
    return "not set" if value is None else str(value)


def step_chart(periods: Sequence[Period], now: datetime) -> StepChart | None:
    """The periods of one setting as steps over time; None when there is nothing to draw."""
    if not periods:
        return None
    labels = [show_value(p.value, present=p.present, unknown=p.unknown) for p in periods]
    order = _level_order(periods, labels)
    height = TOP + ROW * len(order) + AXIS
    bottom = TOP + ROW * len(order)
    level_y = {label: TOP + ROW * index + ROW / 2 for index, label in enumerate(order)}
    start = periods[0].start
    end = max(now, periods[-1].start + timedelta(minutes=1))
    scale = _TimeScale(start, end, LEFT, WIDTH - RIGHT)
    levels = tuple(Level(level_y[label], label, _kind(label)) for label in order)
    steps = []
    previous: float | None = None
    for period, label in zip(periods, labels, strict=True):
        shown = label if label in level_y else "other"
        y = level_y[shown]
        until = period.end or end  # the value in force now runs to the right edge
        who = f"; record last edited by {period.changed_by}" if period.changed_by else ""
        steps.append(
            Step(
                x1=scale.x(period.start),
                x2=scale.x(until),
                y=y,
                y_from=previous,
                kind=_kind(shown),
                title=f"{label}: {_when(period.start)} to "
                f"{_when(period.end) if period.end else 'now'}{who}",
            )
        )
        previous = y
    return StepChart(
        width=WIDTH,
        height=height,
        left=LEFT,
        right=RIGHT,
        levels=levels,
        steps=tuple(steps),
        ticks=scale.ticks(),
        plot_top=TOP,
        plot_bottom=bottom,
    )


def _level_order(periods: Sequence[Period], labels: Sequence[str]) -> list[str]:
    """Value levels top to bottom: the values in the order they first held, then "absent" and
    "unknown" at the bottom; past MAX_LEVELS the rarest values share an "other" level."""
    seen = list(dict.fromkeys(label for label in labels if label not in ("absent", "unknown")))
    if len(seen) > MAX_LEVELS:
        longest: dict[str, float] = {}
        for period, label in zip(periods, labels, strict=True):
            span = ((period.end or period.start) - period.start).total_seconds()
            longest[label] = longest.get(label, 0.0) + span
        kept = set(sorted(seen, key=lambda label: -longest.get(label, 0.0))[: MAX_LEVELS - 1])
        seen = [label for label in seen if label in kept] + ["other"]
    special = [label for label in ("absent", "unknown") if label in labels]
    return seen + special


def _kind(label: str) -> str:
    return label if label in ("absent", "unknown") else "value"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class _TimeScale:
    start: datetime
    end: datetime
    x0: float
    x1: float

    def x(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        fraction = min(1.0, max(0.0, (moment - self.start).total_seconds() / span))
        return round(self.x0 + fraction * (self.x1 - self.x0), 1)

    def ticks(self, count: int = 6) -> tuple[Tick, ...]:
        span = self.end - self.start
        if span < timedelta(hours=1):
            form = "%H:%M:%S"
        elif span < timedelta(days=3):
            form = "%m-%d %H:%M"
        else:
            form = "%Y-%m-%d"
        found = []
        for index in range(count):
            moment = self.start + span * index / (count - 1)
            label = moment.strftime(form)
            found.append(Tick(self.x(moment), label))
        return tuple(found)


# -- the fleet score trend ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    label: str  # the ISO week it ends, or "now"
    until: datetime
    percent: float | None


@dataclass(frozen=True, slots=True)
class PlottedPoint:
    x: float
    y: float
    label: str
    title: str


@dataclass(frozen=True, slots=True)
class TrendChart:
    width: int
    height: int
    points: tuple[PlottedPoint, ...]
    line: str  # SVG path data through the points with a score
    area: str  # the same, closed down to the axis
    gridlines: tuple[tuple[float, str], ...]  # (y, "100%")
    ticks: tuple[Tick, ...]
    plot_top: int
    plot_bottom: int
    left: int
    right: int


TREND_WIDTH = 640
TREND_HEIGHT = 190


def trend_chart(points: Sequence[TrendPoint]) -> TrendChart | None:
    """The fleet score at each week's end as a line; None when no point has a score."""
    scored = [p for p in points if p.percent is not None]
    if not scored:
        return None
    left, right, top, bottom = 44, 12, 12, TREND_HEIGHT - 28
    low = min(p.percent for p in scored if p.percent is not None)
    floor = max(0.0, min(80.0, (low // 10) * 10))  # zoom in on the range that matters

    def y(percent: float) -> float:
        return round(bottom - (percent - floor) / (100 - floor) * (bottom - top), 1)

    step = (TREND_WIDTH - left - right) / max(1, len(points) - 1)
    plotted: list[PlottedPoint] = []
    ticks: list[Tick] = []
    for index, point in enumerate(points):
        x = round(left + step * index, 1)
        ticks.append(Tick(x, point.label))
        if point.percent is not None:
            plotted.append(
                PlottedPoint(
                    x=x,
                    y=y(point.percent),
                    label=f"{point.percent:.1f}%",
                    title=f"{point.label}: {point.percent:.1f}% of judged rules passing",
                )
            )
    line = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(plotted))
    area = f"{line} L{plotted[-1].x},{bottom} L{plotted[0].x},{bottom} Z"
    grid = tuple(
        (y(level), f"{level:.0f}%") for level in _grid_levels(floor) if floor <= level <= 100
    )
    return TrendChart(
        width=TREND_WIDTH,
        height=TREND_HEIGHT,
        points=tuple(plotted),
        line=line,
        area=area,
        gridlines=grid,
        ticks=tuple(ticks),
        plot_top=top,
        plot_bottom=bottom,
        left=left,
        right=right,
    )


def _grid_levels(floor: float) -> list[float]:
    gap = 5.0 if floor >= 80 else 10.0 if floor >= 50 else 25.0
    levels = []
    level = 100.0
    while level >= floor:
        levels.append(level)
        level -= gap
    return levels
