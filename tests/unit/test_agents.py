"""The agents as adapters, on plain dicts for tables and lists for topics: no broker, no Faust worker."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from socialsla.agents import Conversations, Screen
from socialsla.conversation import Conversation
from socialsla.events import MICROS, parse_time
from socialsla.metrics import PipelineMetrics
from socialsla.outcome import decode as decode_outcomes
from socialsla.settings import Settings

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

    async def send(self, key: bytes, value: bytes, headers: Any = None) -> None:
        self.sent.append((key, value))
        self.headers.append(headers)


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
    clock: Clock, purge: float = 600.0, deadletters: Topic | None = None
) -> tuple[Conversations, dict[bytes, bytes], Topic]:
    settings = Settings(purge_interval=purge)
    metrics = PipelineMetrics(CollectorRegistry())
    table: dict[bytes, bytes] = {}
    outcomes = Topic()
    screen = Screen(settings, metrics, deadletters or Topic())
    stage = Conversations(settings, clock, table, screen, metrics, lambda: None, outcomes_topic=outcomes)
    return stage, table, outcomes


def _scenario() -> list[bytes]:
    lines = []
    for line in (DATA / "scenario.jsonl").read_bytes().splitlines():
        if b'"conversation_id": "c' in line and b"2099" not in line:
            lines.append(line)
    return lines


@pytest.mark.asyncio
async def test_stage1_writes_each_conversation_under_the_partition_its_events_came_from() -> None:
    """Rows land under the partition of their events, whatever partitioner chose it, and outcomes follow."""
    stage, table, outcomes = _stage1(Clock(AT))
    lines = _scenario()
    await stage.process(_batch(lines, lambda key: len(key) % 3))
    assert table
    for key, value in table.items():
        partition, conversation_id = key.split(b"|", 3)[0::3]
        assert int(partition) == len(conversation_id) % 3
        Conversation.from_bytes(value)
    sent = [outcome for _, value in outcomes.sent for outcome in decode_outcomes(value)]
    assert {o.conversation_id.encode() for o in sent} == {key.split(b"|", 3)[3] for key in table}


@pytest.mark.asyncio
async def test_stage1_purges_what_nothing_can_change_any_more() -> None:
    """Once the clock is 7 days + R past a conversation's last event, the sweep deletes its row."""
    clock = Clock(AT)
    stage, table, _ = _stage1(clock, purge=0.05)
    lines = _scenario()
    await stage.process(_batch(lines, lambda key: 1))
    kept = len(table)
    assert kept
    clock.at = AT + 9 * 24 * 3600 * MICROS
    time.sleep(0.06)  # the purge interval of this stage: a sweep starts over at most that often
    await stage.process(_batch(lines, lambda key: 1))
    assert table == {}
    assert stage.metrics.expired.labels("conversations")._value.get() == kept


@pytest.mark.asyncio
async def test_stage1_dead_letters_what_a_full_thread_cannot_hold() -> None:
    """The 1,001st event of a thread goes to the dead-letter topic as `thread too long` and is counted."""
    deadletters = Topic()
    stage, table, _ = _stage1(Clock(AT), deadletters=deadletters)

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
    assert len(Conversation.from_bytes(table[b"0|acme|x|long"]).events) == 1_000
