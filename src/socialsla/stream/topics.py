"""Every Kafka topic of a deployment, named and configured in one place.

* the input topics (posts, replies), stage 2's log (`social.outcomes`) and the
  dead letters are named by the settings;
* stage 1's thread log (`<app id>-threads`) and the on-call board
  (`<app id>-board`) are named after the app id: one of each per app, as a
  Faust table's changelog would be.

`kafka.ensure_topics` makes them with the configs below; nothing else makes a topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from socialsla.stream.settings import Settings

#: The board's configs: the latest card per series, gone a day after its last.
BOARD_CONFIGS: Final = {
    "cleanup.policy": "compact,delete",
    "retention.ms": "86400000",
    "segment.ms": "3600000",
}

#: The worker's logs are made to keep this much more than 7d + R, the least they may keep, so that
#: a replay's margin (`readback.MARGIN_US`) and a slow day fit.
LOG_SPARE_MS: Final = 2 * 86_400_000


@dataclass(frozen=True, slots=True)
class Topics:
    """The names of one deployment's topics."""

    posts: str
    replies: str
    outcomes: str
    deadletter: str
    #: Stage 1's log of thread states, partitioned like the input.
    threads: str
    #: The on-call board's compacted topic, one partition.
    board: str

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        """The topics a deployment with these settings uses."""
        return cls(
            settings.topic_posts,
            settings.topic_replies,
            settings.topic_outcomes,
            settings.topic_deadletter,
            f"{settings.app_id}-threads",
            f"{settings.app_id}-board",
        )

    @property
    def inputs(self) -> tuple[str, str]:
        """The topics events arrive on (either may carry any event type)."""
        return self.posts, self.replies

    @property
    def logs(self) -> tuple[str, str]:
        """The topics the worker rebuilds its state from: stage 1's thread log and stage 2's."""
        return self.threads, self.outcomes


def log_retention_ms(settings: Settings) -> int:
    """The retention the worker's logs are made with: 7 days + R and a spare."""
    return settings.horizon_us // 1000 + LOG_SPARE_MS


def log_problem(settings: Settings, name: str, configs: dict[str, str]) -> str | None:
    """Why a topic cannot be one of the worker's logs with these configs, or None when it can.

    A replay rebuilds 7d + R of state from it, so it must keep at least that
    long, and must not be compacted (compaction by key would keep one message per
    series, or per partition).
    """
    policy = configs.get("cleanup.policy", "delete")
    least = settings.horizon_us // 1000
    fix = (
        f"kafka-configs.sh --bootstrap-server {settings.bootstrap_servers} --alter --entity-type topics "
        f"--entity-name {name} --add-config "
        f"retention.ms={log_retention_ms(settings)},cleanup.policy=delete"
    )
    if "compact" in policy:
        return f"topic {name} has cleanup.policy={policy}, but the worker replays it as a log; run: {fix}"
    retention = int(configs.get("retention.ms", "-1"))
    if 0 <= retention < least:
        return (
            f"topic {name} keeps messages {retention / 3_600_000:.0f}h (retention.ms={retention}), but "
            f"the worker rebuilds 7 days + R ({least / 3_600_000:.0f}h) from it at start; run: {fix}"
        )
    return None
