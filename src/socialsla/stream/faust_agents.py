"""The two Faust agents, as adapters: a batch in, its partitions ready, the stage's handler, its sends out.

Topics, keys and state, and why neither agent uses a Faust table:

* stage 1 reads `social.posts` + `social.replies` (one co-partitioned channel,
  key = conversation_id) in batches (`take_events`). Its thread states
  (`thread_store.py`) live per input partition, because every event of a
  conversation arrives on one partition; the handler (`handlers.ThreadsStage`)
  folds a batch and returns its log records and outcomes, grouped per series
  into messages to `social.outcomes` keyed `account|channel`: that is the
  re-keying, so each series is on one partition of stage 2's input.
* stage 2 reads `social.outcomes`; its handler (`handlers.SeriesStage`) folds
  the outcomes into the in-memory windows with `Ledger.apply`. The topic is
  stage 2's log: a partition it comes to own is rebuilt by replaying it. Its
  only writes are the totals of expired waits, back to the series' own partition.
  Prometheus reads the windows through the collector at scrape time.

Both states are loaded and dropped by one manager (`partitions.py`); an agent
only awaits `Partitions.ready` for the partitions of its batch. Invalid input
goes to `social.deadletter` (original key and bytes, reason and source in
headers). A batch's events are acknowledged only after the batch is processed,
and Faust flushes the producer (logs and outcomes) before it commits, so input
stays at-least-once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from socialsla.core.clock import Clock
from socialsla.stream import stalls
from socialsla.stream.handlers import Sends, SeriesStage, ThreadsStage
from socialsla.stream.partitions import LogBacked, Partitions
from socialsla.stream.settings import Settings


@dataclass(frozen=True, slots=True)
class Outbox:
    """The topics a stage sends to; `send` sends what a handler returned, each send awaited."""

    settings: Settings
    deadletters: Any
    log: Any
    outcomes: Any
    partitions: Partitions
    #: Stage 1's state: a log record of a partition revoked meanwhile is not sent (its new owner writes it).
    threads: LogBacked

    async def send(self, sends: Sends) -> None:
        """Send dead letters, log records, outcomes and totals, in that order."""
        settings = self.settings
        for message, reason in sends.deadletters:
            headers = [
                ("reason", reason.encode()),
                ("source", f"{message.topic}/{message.partition}/{message.offset}".encode()),
            ]
            await stalls.logged(
                self.deadletters.send(key=message.key, value=message.value or b"", headers=headers),
                lambda: f"the Kafka client to take a dead letter for {settings.topic_deadletter}",
            )
        for partition, record in sends.log:
            if self.partitions.holds(self.threads, partition):
                await stalls.logged(
                    self.log.send(key=None, value=record, partition=partition),
                    lambda: f"the Kafka client to take a thread-state record for {self.log.get_topic_name()}",
                )
        for key, value in sends.outcomes:
            await stalls.logged(
                self.outcomes.send(key=key, value=value),
                lambda: (
                    f"the Kafka client to take an outcome message for {settings.topic_outcomes} "
                    f"(its batch for the partition is full until the broker answers)"
                ),
            )
        for partition, key, value in sends.totals:
            await stalls.logged(
                self.outcomes.send(key=key, value=value, partition=partition),
                lambda: f"the Kafka client to take a totals message for {settings.topic_outcomes}",
            )


@dataclass(eq=False)  # identity hashing: Faust keeps the bound `run` of each agent
class StageAgent:
    """One stage as a Faust agent: each batch's partitions made ready, handled, and its sends sent."""

    settings: Settings
    clock: Clock
    handler: ThreadsStage | SeriesStage
    #: The stage's log-backed state, which `partitions` loads.
    state: LogBacked
    partitions: Partitions
    outbox: Outbox
    progress: Callable[[], None]  # called when the agent takes a batch

    async def run(self, stream: Any) -> None:
        """The agent: one batch at a time."""
        settings = self.settings
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            self.progress()
            await self.process([event.message for event in batch])

    async def process(self, messages: list[Any]) -> None:
        """Make the batch's partitions ready, handle it, send what the handler returns.

        Nothing is awaited between the end of `ready` and the handler's return, so
        no revocation drops a partition while the handler reads or writes it.
        """
        await self.partitions.ready(self.state, {message.partition for message in messages})
        await self.outbox.send(self.handler.handle(messages, self.clock.now_us()))
