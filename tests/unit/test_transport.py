"""The changes to Faust's transport: synchronous delivery that can still be abandoned, a flush that waits."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer

from socialsla.transport import NoDropReadOffsets, _Resume, complete_flush


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
