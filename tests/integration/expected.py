"""The per-series gauge samples that the offline report implies, for comparing with a worker's /metrics."""

from __future__ import annotations

from typing import Any

from socialsla.cli.render import series_json
from socialsla.core.report import Report
from socialsla.core.rules import DEFAULT_RULES, Rule
from tests.harness import Samples

GAUGES = (
    "socialsla_conversations",
    "socialsla_response_rate",
    "socialsla_response_rate_worst",
    "socialsla_first_reply_seconds",
    "socialsla_oldest_unanswered_seconds",
    "socialsla_rule_ok",
    "socialsla_rule_error_budget",
    "socialsla_follow_ups",
    "socialsla_next_reply_seconds",
    "socialsla_rule_rate_breach_in_seconds",
    "socialsla_series_open",
    "socialsla_agent_replies",
    "socialsla_agent_reply_seconds",
    "socialsla_rule_failed",
    "socialsla_resolutions",
    "socialsla_resolution_rate",
    "socialsla_first_contact_resolution_rate",
    "socialsla_resolution_seconds",
    "socialsla_feedback_responses",
    "socialsla_feedback_score_avg",
    "socialsla_csat",
    "socialsla_nps",
    "socialsla_ces_easy_rate",
)


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def from_report(report: Report, rules: tuple[Rule, ...] = DEFAULT_RULES) -> Samples:
    """Every gauge sample the report's numbers call for (a null is not exported)."""
    out: Samples = {}

    def put(name: str, value: Any, **labels: str) -> None:
        if value is not None:
            out[key(name, **labels)] = float(value)

    for series in report.series:
        body = series_json(series, rules)
        who = {"account": series.account, "channel": series.channel}
        views = [("wall", body)]
        if "business" in body:  # a series with a calendar is exported on both clocks
            views.append(("business", body["business"]))
            out[key("socialsla_series_open", **who)] = float(bool(series.is_open))
        for clock, view in views:
            for window, w in view["windows"].items():
                for state in ("inbound", "responded", "missed", "pending"):
                    put("socialsla_conversations", w[state], window=window, state=state, clock=clock, **who)
                put("socialsla_response_rate", w["response_rate"], window=window, clock=clock, **who)
                put(
                    "socialsla_response_rate_worst",
                    w["response_rate_worst"],
                    window=window,
                    clock=clock,
                    **who,
                )
                for stat in ("avg", "p50", "p90", "max"):
                    put("socialsla_first_reply_seconds", w["first_reply_seconds"][stat], window=window,
                        stat=stat, clock=clock, **who)  # fmt: skip
                follow = w["next_reply"]
                for state in ("inbound", "responded", "missed", "pending"):
                    put("socialsla_follow_ups", follow[state], window=window, state=state, clock=clock, **who)
                for stat in ("avg", "p50", "p90", "max"):
                    put("socialsla_next_reply_seconds", follow["seconds"][stat], window=window, stat=stat,
                        clock=clock, **who)  # fmt: skip
            put("socialsla_oldest_unanswered_seconds", view["oldest_unanswered_seconds"], clock=clock, **who)
            for window, w in view["windows"].items():  # resolution, for a series that tracks it
                r = w.get("resolution")
                if r is None:
                    continue
                for state in ("resolved", "in_time", "overdue", "reopened", "first_contact"):
                    put("socialsla_resolutions", r[state], window=window, state=state, clock=clock, **who)
                put("socialsla_resolution_rate", r["resolution_rate"], window=window, clock=clock, **who)
                put("socialsla_first_contact_resolution_rate", r["first_contact_rate"], window=window,
                    clock=clock, **who)  # fmt: skip
                for stat in ("avg", "p50", "p90", "max"):
                    put("socialsla_resolution_seconds", r["seconds"][stat], window=window, stat=stat,
                        clock=clock, **who)  # fmt: skip
        for window, w in body["windows"].items():  # customer feedback, wall clock only
            said = w.get("feedback")
            if said is None:
                continue
            for survey, headline, metric in (("csat", "csat", "socialsla_csat"), ("nps", "nps", "socialsla_nps"),
                                             ("ces", "easy_rate", "socialsla_ces_easy_rate")):  # fmt: skip
                put(
                    "socialsla_feedback_responses",
                    said[survey]["responses"],
                    window=window,
                    survey=survey,
                    **who,
                )
                put(
                    "socialsla_feedback_score_avg",
                    said[survey]["score_avg"],
                    window=window,
                    survey=survey,
                    **who,
                )
                put(metric, said[survey][headline], window=window, **who)
        for window, w in body["windows"].items():  # agents, on the wall clock only
            for agent, figures in w["agents"].items():
                for kind, name in (("first", "first_reply"), ("next", "next_reply")):
                    put("socialsla_agent_replies", figures[f"{name.split('_')[0]}_replies"], window=window,
                        agent=agent, kind=kind, **who)  # fmt: skip
                    for stat in ("avg", "p90", "max"):
                        put("socialsla_agent_reply_seconds", figures[f"{name}_seconds"][stat], window=window,
                            agent=agent, kind=kind, stat=stat, **who)  # fmt: skip
        for rule, verdict in body["rules"].items():
            if verdict["ok"] is not None:
                put("socialsla_rule_ok", 1 if verdict["ok"] else 0, rule=rule, **who)
            put("socialsla_rule_error_budget", verdict["error_budget"], rule=rule, **who)
            put(
                "socialsla_rule_rate_breach_in_seconds",
                verdict.get("rate_breach_in_seconds"),
                rule=rule,
                **who,
            )
        for rule, verdict in series.verdicts.items():  # which conditions failed, by how much
            for condition, value in verdict.failed:
                put("socialsla_rule_failed", value, rule=rule, condition=condition, **who)
    return out


def sla_gauges(samples: Samples) -> Samples:
    """Only the per-series gauges of a scrape (those in GAUGES)."""
    return {k: v for k, v in samples.items() if k[0] in GAUGES}
