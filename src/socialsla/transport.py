"""Four changes to Faust's Kafka transport, made where Faust builds its consumer and producer.

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
* `CommitGuard`: Faust commits the first run of consecutive acknowledged
  offsets even when it does not start at the committed offset: it tolerates a
  hole of one message, and any hole at all while it does not know the committed
  offset, which is the case from a revocation until the seek that ends the next
  recovery. Acknowledgements of in-flight events arrive in that window, so a
  hole (messages fetched but never processed, which a rebalance can leave) was
  committed over and lost for good; the scale test showed it about one run in
  eight. The guard commits only from the committed offset on, and re-reads a
  partition from its committed offset when a hole has lasted (`heal`), judged
  between commits only (a commit under way looks like a hole).
* `complete_flush`: before committing input offsets Faust flushes its producer
  buffer (table changelog records wait there), but that flush returns as soon as
  one message takes over 0.1 s to hand over, and ignores the message being
  handed over. A commit can then pass events whose changelog records are still
  in memory, and a SIGKILL loses them for good. Here the flush waits until the
  buffer is empty and nothing is in hand, and logs what it waits for while it
  lasts (the Kafka client's request timeout bounds each record's delivery).
"""

from __future__ import annotations

import asyncio
import functools
import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.utils.functional import consecutive_numbers

from socialsla import waits

#: Messages delivered synchronously before the drain loop yields to the event loop.
_YIELD_EVERY = 1000
#: How often a flush looks at the producer buffer again.
_FLUSH_POLL_S = 0.002
#: How long a hole below acknowledged offsets may last before its partition is re-read.
HOLE_SECONDS = 3.0


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


class CommitGuard:
    """Commit input offsets only from the committed offset on; re-read partitions left with a hole.

    Installed as the consumer's `_new_offset` (the offset Faust commits for a
    partition) and around `seek_to_committed` (which tells the committed offsets
    after each rebalance). A partition the group never committed has no known
    start; Faust's rule applies to it until its first commit.
    """

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        #: Assigned partitions with no committed offset in the group yet.
        self.fresh: set[Any] = set()
        #: Partitions with a hole: (committed offset, monotonic time first seen).
        self.holes: dict[Any, tuple[int, float]] = {}
        #: Commits under way (Faust runs one at a time; a counter stays right if that changes).
        self.committing = 0

    async def force_commit(self, commit: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one of Faust's commits, noting that it is under way.

        From `new_offset` (early in a commit), which takes the run it returns out
        of the acknowledgements, until Faust records the committed offset (at the
        end, after the producer flush and the broker's answer), the partition
        looks exactly like one with a hole. A commit lasts seconds when the
        broker is slow or frozen, or the producer has thousands of records to
        flush: `holes_to_heal` must not read that as a hole.
        """
        self.committing += 1
        try:
            return await commit(*args, **kwargs)
        finally:
            self.committing -= 1

    def new_offset(self, tp: Any) -> int | None:
        """The offset to commit for `tp`, or None: acknowledged offsets from the committed one on, no gap."""
        consumer = self.consumer
        acked = consumer._acked[tp]
        if not acked:
            return None
        committed = consumer._committed_offset[tp]
        if committed is None and tp not in self.fresh:
            return None  # revoked, or reassigned and not yet sought: the start is not known
        acked.sort()
        if committed is not None:
            stale = [offset for offset in acked if offset < committed]
            if stale:
                acked[: len(stale)] = []
                consumer._acked_index[tp].difference_update(stale)
            if not acked or acked[0] != committed:
                return None  # a hole at the head: nothing can be committed past it
        self.fresh.discard(tp)
        run = next(consecutive_numbers(acked))
        acked[: len(run)] = []
        consumer._acked_index[tp].difference_update(run)
        return int(run[-1]) + 1

    def seen_committed(self, committed: Any) -> None:
        """Note which partitions have no committed offset Faust keeps, from a `seek_to_committed` result.

        Faust keeps a committed offset of 0 (offsets reset to the start) as unknown too.
        """
        self.fresh = {tp for tp, offset in committed.items() if offset is None or offset <= 0}

    def holes_to_heal(self, now: float) -> list[tuple[Any, int]]:
        """(partition, committed offset) of every hole that has lasted HOLE_SECONDS; forgets them.

        Judged only between commits. Judging during one once made every commit
        longer than HOLE_SECONDS re-read all input partitions from the committed
        offset (about 9,400 events read twice in a 20 s broker freeze under load):
        more changelog writes, a fuller producer buffer, slower commits, more
        re-reads, which stalled a starved worker.
        """
        if self.committing:
            return []
        consumer = self.consumer
        due = []
        current = {}
        for tp in consumer.assignment():
            committed = consumer._committed_offset.get(tp)
            acked = consumer._acked.get(tp)
            if committed is None or not acked or min(acked) <= committed:
                continue
            since = self.holes.get(tp)
            first = since[1] if since is not None and since[0] == committed else now
            if now - first >= HOLE_SECONDS:
                due.append((tp, committed))
            else:
                current[tp] = (committed, first)
        self.holes = current
        return due

    async def heal(self, now: float) -> list[tuple[Any, int]]:
        """Seek every partition whose hole has lasted back to its committed offset; returns them.

        The messages from there on are read and processed again (both stages are
        idempotent), and the hole's messages with them, so the commit moves on.
        """
        due = self.holes_to_heal(now)
        for tp, committed in due:
            await self.consumer.seek(tp, committed)
        return due


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
    guard = CommitGuard(consumer)
    consumer._new_offset = guard.new_offset
    consumer.force_commit = functools.partial(guard.force_commit, consumer.force_commit)
    seek_to_committed = consumer.seek_to_committed

    async def seek_noting_committed() -> Any:
        committed = await seek_to_committed()
        guard.seen_committed(committed)
        return committed

    consumer.seek_to_committed = seek_noting_committed
    consumer.commit_guard = guard
    return consumer


def guard_of(consumer: Any) -> CommitGuard:
    """The commit guard `install_consumer` gave this consumer."""
    guard: CommitGuard = consumer.commit_guard
    return guard


def complete_flush(producer: Any, log_every: float = waits.LOG_EVERY_S) -> Any:
    """Make a just-built producer's buffer flush wait for every message, saying what it waits for."""
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
        progress = waits.Progress(
            lambda: (
                f"the commit's flush: {buffer.size} table records in the producer buffer and "
                f"{in_hand[0]} being handed over to the Kafka client, to reach the broker"
            ),
            log_every,
        )
        while buffer.size or in_hand[0]:
            if buffer.state != "running" and buffer.size:
                raise RuntimeError("Cannot flush: Producer not Running")  # as Faust's flush
            progress.tick()
            await asyncio.sleep(_FLUSH_POLL_S)

    # Set before the buffer starts: its sending task looks `_send_pending` up when it starts.
    buffer._send_pending = send_pending
    buffer.flush = flush
    return producer
