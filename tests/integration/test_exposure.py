"""What a worker exposes: loopback by default, read-only endpoints, no message text or authors, capped labels."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from tests.harness import BOOTSTRAP, CATCH_UP_S, WORKER_READY_S, Stack, eventually

TEXT = "MY-SECRET-ORDER-4242"
AUTHOR = "customer-handle-9876"


def listening_addresses(port: int) -> set[str]:
    """IPv4 addresses listening on a TCP port, read from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_binds_to_loopback_by_default(stack: Stack) -> None:
    """Without SOCIALSLA_WEB_HOST the metrics port listens on 127.0.0.1 only."""
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    assert listening_addresses(worker.port) == {"127.0.0.1"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_no_endpoint_changes_state(stack: Stack, method: str) -> None:
    """Only GET is served: every other method is refused, and unknown paths are not found."""
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    for path in ("/metrics", "/healthz"):
        request = urllib.request.Request(f"http://127.0.0.1:{worker.port}{path}", data=b"{}", method=method)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 405
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/admin", timeout=5)
    assert missing.value.code == 404


async def topic_bytes(topics: list[str]) -> bytes:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest")
    await consumer.start()
    chunks: list[bytes] = []
    try:
        for _ in range(10):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                chunks.extend((r.key or b"") + (r.value or b"") for r in records)
    finally:
        await consumer.stop()
    return b"".join(chunks)


def test_text_and_authors_never_reach_metrics_logs_or_our_topics(stack: Stack, tmp_path: Path) -> None:
    """Valid events carrying text and an author leave no trace of either in /metrics, the log, outcomes or stage 1's log."""
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    lines = [
        {"type": "post", "event_id": "p1", "conversation_id": "c1", "account": "acme", "channel": "x",
         "created_at": "2026-01-07T23:00:00Z", "author": AUTHOR, "text": TEXT},
        {"type": "reply", "event_id": "r1", "conversation_id": "c1", "account": "acme", "channel": "x",
         "created_at": "2026-01-07T23:05:00Z", "agent": "ann", "text": f"re: {TEXT}"},
    ]  # fmt: skip
    path = tmp_path / "private.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    stack.produce(path)
    eventually(worker.consumed, lambda n: n == 2, CATCH_UP_S, "both events counted")
    app = stack.env["SOCIALSLA_APP_ID"]
    written = asyncio.run(topic_bytes([stack.env["SOCIALSLA_TOPIC_OUTCOMES"], f"{app}-threads"]))
    assert b"c1" in written  # the topics were read
    scrape = worker.get("/metrics") or ""
    log = worker.log.read_text(errors="replace")
    for secret in (TEXT, AUTHOR):
        assert secret not in scrape
        assert secret not in log
        assert secret.encode() not in written


def test_series_cap_dead_letters_and_counts(stack: Stack, tmp_path: Path) -> None:
    """Past SOCIALSLA_MAX_SERIES account/channel pairs, events are dead-lettered with that reason and counted."""
    worker = stack.worker(SOCIALSLA_MAX_SERIES="3")
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    lines = [
        {"type": "post", "event_id": f"p{i}", "conversation_id": f"c{i}", "account": f"brand{i}", "channel": "x",
         "created_at": "2026-01-07T23:00:00Z"}
        for i in range(5)
    ]  # fmt: skip
    path = tmp_path / "flood.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    stack.produce(path)
    eventually(worker.consumed, lambda n: n == 5, CATCH_UP_S, "all five events counted")
    scrape = worker.metrics()
    assert scrape[("socialsla_series_limit_rejections_total", ())] == 2
    assert scrape[("socialsla_series_admitted", ())] == 3

    def exported() -> set[str]:
        return {
            dict(labels)["account"] for name, labels in worker.metrics() if name == "socialsla_conversations"
        }

    assert (
        len(eventually(exported, lambda accounts: len(accounts) == 3, CATCH_UP_S, "three series exported"))
        == 3
    )
