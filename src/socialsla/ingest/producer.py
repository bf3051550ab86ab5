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
from typing import Any, Final

from aiokafka import AIOKafkaProducer

from socialsla.ingest.delivery import Delivery
from socialsla.stream.kafka import client_options
from socialsla.stream.settings import Settings
from socialsla.stream.topics import Topics

log = logging.getLogger("socialsla")

#: The most of a dead letter's bytes kept: a record must fit Kafka's default limit (1 MiB, the
#: producer's max_request_size and the broker's message.max.bytes) with its headers, while a
#: poisoned body may be as large as SOCIALSLA_INGEST_MAX_BYTES. A cut one says how long it was.
DEADLETTER_MAX_BYTES: Final = 900 * 1024

#: The input topic of each kind of event: stage 1 reads both, keyed alike.
_TOPIC_OF = {"post": "posts", "feedback": "posts", "reply": "replies", "resolve": "replies"}


class Producer:
    """One idempotent `acks=all` producer for the whole gateway process, renewed when it cannot go on.

    An idempotent producer numbers its batches per partition. When a broker comes
    back after an outage, a batch the gateway stopped waiting for may leave the
    producer's numbers and the broker's apart (`OutOfOrderSequenceNumber`), and
    that producer refuses every later record. Any record the client gives up on
    is taken for that: the delivery is answered 503 and the next one goes out on
    a new producer, with a new id, whose numbers start again.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics.of(settings)
        self.timeout_s = settings.ingest_timeout_us / 1_000_000
        self.client = self._new_client()
        self.renewals = 0
        self._renewing = asyncio.Lock()

    def _new_client(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **client_options(self.settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=2,  # deliveries arrive one by one: a short linger batches those that overlap
            request_timeout_ms=max(1000, int(self.timeout_s * 1000)),
        )

    async def start(self) -> None:
        await self.client.start()

    async def send(self, delivery: Delivery, platform: str) -> bool:
        """Produce every event and dead letter of a delivery; True once Kafka acknowledged them all.

        False when that took longer than `SOCIALSLA_INGEST_TIMEOUT` (some records may still be
        written, and the platform's retry writes them again, with the same ids), or when the
        client gave up on a record (the producer is renewed for the next delivery).
        """
        client = self.client
        try:
            await asyncio.wait_for(self._send(client, delivery, platform), self.timeout_s)
        except TimeoutError:
            return False
        except Exception as exc:
            log.warning("socialsla ingest: Kafka did not take a %s delivery (%r); renewing the producer",
                        platform, exc)  # fmt: skip
            await self._renew(client)
            return False
        return True

    async def _send(self, client: AIOKafkaProducer, delivery: Delivery, platform: str) -> None:
        pending: list[Any] = []
        for event, value in delivery.produced:
            topic = getattr(self.topics, _TOPIC_OF[event.kind])
            pending.append(await client.send(topic, value, key=event.conversation_id.encode()))
        source = f"ingest/{platform}".encode()
        for item, reason in delivery.invalid:
            headers = [("reason", reason.encode()), ("source", source)]
            if len(item) > DEADLETTER_MAX_BYTES:
                headers.append(("truncated_from_bytes", str(len(item)).encode()))
            pending.append(
                await client.send(self.topics.deadletter, item[:DEADLETTER_MAX_BYTES], headers=headers)
            )
        if pending:
            await asyncio.gather(*pending)

    async def _renew(self, failed: AIOKafkaProducer) -> None:
        """Replace a producer that gave up, once, however many deliveries saw it fail."""
        async with self._renewing:
            if self.client is not failed:
                return
            fresh = self._new_client()
            try:
                await asyncio.wait_for(fresh.start(), self.timeout_s)
            except Exception as exc:  # no broker yet: the next failure tries again
                log.warning("socialsla ingest: a new producer could not start yet: %r", exc)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(fresh.stop(), 1.0)
                return
            self.client, self.renewals = fresh, self.renewals + 1
        with contextlib.suppress(Exception):
            await asyncio.wait_for(failed.stop(), self.timeout_s)

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
