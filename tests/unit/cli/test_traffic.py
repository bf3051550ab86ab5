"""Routing, time shifting and the synthetic traffic generator."""

from __future__ import annotations

import asyncio

import orjson

from socialsla.cli.traffic import TrafficShape, generate, route, shifted
from socialsla.core.calendars import parse_calendars
from socialsla.core.events import MICROS, InvalidEvent, decode, parse_time
from socialsla.stream.settings import Settings

SETTINGS = Settings()


def test_route_by_type_and_key_by_conversation() -> None:
    """Replies go to the replies topic; everything else, even garbage, to posts."""
    assert route(b'{"type":"reply","conversation_id":"c1"}', SETTINGS) == ("social.replies", b"c1")
    assert route(b'{"type":"post","conversation_id":"c2"}', SETTINGS) == ("social.posts", b"c2")
    assert route(b"not json", SETTINGS) == ("social.posts", None)
    assert route(b'{"conversation_id": 5}', SETTINGS) == ("social.posts", None)


def test_shift_moves_created_at_only() -> None:
    """shifted() moves the time and keeps unreadable lines as they are."""
    line = b'{"type":"post","created_at":"2026-01-01T00:00:00Z","x":1}'
    moved = orjson.loads(shifted(line, 3600 * MICROS))
    assert moved == {"type": "post", "created_at": "2026-01-01T01:00:00Z", "x": 1}
    assert shifted(b"garbage", 5) == b"garbage"


def collect(shape: TrafficShape, backfill: float) -> list[bytes]:
    now = parse_time("2026-01-08T00:00:00Z")

    async def run() -> list[bytes]:
        return [line async for line in generate(shape, lambda: now, backfill, 0.000001)]

    return asyncio.run(run())


def test_generator_is_deterministic_and_mostly_valid() -> None:
    """The same seed gives the same events; nearly all decode, none from the future."""
    shape = TrafficShape(rate=5.0, seed=7, invalid_share=0.01)
    first, second = collect(shape, 3600), collect(shape, 3600)
    assert first == second
    assert len(first) > 5 * 3600 * 0.5
    now = parse_time("2026-01-08T00:00:00Z")
    valid = 0
    for line in first:
        try:
            event = decode(line, now)
        except ValueError:
            continue
        valid += 1
        assert event.created_at <= now
    assert valid >= 0.98 * len(first)


def test_a_later_run_makes_new_conversations() -> None:
    """Two runs started at different times share no event id, so a second demo is not all duplicates."""
    shape = TrafficShape(rate=5.0, seed=1)

    def ids(start: str) -> set[str]:
        now = parse_time(start)

        async def run() -> list[bytes]:
            return [line async for line in generate(shape, lambda: now, 600, 0.000001)]

        return {orjson.loads(line)["event_id"] for line in asyncio.run(run())}

    first, second = ids("2026-01-08T00:00:00Z"), ids("2026-01-09T00:00:00Z")
    assert first
    assert second
    assert not first & second


def test_a_team_with_business_hours_answers_only_while_open() -> None:
    """A generated team with a calendar replies inside its opening hours only; the others at any hour."""
    (team,) = parse_calendars([{"name": "office", "timezone": "Europe/London", "accounts": ["acme"],
                                "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}])  # fmt: skip
    shape = TrafficShape(accounts=("acme", "globex"), rate=0.05, seed=3, invalid_share=0, calendars=(team,))
    now = parse_time("2026-01-08T00:00:00Z")
    replies: dict[str, list[int]] = {"acme": [], "globex": []}
    for line in collect(shape, 3 * 24 * 3600.0):
        event = decode(line, now)
        if event.kind == "reply" and not event.automated:
            replies[event.account].append(event.created_at)
    assert len(replies["acme"]) > 50
    assert all(team.is_open(at - 1) for at in replies["acme"])  # the last open microsecond before it
    assert not all(team.is_open(at - 1) for at in replies["globex"])


def test_the_demo_traffic_has_follow_ups_misses_and_series_that_differ() -> None:
    """Customers write again after answers, some never get one, and series differ in how many they leave."""
    from socialsla.core import report

    now = parse_time("2026-01-08T00:00:00Z")
    lines = collect(TrafficShape(rate=2.0, seed=3), 3 * 3600)
    result = report.build(iter(lines), now, now, (), response_window_us=3600 * MICROS)
    rates = {}
    follow_ups = missed = 0
    for series in result.series:
        seven = series.stats.windows["7d"]
        follow_ups += seven.next_reply.inbound if seven.next_reply else 0
        missed += seven.missed
        rates[(series.account, series.channel)] = seven.response_rate
    assert follow_ups > 100
    assert missed > 20
    assert max(rates.values()) - min(rates.values()) > 0.05, rates


def test_the_demo_traffic_resolves_reopens_and_asks_for_feedback() -> None:
    """Most answered threads are resolved, some reopened, a third answer a survey with believable scores."""
    from collections import Counter

    from socialsla.core import report

    now = parse_time("2026-01-08T00:00:00Z")
    lines = collect(TrafficShape(rate=2.0, seed=5), 3 * 3600)
    kinds: Counter[str] = Counter()
    scores: dict[str, list[int]] = {"csat": [], "nps": [], "ces": []}
    for line in lines:
        try:
            event = decode(line, now)
        except InvalidEvent:
            continue
        kinds[event.kind] += 1
        if event.kind == "feedback":
            assert event.survey is not None
            assert event.score is not None
            scores[event.survey].append(event.score)
    assert kinds["resolve"] > 0.6 * kinds["post"] * 0.7
    assert all(scores.values())
    assert sum(s >= 4 for s in scores["csat"]) > 0.6 * len(scores["csat"])
    result = report.build(iter(lines), now, now, (), response_window_us=3600 * MICROS)
    reopened = first_contact = 0
    for series in result.series:
        assert series.resolution is not None
        assert series.feedback is not None
        reopened += series.resolution["7d"].reopened
        first_contact += series.resolution["7d"].first_contact
    assert reopened > 10
    assert first_contact > 100
