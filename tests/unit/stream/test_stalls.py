"""Long waits on the broker say what they wait for while they last."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import SimpleNamespace

import pytest
from faust.transport.producer import ProducerBuffer

from socialsla.stream import stalls
from socialsla.stream.workarounds import complete_flush


@pytest.mark.asyncio
async def test_a_long_wait_logs_what_it_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    """A wait that outlasts `every` logs its duration and subject, and still returns the result."""
    caplog.set_level(logging.WARNING, "socialsla")

    async def slow() -> str:
        await asyncio.sleep(0.35)
        return "sent"

    assert await stalls.logged(slow(), lambda: "the broker", every=0.1) == "sent"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) >= 2
    assert all(
        line.startswith("socialsla: waiting ") and line.endswith("s so far for the broker") for line in lines
    )


@pytest.mark.asyncio
async def test_a_quick_wait_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    """A wait shorter than `every` logs nothing."""
    caplog.set_level(logging.WARNING, "socialsla")

    async def quick() -> int:
        return 1

    assert await stalls.logged(quick(), lambda: "x", every=0.5) == 1
    assert caplog.records == []


@pytest.mark.asyncio
async def test_cancelling_the_wait_cancels_what_it_awaits() -> None:
    """A cancelled wait (a rebalance, a shutdown) leaves nothing running behind it."""
    inner = asyncio.ensure_future(asyncio.sleep(10))
    outer = asyncio.ensure_future(stalls.logged(inner, lambda: "x", every=0.05))
    await asyncio.sleep(0.01)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert inner.cancelled()


@pytest.mark.asyncio
async def test_a_stuck_flush_says_how_many_records_it_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    """The commit's flush names the records still buffered and in hand while it waits for them."""
    caplog.set_level(logging.WARNING, "socialsla")
    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]

    async def broker_never_answers(message: object) -> None:
        await asyncio.sleep(3600)

    buffer._send_pending = broker_never_answers  # type: ignore[method-assign]
    complete_flush(SimpleNamespace(buffer=buffer), log_every=0.05)
    await buffer.start()
    try:
        buffer.put(object())  # type: ignore[arg-type]
        buffer.put(object())  # type: ignore[arg-type]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(buffer.flush(), 0.3)
    finally:
        with contextlib.suppress(TimeoutError, RuntimeError):  # its own flush cannot finish either
            await asyncio.wait_for(buffer.stop(), 0.1)
    message = caplog.records[0].getMessage()
    assert "1 table records in the producer buffer and 1 being handed over" in message
