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


def _ledger(waiting: int, missed: int = 0) -> Ledger:
    ledger = Ledger(24 * H)
    outcomes = [
        Outcome("acme", "x", f"c{n:03}", (Wait(T0 - H + n * MICROS, None, True),), T0) for n in range(waiting)
    ]
    outcomes += [
        Outcome("acme", "x", f"m{n:03}", (Wait(T0 - 30 * H + n * MICROS, None, True),), T0)
        for n in range(missed)
    ]
    outcomes += [Outcome("acme", "x", f"done{n}", (Wait(T0 - H, T0 - H + 60 * MICROS, True),), T0)
                 for n in range(10 * (waiting + missed))]  # fmt: skip
    ledger.apply(0, outcomes, T0)
    return ledger


def test_a_card_says_what_metrics_and_waiting_say_ordered_for_action() -> None:
    """Verdicts, forecast, every count, then the customers to answer now and the oldest missed, from `/waiting`'s list."""
    ledger = _ledger(board.ACT_HEAD + 5, board.MISSED_HEAD + 3)
    ((key, value),) = board.messages(ledger, T0, RULES, "w1:6066")
    card = orjson.loads(value)
    (series,) = list(ledger)
    evaluation = evaluate(series, T0, RULES, 10)
    full = [e.to_json() for e in waiting_list(series.windows, T0, RULES, evaluation.verdicts)]
    assert key == b"acme|x"
    missed = [e for e in full if e["state"] == "missed"]
    pending = [e for e in full if e["state"] == "pending"]
    assert card["missed"] == missed[: board.MISSED_HEAD]
    assert card["act"] == pending[: board.ACT_HEAD]  # due soonest first: the oldest pending
    assert card["counts"] == {"waiting": len(full), "pending": len(pending), "missed": len(missed),
                              "at_risk": sum(1 for e in full if e["at_risk"]), "due_soon": 0}  # fmt: skip
    # all pending turn missed 23 h from now: none within the hour
    assert card["due_soon_seconds"] == 3600.0
    verdict = evaluation.verdicts["badge"]
    assert card["rules"]["badge"] == {"ok": True, "rate_breach_in_seconds": verdict.rate_breach_in_us / MICROS,
                                      "failed": []}  # fmt: skip
    assert card["counts"]["at_risk"] > 0
    assert card["act"][0]["at_risk"] == ["badge"]
    assert card["worker"] == "w1:6066"
    assert card["open"] is None
    assert card["calendar"] is None


def test_a_card_stays_small_whatever_the_backlog() -> None:
    """The card holds the heads of its lists: 50 or 5,000 waiting, about the same size."""
    small = board.messages(_ledger(50, 50), T0, RULES, "w")[0][1]
    large = board.messages(_ledger(2_500, 2_500), T0, RULES, "w")[0][1]
    assert orjson.loads(large)["counts"]["waiting"] == 5_000
    assert len(large) < len(small) + 64
    assert len(large) < 6 * 1024


def test_the_latest_card_per_series_wins_stale_ones_are_marked_and_old_ones_forgotten() -> None:
    """The board keeps one card per key; `view` sorts them, marks a card not renewed, forgets a day-old one."""
    shared = board.Board()
    now = 1_000_000.0
    cards = {
        b"zeta|x": {"account": "zeta", "channel": "x", "posted": now - 1, "counts": {}},
        b"acme|x": {"account": "acme", "channel": "x", "posted": now - 100, "counts": {}},
        b"gone|x": {"account": "gone", "channel": "x", "posted": now - 2 * 86_400, "counts": {}},
    }
    for key, card in cards.items():
        shared.take(key, orjson.dumps({**card, "posted": card["posted"] - 50}))
        shared.take(key, orjson.dumps(card))
    shared.take(b"bad|x", b"not json")
    shared.take(None, b"{}")
    # an older worker's card (before the triage): left out, counted apart, the series' last good card kept
    shared.take(b"zeta|x", orjson.dumps({"account": "zeta", "channel": "x", "posted": now, "waiting": []}))
    assert shared.outdated == 1
    view = shared.view(now)
    assert [(c["account"], c["stale"]) for c in view["series"]] == [("acme", True), ("zeta", False)]
    assert view["series"][0]["age_seconds"] == 100.0
    assert shared.unreadable == 2
    shared.take(b"acme|x", b"")  # a tombstone removes the series
    assert [c["account"] for c in shared.view(now)["series"]] == ["zeta"]
