"""The workarounds of Faust behaviours: synchronous delivery that can still be abandoned, a flush that waits."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from faust.assignor.client_assignment import ClientAssignment
from faust.transport.consumer import Consumer
from faust.transport.producer import ProducerBuffer
from faust.types import TP
from intervaltree import IntervalTree

from socialsla import app as socialsla_app
from socialsla.app import INPUT_BUFFER, Worker, assemble
from socialsla.core.rules import DEFAULT_RULES
from socialsla.stream.settings import Settings
from socialsla.stream.shutdown import Deadline
from socialsla.stream.workarounds import (
    HOLE_SECONDS,
    CommitGuard,
    Span,
    _positions,
    _Resume,
    complete_flush,
    drain_messages,
    end_offset,
    guard_of,
    read_committed,
)


def _draining(read_offset: int, offsets: list[int]) -> tuple[Any, Any, list[int]]:
    """A consumer and fetcher with just what a drain loop uses, fetching `offsets` of one partition once."""
    delivered: list[int] = []
    fetcher = SimpleNamespace(_stopped=asyncio.Event())

    async def getmany(timeout: float) -> Any:
        for offset in offsets:
            yield "t", SimpleNamespace(offset=offset, topic="t", key=b"", value=b"")
        fetcher._stopped.set()

    async def callback(message: Any) -> None:
        delivered.append(message.offset)

    async def wait_first(*coros: Any) -> None:
        await coros[0]
        for other in coros[1:]:
            other.close()

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def add_gap(tp: Any, start: int, end: int) -> None:
        return None

    consumer = SimpleNamespace(
        callback=callback, getmany=getmany, _stopped=asyncio.Event(), _read_offset={"t": read_offset},
        diag=SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None), _commit_every=None,
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True)), sleep=sleep,
        should_stop=False, _add_gap=add_gap, _n_acked=0, wait_first=wait_first,
        suspend_flow=asyncio.Event(), log=SimpleNamespace(dev=lambda *args: None),
        consumer_stopped_errors=(), transport=SimpleNamespace(app=SimpleNamespace(should_stop=False)),
    )  # fmt: skip
    return consumer, fetcher, delivered


@pytest.mark.asyncio
async def test_canary_fausts_drain_drops_messages_below_its_read_offset() -> None:
    """Faust's loop drops re-fetched messages below the read offset (faust#681); `drain_messages` delivers them."""
    consumer, fetcher, delivered = _draining(read_offset=10, offsets=[8, 9, 10, 11])
    await Consumer._drain_messages(consumer, fetcher)  # type: ignore[arg-type]
    assert delivered == [10, 11]
    consumer, fetcher, delivered = _draining(read_offset=10, offsets=[8, 9, 10, 11])
    await drain_messages(consumer, fetcher)
    assert delivered == [8, 9, 10, 11]
    assert consumer._read_offset == {"t": 11}


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
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: False)),
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


def _guard(
    committed: int | None,
    acked: list[int],
    spans: list[tuple[int, int, tuple[int, ...]]],
    sought: int | None = 0,
) -> tuple[Any, CommitGuard]:
    """A guard over Faust-like bookkeeping for partition "t", with spans already fetched."""
    state = _consumer_state(committed, acked)
    guard = CommitGuard(state)
    guard.starts = {"t": sought}
    guard.spans = {"t": {start: Span(start, end, offsets) for start, end, offsets in spans}}
    return state, guard


@pytest.mark.parametrize(
    ("committed", "acked", "spans", "expected"),
    [
        (10, [10, 11, 12], [(10, 13, (10, 11, 12))], 13),
        (
            10,
            [10, 11, 12],
            [(10, 13, (10, 11, 12)), (13, 14, ())],
            14,
        ),  # a marker alone after the last message
        (10, [10, 12, 14], [(10, 16, (10, 12, 14))], 16),  # markers between and after messages
        (10, [10, 12], [(10, 13, (10, 11, 12))], None),  # 11 fetched, not processed: the commit waits
        (10, [10, 11, 12, 13], [(10, 12, (10, 11)), (13, 14, (13,))], 12),  # 12 never fetched: no claim on it
        (10, [12, 13], [(12, 14, (12, 13))], None),  # spans that do not join the committed offset
        (None, [0, 1, 3], [(0, 4, (0, 1, 3))], 4),  # never committed: from where the reset put it
        (10, [7, 8, 10], [(10, 11, (10,))], 11),  # acknowledgements below the committed offset are dropped
    ],
    ids=[
        "run",
        "trailing-marker",
        "markers-inside",
        "unprocessed",
        "unfetched",
        "disjoint",
        "never-committed",
        "stale-acks",
    ],
)
def test_guard_commits_through_wholly_processed_spans(
    committed: int | None,
    acked: list[int],
    spans: list[tuple[int, int, tuple[int, ...]]],
    expected: int | None,
) -> None:
    """The commit moves from the committed offset through consecutive spans whose records were all acknowledged."""
    _, guard = _guard(committed, acked, spans, sought=None if committed is None else committed)
    assert guard.new_offset("t") == expected


def test_processed_is_where_the_commit_may_reach_not_what_entered_a_stream_buffer() -> None:
    """Lag is measured to `processed`: messages delivered to a stream's buffer are not processed yet."""
    state, guard = _guard(10, [10, 11], [(10, 13, (10, 11, 12)), (13, 20, tuple(range(13, 20)))])
    state._read_offset = {"t": 19}  # all of them handed to the stream's buffer
    assert guard.processed("t") == 10  # 12 is not processed: its span holds the reach
    state._acked["t"].append(12)
    state._acked_index["t"].add(12)
    assert guard.processed("t") == 13
    assert state._acked["t"] == [10, 11, 12]  # nothing forgotten: only a commit does that
    guard.starts = {}
    state._committed_offset = {}
    assert guard.processed("t") is None


def test_a_partition_not_yet_sought_commits_nothing() -> None:
    """Between an assignment and the seek to the committed offsets, the start is unknown: no commit."""
    _, guard = _guard(None, [15, 16], [(15, 17, (15, 16))])
    guard.starts = {}
    assert guard.new_offset("t") is None


def test_committing_forgets_what_lies_below_the_committed_offset() -> None:
    """Acknowledgements and spans below the committed offset are dropped as the commit moves."""
    state, guard = _guard(10, [8, 10, 11], [(5, 10, (5, 9)), (10, 12, (10, 11))])
    assert guard.new_offset("t") == 12
    assert state._acked["t"] == [10, 11]
    assert list(guard.spans["t"]) == [10]


def _record(offset: int) -> Any:
    return SimpleNamespace(offset=offset)


@pytest.mark.parametrize(
    ("before", "after", "records", "moved_seek", "span"),
    [
        (10, 14, [10, 11, 12, 13], False, Span(10, 14, range(10, 14))),
        (10, 14, [11, 13], False, Span(10, 14, (11, 13))),  # a marker at 10 and at 12
        (10, 11, [], False, Span(10, 11, ())),  # a fetch that moved over a marker alone
        (
            10,
            14,
            [11, 13],
            True,
            Span(11, 14, (11, 13)),
        ),  # a seek overlapped: no claim before the first record
        (10, 11, [], True, None),
        (10, 10, [], False, None),
    ],
    ids=["messages", "markers", "marker-only", "seek-overlap", "seek-overlap-empty", "no-move"],
)
def test_a_fetch_records_the_span_it_moved_over(
    before: int, after: int, records: list[int], moved_seek: bool, span: Span | None
) -> None:
    """A fetch claims the offsets from its start position to its end, unless a seek may have moved the start."""
    guard = CommitGuard(_consumer_state(None, []))
    seeks = guard.seeks
    if moved_seek:
        guard.seeks += 2
    guard.record_fetch(
        {"t": before}, {"t": after}, {"t": [_record(o) for o in records]} if records else {}, seeks
    )
    assert list(guard.spans.get("t", {}).values()) == ([span] if span else [])


def test_a_partition_with_only_markers_since_its_last_ack_is_still_committed() -> None:
    """Partitions with spans count as pending although Faust has no acknowledgement for them."""
    state, guard = _guard(13, [], [(13, 14, ())], sought=13)
    state._acked.clear()
    assert list(guard.pending()) == ["t"]
    assert guard.new_offset("t") == 14


@pytest.mark.asyncio
async def test_a_seek_to_committed_starts_spans_afresh() -> None:
    """After the seek that ends a rebalance, older spans are gone and the sought offsets are the starts."""
    _, guard = _guard(None, [], [(3, 9, (3, 8))])
    t, u = TP("t", 0), TP("u", 0)

    async def seek() -> dict[TP, int | None]:
        return {t: 5, u: None}

    assert await guard.seek_to_committed(seek) == {t: 5, u: None}
    assert guard.spans == {}
    assert guard.starts == {t: 5, u: None}


@pytest.mark.asyncio
@pytest.mark.parametrize(("log_start", "skipped"), [(5, []), (3, []), (9, [(TP("t", 0), 5, 9)])])
async def test_input_deleted_before_it_was_read_is_noted(log_start: int, skipped: list[Any]) -> None:
    """A log that now starts past the committed offset (retention) is noted, with the offsets lost."""
    state, guard = _guard(None, [], [])
    t = TP("t", 0)

    async def earliest_offsets(*tps: TP) -> dict[TP, int]:
        return {tp: log_start for tp in tps}

    state.earliest_offsets = earliest_offsets
    state.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))

    async def seek() -> dict[TP, int]:
        return {t: 5}

    await guard.seek_to_committed(seek)
    assert guard.skipped == skipped


@pytest.mark.asyncio
async def test_a_stuck_partition_is_read_again_from_the_committed_offset() -> None:
    """Processed messages beyond what the commit can reach get the partition re-read after HOLE_SECONDS, not before."""
    state, guard = _guard(10, [12, 13], [(12, 14, (12, 13))], sought=10)
    assert await guard.heal(100.0) == []
    assert await guard.heal(100.0 + HOLE_SECONDS / 2) == []
    assert await guard.heal(100.0 + HOLE_SECONDS) == [("t", 10)]
    assert state.sought == [("t", 10)]
    assert "t" not in guard.spans
    state._committed_offset["t"] = 12  # the commit moved: a new hole starts its own clock
    state._acked["t"] = [14]
    assert await guard.heal(200.0) == []
    assert await guard.heal(200.0 + HOLE_SECONDS - 0.1) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("committed", "acked", "spans"),
    [
        (10, [10, 11], [(10, 12, (10, 11))]),  # everything committable
        (10, [], [(10, 12, (10, 11))]),  # fetched, still being processed
        (None, [12], [(12, 13, (12,))]),  # never committed
        (10, [10, 11], [(10, 14, (10, 11, 12, 13))]),  # in order, the rest still being processed
    ],
    ids=["committable", "in-flight", "never-committed", "partly-processed"],
)
async def test_no_hole_no_seek(
    committed: int | None, acked: list[int], spans: list[tuple[int, int, tuple[int, ...]]]
) -> None:
    """A partition whose processed messages the commit can reach is never re-read."""
    state, guard = _guard(committed, acked, spans, sought=committed)
    await guard.heal(0.0)
    assert await guard.heal(HOLE_SECONDS * 10) == []
    assert state.sought == []


@pytest.mark.asyncio
async def test_a_commit_under_way_is_not_a_hole() -> None:
    """Computing the offset to commit leaves the acknowledgements alone, so a long commit never looks stuck."""
    state, guard = _guard(10, [10, 11, 12], [(10, 13, (10, 11, 12))], sought=10)
    assert guard.new_offset("t") == 13  # the commit starts; Faust records 13 only once the broker answers
    assert await guard.heal(100.0) == []
    assert await guard.heal(100.0 + HOLE_SECONDS * 10) == []
    assert state.sought == []


@pytest.mark.asyncio
async def test_a_message_skipped_inside_a_fetch_is_a_hole() -> None:
    """A later message of the same fetch processed while an earlier one is not: the earlier was dropped."""
    state, guard = _guard(10, [10, 12], [(10, 14, (10, 11, 12, 13))], sought=10)
    await guard.heal(0.0)
    assert await guard.heal(HOLE_SECONDS) == [("t", 10)]
    assert state.sought == [("t", 10)]


# -- Canaries: each fails when the installed Faust or aiokafka no longer behaves as a workaround assumes,
# -- so an upgrade shows which workaround to re-check or remove.


def _faust_app(tmp: Path | None = None, **conf: Any) -> Any:
    return faust.App(
        "canary",
        **conf,
        broker="kafka://127.0.0.1:1",  # nothing listens: these tests never connect
        store="rocksdb://" if tmp else "memory://",
        datadir=str(tmp) if tmp else None,
        web_enabled=False,
        autodiscover=False,
    )


@pytest.mark.asyncio
async def test_canary_faust_reads_uncommitted_outside_its_own_transactions() -> None:
    """Faust builds its worker consumer with read_uncommitted (so `read_committed` is needed), and ours reads committed."""
    app = _faust_app()
    consumer = app.consumer
    assert consumer._thread._create_worker_consumer(app.transport)._isolation_level == "read_uncommitted"
    read_committed(consumer)
    ours = consumer._thread._create_consumer(loop=asyncio.get_running_loop())
    assert ours._isolation_level == "read_committed"
    assert "isolation_level=self._isolation_level" in inspect.getsource(AIOKafkaConsumer.start)


@pytest.mark.asyncio
async def test_canary_faust_keeps_its_co_partitioning_assignor_only_with_standby_replicas(
    tmp_path: Path,
) -> None:
    """With no table and no standby, Faust assigns round-robin (co-partitioning lost); socialsla's app sets standbys.

    And a standby of a topic that is no changelog never reaches Kafka's assignment,
    so the setting makes the worker fetch nothing more.
    """
    plain = _faust_app(table_standby_replicas=0)
    fausts = plain.consumer._thread._create_worker_consumer(plain.transport)._partition_assignment_strategy
    assert [strategy.__name__ for strategy in fausts] == ["RoundRobinPartitionAssignor"]
    app = socialsla_app._app(Settings(data_dir=tmp_path, store="memory://"))
    ours = app.consumer._thread._create_worker_consumer(app.transport)._partition_assignment_strategy
    assert list(ours) == [app.assignor]
    assignment = ClientAssignment(actives={"social.posts": [0]}, standbys={"social.posts": [1]})
    assert assignment.kafka_protocol_assignment(app.tables) == [("social.posts", [0])]


@pytest.mark.asyncio
async def test_a_topics_maxsize_sizes_the_stream_buffer_of_the_agent_reading_it() -> None:
    """`faust.Topic(maxsize=N)`, public, sizes the stream an agent iterates; `app.topic` would drop it."""
    app = _faust_app()
    topic = faust.Topic(app, topics=("a", "b"), maxsize=5, key_type=bytes, value_type=bytes)
    assert topic.clone(is_iterator=True).queue.maxsize == 5  # what an agent iterates (Channel.__aiter__)
    assert app.topic("a", maxsize=5).maxsize is None
    assert app.topic("c").clone(is_iterator=True).queue.maxsize == app.conf.stream_buffer_maxsize == 4096


def test_stage_one_reads_with_the_deeper_buffer_and_stage_two_with_fausts(tmp_path: Path) -> None:
    """The worker's input stream buffers `INPUT_BUFFER` events; stage 2's keeps Faust's size."""
    agents = assemble(Settings(data_dir=tmp_path), DEFAULT_RULES).app.agents
    assert agents["conversations"].channel.maxsize == INPUT_BUFFER > 4096
    assert agents["series"].channel.maxsize is None


@pytest.mark.asyncio
async def test_canary_every_fetch_goes_through_the_threads_fetch_records() -> None:
    """Faust's consumer thread fetches through `self._fetch_records`, where the guard notes each fetch's span."""
    thread = _faust_app().consumer._thread
    called: list[Any] = []

    async def call_thread(fun: Any, *args: Any, **kwargs: Any) -> dict[str, list[Any]]:
        called.append(fun)
        return {}

    thread.call_thread = call_thread
    thread._ensure_consumer = lambda: SimpleNamespace(_max_poll_records=None)
    thread._fetch_records = marker = object()
    await thread.getmany(None, 1.0)
    assert called == [marker]


@pytest.mark.asyncio
async def test_canary_faust_commits_the_offsets_new_offset_gives_for_pending_partitions() -> None:
    """A Faust commit asks `_filter_tps_with_pending_acks` which partitions, and `_new_offset` what offset."""
    consumer = _faust_app().consumer
    committed: list[dict[Any, int]] = []
    consumer._filter_tps_with_pending_acks = lambda topics=None: iter(["t"])
    consumer._new_offset = lambda tp: 14
    consumer._committed_offset = defaultdict(lambda: 10)

    async def commit_offsets(offsets: dict[Any, int], start_new_transaction: bool = True) -> bool:
        committed.append(dict(offsets))
        return True

    async def handle_attached(offsets: Any) -> None:
        return None

    consumer._commit_offsets = commit_offsets
    consumer._handle_attached = handle_attached
    assert await consumer.force_commit() is True
    assert committed == [{"t": 14}]


@pytest.mark.asyncio
async def test_canary_the_seek_after_a_rebalance_goes_through_seek_to_committed() -> None:
    """Faust's `perform_seek`, which ends every rebalance, calls `seek_to_committed`: the guard restarts spans there."""
    consumer = _faust_app().consumer
    calls: list[str] = []

    tp = TP("t", 0)

    async def seek_to_committed() -> dict[TP, int]:
        calls.append("seek")
        return {tp: 7}

    consumer.seek_to_committed = seek_to_committed
    await consumer.perform_seek()
    assert calls == ["seek"]
    assert consumer._committed_offset[tp] == 7


class _Positions:
    """aiokafka's subscription state, as far as `CommitGuard.fetch` reads it."""

    def __init__(self, positions: dict[Any, int]) -> None:
        self.positions = positions
        assignment = SimpleNamespace(tps=set(positions), state_value=self.state)
        self._subscription = SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))

    def state(self, tp: Any) -> Any:
        return SimpleNamespace(position=self.positions[tp], has_valid_position=True)


@pytest.mark.asyncio
async def test_a_fetch_for_an_empty_active_set_still_notes_its_spans() -> None:
    """Faust at times fetches with no active partitions (aiokafka: all of them); the spans are noted all the same."""
    guard = CommitGuard(_consumer_state(None, []))
    t, changelog = TP("t", 0), TP("app-table-changelog", 0)
    aio = _Positions({t: 10, changelog: 3})

    async def fetch_records(aio: Any, active: Any, timeout: float) -> dict[Any, list[Any]]:
        aio.positions[t] = 12
        aio.positions[changelog] = 5
        return {t: [_record(10), _record(11)], changelog: [_record(3), _record(4)]}

    fetched = await guard.fetch(fetch_records, lambda topic: topic == "t", aio, set(), timeout=1.0)
    assert set(fetched) == {t, changelog}
    assert guard.spans == {t: {10: Span(10, 12, range(10, 12))}}  # changelogs are never committed: no spans


@pytest.mark.asyncio
async def test_the_worker_keeps_the_root_logger_at_its_level() -> None:
    """Faust's own root-logger hook sets DEBUG for its spinner (every debug call then builds a record);
    the worker's override of that public hook keeps the level and drops the spinner."""
    loop = asyncio.get_running_loop()
    logger = logging.getLogger("socialsla-canary")
    logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.WARNING)
    faust.Worker(_faust_app(), loop=loop, quiet=True).on_setup_root_logger(logger, logging.WARNING)
    assert logger.level == logging.DEBUG
    logger.setLevel(logging.WARNING)
    ours = Worker(_faust_app(), Deadline(20, "test"), loop=loop, quiet=True)
    ours.on_setup_root_logger(logger, logging.WARNING)
    assert logger.level == logging.WARNING
    assert ours.spinner is None


@pytest.mark.asyncio
async def test_canary_faust_builds_its_clients_through_the_apps_factories(tmp_path: Path) -> None:
    """Faust makes `app.consumer` with `App._new_consumer` and `app.producer` with `App._new_producer`, where
    the worker's app installs the commit guard, the drain loop and the complete flush."""
    app = assemble(Settings(data_dir=tmp_path), DEFAULT_RULES).app
    consumer = app.consumer
    assert app.commit_guard is not None
    assert app.commit_guard.consumer is consumer
    assert guard_of(app) is app.commit_guard
    assert consumer._new_offset == app.commit_guard.new_offset
    assert consumer._drain_messages.__func__ is drain_messages
    assert app.producer.buffer.flush.__qualname__ == "complete_flush.<locals>.flush"


@pytest.mark.asyncio
async def test_canary_aiokafkas_subscription_holds_each_partitions_fetch_position() -> None:
    """The guard reads fetch positions from aiokafka's subscription state: None until a reset, then the offset."""
    from aiokafka import TopicPartition

    aio = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")  # never started: nothing connects
    tp = TopicPartition("t", 0)
    aio.assign([tp])
    assert _positions(aio, None) == {tp: None}
    aio._subscription.subscription.assignment.state_value(tp).seek(42)
    assert _positions(aio, None) == {tp: 42}


@pytest.mark.asyncio
async def test_canary_fausts_consumer_thread_keeps_its_aiokafka_consumer() -> None:
    """`end_offset` reads the last stable offset from the aiokafka consumer Faust's thread keeps (None before start)."""
    consumer = _faust_app().consumer
    assert consumer._thread._consumer is None
    assert end_offset(consumer, TP("t", 0)) is None
    assert callable(AIOKafkaConsumer.last_stable_offset)
    assert "self._consumer" in inspect.getsource(type(consumer._thread)._ensure_consumer)


@pytest.mark.asyncio
async def test_canary_fausts_drain_loop_reads_the_consumer_state_ours_reads() -> None:
    """`drain_messages` reads, as Faust's own loop, the consumer's `_stopped`, `_read_offset`, `_commit_every`, `_n_acked`."""
    consumer = _faust_app().consumer
    fausts = inspect.getsource(Consumer._drain_messages)
    for name in (
        "self)._stopped.is_set",
        "fetcher)._stopped.is_set",
        "self._read_offset",
        "self._commit_every",
        "_n_acked",
    ):
        assert name in fausts, name
    assert callable(consumer._stopped.is_set)
    assert isinstance(consumer._read_offset, dict)
    assert isinstance(consumer._n_acked, int)
    assert consumer._commit_every is None or isinstance(consumer._commit_every, int)


@pytest.mark.asyncio
async def test_canary_faust_records_each_acknowledgement_in_acked_and_acked_index() -> None:
    """The guard commits from `_acked` (a list per partition) and `_acked_index` (a set): Faust's `ack` fills both."""
    app = _faust_app()
    consumer = app.consumer
    app.topics.acks_enabled_for = lambda topic: True  # as for a topic an agent reads
    tp = TP("t", 0)

    class Message:  # weak-referenceable, as Faust's messages are
        acked, tp, offset, topic = False, TP("t", 0), 5, "t"

    assert consumer.ack(Message()) is True
    assert consumer._acked[tp] == [5]
    assert consumer._acked_index[tp] == {5}
    assert consumer._committed_offset[tp] is None  # no commit yet: the guard then starts from its spans
