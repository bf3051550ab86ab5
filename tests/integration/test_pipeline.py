"""The live pipeline on the real broker gives the offline report's numbers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from socialsla.core import report
from socialsla.core.events import parse_time
from socialsla.core.rules import DEFAULT_RULES
from tests.harness import BOOTSTRAP, CATCH_UP_S, WORKER_READY_S, Stack, eventually, settles

from .expected import from_report, sla_gauges

SCENARIO = Path(__file__).parent.parent / "data" / "scenario.jsonl"
LINES = 37  # non-blank lines of the scenario: everything the worker must account for
AT = "2026-01-08T00:00:00Z"


def offline(at: str, lines: list[bytes] | None = None) -> report.Report:
    """The report at `at` over the events the worker could accept at clock `AT`."""
    if lines is None:
        lines = SCENARIO.read_bytes().splitlines()
    return report.build(iter(lines), parse_time(at), parse_time(AT), DEFAULT_RULES)


async def dead_letters(topic: str, count: int) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest")
    await consumer.start()
    out: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        while len(out) < count:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), CATCH_UP_S)
            for records in batch.values():
                out.extend((r.value, dict(r.headers)) for r in records)
    finally:
        await consumer.stop()
    return out


@pytest.mark.parametrize("store", ["rocksdb://", "memory://"])
def test_stream_equals_report(stack: Stack, store: str) -> None:
    """The scenario produced to Kafka exports exactly the report's gauges at the same T, on either store."""
    worker = stack.worker(SOCIALSLA_STORE=store)
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    stack.produce(SCENARIO)
    eventually(worker.consumed, lambda n: n == LINES, CATCH_UP_S, f"all {LINES} events counted")
    expected = from_report(offline(AT))
    settles(lambda: sla_gauges(worker.metrics()), expected, CATCH_UP_S, "gauges = report")


def test_consumed_equals_accepted_duplicate_invalid_late(stack: Stack) -> None:
    """Every consumed event is counted under exactly one outcome, and the invalid ones are dead-lettered with reasons."""
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    stack.produce(SCENARIO)
    eventually(worker.consumed, lambda n: n == LINES, CATCH_UP_S, f"all {LINES} events counted")
    counts: dict[str, float] = {}
    for (name, labels), value in worker.metrics().items():
        if name == "socialsla_events_total":
            outcome = dict(labels)["outcome"]
            counts[outcome] = counts.get(outcome, 0) + value
    # the report's 9 invalid lines, plus 2 events more than 5 minutes ahead of the worker's clock
    assert counts == {"accepted": 23, "duplicate": 2, "invalid": 11, "late": 1}
    letters = asyncio.run(dead_letters(stack.env["SOCIALSLA_TOPIC_DEADLETTER"], 11))
    reasons = sorted(headers["reason"].decode() for _, headers in letters)
    assert len(letters) == 11
    assert "channel 'Facebook' does not match [a-z0-9_-]{1,32}" in reasons
    assert "created_at has no UTC offset" in reasons
    assert sum("ahead of the clock" in r for r in reasons) == 3  # 2099, c9's reply, c10's post
    originals = {value for value, _ in letters}
    assert b'{"type": "post", "event_id": "broken"' in originals


def test_time_alone_turns_pending_into_missed(stack: Stack) -> None:
    """Moving the clock a day on, with no new events, turns pending conversations missed."""
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    stack.produce(SCENARIO)
    eventually(worker.consumed, lambda n: n == LINES, CATCH_UP_S, f"all {LINES} events counted")
    later = "2026-01-09T00:00:00Z"
    stack.set_clock(later)
    # what the worker accepted: everything but the two events that were in its future
    accepted = [
        line for line in SCENARIO.read_bytes().splitlines() if b'"c9r"' not in line and b'"c10p"' not in line
    ]
    expected = from_report(offline(later, accepted))
    got = eventually(
        lambda: sla_gauges(worker.metrics()), lambda g: g == expected, CATCH_UP_S, "gauges a day later"
    )
    pending = got[
        (
            "socialsla_conversations",
            (
                ("account", "acme"),
                ("channel", "facebook"),
                ("clock", "wall"),
                ("state", "pending"),
                ("window", "7d"),
            ),
        )
    ]
    missed = got[
        (
            "socialsla_conversations",
            (
                ("account", "acme"),
                ("channel", "facebook"),
                ("clock", "wall"),
                ("state", "missed"),
                ("window", "7d"),
            ),
        )
    ]
    assert (pending, missed) == (0.0, 3.0)  # c9 and c12 joined c5


def test_keys_that_are_not_the_conversation_are_dead_lettered(stack: Stack) -> None:
    """A valid event under a non-UTF-8 or foreign Kafka key is dead-lettered with the reason, not folded in."""
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    body = (b'{"type":"post","event_id":"k1","conversation_id":"c-key","account":"acme",'
            b'"channel":"x","created_at":"2026-01-07T23:00:00Z"}')  # fmt: skip

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP)
        await producer.start()
        try:
            await producer.send_and_wait(stack.env["SOCIALSLA_TOPIC_POSTS"], body, key=b"\xff\xfe\x00")
            await producer.send_and_wait(stack.env["SOCIALSLA_TOPIC_POSTS"], body, key=b"someone-else")
        finally:
            await producer.stop()

    asyncio.run(send())
    eventually(worker.consumed, lambda n: n == 2, CATCH_UP_S, "both events counted")
    letters = asyncio.run(dead_letters(stack.env["SOCIALSLA_TOPIC_DEADLETTER"], 2))
    assert [headers["reason"] for _, headers in letters] == [
        b"Kafka key must be the conversation_id (one partition per thread)"
    ] * 2
    assert not any(name == "socialsla_conversations" for name, _ in worker.metrics())
