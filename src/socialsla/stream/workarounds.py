"""Every workaround of a Faust (or aiokafka) behaviour, made where Faust builds its consumer and producer.

Each is a named piece with the reason it exists, and each assumption about
faust-streaming 0.15.3 / aiokafka 0.14.0 (pinned exactly in pyproject.toml and
requirements.lock) has a canary test in tests/unit/test_workarounds.py that fails
when an upgrade changes it, so an upgrade shows which workaround can go:

* `read_committed`: Faust reads input `read_uncommitted` unless its own
  exactly-once mode is on, so a transactional upstream's aborted events counted.
  (Faust also gives an app without changelog tables a round-robin assignor,
  which splits co-partitioned topics between workers; a public setting keeps
  its own assignor: `table_standby_replicas=1` in `app.py`, with a canary here.)
* `CommitGuard`: Faust commits runs of consecutive acknowledged offsets. It
  committed over messages fetched around a rebalance and never processed (a
  one-message hole, or any hole while the committed offset is unknown; the scale
  test lost events about one run in eight), and it can never commit past an
  offset that holds no message: a transactional upstream's markers stopped the
  commit of every input partition for good (Faust's `_add_gap`,
  faust-streaming/faust#401, covers gaps between two delivered messages only).
  The guard commits through the spans of offsets each fetch moved over, once all
  their records are processed, and re-reads a partition left with a hole.
* `drain_messages`: Faust hands each fetched message to the streams through
  `Service.wait_first(callback(message), suspend_flow.wait())`: four tasks and
  an `asyncio.wait` per message, the ceiling of any Faust agent on this machine.
  Here the delivery is first run synchronously, and only when it would block
  continues under the same `wait_first`, so the rebalance behaviour is Faust's.
  It also never drops a message below Faust's per-partition "read offset", which
  Faust's loop does, and which after a rebalance dropped re-fetched input for
  good (robinhood/faust#681, faust-streaming/faust#318). Kept for speed: the
  bench's same-run comparison with Faust's loop is in BENCHMARKS.md.
* `complete_flush`: before committing input offsets Faust flushes its producer
  buffer (stage 1's log records wait there), but that flush returns as soon as
  one message takes over 0.1 s to hand over, and ignores the message being
  handed over. A commit can then pass events whose log records are still
  in memory, and a SIGKILL loses them for good. Here the flush waits until the
  buffer is empty and nothing is in hand, and logs what it waits for while it
  lasts (the Kafka client's request timeout bounds each record's delivery).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import types
from collections.abc import Awaitable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING

from socialsla.stream import stalls

log = logging.getLogger("socialsla")

#: Messages delivered synchronously before the drain loop yields to the event loop.
_YIELD_EVERY = 1000
#: How often a flush looks at the producer buffer again.
_FLUSH_POLL_S = 0.002
#: How long a hole below acknowledged offsets may last before its partition is re-read.
HOLE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Span:
    """What one fetch moved a partition's position over: [start, end), and the records it returned.

    Every offset in the span that is not one of `offsets` holds no message the
    consumer will ever see: a transaction marker, an aborted transaction's
    record (under read_committed), or a record compacted or deleted away.
    """

    start: int
    end: int
    offsets: range | tuple[int, ...]


def _offsets(records: list[Any]) -> range | tuple[int, ...]:
    first, last = records[0].offset, records[-1].offset
    if last - first + 1 == len(records):
        return range(first, last + 1)
    return tuple(record.offset for record in records)


class CommitGuard:
    """Commit each input partition up to where everything fetched has been processed.

    Faust commits runs of consecutive acknowledged offsets, which has two faults:

    * offsets that hold no message never get acknowledged. A transactional
      upstream writes a marker after every transaction, and the records of
      aborted ones are skipped under read_committed: the commit stopped at the
      first marker of every partition for good, and the old guard read such a
      "hole" as lost messages and re-read the partition every few seconds
      forever. Faust's own fix (`_add_gap`, faust-streaming/faust#401) covers
      gaps between two delivered messages only, never the marker after the last one.
    * it commits a run that does not start at the committed offset: a hole of
      one message, and any hole while the committed offset is unknown, which is
      the case from a revocation until the seek that ends the next recovery.
      Messages fetched around a rebalance and never processed were committed
      over and lost (our scale test, about one run in eight).

    Here the commit follows the consumer's *fetch position* instead of message
    offsets: every fetch records the span of offsets it moved the position
    over (`record_fetch`, in the consumer's thread), and a partition is committed
    from its committed offset through consecutive spans whose records are all
    acknowledged. Markers and aborted records lie inside spans, so they are
    passed; a message fetched and not processed keeps its span, and so the
    commit, where it is. A partition whose spans no longer join up with its
    committed offset while later messages were processed (a delivery Faust
    dropped around a rebalance) is read again from the committed offset once
    that has lasted HOLE_SECONDS (`heal`).
    """

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        #: Per partition, the spans fetched since its last seek, by start offset.
        self.spans: dict[Any, dict[int, Span]] = {}
        #: Where each partition was sought to at the last rebalance (None: never committed).
        self.starts: dict[Any, int | None] = {}
        #: Seeks started so far: a fetch that overlapped one cannot tell where it started.
        self.seeks = 0
        #: Partitions that cannot advance: (committed offset, monotonic time first seen).
        self.holes: dict[Any, tuple[int, float]] = {}
        #: (partition, committed offset, log start) of input deleted unread; the worker drains it.
        self.skipped: list[tuple[Any, int, int]] = []

    # -- in the consumer's thread -------------------------------------------------------------

    def record_fetch(
        self,
        positions: dict[Any, int | None],
        after: dict[Any, int | None],
        fetched: dict[Any, list[Any]],
        seeks_before: int,
    ) -> None:
        """Note the span of each partition a fetch moved, given its positions before and after."""
        trusted = self.seeks == seeks_before
        for tp, end in after.items():
            if end is None:
                continue
            records = fetched.get(tp)
            start = positions.get(tp)
            if records:
                first = records[0].offset
                if not trusted or start is None or start > first:
                    start = first  # what lay before the first record is not known: no claim on it
                self.spans.setdefault(tp, {})[start] = Span(start, end, _offsets(records))
            elif trusted and start is not None and end > start:
                self.spans.setdefault(tp, {})[start] = Span(start, end, ())  # markers only

    async def fetch(
        self, fetch_records: Any, acks_enabled_for: Any, aio: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """Run one of Faust's fetches (`_fetch_records`, in the consumer thread) and note its spans.

        Positions are read for every assigned partition, not only the ones Faust
        calls active: Faust passes an empty set at times, which aiokafka reads as
        "all partitions", and a fetch noted for none of them froze the commit
        until a re-read (seen in the bench: 1 partition, 2 to 4 re-reads a run).
        """
        seeks = self.seeks
        before = _positions(aio, None)
        fetched = await fetch_records(aio, *args, **kwargs)
        after = {
            tp: end
            for tp, end in _positions(aio, set(before) | set(fetched)).items()
            if acks_enabled_for(tp.topic)
        }
        self.record_fetch(before, after, fetched, seeks)
        return fetched

    # -- in the event loop --------------------------------------------------------------------

    def _start(self, tp: Any) -> int | None:
        committed = self.consumer._committed_offset.get(tp)  # noqa: SLF001 - Faust's committed offset per partition; no public getter (canary: test_workarounds)
        if committed is not None:
            return int(committed)
        if tp not in self.starts:
            return None  # revoked, or assigned and not yet sought: the start is not known
        sought = self.starts[tp]
        if sought is not None and sought > 0:
            return sought
        spans = self.spans.get(tp)
        return min(spans) if spans else None  # never committed: from where the reset put it

    def _reach(self, tp: Any, start: int) -> int:
        """The end of the consecutive, wholly acknowledged spans from `start`."""
        spans = self.spans.get(tp, {})
        acked = self.consumer._acked_index.get(tp) or ()  # noqa: SLF001 - Faust's acknowledged offsets, which the guard commits from (canary: test_workarounds)
        position = start
        while (span := spans.get(position)) is not None:
            offsets = span.offsets
            if offsets and not (offsets[-1] in acked and all(o in acked for o in offsets)):
                break
            position = span.end
        return position

    def position(self, tp: Any) -> int:
        """How far `tp` is done: what is processed, or else its committed offset (0 before any)."""
        return max(self.processed(tp) or 0, self.consumer._committed_offset.get(tp) or 0)  # noqa: SLF001 - Faust's committed offset per partition; no public getter (canary: test_workarounds)

    def processed(self, tp: Any) -> int | None:
        """The offset up to which `tp` is processed (what the next commit may reach), or None if unknown.

        Not Faust's read offset: that moves when a message enters a stream's
        buffer, which holds tens of thousands of input events.
        """
        start = self._start(tp)
        return None if start is None else self._reach(tp, start)

    def _forget_below(self, tp: Any, start: int) -> None:
        spans = self.spans.get(tp)
        if spans:
            for key in [key for key, span in list(spans.items()) if span.end <= start]:
                spans.pop(key, None)
        acked = self.consumer._acked.get(tp)  # noqa: SLF001 - Faust's acknowledged offsets, which the guard commits from (canary: test_workarounds)
        if acked and min(acked) < start:
            below = [offset for offset in acked if offset < start]
            acked[:] = [offset for offset in acked if offset >= start]
            self.consumer._acked_index[tp].difference_update(below)  # noqa: SLF001 - Faust's acknowledged offsets, which the guard commits from (canary: test_workarounds)

    def new_offset(self, tp: Any) -> int | None:
        """The offset to commit for `tp` (Faust's `_new_offset`), or None."""
        start = self._start(tp)
        if start is None:
            return None
        self._forget_below(tp, start)
        reach = self._reach(tp, start)
        return reach if reach > start else None

    def pending(self, topics: Any = None) -> Any:
        """Partitions that may have something to commit (Faust's `_filter_tps_with_pending_acks`).

        Faust looks only at partitions with acknowledgements; a partition whose
        last fetch moved over a marker alone has none, and must still commit.
        """
        consumer = self.consumer
        tps = set(consumer._acked) | set(self.spans)  # noqa: SLF001 - Faust's acknowledged offsets, which the guard commits from (canary: test_workarounds)
        return (tp for tp in tps if topics is None or tp in topics or tp.topic in topics)

    async def seek_to_committed(self, seek: Any) -> Any:
        """Run Faust's seek to the committed offsets, then start every partition's spans afresh."""
        self.seeks += 1
        committed = await seek()
        self.starts = {tp: (None if offset is None or offset < 0 else int(offset))
                       for tp, offset in committed.items()}  # fmt: skip
        self.spans = {}
        self.seeks += 1
        await self._note_deleted(committed)
        return committed

    async def _note_deleted(self, committed: Any) -> None:
        """Note partitions whose log now starts past their committed offset (`skipped`).

        Retention deleted what lay between while no worker read it. The consumer
        then resumes at the log start (auto_offset_reset=earliest) and the commit
        moves past the gap, so those events are gone from the numbers for good:
        that must be said and counted, not passed over.
        """
        consumer = self.consumer
        acks_enabled_for = consumer.app.topics.acks_enabled_for
        known = {tp: offset for tp, offset in committed.items()
                 if offset is not None and offset > 0 and acks_enabled_for(tp.topic)}  # fmt: skip
        if not known:
            return
        try:
            starts = await consumer.earliest_offsets(*known)
        except Exception as exc:  # the broker went away mid-rebalance: the next rebalance looks again
            log.warning(
                "socialsla: could not read the log start offsets of %d partitions: %r", len(known), exc
            )
            return
        for tp, offset in known.items():
            start = starts.get(tp)
            if start is not None and start > offset:
                self.skipped.append((tp, int(offset), int(start)))

    def _stuck(self, tp: Any, committed: int) -> bool:
        """Whether a message was processed past one the commit waits for that is not in process.

        Messages of a partition are processed in order, so the acknowledged
        offsets past the committed one are a prefix of what was fetched; an
        acknowledgement past a message that is not acknowledged means that
        message was dropped, or never fetched, and will never be.
        """
        acked = self.consumer._acked.get(tp)  # noqa: SLF001 - Faust's acknowledged offsets, which the guard commits from (canary: test_workarounds)
        if not acked:
            return False
        reach = self._reach(tp, committed)
        span = self.spans.get(tp, {}).get(reach)
        if span is None:
            return bool(max(acked) >= reach)
        index = self.consumer._acked_index.get(tp) or ()  # noqa: SLF001 - Faust's acknowledged offsets, which the guard commits from (canary: test_workarounds)
        waiting = next((offset for offset in span.offsets if offset not in index), None)
        return waiting is not None and max(acked) > waiting

    def holes_to_heal(self, now: float) -> list[tuple[Any, int]]:
        """(partition, committed offset) of every partition stuck for HOLE_SECONDS; forgets them.

        Judged from acknowledgements only (`_stuck`), never from time spent
        processing or committing: a commit slowed by a frozen broker or a full
        producer buffer once read as a hole made the worker re-read every input
        partition every few seconds, which stalled it.
        """
        consumer = self.consumer
        due = []
        current = {}
        for tp in consumer.assignment():
            committed = consumer._committed_offset.get(tp)  # noqa: SLF001 - Faust's committed offset per partition; no public getter (canary: test_workarounds)
            if committed is None:
                continue
            if not self._stuck(tp, committed):
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
        """Seek every stuck partition back to its committed offset; returns them.

        The messages from there on are read and processed again (both stages are
        idempotent), and the ones never processed with them, so the commit moves on.
        """
        due = self.holes_to_heal(now)
        for tp, committed in due:
            self.seeks += 1
            self.spans.pop(tp, None)
            await self.consumer.seek(tp, committed)
            self.seeks += 1
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
    """Faust's `Consumer._drain_messages`, delivering synchronously when nothing blocks.

    Bound to Faust's consumer as its method, it reads that consumer's private
    `_stopped`, `_read_offset`, `_commit_every` and `_n_acked` as Faust's own loop
    does (ruff's SLF001 cannot see them through `self`); the canaries comparing
    it with Faust's loop in tests/unit/test_workarounds.py fail when they change.
    """
    callback = self.callback
    getmany = self.getmany
    consumer_stopped = self._stopped.is_set
    fetcher_stopped = fetcher._stopped.is_set  # noqa: SLF001 - the fetcher's stop flag that Faust's own drain loop polls (canary: test_workarounds)
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


def _positions(aio: Any, tps: Any) -> dict[Any, int | None]:
    """The aiokafka consumer's fetch position of each partition (None while it awaits a reset)."""
    assignment = aio._subscription.subscription.assignment if aio._subscription.subscription else None  # noqa: SLF001 - aiokafka's fetch positions; no public API per partition (canary: test_workarounds)
    if assignment is None:
        return {}
    out: dict[Any, int | None] = {}
    for tp in tps if tps is not None else assignment.tps:
        try:
            state = assignment.state_value(tp)
        except Exception:  # not assigned (any more)
            continue
        out[tp] = state.position if state is not None and state.has_valid_position else None
    return out


def read_committed(consumer: Any) -> None:
    """Read input with isolation `read_committed`.

    Faust chooses `read_committed` only in its own exactly-once mode, whatever
    the upstream does, so a transactional upstream's aborted events were counted.
    """
    thread = consumer._thread  # noqa: SLF001 - Faust's consumer thread, which owns the aiokafka consumer (canary: test_workarounds)
    create = thread._create_consumer  # noqa: SLF001 - where Faust makes the aiokafka consumer, whose isolation it sets (canary: test_workarounds)

    def create_committed(*args: Any, **kwargs: Any) -> Any:
        aio = create(*args, **kwargs)
        aio._isolation_level = "read_committed"  # noqa: SLF001 - read by AIOKafkaConsumer.start; Faust has no setting (canary: test_workarounds)
        return aio

    thread._create_consumer = create_committed  # noqa: SLF001 - where Faust makes the aiokafka consumer, whose isolation it sets (canary: test_workarounds)


def install_consumer(consumer: Any) -> CommitGuard:
    """Apply the consumer changes to a consumer Faust has just built; returns its commit guard."""
    read_committed(consumer)
    consumer._drain_messages = types.MethodType(drain_messages, consumer)  # noqa: SLF001 - Faust's delivery loop, replaced for speed and for the read-offset drop (canary)
    guard = CommitGuard(consumer)
    consumer._new_offset = guard.new_offset  # noqa: SLF001 - Faust's commit computation, replaced by the guard's (canary: test_workarounds)
    consumer._filter_tps_with_pending_acks = guard.pending  # noqa: SLF001 - Faust's commit computation, replaced by the guard's (canary)
    consumer.seek_to_committed = functools.partial(guard.seek_to_committed, consumer.seek_to_committed)
    thread = consumer._thread  # noqa: SLF001 - Faust's consumer thread, which owns the aiokafka consumer (canary: test_workarounds)
    # Every fetch of Faust's thread passes through `_fetch_records`; the guard notes its span (canary).
    fetch_records = thread._fetch_records  # noqa: SLF001 - as above
    acked = consumer.app.topics.acks_enabled_for
    thread._fetch_records = functools.partial(guard.fetch, fetch_records, acked)  # noqa: SLF001 - as above
    return guard


def end_offset(consumer: Any, tp: Any) -> int | None:
    """The offset a caught-up reader of `tp` reaches: the last stable offset, under read_committed.

    The high watermark counts records of transactions still open, which a
    read_committed consumer cannot see yet: lag against it never reaches 0
    while an upstream transaction is open.
    """
    aio = consumer._thread._consumer  # noqa: SLF001 - Faust's consumer thread, which owns the aiokafka consumer (canary: test_workarounds)
    if aio is None:
        return None
    stable = aio.last_stable_offset(tp)
    return int(stable) if stable is not None else consumer.highwater(tp)


def guard_of(app: Any) -> CommitGuard:
    """The commit guard of the app's consumer (made now if Faust has not made it yet)."""
    app.consumer  # noqa: B018 - Faust makes it on first use, and app._new_consumer installs the guard
    guard: CommitGuard = app.commit_guard
    return guard


def complete_flush(producer: Any, log_every: float = stalls.LOG_EVERY_S) -> Any:
    """Make a just-built producer's buffer flush wait for every message, saying what it waits for."""
    buffer = producer.buffer
    hand_over = buffer._send_pending  # noqa: SLF001 - Faust's producer buffer hand-over, counted so a flush waits for it (canary)
    in_hand = [0]

    async def send_pending(message: Any) -> None:
        in_hand[0] += 1
        try:
            await hand_over(message)
        finally:
            in_hand[0] -= 1

    async def flush() -> None:
        progress = stalls.Progress(
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
    buffer._send_pending = send_pending  # noqa: SLF001 - Faust's producer buffer hand-over, counted so a flush waits for it (canary)
    buffer.flush = flush
    return producer
