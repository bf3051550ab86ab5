"""Fixtures shared by the integration and end-to-end tests (the harness is tests/harness.py)."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import BOOTSTRAP, Stack

#: Markers given by directory, so a test cannot forget the marker its needs call for.
_MARKERS = {"integration": "integration", "e2e": "e2e", "fuzz": "fuzz"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.path)).parent.name
        if folder in _MARKERS:
            item.add_marker(getattr(pytest.mark, _MARKERS[folder]))


@pytest.fixture(scope="session")
def broker() -> str:
    """The broker must be up: `deploy/run test` starts it; a test never fakes it.

    Without one, broker tests are skipped with the reason (a plain `pytest` on a
    laptop); `deploy/run test` and CI set TESTS_REQUIRE_BROKER, so there a
    missing broker fails instead of passing quietly as skips.
    """
    host, port = BOOTSTRAP.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError:
        reason = f"no Kafka broker at {BOOTSTRAP}: start it with deploy/kafka/kafka.sh start"
        if os.environ.get("TESTS_REQUIRE_BROKER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return BOOTSTRAP


@pytest.fixture
def stack(broker: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    built = Stack.create(tmp_path)
    yield built
    for worker in built.workers:
        worker.stop()
    for gateway in built.gateways:
        gateway.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for worker in [*built.workers, *built.gateways]:
            if worker.log.exists():
                sys.stderr.write(f"\n--- {worker.log} (last 60 lines) ---\n")
                sys.stderr.write("\n".join(worker.log.read_text(errors="replace").splitlines()[-60:]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
