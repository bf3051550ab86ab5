"""The Grafana dashboard and provisioning: generated JSON is current, and references resolve."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
BOARD = json.loads((GRAFANA / "dashboards" / "socialsla-wall.json").read_text())


def test_committed_dashboard_is_what_build_py_writes() -> None:
    """Regenerating the dashboard gives the committed file byte for byte."""
    spec = importlib.util.spec_from_file_location("grafana_build", GRAFANA / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (GRAFANA / "dashboards" / "socialsla-wall.json").read_text()


def test_every_datasource_is_the_provisioned_one() -> None:
    """Panels, targets and variables all use the uid the provisioning declares."""
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uids = {source["uid"] for source in provisioned["datasources"]}
    used = [panel.get("datasource") for panel in BOARD["panels"] if panel["type"] != "row"]
    used += [target["datasource"] for panel in BOARD["panels"] for target in panel.get("targets", [])]
    used += [variable["datasource"] for variable in BOARD["templating"]["list"]]
    assert {ref["uid"] for ref in used} == uids


def test_variables_are_used_and_defined() -> None:
    """Every $variable in a query is defined, and every defined variable is used."""
    defined = {variable["name"] for variable in BOARD["templating"]["list"]}
    queries = " ".join(t["expr"] for panel in BOARD["panels"] for t in panel.get("targets", []))
    assert defined == {"account", "channel"}
    assert all(f"${name}" in queries for name in defined)


def test_wall_has_the_tiles_a_care_team_needs() -> None:
    """Stable uid, badge tiles with thresholds, and a pipeline-health row."""
    assert BOARD["uid"] == "socialsla-wall"
    titles = {panel["title"] for panel in BOARD["panels"]}
    for title in ("Response rate, 7 days", "Average first reply, 7 days", "Badge", "Oldest waiting customer",
                  "Pending queue", "Pipeline health"):  # fmt: skip
        assert title in titles
    rate = next(p for p in BOARD["panels"] if p["title"] == "Response rate, 7 days")
    steps = rate["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "red", "value": None}, {"color": "green", "value": 0.9}]


def test_dashboard_provider_points_at_the_dashboards() -> None:
    """The file provider's path is where docker-compose mounts grafana/dashboards."""
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "socialsla.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_pipeline_health_shows_the_webhook_gateway() -> None:
    """The gateway's deliveries by path and status, and its items by outcome, below the pipeline-health row."""
    panels = {panel["title"]: panel for panel in BOARD["panels"]}
    row_y = panels["Pipeline health"]["gridPos"]["y"]
    for title, expr in (
        ("Webhook deliveries",
         "sum by (platform, code) (rate(socialsla_ingest_deliveries_total[$__rate_interval]))"),
        ("Webhook items by outcome",
         "sum by (platform, outcome) (rate(socialsla_ingest_items_total[$__rate_interval]))"),
    ):  # fmt: skip
        panel = panels[title]
        assert [target["expr"] for target in panel["targets"]] == [expr]
        assert panel["gridPos"]["y"] > row_y
    ids = [panel["id"] for panel in BOARD["panels"]]
    assert len(ids) == len(set(ids))
    # no two panels overlap on the grid
    cells = [(x, y) for p in BOARD["panels"] for g in [p["gridPos"]]
             for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])]  # fmt: skip
    assert len(cells) == len(set(cells))
