"""Kubernetes manifests: they parse, stay in sync with the rule file, and configure a valid worker."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

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
    env = {item["name"]: item.get("value") or "from-secret" for item in container["env"]}
    from_env(env)


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
