"""The on-call board's cards and what a worker keeps of the board topic (no broker needed)."""

from __future__ import annotations

from fractions import Fraction

import orjson

from socialsla.core.events import MICROS
from socialsla.core.ledger import Ledger
from socialsla.core.rules import Rule
from socialsla.core.series import evaluate
from socialsla.core.thread import Wait
from socialsla.core.waiting import waiting_list
from socialsla.core.wire import Outcome
from socialsla.serve import board

H = 3600 * MICROS
T0 = 1_767_225_600 * MICROS
RULES = (Rule(name="badge", window="7d", min_response_rate=Fraction(9, 10)),)


def _ledger(waiting: int) -> Ledger:
    ledger = Ledger(24 * H)
    outcomes = [
        Outcome("acme", "x", f"c{n:03}", (Wait(T0 - H + n * MICROS, None, True),), T0) for n in range(waiting)
    ]
    outcomes.append(Outcome("acme", "x", "done", (Wait(T0 - H, T0 - H + 60 * MICROS, True),), T0))
    ledger.apply(0, outcomes, T0)
    return ledger


def test_a_card_says_what_metrics_and_waiting_say_with_the_head_of_the_list() -> None:
    """Verdicts, forecast, and the first LIST_HEAD entries of `/waiting`'s list, with the whole count."""
    ledger = _ledger(board.LIST_HEAD + 5)
    ((key, value),) = board.messages(ledger, T0, RULES, 10, "w1:6066")
    card = orjson.loads(value)
    (series,) = list(ledger)
    evaluation = evaluate(series, T0, RULES, 10)
    expected = [e.to_json() for e in waiting_list(series.windows, T0, RULES, evaluation.verdicts)]
    assert key == b"acme|x"
    assert card["waiting"] == expected[: board.LIST_HEAD]
    assert card["waiting_count"] == board.LIST_HEAD + 5
    # one answered and the rest pending: OK now, lost when the first waiting one turns missed
    verdict = evaluation.verdicts["badge"]
    assert card["rules"]["badge"] == {"ok": True, "rate_breach_in_seconds": 23 * 3600.0, "failed": []}
    assert verdict.rate_breach_in_us == 23 * H
    assert all(entry["at_risk"] == ["badge"] for entry in card["waiting"][:1])
    assert card["worker"] == "w1:6066"
    assert card["open"] is None
    assert card["calendar"] is None


def test_the_latest_card_per_series_wins_stale_ones_are_marked_and_old_ones_forgotten() -> None:
    """The board keeps one card per key; `view` sorts them, marks a card not renewed, forgets a day-old one."""
    shared = board.Board()
    now = 1_000_000.0
    cards = {
        b"zeta|x": {"account": "zeta", "channel": "x", "posted": now - 1, "waiting": []},
        b"acme|x": {"account": "acme", "channel": "x", "posted": now - 100, "waiting": []},
        b"gone|x": {"account": "gone", "channel": "x", "posted": now - 2 * 86_400, "waiting": []},
    }
    for key, card in cards.items():
        shared.take(key, orjson.dumps({**card, "posted": card["posted"] - 50}))
        shared.take(key, orjson.dumps(card))
    shared.take(b"bad|x", b"not json")
    shared.take(None, b"{}")
    view = shared.view(now)
    assert [(c["account"], c["stale"]) for c in view["series"]] == [("acme", True), ("zeta", False)]
    assert view["series"][0]["age_seconds"] == 100.0
    assert shared.unreadable == 2
    shared.take(b"acme|x", b"")  # a tombstone removes the series
    assert [c["account"] for c in shared.view(now)["series"]] == ["zeta"]
