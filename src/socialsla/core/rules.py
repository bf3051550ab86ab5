"""The rule model: a rule's conditions and scope, and the verdict it gives a series.

Thresholds are exact decimals (`Fraction`), so a team at exactly 90% keeps its
badge and an error budget never flips on float rounding. Reading a rules file
is `rulebook.py`; judging a series, `judging.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from socialsla.core.selectors import selects

#: What a rule's durations are measured in: the wall clock, or its calendar's open time.
CLOCKS: Final = ("wall", "business")


@dataclass(frozen=True, slots=True)
class Rule:
    """One `[[rule]]` table."""

    name: str
    window: str
    channels: frozenset[str] | None = None
    accounts: frozenset[str] | None = None
    min_response_rate: Fraction | None = None
    max_avg_first_reply_seconds: Fraction | None = None
    max_p90_first_reply_seconds: Fraction | None = None
    max_oldest_unanswered_seconds: Fraction | None = None
    min_decided: int = 1
    #: The average condition over the fastest fraction of first replies only (Facebook's fine print).
    avg_of_fastest: Fraction | None = None
    #: "business" judges the series' business view; a series without a calendar gets no verdict.
    clock: str = "wall"
    #: Resolution: resolved in time / (in time + overdue), and the average resolution time.
    min_resolution_rate: Fraction | None = None
    max_avg_resolution_seconds: Fraction | None = None
    #: Customer feedback: CSAT (0-1) and NPS (-100-100) in the rule's window, on the wall clock.
    min_csat: Fraction | None = None
    min_nps: Fraction | None = None

    def thresholds(self) -> dict[str, float]:
        """The threshold of each condition the rule names, by `condition` label."""
        out = {}
        for condition, key in CONDITIONS.items():
            value = getattr(self, key)
            if value is not None:
                fastest = condition == "avg_first_reply_seconds" and self.avg_of_fastest is not None
                out[FASTEST if fastest else condition] = float(value)
        return out

    def applies(self, account: str, channel: str) -> bool:
        """Whether this rule judges the given (account, channel)."""
        return selects(self.accounts, self.channels, account, channel)


#: A rule's conditions as exported (`condition` label): the rule key each reads, and what it measures.
CONDITIONS: Final = {
    "response_rate": "min_response_rate",
    "avg_first_reply_seconds": "max_avg_first_reply_seconds",
    "p90_first_reply_seconds": "max_p90_first_reply_seconds",
    "oldest_unanswered_seconds": "max_oldest_unanswered_seconds",
    "resolution_rate": "min_resolution_rate",
    "avg_resolution_seconds": "max_avg_resolution_seconds",
    "csat": "min_csat",
    "nps": "min_nps",
}
#: The average condition of a rule with `avg_of_fastest` reads another statistic.
FASTEST: Final = "avg_of_fastest_first_reply_seconds"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's verdict: ok is None when too few conversations are decided to judge."""

    ok: bool | None
    error_budget: int | None
    #: The breach forecast: microseconds until the rate would drop below the threshold with no more events.
    rate_breach_in_us: int | None = None
    #: Each condition that fails, with its statistic now (a rate, or seconds), so that people
    #: are told which one lost the rule and by how much: the report, the demo, the alert.
    failed: tuple[tuple[str, float], ...] = ()


DEFAULT_RULES: Final = (
    Rule(
        name="facebook_very_responsive",
        window="7d",
        min_response_rate=Fraction(9, 10),
        max_avg_first_reply_seconds=Fraction(900),
    ),
)
