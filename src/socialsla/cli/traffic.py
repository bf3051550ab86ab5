"""Traffic into the input topics: replaying an events file, or generating live demo load.

Both route by the event's `type` (replies to the replies topic, everything else,
including lines that are not events at all, to the posts topic, where the worker
dead-letters what is invalid) and key by `conversation_id`, as the worker expects.
The generator is deterministic for a seed, so a demo or a benchmark can be rerun.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaProducer

from socialsla.core.calendars import Calendar, calendar_for
from socialsla.core.events import MICROS, Event, encode, format_time, parse_time
from socialsla.stream.kafka import client_options
from socialsla.stream.settings import Settings
from socialsla.stream.topics import Topics


def route(line: bytes, settings: Settings) -> tuple[str, bytes | None]:
    """(topic, key) for one raw line; never fails, whatever the line holds."""
    topics = Topics.of(settings)
    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError:
        return topics.posts, None
    if not isinstance(body, dict):
        return topics.posts, None
    conversation = body.get("conversation_id")
    key = conversation.encode() if isinstance(conversation, str) else None
    topic = topics.replies if body.get("type") == "reply" else topics.posts
    return topic, key


def shifted(line: bytes, offset_us: int) -> bytes:
    """The line with created_at moved by offset_us; lines without a readable time unchanged."""
    try:
        body = orjson.loads(line)
        body["created_at"] = format_time(parse_time(body["created_at"]) + offset_us)
    except Exception:
        return line
    return orjson.dumps(body)


class Pacer:
    """Keeps a producer at or under a rate, in small sleeps (0 means no limit)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.start = time.monotonic()
        self.sent = 0

    async def tick(self) -> None:
        """Account for one message, sleeping when ahead of the rate."""
        self.sent += 1
        if self.rate <= 0 or self.sent % 50:
            return
        ahead = self.sent / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            await asyncio.sleep(ahead)


async def producer_for(settings: Settings) -> AIOKafkaProducer:
    """A started producer tuned for throughput (batches, lz4 not assumed)."""
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=10, max_batch_size=262_144)
    await producer.start()
    return producer


async def send_lines(
    lines: Iterable[bytes],
    settings: Settings,
    rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send every line to its topic; returns how many were sent."""
    producer = await producer_for(settings)
    pacer = Pacer(rate)
    sent = 0
    try:
        for line in lines:
            if not line.strip():
                continue
            topic, key = route(line, settings)
            await producer.send(topic, line, key=key)
            sent += 1
            await pacer.tick()
            if progress is not None and sent % 10_000 == 0:
                progress(sent)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


@dataclass(frozen=True, slots=True)
class TrafficShape:
    """What the generator produces."""

    accounts: tuple[str, ...] = ("acme", "globex", "initech")
    channels: tuple[str, ...] = ("facebook", "instagram", "x")
    rate: float = 2.0  # new conversations per second, all series together
    median_reply_seconds: float = 420.0
    reply_spread: float = 1.0  # sigma of the log-normal reply latency
    #: Never answered, in a well-staffed series; a third of the series leave twice as many
    #: unanswered and another third three times, so some rules hover at their threshold.
    unanswered_share: float = 0.03
    #: Customers who write again after the brand's answer (a follow-up), and how soon.
    follow_up_share: float = 0.25
    follow_up_median_seconds: float = 600.0
    automated_share: float = 0.1  # conversations that also get an auto-reply first
    duplicate_share: float = 0.01
    invalid_share: float = 0.002
    burst_every_seconds: float = 900.0
    burst_seconds: float = 60.0
    burst_factor: float = 8.0
    #: A burst swamps the team: its posts are answered this many times later.
    burst_slowdown: float = 2.0
    seed: int = 1
    #: Business-hours calendars: a series a calendar selects is answered only while it is open.
    calendars: tuple[Calendar, ...] = ()
    #: Who answers (the replies' agents), per account; the first agents of the list answer most.
    agents: tuple[str, ...] = ("ana", "ben", "chidi", "dora", "emil")
    #: Answered conversations an agent marks resolved, and how long after the answer.
    resolve_share: float = 0.8
    resolve_median_seconds: float = 1800.0
    #: Resolved conversations whose customer answers a survey, and how many change it.
    feedback_share: float = 0.35
    changed_answer_share: float = 0.05


def _answer_at(
    shape: TrafficShape, rng: random.Random, calendar: Calendar | None, asked_us: int, median: float
) -> int:
    """When the team answers a post made at `asked_us`: log-normal, in open time for a team with hours."""
    latency = round(rng.lognormvariate(math.log(median), shape.reply_spread) * MICROS)
    if calendar is not None:
        # A team with business hours answers after that much *open* time: a post at
        # closing time is answered the next morning, never at night.
        return calendar.deadline(asked_us, latency) or asked_us + latency
    return asked_us + latency


def _conversation(
    shape: TrafficShape, rng: random.Random, opened_us: int, run: str, number: int
) -> list[tuple[int, bytes]]:
    account = rng.choice(shape.accounts)
    channel = rng.choice(shape.channels)
    # Series differ, so the wall shows both badge states: one in four answers half as fast,
    # and a third leave twice (another third three times) as many customers unanswered.
    crc = zlib.crc32(f"{account}|{channel}".encode())
    slow = 1 + (crc % 4 == 0)
    unanswered = shape.unanswered_share * (1 + crc % 3)
    median = shape.median_reply_seconds * slow
    if _in_burst(shape, opened_us / MICROS):
        median *= shape.burst_slowdown
    calendar = calendar_for(shape.calendars, account, channel)
    cid = f"gen-{shape.seed}-{run}-{number}"
    events = [
        Event("post", f"{cid}-p", cid, account, channel, opened_us),
    ]
    if rng.random() < shape.automated_share:
        events.append(Event("reply", f"{cid}-auto", cid, account, channel, opened_us + MICROS, True))
    if rng.random() >= unanswered:
        answered = _answer_at(shape, rng, calendar, opened_us, median)
        agent = shape.agents[min(int(rng.expovariate(0.6)), len(shape.agents) - 1)] if shape.agents else None
        events.append(Event("reply", f"{cid}-r", cid, account, channel, answered, agent=agent))
        last_answer: int | None = answered
        if rng.random() < shape.follow_up_share:  # "still broken": the customer writes again
            again = answered + round(
                rng.lognormvariate(math.log(shape.follow_up_median_seconds), 1.0) * MICROS
            )
            events.append(Event("post", f"{cid}-f", cid, account, channel, again))
            last_answer = None
            if rng.random() >= unanswered:
                last_answer = _answer_at(shape, rng, calendar, again, median)
                events.append(Event("reply", f"{cid}-fr", cid, account, channel, last_answer, agent=agent))
        events.extend(
            _resolution_and_feedback(shape, rng, cid, account, channel, answered, last_answer, slow)
        )
    out = [(e.created_at, encode(e)) for e in events]
    if rng.random() < shape.duplicate_share:
        out.append(out[-1])
    if rng.random() < shape.invalid_share:
        broken = {"type": "post", "event_id": f"{cid}-bad", "conversation_id": cid,
                  "account": account, "channel": channel.upper(), "created_at": "yesterday"}  # fmt: skip
        out.append((opened_us, orjson.dumps(broken)))
    return out


#: Believable survey answers: most customers satisfied, a slow team's less so.
_CSAT: Final = ((1, 2, 3, 4, 5), (5, 6, 12, 35, 42))
_NPS: Final = (tuple(range(11)), (3, 1, 2, 2, 3, 5, 6, 12, 16, 22, 28))
_CES: Final = ((1, 2, 3, 4, 5, 6, 7), (3, 4, 6, 10, 20, 30, 27))


def _resolution_and_feedback(
    shape: TrafficShape,
    rng: random.Random,
    cid: str,
    account: str,
    channel: str,
    answered: int,
    last_answer: int | None,
    slow: int,
) -> list[Event]:
    """An agent resolves most answered threads some time after the answer (before a follow-up: reopened,
    then resolved again once that is answered); some customers answer a survey, a few change their answer."""
    out: list[Event] = []
    if rng.random() >= shape.resolve_share:
        return out
    after = round(rng.lognormvariate(math.log(shape.resolve_median_seconds * slow), 1.0) * MICROS)
    resolved = answered + after
    out.append(Event("resolve", f"{cid}-d", cid, account, channel, resolved))
    if last_answer is not None and last_answer != answered:
        resolved = max(resolved, last_answer) + after
        out.append(Event("resolve", f"{cid}-d2", cid, account, channel, resolved))
    if rng.random() < shape.feedback_share:
        survey, (scores, weights) = rng.choices((("csat", _CSAT), ("nps", _NPS), ("ces", _CES)), (6, 3, 1))[0]
        if slow > 1:  # a slow team's customers give the top score less often
            weights = (*weights[:-1], weights[-1] // 2)
        given = resolved + round(rng.expovariate(1 / 600) * MICROS)
        score = rng.choices(scores, weights)[0]
        out.append(Event("feedback", f"{cid}-s", cid, account, channel, given, survey=survey, score=score))
        if rng.random() < shape.changed_answer_share:
            changed = rng.choices(scores, weights)[0]
            out.append(Event("feedback", f"{cid}-s2", cid, account, channel, given + 60 * MICROS,
                             survey=survey, score=changed))  # fmt: skip
    return out


def _in_burst(shape: TrafficShape, seconds: float) -> bool:
    return shape.burst_every_seconds > 0 and seconds % shape.burst_every_seconds < shape.burst_seconds


def _rate_at(shape: TrafficShape, seconds: float) -> float:
    return shape.rate * shape.burst_factor if _in_burst(shape, seconds) else shape.rate


async def generate(
    shape: TrafficShape,
    now_us: Callable[[], int],
    backfill_seconds: float = 0.0,
    duration_seconds: float = 0.0,
) -> AsyncIterator[bytes]:
    """Yield event lines in real time (after a backfill of recent history, sent at once).

    Ids carry the run's start second besides the seed: a second run (a demo
    started again the next day) makes new conversations, where reused ids would
    all count as duplicates of the first run's; the same start gives the same
    events, so tests and benchmarks stay reproducible.
    """
    rng = random.Random(shape.seed)
    pending: list[tuple[int, int, bytes]] = []
    sequence = 0
    start = now_us()
    run = f"{start // MICROS:x}"
    opened = start - round(backfill_seconds * MICROS)
    end = None if duration_seconds <= 0 else start + round(duration_seconds * MICROS)
    number = 0
    while end is None or opened < end:
        now = now_us()
        while opened <= now:
            number += 1
            for at, line in _conversation(shape, rng, opened, run, number):
                sequence += 1
                heapq.heappush(pending, (at, sequence, line))
            rate = _rate_at(shape, opened / MICROS)
            opened += max(1, round(rng.expovariate(rate) * MICROS))
        while pending and pending[0][0] <= now:
            yield heapq.heappop(pending)[2]
        await asyncio.sleep(min(0.2, max(0.0, (opened - now_us()) / MICROS)))


async def send_generated(
    shape: TrafficShape,
    settings: Settings,
    now_us: Callable[[], int],
    backfill_seconds: float,
    duration_seconds: float,
    on_sent: Callable[[int], Any] | None = None,
) -> int:
    """Run the generator into the topics until the duration ends or the task is cancelled."""
    producer = await producer_for(settings)
    sent = 0
    try:
        async for line in generate(shape, now_us, backfill_seconds, duration_seconds):
            topic, key = route(line, settings)
            await producer.send(topic, line, key=key)
            sent += 1
            if on_sent is not None:
                on_sent(sent)
        await producer.flush()
    finally:
        await producer.stop()
    return sent
