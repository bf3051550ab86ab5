"""Kafka checks that need no broker: whether any bootstrap address answers at all."""

from __future__ import annotations

import asyncio
import socket

from socialsla.stream.kafka import broker_reachable
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
