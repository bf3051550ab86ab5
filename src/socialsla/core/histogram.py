"""First-reply latency buckets and the quantile estimate.

The quantiles are estimated from bucket counts exactly as Prometheus's
`histogram_quantile` does (promql/quantile.go, `bucketQuantile`), so that a p90
on the wall, in the offline report and in a PromQL query over the exported
histogram agree, up to the cap at the largest latency (applied by
`stats.WindowStats.quantile_seconds`, which knows the max).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Final

from socialsla.core.events import MICROS

#: Upper bounds in seconds; the last bucket (+Inf) is implicit.
BOUNDS_SECONDS: Final = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
_BOUNDS_US: Final = tuple(b * MICROS for b in BOUNDS_SECONDS)
#: Number of buckets including +Inf.
SIZE: Final = len(BOUNDS_SECONDS) + 1


def bucket_of(latency_us: int) -> int:
    """Index of the bucket a latency falls in; bounds are inclusive, like Prometheus's `le`."""
    return bisect.bisect_left(_BOUNDS_US, latency_us)


def quantile(q: float, counts: Sequence[int]) -> float | None:
    """Estimate the q-quantile in seconds from per-bucket (not cumulative) counts."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    cumulative = 0
    for index, count in enumerate(counts[:-1]):
        below = cumulative
        cumulative += count
        if cumulative >= rank:
            start = 0.0 if index == 0 else float(BOUNDS_SECONDS[index - 1])
            end = float(BOUNDS_SECONDS[index])
            if count == 0:  # only when q is 0; Prometheus would divide 0 by 0
                return start
            return start + (end - start) * ((rank - below) / count)
    # The rank lies in the +Inf bucket: Prometheus answers the largest finite bound.
    return float(BOUNDS_SECONDS[-1])


def cumulative(counts: Sequence[int]) -> list[int]:
    """Per-bucket counts turned into Prometheus's cumulative `le` counts."""
    running, out = 0, []
    for count in counts:
        running += count
        out.append(running)
    return out


def upper_bounds() -> list[float]:
    """The `le` values, +Inf last, for exporting the histogram."""
    return [float(b) for b in BOUNDS_SECONDS] + [math.inf]
