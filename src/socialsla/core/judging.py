"""Judging a series: each rule's verdict, its error budget and its breach forecast.

A rule judges the statistics of its window on its clock; a condition on a
statistic that has no value holds, and too few decided conversations give no
verdict at all.
"""

from __future__ import annotations

import math
from fractions import Fraction

from socialsla.core.events import MICROS
from socialsla.core.feedback import SurveyStats
from socialsla.core.rules import FASTEST, Rule, Verdict
from socialsla.core.stats import ResolutionStats, SeriesStats
from socialsla.core.windows import SeriesWindows

#: Each failed condition and its statistic now (a rate, or seconds).
_Failures = list[tuple[str, float]]


def error_budget(responded: int, missed: int, min_rate: Fraction) -> int:
    """The error budget: largest whole k with responded / (responded + missed + k) >= min_rate."""
    return math.floor(Fraction(responded) / min_rate - responded - missed)


def judge(
    rule: Rule,
    stats: SeriesStats,
    windows: SeriesWindows,
    resolution: dict[str, ResolutionStats] | None = None,
    surveys: dict[str, dict[str, SurveyStats]] | None = None,
) -> Verdict:
    """The rule's verdict on one series' statistics: `windows` evaluated at one time on the rule's clock.

    `windows` answers what the sums in `stats` cannot: the exact average of the
    fastest replies, and the breach forecast. `resolution` (on the rule's clock)
    and `surveys` (wall clock) are None for a series that does not track them:
    a condition on a null statistic holds. Use `verdicts` to get the clock right.
    """
    business = rule.clock == "business"
    window = stats.windows[rule.window]
    if window.decided < rule.min_decided:
        return Verdict(None, None)
    failed = [
        *_reply_failures(rule, stats, windows),
        *_resolution_failures(rule, resolution),
        *_survey_failures(rule, surveys),
    ]
    ok = not failed
    budget = breach = None
    floor = rule.min_response_rate
    if floor is not None:
        budget = error_budget(window.responded, window.missed, floor)
        if ok:
            instant = windows.rate_breach_at(stats.at, rule.window, floor, business)
            breach = None if instant is None else instant - stats.at
    return Verdict(ok, budget, breach, tuple(failed))


def _reply_failures(rule: Rule, stats: SeriesStats, windows: SeriesWindows) -> _Failures:
    """The conditions on answering that fail: rate, average (or fastest average), p90, oldest wait."""
    window = stats.windows[rule.window]
    failed: _Failures = []
    floor = rule.min_response_rate
    if floor is not None and window.decided and window.responded < floor * window.decided:
        failed.append(("response_rate", window.responded / window.decided))
    limit = rule.max_avg_first_reply_seconds
    if limit is not None and rule.avg_of_fastest is not None:
        business = rule.clock == "business"
        fastest = windows.fastest_average_us(stats.at, rule.window, rule.avg_of_fastest, business)
        if fastest is not None and fastest > limit * MICROS:
            failed.append((FASTEST, float(fastest / MICROS)))
    elif limit is not None and _average_above(window.latency_count, window.latency_sum_us, limit):
        failed.append(("avg_first_reply_seconds", window.latency_sum_us / window.latency_count / MICROS))
    limit = rule.max_p90_first_reply_seconds
    p90 = window.quantile_seconds(0.9)
    if limit is not None and p90 is not None and Fraction(p90) > limit:
        failed.append(("p90_first_reply_seconds", p90))
    limit = rule.max_oldest_unanswered_seconds
    oldest = stats.oldest_unanswered_us
    if limit is not None and oldest is not None and oldest > limit * MICROS:
        failed.append(("oldest_unanswered_seconds", oldest / MICROS))
    return failed


def _average_above(count: int, sum_us: int, limit_seconds: Fraction) -> bool:
    """Whether `count` durations summing to `sum_us` average more than the limit, exactly; never with none."""
    return bool(count) and sum_us > limit_seconds * MICROS * count


def _resolution_failures(rule: Rule, resolution: dict[str, ResolutionStats] | None) -> _Failures:
    """The conditions on resolution that fail; none for a series that tracks no resolution."""
    if resolution is None:
        return []
    failed: _Failures = []
    r = resolution[rule.window]
    decided = r.in_time + r.overdue
    floor = rule.min_resolution_rate
    if floor is not None and decided and r.in_time < floor * decided:
        failed.append(("resolution_rate", r.in_time / decided))
    limit = rule.max_avg_resolution_seconds
    took = r.seconds
    if limit is not None and _average_above(took.latency_count, took.latency_sum_us, limit):
        failed.append(("avg_resolution_seconds", took.latency_sum_us / took.latency_count / MICROS))
    return failed


def _survey_failures(rule: Rule, surveys: dict[str, dict[str, SurveyStats]] | None) -> _Failures:
    """The conditions on customer feedback that fail; none for a series without answers."""
    if surveys is None:
        return []
    failed: _Failures = []
    csat, nps = surveys[rule.window]["csat"], surveys[rule.window]["nps"]
    if rule.min_csat is not None and csat.responses and csat.good < rule.min_csat * csat.responses:
        failed.append(("csat", csat.good / csat.responses))
    score = 100 * (nps.good - nps.detractors)
    if rule.min_nps is not None and nps.responses and score < rule.min_nps * nps.responses:
        failed.append(("nps", score / nps.responses))
    return failed


def verdicts(
    rules: tuple[Rule, ...],
    account: str,
    channel: str,
    windows: SeriesWindows,
    wall: SeriesStats,
    business: SeriesStats | None,
    resolution: tuple[dict[str, ResolutionStats] | None, dict[str, ResolutionStats] | None] = (None, None),
    surveys: dict[str, dict[str, SurveyStats]] | None = None,
) -> dict[str, Verdict]:
    """Every applicable rule's verdict on a series, each on its clock (no calendar: no business verdict).

    `resolution` is the series' (wall, business) resolution figures; `surveys`
    its feedback, which every rule judges on the wall clock (feedback has no business view).
    """
    out = {}
    for rule in rules:
        if not rule.applies(account, channel):
            continue
        on_business = rule.clock == "business"
        stats = business if on_business else wall
        if stats is None:
            out[rule.name] = Verdict(None, None)
            continue
        out[rule.name] = judge(rule, stats, windows, resolution[1 if on_business else 0], surveys)
    return out
