"""The per-series metrics, built at scrape time from the ledger (the families are in `families.py`).

Nothing here is set while events are processed. Each scrape evaluates the
series this worker exports (those of actively owned partitions, with a post
seen by now) at the clock's now, so a revoked series cannot linger, standby
data cannot leak, and time-dependent figures (pending turning missed, waiting
ages) move without new events. A figure without a value (a rate with nothing
decided) is left out, not exported as 0. The registry is passed in, so that
tests use a fresh one; the pipeline's own counters are in `stream/counters.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from fractions import Fraction

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from socialsla.core import feedback, histogram
from socialsla.core.clock import Clock
from socialsla.core.events import MICROS
from socialsla.core.ledger import Ledger
from socialsla.core.rules import Rule
from socialsla.core.series import Evaluation, evaluate
from socialsla.core.stats import WINDOWS, ResolutionStats, WindowStats
from socialsla.serve import families as f
from socialsla.serve.families import FAMILIES, Family

_MADE = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily, "histogram": HistogramMetricFamily}
_BOUNDS = [("+Inf" if math.isinf(b) else f"{b:.1f}") for b in histogram.upper_bounds()]


class SlaCollector(Collector):
    """Builds every per-series metric from the ledger on each scrape."""

    def __init__(self, ledger: Ledger, rules: Iterable[Rule], clock: Clock, max_agents: int = 10) -> None:
        self.ledger = ledger
        self.rules = tuple(rules)
        self.clock = clock
        self.max_agents = max_agents

    def collect(self) -> Iterator[Metric]:
        """Evaluate every exported series now and yield the metric families."""
        at = self.clock.now_us()
        scrape = _Scrape()
        for rule in self.rules:
            for condition, threshold in rule.thresholds().items():
                scrape.add(f.RULE_THRESHOLD, [rule.name, condition], threshold)
        for series in self.ledger.existing(at):
            e = evaluate(series, at, self.rules, self.max_agents)
            who = [e.account, e.channel]
            _windows(scrape, e, who)
            _resolutions(scrape, e, who)
            _feedback(scrape, e, who)
            _agents(scrape, e, who)
            _verdicts(scrape, e, who)
            _lifetime(scrape, e, who)
        yield from scrape.families()

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: the families depend on what the worker owns at scrape time."""
        return iter(())


class _Scrape:
    """The families of one scrape, made from their declarations as they get samples."""

    __slots__ = ("made",)

    def __init__(self) -> None:
        self.made: dict[Family, Metric] = {
            family: _MADE[family.kind](family.name, family.help, labels=list(family.labels))
            for family in FAMILIES
        }

    def add(self, family: Family, labels: list[str], value: float | None) -> None:
        """One sample; a value of None is left out."""
        if value is not None:
            self.made[family].add_metric(labels, value)  # type: ignore[attr-defined]  # each kind has it

    def families(self) -> Iterator[Metric]:
        """Every family, in the declared order (empty ones too, as before any series exists)."""
        yield from self.made.values()


def _windows(scrape: _Scrape, e: Evaluation, who: list[str]) -> None:
    """Conversations, follow-ups and the oldest wait, on the wall clock and on a calendar's."""
    views = [("wall", e.stats)] if e.business is None else [("wall", e.stats), ("business", e.business)]
    for clock, view in views:
        for name in WINDOWS:
            w = view.windows[name]
            _waits(scrape, f.CONVERSATIONS, f.FIRST_REPLY_SECONDS, [*who, name], clock, w)
            scrape.add(f.RESPONSE_RATE, [*who, name, clock], w.response_rate)
            scrape.add(f.RESPONSE_RATE_WORST, [*who, name, clock], w.response_rate_worst)
            assert w.next_reply is not None  # evaluate always fills it
            _waits(scrape, f.FOLLOW_UPS, f.NEXT_REPLY_SECONDS, [*who, name], clock, w.next_reply)
        scrape.add(f.OLDEST_UNANSWERED_SECONDS, [*who, clock], view.oldest_unanswered_seconds)
    if e.oldest_unanswered_conversation is not None:
        scrape.add(f.OLDEST_UNANSWERED_CONVERSATION, [*who, e.oldest_unanswered_conversation],
                   e.stats.oldest_unanswered_seconds)  # fmt: skip
    if e.is_open is not None:
        scrape.add(f.SERIES_OPEN, who, 1.0 if e.is_open else 0.0)


def _waits(
    scrape: _Scrape, counts: Family, seconds: Family, where: list[str], clock: str, w: WindowStats
) -> None:
    """One window's waits by state and their latency figures: conversations or follow-ups alike."""
    for state, count in (("inbound", w.inbound), ("responded", w.responded), ("missed", w.missed),
                         ("pending", w.pending)):  # fmt: skip
        scrape.add(counts, [*where, state, clock], count)
    for stat, value in _seconds(w):
        scrape.add(seconds, [*where, stat, clock], value)


def _seconds(w: WindowStats) -> list[tuple[str, float | None]]:
    return [("avg", w.avg_seconds), ("p50", w.quantile_seconds(0.5)), ("p90", w.quantile_seconds(0.9)),
            ("max", w.max_seconds)]  # fmt: skip


def _resolutions(scrape: _Scrape, e: Evaluation, who: list[str]) -> None:
    """Resolution per window on both clocks, for a series that tracks it."""
    for clock, per_window in (("wall", e.resolution), ("business", e.business_resolution)):
        for name, r in (per_window or {}).items():
            where = [*who, name]
            for state, count in _resolution_counts(r):
                scrape.add(f.RESOLUTIONS, [*where, state, clock], count)
            scrape.add(f.RESOLUTION_RATE, [*where, clock], r.resolution_rate)
            scrape.add(f.FIRST_CONTACT_RESOLUTION_RATE, [*where, clock], r.first_contact_rate)
            for stat, value in _seconds(r.seconds):
                scrape.add(f.RESOLUTION_SECONDS, [*where, stat, clock], value)


def _resolution_counts(r: ResolutionStats) -> list[tuple[str, int]]:
    return [("resolved", r.resolved), ("in_time", r.in_time), ("overdue", r.overdue),
            ("reopened", r.reopened), ("first_contact", r.first_contact)]  # fmt: skip


def _feedback(scrape: _Scrape, e: Evaluation, who: list[str]) -> None:
    """Survey answers per window and survey, for a series that has any (wall clock only)."""
    for name, surveys in (e.feedback or {}).items():
        for survey, stats in surveys.items():
            scrape.add(f.FEEDBACK_RESPONSES, [*who, name, survey], stats.responses)
            scrape.add(f.FEEDBACK_SCORE_AVG, [*who, name, survey], _float(stats.score_avg))
            scrape.add(f.SURVEY_HEADLINES[survey], [*who, name], _float(feedback.score(stats, survey)))


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _agents(scrape: _Scrape, e: Evaluation, who: list[str]) -> None:
    """Each named agent's first and next replies per window (wall clock)."""
    for name, per_agent in e.agents.items():
        for agent, answered in per_agent.items():
            for kind, w in (("first", answered.first), ("next", answered.next)):
                scrape.add(f.AGENT_REPLIES, [*who, name, agent, kind], w.latency_count)
                for stat, value in (("avg", w.avg_seconds), ("p90", w.quantile_seconds(0.9)),
                                    ("max", w.max_seconds)):  # fmt: skip
                    scrape.add(f.AGENT_REPLY_SECONDS, [*who, name, agent, kind, stat], value)


def _verdicts(scrape: _Scrape, e: Evaluation, who: list[str]) -> None:
    """Each rule's verdict, budget, forecast and failed conditions."""
    for name, verdict in e.verdicts.items():
        where = [*who, name]
        scrape.add(f.RULE_OK, where, None if verdict.ok is None else 1.0 if verdict.ok else 0.0)
        scrape.add(
            f.RULE_ERROR_BUDGET, where, None if verdict.error_budget is None else float(verdict.error_budget)
        )
        breach = verdict.rate_breach_in_us
        scrape.add(f.RULE_RATE_BREACH_IN_SECONDS, where, None if breach is None else breach / MICROS)
        for condition, value in verdict.failed:
            scrape.add(f.RULE_FAILED, [*where, condition], value)


def _lifetime(scrape: _Scrape, e: Evaluation, who: list[str]) -> None:
    """The cumulative latency histogram and decided counter that Prometheus rates are taken from."""
    life = e.lifetime
    assert life is not None  # evaluate always fills it
    cumulative = histogram.cumulative(life.buckets)
    hist = scrape.made[f.FIRST_REPLY_LATENCY_SECONDS]
    hist.add_metric(  # type: ignore[attr-defined]  # a histogram takes buckets and a sum
        who,
        [(le, float(count)) for le, count in zip(_BOUNDS, cumulative, strict=True)],
        sum_value=life.latency_sum_us / MICROS,
    )
    scrape.add(f.CONVERSATIONS_DECIDED, [*who, "responded"], float(life.responded))
    scrape.add(f.CONVERSATIONS_DECIDED, [*who, "missed"], float(life.missed))
