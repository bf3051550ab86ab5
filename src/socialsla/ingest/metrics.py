"""The gateway's own metrics, on its /metrics: deliveries by answer, items by fate, and how long each took."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

#: Each item of a delivery is produced, dead-lettered (invalid) or ignored.
OUTCOMES: Final = ("produced", "invalid", "ignored")
#: Buckets of a delivery's time, from its first byte read to its answer: Kafka's acks=all is
#: a few milliseconds on a healthy cluster; a platform gives up after a few seconds.
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    """The counters of one gateway process, in its own registry."""

    def __init__(self, registry: CollectorRegistry, platforms: tuple[str, ...]) -> None:
        self.deliveries = Counter(
            "socialsla_ingest_deliveries", "Webhook deliveries answered, by platform (path) and HTTP status.",
            ["platform", "code"], registry=registry,
        )  # fmt: skip
        self.items = Counter(
            "socialsla_ingest_items",
            "Items of acknowledged deliveries, by platform and outcome: produced as events, invalid "
            "(dead-lettered with a reason), or ignored (a kind of item socialsla does not count).",
            ["platform", "outcome"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "socialsla_ingest_delivery_seconds",
            "Seconds from a delivery's arrival to its answer, by platform (Kafka's acknowledgement "
            "included).",
            ["platform"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        for platform in platforms:  # known series start at zero, so rate() sees the first one
            for outcome in OUTCOMES:
                self.items.labels(platform, outcome)
            for code in ("200", "401", "413", "503"):
                self.deliveries.labels(platform, code)
            self.latency.labels(platform)
