"""The Prometheus side (SPEC §6): a collector that builds the SLA gauges at scrape time.

Nothing here is set while events are processed. Each scrape evaluates the
ledger's series (only those of actively owned partitions are in it) at the
clock's now, so a revoked series cannot linger, standby data cannot leak, and
time-dependent figures (pending turning missed, waiting ages) move without new
events. The registry is passed in, so that tests use a fresh one; the
pipeline's own counters are in `stream/counters.py`.
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
from socialsla.core.series import evaluate
from socialsla.core.stats import WINDOWS, ResolutionStats, WindowStats


class SlaCollector(Collector):
    """Builds every per-series SPEC §6 metric from the ledger on each scrape."""

    def __init__(self, ledger: Ledger, rules: Iterable[Rule], clock: Clock, max_agents: int = 10) -> None:
        self.ledger = ledger
        self.rules = tuple(rules)
        self.clock = clock
        self.max_agents = max_agents

    def collect(self) -> Iterator[Metric]:
        """Evaluate every owned series now and yield the metric families."""
        at = self.clock.now_us()
        conversations = GaugeMetricFamily(
            "socialsla_conversations",
            "Conversations opened in the window, by state at evaluation time.",
            labels=["account", "channel", "window", "state", "clock"],
        )
        rate = GaugeMetricFamily(
            "socialsla_response_rate",
            "responded / (responded + missed) of conversations opened in the window.",
            labels=["account", "channel", "window", "clock"],
        )
        worst = GaugeMetricFamily(
            "socialsla_response_rate_worst",
            "responded / inbound: pending conversations counted as missed.",
            labels=["account", "channel", "window", "clock"],
        )
        latency = GaugeMetricFamily(
            "socialsla_first_reply_seconds",
            "First-reply latency of conversations opened in the window.",
            labels=["account", "channel", "window", "stat", "clock"],
        )
        oldest = GaugeMetricFamily(
            "socialsla_oldest_unanswered_seconds",
            "How long the longest-waiting customer of the last 7 days has waited.",
            labels=["account", "channel", "clock"],
        )
        oldest_who = GaugeMetricFamily(
            "socialsla_oldest_unanswered_conversation",
            "socialsla_oldest_unanswered_seconds on the wall clock, labelled with the conversation that has "
            "waited that long: the customer to answer first.",
            labels=["account", "channel", "conversation_id"],
        )
        series_open = GaugeMetricFamily(
            "socialsla_series_open",
            "1 while the team's calendar says it is open, 0 while closed; absent without a calendar "
            "(docs/metrics.md).",
            labels=["account", "channel"],
        )
        rule_ok = GaugeMetricFamily(
            "socialsla_rule_ok",
            "1 when the rule holds, 0 when breached; absent without a verdict.",
            labels=["account", "channel", "rule"],
        )
        budget = GaugeMetricFamily(
            "socialsla_rule_error_budget",
            "Further missed conversations the rule's response rate can absorb.",
            labels=["account", "channel", "rule"],
        )
        follow_ups = GaugeMetricFamily(
            "socialsla_follow_ups",
            "Follow-up waits (a customer writing again after the brand's answer) started in the window, "
            "by state now (docs/metrics.md).",
            labels=["account", "channel", "window", "state", "clock"],
        )
        next_reply = GaugeMetricFamily(
            "socialsla_next_reply_seconds",
            "Reply time of follow-up waits started in the window (docs/metrics.md).",
            labels=["account", "channel", "window", "stat", "clock"],
        )
        failed = GaugeMetricFamily(
            "socialsla_rule_failed",
            "For each condition that makes the rule fail, its statistic now (a rate, or seconds); "
            "absent while the condition holds. Thresholds: socialsla_rule_threshold.",
            labels=["account", "channel", "rule", "condition"],
        )
        thresholds = GaugeMetricFamily(
            "socialsla_rule_threshold",
            "The threshold of each condition of each rule this worker judges (a rate, or seconds).",
            labels=["rule", "condition"],
        )
        for each in self.rules:
            for condition, threshold in each.thresholds().items():
                thresholds.add_metric([each.name, condition], threshold)
        breach = GaugeMetricFamily(
            "socialsla_rule_rate_breach_in_seconds",
            "Seconds until the rule's response rate drops below its threshold if nobody answers "
            "(docs/metrics.md).",
            labels=["account", "channel", "rule"],
        )
        agent_replies = GaugeMetricFamily(
            "socialsla_agent_replies",
            "Waits the agent answered, started in the window: first replies to conversations, next to "
            "follow-ups (wall clock; past SOCIALSLA_MAX_AGENTS agents pooled as other; docs/metrics.md).",
            labels=["account", "channel", "window", "agent", "kind"],
        )
        agent_seconds = GaugeMetricFamily(
            "socialsla_agent_reply_seconds",
            "Reply time of the agent's answers to waits started in the window (wall clock; docs/metrics.md).",
            labels=["account", "channel", "window", "agent", "kind", "stat"],
        )
        hist = HistogramMetricFamily(
            "socialsla_first_reply_latency_seconds",
            "First-reply latency of every conversation this series has seen answered.",
            labels=["account", "channel"],
        )
        decided = CounterMetricFamily(
            "socialsla_conversations_decided",
            "Conversations decided (responded within R, or missed).",
            labels=["account", "channel", "result"],
        )
        resolutions = GaugeMetricFamily(
            "socialsla_resolutions",
            "Conversations opened in the window, resolved, resolved in time (within S), overdue, "
            "reopened after their resolution, resolved at first contact.",
            labels=["account", "channel", "window", "state", "clock"],
        )
        resolution_rate = GaugeMetricFamily(
            "socialsla_resolution_rate",
            "Resolved in time / (resolved in time + overdue), of the conversations opened in the window.",
            labels=["account", "channel", "window", "clock"],
        )
        first_contact = GaugeMetricFamily(
            "socialsla_first_contact_resolution_rate",
            "Resolved with one reply and not reopened / resolved, of the conversations opened in the window.",
            labels=["account", "channel", "window", "clock"],
        )
        resolution_seconds = GaugeMetricFamily(
            "socialsla_resolution_seconds",
            "Resolution time (post to first resolve) of the conversations opened in the window and resolved.",
            labels=["account", "channel", "window", "stat", "clock"],
        )
        responses = GaugeMetricFamily(
            "socialsla_feedback_responses",
            "Counted survey answers given in the window (a customer's latest per conversation and survey).",
            labels=["account", "channel", "window", "survey"],
        )
        score_avg = GaugeMetricFamily(
            "socialsla_feedback_score_avg",
            "Average score of the counted answers given in the window.",
            labels=["account", "channel", "window", "survey"],
        )
        csat = GaugeMetricFamily(
            "socialsla_csat",
            "Share of CSAT answers of 4 or 5 in the window (0-1).",
            labels=["account", "channel", "window"],
        )
        nps = GaugeMetricFamily(
            "socialsla_nps",
            "Net promoter score in the window: 100 x (promoters - detractors) / answers (-100-100).",
            labels=["account", "channel", "window"],
        )
        ces = GaugeMetricFamily(
            "socialsla_ces_easy_rate",
            "Share of CES answers of 5 to 7 in the window (0-1).",
            labels=["account", "channel", "window"],
        )
        bounds = [_le(b) for b in histogram.upper_bounds()]
        for series in self.ledger.existing(at):
            e = evaluate(series, at, self.rules, self.max_agents)
            who = [e.account, e.channel]
            views = (
                [("wall", e.stats)] if e.business is None else [("wall", e.stats), ("business", e.business)]
            )
            for clock, view in views:
                for name in WINDOWS:
                    w = view.windows[name]
                    _window_samples(conversations, latency, [*who, name], clock, w)
                    _maybe(rate, [*who, name, clock], w.response_rate)
                    _maybe(worst, [*who, name, clock], w.response_rate_worst)
                    assert w.next_reply is not None  # evaluate always fills it
                    _window_samples(follow_ups, next_reply, [*who, name], clock, w.next_reply)
                _maybe(oldest, [*who, clock], view.oldest_unanswered_seconds)
            if e.oldest_unanswered_conversation is not None:
                _maybe(
                    oldest_who, [*who, e.oldest_unanswered_conversation], e.stats.oldest_unanswered_seconds
                )
            for clock, per_window in (("wall", e.resolution), ("business", e.business_resolution)):
                for name, r in (per_window or {}).items():
                    where = [*who, name]
                    for state, count in _resolution_counts(r):
                        resolutions.add_metric([*where, state, clock], count)
                    _maybe(resolution_rate, [*where, clock], r.resolution_rate)
                    _maybe(first_contact, [*where, clock], r.first_contact_rate)
                    for stat, value in _seconds_stats(r.seconds):
                        _maybe(resolution_seconds, [*where, stat, clock], value)
            for name, surveys in (e.feedback or {}).items():
                for survey, stats in surveys.items():
                    responses.add_metric([*who, name, survey], stats.responses)
                    _maybe(score_avg, [*who, name, survey], _float(stats.score_avg))
                    headline = {"csat": csat, "nps": nps, "ces": ces}[survey]
                    _maybe(headline, [*who, name], _float(feedback.score(stats, survey)))
            if e.is_open is not None:
                series_open.add_metric(who, 1.0 if e.is_open else 0.0)
            for name, per_agent in e.agents.items():
                for agent, answered in per_agent.items():
                    for kind, w in (("first", answered.first), ("next", answered.next)):
                        agent_replies.add_metric([*who, name, agent, kind], w.latency_count)
                        for stat, value in (("avg", w.avg_seconds), ("p90", w.quantile_seconds(0.9)),
                                            ("max", w.max_seconds)):  # fmt: skip
                            _maybe(agent_seconds, [*who, name, agent, kind, stat], value)
            for name, verdict in e.verdicts.items():
                if verdict.ok is not None:
                    rule_ok.add_metric([*who, name], 1.0 if verdict.ok else 0.0)
                if verdict.error_budget is not None:
                    budget.add_metric([*who, name], float(verdict.error_budget))
                if verdict.rate_breach_in_us is not None:
                    breach.add_metric([*who, name], verdict.rate_breach_in_us / MICROS)
                for condition, value in verdict.failed:
                    failed.add_metric([*who, name, condition], value)
            life = e.lifetime
            assert life is not None  # evaluate always fills it
            cumulative = histogram.cumulative(life.buckets)
            hist.add_metric(
                who,
                [(le, float(count)) for le, count in zip(bounds, cumulative, strict=True)],
                sum_value=life.latency_sum_us / MICROS,
            )
            decided.add_metric([*who, "responded"], float(life.responded))
            decided.add_metric([*who, "missed"], float(life.missed))
        yield from (
            conversations, rate, worst, latency, oldest, oldest_who, series_open, follow_ups, next_reply,
            agent_replies, agent_seconds, rule_ok, budget, failed, thresholds, breach, hist, decided,
            resolutions, resolution_rate, first_contact, resolution_seconds,
            responses, score_avg, csat, nps, ces,
        )  # fmt: skip

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: the families depend on what the worker owns at scrape time."""
        return iter(())


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else f"{bound:.1f}"


def _window_samples(
    counts: GaugeMetricFamily, seconds: GaugeMetricFamily, where: list[str], clock: str, w: WindowStats
) -> None:
    """One window's waits by state and their latency stats: conversations (§3) or follow-ups (§8) alike."""
    for state, count in (("inbound", w.inbound), ("responded", w.responded), ("missed", w.missed),
                         ("pending", w.pending)):  # fmt: skip
        counts.add_metric([*where, state, clock], count)
    for stat, value in (("avg", w.avg_seconds), ("p50", w.quantile_seconds(0.5)),
                        ("p90", w.quantile_seconds(0.9)), ("max", w.max_seconds)):  # fmt: skip
        _maybe(seconds, [*where, stat, clock], value)


def _resolution_counts(r: ResolutionStats) -> list[tuple[str, int]]:
    return [("resolved", r.resolved), ("in_time", r.in_time), ("overdue", r.overdue),
            ("reopened", r.reopened), ("first_contact", r.first_contact)]  # fmt: skip


def _seconds_stats(w: WindowStats) -> list[tuple[str, float | None]]:
    return [("avg", w.avg_seconds), ("p50", w.quantile_seconds(0.5)), ("p90", w.quantile_seconds(0.9)),
            ("max", w.max_seconds)]  # fmt: skip


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _maybe(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    """SPEC §6: a gauge whose value is null is not exported."""
    if value is not None:
        family.add_metric(labels, value)
