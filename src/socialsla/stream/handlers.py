"""The two stages as handlers: a batch of input records in, the records to send out.

No Faust and no awaits: a handler reads and writes its stage's local state
(stage 1's `ThreadStore`, stage 2's `Ledger`) and says what must be sent, and
the agent around it (`faust_agents.py`) sends that. So every rule about what
is accepted, dead-lettered, stored, logged and passed on is tested on plain
records, without a broker (tests/unit/test_handlers.py).

* `ThreadsStage` (stage 1): input events to thread states, log records and
  outcomes. It reads each thread a batch touches once (one multi-get per
  partition's store), folds the batch with `fold.fold` (the offline report's
  fold), stores the changed threads and returns their log records, one or more
  per input partition, and each touched thread's outcome, grouped per series
  into messages to `social.outcomes` keyed `account|channel`: that is the
  re-keying, so each series is on one partition of stage 2's input. It also
  purges a few expired threads per batch.
* `SeriesStage` (stage 2): outcome messages to the windows, with `Ledger.apply`
  (the report's stage 2 too). Its only sends are the totals of expired waits,
  back to the series' own partition, where a replay finds them.

Invalid input is dead-lettered with its reason and counted (`Admission`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from socialsla.core import fold, thread
from socialsla.core.events import MICROS, Event, InvalidEvent, decode
from socialsla.core.fold import Folded, ThreadKey
from socialsla.core.ledger import Ledger
from socialsla.core.thread import Thread
from socialsla.core.wire import SEPARATOR, Outcome, chunks, decode_outcomes, encode_outcomes, is_totals
from socialsla.stream.counters import PipelineMetrics
from socialsla.stream.partitions import Partitions
from socialsla.stream.settings import Settings
from socialsla.stream.thread_store import ThreadStore

log = logging.getLogger(__name__)

#: Threads looked at for purging per event of the partition in a batch:
#: each event can add at most one row, so the purge keeps pace with any inflow.
SWEEP_PER_EVENT = 2


@dataclass(slots=True)
class Sends:
    """What a handler has to send: per topic, in order."""

    #: (input message, reason) for the dead-letter topic: its key and bytes, the reason in a header.
    deadletters: list[tuple[Any, str]] = field(default_factory=list)
    #: (input partition, record) for stage 1's log: each on its input's partition.
    log: list[tuple[int, bytes]] = field(default_factory=list)
    #: (series key, message) for `social.outcomes`.
    outcomes: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: (partition, series key, totals message) back to stage 2's own partition of `social.outcomes`.
    totals: list[tuple[int, bytes, bytes]] = field(default_factory=list)


class Rejected(NamedTuple):
    """Why an input message is dead-lettered, and its event type when known."""

    reason: str
    kind: str


class Admission:
    """The one door input passes: decoding, the key rule and the series cap; the rest is dead-lettered."""

    def __init__(self, settings: Settings, metrics: PipelineMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        #: Series this worker has admitted since it started: the cap of SOCIALSLA_MAX_SERIES.
        self.admitted: set[str] = set()
        metrics.series_limit.set(settings.max_series)

    def admit(self, message: Any, now_us: int) -> Event | Rejected:
        """The event of an input message, or why it must be dead-lettered."""
        if message.value is None:
            return Rejected("empty message (tombstone)", "unknown")
        try:
            item = decode(message.value, now_us)
            if message.key != item.conversation_id.encode():
                raise InvalidEvent("Kafka key must be the conversation_id (one partition per thread)")
        except InvalidEvent as exc:
            return Rejected(exc.reason, "unknown")
        series = item.account + SEPARATOR + item.channel
        if series not in self.admitted:
            limit = self.settings.max_series
            if len(self.admitted) >= limit:
                self.metrics.series_rejected.inc()
                reason = f"series limit reached: {limit} account/channel pairs (SOCIALSLA_MAX_SERIES)"
                return Rejected(reason, item.kind)
            self.admitted.add(series)
            self.metrics.series_admitted.set(len(self.admitted))
        return item

    def reject(self, sends: Sends, message: Any, reason: str, kind: str) -> None:
        """Dead-letter a message, and count it invalid."""
        sends.deadletters.append((message, reason))
        self.metrics.events.labels(kind, "invalid").inc()
        self.metrics.deadletters.inc()


@dataclass(slots=True)
class _Sweep:
    """A partition's walk over its threads, looking for ones to purge."""

    keys: list[bytes] = field(default_factory=list)
    started: float = float("-inf")


class ThreadsStage:
    """Stage 1: input events to thread states (`ThreadStore`) and outcomes."""

    def __init__(
        self,
        settings: Settings,
        admission: Admission,
        metrics: PipelineMetrics,
        threads: ThreadStore,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        """`wall` paces the purge's sweeps (seconds, monotonic); a test moves it instead of sleeping."""
        self.wall = wall
        self.settings = settings
        self.admission = admission
        self.metrics = metrics
        self.threads = threads
        self.newest = 0  # created_at of the newest event seen
        self.sweeps: dict[int, _Sweep] = {}
        self.unreadable = 0  # states of an older format met, each started afresh

    def readable(self, stored: bytes) -> Thread:
        """A stored thread; one of an older socialsla starts the thread afresh, loudly."""
        try:
            return Thread.from_bytes(stored)
        except ValueError:
            self.unreadable += 1
            if self.unreadable == 1:
                log.error(
                    "socialsla: log %s holds states of an older socialsla; such threads restart from "
                    "their next event. Start the worker with a new SOCIALSLA_APP_ID to rebuild every "
                    "state from the input topics.",
                    self.threads.log_topic,
                )
            return Thread()

    def handle(self, messages: list[Any], now_us: int) -> Sends:
        """Fold a batch of input messages; every partition among them must be loaded."""
        sends = Sends()
        items, source = self._admitted(messages, now_us, sends)
        where, stored = self._stored(items, source)
        states = {key: self.readable(raw) for key, raw in stored.items() if raw is not None}
        rejected: list[tuple[Event, str]] = []
        not_before = now_us - self.settings.horizon_us
        folded = fold.fold(
            states, items, not_before, self.settings.policy, lambda e, why: rejected.append((e, why))
        )
        for item, why in rejected:
            self.admission.reject(sends, source[id(item)], why, item.kind)
        self._write(sends, folded, where, stored)
        self._outcomes(sends, folded.outcomes())
        self._count(folded, items)
        for partition, count in Counter(message.partition for message in messages).items():
            if partition in self.threads.stores:
                self.sweep(partition, now_us, SWEEP_PER_EVENT * count)
        return sends

    def _admitted(self, messages: list[Any], now_us: int, sends: Sends) -> tuple[list[Event], dict[int, Any]]:
        """The batch's events, and each one's message by `id(event)` (for what the fold rejects)."""
        items: list[Event] = []
        source: dict[int, Any] = {}
        for message in messages:
            item = self.admission.admit(message, now_us)
            if isinstance(item, Rejected):
                self.admission.reject(sends, message, item.reason, item.kind)
                continue
            items.append(item)
            source[id(item)] = message
        return items, source

    def _stored(
        self, items: list[Event], source: dict[int, Any]
    ) -> tuple[dict[ThreadKey, int], dict[ThreadKey, bytes | None]]:
        """Each touched thread's input partition, and its stored state: one multi-get per partition."""
        where: dict[ThreadKey, int] = {}  # the input partition whose store holds the thread
        for item in items:
            where.setdefault(fold.key_of(item), source[id(item)].partition)
        stored: dict[ThreadKey, bytes | None] = {}
        for partition in {message.partition for message in source.values()}:
            keys = [key for key, at in where.items() if at == partition]
            found = self.threads.get_many(partition, [key.encode() for key in keys])
            stored.update(zip(keys, found, strict=True))
        return where, stored

    def _write(
        self, sends: Sends, folded: Folded, where: dict[ThreadKey, int], stored: dict[ThreadKey, bytes | None]
    ) -> None:
        """Store the threads the fold changed, and say which log records carry them."""
        changed: dict[int, dict[bytes, bytes]] = {}
        for key, state in folded.states.items():
            raw = state.to_bytes()
            # A thread only duplicates touched is not written: the log has it already (the
            # store is rebuilt from nothing but the log). Its outcome is sent again all the
            # same: after a crash that lost an outcome message, the redelivery is its chance.
            if raw != stored[key]:
                changed.setdefault(where[key], {})[key.encode()] = raw
        for partition, states_of_partition in changed.items():
            sends.log.extend(
                (partition, record) for record in self.threads.put(partition, states_of_partition)
            )

    def _count(self, folded: Folded, items: list[Event]) -> None:
        """The events counted by how each was taken, and the newest one's time."""
        for (kind, counted_as), count in folded.tally.items():
            self.metrics.events.labels(kind, counted_as).inc(count)
        newest = max((item.created_at for item in items), default=0)
        if newest > self.newest:
            self.newest = newest
            self.metrics.last_event.set(newest / MICROS)

    def _outcomes(self, sends: Sends, outcomes: list[Outcome]) -> None:
        """Outcomes grouped by series, a few hundred per message."""
        by_series: dict[bytes, list[Outcome]] = {}
        for outcome in outcomes:
            by_series.setdefault(outcome.key(), []).append(outcome)
        for series_key, results in by_series.items():
            sends.outcomes.extend((series_key, encode_outcomes(chunk)) for chunk in chunks(results))
            self.metrics.outcomes_sent.inc(len(results))

    def sweep(self, partition: int, now_us: int, step: int) -> None:
        """Purge up to `step` threads of this partition's store that nothing can change any more.

        Every thread is looked at once per `SOCIALSLA_PURGE_INTERVAL`. Nothing is
        written: the log's old records age out with its retention, and a replay
        leaves out what this sweep would purge.
        """
        state = self.sweeps.setdefault(partition, _Sweep())
        if not state.keys:
            if self.wall() - state.started < self.settings.purge_interval:
                return
            state.started = self.wall()
            state.keys = self.threads.keys(partition)
        horizon = self.settings.horizon_us
        for _ in range(min(step, len(state.keys))):
            key = state.keys.pop()
            value = self.threads.get(partition, key)
            if value is not None and thread.expired(self.readable(value), now_us, horizon):
                self.threads.delete(partition, key)
                self.metrics.expired.labels("conversations").inc()


class SeriesStage:
    """Stage 2: outcome messages to the ledger's windows; totals of expired waits back to their partition."""

    def __init__(
        self, admission: Admission, metrics: PipelineMetrics, ledger: Ledger, partitions: Partitions
    ) -> None:
        self.admission = admission
        self.metrics = metrics
        self.ledger = ledger
        self.partitions = partitions

    def handle(self, messages: list[Any], now_us: int) -> Sends:
        """Apply outcome messages to their partitions' series, but what their replay applied already.

        Totals messages are this stage's own, applied when they were sent.
        """
        sends = Sends()
        replayed = self.partitions.replayed
        now_s = time.time()
        for message in messages:
            partition = message.partition
            value = message.value or b""
            if replayed(self.ledger, partition, message.offset) or is_totals(value):
                continue
            try:
                outcomes = decode_outcomes(value)
            except ValueError as exc:
                self.admission.reject(sends, message, str(exc)[:200], "unknown")
                continue
            writes = self.ledger.apply(partition, outcomes, now_us)
            sent = self.ledger.sent.setdefault(partition, {})
            for key, totals in writes.totals.items():
                sends.totals.append((partition, key, totals))
                sent[key.decode()] = now_s
            if writes.expired:
                self.metrics.expired.labels("series").inc(writes.expired)
            self.metrics.outcomes.inc(len(outcomes))
        return sends

    def totals_due(self, now_s: float) -> Sends:
        """The totals of loaded series whose last totals message is a day old (`ledger.RESEND_TOTALS_S`)."""
        sends = Sends()
        for partition in sorted(self.partitions.loaded(self.ledger)):
            due = self.ledger.totals_due(partition, now_s)
            sends.totals.extend((partition, key, value) for key, value in due)
        return sends
