"""A brute-force oracle: SPEC §3, §8 and §9 statistics recomputed from every wait."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from fractions import Fraction

from socialsla import histogram
from socialsla.conversation import Wait
from socialsla.events import MICROS
from socialsla.windows import WINDOWS, SeriesStats, WindowStats

Span = Callable[[int, int], int]


def _wall(a: int, b: int) -> int:
    return b - a


def _window(
    inside: list[tuple[int, int | None]], at: int, response_window_us: int, span: Span
) -> WindowStats:
    seen = [(o, f) for o, f in inside if f is not None and f <= at]
    latencies = [span(o, f) for o, f in seen]
    responded = sum(1 for latency in latencies if latency <= response_window_us)
    missed = sum(
        1
        for o, f in inside
        if not (f is not None and f <= at and span(o, f) <= response_window_us)
        and span(o, at) >= response_window_us
    )
    counts = [0] * histogram.SIZE
    for latency in latencies:
        counts[histogram.bucket_of(latency)] += 1
    return WindowStats(
        len(inside),
        responded,
        missed,
        len(latencies),
        sum(latencies),
        max(latencies) if latencies else None,
        tuple(counts),
    )


def naive_stats(waits: Iterable[Wait], at: int, response_window_us: int, span: Span = _wall) -> SeriesStats:
    """The statistics by brute force, straight from the SPEC's definitions.

    `span(a, b)` measures every duration: wall-clock time by default, or a
    calendar's open time for the business view (SPEC §7).
    """
    waits = list(waits)
    windows: dict[str, WindowStats] = {}
    oldest: int | None = None
    for name, seconds in WINDOWS.items():
        edge = at - seconds * MICROS
        inside = [(w.start, w.answer) for w in waits if w.conversation and edge < w.start <= at]
        follow = [(w.start, w.answer) for w in waits if not w.conversation and edge < w.start <= at]
        conversations = _window(inside, at, response_window_us, span)
        windows[name] = WindowStats(*[getattr(conversations, f) for f in (
            "inbound", "responded", "missed", "latency_count", "latency_sum_us", "latency_max_us",
            "latency_buckets")], _window(follow, at, response_window_us, span))  # fmt: skip
        if name == "7d":
            waiting = [o for o, f in inside if f is None or f > at]
            oldest = max(span(o, at) for o in waiting) if waiting else None
    return SeriesStats(at, windows, oldest)


def naive_fastest_average(waits: Iterable[Wait], at: int, window: str, fraction: Fraction) -> Fraction | None:
    """SPEC §9 avg_of_fastest by sorting every answered conversation of the window."""
    edge = at - WINDOWS[window] * MICROS
    latencies = sorted(w.answer - w.start for w in waits
                       if w.conversation and edge < w.start <= at and w.answer is not None and w.answer <= at)  # fmt: skip
    if not latencies:
        return None
    take = math.ceil(fraction * len(latencies))
    return Fraction(sum(latencies[:take]), take)
