"""Writes grafana/dashboards/socialsla-wall.json, the wall display of the care team's room.

Run `python grafana/build.py` after editing; tests/deploy/test_grafana.py regenerates
it and fails when the committed JSON differs, so the two never drift. Uids are
fixed, so links and kiosk URLs (`/d/socialsla-wall?kiosk`) stay stable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "socialsla-prometheus"}
SELECT = 'account=~"$account", channel=~"$channel"'
OUT = Path(__file__).parent / "dashboards" / "socialsla-wall.json"


def target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref, "instant": False}


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def stat(
    panel_id: int, title: str, expr: str, unit: str, steps: dict[str, Any], x: int, y: int,
    mappings: list[dict[str, Any]] | None = None, description: str = "", w: int = 5,
    extra: list[dict[str, Any]] | None = None, overrides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": panel_id,
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": w, "x": x, "y": y},
        "targets": [target(expr, "{{account}} / {{channel}}"), *(extra or [])],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": steps,
                "mappings": mappings or [],
                "color": {"mode": "thresholds"},
            },
            "overrides": overrides or [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "justifyMode": "center",
            "orientation": "auto",
        },
    }


def series(
    panel_id: int, title: str, targets: list[dict[str, Any]], unit: str, x: int, y: int, w: int = 8
) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": w, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, "custom": {"lineWidth": 2}}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
    }


def row(panel_id: int, title: str, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        "panels": [],
    }


def variable(name: str, query: str, label: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


#: The breach forecast (SPEC §9) is shown on the badge tile in minutes while under this many.
FORECAST_MINUTES = 180


def dashboard() -> dict[str, Any]:
    badge_mappings = [
        {
            "type": "value",
            "options": {
                "1": {"text": "OK", "color": "green", "index": 0},
                "0": {"text": "LOST", "color": "red", "index": 1},
            },
        }
    ]
    panels = [
        row(100, "Badge wall (7 days)", 0),
        stat(1, "Response rate, 7 days", f'socialsla_response_rate{{window="7d", {SELECT}}}', "percentunit",
             thresholds((None, "red"), (0.9, "green")), 0, 1,
             description="responded / (responded + missed); the badge needs at least 90%."),
        stat(2, "Average first reply, 7 days", f'socialsla_first_reply_seconds{{window="7d", stat="avg", {SELECT}}}', "s",
             thresholds((None, "green"), (900.001, "red")), 5, 1,
             description="Mean first-reply time; the badge needs 15 minutes or less."),
        stat(3, "Badge", f"socialsla_rule_ok{{{SELECT}}}", "none",
             thresholds((None, "red"), (1, "green")), 10, 1, mappings=badge_mappings,
             description="Every rule's verdict: OK, or LOST. No tile means too few decided conversations. "
             f"Under {FORECAST_MINUTES // 60} hours from losing it if nobody answers (the breach forecast), "
             "a tile says when: badge lost in 42m unless answered.",
             extra=[target(f"ceil(socialsla_rule_rate_breach_in_seconds{{{SELECT}}} / 60) < {FORECAST_MINUTES}",
                           "{{account}} / {{channel}}: badge lost in", "B")],
             overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"}, "properties": [
                 {"id": "unit", "value": "suffix:m unless answered"},
                 {"id": "decimals", "value": 0},
                 {"id": "mappings", "value": []},
                 {"id": "thresholds", "value": thresholds((None, "red"), (60, "orange"))},
             ]}]),
        stat(4, "Oldest waiting customer", f"max by (account, channel) (socialsla_oldest_unanswered_seconds{{{SELECT}}}) "
             f'or max by (account, channel) (0 * socialsla_conversations{{window="7d", state="inbound", {SELECT}}})', "s",
             thresholds((None, "green"), (900.001, "red")), 15, 1,
             description="How long the longest-waiting unanswered post has waited; red past 15 minutes."),
        stat(5, "Pending queue", f'socialsla_conversations{{window="7d", state="pending", {SELECT}}}', "none",
             thresholds((None, "green"), (20, "orange"), (50, "red")), 20, 1, w=4,
             description="Conversations opened and not yet answered (and not yet missed)."),
        row(101, "Trends", 9),
        series(6, "Response rate by window", [target(f"socialsla_response_rate{{{SELECT}}}", "{{account}} / {{channel}} {{window}}")],
               "percentunit", 0, 10),
        series(7, "First reply p50 / p90, 24 hours", [target(f'socialsla_first_reply_seconds{{window="24h", stat=~"p50|p90", {SELECT}}}',
               "{{account}} / {{channel}} {{stat}}")], "s", 8, 10),
        series(8, "Missed share of decided conversations, 1 hour", [target(f"socialsla:missed_ratio:rate1h{{{SELECT}}}",
               "{{account}} / {{channel}}")], "percentunit", 16, 10),
        row(102, "Pipeline health", 18),
        series(9, "Events per second by outcome", [target("socialsla:events:rate5m", "{{type}} {{outcome}}")], "ops", 0, 19, 6),
        series(10, "Consumer lag", [target("sum by (topic) (socialsla_consumer_lag)", "{{topic}}")], "short", 6, 19, 6),
        series(11, "Dead letters per second", [target("sum(rate(socialsla_deadletters_total[$__rate_interval]))", "dead letters")],
               "ops", 12, 19, 6),
        series(12, "Workers up", [target('up{job="socialsla"}', "{{instance}}")], "short", 18, 19, 6),
    ]  # fmt: skip
    return {
        "uid": "socialsla-wall",
        "title": "socialsla: social care wall",
        "description": "Response rate, first-reply time and badge status per account and channel.",
        "tags": ["socialsla"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "10s",
        "time": {"from": "now-24h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "templating": {
            "list": [
                variable("account", "label_values(socialsla_conversations, account)", "Account"),
                variable(
                    "channel",
                    'label_values(socialsla_conversations{account=~"$account"}, channel)',
                    "Channel",
                ),
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    """The dashboard JSON exactly as committed."""
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
