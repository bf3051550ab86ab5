"""The gateway when things go wrong, and the whole path: a broker that stops under load loses nothing
answered 200; a stop signal ends the gateway within its shutdown timeout, broker or no broker; signed
deliveries through the gateway and a worker give /metrics the report's numbers."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import orjson

from socialsla.core.events import MICROS, format_time, parse_time
from tests.harness import CATCH_UP_S, WORKER_READY_S, Gateway, Stack, eventually, settles
from tests.integration.expected import from_report, sla_gauges
from tests.integration.test_outage import Broker
from tests.integration.test_pipeline import AT, offline
from tests.webhooks import bearer, chatwoot_signed, meta_signed, records, x_signed

#: The gateway's SOCIALSLA_INGEST_TIMEOUT in these tests: a stopped broker is answered 503 this soon.
TIMEOUT_S = 2
#: SOCIALSLA_SHUTDOWN_TIMEOUT of these gateways, and what a busy machine may add to it.
SHUTDOWN_S = 6
MARGIN_S = 5.0


def _event(n: int) -> bytes:
    return orjson.dumps({"type": "post", "event_id": f"load-{n}", "conversation_id": f"c{n}", "account": "acme",
                         "channel": "x", "created_at": "2026-01-07T12:00:00Z"})  # fmt: skip


def _produced_ids(stack: Stack) -> set[str]:
    found = records(stack.env["SOCIALSLA_BOOTSTRAP_SERVERS"], [stack.env["SOCIALSLA_TOPIC_POSTS"]])
    return {orjson.loads(r.value)["event_id"] for r in found}


def test_a_broker_stopped_under_load_loses_nothing_answered_200(tmp_path: Path) -> None:
    """Deliveries keep coming while the broker stops and starts again: every one answered 200 is in the
    topic afterwards; the others were answered 503 and are produced when sent again."""
    broker = Broker(tmp_path / "kafka")
    broker.run("start")
    stack = Stack.create(tmp_path)
    stack.env["SOCIALSLA_BOOTSTRAP_SERVERS"] = broker.address
    try:
        gateway = stack.gateway(
            SOCIALSLA_INGEST_TIMEOUT=f"{TIMEOUT_S}s", SOCIALSLA_SHUTDOWN_TIMEOUT=str(SHUTDOWN_S)
        )
        answers: dict[int, int] = {}
        stop = threading.Event()

        def load() -> None:
            n = 0
            while not stop.is_set():
                answers[n] = gateway.post("/events", _event(n), bearer())[0]
                n += 1

        sender = threading.Thread(target=load)
        sender.start()
        eventually(
            lambda: sum(1 for s in answers.values() if s == 200), lambda ok: ok >= 50, 60, "50 deliveries"
        )
        broker.run("stop")
        eventually(lambda: sum(1 for s in answers.values() if s == 503), lambda n: n >= 3, 60, "503 answers")
        broker.run("start")
        eventually(lambda: list(answers.values())[-1], lambda s: s == 200, 120, "200 again after the restart")
        stop.set()
        sender.join(30)
        assert set(answers.values()) <= {200, 503}, set(answers.values())
        refused = [n for n, status in answers.items() if status != 200]
        for n in refused:  # as a platform does: the same delivery again, until it is taken
            eventually(
                lambda n=n: gateway.post("/events", _event(n), bearer())[0], lambda s: s == 200, 60, "a retry"
            )
        produced = _produced_ids(stack)
        assert {f"load-{n}" for n, status in answers.items() if status == 200} <= produced
        assert produced == {f"load-{n}" for n in answers}
        # with its broker gone, a stop signal still ends the gateway within its shutdown timeout
        broker.run("stop")
        began = time.monotonic()
        assert gateway.stop(signal.SIGTERM, timeout=SHUTDOWN_S + MARGIN_S) == 0
        assert time.monotonic() - began < SHUTDOWN_S + MARGIN_S
        assert f"socialsla ingest: stopping; exiting within {SHUTDOWN_S} s" in gateway.log.read_text()
    finally:
        broker.run("stop")


def test_a_stop_signal_ends_the_gateway_at_once_with_its_broker(stack: Stack) -> None:
    """SIGTERM, SIGINT and SIGHUP each stop a gateway cleanly (exit 0), well within its shutdown timeout."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        gateway = stack.gateway(SOCIALSLA_SHUTDOWN_TIMEOUT=str(SHUTDOWN_S))
        assert gateway.post("/events", _event(1), bearer())[0] == 200
        began = time.monotonic()
        assert gateway.stop(sig, timeout=SHUTDOWN_S + MARGIN_S) == 0
        assert time.monotonic() - began < SHUTDOWN_S


def _messenger(page: str, customer: str, mid: str, at: int, echo_app: int | None = None) -> dict[str, object]:
    """A Messenger message (or, with the sending app, the Page's echo) as Meta's webhook shows it."""
    ms = at // 1000
    if echo_app is None:
        return {"sender": {"id": customer}, "recipient": {"id": page}, "timestamp": ms,
                "message": {"mid": mid, "text": "Where is my parcel?"}}  # fmt: skip
    return {"sender": {"id": page}, "recipient": {"id": customer}, "timestamp": ms,
            "message": {"is_echo": True, "app_id": echo_app, "mid": mid, "text": "On its way!"}}  # fmt: skip


def _x_dm(brand: str, sender: str, recipient: str, dm_id: str, at: int) -> dict[str, object]:
    return {"type": "message_create", "id": dm_id, "created_timestamp": str(at // 1000),
            "message_create": {"target": {"recipient_id": recipient}, "sender_id": sender,
                               "message_data": {"text": "hello"}}}  # fmt: skip


def test_signed_deliveries_through_the_gateway_and_a_worker_give_metrics_the_reports_numbers(
    stack: Stack, tmp_path: Path
) -> None:
    """Messenger messages and echoes (a bot's and an agent's), X direct messages and Chatwoot messages and a
    resolution, over a week before the stack's clock: /metrics equals `socialsla report` on what was produced."""
    t = parse_time(AT)
    m, h, d = 60 * MICROS, 3600 * MICROS, 86_400 * MICROS
    page, inbox_app, bot_app = "103149398319188", 263902037430900, 1517776481860111
    messaging = []
    for n in range(12):  # customers over six days; most answered in minutes, two never
        opened = t - 6 * d + n * 11 * h
        customer = f"42189465315{n:05d}"
        messaging.append(_messenger(page, customer, f"m_in{n}", opened))
        if n % 3 == 0:
            messaging.append(_messenger(page, customer, f"m_bot{n}", opened + 2 * MICROS, bot_app))
        if n not in (4, 9):
            messaging.append(_messenger(page, customer, f"m_out{n}", opened + (5 + 3 * n) * m, inbox_app))
    meta = orjson.dumps(
        {"object": "page", "entry": [{"id": page, "time": t // 1000, "messaging": messaging}]}
    )
    brand = "2244994945"
    dms = [
        _x_dm(brand, "3001969357", brand, "9001", t - 3 * h),
        _x_dm(brand, brand, "3001969357", "9002", t - 2 * h),
    ]
    x = orjson.dumps({"for_user_id": brand, "direct_message_events": dms})
    chatwoot = [
        {"event": "message_created", "id": 501, "created_at": format_time(t - 5 * h), "message_type": "incoming",
         "private": False, "content_type": "text", "content_attributes": {}, "sender": {"id": 9, "type": "contact"},
         "inbox": {"id": 12}, "conversation": {"id": 77, "inbox_id": 12, "channel": "Channel::FacebookPage"},
         "account": {"id": 3}},
        {"event": "message_created", "id": 502, "created_at": format_time(t - 5 * h + 40 * m),
         "message_type": "outgoing", "private": False, "content_type": "text", "content_attributes": {},
         "sender": {"id": 4, "name": "Priya Raman", "type": "user"}, "inbox": {"id": 12},
         "conversation": {"id": 77, "inbox_id": 12, "channel": "Channel::FacebookPage"}, "account": {"id": 3}},
        {"event": "conversation_status_changed", "status": "resolved", "id": 77, "inbox_id": 12,
         "channel": "Channel::FacebookPage", "updated_at": (t - 4 * h) / MICROS, "account": {"id": 3}},
    ]  # fmt: skip
    names = tmp_path / "accounts.toml"
    names.write_text(f'"meta:{page}" = "acme"\n"x:{brand}" = "acme"\n"chatwoot:3:12" = "globex"\n')
    gateway: Gateway = stack.gateway(SOCIALSLA_INGEST_ACCOUNTS=str(names))
    assert gateway.post("/meta", meta, meta_signed(meta))[0] == 200
    assert gateway.post("/x", x, x_signed(x))[0] == 200
    for delivery in chatwoot:
        body = orjson.dumps(delivery)
        assert gateway.post("/chatwoot", body, chatwoot_signed(body))[0] == 200
    topics = [stack.env["SOCIALSLA_TOPIC_POSTS"], stack.env["SOCIALSLA_TOPIC_REPLIES"]]
    lines = [r.value for r in records(stack.env["SOCIALSLA_BOOTSTRAP_SERVERS"], topics)]
    assert len(lines) == len(messaging) + len(dms) + len(chatwoot)
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    expected = from_report(offline(AT, lines))
    assert len(offline(AT, lines).series) == 3  # acme on Messenger and on X, globex in Chatwoot
    settles(
        lambda: sla_gauges(worker.metrics()),
        expected,
        CATCH_UP_S,
        "/metrics = the report of what was produced",
    )
