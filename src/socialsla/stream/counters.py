"""The pipeline's own counters and gauges (not per series): events, dead letters, lag, the process.

Ordinary process-local Prometheus metrics, set while the stages run and served
beside the per-series gauges of `serve/collector.py` in the same registry, which
is passed in so that tests use a fresh one.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

#: The `outcome` label of socialsla_events_total: how an event was counted.
COUNTED_AS: Final = ("accepted", "duplicate", "invalid", "late")
#: The `type` label: the event types, and `unknown` for input that never decoded.
KINDS: Final = ("post", "reply", "resolve", "feedback", "unknown")


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class PipelineMetrics:
    """Process-local counters of the pipeline itself (not per series), the process and the build."""

    def __init__(self, registry: CollectorRegistry, input_topics: Iterable[str] = ()) -> None:
        # One declaration per metric, as /metrics lists them: longer than 60 lines by nature, and flat.
        # A counter's `_created` gauge doubles the families and repeats each help text; nothing reads it.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it untyped
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        Gauge(
            "socialsla_build_info",
            "Always 1: the socialsla version this worker runs, and its Faust and aiokafka.",
            ["version", "faust", "aiokafka"],
            registry=registry,
        ).labels(*(_version(name) for name in ("socialsla", "faust-streaming", "aiokafka"))).set(1)
        self.events = Counter(
            "socialsla_events",
            "Events consumed, by type and outcome.",
            ["type", "outcome"],
            registry=registry,
        )
        for kind in KINDS:
            for outcome in COUNTED_AS:
                if kind != "unknown" or outcome == "invalid":
                    self.events.labels(kind, outcome)
        self.last_event = Gauge(
            "socialsla_last_event_timestamp_seconds",
            "created_at of the newest accepted event, in epoch seconds.",
            registry=registry,
        )
        self.deadletters = Counter(
            "socialsla_deadletters",
            "Events written to the dead-letter topic.",
            registry=registry,
        )
        self.outcomes_sent = Counter(
            "socialsla_outcomes_sent",
            "Thread outcomes stage 1 sent to stage 2 (one per thread a batch touched).",
            registry=registry,
        )
        self.outcomes = Counter(
            "socialsla_outcomes",
            "Thread outcomes stage 2 applied.",
            registry=registry,
        )
        self.rereads = Counter(
            "socialsla_partition_rereads",
            "Input partitions read again from their committed offset, because a message below "
            "acknowledged ones was never processed (a hole the commit cannot pass).",
            registry=registry,
        )
        self.skipped = Counter(
            "socialsla_input_skipped",
            "Input offsets deleted by retention before this worker read them: events lost to the numbers.",
            ["topic"],
            registry=registry,
        )
        for topic in input_topics:  # at 0 from the start, so that rate() and increase() have a baseline
            self.skipped.labels(topic)
        self.skipped_at = Gauge(
            "socialsla_input_skipped_timestamp_seconds",
            "When this worker last found input deleted by retention before it was read (epoch seconds).",
            ["topic"],
            registry=registry,
        )
        self.expired = Counter(
            "socialsla_conversations_expired",
            "Conversations dropped from memory after the 7d + R horizon.",
            ["stage"],
            registry=registry,
        )
        for stage in ("conversations", "series"):
            self.expired.labels(stage)
        self.series_rejected = Counter(
            "socialsla_series_limit_rejections",
            "Events dead-lettered because their account/channel would pass SOCIALSLA_MAX_SERIES.",
            registry=registry,
        )
        self.series_admitted = Gauge(
            "socialsla_series_admitted",
            "Account/channel pairs this worker admits, out of SOCIALSLA_MAX_SERIES.",
            registry=registry,
        )
        self.series_limit = Gauge(
            "socialsla_series_limit", "The SOCIALSLA_MAX_SERIES cap of this worker.", registry=registry
        )
        self.broker_reachable = Gauge(
            "socialsla_broker_reachable",
            "1 when a bootstrap broker accepts connections, checked every refresh.",
            registry=registry,
        )
        self.stale = Gauge(
            "socialsla_data_stale",
            "1 when the exported numbers may be old: Kafka unreachable, or behind with no progress.",
            registry=registry,
        )
        self.lag = Gauge(
            "socialsla_consumer_lag",
            "Messages behind the end of each owned input partition.",
            ["topic", "partition"],
            registry=registry,
        )

    def set_lag(self, lags: Iterable[tuple[str, int, int]]) -> None:
        """Replace the lag series with the current (topic, partition, lag) ones."""
        self.lag.clear()
        for topic, partition, lag in lags:
            self.lag.labels(topic, str(partition)).set(lag)
