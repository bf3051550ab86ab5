"""`deploy/run stack` as a user runs it: the whole stack on loopback, then Ctrl-C leaves nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.harness import as_a_terminal_job, bindable, eventually, free_port

REPO = Path(__file__).resolve().parents[2]
#: A new broker, Faust's start and Prometheus's first scrape (15 s interval, as shipped).
STACK_READY_S = 180.0
#: Past the worker's first scrape: the alert's minute, an evaluation, Alertmanager's 30 s group wait.
PAGE_S = 300.0
STOP_S = 90.0


def get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            body = response.read()
    except OSError:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode()


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def stop_by_pid(stack_dir: Path) -> None:
    """Kill every part the stack recorded in its pid files (each ran in a session of its own)."""
    for pidfile in stack_dir.glob("*.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_stack_links_answer_pages_arrive_and_ctrl_c_stops_it_all(tmp_path: Path) -> None:
    """Prometheus scrapes the worker with the project's rules; every URL printed answers 200; a page
    fired in the stack arrives in the receiver's log and names its condition with a runbook link
    that opens; Ctrl-C exits 0 with every port free again."""
    ports = {
        name: free_port() for name in ("kafka", "controller", "web", "prometheus", "alertmanager", "receiver")
    }
    stack_dir = tmp_path / "stack"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALSLA_", "KAFKA_", "STACK_"))}
    env |= {"KAFKA_PORT": str(ports["kafka"]), "KAFKA_CONTROLLER_PORT": str(ports["controller"]),
            "KAFKA_HOME": str(tmp_path / "kafka"), "SOCIALSLA_WEB_PORT": str(ports["web"]),
            "STACK_PROMETHEUS_PORT": str(ports["prometheus"]), "STACK_ALERTMANAGER_PORT": str(ports["alertmanager"]),
            "STACK_RECEIVER_PORT": str(ports["receiver"]), "STACK_DIR": str(stack_dir)}  # fmt: skip
    output = tmp_path / "stack.out"
    process = subprocess.Popen(
        ["bash", str(REPO / "deploy" / "run"), "stack", "--rate", "5"],
        cwd=REPO,
        env=env,
        stdout=open(output, "wb"),  # noqa: SIM115 - the child holds it
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=as_a_terminal_job,
    )

    def cleanup() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stop_by_pid(stack_dir)
        subprocess.run(["bash", str(REPO / "deploy" / "kafka" / "kafka.sh"), "stop"], env=env, check=False,
                       capture_output=True)  # fmt: skip

    try:
        prometheus = f"http://127.0.0.1:{ports['prometheus']}"
        up = eventually(
            lambda: get(f"{prometheus}/api/v1/targets"),
            lambda data: (
                isinstance(data, dict) and any(t["health"] == "up" for t in data["data"]["activeTargets"])
            ),
            STACK_READY_S,
            "Prometheus to scrape the stack's worker",
        )
        assert up["data"]["activeTargets"][0]["scrapeUrl"] == f"http://127.0.0.1:{ports['web']}/metrics"
        rules = get(f"{prometheus}/api/v1/rules")["data"]["groups"]
        names = {rule["name"] for group in rules for rule in group["rules"]}
        assert {"SocialSlaCustomerWaiting", "SocialSlaBadgeLost"} <= names
        alertmanagers = get(f"{prometheus}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
        assert [a["url"] for a in alertmanagers] == [
            f"http://127.0.0.1:{ports['alertmanager']}/api/v2/alerts"
        ]
        text = eventually(output.read_text, lambda t: "pages " in t, STACK_READY_S, "the stack's links")
        urls = re.findall(r"https?://[^\s)]+", text)
        assert len(urls) >= 5, text
        for url in urls:
            assert status(url) == 200, (url, text)
        assert "demo.toml (R = 1h)" in text  # the demo's rules and calendars, not the bare badge

        pages = stack_dir / "pages.log"
        page = eventually(
            lambda: next((line for line in pages.read_text().splitlines() if "SocialSlaCustomerWaiting" in line), ""),
            bool, PAGE_S, "a SocialSlaCustomerWaiting page in the receiver's log",
        )  # fmt: skip
        assert " FIRING critical SocialSlaCustomerWaiting " in page
        assert "has waited" in page  # the condition, with its value
        runbook = page.rsplit("runbook: ", 1)[1]
        assert runbook == f"http://127.0.0.1:{ports['web']}/runbooks#socialslacustomerwaiting"
        assert status(runbook) == 200

        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=STOP_S) == 0, output.read_text()[-3000:]
        assert all(bindable(port) for port in ports.values()), ports
    finally:
        cleanup()


@pytest.mark.parametrize("held", ["prometheus", "web"])
def test_stack_names_a_port_in_use(held: str, tmp_path: Path) -> None:
    """With Prometheus's or the worker's port taken (a system service, an earlier demo), the stack says which."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        variable = {"prometheus": "STACK_PROMETHEUS_PORT", "web": "SOCIALSLA_WEB_PORT"}[held]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALSLA_", "KAFKA_", "STACK_"))}
        env |= {"STACK_PROMETHEUS_PORT": str(free_port()), "STACK_ALERTMANAGER_PORT": str(free_port()),
                "SOCIALSLA_WEB_PORT": str(free_port()), variable: str(port), "KAFKA_HOME": str(tmp_path / "kafka"),
                "STACK_DIR": str(tmp_path / "stack")}  # fmt: skip
        done = subprocess.run(["bash", str(REPO / "deploy" / "run"), "stack"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1
    assert f"port {port} is in use" in done.stderr
    assert not (tmp_path / "kafka" / "kafka.pid").exists()
