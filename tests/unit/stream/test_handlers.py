"""The stages' handlers on in-memory stores and plain records: records in, records to send out, no broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from socialsla.core.events import MICROS, parse_time
from socialsla.core.ledger import Ledger
from socialsla.core.thread import Thread, Wait
from socialsla.core.wire import Outcome, decode_outcomes, encode_outcomes, parse_totals
from socialsla.stream.counters import PipelineMetrics
from socialsla.stream.handlers import Admission, Sends, SeriesStage, ThreadsStage
from socialsla.stream.partitions import Partitions
from socialsla.stream.settings import Settings
from socialsla.stream.thread_store import RECORD_BUDGET, ThreadStore, pack, unpack
from tests.paths import DATA

AT = parse_time("2026-01-08T00:00:00Z")


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes | None


class Clock:
    def __init__(self, at: int) -> None:
        self.at = at

    def now_us(self) -> int:
        return self.at


def _batch(lines: list[bytes], partition_of: Any) -> list[Message]:
    out = []
    for offset, line in enumerate(lines):
        key = orjson.loads(line)["conversation_id"].encode()
        out.append(Message("posts", partition_of(key), offset, key, line))
    return out


def _stage1(
    clock: Clock, purge: float = 600.0, partitions: int = 3, wall: Callable[[], float] = time.monotonic
) -> tuple[ThreadsStage, ThreadStore]:
    """Stage 1 on in-memory stores, its partitions loaded as after a replay of an empty log."""
    settings = Settings(purge_interval=purge, store="memory://")
    metrics = PipelineMetrics(CollectorRegistry())
    threads = ThreadStore(settings, clock)
    threads.reset(set(range(partitions)))
    return ThreadsStage(settings, Admission(settings, metrics), metrics, threads, wall), threads


def _logged(*sends: Sends) -> dict[int, dict[bytes, bytes]]:
    """What the log holds per partition, the latest state of a thread winning (as a replay reads it)."""
    out: dict[int, dict[bytes, bytes]] = {}
    for partition, record in (entry for sent in sends for entry in sent.log):
        out.setdefault(partition, {}).update(unpack(record))
    return out


def _scenario() -> list[bytes]:
    lines = []
    for line in (DATA / "scenario.jsonl").read_bytes().splitlines():
        if b'"conversation_id": "c' in line and b"2099" not in line:
            lines.append(line)
    return lines


def test_stage1_keeps_each_thread_with_the_partition_its_events_came_from() -> None:
    """States land in the store and log of their events' partition, whatever partitioner chose it.

    One log record per partition for the batch, not one per thread; the log
    holds exactly what the stores hold; outcomes follow every thread.
    """
    stage, threads = _stage1(Clock(AT))
    lines = _scenario()
    sends = stage.handle(_batch(lines, lambda key: len(key) % 3), AT)
    stored = {p: dict(store) for p, store in threads.stores.items() if store}
    assert stored
    for partition, store in stored.items():
        for key, value in store.items():
            assert len(key.split(b"|", 2)[2]) % 3 == partition
            Thread.from_bytes(value)
    assert _logged(sends) == stored
    assert len(sends.log) == len(stored) < len(lines)
    sent = [outcome for _, value in sends.outcomes for outcome in decode_outcomes(value)]
    keys = {key.split(b"|", 2)[2] for store in stored.values() for key in store}
    assert {o.conversation_id.encode() for o in sent} == keys
    assert all(key == f"{o.account}|{o.channel}".encode() for key, value in sends.outcomes
               for o in decode_outcomes(value))  # fmt: skip
    assert sends.totals == []


def test_stage1_logs_nothing_for_duplicates_but_sends_their_outcomes_again() -> None:
    """A redelivered batch changes no thread, so nothing is logged; its summaries are sent again."""
    stage, _ = _stage1(Clock(AT))
    lines = _scenario()
    first = stage.handle(_batch(lines, lambda key: 1), AT)
    again = stage.handle(_batch(lines, lambda key: 1), AT)
    assert first.log
    assert again.log == []
    assert again.outcomes == first.outcomes


def test_stage1_purges_what_nothing_can_change_any_more() -> None:
    """Once the clock is 7 days + R past a thread's last event, the sweep deletes it from the store."""
    clock = Clock(AT)
    wall = [1000.0]
    stage, threads = _stage1(clock, purge=60.0, wall=lambda: wall[0])
    lines = _scenario()
    stage.handle(_batch(lines, lambda key: 1), AT)
    kept = len(threads.stores[1])
    assert kept
    clock.at = AT + 9 * 24 * 3600 * MICROS
    wall[0] += 59.0  # within the purge interval the sweep does not start over
    stage.handle(_batch(lines, lambda key: 1), clock.at)
    assert len(threads.stores[1]) == kept
    wall[0] += 1.0  # the interval has passed
    stage.handle(_batch(lines, lambda key: 1), clock.at)
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


def test_stage1_dead_letters_what_a_full_thread_cannot_hold() -> None:
    """The 1,001st event of a thread goes to the dead letters as `thread too long` and is counted."""
    stage, threads = _stage1(Clock(AT))

    def line(kind: str, n: int) -> bytes:
        return orjson.dumps({"type": kind, "event_id": f"{kind}{n}", "conversation_id": "long",
                             "account": "acme", "channel": "x", "created_at": AT / MICROS - 3600 + n})  # fmt: skip

    full = [line("post" if n % 2 == 0 else "reply", n) for n in range(1_000)]
    assert stage.handle(_batch(full, lambda key: 0), AT).deadletters == []
    sends = stage.handle(_batch([line("post", 1_000), full[3]], lambda key: 0), AT)
    ((message, reason),) = sends.deadletters
    assert (message.key, message.value, reason) == (b"long", line("post", 1_000), "thread too long")
    assert stage.metrics.events.labels("post", "invalid")._value.get() == 1
    assert stage.metrics.events.labels("reply", "duplicate")._value.get() == 1
    assert len(Thread.from_bytes(threads.stores[0][b"acme|x|long"]).events) == 1_000


def test_stage1_dead_letters_undecodable_input_and_a_wrong_key_and_counts_them() -> None:
    """Bad input is dead-lettered with its reason, counted invalid, and changes no thread."""
    stage, threads = _stage1(Clock(AT))
    good = _scenario()[0]
    cid = orjson.loads(good)["conversation_id"].encode()
    messages = [
        Message("posts", 0, 0, b"x", b"not json"),
        Message("posts", 0, 1, b"x", None),
        Message("posts", 0, 2, cid + b"-other", good),
    ]
    sends = stage.handle(messages, AT)
    assert [(m.offset, reason) for m, reason in sends.deadletters] == [
        (0, sends.deadletters[0][1]),
        (1, "empty message (tombstone)"),
        (2, "Kafka key must be the conversation_id (one partition per thread)"),
    ]
    assert stage.metrics.events.labels("unknown", "invalid")._value.get() == 3
    assert threads.stores[0] == {}
    assert sends.log == []
    assert sends.outcomes == []


def _stage2(clock: Clock) -> tuple[SeriesStage, Ledger, Partitions]:
    settings = Settings()
    metrics = PipelineMetrics(CollectorRegistry())
    ledger = Ledger(settings.response_window_us, expire_every_us=0)

    async def replay_of_offsets_0_to_9(
        options: Any, topic: str, partitions: Any, since: int, apply: Any
    ) -> Any:
        return {partition: 10 for partition in partitions}

    partitions = Partitions(
        {}, lambda: 0, [(ledger, "outcomes", frozenset({"outcomes"}))], replay_of_offsets_0_to_9
    )
    asyncio.run(partitions.ready(ledger, {2}))
    return SeriesStage(Admission(settings, metrics), metrics, ledger, partitions), ledger, partitions


def test_stage2_skips_what_its_replay_applied_and_its_own_totals() -> None:
    """Offsets below the replay's end, and totals messages, change nothing live; the rest is applied."""
    stage, ledger, _ = _stage2(Clock(AT))
    hour = 3600 * MICROS
    value = encode_outcomes([Outcome("acme", "x", "c1", (Wait(AT - hour, None, True),), AT - hour)])
    stage.handle([Message("outcomes", 2, 9, b"acme|x", value)], AT)
    assert list(ledger) == []
    totals = b'{"totals": ["acme", "x", [0, 9, 9, 9, 9, [0,0,0,0,0,0,0,0,0,0,0,0,0]]]}'
    stage.handle([Message("outcomes", 2, 10, b"acme|x", totals)], AT)
    assert list(ledger) == []
    sends = stage.handle([Message("outcomes", 2, 11, b"acme|x", value)], AT)
    (series,) = list(ledger)
    assert len(series.windows) == 1
    assert series.expired.responded == 0
    assert sends == Sends()


def test_stage2_sends_totals_to_its_own_partition_when_something_expires() -> None:
    """Expiry sends the series' totals back to the partition the outcome came from, and counts it."""
    stage, ledger, _ = _stage2(Clock(AT))
    hour = 3600 * MICROS
    old = encode_outcomes([Outcome("acme", "x", "old", (Wait(AT - hour, AT, True),), AT - hour)])
    assert stage.handle([Message("outcomes", 2, 10, b"acme|x", old)], AT).totals == []
    later = AT + 9 * 24 * hour
    new = encode_outcomes([Outcome("acme", "x", "new", (Wait(later, None, True),), later)])
    ((partition, key, value),) = stage.handle([Message("outcomes", 2, 11, b"acme|x", new)], later).totals
    assert (partition, key) == (2, b"acme|x")
    assert parse_totals(value)[2].responded == 1
    assert stage.metrics.expired.labels("series")._value.get() == 1
    assert "acme|x" in ledger.sent[2]


def test_stage2_sends_a_quiet_series_totals_again_after_a_day() -> None:
    """A series that expires nothing sends its totals again once they are `RESEND_TOTALS_S` old, and only then."""
    stage, _, _ = _stage2(Clock(AT))
    hour = 3600 * MICROS
    old = encode_outcomes([Outcome("acme", "x", "old", (Wait(AT - hour, AT, True),), AT - hour)])
    stage.handle([Message("outcomes", 2, 10, b"acme|x", old)], AT)
    later = AT + 9 * 24 * hour
    new = encode_outcomes([Outcome("acme", "x", "new", (Wait(later, None, True),), later)])
    (sent,) = stage.handle([Message("outcomes", 2, 11, b"acme|x", new)], later).totals
    now = time.time()
    assert stage.totals_due(now + 3600).totals == []
    assert stage.totals_due(now + 86_400 + 1).totals == [sent]
    assert stage.totals_due(now + 86_400 + 2).totals == []


def test_stage2_dead_letters_a_malformed_outcome() -> None:
    """An outcome message that does not decode goes to the dead letters with its reason."""
    stage, ledger, _ = _stage2(Clock(AT))
    sends = stage.handle([Message("outcomes", 2, 12, b"acme|x", b"[1, 2")], AT)
    ((message, reason),) = sends.deadletters
    assert (message.key, message.value) == (b"acme|x", b"[1, 2")
    assert "JSON" in reason or "outcome" in reason, reason
    assert list(ledger) == []


@pytest.mark.parametrize(
    ("survey", "score", "reason"),
    [
        ("csat", 4.0, "score must be a JSON integer, got 4.0"),
        ("csat", "5", "score must be a JSON integer, got '5'"),
        ("csat", True, "score must be a JSON integer, got True"),
        ("csat", 0, "score 0 is outside csat's 1-5"),
        ("nps", 11, "score 11 is outside nps's 0-10"),
        ("sus", 3, 'survey must be "csat", "nps" or "ces", got \'sus\''),
    ],
)
def test_stage1_dead_letters_each_invalid_feedback_with_its_reason_and_changes_nothing(
    survey: str, score: object, reason: str
) -> None:
    stage, threads = _stage1(Clock(AT))
    post = orjson.dumps({"type": "post", "event_id": "p", "conversation_id": "c", "account": "acme",
                         "channel": "x", "created_at": AT / MICROS - 60})  # fmt: skip
    stage.handle([Message("posts", 0, 0, b"c", post)], AT)
    before = dict(threads.stores[0])
    bad = orjson.dumps({"type": "feedback", "event_id": "f", "conversation_id": "c", "account": "acme",
                        "channel": "x", "created_at": AT / MICROS - 30, "survey": survey, "score": score})  # fmt: skip
    sends = stage.handle([Message("posts", 0, 1, b"c", bad)], AT)
    assert [(m.value, why) for m, why in sends.deadletters] == [(bad, reason)]
    assert (sends.log, sends.outcomes) == ([], [])
    assert threads.stores[0] == before
    assert stage.metrics.events.labels("unknown", "invalid")._value.get() == 1
