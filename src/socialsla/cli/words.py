"""Verdicts and failed conditions as people read them, in the report's table and on the demo's screen."""

from __future__ import annotations

from typing import Final

from socialsla.core.duration import human
from socialsla.core.rules import FASTEST

#: How a person reads each condition's statistic.
_READ: Final = {
    "response_rate": "rate",
    "avg_first_reply_seconds": "avg",
    FASTEST: "avg of the fastest",
    "p90_first_reply_seconds": "p90",
    "oldest_unanswered_seconds": "oldest wait",
    "avg_resolution_seconds": "avg resolution",
}


#: A breach forecast further off than this is not shown to people (the wall's badge tile says the
#: same): with R = 24 h every OK rule was "lost in 23.7h unless answered", which says nothing.
FORECAST_SHOWN_UNDER_S: Final = 3 * 3600


def verdict_words(
    ok: bool | None, budget: float | None, breach_seconds: float | None
) -> tuple[str, list[str]]:
    """How a person reads a verdict: one word (OK, LOST) and the notes that say something.

    The error budget counts the misses the response rate can still take: shown
    while the rule holds, or when the rate is what lost it (negative), and not
    beside a rule lost on its average, where "+55" would read as good news.
    """
    word = {True: "OK", False: "LOST", None: "no verdict"}[ok]
    notes = []
    if budget is not None and (ok or budget < 0):
        notes.append(f"budget {budget:+.0f}")
    if ok and breach_seconds is not None and breach_seconds < FORECAST_SHOWN_UNDER_S:
        notes.append(f"lost in {human(breach_seconds)} unless answered")
    return word, notes


def read_failure(condition: str, value: float, threshold: float | None) -> str:
    """A failed condition as a person reads it: `rate 87.5% < 90.0%`, `avg 17.4m > 15.0m`."""
    if condition in ("response_rate", "resolution_rate", "csat"):
        word = {"response_rate": "rate", "resolution_rate": "resolution rate", "csat": "CSAT"}[condition]
        shown = f"{word} {value * 100:.1f}%"
        return shown if threshold is None else f"{shown} < {threshold * 100:.1f}%"
    if condition == "nps":
        shown = f"NPS {value:+.0f}"
        return shown if threshold is None else f"{shown} < {threshold:+.0f}"
    shown = f"{_READ.get(condition, condition)} {human(value)}"
    return shown if threshold is None else f"{shown} > {human(threshold)}"
