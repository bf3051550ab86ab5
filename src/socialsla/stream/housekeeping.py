"""Housekeeping between batches: totals in retention, stuck partitions, lag, broker reachability, staleness.

Runs on a timer in the worker's event loop, every `SOCIALSLA_REFRESH_INTERVAL`
seconds; `/healthz` and the `socialsla_data_stale` gauge read what it found.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from socialsla.stream import workarounds
from socialsla.stream.counters import PipelineMetrics
from socialsla.stream.faust_agents import Outbox
from socialsla.stream.handlers import SeriesStage
from socialsla.stream.kafka import broker_reachable
from socialsla.stream.settings import Settings
from socialsla.stream.topics import Topics

log = logging.getLogger("socialsla")


@dataclass(slots=True)
class Health:
    """What `/healthz` says: when an agent last took a batch, and whether the data is stale."""

    last_progress: float = field(default_factory=time.monotonic)
    stale: bool = False

    def progress(self) -> None:
        """An agent took a batch."""
        self.last_progress = time.monotonic()


class Housekeeping:
    """One round of upkeep, called by the worker's timer."""

    def __init__(self, app: Any, settings: Settings, health: Health, metrics: PipelineMetrics,
                 series: SeriesStage, outbox: Outbox) -> None:  # fmt: skip
        self.app = app
        self.series = series
        self.outbox = outbox
        self.settings = settings
        self.health = health
        self.metrics = metrics
        topics = Topics.of(settings)
        self.inputs = frozenset((*topics.inputs, topics.outcomes))

    async def round(self) -> None:
        """Keep totals in retention, re-read stuck partitions, measure lag and staleness."""
        await self.outbox.send(self.series.totals_due(time.time()))
        guard = workarounds.guard_of(self.app)
        while guard.skipped:
            tp, committed, start = guard.skipped.pop(0)
            log.error(
                "socialsla: %s[%d] offsets %d-%d were deleted by retention before they were read; "
                "their events are missing from every number (raise the topic's retention.ms, or keep "
                "a worker running)",
                tp.topic,
                tp.partition,
                committed,
                start - 1,
            )
            self.metrics.skipped.labels(tp.topic).inc(start - committed)
            self.metrics.skipped_at.labels(tp.topic).set(time.time())
        if not self.app.rebalancing:
            for tp, offset in await guard.heal(time.monotonic()):
                log.warning(
                    "socialsla: %s[%d] read again from its committed offset %d: a message below "
                    "acknowledged ones was never processed",
                    tp.topic,
                    tp.partition,
                    offset,
                )
                self.metrics.rereads.inc()
        lags = list(lags_of(self.app, self.inputs))
        self.metrics.set_lag(lags)
        reachable = await broker_reachable(self.settings.bootstrap_servers)
        self.metrics.broker_reachable.set(1 if reachable else 0)
        behind = any(lag > 0 for _, _, lag in lags)
        idle = time.monotonic() - self.health.last_progress > self.settings.stale_after
        self.health.stale = not reachable or (behind and idle)
        self.metrics.stale.set(1 if self.health.stale else 0)


def lags_of(app: Any, topics: frozenset[str]) -> Iterator[tuple[str, int, int]]:
    """(topic, partition, lag) of the owned partitions of the topics the agents read.

    Only those: a log the worker replays (before 0.4, a changelog it recovered
    from) is read by another consumer, or not after the replay, so its position
    never moves and a caught-up worker looked hundreds of thousands of records
    behind. Lag runs to what is processed (`CommitGuard.processed`), not to
    Faust's read offset, which passes events as they enter stage 1's stream
    buffer (`app.INPUT_BUFFER` deep): a backlog of that size showed lag 0 while
    not one of its events was counted. A partition with nothing processed since
    the assignment (a restart with a kept store, an idle topic) is as far as its
    committed offset.
    """
    consumer = app.consumer
    guard = workarounds.guard_of(app)
    for tp in app.assignor.assigned_actives():
        if tp.topic not in topics:
            continue
        try:
            high = workarounds.end_offset(consumer, tp)
        except Exception:
            continue
        if high is None:
            continue
        yield tp.topic, tp.partition, max(0, high - guard.position(tp))
