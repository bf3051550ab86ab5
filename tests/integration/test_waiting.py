"""Who is waiting live: a worker's `GET /waiting` and metric against `report --waiting`."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import orjson

from socialsla.cli import render
from socialsla.core import report
from socialsla.core.events import parse_time
from socialsla.core.rulebook import load_book
from tests.factories import event
from tests.harness import CATCH_UP_S, WORKER_READY_S, Stack, Worker, eventually, settles

RULES = """
[[rule]]
name = "badge"
window = "7d"
min_response_rate = 0.9

[[rule]]
name = "badge_in_business_hours"
window = "7d"
clock = "business"
min_response_rate = 0.9

[[calendar]]
name = "emea_care"
timezone = "Europe/London"
accounts = ["acme"]
response_window = "2h"

[calendar.hours]
mon = ["09:00-17:30"]
tue = ["09:00-17:30"]
wed = ["09:00-17:30"]
thu = ["09:00-17:30"]
fri = ["09:00-17:30"]
"""
AT = "2026-03-31T20:00:00Z"  # Tuesday 21:00 in London: the team closed at 17:30


def events() -> list[bytes]:
    """Nine answered, two customers who wrote at the same instant, a follow-up, a post after closing time."""
    out = []
    for n in range(9):
        out += [event("post", f"ok{n}", n=0, channel="x", at=f"2026-03-31T09:0{n}:00Z"),
                event("reply", f"ok{n}", n=1, channel="x", at=f"2026-03-31T09:1{n}:00Z")]  # fmt: skip
    out += [
        event("post", "tie-b", n=0, channel="x", at="2026-03-31T10:00:00Z"),
        event("post", "tie-a", n=0, channel="x", at="2026-03-31T10:00:00Z"),
        # answered, then the customer writes again: a follow-up waits
        event("post", "ping", n=0, channel="x", at="2026-03-31T12:00:00Z"), event("reply", "ping", n=1, channel="x", at="2026-03-31T12:10:00Z"),
        event("post", "ping", n=2, channel="x", at="2026-03-31T13:00:00Z"),
        # after closing time: due on the team's clock only after Wednesday's opening plus 2 open hours
        event("post", "night", n=0, channel="x", at="2026-03-31T17:00:00Z"),
        # a series without a calendar
        event("post", "g1", n=0, channel="x", at="2026-03-31T19:00:00Z", account="globex"),
        event("post", "g0", n=0, channel="x", at="2026-03-25T19:00:00Z", account="globex"),  # missed long ago, still in 7 days
    ]  # fmt: skip
    return [orjson.dumps(item) for item in out]


def _get(worker: Worker, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}{path}", timeout=5) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


def test_waiting_equals_the_report_with_follow_ups_a_calendar_a_forecast_and_ties(
    stack: Stack, tmp_path: Path
) -> None:
    """`GET /waiting` (whole, one series, limited) is `report --waiting` at the same T; limit=0 gets 400."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    book = load_book(rules)
    lines = events()
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    at = parse_time(AT)
    offline = orjson.loads(render.to_json(
        report.build(iter(lines), at, at, book.rules, calendars=book.calendars, waiting=True), book.rules
    ))  # fmt: skip
    expected = {
        "at": offline["at"],
        "series": [{"account": s["account"], "channel": s["channel"], "waiting": s["waiting"]}
                   for s in offline["series"]],
    }  # fmt: skip
    acme = offline["series"][0]
    assert [w["conversation_id"] for w in acme["waiting"]] == ["tie-a", "tie-b", "ping", "night"]
    assert acme["oldest_unanswered_conversation"] == "tie-a"
    assert acme["waiting"][2]["kind"] == "follow_up"
    night = acme["waiting"][3]
    assert night["due_in_seconds"] == 21 * 3600  # 17:00 + 24 h
    assert night["business_due_in_seconds"] == 14 * 3600  # Wednesday 09:00 BST + 2 open hours
    assert any(w["at_risk"] for w in acme["waiting"])  # the forecast breach: answering them delays it

    stack.set_clock(AT)
    worker = stack.worker(SOCIALSLA_RULES_FILE=str(rules))
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    stack.produce(tmp_path / "events.jsonl")
    eventually(worker.consumed, lambda n: n == len(lines), CATCH_UP_S, "every event counted")
    settles(lambda: _get(worker, "/waiting")[1], expected, CATCH_UP_S, "GET /waiting = report --waiting")

    status, one = _get(worker, "/waiting?account=acme&channel=x&limit=2")
    assert status == 200
    assert one == {**expected, "series": [{**expected["series"][0], "waiting": acme["waiting"][:2]}]}
    status, refused = _get(worker, "/waiting?limit=0")
    assert status == 400
    assert refused == {"error": "limit must be a whole number of at least 1, got '0'"}
    named = {
        dict(labels)["account"]: dict(labels)["conversation_id"]
        for (name, labels), _ in worker.metrics().items()
        if name == "socialsla_oldest_unanswered_conversation"
    }
    assert named == {s["account"]: s["oldest_unanswered_conversation"] for s in offline["series"]}
    assert named == {"acme": "tie-a", "globex": "g0"}
