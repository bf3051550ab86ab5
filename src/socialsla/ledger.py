"""Stage 2's state: the series this worker owns, partition by partition.

Outcomes are folded into one `SeriesWindows` per (account, channel). The ledger
is grouped by input partition so that a revoked partition's series disappear
from this worker's output at once, and so that only actively owned series are
ever exported (SPEC §6: one exporter per series). It holds no Kafka or
Prometheus objects: the Faust glue feeds it and the collector reads it.

Conversations older than the 7d + R horizon are expired from memory; what they
contributed to the lifetime counters is kept in `Totals`, so counters stay
monotonic after expiry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from socialsla import histogram
from socialsla.outcome import Outcome, series_key, split_series
from socialsla.windows import ALL, LONGEST_US, SeriesStats, SeriesWindows


@dataclass(slots=True)
class Totals:
    """What expired conversations added to the lifetime counters of a series."""

    responded: int = 0
    missed: int = 0
    latency_count: int = 0
    latency_sum_us: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * histogram.SIZE)

    def to_bytes(self) -> bytes:
        """Serialise for the stage-2 table."""
        return orjson.dumps(
            [self.responded, self.missed, self.latency_count, self.latency_sum_us, self.buckets]
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Totals:
        """Inverse of to_bytes."""
        r, m, c, s, b = orjson.loads(raw)
        return cls(r, m, c, s, list(b))


@dataclass(frozen=True, slots=True)
class Lifetime:
    """Cumulative figures of a series: kept conversations plus expired totals."""

    responded: int
    missed: int
    latency_count: int
    latency_sum_us: int
    buckets: tuple[int, ...]


@dataclass(slots=True)
class Series:
    """One (account, channel): its windows and the totals of what expired."""

    account: str
    channel: str
    windows: SeriesWindows
    expired: Totals = field(default_factory=Totals)

    def lifetime(self, stats: SeriesStats) -> Lifetime:
        """Lifetime counters from stats evaluated with lifetime=True."""
        kept = stats.windows[ALL]
        buckets = tuple(a + b for a, b in zip(kept.latency_buckets, self.expired.buckets, strict=True))
        return Lifetime(
            kept.responded + self.expired.responded,
            kept.missed + self.expired.missed,
            kept.latency_count + self.expired.latency_count,
            kept.latency_sum_us + self.expired.latency_sum_us,
            buckets,
        )


class Ledger:
    """The series of the partitions this worker actively owns."""

    def __init__(self, response_window_us: int) -> None:
        self.response_window_us = response_window_us
        self.partitions: dict[int, dict[str, Series]] = {}

    def series_for(self, partition: int, account: str, channel: str) -> Series:
        """The series, created empty on first sight."""
        owned = self.partitions.setdefault(partition, {})
        key = series_key(account, channel)
        series = owned.get(key)
        if series is None:
            series = owned[key] = Series(account, channel, SeriesWindows(self.response_window_us))
        return series

    def knows(self, partition: int, account: str, channel: str) -> bool:
        """Whether the series already exists (so its first sight can be persisted)."""
        return series_key(account, channel) in self.partitions.get(partition, {})

    def apply(self, partition: int, outcome: Outcome) -> bool:
        """Fold one outcome in; returns whether the series' records changed."""
        series = self.series_for(partition, outcome.account, outcome.channel)
        return series.windows.set(outcome.conversation_id, outcome.opened_at, outcome.first_reply_at)

    def restore(self, partition: int, table_key: str, value: bytes) -> None:
        """Load one stage-2 table row (a conversation or a series' totals) after assignment."""
        prefix, _, conversation_id = _split_row(table_key)
        account, channel = split_series(prefix)
        series = self.series_for(partition, account, channel)
        if conversation_id is None:
            series.expired = Totals.from_bytes(value)
        else:
            opened, first = orjson.loads(value)
            series.windows.set(conversation_id, opened, first)

    def drop(self, partition: int) -> None:
        """Forget a revoked partition: its series leave this worker's output."""
        self.partitions.pop(partition, None)

    def expire(self, series: Series, now_us: int) -> list[str]:
        """Move conversations past the horizon into the totals; returns their keys."""
        horizon = now_us - (LONGEST_US + self.response_window_us)
        dropped = series.windows.expire(horizon)
        if not dropped:
            return []
        window = self.response_window_us
        totals = series.expired
        for _, opened, first in dropped:
            if first is not None and first <= now_us:
                latency = first - opened
                totals.latency_count += 1
                totals.latency_sum_us += latency
                totals.buckets[histogram.bucket_of(latency)] += 1
                if latency <= window:
                    totals.responded += 1
                    continue
            totals.missed += 1
        return [key for key, _, _ in dropped]

    def __iter__(self) -> Iterator[Series]:
        for owned in self.partitions.values():
            yield from owned.values()


def conversation_row(outcome: Outcome) -> tuple[str, bytes]:
    """The stage-2 table row of a conversation: key `account|channel|id`, value [o, f]."""
    key = f"{series_key(outcome.account, outcome.channel)}|{outcome.conversation_id}"
    return key, orjson.dumps([outcome.opened_at, outcome.first_reply_at])


def totals_row(series: Series) -> tuple[str, bytes]:
    """The stage-2 table row of a series' expired totals: key `account|channel`."""
    return series_key(series.account, series.channel), series.expired.to_bytes()


def _split_row(key: str) -> tuple[str, str, str | None]:
    account, channel, *rest = key.split("|", 2)
    return f"{account}|{channel}", "|", rest[0] if rest else None
