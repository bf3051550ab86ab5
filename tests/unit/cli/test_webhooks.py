"""The demo's traffic as webhooks: every generated event a network can carry becomes a delivery that the
gateway reads back as the same event (kind, series, instant, automated, agent, survey and score), in a
thread of its own network."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import fields

import orjson
import pytest

from socialsla.cli.traffic import TrafficShape, generate
from socialsla.cli.webhooks import (
    CHATWOOT_TEAMS,
    META_BOT_APP,
    X_BOT_APP,
    Outgoing,
    delivery_of,
    names_file,
    signed,
)
from socialsla.core.events import parse_time
from socialsla.ingest.names import parse_names
from socialsla.ingest.platforms import platforms
from socialsla.ingest.signatures import check_chatwoot, check_meta, check_x
from socialsla.stream.settings import Settings

SETTINGS = Settings(
    meta_app_secret="m", meta_verify_token="v", meta_automated_app_ids=META_BOT_APP, x_consumer_secret="x",
    x_automated_app_ids=X_BOT_APP, chatwoot_secret="c",
)  # fmt: skip


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    async def run() -> list[bytes]:
        out = []
        async for line in generate(TrafficShape(seed=5), lambda: time.time_ns() // 1000, 1800, 0.2):
            out.append(line)
        return out

    return asyncio.run(run())


def test_each_event_reads_back_as_itself(lines: list[bytes]) -> None:
    served = platforms(SETTINGS, parse_names(names_file()))
    now = time.time_ns() // 1000
    carried: Counter[str] = Counter()
    for line in lines:
        try:
            event = orjson.loads(line)
            parse_time(event["created_at"])
        except ValueError:
            continue  # the generator's invalid lines: test_invalid_lines_are_dead_lettered
        outgoing = delivery_of(line)
        if outgoing is None:  # what Meta and X cannot say: resolutions, X's surveys, a bot's comment
            assert event["type"] in ("resolve", "feedback") or event.get("automated")
            assert event["account"] not in CHATWOOT_TEAMS or event.get("survey") != "csat"
            continue
        delivery = served[outgoing.path[1:]].read(outgoing.body, now)
        assert delivery.invalid == []
        (got,) = delivery.events
        assert (got.kind, got.account, got.channel) == (event["type"], event["account"], event["channel"])
        if got.kind != "feedback" or outgoing.path != "/chatwoot":  # Chatwoot dates CSAT on arrival
            # networks send milliseconds, or seconds (Page comments): the instant within its unit
            assert 0 <= parse_time(event["created_at"]) - got.created_at < 1_000_000
        assert got.automated == bool(event.get("automated")) or got.kind != "reply"
        if outgoing.path == "/chatwoot" and got.kind == "reply" and not got.automated:
            assert got.agent == str(event["agent"]).title()
        if got.kind == "feedback":
            assert (got.survey, got.score) == (event["survey"], event["score"])
        carried[outgoing.path] += 1
    assert set(carried) == {"/meta", "/x", "/chatwoot"}


def test_invalid_lines_are_dead_lettered(lines: list[bytes]) -> None:
    served = platforms(SETTINGS, parse_names(names_file()))
    bad = [line for line in lines if b'"yesterday"' in line]
    assert bad
    for line in bad:
        outgoing = delivery_of(line)
        assert outgoing is not None
        delivery = served["meta"].read(outgoing.body, time.time_ns() // 1000)
        assert (delivery.events, len(delivery.invalid)) == ([], 1)


def test_deliveries_are_signed_as_each_network_signs() -> None:
    now = int(time.time())
    for path, check in (("/meta", check_meta), ("/x", check_x)):
        outgoing = Outgoing(path, b'{"a": 1}')
        secret = SETTINGS.meta_app_secret if path == "/meta" else SETTINGS.x_consumer_secret
        assert check(signed(outgoing, SETTINGS, now), outgoing.body, secret or "") is None
    outgoing = Outgoing("/chatwoot", b"{}")
    headers = signed(outgoing, SETTINGS, now)
    assert check_chatwoot(headers, outgoing.body, "c", now * 1_000_000) is None


@pytest.mark.asyncio
async def test_a_refused_delivery_ends_the_demos_traffic_with_the_reason() -> None:
    """A gateway that answers 401 (secrets that differ) stops the generator with what it answered."""
    from aiohttp import web

    from socialsla.cli.traffic import TrafficShape
    from socialsla.cli.webhooks import RefusedDelivery, send_as_webhooks

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "signature check failed"}, status=401)

    app = web.Application()
    for path in ("/meta", "/x", "/chatwoot"):
        app.router.add_post(path, refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    settings = Settings(
        **{**{f.name: getattr(SETTINGS, f.name) for f in fields(SETTINGS)}, "ingest_port": port}
    )
    try:
        with pytest.raises(RefusedDelivery, match="answered 401"):
            await asyncio.wait_for(
                send_as_webhooks(TrafficShape(), settings, lambda: time.time_ns() // 1000, 600), 30
            )
    finally:
        await runner.cleanup()
