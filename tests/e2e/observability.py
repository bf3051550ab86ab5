"""Real Prometheus and Alertmanager processes around a worker, and a webhook receiver.

Prometheus evaluates the project's own rule file and Alertmanager routes with the
project's own routing tree; only addresses and timers are changed for a test
(1 s scrapes and evaluations, 1 s grouping), so what pages here is what pages in
production.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.harness import ends_with_this_test_run, free_port

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules" / "socialsla.rules.yml"
ROUTING = REPO / "deploy" / "alertmanager" / "alertmanager.yml"


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(f"none of {names} installed: deploy/run installs Debian's prometheus packages")


@dataclass
class Webhook:
    """Collects Alertmanager webhook posts: (path, payload) in arrival order."""

    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    port: int = 0
    server: ThreadingHTTPServer | None = None

    def start(self) -> Webhook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hook.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def alerts(self, alertname: str, status: str) -> list[tuple[str, dict[str, Any]]]:
        """(receiver path, alert) pairs of that name and status received so far."""
        return [
            (path, alert)
            for path, payload in list(self.received)
            for alert in payload["alerts"]
            if alert["labels"].get("alertname") == alertname and alert["status"] == status
        ]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


@dataclass
class Observability:
    """Prometheus scraping one worker and one webhook gateway, and alerting to Alertmanager, which posts
    to a webhook."""

    tmp: Path
    worker_port: int
    webhook: Webhook
    gateway_port: int = 0
    prometheus_port: int = 0
    alertmanager_port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> Observability:
        self.alertmanager_port = free_port()
        self.prometheus_port = free_port()
        routing = ROUTING.read_text().replace("127.0.0.1:9095", f"127.0.0.1:{self.webhook.port}")
        config = yaml.safe_load(routing)
        config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
        (self.tmp / "alertmanager.yml").write_text(yaml.safe_dump(config))
        (self.tmp / "prometheus.yml").write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "alerting": {
                        "alertmanagers": [
                            {"static_configs": [{"targets": [f"127.0.0.1:{self.alertmanager_port}"]}]}
                        ]
                    },
                    "scrape_configs": [
                        {
                            "job_name": "socialsla",
                            "static_configs": [{"targets": [f"127.0.0.1:{self.worker_port}"]}],
                        },
                        # the gateway's own job, as deploy/prometheus/prometheus.yml scrapes it
                        {
                            "job_name": "socialsla-ingest",
                            "static_configs": [{"targets": [f"127.0.0.1:{self.gateway_port}"]}],
                        },
                    ],
                }
            )
        )
        self._spawn(
            "alertmanager",
            [
                binary("prometheus-alertmanager", "alertmanager"),
                f"--config.file={self.tmp / 'alertmanager.yml'}",
                f"--storage.path={self.tmp / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
                "--cluster.listen-address=",
            ],
        )
        self._spawn(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={self.tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.tmp / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
            ],
        )
        return self

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.processes.append(
            subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=ends_with_this_test_run()
            )
        )

    def api(self, path: str, **params: str) -> Any:
        """GET a Prometheus API path; returns the `data` member, or None while unreachable."""
        url = f"http://127.0.0.1:{self.prometheus_port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
        except OSError:
            return None
        return body.get("data") if body.get("status") == "success" else body

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("/api/v1/query", query=expr)
        if not isinstance(data, dict) or "result" not in data:
            raise AssertionError(f"query {expr!r} failed: {data}")
        return list(data["result"])

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
