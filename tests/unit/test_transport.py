"""The changes to Faust's transport: synchronous delivery that can still be abandoned, a flush that waits."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.transport.producer import ProducerBuffer
from intervaltree import IntervalTree

from socialsla.transport import HOLE_SECONDS, CommitGuard, NoDropReadOffsets, _Resume, complete_flush


def test_read_offsets_never_say_already_read() -> None:
    """Lookups answer None (nothing is dropped); what was written stays readable for the lag gauge."""
    offsets = NoDropReadOffsets()
    offsets["tp"] = 41
    assert offsets["tp"] is None
    assert offsets.get("tp") == 41


@pytest.mark.asyncio
async def test_a_delivery_that_blocked_finishes_under_resume() -> None:
    """A coroutine stepped once by hand, then awaited through _Resume, ends with its own result."""
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def deliver() -> str:
        return f"delivered {await gate}"

    coro = deliver()
    pending = coro.send(None)  # blocks on the gate, as a delivery blocks on a full buffer
    task = asyncio.ensure_future(_Resume(coro, pending))
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result(7)
    assert await task == "delivered 7"


@pytest.mark.asyncio
async def test_a_blocked_delivery_can_still_be_abandoned() -> None:
    """Cancelling the wrapper (what wait_first does when a rebalance wins) cancels the delivery inside."""
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def deliver() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    coro = deliver()
    task = asyncio.ensure_future(_Resume(coro, coro.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


class _Slow:
    """A pending message whose hand-over to Kafka takes longer than Faust's 0.1 s flush wait."""

    def __init__(self, sent: list[int], number: int) -> None:
        self.message = SimpleNamespace(channel=self)
        self.sent, self.number = sent, number

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(0.25)
        self.sent.append(self.number)


async def _flushed_after(buffer: ProducerBuffer, sent: list[int]) -> list[int]:
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    try:
        for number in range(3):
            buffer.put(_Slow(sent, number))  # type: ignore[arg-type]
        await buffer.flush()
        return list(sent)
    finally:
        while len(sent) < 3:  # let the rest go out, so the buffer can stop
            await asyncio.sleep(0.05)
        await buffer.stop()


@pytest.mark.asyncio
async def test_fausts_own_flush_returns_before_a_slow_message_is_sent() -> None:
    """The Faust behaviour complete_flush exists for; if this starts failing, Faust fixed it."""
    sent: list[int] = []
    assert await _flushed_after(ProducerBuffer(), sent) != [0, 1, 2]


@pytest.mark.asyncio
async def test_complete_flush_waits_for_every_message() -> None:
    """With complete_flush, flush returns only once every buffered message has been handed over."""
    sent: list[int] = []
    buffer = ProducerBuffer()
    complete_flush(SimpleNamespace(buffer=buffer))
    assert await _flushed_after(buffer, sent) == [0, 1, 2]


def _consumer_state(committed: int | None, acked: list[int], assigned: tuple[str, ...] = ("t",)) -> Any:
    """The bookkeeping Faust's consumer keeps per partition, as plain containers."""
    state = SimpleNamespace(
        _acked=defaultdict(list, {"t": list(acked)}),
        _acked_index=defaultdict(set, {"t": set(acked)}),
        _committed_offset=defaultdict(lambda: None, {"t": committed}),
        _gap=defaultdict(IntervalTree),
        sought=[],
    )
    state.assignment = lambda: set(assigned)

    async def seek(tp: str, offset: int) -> None:
        state.sought.append((tp, offset))

    state.seek = seek
    return state


@pytest.mark.parametrize(
    ("committed", "acked", "faust"),
    [(10, [11, 12, 13], 14), (None, [15, 16], 17), (0, [5, 6], 7)],
)
def test_faust_commits_past_holes(committed: int | None, acked: list[int], faust: int) -> None:
    """Faust's rule passes a one-message hole, any hole at offset 0 or when the committed offset is unknown."""
    assert Consumer._new_offset(_consumer_state(committed, acked), "t") == faust  # type: ignore[arg-type]


def test_offsets_reset_to_the_start_still_commit() -> None:
    """A group reset to offset 0 (which Faust keeps as "unknown") commits as a never-committed one."""
    state = _consumer_state(None, [0, 1, 2])
    guard = CommitGuard(state)
    guard.seen_committed({"t": 0})
    assert guard.new_offset("t") == 3


@pytest.mark.parametrize(
    ("sought", "committed", "acked", "expected", "left"),
    [
        (10, 10, [10, 11, 12, 14], 13, [14]),  # the run from the committed offset
        (10, 10, [11, 12, 13], None, [11, 12, 13]),  # a one-message hole holds the commit
        (10, 10, [7, 8, 10], 11, []),  # acknowledgements below the committed offset are dropped
        (12, None, [15, 16], None, [15, 16]),  # revoked, or reassigned and not yet sought
        (None, None, [0, 1, 3], 2, [3]),  # never committed in the group: Faust's rule
    ],
)
def test_guard_commits_only_from_the_committed_offset(
    sought: int | None, committed: int | None, acked: list[int], expected: int | None, left: list[int]
) -> None:
    """The guard's offset starts at the committed one; what it cannot commit stays acknowledged."""
    state = _consumer_state(committed, acked)
    guard = CommitGuard(state)
    guard.seen_committed({"t": sought})
    assert guard.new_offset("t") == expected
    assert state._acked["t"] == left
    assert state._acked_index["t"] == set(left)


@pytest.mark.asyncio
async def test_a_lasting_hole_is_read_again_from_the_committed_offset() -> None:
    """A hole is re-read once it has lasted HOLE_SECONDS with the same committed offset; not before."""
    state = _consumer_state(10, [12, 13])
    guard = CommitGuard(state)
    assert await guard.heal(100.0) == []
    assert await guard.heal(100.0 + HOLE_SECONDS / 2) == []
    assert await guard.heal(100.0 + HOLE_SECONDS) == [("t", 10)]
    assert state.sought == [("t", 10)]
    state._committed_offset["t"] = 12  # the commit moved: a new hole starts its own clock
    state._acked["t"] = [14]
    assert await guard.heal(200.0) == []
    assert await guard.heal(200.0 + HOLE_SECONDS - 0.1) == []


@pytest.mark.asyncio
async def test_no_hole_no_seek() -> None:
    """Acknowledgements that start at the committed offset, or none, never cause a re-read."""
    for committed, acked in ((10, [10, 11]), (10, []), (None, [12])):
        state = _consumer_state(committed, acked)
        guard = CommitGuard(state)
        await guard.heal(0.0)
        assert await guard.heal(HOLE_SECONDS * 10) == []
        assert state.sought == []


@pytest.mark.asyncio
async def test_a_commit_under_way_is_not_a_hole() -> None:
    """While a commit runs, the run it took out of the acknowledgements is not read as a hole, however long."""
    state = _consumer_state(10, [10, 11, 12, 14])
    guard = CommitGuard(state)

    async def slow_commit() -> bool:
        assert guard.new_offset("t") == 13  # 10-12 leave the acknowledgements; committed is still 10
        assert await guard.heal(100.0) == []
        assert await guard.heal(100.0 + HOLE_SECONDS * 10) == []
        state._committed_offset["t"] = 13  # what Faust records once the broker has answered
        return True

    assert await guard.force_commit(slow_commit) is True
    assert await guard.heal(200.0 + HOLE_SECONDS * 10) == []
    assert state.sought == []


@pytest.mark.asyncio
async def test_a_commit_that_recorded_nothing_leaves_a_hole_that_heals() -> None:
    """A commit that ended without recording its offset (it failed) leaves a real hole, re-read in time."""
    state = _consumer_state(10, [10, 11, 12, 14])
    guard = CommitGuard(state)

    async def failed_commit() -> bool:
        guard.new_offset("t")
        raise RuntimeError("commit failed")

    with pytest.raises(RuntimeError):
        await guard.force_commit(failed_commit)
    assert await guard.heal(300.0) == []
    assert await guard.heal(300.0 + HOLE_SECONDS) == [("t", 10)]


@pytest.mark.asyncio
async def test_canary_every_faust_commit_goes_through_force_commit() -> None:
    """Faust's Consumer.commit calls self.force_commit: the guard wraps that to know a commit is under way."""
    calls: list[object] = []

    async def no_wait() -> bool:
        return False

    async def force_commit(topics: object = None, start_new_transaction: bool = True) -> bool:
        calls.append(topics)
        return True

    fake = SimpleNamespace(app=SimpleNamespace(client_only=False), _commit_fut=None, loop=asyncio.get_running_loop(),
                           maybe_wait_for_commit_to_finish=no_wait, force_commit=force_commit)  # fmt: skip
    assert await Consumer.commit(fake) is True  # type: ignore[arg-type]
    assert calls == [None]
