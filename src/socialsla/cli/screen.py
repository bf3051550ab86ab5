"""The demo's screen: a worker's /metrics text turned into one line per series.

It reads the exported metrics rather than the worker's memory, so what the
terminal shows is exactly what Prometheus, Grafana and the alerts see. A team
lead reads it at a glance, so it shows what the gauges alone leave open: the
worst-case rate beside the rate (pending posts counted as missed), which
condition of a lost rule failed and by how much, and the error budget.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

from prometheus_client.parser import text_string_to_metric_families

from socialsla.cli.words import read_failure, verdict_words
from socialsla.core.duration import human
from socialsla.serve import families


@dataclass(slots=True)
class WindowRow:
    """What the screen knows of one window of one series."""

    inbound: float = 0.0
    pending: float = 0.0
    rate: float | None = None
    worst: float | None = None
    avg: float | None = None
    p90: float | None = None
    #: Resolution and feedback: absent (None) for a series that sends no resolve or feedback events.
    resolved_in_time: float | None = None
    first_contact: float | None = None
    csat: float | None = None
    nps: float | None = None


@dataclass(slots=True)
class Row:
    """What the screen shows of one (account, channel)."""

    windows: dict[str, WindowRow] = field(default_factory=lambda: defaultdict(WindowRow))
    oldest: float | None = None
    verdicts: dict[str, float] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)
    #: Seconds until the rule is lost if nobody answers.
    breaches: dict[str, float] = field(default_factory=dict)
    #: Per rule, each failing condition and its statistic now.
    failed: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))
    #: The business view's figures, for a series with a calendar; and whether it is open now.
    business: Row | None = None
    open: float | None = None


@dataclass(slots=True)
class Scrape:
    """What the screen reads of one scrape: rows by (account, channel), and the rules' thresholds."""

    rows: dict[tuple[str, str], Row]
    thresholds: dict[tuple[str, str], float]


#: Per-window figures of a row, by family: the `WindowRow` field each one fills.
_WINDOW_FIELDS: Final = {
    families.RESPONSE_RATE.name: "rate",
    families.RESPONSE_RATE_WORST.name: "worst",
    families.RESOLUTION_RATE.name: "resolved_in_time",
    families.FIRST_CONTACT_RESOLUTION_RATE.name: "first_contact",
    families.CSAT.name: "csat",
    families.NPS.name: "nps",
}
#: Per-rule figures of a row, by family: the `Row` dict each one fills.
_RULE_FIELDS: Final = {
    families.RULE_OK.name: "verdicts",
    families.RULE_ERROR_BUDGET.name: "budgets",
    families.RULE_RATE_BREACH_IN_SECONDS.name: "breaches",
}


def read_scrape(text: str) -> Scrape:
    """Rows keyed by (account, channel), and thresholds by (rule, condition), from exposition text."""
    rows: dict[tuple[str, str], Row] = defaultdict(Row)
    thresholds: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == families.RULE_THRESHOLD.name:
                thresholds[(labels["rule"], labels["condition"])] = sample.value
            elif "account" in labels:
                _take(_row(rows, labels), sample.name, labels, sample.value)
    return Scrape(dict(rows), thresholds)


def _row(rows: dict[tuple[str, str], Row], labels: dict[str, str]) -> Row:
    """A sample's row: its series', or that series' business view for the business clock."""
    row = rows[(labels["account"], labels["channel"])]
    if labels.get("clock") != "business":
        return row
    if row.business is None:
        row.business = Row()
    return row.business


def _take(row: Row, name: str, labels: dict[str, str], value: float) -> None:
    """Put one sample where the screen shows it; samples the screen does not show are passed over."""
    if "window" in labels:
        window = row.windows[labels["window"]]
        if name in _WINDOW_FIELDS:
            setattr(window, _WINDOW_FIELDS[name], value)
        elif name == families.CONVERSATIONS.name and labels["state"] in ("inbound", "pending"):
            setattr(window, labels["state"], value)
        elif name == families.FIRST_REPLY_SECONDS.name and labels["stat"] in ("avg", "p90"):
            setattr(window, labels["stat"], value)  # the fields of WindowRow the rules judge
    elif name in _RULE_FIELDS:
        getattr(row, _RULE_FIELDS[name])[labels["rule"]] = value
    elif name == families.RULE_FAILED.name:
        row.failed[labels["rule"]].append((labels["condition"], value))
    elif name == families.OLDEST_UNANSWERED_SECONDS.name:
        row.oldest = value
    elif name == families.SERIES_OPEN.name:
        row.open = value


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _badge(row: Row, thresholds: dict[tuple[str, str], float]) -> str:
    if not row.verdicts:
        return "no verdict yet"
    parts = []
    for name, verdict in sorted(row.verdicts.items(), key=lambda item: (item[1], item[0])):
        word, notes = verdict_words(verdict == 1, row.budgets.get(name), row.breaches.get(name))
        shown = f" ({', '.join(notes)})" if notes else ""
        if verdict == 1:
            parts.append(f"{word} {name}{shown}")
            continue
        why = [read_failure(c, value, thresholds.get((name, c))) for c, value in row.failed.get(name, [])]
        parts.append(f"{word} {name}: {', '.join(why) or 'see /metrics'}{shown}")
    return "; ".join(parts)


def _scorecard(w: WindowRow) -> str:
    """The resolution and feedback numbers a series has, in one line; empty when it has none."""
    parts = []
    if w.resolved_in_time is not None:
        parts.append(f"resolved in time {_percent(w.resolved_in_time)}")
    if w.first_contact is not None:
        parts.append(f"first contact {_percent(w.first_contact)}")
    if w.csat is not None:
        parts.append(f"CSAT {_percent(w.csat)}")
    if w.nps is not None:
        parts.append(f"NPS {w.nps:+.0f}")
    return ", ".join(parts)


def draw(scrape: Scrape, window: str = "7d") -> str:
    """A fixed-width table, worst series first (breached, then by response rate)."""
    header = (
        f"{'account':<16} {'channel':<10} {'inbound':>8} {'pending':>8} "
        f"{'rate ' + window:>9} {'worst':>7} {'avg reply':>10} {'oldest wait':>12}  badge"
    )
    lines = [header, "-" * len(header)]
    rows = scrape.rows

    def order(item: tuple[tuple[str, str], Row]) -> tuple[int, float, tuple[str, str]]:
        key, row = item
        breached = any(v == 0 for v in row.verdicts.values())
        rate = row.windows.get(window, WindowRow()).rate
        return (0 if breached else 1, rate if rate is not None else 2.0, key)

    for (account, channel), row in sorted(rows.items(), key=order):
        w = row.windows.get(window, WindowRow())
        lines.append(
            f"{account:<16} {channel:<10} {w.inbound:>8.0f} {w.pending:>8.0f} {_percent(w.rate):>9} "
            f"{_percent(w.worst):>7} {human(w.avg):>10} {human(row.oldest):>12}  "
            + _badge(row, scrape.thresholds)
        )
        scorecard = _scorecard(w)
        if scorecard:
            lines.append(f"{'  scorecard':<27} {scorecard}")
        if row.business is not None:  # the same series measured in its calendar's open time
            b = row.business.windows.get(window, WindowRow())
            now = {1.0: "open now", 0.0: "closed now"}.get(row.open if row.open is not None else -1.0, "")
            lines.append(
                f"{'  business hours':<27} {b.inbound:>8.0f} {b.pending:>8.0f} {_percent(b.rate):>9} "
                f"{_percent(b.worst):>7} {human(b.avg):>10} {human(row.business.oldest):>12}  {now}"
            )
    if not rows:
        lines.append("(no series yet: waiting for the worker to own partitions and see events)")
    else:
        lines.append(
            "\nrate = answered / decided; worst = answered / all, pending counted as missed; "
            "budget = misses the rule can still take"
        )
    return "\n".join(lines)
