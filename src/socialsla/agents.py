"""The two Faust agents, as adapters: decode, read their table, call the pure stage, write what it returns.

Topics, keys and tables, and why:

* stage 1, `Conversations.run`: reads `social.posts` + `social.replies` (one
  co-partitioned channel, key = conversation_id) in batches (`take_events`).
  Table `conversations` (`rows.conversation_key`, value `Conversation` bytes)
  lives on the same partitions, because every event of a conversation arrives
  on one partition. A batch reads each conversation it touches once, folds its
  events with `stages.fold` (the offline report's fold), writes each back once
  and sends each summary once, grouped per series into messages to
  `social.outcomes` keyed `account|channel`: that is the re-keying, so stage 2's
  table is co-partitioned with its own input.
* stage 2, `Series.run`: reads `social.outcomes`; `Ledger.apply` folds the
  outcomes into the in-memory windows and says which rows of table `series` to
  put and delete (one per conversation, one per series for expired totals).
  Prometheus reads the windows through the collector at scrape time.

Invalid input goes to `social.deadletter` (original key and bytes, reason in a
header) and is counted. A batch's events are acknowledged only after the batch is
processed, so input stays at-least-once. Only agents write tables (Faust writes
a changelog record to the partition of the event being processed), so the purge
of expired conversations runs inside stage 1, a few rows per batch.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from socialsla import conversation, rows, stages, waits
from socialsla.clock import Clock
from socialsla.conversation import Conversation
from socialsla.events import MICROS, Event, InvalidEvent, decode
from socialsla.ledger import Ledger
from socialsla.metrics import PipelineMetrics
from socialsla.outcome import SEPARATOR, Outcome, chunks, encode
from socialsla.outcome import decode as decode_outcomes
from socialsla.rows import ConversationKey
from socialsla.settings import Settings
from socialsla.transport import at_partition_of
from socialsla.windows import LONGEST_US

log = logging.getLogger(__name__)

#: Rows of the conversation table looked at for purging per event of the partition in a batch:
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
        await waits.logged(
            self.topic.send(key=message.key, value=message.value or b"", headers=headers),
            lambda: f"the Kafka client to take a dead letter for {self.settings.topic_deadletter}",
        )
        self.metrics.events.labels(kind, "invalid").inc()
        self.metrics.deadletters.inc()

    async def event(self, message: Any, now_us: int) -> Event | None:
        """The event of an input message, or None once it is dead-lettered."""
        if message.value is None:
            await self.dead_letter(message, "empty message (tombstone)", "unknown")
            return None
        try:
            item = decode(message.value, now_us)
            if message.key != item.conversation_id.encode():
                raise InvalidEvent("Kafka key must be the conversation_id (one partition per thread)")
        except InvalidEvent as exc:
            await self.dead_letter(message, exc.reason, "unknown")
            return None
        series = item.account + SEPARATOR + item.channel
        if series not in self.admitted:
            limit = self.settings.max_series
            if len(self.admitted) >= limit:
                self.metrics.series_rejected.inc()
                reason = f"series limit reached: {limit} account/channel pairs (SOCIALSLA_MAX_SERIES)"
                await self.dead_letter(message, reason, item.kind)
                return None
            self.admitted.add(series)
            self.metrics.series_admitted.set(len(self.admitted))
        return item


@dataclass(slots=True)
class _Sweep:
    """A partition's walk over its conversation rows, looking for ones to purge."""

    keys: list[bytes] = field(default_factory=list)
    started: float = float("-inf")


@dataclass(eq=False)  # identity hashing: Faust keeps the bound `run` of each agent
class _Agent:
    """What both agents hold: settings, the SLA clock, their table, the door for input, counters."""

    settings: Settings
    clock: Clock
    table: Any
    screen: Screen
    metrics: PipelineMetrics
    progress: Callable[[], None]  # called when the agent takes a batch


@dataclass(eq=False)
class Conversations(_Agent):
    """Stage 1: events to conversation states (table `conversations`) and outcomes (`social.outcomes`)."""

    outcomes_topic: Any
    newest: int = 0  # created_at of the newest event seen
    sweeps: dict[int, _Sweep] = field(default_factory=dict)
    unreadable: int = 0  # rows of an older format met, each started afresh

    def readable(self, stored: bytes) -> Conversation:
        """A stored thread; a row of an older socialsla starts the thread afresh, loudly."""
        try:
            return Conversation.from_bytes(stored)
        except ValueError:
            self.unreadable += 1
            if self.unreadable == 1:
                log.error(
                    "socialsla: table %s holds rows of an older socialsla (one conversation per row before "
                    "0.3); such threads restart from their next event. Start the worker with a new "
                    "SOCIALSLA_APP_ID to rebuild every table from the input topics.",
                    self.table.name,
                )
            return Conversation()

    @property
    def horizon_us(self) -> int:
        """7 days + R: older events and conversations can no longer change a window."""
        return LONGEST_US + self.settings.response_window_us

    async def run(self, stream: Any) -> None:
        """The agent: one batch at a time."""
        settings = self.settings
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            self.progress()
            await self.process(batch)

    async def process(self, batch: list[Any]) -> None:
        """Read the touched conversations, fold, write them back, send their outcomes, purge a little."""
        now_us = self.clock.now_us()
        items: list[Event] = []
        states: dict[ConversationKey, Conversation] = {}
        where: dict[ConversationKey, Any] = {}  # the Faust event whose partition holds the row
        source: dict[int, Any] = {}  # id(item) -> its message, to dead-letter what the fold rejects
        for event in batch:
            item = await self.screen.event(event.message, now_us)
            if item is None:
                continue
            items.append(item)
            source[id(item)] = event.message
            key = stages.key_of(item)
            if key not in where:
                at_partition_of(event)
                stored = self.table.get(rows.conversation_key(event.message.partition, key))
                if stored is not None:
                    states[key] = self.readable(stored)
            where[key] = event
        rejected: list[tuple[Event, str]] = []
        not_before = now_us - self.horizon_us
        folded = stages.fold(
            states, items, not_before, self.settings.policy, lambda e, why: rejected.append((e, why))
        )
        for item, why in rejected:
            await self.screen.dead_letter(source[id(item)], why, item.kind)
        for key, state in folded.states.items():
            event = where[key]
            at_partition_of(event)
            # Written on duplicates too. After a SIGKILL the local RocksDB can be ahead of the
            # changelog (store writes are immediate, changelog sends are buffered), and the
            # redelivered event is then a duplicate here: skipping the write would leave the
            # changelog, and so any store rebuilt from it, without this state for good.
            self.table[rows.conversation_key(event.message.partition, key)] = state.to_bytes()
        await self.send(folded.outcomes())
        for (kind, outcome), count in folded.tally.items():
            self.metrics.events.labels(kind, outcome).inc(count)
        newest = max((item.created_at for item in items), default=0)
        if newest > self.newest:
            self.newest = newest
            self.metrics.last_event.set(newest / MICROS)
        last_of_partition: dict[int, Any] = {}
        events_of_partition: Counter[int] = Counter()
        for event in batch:
            last_of_partition[event.message.partition] = event
            events_of_partition[event.message.partition] += 1
        for partition, event in last_of_partition.items():
            at_partition_of(event)
            self.sweep(partition, now_us, SWEEP_PER_EVENT * events_of_partition[partition])

    async def send(self, outcomes: list[Outcome]) -> None:
        """Send outcomes grouped by series, a few hundred per message."""
        by_series: dict[bytes, list[Outcome]] = {}
        for outcome in outcomes:
            by_series.setdefault(outcome.key(), []).append(outcome)
        for series_key, results in by_series.items():
            for chunk in chunks(results):
                await waits.logged(
                    self.outcomes_topic.send(key=series_key, value=encode(chunk)),
                    lambda: (
                        f"the Kafka client to take an outcome message for {self.settings.topic_outcomes} "
                        f"(its batch for the partition is full until the broker answers)"
                    ),
                )
            self.metrics.outcomes_sent.inc(len(results))

    def sweep(self, partition: int, now_us: int, step: int) -> None:
        """Purge up to `step` conversations of this partition that nothing can change any more.

        The partition's rows are found by their key prefix (`rows.prefix`), so
        whatever partitioner the upstream used, every row is looked at once per
        `SOCIALSLA_PURGE_INTERVAL`.
        """
        state = self.sweeps.setdefault(partition, _Sweep())
        if not state.keys:
            if time.monotonic() - state.started < self.settings.purge_interval:
                return
            state.started = time.monotonic()
            start = rows.prefix(partition)
            state.keys = [key for key in list(self.table.keys()) if key.startswith(start)]
        for _ in range(min(step, len(state.keys))):
            key = state.keys.pop()
            value = self.table.get(key)
            if value is not None and conversation.expired(self.readable(value), now_us, self.horizon_us):
                del self.table[key]
                self.metrics.expired.labels("conversations").inc()


@dataclass(eq=False)
class Series(_Agent):
    """Stage 2: outcomes to the windows of the ledger and rows of table `series`."""

    ledger: Ledger
    ensure_loaded: Callable[[int], None]  # loads a partition an outcome arrived for, if it is not

    async def run(self, stream: Any) -> None:
        """The agent: one batch of outcome messages at a time."""
        settings = self.settings
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            self.progress()
            for event in batch:
                await self.process(event)

    async def process(self, event: Any) -> None:
        """Apply one outcome message to its partition's series and write the rows that changed."""
        message = event.message
        partition = message.partition
        self.ensure_loaded(partition)
        try:
            outcomes = decode_outcomes(message.value or b"")
        except ValueError as exc:
            await self.screen.dead_letter(message, str(exc)[:200], "unknown")
            return
        writes = self.ledger.apply(partition, outcomes, self.clock.now_us())
        at_partition_of(event)
        table = self.table
        for key, value in writes.puts.items():
            table[key] = value
        for key in writes.deletes:
            if key in table:
                del table[key]
        if writes.expired:
            self.metrics.expired.labels("series").inc(writes.expired)
        self.metrics.outcomes.inc(len(outcomes))
