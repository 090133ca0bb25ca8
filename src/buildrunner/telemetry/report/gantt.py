"""The Gantt chart's geometry: one row per worker lane, one bar per attempt, in SVG units.

The chart is drawn by the template as inline SVG (no script needed to see it); this module only
places things: bars from the attempts' stored start and end, a time axis with round steps, and
marks (alerts, escalations, ...) on a row of their own above the workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from buildrunner.telemetry.timeline import Timeline, worker_lanes

WIDTH = 1160  # SVG user units; the chart scales to the page width
LABEL_WIDTH = 150
ROW_HEIGHT = 22
BAR_HEIGHT = 16
AXIS_HEIGHT = 24
MARK_ROW = 18
STEPS_S = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    14400,
    21600,
    43200,
    86400,
)


@dataclass
class Bar:
    task_id: str
    attempt: int
    status: str
    x: float
    y: float
    width: float
    critical: bool
    cache_hit: bool
    title: str
    anchor: str


@dataclass
class Row:
    label: str
    y: float


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class MarkGlyph:
    x: float
    category: str
    level: str
    title: str
    anchor: str | None


@dataclass
class Gantt:
    width: int
    height: int
    plot_x: int
    plot_width: int
    rows: list[Row]
    bars: list[Bar]
    ticks: list[Tick]
    marks: list[MarkGlyph]
    bar_height: int = BAR_HEIGHT
    mark_y: int = AXIS_HEIGHT


def build_gantt(timeline: Timeline, critical: set[str]) -> Gantt:
    start, end = timeline.start, timeline.end
    span = max(end - start, 1e-3)
    plot_width = WIDTH - LABEL_WIDTH - 10
    lanes = worker_lanes(timeline)
    top = AXIS_HEIGHT + MARK_ROW
    rows = [Row(name, top + index * ROW_HEIGHT) for index, name in enumerate(lanes.names)]
    y_of = {tid: top + index * ROW_HEIGHT for index, tid in enumerate(lanes.names.values())}

    def x_of(ts: float) -> float:
        return round(LABEL_WIDTH + (ts - start) / span * plot_width, 2)

    bars = []
    for attempt in timeline.attempts:
        stop = attempt.end if attempt.end is not None else end
        x = x_of(attempt.start)
        seconds = stop - attempt.start
        detail = [f"{attempt.task_id} #{attempt.attempt}", attempt.status, format_seconds(seconds)]
        if attempt.model:
            detail.append(attempt.model)
        if attempt.cost_usd:
            detail.append(f"${attempt.cost_usd:,.4f}")
        if attempt.cache_hit:
            detail.append("cache hit")
        if attempt.task_id in critical:
            detail.append("critical path")
        bars.append(
            Bar(
                attempt.task_id,
                attempt.attempt,
                attempt.status,
                x,
                y_of[lanes.of_attempt[(attempt.task_id, attempt.attempt)]] + 3,
                max(round(x_of(stop) - x, 2), 1.0),
                attempt.task_id in critical,
                attempt.cache_hit,
                " · ".join(detail),
                f"task-{attempt.task_id}",
            )
        )
    marks = [
        MarkGlyph(
            x_of(mark.ts),
            mark.category,
            mark.level,
            f"{format_seconds(mark.ts - start)}: {mark.title}"
            + (f" ({mark.task_id})" if mark.task_id else "")
            + (f" — {mark.detail}" if mark.detail else ""),
            f"task-{mark.task_id}" if mark.task_id else None,
        )
        for mark in timeline.marks
        if start <= mark.ts <= end
    ]
    height = top + max(len(rows), 1) * ROW_HEIGHT + 6
    return Gantt(
        WIDTH, height, LABEL_WIDTH, plot_width, rows, bars, _ticks(span, plot_width), marks
    )


def _ticks(span: float, plot_width: int) -> list[Tick]:
    """Round steps, about one per 110 units of width."""
    wanted = max(2, plot_width // 110)
    step = next((s for s in STEPS_S if span / s <= wanted), STEPS_S[-1])
    ticks = []
    value = 0.0
    while value <= span + 1e-9:
        ticks.append(
            Tick(
                round(LABEL_WIDTH + value / span * plot_width, 2),
                format_seconds(value, round_to=step),
            )
        )
        value += step
    return ticks


def format_seconds(seconds: float, round_to: float | None = None) -> str:
    """`0.42 s`, `12.3 s`, `2 min 5 s`, `1 h 4 min`: short and readable."""
    if round_to is not None and round_to >= 1:
        seconds = round(seconds)
    if seconds < 10:
        digits = 3 if round_to is not None and round_to < 0.01 else 2
        text = f"{seconds:.{digits}f}".rstrip("0").rstrip(".")
        return f"{text or '0'} s"
    if seconds < 60:
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + " s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(seconds) // 60, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"
