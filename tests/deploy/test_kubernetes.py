"""Kubernetes manifests: they parse, stay in sync with the rule file, and configure a valid worker and gateway."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

from socialsla.ingest.names import parse_names
from socialsla.stream.settings import from_env

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
DOCS = list(yaml.safe_load_all((K8S / "worker.yaml").read_text()))
KINDS = {doc["kind"]: doc for doc in DOCS}


def test_prometheusrule_is_generated_from_the_rule_file() -> None:
    """The PrometheusRule carries exactly the groups of the promtool-tested rule file."""
    rule = yaml.safe_load((K8S / "prometheusrule.yaml").read_text())
    text = (REPO / "deploy" / "prometheus" / "rules" / "socialsla.rules.yml").read_text()
    assert "http://127.0.0.1:6066/runbooks#" in text
    # the one difference: runbooks on the worker Service, not on the loopback worker
    text = text.replace("http://127.0.0.1:6066/runbooks", "http://socialsla-worker:6066/runbooks")
    groups = yaml.safe_load(text)["groups"]
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == groups
    spec = importlib.util.spec_from_file_location("k8s_build", K8S / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (K8S / "prometheusrule.yaml").read_text()


def test_workers_are_a_statefulset_with_a_volume() -> None:
    """Workers run as a StatefulSet whose RocksDB directory is a persistent volume."""
    workers = KINDS["StatefulSet"]
    container = workers["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    mount = container["volumeMounts"][0]
    assert mount["mountPath"] == env["SOCIALSLA_DATA_DIR"]
    assert workers["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == mount["name"]


def test_worker_settings_are_valid() -> None:
    """The worker's SOCIALSLA_* variables pass its own validation (secrets stand in)."""
    container = KINDS["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") or "from-a-secret-0123456789abcdef" for item in container["env"]}
    from_env(env)


def test_the_page_token_comes_from_an_optional_secret_noted_beside_the_service() -> None:
    """Never written in the manifest; without the Secret the page is open, as the note says."""
    container = KINDS["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    token = _env(container)["SOCIALSLA_PAGE_TOKEN"]
    assert "value" not in token
    assert token["valueFrom"]["secretKeyRef"] == {"name": "socialsla-page", "key": "token", "optional": True}
    text = (K8S / "worker.yaml").read_text()
    service = text.index("kind: Service\nmetadata:\n  name: socialsla-worker\n")
    assert service - 1200 < text.index("kubectl create secret generic socialsla-page") < service


def test_service_monitor_scrapes_the_metrics_port_as_job_socialsla() -> None:
    """The ServiceMonitor selects the worker Service and labels the job the alerts expect."""
    monitor, service = (
        KINDS["ServiceMonitor"],
        next(d for d in DOCS if d["kind"] == "Service" and d["spec"].get("clusterIP") != "None"),
    )
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert {"targetLabel": "job", "replacement": "socialsla"} in endpoint["relabelings"]


# --- the webhook gateway (socialsla ingest) ------------------------------------------------------
GATEWAY_DOCS = list(yaml.safe_load_all((K8S / "ingest.yaml").read_text()))
GATEWAY = {doc["kind"]: doc for doc in GATEWAY_DOCS}
GATEWAY_POD = GATEWAY["Deployment"]["spec"]["template"]
GATEWAY_CONTAINER = GATEWAY_POD["spec"]["containers"][0]
WORKER_CONTAINER = KINDS["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container["env"]}


def _stand_in(container: dict[str, Any], **replace: str) -> dict[str, str]:
    """The container's SOCIALSLA_* variables, a stand-in for each taken from a Secret."""
    env = {name: item.get("value") or f"from-secret-{name.lower()}" for name, item in _env(container).items()}
    return {**env, **replace}


def test_the_gateway_is_a_deployment_of_the_workers_image() -> None:
    """Two stateless replicas of the workers' image run `socialsla ingest`, kept serving through a rollout."""
    deployment = GATEWAY["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert deployment["spec"]["selector"]["matchLabels"].items() <= GATEWAY_POD["metadata"]["labels"].items()
    assert GATEWAY_CONTAINER["image"] == WORKER_CONTAINER["image"]
    assert GATEWAY_CONTAINER["args"][:2] == ["socialsla", "ingest"]
    assert "volumeClaimTemplates" not in deployment["spec"]
    budget = GATEWAY["PodDisruptionBudget"]
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]


def test_gateway_settings_are_valid(tmp_path: Path) -> None:
    """The gateway's SOCIALSLA_* variables pass validation with every platform on, and serve its port
    on every address, with the account names of its ConfigMap (which parse)."""
    accounts = Path(_env(GATEWAY_CONTAINER)["SOCIALSLA_INGEST_ACCOUNTS"]["value"])
    mount = next(m for m in GATEWAY_CONTAINER["volumeMounts"] if accounts.is_relative_to(m["mountPath"]))
    volume = next(v for v in GATEWAY_POD["spec"]["volumes"] if v["name"] == mount["name"])
    config = GATEWAY["ConfigMap"]
    assert volume["configMap"]["name"] == config["metadata"]["name"]
    text = config["data"][str(accounts.relative_to(mount["mountPath"]))]
    parse_names(text, "accounts.toml")
    (tmp_path / "accounts.toml").write_text(text)
    settings = from_env(
        _stand_in(GATEWAY_CONTAINER, SOCIALSLA_INGEST_ACCOUNTS=str(tmp_path / "accounts.toml"))
    )
    assert settings.ingest_host == "0.0.0.0"
    assert [port["containerPort"] for port in GATEWAY_CONTAINER["ports"]] == [settings.ingest_port]


def test_gateway_secrets_come_from_a_secret_and_each_platform_is_optional() -> None:
    """No secret is written in the manifest; a platform's key left out of the Secret leaves it off."""
    for name, item in _env(GATEWAY_CONTAINER).items():
        if any(word in name for word in ("SECRET", "TOKEN", "PASSWORD")):
            assert "value" not in item, name
            assert item["valueFrom"]["secretKeyRef"]["name"], name
    platforms = (
        "META_APP_SECRET",
        "META_VERIFY_TOKEN",
        "X_CONSUMER_SECRET",
        "CHATWOOT_SECRET",
        "INGEST_TOKEN",
    )
    for name in platforms:
        ref = _env(GATEWAY_CONTAINER)[f"SOCIALSLA_{name}"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "socialsla-ingest"
        assert ref["optional"] is True


def test_gateway_shares_the_workers_kafka_and_topics() -> None:
    """Whichever starts first creates the topics: the gateway must name and shape them as the workers do,
    on the same brokers with the same credentials."""
    worker = from_env(_stand_in(WORKER_CONTAINER))
    gateway = from_env(_stand_in(GATEWAY_CONTAINER, SOCIALSLA_INGEST_ACCOUNTS=""))
    shared = ("bootstrap_servers", "app_id", "topic_posts", "topic_replies", "topic_outcomes", "topic_deadletter",
              "partitions", "replication", "horizon_us", "security_protocol", "sasl_mechanism", "ssl_cafile")  # fmt: skip
    assert {name: getattr(gateway, name) for name in shared} == {
        name: getattr(worker, name) for name in shared
    }
    for name in ("SOCIALSLA_SASL_USERNAME", "SOCIALSLA_SASL_PASSWORD"):
        assert _env(GATEWAY_CONTAINER)[name] == _env(WORKER_CONTAINER)[name]


def test_gateway_probes_and_stopping() -> None:
    """Ready on /healthz (a broker answers), alive while it serves HTTP, and given longer than its
    preStop pause plus SOCIALSLA_SHUTDOWN_TIMEOUT to stop."""
    port = GATEWAY_CONTAINER["ports"][0]["name"]
    assert GATEWAY_CONTAINER["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    # a restart does not bring Kafka back: liveness does not ask about the broker
    assert GATEWAY_CONTAINER["livenessProbe"]["httpGet"]["path"] != "/healthz"
    assert GATEWAY_CONTAINER["livenessProbe"]["httpGet"]["port"] == port
    settings = from_env(_stand_in(GATEWAY_CONTAINER, SOCIALSLA_INGEST_ACCOUNTS=""))
    pause = int(GATEWAY_CONTAINER["lifecycle"]["preStop"]["exec"]["command"][1])
    assert GATEWAY_POD["spec"]["terminationGracePeriodSeconds"] > pause + settings.shutdown_timeout


def test_gateway_runs_unprivileged_with_bounded_resources() -> None:
    """A numeric non-root user (checkable by the kubelet), no privilege, a read-only root, a memory limit."""
    pod = GATEWAY_POD["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert isinstance(pod["runAsUser"], int)
    assert pod["runAsUser"] > 0
    container = GATEWAY_CONTAINER["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"]["drop"] == ["ALL"]
    assert GATEWAY_CONTAINER["resources"]["requests"]["cpu"]
    assert GATEWAY_CONTAINER["resources"]["limits"]["memory"]


def test_gateway_service_and_its_monitor() -> None:
    """The Service serves port 6070 as http to the gateway pods only; the ServiceMonitor scrapes it as its
    own job, and the workers' Services and ServiceMonitor never select a gateway."""
    service, monitor = GATEWAY["Service"], GATEWAY["ServiceMonitor"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 6070, "targetPort": "http"}]
    assert service["spec"]["selector"].items() <= GATEWAY_POD["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "http"
    assert endpoint["path"] == "/metrics"
    assert {"targetLabel": "job", "replacement": "socialsla-ingest"} in endpoint["relabelings"]
    for doc in DOCS:
        selector = doc["spec"].get("selector", {})
        selector = selector.get("matchLabels", selector)
        assert not selector.items() <= GATEWAY_POD["metadata"]["labels"].items(), doc["metadata"]["name"]
    worker_monitor = KINDS["ServiceMonitor"]["spec"]["selector"]["matchLabels"]
    assert not worker_monitor.items() <= service["metadata"]["labels"].items()
