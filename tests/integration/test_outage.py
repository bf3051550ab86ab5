"""Broker outage and SASL, each on a broker of its own (the shared one keeps serving other tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import (
    CATCH_UP_S,
    WORKER_READY_S,
    Stack,
    eventually,
    free_port,
    producing,
    settles,
    write_load,
)
from tests.integration.expected import from_report, sla_gauges
from tests.integration.test_pipeline import AT, SCENARIO, offline

KAFKA = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka.sh"
OUTAGE_S = 30.0
LOAD_S = 180.0


class Broker:
    """A broker of this test's own, started and stopped with the project's kafka.sh."""

    def __init__(self, home: Path, config: str = "server.properties") -> None:
        self.env = {**os.environ, "KAFKA_PORT": str(free_port()), "KAFKA_CONTROLLER_PORT": str(free_port()),
                    "KAFKA_HOME": str(home), "KAFKA_CONFIG": config}  # fmt: skip
        self.address = f"127.0.0.1:{self.env['KAFKA_PORT']}"

    def run(self, action: str) -> None:
        done = subprocess.run(
            ["bash", str(KAFKA), action], env=self.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "kafka")
    broker.run("start")
    yield broker
    broker.run("stop")


@pytest.fixture
def sasl_broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "kafka-sasl", "server-sasl.properties")
    broker.run("start")
    yield broker
    broker.run("stop")


def test_broker_outage_is_survived_and_flagged(own_broker: Broker, tmp_path: Path) -> None:
    """With the broker down 30 s under load, /metrics answers and says stale; after it returns nothing is lost."""
    stack = Stack.create(tmp_path)
    stack.env["SOCIALSLA_BOOTSTRAP_SERVERS"] = own_broker.address
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_load(first, seed=31, hours=1, rate=1.0)
    write_load(second, seed=32, hours=1, rate=1.0)
    worker = stack.worker()
    try:
        eventually(
            worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions"
        )
        stack.produce(first)
        before = from_report(offline(AT, first.read_bytes().splitlines()))
        settles(lambda: sla_gauges(worker.metrics()), before, CATCH_UP_S, "first load = report")

        load = producing(stack, second, rate=500)
        own_broker.run("stop")
        down_since = time.monotonic()
        stale = eventually(worker.health, lambda h: h.get("stale") is True, OUTAGE_S, "/healthz to say stale")
        assert stale["status"] == "stale"
        scrape = worker.metrics()
        assert scrape[("socialsla_data_stale", ())] == 1.0
        assert scrape[("socialsla_broker_reachable", ())] == 0.0
        assert sla_gauges(scrape) == before  # the last numbers stay up, flagged stale
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_since)))
        own_broker.run("start")

        if (
            load.wait(LOAD_S) != 0
        ):  # the producer gave up during the outage: send again (duplicates are ignored)
            assert producing(stack, second, rate=0).wait(LOAD_S) == 0
        after = from_report(offline(AT, first.read_bytes().splitlines() + second.read_bytes().splitlines()))
        settles(lambda: sla_gauges(worker.metrics()), after, LOAD_S, "both loads = report")
        eventually(
            worker.health, lambda h: h.get("stale") is False, CATCH_UP_S, "/healthz to say fresh again"
        )
        sent = len(first.read_bytes().splitlines()) + len(second.read_bytes().splitlines())
        print(f"outage: sent {sent} ({OUTAGE_S:.0f} s broker outage under load); gauges = report afterwards")
    finally:
        worker.stop()


def test_sasl_plain_broker(sasl_broker: Broker, tmp_path: Path) -> None:
    """With SASL settings the worker and the producer work against a SASL/PLAIN broker, and the password is never printed."""
    stack = Stack.create(tmp_path)
    stack.env.update(
        SOCIALSLA_BOOTSTRAP_SERVERS=sasl_broker.address,
        SOCIALSLA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        SOCIALSLA_SASL_MECHANISM="PLAIN",
        SOCIALSLA_SASL_USERNAME="socialsla",
        SOCIALSLA_SASL_PASSWORD="socialsla-secret",
    )
    worker = stack.worker()
    try:
        eventually(
            worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the SASL worker to own 4 partitions"
        )
        stack.produce(SCENARIO)
        expected = from_report(offline(AT))
        settles(
            lambda: sla_gauges(worker.metrics()),
            expected,
            CATCH_UP_S,
            "SASL gauges = report",
        )
    finally:
        worker.stop()
    assert "socialsla-secret" not in worker.log.read_text(errors="replace")


def test_wrong_sasl_password_is_refused_clearly(sasl_broker: Broker, tmp_path: Path) -> None:
    """A wrong password stops the worker at start with exit 1 and a message, without printing the password."""
    env = {**os.environ, "SOCIALSLA_BOOTSTRAP_SERVERS": sasl_broker.address, "SOCIALSLA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
           "SOCIALSLA_SASL_MECHANISM": "PLAIN", "SOCIALSLA_SASL_USERNAME": "socialsla",
           "SOCIALSLA_SASL_PASSWORD": "not-the-password", "SOCIALSLA_DATA_DIR": str(tmp_path / "d")}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "socialsla.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    # The broker's own reason, at once: a refused login is not "no broker", and no retry changes it.
    assert "refused the login: [Error 58] SaslAuthenticationFailed: Authentication failed" in done.stderr
    assert "SOCIALSLA_SASL_PASSWORD" in done.stderr
    assert "no Kafka broker answers" not in done.stderr
    assert "not-the-password" not in done.stdout + done.stderr
