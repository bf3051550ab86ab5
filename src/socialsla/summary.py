"""The live terminal summary: a worker's /metrics text turned into one line per series.

It reads the exported metrics rather than the worker's memory, so what the
terminal shows is exactly what Prometheus, Grafana and the alerts see.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from socialsla.duration import human


@dataclass(slots=True)
class Row:
    """What the summary shows of one (account, channel)."""

    inbound: float = 0.0
    pending: float = 0.0
    rate: float | None = None
    avg: float | None = None
    oldest: float | None = None
    verdicts: dict[str, float] = field(default_factory=dict)


def parse(text: str, window: str = "7d") -> dict[tuple[str, str], Row]:
    """Rows keyed by (account, channel) from exposition text."""
    rows: dict[tuple[str, str], Row] = defaultdict(Row)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if "account" not in labels:
                continue
            row = rows[(labels["account"], labels["channel"])]
            if labels.get("window", window) != window:
                continue
            name = sample.name
            if name == "socialsla_conversations":
                if labels["state"] == "inbound":
                    row.inbound = sample.value
                elif labels["state"] == "pending":
                    row.pending = sample.value
            elif name == "socialsla_response_rate":
                row.rate = sample.value
            elif name == "socialsla_first_reply_seconds" and labels["stat"] == "avg":
                row.avg = sample.value
            elif name == "socialsla_oldest_unanswered_seconds":
                row.oldest = sample.value
            elif name == "socialsla_rule_ok":
                row.verdicts[labels["rule"]] = sample.value
    return dict(rows)


def render(rows: dict[tuple[str, str], Row], window: str = "7d") -> str:
    """A fixed-width table, worst series first (breached, then by response rate)."""
    header = (
        f"{'account':<16} {'channel':<10} {'inbound':>8} {'pending':>8} "
        f"{'rate ' + window:>9} {'avg reply':>10} {'oldest wait':>12}  badge"
    )
    lines = [header, "-" * len(header)]

    def order(item: tuple[tuple[str, str], Row]) -> tuple[int, float, tuple[str, str]]:
        key, row = item
        breached = any(v == 0 for v in row.verdicts.values())
        return (0 if breached else 1, row.rate if row.rate is not None else 2.0, key)

    for (account, channel), row in sorted(rows.items(), key=order):
        if not row.verdicts:
            badge = "no verdict yet"
        elif all(v == 1 for v in row.verdicts.values()):
            badge = "OK"
        else:
            badge = "LOST: " + ", ".join(k for k, v in sorted(row.verdicts.items()) if v == 0)
        rate = "-" if row.rate is None else f"{row.rate * 100:.1f}%"
        lines.append(
            f"{account:<16} {channel:<10} {row.inbound:>8.0f} {row.pending:>8.0f} {rate:>9} "
            f"{human(row.avg):>10} {human(row.oldest):>12}  {badge}"
        )
    if not rows:
        lines.append("(no series yet: waiting for the worker to own partitions and see events)")
    return "\n".join(lines)
