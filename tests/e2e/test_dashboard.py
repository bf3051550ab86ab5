"""Every panel of the wall dashboard returns data from the real Prometheus of the end-to-end stack."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

from tests.e2e.conftest import EndToEnd
from tests.harness import eventually

DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "dashboards" / "socialsla-wall.json"
DATA_S = 90.0


def grafana_to_promql(expr: str) -> str:
    """What Grafana sends for 'All' accounts and channels, with a 1-minute rate interval."""
    return expr.replace("$account", ".*").replace("$channel", ".*").replace("$__rate_interval", "1m")


@pytest.fixture(scope="module")
def wall(e2e: EndToEnd, tmp_path_factory: pytest.TempPathFactory) -> EndToEnd:
    """The stack with the data every panel needs, produced once for this module's tests, in any order."""
    lines = [
        {"type": "post", "event_id": f"d{i}-p", "conversation_id": f"d{i}", "account": "globex",
         "channel": "x", "created_at": f"2026-01-07T23:{10 + i}:00Z"}
        for i in range(5)
    ] + [
        {"type": "reply", "event_id": f"d{i}-r", "conversation_id": f"d{i}", "account": "globex",
         "channel": "x", "created_at": f"2026-01-07T23:{20 + i}:00Z"}
        for i in range(4)
    ] + [{"type": "post", "event_id": "junk", "conversation_id": "junk", "account": "globex",
          "channel": "X!", "created_at": "2026-01-07T23:00:00Z"}] + [
        # waiting 22.5 h: missed in 90 minutes, when 4 / 5 answered is under 90%: the forecast tile
        {"type": "post", "event_id": "w-p", "conversation_id": "w", "account": "globex",
         "channel": "x", "created_at": "2026-01-07T01:30:00Z"}
    ] + [
        # initech has business hours (tests/e2e/rules.toml), closed at the stack's clock: grey tiles
        {"type": "post", "event_id": "i1-p", "conversation_id": "i1", "account": "initech",
         "channel": "x", "created_at": "2026-01-07T16:00:00Z"},
        {"type": "reply", "event_id": "i1-r", "conversation_id": "i1", "account": "initech",
         "channel": "x", "created_at": "2026-01-07T16:10:00Z", "agent": "ana"},
        {"type": "post", "event_id": "i2-p", "conversation_id": "i2", "account": "initech",
         "channel": "x", "created_at": "2026-01-07T16:50:00Z"},
    ] + [
        # the scorecard row: globex resolves two threads, one reopened; customers answer
        {"type": "resolve", "event_id": "d0-d", "conversation_id": "d0", "account": "globex",
         "channel": "x", "created_at": "2026-01-07T23:30:00Z"},
        {"type": "resolve", "event_id": "d1-d", "conversation_id": "d1", "account": "globex",
         "channel": "x", "created_at": "2026-01-07T23:31:00Z"},
        {"type": "feedback", "event_id": "d0-s", "conversation_id": "d0", "account": "globex",
         "channel": "x", "created_at": "2026-01-07T23:40:00Z", "survey": "csat", "score": 5},
        {"type": "feedback", "event_id": "d1-s", "conversation_id": "d1", "account": "globex",
         "channel": "x", "created_at": "2026-01-07T23:41:00Z", "survey": "nps", "score": 9},
    ]  # fmt: skip
    path = tmp_path_factory.mktemp("wall") / "wall.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    e2e.stack.produce(path)
    return e2e


def test_every_panel_query_returns_data(wall: EndToEnd) -> None:
    """Each panel's query, as Grafana would send it, has at least one series."""
    board = json.loads(DASHBOARD.read_text())
    queries = [
        (panel["title"], grafana_to_promql(target["expr"]))
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]
    assert len(queries) >= 21
    for title, expr in queries:
        eventually(
            lambda expr=expr: wall.observability.query(expr),
            bool,
            DATA_S,
            f"data for panel {title!r}: {expr}",
        )


def test_variables_resolve(wall: EndToEnd) -> None:
    """The account and channel variables' label_values queries find the exported values."""
    board = json.loads(DASHBOARD.read_text())
    for variable in board["templating"]["list"]:
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert match is not None, variable["query"]
        selector, label = grafana_to_promql(match.group(1)), match.group(2)
        query = f"count by ({label}) ({selector})"
        found = eventually(
            lambda query=query: wall.observability.query(query),
            bool,
            DATA_S,
            f"values of ${variable['name']}",
        )
        assert all(series["metric"].get(label) for series in found)
