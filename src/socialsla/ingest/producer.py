"""The gateway's side of Kafka: a delivery's events and dead letters, acknowledged by every replica.

The producer is idempotent with `acks=all`: an event acknowledged is on every
in-sync replica, and a retry inside the client never writes it twice. A
delivery is answered 200 only once all its records are acknowledged; when Kafka
does not acknowledge in time the platform is told to send again (503), and the
records that were acknowledged anyway come back with the same event ids, which
the workers count once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer

from socialsla.ingest.delivery import Delivery
from socialsla.stream.kafka import client_options
from socialsla.stream.settings import Settings
from socialsla.stream.topics import Topics

log = logging.getLogger("socialsla")

#: The input topic of each kind of event: stage 1 reads both, keyed alike.
_TOPIC_OF = {"post": "posts", "feedback": "posts", "reply": "replies", "resolve": "replies"}


class Producer:
    """One idempotent `acks=all` producer for the whole gateway process."""

    def __init__(self, settings: Settings) -> None:
        self.topics = Topics.of(settings)
        self.timeout_s = settings.ingest_timeout_us / 1_000_000
        self.client = AIOKafkaProducer(
            **client_options(settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=2,  # deliveries arrive one by one: a short linger batches those that overlap
            request_timeout_ms=max(1000, int(self.timeout_s * 1000)),
        )

    async def start(self) -> None:
        await self.client.start()

    async def send(self, delivery: Delivery, platform: str) -> bool:
        """Produce every event and dead letter of a delivery; True once Kafka acknowledged them all.

        False when that took longer than `SOCIALSLA_INGEST_TIMEOUT`: some records may
        still be written, and the platform's retry writes them again (same ids).
        """
        try:
            await asyncio.wait_for(self._send(delivery, platform), self.timeout_s)
        except TimeoutError:
            return False
        except Exception as exc:  # the client gave up on a record: the platform must send it again
            log.warning("socialsla ingest: Kafka did not take a %s delivery: %r", platform, exc)
            return False
        return True

    async def _send(self, delivery: Delivery, platform: str) -> None:
        pending: list[Any] = []
        for event, value in delivery.produced:
            topic = getattr(self.topics, _TOPIC_OF[event.kind])
            pending.append(await self.client.send(topic, value, key=event.conversation_id.encode()))
        source = f"ingest/{platform}".encode()
        for item, reason in delivery.invalid:
            headers = [("reason", reason.encode()), ("source", source)]
            pending.append(await self.client.send(self.topics.deadletter, item, headers=headers))
        if pending:
            await asyncio.gather(*pending)

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether Kafka answers a metadata request now (not only accepts a connection)."""
        try:
            return bool(await asyncio.wait_for(self.client.client.force_metadata_update(), timeout_s))
        except Exception:
            return False

    async def stop(self, timeout_s: float) -> None:
        """Flush what is in flight and close, giving up after `timeout_s` (a broker that is gone)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), timeout_s)
