"""Stage 2's state: the series this worker owns, partition by partition.

Outcomes are folded into one `SeriesWindows` per (account, channel). The ledger
is grouped by input partition so that a revoked partition's series disappear
from this worker's output at once, and so that only actively owned series are
ever exported (SPEC §6: one exporter per series). It holds no Kafka or
Prometheus objects: the Faust glue feeds it and the collector reads it.

Waits older than the 7d + R horizon are expired from memory; what the
conversations among them contributed to the lifetime counters is kept in
`Totals`, so counters stay monotonic after expiry. (Follow-ups have gauges
only, no counters, so they leave nothing behind.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import orjson

from socialsla import histogram, rows
from socialsla.calendars import Calendar, calendar_for
from socialsla.conversation import Status, decide
from socialsla.outcome import Outcome, series_key
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

    def totals_key(self, partition: int) -> bytes:
        """The stage-2 table key of this series' totals row."""
        return rows.series_key(partition, self.account, self.channel)

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


@dataclass(slots=True)
class Writes:
    """Stage-2 table rows to write: a key is in at most one of `puts` and `deletes`."""

    puts: dict[bytes, bytes] = field(default_factory=dict)
    deletes: set[bytes] = field(default_factory=set)
    #: Conversations moved into their series' totals.
    expired: int = 0

    def put(self, key: bytes, value: bytes) -> None:
        """Write `value` under `key`, replacing a delete of it."""
        self.deletes.discard(key)
        self.puts[key] = value

    def delete(self, key: bytes) -> None:
        """Delete `key`, replacing a put of it."""
        self.puts.pop(key, None)
        self.deletes.add(key)


class Ledger:
    """The series of the partitions this worker actively owns."""

    def __init__(
        self, response_window_us: int, expire_every_us: int = 0, calendars: Sequence[Calendar] = ()
    ) -> None:
        self.response_window_us = response_window_us
        self.expire_every_us = expire_every_us
        #: SPEC §7: a series gets the first calendar that selects it, for its business view.
        self.calendars = tuple(calendars)
        self.partitions: dict[int, dict[str, Series]] = {}
        #: When each series last expired conversations, by the SLA clock.
        self.last_expiry: dict[tuple[int, str], int] = {}

    def series_for(self, partition: int, account: str, channel: str) -> Series:
        """The series, created empty on first sight."""
        owned = self.partitions.setdefault(partition, {})
        key = series_key(account, channel)
        series = owned.get(key)
        if series is None:
            calendar = calendar_for(self.calendars, account, channel)
            series = owned[key] = Series(
                account, channel, SeriesWindows(self.response_window_us, calendar=calendar)
            )
        return series

    def apply(self, partition: int, outcomes: Iterable[Outcome], now_us: int) -> Writes:
        """Stage 2: fold a partition's outcomes into its series; returns the table rows to write.

        A conversation's record is written even when unchanged (when kept), so
        that a changelog that fell behind the local store in a crash catches up
        on redelivery. A series gets its totals row at first sight, so that a
        series with no opened conversation yet (brand replies only) survives a
        handover too. Each series expires what is past the horizon at most once
        per `expire_every_us` of the clock.
        """
        writes = Writes()
        owned = self.partitions.setdefault(partition, {})
        for outcome in outcomes:
            name = series_key(outcome.account, outcome.channel)
            series = owned.get(name)
            if series is None:
                series = self.series_for(partition, outcome.account, outcome.channel)
                writes.put(series.totals_key(partition), series.expired.to_bytes())
            windows = series.windows
            changed = windows.set(outcome.conversation_id, outcome.waits)
            key = rows.series_key(partition, outcome.account, outcome.channel, outcome.conversation_id)
            kept = windows.waits_of(outcome.conversation_id)
            if kept:
                writes.put(key, rows.record_value(kept))
            elif changed:
                writes.delete(key)
            last = self.last_expiry.get((partition, name))
            if last is None or now_us - last >= self.expire_every_us or now_us < last:
                self.last_expiry[partition, name] = now_us
                dropped = self.expire(series, now_us)
                for conversation_id in dropped:
                    key = rows.series_key(partition, series.account, series.channel, conversation_id)
                    kept = series.windows.waits_of(conversation_id)
                    if kept:
                        writes.put(key, rows.record_value(kept))
                    else:
                        writes.delete(key)
                        writes.expired += 1
                if dropped:
                    writes.put(series.totals_key(partition), series.expired.to_bytes())
        return writes

    def restore(self, key: bytes, value: bytes) -> None:
        """Load one stage-2 table row (a conversation or a series' totals) after assignment."""
        row = rows.parse_series_key(key)
        series = self.series_for(row.partition, row.account, row.channel)
        if row.conversation_id is None:
            series.expired = Totals.from_bytes(value)
        else:
            series.windows.set(row.conversation_id, rows.parse_record_value(value))

    def drop(self, partition: int) -> None:
        """Forget a revoked partition: its series leave this worker's output."""
        self.partitions.pop(partition, None)
        for key in [key for key in self.last_expiry if key[0] == partition]:
            del self.last_expiry[key]

    def expire(self, series: Series, now_us: int) -> list[str]:
        """Move waits past the horizon out of memory, conversations into the totals; returns their threads."""
        horizon = now_us - (LONGEST_US + self.response_window_us)
        dropped = series.windows.expire(horizon)
        if not dropped:
            return []
        window = self.response_window_us
        totals = series.expired
        for _, wait in dropped:
            if not wait.conversation:
                continue
            status, latency = decide(wait.start, wait.answer, now_us, window)
            if latency is not None:
                totals.latency_count += 1
                totals.latency_sum_us += latency
                totals.buckets[histogram.bucket_of(latency)] += 1
            if status is Status.RESPONDED:
                totals.responded += 1
            else:
                totals.missed += 1  # past the horizon nothing is pending any more
        return sorted({key for key, _ in dropped})

    def __iter__(self) -> Iterator[Series]:
        for owned in self.partitions.values():
            yield from owned.values()
