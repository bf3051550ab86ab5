"""The Prometheus rule file: promtool's own tests, the burn windows' data and the runbooks."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "deploy" / "prometheus"
RULES = yaml.safe_load((PROM / "rules" / "socialsla.rules.yml").read_text())
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"] if "alert" in rule]


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: deploy/run installs Debian's prometheus package")
    return found


def test_promtool_unit_tests_pass() -> None:
    """promtool test rules passes every positive and negative alert case."""
    done = subprocess.run([tool("promtool"), "test", "rules", str(PROM / "tests" / "socialsla.test.yml")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("config", ["prometheus.yml"])
def test_prometheus_config_checks(config: str) -> None:
    """promtool check config accepts the shipped Prometheus configuration and its rules."""
    done = subprocess.run(
        [tool("promtool"), "check", "config", str(PROM / config)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_both_ways() -> None:
    """Each alert appears in the promtool tests with an expected firing and an expected silence."""
    tests = yaml.safe_load((PROM / "tests" / "socialsla.test.yml").read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
        # a quiet series beside a firing one in the same case also counts as a negative case
        if len(case["input_series"]) > 1:
            quiet.update(check["alertname"] for check in case.get("alert_rule_test", []))
    names = {alert["alert"] for alert in ALERTS}
    assert names <= firing, f"never shown firing: {names - firing}"
    assert names <= quiet, f"never shown quiet: {names - quiet}"


@pytest.mark.parametrize("alert", ALERTS, ids=[a["alert"] for a in ALERTS])
def test_alert_has_what_on_call_needs(alert: dict[str, object]) -> None:
    """Every alert has severity, component, summary, a description with its value and a runbook anchor that exists."""
    labels, notes = alert["labels"], alert["annotations"]
    assert isinstance(labels, dict)
    assert isinstance(notes, dict)
    assert labels["severity"] in {"critical", "warning"}
    assert labels["component"] in {"sla", "pipeline"}
    assert notes["summary"]
    assert "$value" in notes["description"] or "$labels" in notes["description"]
    runbook = str(notes["runbook_url"])
    assert runbook.startswith(
        "http://127.0.0.1:6066/runbooks#"
    )  # a link a phone opens (the worker serves it)
    headings = re.findall(
        r"^## (\S+)", (REPO / "src" / "socialsla" / "serve" / "runbooks.md").read_text(), re.M
    )
    assert runbook.split("#")[1] in {h.lower() for h in headings}


def test_burn_alerts_match_the_burn_windows_data() -> None:
    """The burn-rate alerts use the windows, factors and severities of burn-windows.yml."""
    data = yaml.safe_load((PROM / "burn-windows.yml").read_text())
    budget = round(1 - data["objective"], 10)
    by_name = {a["alert"]: a for a in ALERTS}
    for window in data["windows"]:
        alert = by_name[f"SocialSlaResponseRateBurn{window['name'].title()}"]
        expr = " ".join(alert["expr"].split())
        threshold = f"({window['factor']} * {budget:.2f})"
        assert f"socialsla:missed_ratio:rate{window['long']} > {threshold}" in expr
        assert f"socialsla:missed_ratio:rate{window['short']} > {threshold}" in expr
        assert alert["labels"]["severity"] == window["severity"]
        hours = {"1h": 1, "6h": 6, "1d": 24, "3d": 72}[window["long"]]
        assert window["factor"] == pytest.approx(
            window["budget_share"] * data["period_hours"] / hours, abs=0.01
        )
