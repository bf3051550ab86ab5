"""docker-compose.yml, checked without a Docker engine: structure, health checks, paths, settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from socialsla.stream.settings import Settings, from_env

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
#: Compose's `${NAME:-default}`: the value used while NAME is unset in the shell and in .env.
_INTERPOLATED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def environment(name: str) -> dict[str, str]:
    """A service's environment as compose gives it with nothing set in the shell or .env."""
    return {k: _INTERPOLATED.sub(r"\2", str(v)) for k, v in SERVICES[name]["environment"].items()}


def test_the_whole_wall_is_there() -> None:
    """Kafka, worker, webhook gateway, generator, Prometheus, Alertmanager and Grafana are all services."""
    assert set(SERVICES) == {
        "kafka",
        "worker",
        "ingest",
        "generator",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:4.")


@pytest.mark.parametrize("name", ["kafka", "worker", "ingest", "prometheus", "alertmanager", "grafana"])
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


@pytest.mark.parametrize("name", ["worker", "ingest", "generator"])
def test_socialsla_settings_are_valid(name: str) -> None:
    """The SOCIALSLA_* variables given to our containers pass the worker's own validation."""
    from_env(environment(name))


def test_prometheus_in_compose_loads_the_project_rules() -> None:
    """Compose's Prometheus config scrapes the worker and reads the mounted rule file."""
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus-compose.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/socialsla.rules.yml"]
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["worker:6066"]
    assert config["scrape_configs"][0]["job_name"] == "socialsla"


def test_the_gateway_runs_the_workers_image_on_its_port() -> None:
    """`socialsla ingest` from the worker's image, on every address of its container, published on
    loopback at its port, and its health check asks that port's /healthz."""
    gateway = SERVICES["ingest"]
    assert gateway["image"] == SERVICES["worker"]["image"]
    assert gateway["command"][:2] == ["socialsla", "ingest"]
    settings = from_env(environment("ingest"))
    assert settings.ingest_host == "0.0.0.0"
    assert gateway["ports"] == [f"127.0.0.1:{settings.ingest_port}:{settings.ingest_port}"]
    assert f"127.0.0.1:{settings.ingest_port}/healthz" in " ".join(gateway["healthcheck"]["test"])
    assert gateway["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert int(gateway["stop_grace_period"].removesuffix("s")) > settings.shutdown_timeout


def test_the_gateways_secrets_are_marked_placeholders() -> None:
    """Every secret is read from the shell or .env first, and its stand-in says to change it."""
    secrets = [name for name in SERVICES["ingest"]["environment"] if re.search("SECRET|TOKEN|PASSWORD", name)]
    assert len(secrets) == 5
    for name in secrets:
        found = _INTERPOLATED.fullmatch(SERVICES["ingest"]["environment"][name])
        assert found is not None, name
        assert found.group(1) == name
        assert found.group(2).startswith("change-me"), name
    served = from_env(environment("ingest"))
    for setting in (
        "meta_app_secret",
        "meta_verify_token",
        "x_consumer_secret",
        "chatwoot_secret",
        "ingest_token",
    ):
        assert getattr(served, setting), setting


def test_prometheus_in_compose_scrapes_the_gateway_as_its_own_job() -> None:
    """The gateway is scraped at its compose address under its own job, never as a worker."""
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus-compose.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    port = Settings().ingest_port
    assert jobs["socialsla-ingest"]["static_configs"][0]["targets"] == [f"ingest:{port}"]
    assert f"ingest:{port}" not in jobs["socialsla"]["static_configs"][0]["targets"]
