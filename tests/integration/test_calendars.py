"""Business hours and agents live: a calendar across a DST change and a holiday, six agents
capped at three, /metrics against the report."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from socialsla.core import report
from socialsla.core.events import MICROS, format_time, parse_time
from socialsla.core.rulebook import load_book
from tests.harness import CATCH_UP_S, WORKER_READY_S, Stack, eventually, settles

from .expected import from_report, key, sla_gauges

# Europe/London leaves GMT for BST at 01:00 on Sunday 2026-03-29; Friday the 27th is a holiday.
RULES = """
[[rule]]
name = "badge"
window = "7d"
min_response_rate = 0.9
max_avg_first_reply_seconds = 900

[[rule]]
name = "badge_in_business_hours"
window = "7d"
clock = "business"
min_response_rate = 0.9
max_avg_first_reply_seconds = 900

[[calendar]]
name = "emea_care"
timezone = "Europe/London"
accounts = ["acme"]
holidays = ["2026-03-27"]
response_window = "8h"

[calendar.hours]
mon = ["09:00-12:30", "13:30-17:30"]
tue = ["09:00-17:30"]
wed = ["09:00-17:30"]
thu = ["09:00-17:30"]
fri = ["09:00-17:30"]
sat = ["10:00-14:00"]
"""
AT = parse_time("2026-03-31T12:00:00Z")  # Tuesday, BST
#: Six agents and a cap of three (SOCIALSLA_MAX_AGENTS): the quieter ones are pooled as `other`.
AGENTS = ("ana", "ben", "chidi", "dora", "emil", "other")
MAX_AGENTS = 3
M, H = 60 * MICROS, 3600 * MICROS


def events() -> list[bytes]:
    """Threads over the week before AT for a series with the calendar (acme) and one without (globex)."""
    rng = random.Random(14)
    out = []
    start = AT - 7 * 24 * H
    for n in range(160):
        account = "acme" if n % 4 else "globex"
        posted = start + rng.randrange(7 * 24 * 60) * M
        thread = f"t{n}"
        out.append({"type": "post", "event_id": f"{thread}-p", "conversation_id": thread, "account": account,
                    "channel": "x", "created_at": format_time(posted)})  # fmt: skip
        if rng.random() < 0.85:
            answered = min(AT, posted + int(rng.expovariate(1 / (3 * H))))
            out.append({"type": "reply", "event_id": f"{thread}-r", "conversation_id": thread,
                        "account": account, "channel": "x", "created_at": format_time(answered),
                        **({"agent": rng.choice(AGENTS)} if rng.random() < 0.9 else {})})  # fmt: skip
            if rng.random() < 0.3:  # the customer writes again: a follow-up, answered by someone
                again = min(AT, answered + rng.randrange(1, 120) * M)
                out.append({"type": "post", "event_id": f"{thread}-p2", "conversation_id": thread,
                            "account": account, "channel": "x", "created_at": format_time(again)})  # fmt: skip
                out.append({"type": "reply", "event_id": f"{thread}-r2", "conversation_id": thread,
                            "account": account, "channel": "x", "agent": rng.choice(AGENTS),
                            "created_at": format_time(min(AT, again + rng.randrange(1, 600) * M))})  # fmt: skip
    # the edges, by hand: Thursday 17:00 answered on the holiday morning (30 open minutes);
    # Saturday 13:30 answered Monday 09:30 across the DST change (one open hour)
    for thread, posted, answered in (
        ("holiday", "2026-03-26T17:00:00Z", "2026-03-27T10:00:00Z"),
        ("dst", "2026-03-28T13:30:00Z", "2026-03-30T08:30:00Z"),
    ):
        out.append({"type": "post", "event_id": f"{thread}-p", "conversation_id": thread, "account": "acme",
                    "channel": "x", "created_at": posted})  # fmt: skip
        out.append({"type": "reply", "event_id": f"{thread}-r", "conversation_id": thread, "account": "acme",
                    "channel": "x", "created_at": answered})  # fmt: skip
    return [orjson.dumps(item) for item in out]


def test_business_view_live_equals_the_report(stack: Stack, tmp_path: Path) -> None:
    """Both clocks, the business rule, series_open, the calendar's R and capped agents match the report."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    book = load_book(rules)
    lines = events()
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    expected_report = report.build(
        iter(lines), AT, AT, book.rules, calendars=book.calendars, max_agents=MAX_AGENTS
    )
    acme = next(s for s in expected_report.series if s.account == "acme")
    assert acme.calendar == "emea_care"
    assert acme.business is not None
    # the hand-made edges are in the business figures: 30 and 60 open minutes, not 17 and 43 hours
    stack.set_clock(format_time(AT))
    worker = stack.worker(SOCIALSLA_RULES_FILE=str(rules), SOCIALSLA_MAX_AGENTS=str(MAX_AGENTS))
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    stack.produce(tmp_path / "events.jsonl")
    eventually(worker.consumed, lambda n: n == len(lines), CATCH_UP_S, "every event counted")
    expected = from_report(expected_report, book.rules)
    assert expected[key("socialsla_series_open", account="acme", channel="x")] == 1.0  # Tuesday 13:00 BST
    named = {dict(labels)["agent"] for name, labels in expected if name == "socialsla_agent_replies"}
    assert len(named) == MAX_AGENTS + 1  # three named, the rest (and the literal "other") pooled
    assert "other" in named
    got = settles(lambda: sla_gauges(worker.metrics()), expected, CATCH_UP_S, "gauges = report, both clocks")
    business_avg = key("socialsla_first_reply_seconds", account="acme", channel="x", window="7d", stat="avg",
                       clock="business")  # fmt: skip
    wall_avg = business_avg[0], tuple((k, "wall" if k == "clock" else v) for k, v in business_avg[1])
    assert got[business_avg] < got[wall_avg]
    # at 19:00 BST the team has gone home: the series reads closed, and its business waits stand still
    evening = parse_time("2026-03-31T18:00:00Z")
    stack.set_clock(format_time(evening))
    later_report = report.build(
        iter(lines), evening, AT, book.rules, calendars=book.calendars, max_agents=MAX_AGENTS
    )
    later = from_report(later_report, book.rules)
    assert later[key("socialsla_series_open", account="acme", channel="x")] == 0.0
    settles(lambda: sla_gauges(worker.metrics()), later, CATCH_UP_S, "gauges = report after closing time")
