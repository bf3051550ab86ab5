"""What a series' windows say at one time: the windows, and the result types every reader shares.

The report's table and JSON, `/metrics`, the rules and the on-call board all
read these values; only `windows.py` and its accumulators make them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from socialsla.core import histogram
from socialsla.core.events import MICROS

#: Window names and lengths in seconds, newest (shortest) first.
WINDOWS: Final = {"1h": 3_600, "24h": 86_400, "7d": 604_800}
LONGEST_US: Final = max(WINDOWS.values()) * MICROS
#: The name of the window over every kept conversation (see `SeriesWindows.evaluate`).
ALL: Final = "all"


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Counts and first-reply latency of the conversations opened in one window."""

    inbound: int
    responded: int
    missed: int
    latency_count: int
    latency_sum_us: int
    latency_max_us: int | None
    latency_buckets: tuple[int, ...]
    #: The same figures for the window's follow-ups that are not conversations (next-reply time).
    next_reply: WindowStats | None = None

    @property
    def pending(self) -> int:
        """Opened in the window and neither responded nor missed yet."""
        return self.inbound - self.responded - self.missed

    @property
    def decided(self) -> int:
        """Responded plus missed: the denominator of the response rate."""
        return self.responded + self.missed

    @property
    def response_rate(self) -> float | None:
        """responded / (responded + missed), or None when nothing is decided."""
        return self.responded / self.decided if self.decided else None

    @property
    def response_rate_worst(self) -> float | None:
        """responded / inbound: pending counted as missed."""
        return self.responded / self.inbound if self.inbound else None

    @property
    def avg_seconds(self) -> float | None:
        """Mean first-reply latency in seconds."""
        if not self.latency_count:
            return None
        return self.latency_sum_us / self.latency_count / MICROS

    @property
    def max_seconds(self) -> float | None:
        """Largest first-reply latency in seconds."""
        return None if self.latency_max_us is None else self.latency_max_us / MICROS

    def quantile_seconds(self, q: float) -> float | None:
        """The histogram_quantile estimate of the q-quantile in seconds, capped at the max.

        Interpolating inside a wide bucket can land above the slowest reply the
        bucket holds (`p90 102.0m, max 92.8m`); a summary never exceeds what it
        summarises, so the report, the gauges and rules all read the capped value.
        """
        estimate = histogram.quantile(q, self.latency_buckets)
        if estimate is None or self.latency_max_us is None:
            return estimate
        return min(estimate, self.latency_max_us / MICROS)


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """One series' windows at one time, and its oldest unanswered conversation."""

    at: int
    windows: dict[str, WindowStats]
    oldest_unanswered_us: int | None

    @property
    def oldest_unanswered_seconds(self) -> float | None:
        """Age of the longest-waiting conversation with no counting reply, within 7 days."""
        return None if self.oldest_unanswered_us is None else self.oldest_unanswered_us / MICROS


@dataclass(frozen=True, slots=True)
class ResolutionStats:
    """Resolution figures of the conversations opened in one window, seen at T."""

    resolved: int
    in_time: int
    overdue: int
    reopened: int
    first_contact: int
    #: The resolution times of the resolved ones, as latencies (count, sum, max, histogram).
    seconds: WindowStats

    @property
    def resolution_rate(self) -> float | None:
        """in_time / (in_time + overdue), None when both are 0."""
        decided = self.in_time + self.overdue
        return self.in_time / decided if decided else None

    @property
    def first_contact_rate(self) -> float | None:
        """first_contact / resolved, None when nothing is resolved."""
        return self.first_contact / self.resolved if self.resolved else None
