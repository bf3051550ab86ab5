"""Customer feedback (SPEC §12): which survey answers count, and the CSAT, NPS and CES of a window.

Each feedback event belongs to the conversation whose span (resolution.py)
holds its time; one before the thread's first post belongs to none. Per
conversation and survey only the latest answer counts (the largest time; at one
instant, the larger event_id): a customer may change an answer. A counted
answer is placed in windows by its own time, not its conversation's.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from fractions import Fraction
from typing import NamedTuple

from socialsla.conversation import DEFAULT_POLICY, FEEDBACK, Conversation, Policy, Wait
from socialsla.events import MICROS, SURVEYS
from socialsla.resolution import opens
from socialsla.windows import WINDOWS


class Answer(NamedTuple):
    """A counted answer: when, to which survey, the score."""

    at: int
    survey: str
    score: int


def counted(
    state: Conversation, policy: Policy = DEFAULT_POLICY, found: tuple[Wait, ...] | None = None
) -> tuple[Answer, ...]:
    """The thread's counted answers, by time (SPEC §12); `found`: its waits, when known."""
    starts = opens(state, policy, found)
    if not starts:
        return ()
    latest: dict[tuple[int, str], tuple[int, str, int]] = {}
    for at, kind, event_id, _, detail in state.events:
        if kind != FEEDBACK or at < starts[0] or detail is None:
            continue
        survey, _, score = detail.partition(":")
        key = (bisect.bisect_right(starts, at) - 1, survey)
        current = latest.get(key)
        if current is None or (at, event_id) > current[:2]:
            latest[key] = (at, event_id, int(score))
    return tuple(sorted(Answer(at, survey, score) for (_, survey), (at, _, score) in latest.items()))


class SurveyStats(NamedTuple):
    """One survey's answers in a window: how many, their scores' sum, and the count of each score."""

    responses: int
    score_sum: int
    #: csat: satisfied (4-5); nps: promoters (9-10); ces: easy (5-7).
    good: int
    #: nps only: detractors (0-6); passives are the rest.
    detractors: int = 0

    @property
    def score_avg(self) -> Fraction | None:
        return Fraction(self.score_sum, self.responses) if self.responses else None

    @property
    def passives(self) -> int:
        return self.responses - self.good - self.detractors


def survey_stats(answers: Iterable[Answer], survey: str) -> SurveyStats:
    """The stats of one survey over the given answers (those of a window)."""
    scores = [answer.score for answer in answers if answer.survey == survey]
    if survey == "csat":
        return SurveyStats(len(scores), sum(scores), sum(1 for s in scores if s >= 4))
    if survey == "nps":
        return SurveyStats(len(scores), sum(scores), sum(1 for s in scores if s >= 9),
                           sum(1 for s in scores if s <= 6))  # fmt: skip
    return SurveyStats(len(scores), sum(scores), sum(1 for s in scores if s >= 5))


def score(stats: SurveyStats, survey: str) -> Fraction | None:
    """The survey's number: csat and ces a share in 0..1, nps in -100..100; None without answers."""
    if not stats.responses:
        return None
    if survey == "nps":
        return Fraction(100 * (stats.good - stats.detractors), stats.responses)
    return Fraction(stats.good, stats.responses)


def survey_windows(answers: Iterable[Answer], at: int) -> dict[str, dict[str, SurveyStats]]:
    """Per window of SPEC §3 (`T - W < answered <= T`, the answer's own time), each survey's stats."""
    seen = [answer for answer in answers if answer.at <= at]
    out: dict[str, dict[str, SurveyStats]] = {}
    for name, seconds in WINDOWS.items():
        edge = at - seconds * MICROS
        inside = [answer for answer in seen if answer.at > edge]
        out[name] = {survey: survey_stats(inside, survey) for survey in SURVEYS}
    return out
