"""The worker's HTTP endpoints: `/metrics` for Prometheus, `/healthz`, `/runbooks` for people paged,
`/waiting`, who is waiting on this worker's series, and the on-call page at `/` with the
deployment's board behind it (`/board`, `board.py`).

Read-only, nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from socialsla.core.events import format_time
from socialsla.core.ledger import Ledger
from socialsla.core.series import evaluate
from socialsla.core.waiting import waiting_list
from socialsla.serve.board import Board
from socialsla.serve.collector import SlaCollector
from socialsla.serve.runbooks import page
from socialsla.stream.housekeeping import Health
from socialsla.stream.partitions import Partitions
from socialsla.stream.thread_store import ThreadStore

log = logging.getLogger("socialsla")

#: The on-call page: one file, no request to any other host.
BOARD_PAGE = (Path(__file__).parent / "board.html").read_text()


def _limit(text: str | None) -> int | None:
    """`?limit=N`: a whole number of at least 1; ValueError saying why for anything else."""
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValueError(f"limit must be a whole number of at least 1, got {text!r}")
    return int(text)


def waiting_parts(collector: SlaCollector, query: Mapping[str, str]) -> tuple[int, Iterator[dict[str, Any]]]:
    """`GET /waiting` at the collector's clock now: T, and each series' part, one at a time.

    ValueError for a bad `limit`, before anything is built. The parts come one
    series at a time so the handler can let the agents run between them: the
    whole list at 1M open conversations takes seconds.
    """
    limit = _limit(query.get("limit"))
    account, channel = query.get("account"), query.get("channel")
    at = collector.clock.now_us()
    chosen = sorted(
        (s for s in collector.ledger.existing(at)
         if (account is None or s.account == account) and (channel is None or s.channel == channel)),
        key=lambda s: (s.account, s.channel),
    )  # fmt: skip

    def parts() -> Iterator[dict[str, Any]]:
        for series in chosen:
            verdicts = evaluate(series, at, collector.rules, collector.max_agents, per_agent=False).verdicts
            entries = waiting_list(series.windows, at, collector.rules, verdicts, limit)
            yield {
                "account": series.account,
                "channel": series.channel,
                "waiting": [entry.to_json() for entry in entries],
            }

    return at, parts()


def waiting_body(collector: SlaCollector, query: Mapping[str, str]) -> dict[str, Any]:
    """The whole `GET /waiting` answer at once (`waiting_parts`)."""
    at, parts = waiting_parts(collector, query)
    return {"at": format_time(at), "series": list(parts)}


async def serve(host: str, port: int, registry: CollectorRegistry, app: Any, health: Health,
                partitions: Partitions, ledger: Ledger, threads: ThreadStore,
                collector: SlaCollector, shared: Board) -> None:  # fmt: skip
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
            "series": sum(1 for _ in ledger.existing(collector.clock.now_us())),
            "seconds_since_progress": round(time.monotonic() - health.last_progress, 3),
        }
        return web.json_response(body)

    async def runbooks(request: web.Request) -> web.Response:
        return web.Response(text=page(), content_type="text/html")

    async def on_call(request: web.Request) -> web.Response:
        return web.Response(text=BOARD_PAGE, content_type="text/html")

    async def board_json(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(shared.view(time.time())), content_type="application/json")

    async def waiting(request: web.Request) -> web.Response:
        try:
            at, parts = waiting_parts(collector, request.query)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        series = []
        for part in parts:
            series.append(part)
            await asyncio.sleep(0)  # the agents run between two series
        body = orjson.dumps({"at": format_time(at), "series": series})
        return web.Response(body=body, content_type="application/json")

    server = web.Application()
    server.router.add_get("/metrics", scrape)
    server.router.add_get("/healthz", healthz)
    server.router.add_get("/runbooks", runbooks)
    server.router.add_get("/waiting", waiting)
    server.router.add_get("/", on_call)
    server.router.add_get("/board", board_json)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("socialsla: metrics on http://%s:%d/metrics", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
