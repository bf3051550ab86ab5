"""Default ports: the broker's, the worker's, the gateway's and the stack's clash with nothing we ship beside them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from socialsla.stream.settings import Settings

REPO = Path(__file__).resolve().parents[2]
#: Prometheus, Alertmanager (web and cluster), node exporter, Grafana: the stack around the workers.
OBSERVABILITY = {9090, 9093, 9094, 9100, 3000}


def default(script: str, variable: str) -> int:
    found = re.search(rf"\${{{variable}:-(\d+)}}", (REPO / script).read_text())
    assert found is not None, f"{script} has no default for {variable}"
    return int(found.group(1))


def test_the_brokers_ports_clash_with_nothing_we_ship() -> None:
    """Kafka's client and controller ports, the worker's /metrics, the webhook gateway's port and the
    receivers' webhook are all distinct and clear of the observability stack's defaults."""
    webhook = {
        int(re.search(r":(\d+)/", receiver["webhook_configs"][0]["url"]).group(1))  # type: ignore[union-attr]
        for receiver in yaml.safe_load((REPO / "deploy" / "alertmanager" / "alertmanager.yml").read_text())[
            "receivers"
        ]
        if receiver.get("webhook_configs")
    }
    ours = {
        "kafka": default("deploy/kafka/kafka.sh", "KAFKA_PORT"),
        "controller": default("deploy/kafka/kafka.sh", "KAFKA_CONTROLLER_PORT"),
        "worker": Settings().web_port,
        "gateway": Settings().ingest_port,
        **{f"webhook {port}": port for port in webhook},
    }
    assert len(set(ours.values())) == len(ours), ours
    assert not set(ours.values()) & OBSERVABILITY, ours


def test_the_stack_uses_the_usual_observability_ports() -> None:
    """deploy/run stack puts Prometheus and Alertmanager where their users look for them."""
    assert default("deploy/run", "STACK_PROMETHEUS_PORT") == 9090
    assert default("deploy/run", "STACK_ALERTMANAGER_PORT") == 9093


@pytest.mark.parametrize("config", ["server.properties", "server-sasl.properties"])
def test_the_broker_never_creates_topics_by_itself(config: str) -> None:
    """Only socialsla creates topics (with the configured partitions): auto-creation is off."""
    text = (REPO / "deploy" / "kafka" / config).read_text()
    assert "auto.create.topics.enable=false" in text.splitlines()


def test_compose_kafka_does_not_auto_create_topics() -> None:
    """The compose broker has auto-creation off too, so compose's generator cannot make one-partition topics."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert compose["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
