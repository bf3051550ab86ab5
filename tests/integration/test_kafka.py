"""kafka.ensure_topics, the one place topics are made, on the real broker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from socialsla.stream.kafka import TopicsError, ensure_topics
from socialsla.stream.settings import from_env
from socialsla.stream.topics import Topics, log_retention_ms
from tests.harness import BOOTSTRAP, Stack


async def _describe(
    names: list[str], config: str = "cleanup.policy"
) -> tuple[dict[str, int], dict[str, str]]:
    """Partitions per topic, and each topic's value of `config`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        configs: Any = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        )
    finally:
        await admin.close()
    policies = {}
    for response in configs:
        for _, _, _, name, entries in response.resources:
            policies[name] = next(value for key, value, *_ in entries if key == config)
    return {d["topic"]: len(d["partitions"]) for d in described}, policies


def test_logs_are_made_to_keep_7_days_and_r_and_a_short_or_compacted_one_is_refused(stack: Stack) -> None:
    """Stage 1's log and `social.outcomes` are made before any worker, with 7d + R and a spare, not compacted.

    A worker refuses an outcomes topic that keeps less, or is compacted, saying how to fix it.
    """
    settings = from_env(stack.env)
    asyncio.run(ensure_topics(settings))
    logs = list(Topics.of(settings).logs)
    assert logs == [f"{settings.app_id}-threads", settings.topic_outcomes]
    partitions, retention = asyncio.run(_describe(logs, "retention.ms"))
    assert partitions == dict.fromkeys(logs, settings.partitions)
    assert retention == dict.fromkeys(logs, str(log_retention_ms(settings)))
    assert log_retention_ms(settings) == (8 + 2) * 86_400_000  # R = 24h, and two days spare
    assert asyncio.run(_describe(logs))[1] == dict.fromkeys(logs, "delete")

    short = from_env(
        {**stack.env, "SOCIALSLA_TOPIC_OUTCOMES": stack.env["SOCIALSLA_TOPIC_OUTCOMES"] + ".short"}
    )
    asyncio.run(_create(short.topic_outcomes, {"retention.ms": str(7 * 86_400_000)}))
    with pytest.raises(
        TopicsError, match=r"keeps messages 168h .* rebuilds 7 days \+ R \(192h\) from it at start"
    ):
        asyncio.run(ensure_topics(short))

    compacted = from_env(
        {**stack.env, "SOCIALSLA_TOPIC_OUTCOMES": stack.env["SOCIALSLA_TOPIC_OUTCOMES"] + ".c"}
    )
    asyncio.run(_create(compacted.topic_outcomes, {"cleanup.policy": "compact"}))
    with pytest.raises(TopicsError, match=r"cleanup\.policy=compact"):
        asyncio.run(ensure_topics(compacted))


async def _create(name: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 4, 1, topic_configs=configs)])
    finally:
        await admin.close()
