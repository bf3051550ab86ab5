"""`socialsla ingest`'s HTTP server: each delivery checked, read, produced, and only then answered.

The answer is the platform's only feedback, so each status means one thing:
200, every event of the delivery (and every dead letter) is acknowledged by
Kafka; 503 with Retry-After, Kafka did not acknowledge in time, send it again;
401, the signature is missing or wrong and nothing of the body was kept; 413,
the body is over the size limit and was not read. The gateway keeps no state:
any number of them can serve one address.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from socialsla.ingest.delivery import Delivery
from socialsla.ingest.metrics import GatewayMetrics
from socialsla.ingest.platforms import Platform
from socialsla.ingest.producer import Producer
from socialsla.ingest.signatures import crc_response, meta_verify_token_matches
from socialsla.stream.settings import Settings
from socialsla.stream.shutdown import STOP_SIGNALS

log = logging.getLogger("socialsla")

#: Part of SOCIALSLA_SHUTDOWN_TIMEOUT given to the deliveries in flight; the rest flushes the producer,
#: but for EXIT_MARGIN_S, left for closing the interpreter.
IN_FLIGHT_SHARE: Final = 0.5
EXIT_MARGIN_S: Final = 1.5


def wall_us() -> int:
    """Now, in microseconds: Chatwoot's signed timestamp is judged, and its CSAT answers dated, by it."""
    return time.time_ns() // 1000


class Gateway:
    """The routes of one gateway process over its served platforms, producer and metrics."""

    def __init__(self, settings: Settings, served: dict[str, Platform], producer: Producer,
                 registry: CollectorRegistry, clock: Callable[[], int] = wall_us) -> None:  # fmt: skip
        self.settings = settings
        self.served = served
        self.producer = producer
        self.registry = registry
        self.metrics = GatewayMetrics(registry, tuple(served))
        self.clock = clock
        self.retry_after = str(max(1, round(settings.ingest_timeout_us / 1_000_000)))

    def app(self) -> web.Application:
        """The aiohttp application: a POST route per served platform, Meta's and X's checks, health."""
        app = web.Application(client_max_size=self.settings.ingest_max_bytes)
        for name, platform in self.served.items():
            app.router.add_post(f"/{name}", self._route(platform))
        if "meta" in self.served:
            app.router.add_get("/meta", self.meta_handshake)
        if "x" in self.served:
            app.router.add_get("/x", self.x_crc)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.scrape)
        return app

    def _route(self, platform: Platform) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            response = await self.answer(request, platform)
            self.metrics.deliveries.labels(platform.name, str(response.status)).inc()
            self.metrics.latency.labels(platform.name).observe(time.perf_counter() - started)
            return response

        return handle

    async def answer(self, request: web.Request, platform: Platform) -> web.Response:
        """Check, read and produce one delivery; the status says what became of it."""
        limit = self.settings.ingest_max_bytes
        if request.content_length is not None and request.content_length > limit:
            return _json({"error": f"body over {limit} bytes (SOCIALSLA_INGEST_MAX_BYTES)"}, 413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json({"error": f"body over {limit} bytes (SOCIALSLA_INGEST_MAX_BYTES)"}, 413)
        now_us = self.clock()
        failure = platform.check(request.headers, body, now_us)
        if failure is not None:
            return _json(
                {"error": "the signature (or /events' token) is missing or wrong", "check": failure}, 401
            )
        delivery = _read(platform, body, now_us)
        if not await self.producer.send(delivery, platform.name):
            return _json(
                {"error": "Kafka did not acknowledge in time; send the delivery again"},
                503,
                {"Retry-After": self.retry_after},
            )
        counts = {
            "produced": len(delivery.produced),
            "invalid": len(delivery.invalid),
            "ignored": delivery.ignored,
        }
        for outcome, count in counts.items():
            if count:
                self.metrics.items.labels(platform.name, outcome).inc(count)
        return _json(counts, 200)

    async def meta_handshake(self, request: web.Request) -> web.Response:
        """Meta's subscription check: echo `hub.challenge` when the verify token is ours."""
        query = request.query
        token = self.settings.meta_verify_token or ""
        if query.get("hub.mode") == "subscribe" and meta_verify_token_matches(
            query.get("hub.verify_token", ""), token
        ):
            return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")
        return _json({"error": "hub.mode must be subscribe and hub.verify_token the verify token"}, 403)

    async def x_crc(self, request: web.Request) -> web.Response:
        """X's challenge-response check, answered with the consumer secret."""
        token = request.query.get("crc_token")
        if token is None:
            return _json({"error": "missing crc_token"}, 400)
        return _json(crc_response(token, self.settings.x_consumer_secret or ""), 200)

    async def healthz(self, request: web.Request) -> web.Response:
        """200 while Kafka answers a metadata request, 503 otherwise: a load balancer sends elsewhere."""
        up = await self.producer.reachable()
        return _json(
            {"status": "ok" if up else "no broker", "platforms": sorted(self.served)}, 200 if up else 503
        )

    async def scrape(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


def _read(platform: Platform, body: bytes, now_us: int) -> Delivery:
    """What the delivery yields; a reading that fails is the whole body dead-lettered, not a 500 that
    the platform would retry for days."""
    try:
        return platform.read(body, now_us)
    except Exception as exc:  # a bug of ours: the body is kept, with what went wrong
        log.exception("socialsla ingest: a %s delivery could not be read", platform.name)
        return Delivery([], [(body, f"could not be read: {type(exc).__name__}")])


def _json(body: object, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


async def run_gateway(settings: Settings, gateway: Gateway, ready: Callable[[str], None] = print) -> None:
    """Serve until SIGTERM, SIGINT or SIGHUP; then stop accepting, finish the deliveries in flight and
    flush the producer, within SOCIALSLA_SHUTDOWN_TIMEOUT whether or not a broker answers."""
    grace = max(0.5, (settings.shutdown_timeout - EXIT_MARGIN_S) * IN_FLIGHT_SHARE)
    runner = web.AppRunner(gateway.app(), access_log=None, shutdown_timeout=grace)
    await runner.setup()
    site = web.TCPSite(runner, settings.ingest_host, settings.ingest_port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    paths = ", ".join(f"/{name}" for name in gateway.served)
    ready(f"socialsla ingest: serving {paths} on http://{settings.ingest_host}:{settings.ingest_port}/")
    await stop.wait()
    ready(f"socialsla ingest: stopping; exiting within {settings.shutdown_timeout:g} s")
    began = time.monotonic()
    try:
        await asyncio.wait_for(runner.cleanup(), grace + 1)
    except TimeoutError:
        log.warning("socialsla ingest: deliveries still in flight after %.0f s; stopping anyway", grace)
    remaining = settings.shutdown_timeout - EXIT_MARGIN_S - (time.monotonic() - began)
    await gateway.producer.stop(max(0.1, remaining))
