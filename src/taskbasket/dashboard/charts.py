"""The overview's charts: samples of task counts drawn as SVG polyline coordinates.

Pure functions of a sequence of ``Sample``s, so they are tested without a store.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from taskbasket.dashboard.sampling import Sample
from taskbasket.task import State

CHART_WIDTH = 600
CHART_HEIGHT = 120
PENDING = (State.QUEUED, State.SCHEDULED, State.RETRYING)


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= value (at least 1)."""
    if value <= 1:
        return 1.0
    scale = 10.0 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _rates(samples: Sequence[Sample], state: State) -> list[tuple[float, float]]:
    """Per-second growth of a state's count between consecutive samples (never below 0).

    Derived from counts, so it undercounts when tasks leave the state between two samples
    (a failed task retried, finished tasks cleaned): the dashboard shows a trend, not an
    audit.
    """
    points = []
    for previous, current in itertools.pairwise(samples):
        elapsed = current.at - previous.at
        if elapsed > 0:
            grown = current.totals[state] - previous.totals[state]
            points.append((current.at, max(0, grown) / elapsed))
    return points


def _chart(
    key: str, title: str, unit: str, series: Sequence[tuple[str, list[tuple[float, float]]]],
    start: float, end: float,
) -> dict[str, Any]:
    top = _nice_ceiling(max((v for _, pts in series for _, v in pts), default=0.0))
    width = max(end - start, 1e-9)
    drawn = []
    for name, points in series:
        coords = " ".join(
            f"{(t - start) / width * CHART_WIDTH:.1f},"
            f"{CHART_HEIGHT - v / top * CHART_HEIGHT:.1f}"
            for t, v in points if t >= start
        )
        last = points[-1][1] if points else 0.0
        drawn.append({"key": name, "points": coords, "last": f"{_number(last)}{unit}"})
    return {
        "key": key, "title": title, "top": f"{_number(top)}{unit}",
        "span": f"last {_span(end - start)}" if end > start else "collecting samples…",
        "series": drawn,
    }


def charts(history: Sequence[Sample], window: float) -> list[dict[str, Any]]:
    """The overview's two charts: finishes per second, and tasks waiting or running."""
    end = history[-1].at if history else 0.0
    start = max(history[0].at, end - window) if history else 0.0
    samples = [s for s in history if s.at >= start]
    return [
        _chart("finished", "Finished per second", "/s", [
            (State.SUCCEEDED.value, _rates(samples, State.SUCCEEDED)),
            (State.FAILED.value, _rates(samples, State.FAILED)),
        ], start, end),
        _chart("backlog", "Waiting and running", "", [
            ("waiting", [(s.at, float(sum(s.totals[p] for p in PENDING))) for s in samples]),
            (State.RUNNING.value, [(s.at, float(s.totals[State.RUNNING])) for s in samples]),
        ], start, end),
    ]
