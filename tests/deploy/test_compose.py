"""docker-compose.yml, checked without a Docker engine: structure, health checks, paths, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from socialsla.stream.settings import from_env

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_whole_wall_is_there() -> None:
    """Kafka, worker, generator, Prometheus, Alertmanager and Grafana are all services."""
    assert set(SERVICES) == {"kafka", "worker", "generator", "prometheus", "alertmanager", "grafana"}
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:4.")


@pytest.mark.parametrize("name", ["kafka", "worker", "prometheus", "alertmanager", "grafana"])
def test_long_running_services_have_health_checks(name: str) -> None:
    """Each server has a health check, so depends_on can wait for it."""
    assert SERVICES[name]["healthcheck"]["test"]


def test_bind_mounts_exist_and_volumes_are_named() -> None:
    """Every mounted project path exists; every other volume is a declared named volume."""
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name} uses undeclared volume {source}"
    build = SERVICES["worker"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]).is_file()


def test_dependencies_name_services() -> None:
    """depends_on only names services that exist, and waits for health where there is one."""
    for service in SERVICES.values():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in SERVICES
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency]


@pytest.mark.parametrize("name", ["worker", "generator"])
def test_socialsla_settings_are_valid(name: str) -> None:
    """The SOCIALSLA_* variables given to our containers pass the worker's own validation."""
    from_env({k: str(v) for k, v in SERVICES[name]["environment"].items()})


def test_prometheus_in_compose_loads_the_project_rules() -> None:
    """Compose's Prometheus config scrapes the worker and reads the mounted rule file."""
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus-compose.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/socialsla.rules.yml"]
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["worker:6066"]
    assert config["scrape_configs"][0]["job_name"] == "socialsla"
