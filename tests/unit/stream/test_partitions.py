"""The one partition manager: loaded on assignment or first need, served, dropped on revocation; no broker.

The log reader is a stand-in that hands out records from lists and can be held
mid-replay, so revocations during a replay are tested at the exact moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

import pytest

from socialsla.stream import partitions as partitions_module
from socialsla.stream.partitions import Partitions


class TP(NamedTuple):
    topic: str
    partition: int


class Record(NamedTuple):
    offset: int
    value: bytes


class State:
    """A LogBacked that remembers what it was told."""

    aside = None

    def __init__(self) -> None:
        self.rows: dict[int, list[bytes]] = {}
        self.opened: list[set[int]] = []
        self.dropped: list[int] = []

    def reset(self, partitions: set[int]) -> None:
        self.opened.append(set(partitions))
        for partition in partitions:
            self.rows[partition] = []

    def load_record(self, partition: int, record: Any) -> None:
        self.rows.setdefault(partition, []).append(record.value)

    def drop(self, partition: int) -> None:
        self.dropped.append(partition)
        self.rows.pop(partition, None)


class Log:
    """Stand-in for `readback.read_back`: each partition's records, and an optional hold mid-replay."""

    def __init__(self, records: dict[tuple[str, int], list[bytes]]) -> None:
        self.records = records
        self.replays: list[tuple[str, set[int]]] = []
        self.hold: asyncio.Event | None = None
        self.fail = 0

    async def __call__(
        self, options: Any, topic: str, parts: Collection[int], since: int, apply: Callable[[int, Any], None]
    ) -> dict[int, int]:
        self.replays.append((topic, set(parts)))
        if self.fail:
            self.fail -= 1
            raise ConnectionError("broker gone")
        for partition in sorted(parts):
            for offset, value in enumerate(self.records.get((topic, partition), [])):
                apply(partition, Record(offset, value))
                if self.hold is not None:
                    await self.hold.wait()
        return {p: len(self.records.get((topic, p), [])) for p in parts}


INPUTS = frozenset({"posts", "replies"})
#: How long a replay of these in-memory logs may take before a test fails (they take milliseconds).
REPLAY_S = 5.0


def _manager(log: Log) -> tuple[Partitions, State, State]:
    threads, series = State(), State()
    manager = Partitions(
        {}, lambda: 0, [(threads, "threads", INPUTS), (series, "outcomes", frozenset({"outcomes"}))], log
    )
    return manager, threads, series


def _assignment(*partitions: int) -> list[TP]:
    return [TP(topic, p) for p in partitions for topic in ("posts", "replies", "outcomes")]


@pytest.mark.asyncio
async def test_an_assignment_loads_every_assigned_partition_of_both_states_one_replay_per_log() -> None:
    log = Log({("threads", 0): [b"t0"], ("threads", 2): [b"t2a", b"t2b"], ("outcomes", 2): [b"o2"]})
    manager, threads, series = _manager(log)
    manager.assign(_assignment(0, 2))
    task = asyncio.create_task(manager.keep_loaded())
    await _until(lambda: manager.loaded(series) == {0, 2})
    task.cancel()
    assert log.replays == [("threads", {0, 2}), ("outcomes", {0, 2})]
    assert manager.loaded(threads) == {0, 2}
    assert threads.rows == {0: [b"t0"], 2: [b"t2a", b"t2b"]}
    assert series.rows == {0: [], 2: [b"o2"]}
    assert manager.replayed(threads, 2, 1)
    assert not manager.replayed(threads, 2, 2)  # the live agent applies offset 2 on
    assert not manager.replayed(series, 5, 0)


@pytest.mark.asyncio
async def test_ready_loads_what_a_batch_needs_with_the_rest_of_the_assignment_and_once() -> None:
    log = Log({("outcomes", 1): [b"o1"], ("outcomes", 3): [b"o3"]})
    manager, _, series = _manager(log)
    manager.assign(_assignment(1, 3))
    await asyncio.gather(
        manager.ready(series, {1}), manager.ready(series, {3}), manager.ready(series, {1, 3})
    )
    assert log.replays == [("outcomes", {1, 3})]
    assert series.rows == {1: [b"o1"], 3: [b"o3"]}
    await manager.ready(series, {3})
    assert len(log.replays) == 1


@pytest.mark.asyncio
async def test_a_revocation_drops_the_state_of_both_stages() -> None:
    manager, threads, series = _manager(Log({}))
    manager.assign(_assignment(0, 1))
    await manager.load_assigned()
    manager.revoke([TP("posts", 1), TP("replies", 1), TP("outcomes", 1)])
    assert manager.loaded(threads) == manager.loaded(series) == {0}
    assert threads.dropped == series.dropped == [1]
    assert not manager.holds(threads, 1)
    assert manager.holds(threads, 0)


@pytest.mark.asyncio
async def test_a_partition_revoked_during_its_replay_is_not_loaded_and_gets_no_more_records() -> None:
    """Its records read after the drop are not applied; the next need replays it again, whole."""
    log = Log({("threads", 0): [b"a", b"b", b"c"]})
    manager, threads, _ = _manager(log)
    log.hold = asyncio.Event()
    loading = asyncio.create_task(manager.ready(threads, {0}))
    await _until(lambda: threads.rows.get(0) == [b"a"])
    manager.revoke([TP("posts", 0), TP("replies", 0)])
    log.hold.set()  # the replay ends; ready sees 0 not loaded and loads it again
    await asyncio.wait_for(loading, REPLAY_S)
    assert log.replays == [("threads", {0}), ("threads", {0})]
    assert threads.rows == {0: [b"a", b"b", b"c"]}
    assert manager.loaded(threads) == {0}


@pytest.mark.asyncio
async def test_a_failed_replay_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitions_module, "RETRY_S", 0.01)
    log = Log({("threads", 4): [b"x"]})
    log.fail = 2
    manager, threads, _ = _manager(log)
    manager.assign([TP("posts", 4), TP("replies", 4)])
    task = asyncio.create_task(manager.keep_loaded())
    await _until(lambda: manager.loaded(threads) == {4})
    task.cancel()
    assert len(log.replays) == 3
    assert threads.rows == {4: [b"x"]}


@pytest.mark.asyncio
async def test_faust_signals_drive_it() -> None:
    """`on_assigned` and `on_revoked` take Faust's signal arguments (sender, the set, signal=...)."""
    manager, threads, _ = _manager(Log({}))
    await manager.on_assigned(object(), set(_assignment(7)), signal=object())
    await manager.load_assigned()
    assert manager.loaded(threads) == {7}
    await manager.on_revoked(object(), set(_assignment(7)), signal=object())
    assert manager.loaded(threads) == set()


async def _until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until `condition` holds; fail after REPLAY_S."""
    deadline = asyncio.get_running_loop().time() + REPLAY_S
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition did not come true"
        await asyncio.sleep(0.001)


class Aside(State):
    """A state rebuilt out of process: its rebuild ends only once `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.rebuilt: list[tuple[set[int], int]] = []
        self.aside = self.rebuild

    async def rebuild(self, partitions: Collection[int], since_ms: int) -> dict[int, int]:
        await self.release.wait()
        self.rebuilt.append((set(partitions), since_ms))
        return {p: 7 for p in partitions}


@pytest.mark.asyncio
async def test_a_state_rebuilt_aside_loads_while_the_other_replays_here() -> None:
    """The two logs load side by side: stage 2's replay finishes while stage 1's child still runs."""
    log = Log({("outcomes", 1): [b"o1"]})
    threads, series = Aside(), State()
    manager = Partitions(
        {}, lambda: 42, [(threads, "threads", INPUTS), (series, "outcomes", frozenset({"outcomes"}))], log
    )
    manager.assign(_assignment(1))
    task = asyncio.create_task(manager.keep_loaded())
    await _until(lambda: manager.loaded(series) == {1})
    assert manager.loaded(threads) == set()
    assert log.replays == [("outcomes", {1})]  # the reader is not used for a state rebuilt aside
    threads.release.set()
    await _until(lambda: manager.loaded(threads) == {1})
    task.cancel()
    assert threads.rebuilt == [({1}, 42)]
    assert threads.opened == [{1}]
    assert manager.replayed(threads, 1, 6)
    assert not manager.replayed(threads, 1, 7)
