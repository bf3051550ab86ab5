"""Reading a log back: some partitions of a topic, from the offset of a time up to their end.

Both stages rebuild their state this way (`partitions.py`): stage 1 its threads
from `<app id>-threads`, stage 2 its windows from `social.outcomes` (whole,
idempotent thread outcomes), instead of replaying a changelog record per
conversation through Faust's table recovery, which read a few thousand records
a second. Here a plain consumer outside any group reads big fetches, and the
caller applies each record; what arrives after the end offsets taken at the
start is left to the live agent, which skips what the replay already applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger("socialsla")

#: How often a long replay says how far it is.
PROGRESS_EVERY_S = 5.0
#: Fetch sizes of the replay consumer: a replay reads whole partitions, so big fetches pay off.
FETCH_MAX_BYTES = 64 << 20
PARTITION_FETCH_BYTES = 16 << 20


async def read_back(
    options: dict[str, Any],
    topic: str,
    partitions: Collection[int],
    since_ms: int,
    apply: Callable[[int, Any], None],
) -> dict[int, int]:
    """Call `apply(partition, record)` for every record from the first at or after `since_ms` to the end.

    Returns each partition's end offset at the start: the first offset the
    replay did not apply. A partition with no record since `since_ms` (or an
    empty one) is replayed from, and to, its end.
    """
    consumer = AIOKafkaConsumer(
        **options,
        enable_auto_commit=False,
        fetch_max_bytes=FETCH_MAX_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        remaining, total = await _seek(consumer, tps, ends, since_ms)
        began = told = time.monotonic()
        done = 0
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            done += _applied(batches, remaining, apply)
            for tp in list(remaining):
                if await consumer.position(tp) >= remaining[tp]:
                    consumer.pause(tp)
                    del remaining[tp]
            if time.monotonic() - told >= PROGRESS_EVERY_S:
                told = time.monotonic()
                log.info(
                    "socialsla: replaying %s partitions %s: %d of about %d messages, %.0f s",
                    topic, sorted(partitions), done, total, told - began,
                )  # fmt: skip
        return {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()


async def _seek(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], ends: dict[TopicPartition, int], since_ms: int
) -> tuple[dict[TopicPartition, int], int]:
    """Seek each partition to its first record at or after `since_ms`; the ones left to read, and how many.

    A partition with nothing since then is paused at its end.
    """
    found = await consumer.offsets_for_times({tp: max(0, since_ms) for tp in tps})
    remaining: dict[TopicPartition, int] = {}
    total = 0
    for tp in tps:
        start = found[tp].offset if found.get(tp) is not None else ends[tp]
        if start < ends[tp]:
            consumer.seek(tp, start)
            remaining[tp] = ends[tp]
            total += ends[tp] - start
        else:
            consumer.pause(tp)
    return remaining, total


def _applied(batches: dict[TopicPartition, list[Any]], remaining: dict[TopicPartition, int],
             apply: Callable[[int, Any], None]) -> int:  # fmt: skip
    """Apply the records of a fetch below each partition's end; how many were applied."""
    done = 0
    for tp, records in batches.items():
        end = remaining.get(tp)
        if end is None:
            continue
        for record in records:
            if record.offset >= end:
                break
            apply(tp.partition, record)
            done += 1
    return done


#: Replays start this much before the horizon: the state or totals message a crash may
#: have lost was sent at most a few seconds before, and what it replaced is found here.
MARGIN_US = 86_400 * 1_000_000


def since_ms(clock_now_us: int, horizon_us: int) -> int:
    """Where a replay starts: the horizon and its margin before now, by the SLA clock or the wall's.

    Message timestamps are wall time; with a file clock behind the wall (a
    replayed history) the earlier of the two keeps every live record.
    """
    now_us = min(clock_now_us, int(time.time() * 1_000_000))
    return (now_us - horizon_us - MARGIN_US) // 1000
