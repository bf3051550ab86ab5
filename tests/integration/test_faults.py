"""Faults on the real broker: crashes, rebalances under load and redelivery lose nothing and count nothing twice."""

from __future__ import annotations

import asyncio
import shutil
import signal
import threading
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.harness import (
    BOOTSTRAP,
    CATCH_UP_S,
    REBALANCE_S,
    WORKER_READY_S,
    Samples,
    Stack,
    Worker,
    eventually,
    producing,
    settles,
    write_load,
)
from tests.integration.expected import from_report, sla_gauges
from tests.integration.test_pipeline import AT, LINES, SCENARIO, offline

LOAD_S = 180.0


def expected_for(*paths: Path) -> Samples:
    lines = [line for path in paths for line in path.read_bytes().splitlines()]
    return from_report(offline(AT, lines))


def all_owned(*workers: Worker) -> bool:
    owned = sorted(p for w in workers for p in w.owned())
    return owned == [0, 1, 2, 3]


def test_sigkill_mid_stream_then_restart_kept_and_wiped(stack: Stack, tmp_path: Path) -> None:
    """A worker killed with SIGKILL under load comes back, with its RocksDB kept and wiped, to the report's numbers."""
    load = tmp_path / "load.jsonl"
    total = write_load(load, seed=11, hours=3, rate=1.0)
    expected = expected_for(load)
    worker = stack.worker(data_dir="kept")
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    producer = producing(stack, load, rate=3000)
    before_kill = eventually(
        worker.consumed, lambda n: n >= total * 0.3, LOAD_S, "a third of the load consumed"
    )
    worker.stop(signal.SIGKILL)
    assert producer.wait(LOAD_S) == 0

    again = stack.worker(data_dir="kept")
    settles(lambda: sla_gauges(again.metrics()), expected, LOAD_S, "kept store = report")
    redone = again.consumed()
    again.stop(signal.SIGKILL)

    shutil.rmtree(stack.tmp / "kept")
    fresh = stack.worker(data_dir="kept")
    settles(lambda: sla_gauges(fresh.metrics()), expected, LOAD_S, "wiped store = report")
    # figures for docs/reliability.md (shown with pytest -rP)
    print(
        f"crash: sent {total}; consumed {before_kill:.0f} before SIGKILL, {redone:.0f} after the restart "
        f"({before_kill + redone - total:.0f} consumed twice, all deduplicated); gauges = report, kept and wiped"
    )


class OverlapWatch:
    """Scrapes every worker in a loop and remembers any series two of them export at once."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self.overlaps: list[Counter[tuple[str, str]]] = []
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _series(self, worker: Worker) -> set[tuple[str, str]]:
        if worker.process is None:
            return set()
        try:
            samples = worker.metrics()
        except AssertionError:
            return set()
        return {
            (dict(labels)["account"], dict(labels)["channel"])
            for n, labels in samples
            if n == "socialsla_conversations"
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            counts = Counter(s for w in self.workers for s in self._series(w))
            self.scrapes += 1
            if counts and max(counts.values()) > 1:
                self.overlaps.append(counts)
            self._stop.wait(0.2)

    def __enter__(self) -> OverlapWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_scale_out_and_in_under_load(stack: Stack, tmp_path: Path) -> None:
    """Adding two workers and removing two under load never exports a series twice, and totals match after each step."""
    first_load, second_load = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_load(first_load, seed=21, hours=2, rate=1.0, accounts=("acme", "globex", "initech", "umbrella"))
    write_load(second_load, seed=22, hours=2, rate=1.0, accounts=("acme", "globex", "initech", "umbrella"))
    one = stack.worker()
    eventually(
        one.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the first worker to own 4 partitions"
    )
    with OverlapWatch(stack.workers) as watch:
        producer = producing(stack, first_load, rate=2000)
        two, three = stack.worker(), stack.worker()
        eventually(lambda: all_owned(one, two, three) and all(w.owned() for w in (one, two, three)),
                   bool, REBALANCE_S, "three workers sharing 4 partitions")  # fmt: skip
        assert producer.wait(LOAD_S) == 0
        expected = expected_for(first_load)
        merged = lambda: {k: v for w in (one, two, three) for k, v in sla_gauges(w.metrics()).items()}  # noqa: E731
        settles(merged, expected, LOAD_S, "three workers = report after scale-out")

        producer = producing(stack, second_load, rate=2000)
        two.stop()
        three.stop()
        eventually(
            one.owned, lambda owned: sorted(owned) == [0, 1, 2, 3], REBALANCE_S, "one worker owning all again"
        )
        assert producer.wait(LOAD_S) == 0
        expected = expected_for(first_load, second_load)
        settles(
            lambda: sla_gauges(one.metrics()),
            expected,
            LOAD_S,
            "one worker = report after scale-in",
        )
    assert watch.scrapes > 20
    assert watch.overlaps == [], f"series exported twice: {watch.overlaps[:3]}"
    sent = len(first_load.read_bytes().splitlines()) + len(second_load.read_bytes().splitlines())
    print(f"rebalance: sent {sent}; {watch.scrapes} rounds of scraping every worker, 0 series exported twice")


def test_redelivery_changes_nothing(stack: Stack) -> None:
    """Producing every event again is counted as duplicates and leaves every gauge unchanged."""
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    expected = from_report(offline(AT))
    stack.produce(SCENARIO)
    settles(lambda: sla_gauges(worker.metrics()), expected, CATCH_UP_S, "gauges = report")
    stack.produce(SCENARIO)
    eventually(worker.consumed, lambda n: n == 2 * LINES, CATCH_UP_S, "the redelivery consumed")
    assert sla_gauges(worker.metrics()) == expected
    duplicates = sum(
        v
        for (n, labels), v in worker.metrics().items()
        if n == "socialsla_events_total" and dict(labels)["outcome"] == "duplicate"
    )
    assert duplicates == 2 + (23 + 2)  # the first pass's 2, then its 23 accepted and 2 duplicate lines again


async def rewind(group: str, topics: list[str], partitions: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        owned = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
        consumer.assign(owned)
        await consumer.commit({tp: 0 for tp in owned})
    finally:
        await consumer.stop()


def test_consumer_offset_rewind_changes_nothing(stack: Stack) -> None:
    """Rewinding the group to the start of the input topics reprocesses everything with no change in the numbers."""
    worker = stack.worker(data_dir="kept")
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    expected = from_report(offline(AT))
    stack.produce(SCENARIO)
    settles(lambda: sla_gauges(worker.metrics()), expected, CATCH_UP_S, "gauges = report")
    worker.stop()
    asyncio.run(
        rewind(
            stack.env["SOCIALSLA_APP_ID"],
            [stack.env["SOCIALSLA_TOPIC_POSTS"], stack.env["SOCIALSLA_TOPIC_REPLIES"]],
            int(stack.env["SOCIALSLA_PARTITIONS"]),
        )
    )
    again = stack.worker(data_dir="kept")
    eventually(again.consumed, lambda n: n == LINES, CATCH_UP_S, "every event consumed a second time")
    settles(lambda: sla_gauges(again.metrics()), expected, CATCH_UP_S, "gauges unchanged")
