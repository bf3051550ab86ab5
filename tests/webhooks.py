"""Webhook deliveries as the platforms send them: the documented samples of tests/data/webhooks, signed
the way each platform signs, and what a gateway produced, read back from the topics.

The signatures are computed here from each platform's documentation, not with the package's
checks, so that a test of the gateway cannot pass by agreeing with itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.paths import DATA

WEBHOOKS = DATA / "webhooks"
#: The secrets the tests' gateways are given, as a team would set them.
SECRETS = {
    "SOCIALSLA_META_APP_SECRET": "meta-app-secret-5f1c",
    "SOCIALSLA_META_VERIFY_TOKEN": "verify-me-8d2e",
    "SOCIALSLA_META_AUTOMATED_APP_IDS": "1517776481860111",
    "SOCIALSLA_X_CONSUMER_SECRET": "x-consumer-secret-71aa",
    "SOCIALSLA_X_AUTOMATED_APP_IDS": "17000001",
    "SOCIALSLA_CHATWOOT_SECRET": "chatwoot-secret-0b9f",
    "SOCIALSLA_INGEST_TOKEN": "our-token-3c4d",
}


def sample(name: str) -> bytes:
    """A documented delivery's bytes, exactly as the file holds them."""
    return (WEBHOOKS / name).read_bytes()


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def meta_signed(body: bytes, secret: str = SECRETS["SOCIALSLA_META_APP_SECRET"]) -> dict[str, str]:
    """Meta: `X-Hub-Signature-256: sha256=` + the hex HMAC-SHA256 of the body, keyed by the app secret."""
    return {"X-Hub-Signature-256": "sha256=" + _hmac(secret, body).hex(), "Content-Type": "application/json"}


def x_signed(body: bytes, secret: str = SECRETS["SOCIALSLA_X_CONSUMER_SECRET"]) -> dict[str, str]:
    """X: `x-twitter-webhooks-signature: sha256=` + the base64 HMAC-SHA256 of the body, keyed by the
    consumer secret."""
    signature = base64.b64encode(_hmac(secret, body)).decode()
    return {"x-twitter-webhooks-signature": "sha256=" + signature, "Content-Type": "application/json"}


def chatwoot_signed(
    body: bytes, secret: str = SECRETS["SOCIALSLA_CHATWOOT_SECRET"], at: int | None = None
) -> dict[str, str]:
    """Chatwoot: the hex HMAC-SHA256 of `timestamp.body`, the timestamp in its own header."""
    stamp = str(int(time.time()) if at is None else at)
    return {
        "X-Chatwoot-Timestamp": stamp,
        "X-Chatwoot-Signature": "sha256=" + _hmac(secret, stamp.encode() + b"." + body).hex(),
        "Content-Type": "application/json",
    }


def bearer(token: str = SECRETS["SOCIALSLA_INGEST_TOKEN"]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}


@dataclass(frozen=True)
class Record:
    """One record a gateway produced."""

    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


def records(bootstrap: str, topics: list[str], partitions: int = 4) -> list[Record]:
    """Every record of these topics (of `partitions` partitions each), from their beginnings to their ends now."""
    return asyncio.run(_records(bootstrap, topics, partitions))


async def _records(bootstrap: str, topics: list[str], partitions: int) -> list[Record]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Record] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batches.items():
                out.extend(Record(tp.topic, m.key, m.value, dict(m.headers)) for m in messages)
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return out
    finally:
        await consumer.stop()
