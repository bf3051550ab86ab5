"""A brute-force oracle: SPEC §3 statistics recomputed from every conversation."""

from __future__ import annotations

from collections.abc import Iterable

from socialsla import histogram
from socialsla.events import MICROS
from socialsla.windows import WINDOWS, SeriesStats, WindowStats


def naive_stats(records: Iterable[tuple[int, int | None]], at: int, response_window_us: int) -> SeriesStats:
    """The statistics by brute force, straight from the SPEC's definitions."""
    records = list(records)
    windows: dict[str, WindowStats] = {}
    oldest: int | None = None
    for name, seconds in WINDOWS.items():
        edge = at - seconds * MICROS
        inside = [(o, f) for o, f in records if edge < o <= at]
        seen = [(o, f) for o, f in inside if f is not None and f <= at]
        latencies = [f - o for o, f in seen]
        responded = sum(1 for latency in latencies if latency <= response_window_us)
        missed = sum(
            1
            for o, f in inside
            if not (f is not None and f <= at and f - o <= response_window_us)
            and at >= o + response_window_us
        )
        counts = [0] * histogram.SIZE
        for latency in latencies:
            counts[histogram.bucket_of(latency)] += 1
        windows[name] = WindowStats(
            len(inside),
            responded,
            missed,
            len(latencies),
            sum(latencies),
            max(latencies) if latencies else None,
            tuple(counts),
        )
        if name == "7d":
            waiting = [o for o, f in inside if f is None or f > at]
            oldest = at - min(waiting) if waiting else None
    return SeriesStats(at, windows, oldest)
