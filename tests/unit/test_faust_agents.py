"""The agents as adapters, on in-memory stores and lists for topics: no broker, no Faust worker."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from socialsla.conversation import Conversation, Wait
from socialsla.events import MICROS, parse_time
from socialsla.faust_agents import Conversations, Screen, Series
from socialsla.metrics import PipelineMetrics
from socialsla.ownership import Ownership
from socialsla.series import Ledger
from socialsla.settings import Settings
from socialsla.thread_store import RECORD_BUDGET, Threads, pack, unpack
from socialsla.wire import Outcome, encode, parse_totals
from socialsla.wire import decode as decode_outcomes

DATA = Path(__file__).parent.parent / "data"
AT = parse_time("2026-01-08T00:00:00Z")


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes | None


class Event:
    """What Faust hands an agent in a batch (weak-referenceable, as Faust's events are)."""

    def __init__(self, message: Message) -> None:
        self.message = message


class Topic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self.headers: list[Any] = []
        self.partitions: list[int | None] = []

    async def send(self, key: bytes, value: bytes, headers: Any = None, partition: int | None = None) -> None:
        self.sent.append((key, value))
        self.headers.append(headers)
        self.partitions.append(partition)


class Clock:
    def __init__(self, at: int) -> None:
        self.at = at

    def now_us(self) -> int:
        return self.at


def _batch(lines: list[bytes], partition_of: Any) -> list[Event]:
    out = []
    for offset, line in enumerate(lines):
        key = orjson.loads(line)["conversation_id"].encode()
        out.append(Event(Message("posts", partition_of(key), offset, key, line)))
    return out


def _stage1(
    clock: Clock, purge: float = 600.0, deadletters: Topic | None = None, partitions: int = 3
) -> tuple[Conversations, Threads, Topic, Topic]:
    """Stage 1 on in-memory stores, its partitions loaded as after a replay of an empty log."""
    settings = Settings(purge_interval=purge, store="memory://")
    metrics = PipelineMetrics(CollectorRegistry())
    log, outcomes = Topic(), Topic()
    threads = Threads(settings, clock, log, {})
    for partition in range(partitions):
        threads.stores[partition] = {}
        threads.loader.loaded.add(partition)
    screen = Screen(settings, metrics, deadletters or Topic())
    stage = Conversations(settings, clock, screen, metrics, lambda: None, threads, outcomes_topic=outcomes)
    return stage, threads, outcomes, log


def _logged(log: Topic) -> dict[int, dict[bytes, bytes]]:
    """What the log holds per partition, the latest state of a thread winning (as a replay reads it)."""
    out: dict[int, dict[bytes, bytes]] = {}
    for (_, record), partition in zip(log.sent, log.partitions, strict=True):
        assert partition is not None
        out.setdefault(partition, {}).update(unpack(record))
    return out


def _scenario() -> list[bytes]:
    lines = []
    for line in (DATA / "scenario.jsonl").read_bytes().splitlines():
        if b'"conversation_id": "c' in line and b"2099" not in line:
            lines.append(line)
    return lines


@pytest.mark.asyncio
async def test_stage1_keeps_each_thread_with_the_partition_its_events_came_from() -> None:
    """States land in the store and log of their events' partition, whatever partitioner chose it.

    One log record per partition for the batch, not one per thread; the log
    holds exactly what the stores hold; outcomes follow every thread.
    """
    stage, threads, outcomes, log = _stage1(Clock(AT))
    lines = _scenario()
    await stage.process(_batch(lines, lambda key: len(key) % 3))
    stored = {p: dict(store) for p, store in threads.stores.items() if store}
    assert stored
    for partition, store in stored.items():
        for key, value in store.items():
            assert len(key.split(b"|", 2)[2]) % 3 == partition
            Conversation.from_bytes(value)
    assert _logged(log) == stored
    assert len(log.sent) == len(stored) < len(lines)
    sent = [outcome for _, value in outcomes.sent for outcome in decode_outcomes(value)]
    keys = {key.split(b"|", 2)[2] for store in stored.values() for key in store}
    assert {o.conversation_id.encode() for o in sent} == keys


@pytest.mark.asyncio
async def test_stage1_logs_nothing_for_duplicates_but_sends_their_outcomes_again() -> None:
    """A redelivered batch changes no thread, so nothing is logged; its summaries are sent again."""
    stage, _, outcomes, log = _stage1(Clock(AT))
    lines = _scenario()
    await stage.process(_batch(lines, lambda key: 1))
    logged, summaries = len(log.sent), len(outcomes.sent)
    await stage.process(_batch(lines, lambda key: 1))
    assert len(log.sent) == logged
    assert outcomes.sent[summaries:] == outcomes.sent[:summaries]


@pytest.mark.asyncio
async def test_stage1_purges_what_nothing_can_change_any_more() -> None:
    """Once the clock is 7 days + R past a thread's last event, the sweep deletes it from the store."""
    clock = Clock(AT)
    stage, threads, _, _ = _stage1(clock, purge=0.05)
    lines = _scenario()
    await stage.process(_batch(lines, lambda key: 1))
    kept = len(threads.stores[1])
    assert kept
    clock.at = AT + 9 * 24 * 3600 * MICROS
    time.sleep(0.06)  # the purge interval of this stage: a sweep starts over at most that often
    await stage.process(_batch(lines, lambda key: 1))
    assert threads.stores[1] == {}
    assert stage.metrics.expired.labels("conversations")._value.get() == kept


def test_log_records_round_trip_and_stay_within_their_budget() -> None:
    """`pack` splits states into records under RECORD_BUDGET; `unpack` reads each back; a cut one is refused."""
    states = [(b"acme|x|c%d" % n, b"[%d]" % n * 50) for n in range(20_000)]
    records = list(pack(states))
    assert len(records) > 1
    assert all(len(record) <= RECORD_BUDGET for record in records)
    assert [state for record in records for state in unpack(record)] == states
    with pytest.raises(ValueError, match="truncated"):
        list(unpack(records[0][:-1]))


@pytest.mark.asyncio
async def test_stage1_dead_letters_what_a_full_thread_cannot_hold() -> None:
    """The 1,001st event of a thread goes to the dead-letter topic as `thread too long` and is counted."""
    deadletters = Topic()
    stage, threads, _, _ = _stage1(Clock(AT), deadletters=deadletters)

    def line(kind: str, n: int) -> bytes:
        return orjson.dumps({"type": kind, "event_id": f"{kind}{n}", "conversation_id": "long",
                             "account": "acme", "channel": "x", "created_at": AT / MICROS - 3600 + n})  # fmt: skip

    full = [line("post" if n % 2 == 0 else "reply", n) for n in range(1_000)]
    await stage.process(_batch(full, lambda key: 0))
    assert deadletters.sent == []
    await stage.process(_batch([line("post", 1_000), full[3]], lambda key: 0))
    assert deadletters.sent == [(b"long", line("post", 1_000))]
    assert ("reason", b"thread too long") in deadletters.headers[0]
    assert stage.metrics.events.labels("post", "invalid")._value.get() == 1
    assert stage.metrics.events.labels("reply", "duplicate")._value.get() == 1
    assert len(Conversation.from_bytes(threads.stores[0][b"acme|x|long"]).events) == 1_000


def _stage2(clock: Clock) -> tuple[Series, Ledger, Ownership, Topic, Topic]:
    settings = Settings()
    metrics = PipelineMetrics(CollectorRegistry())
    ledger = Ledger(settings.response_window_us, expire_every_us=0)
    ownership = Ownership(None, "outcomes", ledger, clock, settings.horizon_us, {})
    ownership.loader.loaded, ownership.loader.ends = {2}, {2: 10}  # as after a replay of offsets 0-9
    outcomes, deadletters = Topic(), Topic()
    screen = Screen(settings, metrics, deadletters)
    stage = Series(settings, clock, screen, metrics, lambda: None, ledger, ownership, outcomes)
    return stage, ledger, ownership, outcomes, deadletters


@pytest.mark.asyncio
async def test_stage2_skips_what_its_replay_applied_and_its_own_totals() -> None:
    """Offsets below the replay's end, and totals messages, change nothing live; the rest is applied."""
    stage, ledger, _, _, _ = _stage2(Clock(AT))
    hour = 3600 * MICROS
    value = encode([Outcome("acme", "x", "c1", (Wait(AT - hour, None, True),), AT - hour)])
    await stage.process(Event(Message("outcomes", 2, 9, b"acme|x", value)))
    assert list(ledger) == []
    totals = b'{"totals": ["acme", "x", [0, 9, 9, 9, 9, [0,0,0,0,0,0,0,0,0,0,0,0,0]]]}'
    await stage.process(Event(Message("outcomes", 2, 10, b"acme|x", totals)))
    assert list(ledger) == []
    await stage.process(Event(Message("outcomes", 2, 11, b"acme|x", value)))
    (series,) = list(ledger)
    assert len(series.windows) == 1
    assert series.expired.responded == 0


@pytest.mark.asyncio
async def test_stage2_sends_totals_to_its_own_partition_when_something_expires() -> None:
    """Expiry sends the series' totals back to the partition the outcome came from, and counts it."""
    clock = Clock(AT)
    stage, _, ownership, outcomes, _ = _stage2(clock)
    hour = 3600 * MICROS
    old = encode([Outcome("acme", "x", "old", (Wait(AT - hour, AT, True),), AT - hour)])
    await stage.process(Event(Message("outcomes", 2, 10, b"acme|x", old)))
    assert outcomes.sent == []
    clock.at = AT + 9 * 24 * hour
    new = encode([Outcome("acme", "x", "new", (Wait(clock.at, None, True),), clock.at)])
    await stage.process(Event(Message("outcomes", 2, 11, b"acme|x", new)))
    ((key, value),) = outcomes.sent
    assert (key, outcomes.partitions) == (b"acme|x", [2])
    assert parse_totals(value)[2].responded == 1
    assert stage.metrics.expired.labels("series")._value.get() == 1
    assert "acme|x" in ownership.totals_sent[2]


@pytest.mark.asyncio
async def test_stage2_dead_letters_a_malformed_outcome() -> None:
    """An outcome message that does not decode goes to the dead-letter topic with its reason."""
    stage, ledger, _, _, deadletters = _stage2(Clock(AT))
    await stage.process(Event(Message("outcomes", 2, 12, b"acme|x", b"[1, 2")))
    assert deadletters.sent == [(b"acme|x", b"[1, 2")]
    assert list(ledger) == []


@pytest.mark.asyncio
async def test_a_partition_revoked_with_a_batch_in_hand_is_neither_stored_nor_logged() -> None:
    """After `forget` (a revocation), writing the partition's states does nothing: its new owner writes them."""
    _, threads, _, log = _stage1(Clock(AT))
    threads.forget(1)
    await threads.write(1, {b"acme|x|c1": b"[]"})
    assert 1 not in threads.stores
    assert log.sent == []
    await threads.write(2, {b"acme|x|c2": b"[]"})
    assert threads.stores[2] == {b"acme|x|c2": b"[]"}
    assert log.partitions == [2]
