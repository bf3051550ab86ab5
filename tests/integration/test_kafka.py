"""kafka.ensure_topics, the one place topics are made, on the real broker."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from socialsla.kafka import changelog_topics, ensure_topics
from socialsla.settings import from_env
from tests.harness import BOOTSTRAP, Stack


async def _describe(names: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Partitions per topic, and each topic's cleanup.policy."""
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
            policies[name] = next(value for key, value, *_ in entries if key == "cleanup.policy")
    return {d["topic"]: len(d["partitions"]) for d in described}, policies


def test_changelogs_are_made_compacted_and_co_partitioned_before_any_worker(stack: Stack) -> None:
    """The tables' changelogs exist, compacted, with SOCIALSLA_PARTITIONS partitions, before a worker subscribes."""
    settings = from_env(stack.env)
    asyncio.run(ensure_topics(settings))
    changelogs = changelog_topics(settings)
    partitions, policies = asyncio.run(_describe([settings.topic_posts, *changelogs]))
    assert partitions == {name: settings.partitions for name in [settings.topic_posts, *changelogs]}
    assert policies == {settings.topic_posts: "delete", **{name: "compact" for name in changelogs}}
