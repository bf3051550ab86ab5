"""The worker's HTTP endpoints: `/metrics` for Prometheus, `/healthz`, and `/runbooks` for people paged.

Read-only, nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from socialsla.health import Health
from socialsla.partitions import Partitions
from socialsla.runbooks import page
from socialsla.series import Ledger
from socialsla.thread_store import ThreadStore

log = logging.getLogger("socialsla")


async def serve(host: str, port: int, registry: CollectorRegistry, app: Any, health: Health,
                partitions: Partitions, ledger: Ledger, threads: ThreadStore) -> None:  # fmt: skip
    """Serve until cancelled."""

    async def scrape(request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        body = {
            "status": "stale" if health.stale else "rebalancing" if app.rebalancing else "ok",
            "stale": health.stale,
            "owned_partitions": sorted(partitions.loaded(ledger)),
            # stage 1: input partitions whose thread states are rebuilt from their log
            "input_partitions_loaded": sorted(partitions.loaded(threads)),
            "series": sum(1 for _ in ledger),
            "seconds_since_progress": round(time.monotonic() - health.last_progress, 3),
        }
        return web.json_response(body)

    async def runbooks(request: web.Request) -> web.Response:
        return web.Response(text=page(), content_type="text/html")

    server = web.Application()
    server.router.add_get("/metrics", scrape)
    server.router.add_get("/healthz", healthz)
    server.router.add_get("/runbooks", runbooks)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("socialsla: metrics on http://%s:%d/metrics", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
