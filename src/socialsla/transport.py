"""Three changes to Faust's Kafka transport, made where Faust builds its consumer and producer.

All replace Faust internals of faust-streaming 0.15 (pinned below 0.16 in
pyproject.toml; an upgrade has to re-check them):

* `NoDropReadOffsets`: Faust drops fetched messages below a per-partition "read
  offset", which after a rebalance can drop re-fetched input for good (see its
  docstring). Lookups answer "nothing read", so nothing is dropped.
* `drain_messages`: Faust hands each fetched message to the streams through
  `Service.wait_first(callback(message), suspend_flow.wait())`, which creates
  four tasks and an `asyncio.wait` per message, so that a delivery blocked by a
  rebalance can be abandoned. That is the ceiling of any Faust agent on this
  machine (about 7,000 messages/s for an agent doing nothing; see
  BENCHMARKS.md). Here the delivery is first run synchronously; only when it
  would block (flow suspended for a rebalance, a full stream buffer, a full
  producer buffer) does it continue under the same `wait_first`, so the
  rebalance behaviour is Faust's.
* `complete_flush`: before committing input offsets Faust flushes its producer
  buffer (table changelog records wait there), but that flush returns as soon as
  one message takes over 0.1 s to hand over, and ignores the message being
  handed over. A commit can then pass events whose changelog records are still
  in memory, and a SIGKILL loses them for good. Here the flush waits until the
  buffer is empty and nothing is in hand.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING

#: Messages delivered synchronously before the drain loop yields to the event loop.
_YIELD_EVERY = 1000
#: How often a flush looks at the producer buffer again.
_FLUSH_POLL_S = 0.002


class NoDropReadOffsets(dict[Any, Any]):
    """Faust's per-partition read offsets, made advisory: a lookup never says "already read".

    Faust drops every fetched message whose offset is below the partition's read
    offset. When a worker keeps a partition through a rebalance, records from a
    fetch that was in flight across the seek to the committed offset move that
    read offset ahead of the seek, and the messages re-fetched from the committed
    offset are then dropped: never processed, never acknowledged, and the
    partition's commit stuck below them for good (robinhood/faust#681,
    faust-streaming/faust#318; our scale-in and SIGKILL tests lost events to it).
    With lookups answering None nothing is dropped: a re-read message is processed
    again, which our idempotent stages allow (duplicates are recognised, outcomes
    are whole summaries, acknowledgements are de-duplicated by offset). Writes
    are kept, so `get` still reports the last offset read, for the lag gauge.
    """

    def __getitem__(self, key: Any) -> None:
        return None


class _Resume(Awaitable[Any]):
    """The rest of a coroutine that was stepped once by hand and is now waiting on `pending`."""

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        value = self.pending
        while True:
            try:
                sent = yield value
            except BaseException as exc:  # cancellation included: hand it to the coroutine
                try:
                    value = self.coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = self.coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def drain_messages(self: Any, fetcher: Any) -> None:
    """Faust's `Consumer._drain_messages`, delivering synchronously when nothing blocks."""
    callback = self.callback
    getmany = self.getmany
    consumer_stopped = self._stopped.is_set
    fetcher_stopped = fetcher._stopped.is_set
    set_read_offset = self._read_offset.__setitem__
    commit_every = self._commit_every
    since_yield = 0
    try:
        while not (consumer_stopped() or fetcher_stopped()):
            self.diag.set_flag(CONSUMER_FETCHING)
            batches = getmany(timeout=1.0)
            await asyncio.sleep(0)
            if not self.should_stop:
                async for tp, message in batches:
                    since_yield += 1
                    if since_yield > _YIELD_EVERY:
                        since_yield = 0
                        await asyncio.sleep(0)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    delivery = callback(message)
                    try:
                        pending = delivery.send(None)
                    except StopIteration:
                        pass
                    else:
                        await self.wait_first(_Resume(delivery, pending), self.suspend_flow.wait())
                    set_read_offset(tp, message.offset)
            self.diag.unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise
    finally:
        self.diag.unset_flag(CONSUMER_FETCHING)


def install_consumer(consumer: Any) -> Any:
    """Apply the consumer changes to a consumer Faust has just built; returns it."""
    consumer._read_offset = NoDropReadOffsets()
    consumer._drain_messages = types.MethodType(drain_messages, consumer)
    return consumer


def complete_flush(producer: Any) -> Any:
    """Make a just-built producer's buffer flush wait for every message; returns the producer."""
    buffer = producer.buffer
    hand_over = buffer._send_pending
    in_hand = [0]

    async def send_pending(message: Any) -> None:
        in_hand[0] += 1
        try:
            await hand_over(message)
        finally:
            in_hand[0] -= 1

    async def flush() -> None:
        while buffer.size or in_hand[0]:
            if buffer.state != "running" and buffer.size:
                raise RuntimeError("Cannot flush: Producer not Running")  # as Faust's flush
            await asyncio.sleep(_FLUSH_POLL_S)

    # Set before the buffer starts: its sending task looks `_send_pending` up when it starts.
    buffer._send_pending = send_pending
    buffer.flush = flush
    return producer
