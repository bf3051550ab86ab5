"""A thread store rebuilt aside, by a child process, from its log on the real broker.

The worker's own restart tests (`test_faults`, `test_pipeline`) show the
numbers survive; these show what the child leaves behind: the latest state of
each live thread in a store the worker opens, nothing for a partition dropped
while the child ran, and no child once the load is cancelled.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from socialsla.core import thread
from socialsla.core.clock import parse_clock
from socialsla.core.events import MICROS
from socialsla.stream.kafka import ensure_topics
from socialsla.stream.settings import Settings, from_env
from socialsla.stream.thread_store import ThreadStore, pack
from socialsla.stream.topics import Topics
from tests.harness import BOOTSTRAP, Stack

DAY_US = 86_400 * MICROS


def _state(at_us: int) -> bytes:
    """A thread whose one event (a post) is at `at_us`."""
    return thread.Thread(((at_us, thread.POST, "e1", 7, None),)).to_bytes()


def _settings(stack: Stack) -> Settings:
    return from_env({**stack.env, "SOCIALSLA_DATA_DIR": str(stack.tmp / "data"), "SOCIALSLA_PARTITIONS": "2"})


async def _log(settings: Settings, now_us: int) -> None:
    """Partition 0: thread a twice (the second wins), thread old past the horizon; partition 1: thread b."""
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP)
    await producer.start()
    try:
        topic = Topics.of(settings).threads
        first = [(b"acme|x|a", _state(now_us - 2 * DAY_US)), (b"acme|x|old", _state(now_us - 9 * DAY_US))]
        for record in pack(first):
            await producer.send_and_wait(topic, record, partition=0)
        for record in pack([(b"acme|x|a", _state(now_us - DAY_US))]):
            await producer.send_and_wait(topic, record, partition=0)
        for record in pack([(b"acme|x|b", _state(now_us - 3 * DAY_US))]):
            await producer.send_and_wait(topic, record, partition=1)
    finally:
        await producer.stop()


def _children() -> list[str]:
    """Command lines of this process' children that rebuild a thread store."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if (
            int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()
            and "socialsla.stream.thread_store" in command
        ):
            found.append(command)
    return found


def test_a_child_rebuilds_the_latest_live_states_and_the_worker_opens_them(stack: Stack) -> None:
    """Each thread's last state is in the store, a thread past the horizon is not; end offsets are returned."""
    settings = _settings(stack)
    store = ThreadStore(settings, parse_clock(settings.clock))
    now = store.clock.now_us()
    asyncio.run(_log(settings, now))
    store.reset({0, 1})
    assert store.stores == {}  # the child makes the stores
    ends = asyncio.run(store.rebuild_aside({0, 1}, 0))
    assert ends == {0: 2, 1: 1}
    assert store.keys(0) == [b"acme|x|a"]
    assert store.get(0, b"acme|x|a") == _state(now - DAY_US)
    assert store.keys(1) == [b"acme|x|b"]
    assert store.building == set()
    assert _children() == []
    for partition in (0, 1):
        store.drop(partition)


def test_a_partition_dropped_while_its_child_runs_is_not_opened_and_leaves_no_directory(stack: Stack) -> None:
    """A revocation during the rebuild: the partition's directory is removed once the child is done."""
    settings = _settings(stack)
    store = ThreadStore(settings, parse_clock(settings.clock))
    asyncio.run(_log(settings, store.clock.now_us()))

    async def rebuild_and_drop() -> dict[int, int]:
        store.reset({0, 1})
        task = asyncio.create_task(store.rebuild_aside({0, 1}, 0))
        await asyncio.sleep(0)
        store.drop(1)
        return await task

    asyncio.run(rebuild_and_drop())
    assert set(store.stores) == {0}
    assert store.keys(0) == [b"acme|x|a"]
    assert not (settings.data_dir / settings.app_id / "threads" / "1").exists()
    store.drop(0)


def test_a_cancelled_rebuild_kills_its_child(stack: Stack) -> None:
    """A worker that stops during a load leaves no child behind."""
    settings = _settings(stack)
    store = ThreadStore(settings, parse_clock(settings.clock))
    asyncio.run(_log(settings, store.clock.now_us()))

    async def cancel_midway() -> list[str]:
        store.reset({0, 1})
        task = asyncio.create_task(store.rebuild_aside({0, 1}, 0))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if _children():
                break
        alive = _children()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return alive

    assert asyncio.run(cancel_midway())  # it was running when cancelled
    assert _children() == []
    assert store.stores == {}
