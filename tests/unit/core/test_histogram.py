"""Latency buckets and the histogram_quantile estimate."""

from __future__ import annotations

import pytest

from socialsla.core import histogram
from socialsla.core.events import MICROS


def counts(*latencies: float) -> list[int]:
    out = [0] * histogram.SIZE
    for seconds in latencies:
        out[histogram.bucket_of(round(seconds * MICROS))] += 1
    return out


@pytest.mark.parametrize(
    ("seconds", "index"),
    [
        pytest.param(0, 0, id="zero"),
        pytest.param(30, 0, id="on-first-bound"),
        pytest.param(30.000001, 1, id="just-over-first-bound"),
        pytest.param(900, 5, id="exactly-15-minutes"),
        pytest.param(86400, 11, id="exactly-24h"),
        pytest.param(86401, 12, id="over-24h-is-inf"),
    ],
)
def test_bounds_are_inclusive(seconds: float, index: int) -> None:
    """A latency on a bound falls in that bucket, as with Prometheus's le."""
    assert histogram.bucket_of(round(seconds * MICROS)) == index


def test_a_300_s_latency_interpolates_within_its_bucket() -> None:
    """One 300 s latency, in the bucket (120, 300], interpolates to p50 = 210 and p90 = 282."""
    assert histogram.quantile(0.5, counts(300)) == 210.0
    assert histogram.quantile(0.9, counts(300)) == 282.0


def test_interpolates_within_the_bucket_of_the_rank() -> None:
    """Ranks inside a bucket interpolate linearly between its bounds."""
    # 4 observations: 10 s, 20 s (<=30), 50 s (<=60), 100 s (<=120); rank 0.5*4=2 ends bucket 0.
    assert histogram.quantile(0.5, counts(10, 20, 50, 100)) == 30.0
    # rank 0.9*4=3.6: bucket (60,120] holds the 4th; 60 + 60*(0.6/1)
    assert histogram.quantile(0.9, counts(10, 20, 50, 100)) == pytest.approx(96.0)


def test_rank_in_inf_bucket_answers_largest_bound() -> None:
    """When the rank falls in +Inf, the answer is the largest finite bound."""
    assert histogram.quantile(0.9, counts(10, 100_000)) == 86400.0


def test_empty_histogram_has_no_quantile() -> None:
    """No observations, no estimate."""
    assert histogram.quantile(0.5, [0] * histogram.SIZE) is None


def test_cumulative_counts() -> None:
    """Cumulative counts end with the total, for the +Inf le."""
    cum = histogram.cumulative(counts(10, 50, 50, 100_000))
    assert cum[0] == 1
    assert cum[1] == 3
    assert cum[-1] == 4
    assert histogram.upper_bounds()[-1] == float("inf")
