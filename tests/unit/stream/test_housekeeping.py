"""Housekeeping's own checks: whether a broker answers at all, and the progress /healthz reports."""

from __future__ import annotations

import asyncio
import socket
import time

from socialsla.stream.housekeeping import Health, broker_reachable
from tests.harness import closed_port


def test_a_broker_is_reachable_when_any_bootstrap_address_accepts_a_connection() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        closed = closed_port()
        assert asyncio.run(broker_reachable(f"127.0.0.1:{port}"))
        assert asyncio.run(broker_reachable(f"127.0.0.1:{closed}, 127.0.0.1:{port}"))
        assert not asyncio.run(broker_reachable(f"127.0.0.1:{closed}"))


def test_progress_moves_the_instant_healthz_measures_from() -> None:
    health = Health()
    before = health.last_progress
    assert not health.stale
    while time.monotonic() == before:
        pass  # the monotonic clock ticks
    health.progress()
    assert health.last_progress > before
