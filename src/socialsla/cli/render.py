"""The report as people and programs read it: JSON, and the tables of series, agents and waiting customers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import orjson

from socialsla.cli.words import read_failure, verdict_words
from socialsla.core import feedback
from socialsla.core.agents import AgentStats
from socialsla.core.duration import human
from socialsla.core.events import MICROS, format_time
from socialsla.core.feedback import SurveyStats
from socialsla.core.report import Report
from socialsla.core.rules import Rule, Verdict
from socialsla.core.series import Evaluation
from socialsla.core.stats import WINDOWS, ResolutionStats, SeriesStats, WindowStats


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _seconds_json(w: WindowStats) -> dict[str, Any]:
    return {
        "count": w.latency_count,
        "avg": w.avg_seconds,
        "p50": _number(w.quantile_seconds(0.5)),
        "p90": _number(w.quantile_seconds(0.9)),
        "max": w.max_seconds,
    }


def _rule_json(rule: Rule | None, verdict: Verdict) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": verdict.ok, "error_budget": verdict.error_budget}
    if rule is None or rule.min_response_rate is not None:  # forecast: absent without a rate condition
        breach = verdict.rate_breach_in_us
        out["rate_breach_in_seconds"] = None if breach is None else breach / MICROS
    return out


def _agent_seconds(w: WindowStats) -> dict[str, Any]:
    return {"count": w.latency_count, "avg": w.avg_seconds, "p90": _number(w.quantile_seconds(0.9)),
            "max": w.max_seconds}  # fmt: skip


def _agents_json(per_agent: dict[str, AgentStats]) -> dict[str, Any]:
    return {
        who: {"first_replies": a.first.latency_count, "first_reply_seconds": _agent_seconds(a.first),
              "next_replies": a.next.latency_count, "next_reply_seconds": _agent_seconds(a.next)}
        for who, a in per_agent.items()
    }  # fmt: skip


def _windows_json(
    stats: SeriesStats, agents: dict[str, dict[str, AgentStats]] | None = None
) -> dict[str, Any]:
    windows: dict[str, Any] = {}
    for name in WINDOWS:
        w = stats.windows[name]
        follow = w.next_reply
        assert follow is not None  # evaluate always fills it
        windows[name] = {
            "inbound": w.inbound,
            "responded": w.responded,
            "missed": w.missed,
            "pending": w.pending,
            "response_rate": w.response_rate,
            "response_rate_worst": w.response_rate_worst,
            "first_reply_seconds": _seconds_json(w),
            "next_reply": {
                "inbound": follow.inbound,
                "responded": follow.responded,
                "missed": follow.missed,
                "pending": follow.pending,
                "seconds": _seconds_json(follow),
            },
        }
        if agents is not None:  # agents: the wall-clock windows only
            windows[name]["agents"] = _agents_json(agents.get(name, {}))
    return windows


def _resolution_json(stats: ResolutionStats) -> dict[str, Any]:
    return {
        "resolved": stats.resolved,
        "in_time": stats.in_time,
        "overdue": stats.overdue,
        "reopened": stats.reopened,
        "first_contact": stats.first_contact,
        "resolution_rate": stats.resolution_rate,
        "first_contact_rate": stats.first_contact_rate,
        "seconds": _seconds_json(stats.seconds),
    }


def _ratio(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _feedback_json(surveys: dict[str, SurveyStats]) -> dict[str, Any]:
    csat, nps, ces = surveys["csat"], surveys["nps"], surveys["ces"]
    return {
        "csat": {"responses": csat.responses, "score_avg": _ratio(csat.score_avg), "satisfied": csat.good,
                 "csat": _ratio(feedback.score(csat, "csat"))},
        "nps": {"responses": nps.responses, "score_avg": _ratio(nps.score_avg), "promoters": nps.good,
                "passives": nps.passives, "detractors": nps.detractors,
                "nps": _ratio(feedback.score(nps, "nps"))},
        "ces": {"responses": ces.responses, "score_avg": _ratio(ces.score_avg), "easy": ces.good,
                "easy_rate": _ratio(feedback.score(ces, "ces"))},
    }  # fmt: skip


def _scorecard_json(
    windows: dict[str, Any],
    resolution: dict[str, ResolutionStats] | None,
    surveys: dict[str, dict[str, SurveyStats]] | None,
) -> dict[str, Any]:
    """Add the resolution and feedback blocks to each window, for a series that tracks them."""
    for name, window in windows.items():
        if resolution is not None:
            window["resolution"] = _resolution_json(resolution[name])
        if surveys is not None:
            window["feedback"] = _feedback_json(surveys[name])
    return windows


def series_json(series: Evaluation, rules: tuple[Rule, ...] = ()) -> dict[str, Any]:
    """One series in the report's JSON shape (docs/semantics.md, "The offline report")."""
    by_name = {rule.name: rule for rule in rules}
    out: dict[str, Any] = {
        "account": series.account,
        "channel": series.channel,
        "oldest_unanswered_seconds": series.stats.oldest_unanswered_seconds,
        "windows": _scorecard_json(
            _windows_json(series.stats, series.agents), series.resolution, series.feedback
        ),
        "rules": {name: _rule_json(by_name.get(name), verdict) for name, verdict in series.verdicts.items()},
    }
    if series.business is not None:
        out["calendar"] = series.calendar
        out["business"] = {
            "oldest_unanswered_seconds": series.business.oldest_unanswered_seconds,
            "windows": _scorecard_json(_windows_json(series.business), series.business_resolution, None),
        }
    return out


def to_json(report: Report, rules: tuple[Rule, ...] = ()) -> bytes:
    """The report as JSON; `rules` says which verdicts carry a breach forecast (those with a rate floor).

    A report with waiting lists adds them, and the customer to answer first, to each series.
    """
    series = [series_json(s, rules) for s in report.series]
    if report.waiting is not None:
        for out, evaluation, entries in zip(series, report.series, report.waiting, strict=True):
            out["oldest_unanswered_conversation"] = evaluation.oldest_unanswered_conversation
            out["waiting"] = [entry.to_json() for entry in entries]
    body = {"at": format_time(report.at), "series": series}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]], left: Callable[[int], bool]) -> list[str]:
    """A table's lines, header first: each column as wide as its widest cell, text left, numbers right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    return [
        "  ".join(cell.ljust(width) if left(i) else cell.rjust(width)
                  for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip()
        for row in (header, *rows)
    ]  # fmt: skip


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _verdicts(verdicts: dict[str, Verdict], rules: dict[str, Rule]) -> str:
    if not verdicts:
        return "-"
    parts = []
    for name, verdict in verdicts.items():
        breach = None if verdict.rate_breach_in_us is None else verdict.rate_breach_in_us / MICROS
        word, notes = verdict_words(verdict.ok, verdict.error_budget, breach)
        rule = rules.get(name)
        thresholds = rule.thresholds() if rule is not None else {}
        notes[:0] = [read_failure(c, value, thresholds.get(c)) for c, value in verdict.failed]
        parts.append(f"{name}: {word}" + (f" ({', '.join(notes)})" if notes else ""))
    return "; ".join(parts)


def to_table(report: Report, rules: tuple[Rule, ...] = ()) -> str:
    """A table for people: one row per series and window, rule verdicts on the 7d row."""
    header = (
        "account", "channel", "window", "inbound", "resp", "missed", "pending",
        "rate", "worst", "avg", "p90", "max", "follow-ups", "next avg", "oldest wait", "rules",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = []
    by_name = {rule.name: rule for rule in rules}
    for series in report.series:
        views = [("", series.stats)]
        if series.business is not None:  # a business row under each wall row
            views.append((f" {series.calendar}", series.business))
        for name in WINDOWS:
            last = name == "7d"
            for label, stats in views:
                w = stats.windows[name]
                rows.append((
                    series.account, series.channel, name + label, str(w.inbound), str(w.responded),
                    str(w.missed), str(w.pending), _pct(w.response_rate), _pct(w.response_rate_worst),
                    human(w.avg_seconds), human(w.quantile_seconds(0.9)), human(w.max_seconds),
                    str(w.next_reply.inbound if w.next_reply else 0),
                    human(w.next_reply.avg_seconds if w.next_reply else None),
                    human(stats.oldest_unanswered_seconds) if last else "",
                    _verdicts(series.verdicts, by_name) if last and not label else "",
                ))  # fmt: skip
    lines = [f"at {format_time(report.at)}: {len(report.series)} account/channel series"]
    lines += _columns(header, rows, lambda i: i < 3 or i == len(header) - 1)
    scorecards = [line for series in report.series if (line := _scorecard_line(series))]
    if scorecards:
        lines.append("")
        lines.append("scorecard, 7 days (series that send resolve or feedback events)")
        lines.extend(scorecards)
    if report.waiting is not None:
        lines.append("")
        lines.extend(_waiting_table(report))
    return "\n".join(lines) + "\n"


def _due(pending: bool, due_in_us: int | None) -> str:
    if not pending:
        return "missed"
    return "never" if due_in_us is None else human(due_in_us / MICROS)


def _waiting_table(report: Report) -> list[str]:
    """Who is waiting, for people: every unanswered customer, series by series, oldest first.

    A "business due" column (the calendar's deadline) only when some series has a calendar.
    """
    assert report.waiting is not None
    calendars = any(series.business is not None for series in report.series)
    header = ["account", "channel", "conversation", "kind", "since", "waited", "due in", "at risk"]
    if calendars:
        header.insert(7, "business due")
    rows: list[list[str]] = []
    for series, entries in zip(report.series, report.waiting, strict=True):
        for entry in entries:
            row = [
                series.account, series.channel, entry.conversation_id,
                "conversation" if entry.conversation else "follow-up", format_time(entry.since),
                human(entry.waited_us / MICROS), _due(entry.pending, entry.due_in_us),
                ", ".join(entry.at_risk) or "-",
            ]  # fmt: skip
            if calendars:
                business = entry.business_pending
                row.insert(7, "-" if business is None else _due(business, entry.business_due_in_us))
            rows.append(row)
    waiting = sum(len(entries) for entries in report.waiting)
    lines = [f"waiting at {format_time(report.at)}: {waiting} unanswered (oldest first)"]
    lines += _columns(header, rows, lambda i: header[i] not in {"waited", "due in", "business due"})
    if not rows:
        lines.append("(nobody waits)")
    return lines


def _scorecard_line(series: Evaluation) -> str:
    """Resolution and feedback over 7 days in one line, wall clock (and business resolution); else empty."""
    parts = []
    for label, resolution in (("", series.resolution), (f"{series.calendar} ", series.business_resolution)):
        if resolution is not None:
            r = resolution["7d"]
            parts.append(
                f"{label}resolved {r.resolved} (in time {r.in_time}, overdue {r.overdue}, "
                f"reopened {r.reopened}): "
                f"rate {_pct(r.resolution_rate)}, first contact {_pct(r.first_contact_rate)}, "
                f"avg {human(r.seconds.avg_seconds)}"
            )
    if series.feedback is not None:
        said = series.feedback["7d"]
        for survey in ("csat", "nps", "ces"):
            stats, value = said[survey], feedback.score(said[survey], survey)
            if value is None:
                continue
            shown = f"{float(value):+.0f}" if survey == "nps" else _pct(float(value))
            parts.append(f"{survey.upper()} {shown} ({stats.responses} answers)")
    return f"{series.account} {series.channel}: " + "; ".join(parts) if parts else ""


def to_agents_table(report: Report) -> str:
    """Agents for people: per series, window and agent, first and next replies (`report --agents`)."""
    header = ("account", "channel", "window", "agent", "first", "avg", "p90", "max", "next", "next avg")
    rows: list[tuple[str, ...]] = []
    for series in report.series:
        for name in WINDOWS:
            for who, a in series.agents.get(name, {}).items():
                rows.append((
                    series.account, series.channel, name, who, str(a.first.latency_count),
                    human(a.first.avg_seconds), human(a.first.quantile_seconds(0.9)),
                    human(a.first.max_seconds),
                    str(a.next.latency_count), human(a.next.avg_seconds),
                ))  # fmt: skip
    lines = [
        f"at {format_time(report.at)}: agents (wall clock; first replies to conversations, "
        "next replies to follow-ups)"
    ]
    lines += _columns(header, rows, lambda i: i < 4)
    if not rows:
        lines.append("(no reply in any window)")
    return "\n".join(lines) + "\n"
