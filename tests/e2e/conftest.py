"""The end-to-end stack, shared by every end-to-end test: broker, worker, Prometheus, Alertmanager."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.observability import Observability, Webhook
from tests.harness import WORKER_READY_S, Gateway, Stack, Worker, eventually


@dataclass
class EndToEnd:
    stack: Stack
    worker: Worker
    gateway: Gateway
    observability: Observability
    webhook: Webhook


@pytest.fixture(scope="session")
def e2e(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndToEnd]:
    tmp = tmp_path_factory.mktemp("e2e")
    stack = Stack.create(tmp)
    worker = stack.worker(SOCIALSLA_RULES_FILE=str(Path(__file__).parent / "rules.toml"))
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    gateway = stack.gateway()
    webhook = Webhook().start()
    observability = Observability(tmp, worker.port, webhook, gateway.port).start()
    eventually(
        lambda: observability.api("/api/v1/targets"),
        lambda data: (
            isinstance(data, dict) and any(t["health"] == "up" for t in data.get("activeTargets", []))
        ),
        60,
        "Prometheus to scrape the worker",
    )
    yield EndToEnd(stack, worker, gateway, observability, webhook)
    observability.stop()
    webhook.stop()
    for started in stack.workers:
        started.stop()
    for gateway in stack.gateways:
        gateway.stop()
