"""Where a cached reading holds: the interval of evaluation times between two change points.

A bucket's figures depend on the evaluation time T only through a few instants
per wait (its start, its answer, its deadline); between two of them nothing
changes, so a reading is cached with the interval `[low, high)` of T it holds
for, and a clock moving forward reuses it until the next change point.
"""

from __future__ import annotations

from typing import Final

#: Later than every instant: the open end of an interval.
FOREVER: Final = 2**63


def narrow(low: int, high: int, at: int, *points: int | None) -> tuple[int, int]:
    """[low, high) around `at`, shrunk to the given change points: where a cached reading holds."""
    for point in points:
        if point is None:
            continue
        if point <= at:
            low = max(low, point)
        else:
            high = min(high, point)
    return low, high
