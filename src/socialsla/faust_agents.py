"""The two Faust agents, as adapters: decode, read their state, call the pure stage, write what it returns.

Topics, keys and state, and why (neither agent uses a Faust table):

* stage 1, `Conversations.run`: reads `social.posts` + `social.replies` (one
  co-partitioned channel, key = conversation_id) in batches (`take_events`).
  Its thread states (`thread_store.py`) live per input partition, because every
  event of a conversation arrives on one partition. A batch reads each thread it
  touches once, folds its events with `stages.fold` (the offline report's fold),
  writes the changed ones to its log in a record per partition (512 KiB at most), and sends
  each summary once, grouped per series into messages to `social.outcomes`
  keyed `account|channel`: that is the re-keying, so each series is on one
  partition of stage 2's input.
* stage 2, `Series.run`: reads `social.outcomes`; `Ledger.apply` folds the
  outcomes into the in-memory windows. The topic is stage 2's log: a partition
  it comes to own is rebuilt by replaying it (`ownership.py`). The only messages
  it writes are the totals of expired waits, back to the series' own partition.
  Prometheus reads the windows through the collector at scrape time.

Invalid input goes to `social.deadletter` (original key and bytes, reason in a
header) and is counted. A batch's events are acknowledged only after the batch is
processed, and Faust flushes the producer (logs and outcomes) before it commits,
so input stays at-least-once. The purge of expired threads runs inside stage 1,
a few per batch.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from socialsla import conversation, rows, stages, stalls
from socialsla.clock import Clock
from socialsla.conversation import Conversation
from socialsla.events import MICROS, Event, InvalidEvent, decode
from socialsla.metrics import PipelineMetrics
from socialsla.ownership import Ownership
from socialsla.rows import ConversationKey
from socialsla.series import Ledger
from socialsla.settings import Settings
from socialsla.thread_store import Threads
from socialsla.wire import SEPARATOR, Outcome, chunks, encode, is_totals
from socialsla.wire import decode as decode_outcomes

log = logging.getLogger(__name__)

#: Threads looked at for purging per event of the partition in a batch:
#: each event can add at most one row, so the purge keeps pace with any inflow.
SWEEP_PER_EVENT = 2


class Screen:
    """The one door input passes: decoding, the key rule and the series cap; the rest is dead-lettered."""

    def __init__(self, settings: Settings, metrics: PipelineMetrics, deadletter_topic: Any) -> None:
        self.settings = settings
        self.metrics = metrics
        self.topic = deadletter_topic
        #: Series this worker has admitted since it started: the cap of SOCIALSLA_MAX_SERIES.
        self.admitted: set[str] = set()
        metrics.series_limit.set(settings.max_series)

    async def dead_letter(self, message: Any, reason: str, kind: str) -> None:
        """Send a message to the dead-letter topic with its reason and source, and count it."""
        headers = [
            ("reason", reason.encode()),
            ("source", f"{message.topic}/{message.partition}/{message.offset}".encode()),
        ]
        await stalls.logged(
            self.topic.send(key=message.key, value=message.value or b"", headers=headers),
            lambda: f"the Kafka client to take a dead letter for {self.settings.topic_deadletter}",
        )
        self.metrics.events.labels(kind, "invalid").inc()
        self.metrics.deadletters.inc()

    def admit(self, message: Any, now_us: int) -> Event | Rejected:
        """The event of an input message, or why it must be dead-lettered.

        Synchronous, as it runs once per event: only a rejection needs the
        dead-letter send (`dead_letter`), which the caller awaits.
        """
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


class Rejected(NamedTuple):
    """Why an input message is dead-lettered, and its event type when known."""

    reason: str
    kind: str


@dataclass(slots=True)
class _Sweep:
    """A partition's walk over its conversation rows, looking for ones to purge."""

    keys: list[bytes] = field(default_factory=list)
    started: float = float("-inf")


@dataclass(eq=False)  # identity hashing: Faust keeps the bound `run` of each agent
class _Agent:
    """What both agents hold: settings, the SLA clock, the door for input, counters."""

    settings: Settings
    clock: Clock
    screen: Screen
    metrics: PipelineMetrics
    progress: Callable[[], None]  # called when the agent takes a batch


@dataclass(eq=False)
class Conversations(_Agent):
    """Stage 1: events to thread states (`thread_store.py`) and outcomes (`social.outcomes`)."""

    threads: Threads
    outcomes_topic: Any
    newest: int = 0  # created_at of the newest event seen
    sweeps: dict[int, _Sweep] = field(default_factory=dict)
    unreadable: int = 0  # states of an older format met, each started afresh

    def readable(self, stored: bytes) -> Conversation:
        """A stored thread; a row of an older socialsla starts the thread afresh, loudly."""
        try:
            return Conversation.from_bytes(stored)
        except ValueError:
            self.unreadable += 1
            if self.unreadable == 1:
                log.error(
                    "socialsla: log %s holds states of an older socialsla; such threads restart from "
                    "their next event. Start the worker with a new SOCIALSLA_APP_ID to rebuild every "
                    "state from the input topics.",
                    self.threads.loader.topic,
                )
            return Conversation()

    async def run(self, stream: Any) -> None:
        """The agent: one batch at a time."""
        settings = self.settings
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            self.progress()
            await self.process(batch)

    async def process(self, batch: list[Any]) -> None:
        """Read the touched threads, fold, log the changed ones, send the outcomes, purge a little."""
        now_us = self.clock.now_us()
        threads = self.threads
        items: list[Event] = []
        source: dict[int, Any] = {}  # id(item) -> its message, to dead-letter what the fold rejects
        for event in batch:
            message = event.message
            item = self.screen.admit(message, now_us)
            if isinstance(item, Rejected):
                await self.screen.dead_letter(message, item.reason, item.kind)
                continue
            items.append(item)
            source[id(item)] = message
        # The threads the batch touches, each read once, by one multi-get per partition's store;
        # nothing awaited from the load to the reads, so no revocation comes between.
        partitions = {message.partition for message in source.values()}
        await threads.ensure_loaded(partitions)
        where: dict[ConversationKey, int] = {}  # the input partition whose store holds the thread
        for item in items:
            where.setdefault(stages.key_of(item), source[id(item)].partition)
        stored: dict[ConversationKey, bytes | None] = {}
        for partition in partitions:
            keys = [key for key, at in where.items() if at == partition]
            found = threads.get_many(partition, [rows.conversation_key(key) for key in keys])
            stored.update(zip(keys, found, strict=True))
        states = {key: self.readable(raw) for key, raw in stored.items() if raw is not None}
        rejected: list[tuple[Event, str]] = []
        not_before = now_us - self.settings.horizon_us
        folded = stages.fold(
            states, items, not_before, self.settings.policy, lambda e, why: rejected.append((e, why))
        )
        for item, why in rejected:
            await self.screen.dead_letter(source[id(item)], why, item.kind)
        changed: dict[int, dict[bytes, bytes]] = {}
        for key, state in folded.states.items():
            raw = state.to_bytes()
            # A thread only duplicates touched is not written: the log has it already (the
            # store is rebuilt from nothing but the log). Its outcome is sent again all the
            # same: after a crash that lost an outcome message, the redelivery is its chance.
            if raw != stored[key]:
                changed.setdefault(where[key], {})[rows.conversation_key(key)] = raw
        for partition, states_of_partition in changed.items():
            await threads.write(partition, states_of_partition)
        await self.send(folded.outcomes())
        for (kind, outcome), count in folded.tally.items():
            self.metrics.events.labels(kind, outcome).inc(count)
        newest = max((item.created_at for item in items), default=0)
        if newest > self.newest:
            self.newest = newest
            self.metrics.last_event.set(newest / MICROS)
        events_of_partition = Counter(event.message.partition for event in batch)
        for partition, count in events_of_partition.items():
            if partition in threads.stores:
                self.sweep(partition, now_us, SWEEP_PER_EVENT * count)

    async def send(self, outcomes: list[Outcome]) -> None:
        """Send outcomes grouped by series, a few hundred per message."""
        by_series: dict[bytes, list[Outcome]] = {}
        for outcome in outcomes:
            by_series.setdefault(outcome.key(), []).append(outcome)
        for series_key, results in by_series.items():
            for chunk in chunks(results):
                await stalls.logged(
                    self.outcomes_topic.send(key=series_key, value=encode(chunk)),
                    lambda: (
                        f"the Kafka client to take an outcome message for {self.settings.topic_outcomes} "
                        f"(its batch for the partition is full until the broker answers)"
                    ),
                )
            self.metrics.outcomes_sent.inc(len(results))

    def sweep(self, partition: int, now_us: int, step: int) -> None:
        """Purge up to `step` threads of this partition's store that nothing can change any more.

        Every thread is looked at once per `SOCIALSLA_PURGE_INTERVAL`. Nothing is
        written: the log's old records age out with its retention, and a replay
        keeps what it reads until this sweep purges it again.
        """
        state = self.sweeps.setdefault(partition, _Sweep())
        if not state.keys:
            if time.monotonic() - state.started < self.settings.purge_interval:
                return
            state.started = time.monotonic()
            state.keys = self.threads.keys(partition)
        horizon = self.settings.horizon_us
        for _ in range(min(step, len(state.keys))):
            key = state.keys.pop()
            value = self.threads.get(partition, key)
            if value is not None and conversation.expired(self.readable(value), now_us, horizon):
                self.threads.delete(partition, key)
                self.metrics.expired.labels("conversations").inc()


@dataclass(eq=False)
class Series(_Agent):
    """Stage 2: outcomes to the windows of the ledger; totals of expired waits back to its partition."""

    ledger: Ledger
    ownership: Ownership
    outcomes_topic: Any

    async def run(self, stream: Any) -> None:
        """The agent: one batch of outcome messages at a time."""
        settings = self.settings
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            self.progress()
            for event in batch:
                await self.process(event)

    async def process(self, event: Any) -> None:
        """Apply one outcome message to its partition's series, unless the partition's replay did."""
        message = event.message
        partition = message.partition
        await self.ownership.ensure_loaded(partition)
        value = message.value or b""
        if self.ownership.replayed(partition, message.offset) or is_totals(value):
            return  # totals are this stage's own, applied when they were sent
        try:
            outcomes = decode_outcomes(value)
        except ValueError as exc:
            await self.screen.dead_letter(message, str(exc)[:200], "unknown")
            return
        writes = self.ledger.apply(partition, outcomes, self.clock.now_us())
        sent = self.ownership.totals_sent.setdefault(partition, {})
        for key, totals in writes.totals.items():
            await self.send_totals(partition, key, totals)
            sent[key.decode()] = time.time()
        if writes.expired:
            self.metrics.expired.labels("series").inc(writes.expired)
        self.metrics.outcomes.inc(len(outcomes))

    async def resend_totals(self) -> None:
        """Send again the totals of series whose last totals message is a day old (`RESEND_TOTALS_S`).

        A quiet series expires nothing and sends no totals, but its last totals
        must stay within the topic's retention for a replay to find them.
        """
        now_s = time.time()
        for partition in sorted(self.ownership.loaded):
            sent = self.ownership.totals_sent.setdefault(partition, {})
            for key, value in list(self.ledger.totals_due(partition, sent, now_s)):
                await self.send_totals(partition, key, value)

    async def send_totals(self, partition: int, key: bytes, value: bytes) -> None:
        """Send a series' totals to its own partition of `social.outcomes`, where its replay finds them."""
        await stalls.logged(
            self.outcomes_topic.send(key=key, value=value, partition=partition),
            lambda: f"the Kafka client to take a totals message for {self.settings.topic_outcomes}",
        )
