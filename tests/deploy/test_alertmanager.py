"""Alertmanager routing: amtool accepts the config, and alerts reach the right team and severity."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("amtool")
    if found is None:
        pytest.fail("amtool is not installed: deploy/run installs Debian's prometheus-alertmanager")
    return subprocess.run([found, *args], capture_output=True, text=True, check=False)


def test_check_config() -> None:
    """amtool check-config passes."""
    done = amtool("check-config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        pytest.param(
            ["account=acme", "severity=critical", "component=sla"], "care-emea-page", id="emea-page"
        ),
        pytest.param(
            ["account=globex", "severity=warning", "component=sla"], "care-emea-chat", id="emea-warning"
        ),
        pytest.param(
            ["account=initech", "severity=critical", "component=sla"],
            "care-americas-page",
            id="americas-page",
        ),
        pytest.param(
            ["account=zeta", "severity=critical", "component=sla"], "care-oncall-page", id="unmapped-account"
        ),
        pytest.param(
            ["account=zeta", "severity=warning", "component=sla"], "care-oncall-chat", id="unmapped-warning"
        ),
        pytest.param(
            ["alertname=SocialSlaWorkerDown", "severity=critical", "component=pipeline"],
            "care-oncall-page",
            id="pipeline-page",
        ),
        pytest.param(
            ["alertname=SocialSlaConsumerLagGrowing", "severity=warning", "component=pipeline"],
            "care-oncall-chat",
            id="pipeline-warning",
        ),
        pytest.param(
            [
                "alertname=SocialSlaWebhooksUnacknowledged",
                "severity=critical",
                "component=pipeline",
                "platform=meta",
            ],
            "care-oncall-page",
            id="gateway-page",
        ),
        pytest.param(
            ["alertname=SocialSlaWebhooksRefused", "severity=warning", "component=pipeline", "platform=x"],
            "care-oncall-chat",
            id="gateway-warning",
        ),
    ],
)
def test_routing(labels: list[str], receiver: str) -> None:
    """Each alert goes to its team's receiver for its severity; the pipeline goes to the operators."""
    done = amtool("config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receiver
