"""Reading a log back from the real broker: the partitions asked for, from an instant to the end offsets
taken at the start, each record applied once."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from socialsla.stream.readback import read_back
from tests.harness import BOOTSTRAP

HOUR_MS = 3_600_000


async def _log_with(topic: str, records: list[tuple[int, int, bytes]]) -> None:
    """A 3-partition topic holding (partition, timestamp ms, value) records."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    try:
        for partition, at_ms, value in records:
            await producer.send_and_wait(topic, value, partition=partition, timestamp_ms=at_ms)
    finally:
        await producer.stop()


def test_a_replay_applies_the_asked_partitions_from_an_instant_to_their_end(broker: str) -> None:
    topic = f"readback-{uuid.uuid4().hex[:8]}"
    now_ms = int(time.time() * 1000)
    old, recent = now_ms - 5 * HOUR_MS, now_ms - HOUR_MS
    records = [
        (0, old, b"0-old"),
        (0, recent, b"0-a"),
        (0, recent, b"0-b"),
        (1, old, b"1-old"),
        (2, recent, b"2-a"),
    ]
    asyncio.run(_log_with(topic, records))
    applied: list[tuple[int, bytes]] = []

    async def replay() -> dict[int, int]:
        return await read_back(
            {"bootstrap_servers": BOOTSTRAP}, topic, {0, 1}, now_ms - 2 * HOUR_MS,
            lambda partition, record: applied.append((partition, record.value)),
        )  # fmt: skip

    ends = asyncio.run(replay())
    assert applied == [(0, b"0-a"), (0, b"0-b")]  # partition 1 has nothing since: replayed from its end
    assert ends == {0: 3, 1: 1}
