"""Stage 2's state: the series of the partitions a worker owns, partition by partition.

Outcomes are folded into one `Series` per (account, channel). The ledger is
grouped by outcome partition so that a revoked partition's series disappear
from this worker's output at once, and so that only actively owned series are
ever exported: one worker exports a series at a time. It holds no Kafka or
Prometheus objects: the Faust glue feeds it and the collector reads it.

Its log is `social.outcomes` itself: outcomes are whole and idempotent, so
replaying a partition's messages since `now - (7d + R)` and a day's margin
rebuilds its windows (`restore`), with no table and no per-thread changelog.

Waits older than the 7d + R horizon are expired from memory; what the
conversations among them contributed to the lifetime counters is kept in
`Totals`, with the `floor` below which every wait is counted in them. Totals are
messages of `social.outcomes` too (`totals_message`), sent on the series'
partition at each expiry and again each `RESEND_TOTALS_S`, so the latest is
always within the topic's retention. A replay applies the totals with the
highest floor and drops the waits below it, so each wait is counted once, also
when a crash lost the last totals message (its waits are expired again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from socialsla.core import histogram
from socialsla.core.calendars import Calendar, calendar_for
from socialsla.core.series import DEFAULT_RESOLUTION_WINDOW_US, Series
from socialsla.core.stats import LONGEST_US
from socialsla.core.thread import Status, decide
from socialsla.core.windows import SeriesWindows
from socialsla.core.wire import (
    Outcome,
    decode_outcomes,
    is_totals,
    parse_totals,
    series_key,
    totals_message,
)

#: A series' totals are sent again after this long without one, well within the topic's retention.
RESEND_TOTALS_S = 86_400.0


@dataclass(slots=True)
class Writes:
    """What stage 2 sends back to its own partition of `social.outcomes`: totals messages by series key."""

    totals: dict[bytes, bytes] = field(default_factory=dict)
    #: Conversations moved into their series' totals.
    expired: int = 0


class Ledger:
    """The series of the partitions this worker actively owns."""

    #: Rebuilt here, by the replay calling `load_record` (a `partitions.LogBacked`).
    aside: Callable[[Collection[int], int], Awaitable[dict[int, int]]] | None = None

    def __init__(
        self,
        response_window_us: int,
        expire_every_us: int = 0,
        calendars: Sequence[Calendar] = (),
        resolution_window_us: int = DEFAULT_RESOLUTION_WINDOW_US,
    ) -> None:
        self.response_window_us = response_window_us
        self.resolution_window_us = resolution_window_us
        self.expire_every_us = expire_every_us
        #: A series gets the first calendar (in file order) that selects it, for its business view.
        self.calendars = tuple(calendars)
        self.partitions: dict[int, dict[str, Series]] = {}
        #: When each series last expired conversations, by the SLA clock.
        self.last_expiry: dict[tuple[int, str], int] = {}
        #: Per partition, when each series last sent its totals (time.time()): see `totals_due`.
        self.sent: dict[int, dict[str, float]] = {}
        #: Log messages a replay could not read (each was dead-lettered when first consumed).
        self.unreadable = 0

    def holder(self, partition: int, outcome: Outcome) -> Series | None:
        """The series an outcome goes to; None when its thread has no post and its series does not exist.

        A series exists only through a customer's post. An outcome without waits
        (outreach nobody answered, a resolve or a feedback in a thread without a
        post) counts nowhere: it may empty its thread in a series that exists,
        never create one.
        """
        if outcome.waits:
            return self.series_for(partition, outcome.account, outcome.channel)
        return self.partitions.get(partition, {}).get(series_key(outcome.account, outcome.channel))

    def series_for(self, partition: int, account: str, channel: str) -> Series:
        """The series, created empty on first sight."""
        owned = self.partitions.setdefault(partition, {})
        key = series_key(account, channel)
        series = owned.get(key)
        if series is None:
            calendar = calendar_for(self.calendars, account, channel)
            series = owned[key] = Series(
                account,
                channel,
                SeriesWindows(self.response_window_us, calendar=calendar),
                resolution_window_us=self.resolution_window_us,
            )
        return series

    def apply(self, partition: int, outcomes: Iterable[Outcome], now_us: int) -> Writes:
        """Stage 2: fold a partition's outcomes into its series; returns the totals messages to send.

        Each series expires what is past the horizon at most once per
        `expire_every_us` of the clock; a series that expired anything sends its
        new totals.
        """
        writes = Writes()
        horizon = now_us - (LONGEST_US + self.response_window_us)
        for outcome in outcomes:
            name = series_key(outcome.account, outcome.channel)
            series = self.holder(partition, outcome)
            if series is None:
                continue
            last = self.last_expiry.get((partition, name))
            due = last is None or now_us - last >= self.expire_every_us or now_us < last
            # Expiry comes before the outcome replaces its thread: a thread id used again after
            # its waits passed the horizon (Messenger keeps one per customer and page for years)
            # would otherwise lose its old waits uncounted, and the decided counter would fall.
            if due or series.windows.holds_before(outcome.conversation_id, horizon):
                self.last_expiry[partition, name] = now_us
                dropped = self.expire(series, now_us)
                if dropped:
                    writes.expired += sum(1 for key in dropped if not series.windows.waits_of(key))
                    message = totals_message(series.account, series.channel, series.expired)
                    writes.totals[name.encode()] = message
            series.put(outcome)
        return writes

    def reset(self, partitions: set[int]) -> None:
        """Start these partitions empty, before their replay (a `partitions.LogBacked`)."""
        for partition in partitions:
            self.drop(partition)

    def load_record(self, partition: int, record: Any) -> None:
        """Apply one record of the partition's log (`social.outcomes`), read back in order."""
        value = record.value or b""
        try:
            self.restore(partition, value)
        except ValueError:
            self.unreadable += 1
            return
        if is_totals(value):
            self.sent.setdefault(partition, {})[record.key.decode(errors="replace")] = record.timestamp / 1000

    def restore(self, partition: int, raw: bytes) -> None:
        """Apply one message of the partition's log in a replay; ValueError for a message of neither kind.

        Outcomes replace their threads, as live. Totals take effect only when
        their floor is higher than the series' own, whatever order a zombie or a
        crash left them in: the waits below it are dropped, uncounted, because
        the totals already count them.
        """
        if not is_totals(raw):
            for outcome in decode_outcomes(raw):
                series = self.holder(partition, outcome)
                if series is not None:
                    series.put(outcome)
            return
        account, channel, totals = parse_totals(raw)
        series = self.series_for(partition, account, channel)
        if totals.floor is not None and (series.expired.floor is None or totals.floor > series.expired.floor):
            series.expired = totals
            series.windows.expire(totals.floor)
            series.windows.floor = max(series.windows.floor, totals.floor)
            series.prune_early_resolves()

    def totals_due(self, partition: int, now_s: float) -> Iterator[tuple[bytes, bytes]]:
        """Totals messages of a partition's series whose last one is older than `RESEND_TOTALS_S`.

        A quiet series expires nothing and sends no totals, but its last totals
        must stay within the topic's retention for a replay to find them. Each
        one yielded is noted sent at `now_s`.
        """
        sent = self.sent.setdefault(partition, {})
        for name, series in self.partitions.get(partition, {}).items():
            if series.expired.floor is not None and now_s - sent.get(name, 0.0) >= RESEND_TOTALS_S:
                sent[name] = now_s
                yield name.encode(), totals_message(series.account, series.channel, series.expired)

    def drop(self, partition: int) -> None:
        """Forget a revoked partition: its series leave this worker's output."""
        self.partitions.pop(partition, None)
        self.sent.pop(partition, None)
        for key in [key for key in self.last_expiry if key[0] == partition]:
            del self.last_expiry[key]

    def expire(self, series: Series, now_us: int) -> list[str]:
        """Move waits past the horizon out of memory, conversations into the totals; returns their threads."""
        horizon = now_us - (LONGEST_US + self.response_window_us)
        series.surveys.expire(horizon)
        dropped = series.windows.expire(horizon)
        series.prune_early_resolves()
        if not dropped:
            return []
        series.expired.floor = series.windows.floor
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

    def existing(self, at: int, partitions: Collection[int] | None = None) -> Iterator[Series]:
        """The series that exist at `at`, of these partitions (default: all): what is reported and exported.

        A series is kept from its thread's first outcome with a wait, and a
        live post may be up to a few minutes ahead of the clock; until one of
        its posts is seen at `at`, the series does not exist yet.
        """
        for partition, owned in self.partitions.items():
            if partitions is None or partition in partitions:
                for series in owned.values():
                    if series.exists_at(at):
                        yield series
