"""`GET /waiting` as the worker answers it, against the report's list for the same outcomes."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import orjson
import pytest

from socialsla.core.events import MICROS, format_time
from socialsla.core.ledger import Ledger
from socialsla.core.rules import Rule
from socialsla.core.series import evaluate
from socialsla.core.thread import Wait
from socialsla.core.waiting import waiting_list
from socialsla.core.wire import Outcome
from socialsla.serve.collector import SlaCollector
from socialsla.serve.web import ENTRIES_PER_PIECE, waiting_pieces
from tests.unit.serve.test_collector import FixedClock

H = 3600 * MICROS
R = 24 * H
T0 = 1_767_225_600 * MICROS
RULES = (Rule(name="badge", window="7d", min_response_rate=Fraction(9, 10)),)


def waiting_body(collector: SlaCollector, query: dict[str, str]) -> dict[str, Any]:
    """The whole answer, as a client reads the pieces the handler sends."""
    return orjson.loads(b"".join(waiting_pieces(collector, query)))  # type: ignore[no-any-return]


def _collector() -> SlaCollector:
    ledger = Ledger(R)
    outcomes = [Outcome("acme", "facebook", f"ok{n}", (Wait(T0 - 3 * H, T0 - 3 * H + 60 * MICROS, True),), T0)
                for n in range(9)]  # fmt: skip
    outcomes += [
        Outcome("acme", "facebook", "late", (Wait(T0 - 2 * H, None, True),), T0),
        Outcome("acme", "facebook", "later", (Wait(T0 - H, None, True),), T0),
        Outcome("acme", "facebook", "fresh", (Wait(T0 - 10 * 60 * MICROS, None, True),), T0),
        Outcome("acme", "x", "quiet", (Wait(T0 - H, T0 - H + 1, True),), T0),
        Outcome("zeta", "facebook", "z1", (Wait(T0 - 30 * 60 * MICROS, None, True),), T0),
    ]
    ledger.apply(0, outcomes, T0)
    return SlaCollector(ledger, RULES, FixedClock(T0))


def test_every_series_in_the_reports_order_with_the_reports_entries() -> None:
    """Each exported series, an empty list included, with the entries `report --waiting` builds at the same T."""
    collector = _collector()
    body = waiting_body(collector, {})
    assert body["at"] == format_time(T0)
    assert [(s["account"], s["channel"]) for s in body["series"]] == [
        ("acme", "facebook"), ("acme", "x"), ("zeta", "facebook"),
    ]  # fmt: skip
    for series, shown in zip(sorted(collector.ledger, key=lambda s: (s.account, s.channel)), body["series"],
                             strict=True):  # fmt: skip
        verdicts = evaluate(series, T0, RULES, 10).verdicts
        assert shown["waiting"] == [e.to_json() for e in waiting_list(series.windows, T0, RULES, verdicts)]
    acme = body["series"][0]["waiting"]
    assert [w["conversation_id"] for w in acme] == ["late", "later", "fresh"]
    # 9 of 10 when late is missed holds; 9 of 11 at later's deadline breaks the badge: answering either
    # delays that, while fresh turns missed only after it
    assert [w["at_risk"] for w in acme] == [["badge"], ["badge"], []]
    assert body["series"][1]["waiting"] == []


def test_one_series_and_a_limit() -> None:
    """`?account=&channel=` keeps one series (none when not exported here); `?limit=N` the first N entries."""
    collector = _collector()
    one = waiting_body(collector, {"account": "acme", "channel": "facebook", "limit": "1"})
    assert [(s["account"], [w["conversation_id"] for w in s["waiting"]]) for s in one["series"]] == [
        ("acme", ["late"])
    ]
    assert waiting_body(collector, {"account": "nobody", "channel": "facebook"})["series"] == []
    assert [s["channel"] for s in waiting_body(collector, {"account": "acme"})["series"]] == ["facebook", "x"]


@pytest.mark.parametrize("limit", ["0", "-1", "1.5", "", "ten", "1e3", "²"])
def test_a_limit_that_is_not_a_whole_number_of_at_least_1_is_refused_with_why(limit: str) -> None:
    """The handler turns this ValueError into status 400 with the message as JSON."""
    with pytest.raises(ValueError, match="limit must be a whole number of at least 1"):
        waiting_body(_collector(), {"limit": limit})


def test_a_long_list_comes_in_pieces_of_at_most_the_set_number_of_entries() -> None:
    """The handler sends piece by piece and lets the agents run between them: no piece holds the whole list."""
    ledger = Ledger(R)
    count = 2 * ENTRIES_PER_PIECE + 7
    ledger.apply(0, [Outcome("acme", "facebook", f"c{n:05}", (Wait(T0 - H + n * MICROS, None, True),), T0)
                     for n in range(count)], T0)  # fmt: skip
    ledger.apply(0, [Outcome("acme", "x", "one", (Wait(T0 - H, None, True),), T0)], T0)
    collector = SlaCollector(ledger, RULES, FixedClock(T0))
    pieces = list(waiting_pieces(collector, {}))
    entries = [piece.count(b'"conversation_id"') for piece in pieces]
    assert max(entries) == ENTRIES_PER_PIECE
    assert sum(entries) == count + 1
    body = orjson.loads(b"".join(pieces))
    assert [w["conversation_id"] for w in body["series"][0]["waiting"]] == [f"c{n:05}" for n in range(count)]
    assert [w["conversation_id"] for w in body["series"][1]["waiting"]] == ["one"]
    limited = orjson.loads(b"".join(waiting_pieces(collector, {"limit": "3"})))
    assert [len(s["waiting"]) for s in limited["series"]] == [3, 1]
    # a limit beyond any list is no limit (the answer is whole, not cut off after its headers)
    huge = orjson.loads(b"".join(waiting_pieces(collector, {"limit": "9" * 40})))
    assert [len(s["waiting"]) for s in huge["series"]] == [count, 1]
