"""Upstream producers we did not write: transactional ones, other partitioners, retention.

Each test writes the input topics the way such an upstream would, through the
real broker, and checks the worker against the offline report of what a
consumer of committed data could see.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.partitioner import murmur2

from socialsla.stream.kafka import ensure_topics
from socialsla.stream.settings import from_env
from socialsla.stream.thread_store import unpack
from tests.harness import BOOTSTRAP, CATCH_UP_S, WORKER_READY_S, Stack, eventually, holds, settles, write_load

from .expected import from_report, sla_gauges
from .test_pipeline import AT, offline

#: Every how many transactions one is aborted.
ABORT_EVERY = 5
TRANSACTION_SIZE = 50
#: SOCIALSLA_PURGE_INTERVAL of the purge test, seconds.
PURGE_S = 1.0
#: How long an idle worker is watched for re-reads.
IDLE_S = 8.0


def _topic_of(stack: Stack, line: bytes) -> tuple[str, bytes]:
    event = orjson.loads(line)
    topic = stack.env["SOCIALSLA_TOPIC_POSTS" if event["type"] == "post" else "SOCIALSLA_TOPIC_REPLIES"]
    return topic, event["conversation_id"].encode()


async def _transactional(stack: Stack, lines: list[bytes]) -> list[bytes]:
    """Write `lines` in transactions of TRANSACTION_SIZE, aborting every ABORT_EVERY-th; returns the committed."""
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, transactional_id=f"{stack.env['SOCIALSLA_APP_ID']}-tx"
    )
    await ensure_topics(from_env(stack.env))  # auto-creation is off on the broker, as it should be
    await producer.start()
    committed: list[bytes] = []
    try:
        for number, start in enumerate(range(0, len(lines), TRANSACTION_SIZE), 1):
            chunk = lines[start : start + TRANSACTION_SIZE]
            await producer.begin_transaction()
            for line in chunk:
                topic, key = _topic_of(stack, line)
                await producer.send(topic, key=key, value=line)
            if number % ABORT_EVERY == 0:
                await producer.abort_transaction()
            else:
                await producer.commit_transaction()
                committed.extend(chunk)
    finally:
        await producer.stop()
    return committed


async def _group_behind(stack: Stack) -> dict[tuple[str, int], tuple[int, int]]:
    """(topic, partition) -> (committed offset, end offset) of the input partitions not committed to their end."""
    topics = [stack.env["SOCIALSLA_TOPIC_POSTS"], stack.env["SOCIALSLA_TOPIC_REPLIES"]]
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    await consumer.start()
    try:
        offsets = await admin.list_consumer_group_offsets(stack.env["SOCIALSLA_APP_ID"])
        tps = [TopicPartition(t, p) for t in topics for p in range(int(stack.env["SOCIALSLA_PARTITIONS"]))]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
        await admin.close()
    behind = {}
    for tp in tps:
        meta = offsets.get(tp)
        done = -1 if meta is None else meta.offset
        if done != ends[tp]:
            behind[(tp.topic, tp.partition)] = (done, ends[tp])
    return behind


def _metric(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(value for (sample, _), value in samples.items() if sample == name)


def test_transactional_upstream_counts_committed_events_once_and_commits_past_markers(
    stack: Stack, tmp_path: Path
) -> None:
    """Aborted transactions are never counted, committed ones once, and the group commits every partition to its end."""
    path = tmp_path / "load.jsonl"
    write_load(path, seed=12, hours=3, rate=0.2)
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    committed = asyncio.run(_transactional(stack, lines))
    aborted = len(lines) - len(committed)
    assert aborted > 0, "the test must abort some transactions"
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    eventually(
        worker.consumed,
        lambda n: n >= len(committed),
        CATCH_UP_S,
        f"{len(committed)} committed events counted",
    )
    expected = from_report(offline(AT, committed))
    settles(lambda: sla_gauges(worker.metrics()), expected, CATCH_UP_S, "gauges = report of committed events")
    eventually(
        lambda: asyncio.run(_group_behind(stack)),
        lambda behind: not behind,
        CATCH_UP_S,
        "every input partition committed to its end offset, past the transaction markers",
    )
    samples = holds(
        worker.metrics,
        lambda samples: (
            _metric(samples, "socialsla_partition_rereads_total") == 0
            and _metric(samples, "socialsla_consumer_lag") == 0
        ),
        IDLE_S,
        "an idle worker, caught up past the markers, re-reads nothing and shows no lag",
    )
    assert _metric(samples, "socialsla_events_total") == len(committed), (
        f"{aborted} aborted events must not count"
    )


def murmur2_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (the Java client's, and aiokafka's): murmur2 of the key."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def crc32_partition(key: bytes, partitions: int) -> int:
    """librdkafka's default partitioner ("consistent_random") for a non-empty key: CRC32 of the key."""
    return zlib.crc32(key) % partitions


def crc32_partitioner(key: bytes, every: list[int], available: list[int]) -> int:
    """aiokafka's partitioner hook: the partition a CRC32 partitioner (librdkafka's "consistent") picks."""
    return every[crc32_partition(key, len(every))]


async def _produce(stack: Stack, lines: list[bytes], partitioner: Any = None) -> None:
    await ensure_topics(from_env(stack.env))
    kwargs = {} if partitioner is None else {"partitioner": partitioner}
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, **kwargs)
    await producer.start()
    try:
        for line in lines:
            topic, key = _topic_of(stack, line)
            await producer.send(topic, key=key, value=line)
    finally:
        await producer.stop()


def _conversations(lines: list[bytes]) -> set[bytes]:
    return {orjson.loads(line)["conversation_id"].encode() for line in lines}


async def _read_all(tps: list[TopicPartition]) -> list[Any]:
    """Every record still in these partitions, from their log start to their end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    out: list[Any] = []
    try:
        ends = await consumer.end_offsets(tps)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), CATCH_UP_S)
            out.extend(record for records in batch.values() for record in records)
    finally:
        await consumer.stop()
    return out


async def _logged_threads(topic: str, partitions: int) -> set[bytes]:
    """The threads stage 1's log holds: every key of its records, as a replay would read them."""
    return {
        key
        for record in await _read_all([TopicPartition(topic, p) for p in range(partitions)])
        for key, _ in unpack(record.value)
    }


def _purged(worker: Any) -> float:
    return sum(
        value
        for (name, labels), value in worker.metrics().items()
        if name == "socialsla_conversations_expired_total" and dict(labels)["stage"] == "conversations"
    )


def test_crc32_partitioned_upstream_gives_the_report_and_is_purged(stack: Stack, tmp_path: Path) -> None:
    """An upstream partitioning with librdkafka's CRC32: numbers equal the report, expired threads leave the store.

    Each thread is logged under the partition its events came on, whatever the
    partitioner; 9 days on, the sweep purges every one, and a replay of the log
    brings none back.
    """
    path = tmp_path / "load.jsonl"
    write_load(path, seed=13, hours=2, rate=0.2)
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    partitions = int(stack.env["SOCIALSLA_PARTITIONS"])
    moved = sum(
        crc32_partition(c, partitions) != murmur2_partition(c, partitions) for c in _conversations(lines)
    )
    assert moved > len(_conversations(lines)) / 2, (
        "most conversations must land elsewhere than murmur2 puts them"
    )
    worker = stack.worker(SOCIALSLA_PURGE_INTERVAL=str(PURGE_S))
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    asyncio.run(_produce(stack, lines, crc32_partitioner))
    eventually(worker.consumed, lambda n: n >= len(lines), CATCH_UP_S, f"{len(lines)} events counted")
    settles(
        lambda: sla_gauges(worker.metrics()), from_report(offline(AT, lines)), CATCH_UP_S, "gauges = report"
    )
    log = f"{stack.env['SOCIALSLA_APP_ID']}-threads"
    logged = asyncio.run(_logged_threads(log, partitions))
    assert {key.split(b"|", 2)[2] for key in logged} == _conversations(lines)
    stack.set_clock("2026-01-17T00:00:00Z")  # 9 days on: every conversation is past 7 days + R

    def resent_then_purged() -> float:
        """Send the events again: a sweep starts over at a batch of its partition, once PURGE_S has passed."""
        asyncio.run(_produce(stack, lines, crc32_partitioner))
        return _purged(worker)

    eventually(
        resent_then_purged,
        lambda purged: purged >= len(_conversations(lines)),
        CATCH_UP_S,
        "every conversation purged from the stage-1 store",
        lambda purged: f"{purged} purged; events: {_metric(worker.metrics(), 'socialsla_events_total')}",
    )
    # A worker restarted now replays the log, where the threads still are (until its retention
    # deletes them): it leaves out those past the horizon, so its sweep finds none to purge.
    worker.stop()
    again = stack.worker(SOCIALSLA_PURGE_INTERVAL=str(PURGE_S))
    eventually(
        again.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the restarted worker to own 4 partitions"
    )
    # a new worker's first batch of each partition starts its sweep: no interval to wait for
    asyncio.run(_produce(stack, lines, crc32_partitioner))
    eventually(again.consumed, lambda n: n >= len(lines), CATCH_UP_S, "the late events counted")
    assert _purged(again) == 0


async def _ends(stack: Stack) -> dict[TopicPartition, int]:
    topics = [stack.env["SOCIALSLA_TOPIC_POSTS"], stack.env["SOCIALSLA_TOPIC_REPLIES"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(int(stack.env["SOCIALSLA_PARTITIONS"]))]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def _delete_below(offsets: dict[TopicPartition, int]) -> None:
    """What retention does to a partition: its log start moves up to `offset`, the records below are gone."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(offset) for tp, offset in offsets.items()})
    finally:
        await admin.close()


def test_input_deleted_by_retention_while_the_worker_is_down_is_counted(stack: Stack, tmp_path: Path) -> None:
    """A restart past input that retention deleted resumes at the log start and counts what was skipped."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    write_load(first, seed=14, hours=1, rate=0.2)
    write_load(second, seed=15, hours=1, rate=0.2)
    before = [line for line in first.read_bytes().splitlines() if line.strip()]
    during = [line for line in second.read_bytes().splitlines() if line.strip()]
    worker = stack.worker(data_dir="kept")
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    asyncio.run(_produce(stack, before))
    eventually(worker.consumed, lambda n: n >= len(before), CATCH_UP_S, f"{len(before)} events counted")
    eventually(
        lambda: asyncio.run(_group_behind(stack)), lambda behind: not behind, CATCH_UP_S, "input committed"
    )
    worker.stop()
    committed = asyncio.run(_ends(stack))
    asyncio.run(_produce(stack, during))
    ends = asyncio.run(_ends(stack))
    cut = {tp: committed[tp] + (ends[tp] - committed[tp]) // 2 for tp in ends}
    asyncio.run(_delete_below(cut))
    survived = [record.value for record in asyncio.run(_read_all(list(ends)))]
    skipped = sum(cut[tp] - committed[tp] for tp in ends)
    assert skipped > 0
    assert len(survived) + skipped == len(during)
    restarted = stack.worker(data_dir="kept")
    eventually(
        restarted.consumed,
        lambda n: n >= len(survived),
        CATCH_UP_S,
        f"{len(survived)} surviving events counted",
    )
    expected = from_report(offline(AT, before + survived))
    settles(lambda: sla_gauges(restarted.metrics()), expected, CATCH_UP_S, "gauges = report of what was read")
    eventually(
        lambda: _metric(restarted.metrics(), "socialsla_input_skipped_total"),
        lambda counted: counted == skipped,
        CATCH_UP_S,
        f"the {skipped} deleted offsets counted in socialsla_input_skipped_total",
    )
    assert _metric(restarted.metrics(), "socialsla_events_total") == len(survived)
    assert (
        _metric(restarted.metrics(), "socialsla_input_skipped_timestamp_seconds") > time.time() - CATCH_UP_S
    )
    assert "deleted by retention" in restarted.log.read_text(errors="replace")
