"""Rolling 1h / 24h / 7d windows per (account, channel) (SPEC §3).

Conversations are kept in tumbling buckets by `opened_at`, one compact record
(`opened_at`, `first_reply_at`) each. Reading at time T sums whole buckets from a
cached aggregate and walks records only in the buckets a window edge cuts
through, so evaluation costs about one step per bucket, not one per
conversation, while staying exact at any T (microsecond times, integer sums).

A bucket's aggregate depends on T only through a few change points per record
(opened, replied, deadline `opened_at + R`); it is cached together with the
interval of T over which it holds, so a wall clock moving forward reuses it
until the next change point and any edit to the bucket drops it.

Setting a conversation is idempotent and moving it (a late, earlier post) is a
remove plus an insert, so replayed or re-emitted outcomes cannot double-count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from socialsla import histogram
from socialsla.conversation import Status, decide
from socialsla.events import MICROS

#: Window names and lengths in seconds, newest (shortest) first.
WINDOWS: Final = {"1h": 3_600, "24h": 86_400, "7d": 604_800}
LONGEST_US: Final = max(WINDOWS.values()) * MICROS
#: The name of the window over every kept conversation (see `SeriesWindows.evaluate`).
ALL: Final = "all"
DEFAULT_BUCKET_US: Final = 900 * MICROS
_FOREVER: Final = 2**63


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
        """The histogram_quantile estimate of the q-quantile in seconds, capped at the max (SPEC §3).

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
    """Everything SPEC §3 says about one (account, channel) at one time."""

    at: int
    windows: dict[str, WindowStats]
    oldest_unanswered_us: int | None

    @property
    def oldest_unanswered_seconds(self) -> float | None:
        """Age of the longest-waiting conversation with no counting reply, within 7 days."""
        return None if self.oldest_unanswered_us is None else self.oldest_unanswered_us / MICROS


class _Sum:
    """A mutable accumulator of record contributions; merged across buckets."""

    __slots__ = ("buckets", "count", "inbound", "max", "missed", "oldest", "responded", "sum")

    def __init__(self) -> None:
        self.inbound = self.responded = self.missed = self.count = self.sum = 0
        self.max: int | None = None
        self.oldest: int | None = None  # smallest opened_at without a reply seen
        self.buckets = [0] * histogram.SIZE

    def add(self, opened: int, first: int | None, at: int, window: int) -> None:
        self.inbound += 1
        status, latency = decide(opened, first, at, window)
        if status is Status.RESPONDED:
            self.responded += 1
        elif status is Status.MISSED:
            self.missed += 1
        if latency is None:
            if self.oldest is None or opened < self.oldest:
                self.oldest = opened
            return
        self.count += 1
        self.sum += latency
        if self.max is None or latency > self.max:
            self.max = latency
        self.buckets[histogram.bucket_of(latency)] += 1

    def merge(self, other: _Sum) -> None:
        self.inbound += other.inbound
        self.responded += other.responded
        self.missed += other.missed
        self.count += other.count
        self.sum += other.sum
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max
        if other.oldest is not None and (self.oldest is None or other.oldest < self.oldest):
            self.oldest = other.oldest
        mine = self.buckets
        for index, value in enumerate(other.buckets):
            if value:
                mine[index] += value

    def freeze(self) -> WindowStats:
        return WindowStats(
            self.inbound,
            self.responded,
            self.missed,
            self.count,
            self.sum,
            self.max,
            tuple(self.buckets),
        )


class _Bucket:
    """The conversations whose opened_at falls in one tumbling interval."""

    __slots__ = ("cache", "records")

    def __init__(self) -> None:
        self.records: dict[str, tuple[int, int | None]] = {}
        self.cache: tuple[int, int, _Sum] | None = None

    def aggregate(self, at: int, window: int) -> _Sum:
        """All records' contribution at `at`, reused while no change point is crossed."""
        cache = self.cache
        if cache is not None and cache[0] <= at < cache[1]:
            return cache[2]
        total, low, high = _Sum(), -_FOREVER, _FOREVER
        for opened, first in self.records.values():
            total.add(opened, first, at, window)
            for point in (opened + window, first):
                if point is None:
                    continue
                if point <= at:
                    low = max(low, point)
                else:
                    high = min(high, point)
            low = max(low, opened)
        self.cache = (low, high, total)
        return total


class SeriesWindows:
    """The rolling windows of one (account, channel), updated one conversation at a time."""

    def __init__(self, response_window_us: int, bucket_us: int = DEFAULT_BUCKET_US) -> None:
        if bucket_us <= 0 or response_window_us <= 0:
            raise ValueError("bucket and response window must be positive")
        self.response_window_us = response_window_us
        self.bucket_us = bucket_us
        self._buckets: dict[int, _Bucket] = {}
        self._where: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._where)

    def records(self) -> Iterator[tuple[str, int, int | None]]:
        """Every kept conversation as (key, opened_at, first_reply_at)."""
        for bucket in self._buckets.values():
            for key, (opened, first) in bucket.records.items():
                yield key, opened, first

    def set(self, key: str, opened_at: int | None, first_reply_at: int | None) -> bool:
        """Record a conversation's current times; returns whether anything changed."""
        if opened_at is None:
            return self.discard(key)
        index = opened_at // self.bucket_us
        record = (opened_at, first_reply_at)
        old_index = self._where.get(key)
        if old_index is not None:
            old_bucket = self._buckets[old_index]
            if old_index == index and old_bucket.records.get(key) == record:
                return False
            self._remove(key, old_index)
        bucket = self._buckets.get(index)
        if bucket is None:
            bucket = self._buckets[index] = _Bucket()
        bucket.records[key] = record
        bucket.cache = None
        self._where[key] = index
        return True

    def discard(self, key: str) -> bool:
        """Forget a conversation; returns whether it was kept."""
        index = self._where.get(key)
        if index is None:
            return False
        self._remove(key, index)
        return True

    def _remove(self, key: str, index: int) -> None:
        bucket = self._buckets[index]
        del bucket.records[key]
        del self._where[key]
        if bucket.records:
            bucket.cache = None
        else:
            del self._buckets[index]

    def expire(self, before: int) -> list[tuple[str, int, int | None]]:
        """Drop and return the conversations of buckets wholly before `before`."""
        dropped: list[tuple[str, int, int | None]] = []
        for index in [i for i in self._buckets if (i + 1) * self.bucket_us <= before]:
            bucket = self._buckets.pop(index)
            for key, (opened, first) in bucket.records.items():
                del self._where[key]
                dropped.append((key, opened, first))
        return dropped

    def evaluate(self, at: int, lifetime: bool = False) -> SeriesStats:
        """The SPEC §3 statistics of every window at time `at` (microseconds).

        With `lifetime`, also an "all" window over every kept conversation, for the
        cumulative counters and histogram that Prometheus rates are taken from.
        """
        window = self.response_window_us
        spans = [(name, at - seconds * MICROS) for name, seconds in WINDOWS.items()]
        if lifetime:
            spans.append((ALL, -_FOREVER))
        sums = {name: _Sum() for name, _ in spans}
        size = self.bucket_us
        for index, bucket in self._buckets.items():
            start = index * size
            last = start + size - 1  # the latest opened_at this bucket can hold
            if start > at:
                continue
            for name, edge in spans:
                if last <= edge:
                    continue  # wholly older than this window
                if start > edge and last <= at:
                    sums[name].merge(bucket.aggregate(at, window))
                else:
                    partial = sums[name]
                    for opened, first in bucket.records.values():
                        if edge < opened <= at:
                            partial.add(opened, first, at, window)
        oldest = sums["7d"].oldest
        return SeriesStats(
            at,
            {name: total.freeze() for name, total in sums.items()},
            None if oldest is None else at - oldest,
        )
