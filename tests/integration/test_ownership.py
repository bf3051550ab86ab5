"""Ownership across workers: sharing partitions, failover, and restarts with and without local state."""

from __future__ import annotations

from collections import Counter

from tests.harness import CATCH_UP_S, REBALANCE_S, WORKER_READY_S, Samples, Stack, Worker, eventually, settles

from .expected import from_report, sla_gauges
from .test_pipeline import AT, LINES, SCENARIO, offline


def exported_series(worker: Worker) -> set[tuple[str, str]]:
    return {
        (dict(labels)["account"], dict(labels)["channel"])
        for name, labels in worker.metrics()
        if name == "socialsla_conversations"
    }


def union(*workers: Worker) -> Samples:
    merged: Samples = {}
    for worker in workers:
        merged.update(sla_gauges(worker.metrics()))
    return merged


def test_two_workers_share_then_one_takes_over(stack: Stack) -> None:
    """Two workers split the partitions and each series is exported once; after one leaves, the other exports all."""
    first, second = stack.worker(), stack.worker()
    eventually(
        lambda: (sorted(first.owned()), sorted(second.owned())),
        lambda owned: bool(owned[0]) and bool(owned[1]) and sorted(owned[0] + owned[1]) == [0, 1, 2, 3],
        REBALANCE_S,
        "the two workers to split 4 partitions",
    )
    stack.produce(SCENARIO)
    eventually(
        lambda: first.consumed() + second.consumed(), lambda n: n == LINES, CATCH_UP_S, "all events counted"
    )
    expected = from_report(offline(AT))
    settles(
        lambda: union(first, second),
        expected,
        CATCH_UP_S,
        "both workers together = report",
    )
    overlap = Counter([*exported_series(first), *exported_series(second)])
    assert set(overlap) == {("acme", "facebook"), ("acme", "instagram")}
    assert max(overlap.values()) == 1, f"a series exported twice: {overlap}"

    second.stop()
    eventually(
        first.owned, lambda owned: sorted(owned) == [0, 1, 2, 3], REBALANCE_S, "the survivor to own all"
    )
    settles(lambda: sla_gauges(first.metrics()), expected, CATCH_UP_S, "survivor = report")
    assert exported_series(first) == {("acme", "facebook"), ("acme", "instagram")}


def test_restart_on_same_data_dir_and_on_empty_one(stack: Stack) -> None:
    """A worker restarted on its RocksDB data, and one on an empty directory (changelog recovery), both export the same numbers."""
    expected = from_report(offline(AT))
    worker = stack.worker(data_dir="kept")
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    stack.produce(SCENARIO)
    settles(lambda: sla_gauges(worker.metrics()), expected, CATCH_UP_S, "first run = report")
    worker.stop()

    again = stack.worker(data_dir="kept")
    eventually(
        again.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the restarted worker to own 4 partitions"
    )
    settles(lambda: sla_gauges(again.metrics()), expected, CATCH_UP_S, "same data dir = report")
    again.stop()

    fresh = stack.worker(data_dir="empty")
    eventually(
        fresh.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the fresh worker to own 4 partitions"
    )
    settles(
        lambda: sla_gauges(fresh.metrics()),
        expected,
        CATCH_UP_S,
        "empty data dir = report",
    )
    # nothing was consumed twice from the input: offsets were committed before the restarts
    assert fresh.consumed() == 0
