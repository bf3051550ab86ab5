"""The worker's HTTP endpoints: `/metrics` for Prometheus, `/healthz`, `/runbooks` for people paged,
`/waiting`, who is waiting on this worker's series, and the on-call page at `/` with the
deployment's board behind it (`/board`, `board.py`).

Read-only, nothing else.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from socialsla.core.events import format_time
from socialsla.core.ledger import Ledger
from socialsla.core.series import judged
from socialsla.core.waiting import entries
from socialsla.serve.access import CHALLENGE, PROTECTED, credential_fails
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
    return min(int(text), sys.maxsize)  # more than any list holds: no limit


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Who waits changes by the second: no cache between the worker and the page may keep an answer.
NO_STORE = {"Cache-Control": "no-store"}
#: `GET /waiting` hands the event loop back after at most this many entries (about 10 ms of work)...
ENTRIES_PER_PIECE = 500
#: ...or after this long, however few entries it found (answered waits between them are skipped unread).
PIECE_S = 0.01


def waiting_pieces(collector: SlaCollector, query: Mapping[str, str]) -> Iterator[bytes]:
    """`GET /waiting` at the collector's clock now, as pieces of its JSON body, one after another.

    ValueError for a bad `limit`, before anything is built. The whole list at
    1M open conversations is a million entries; built at once it held the worker
    for seconds. As pieces (a series' verdicts, or `ENTRIES_PER_PIECE`
    entries), the handler sends each and lets the agents run in between. The
    agents may change a series meanwhile: entries are read bucket by bucket as
    they are sent, all judged at the one T of the answer's `at`.
    """
    limit = _limit(query.get("limit"))
    account, channel = query.get("account"), query.get("channel")
    at = collector.clock.now_us()
    chosen = sorted(
        (s for s in collector.ledger.existing(at)
         if (account is None or s.account == account) and (channel is None or s.channel == channel)),
        key=lambda s: (s.account, s.channel),
    )  # fmt: skip

    def pieces() -> Iterator[bytes]:
        yield b'{"at":' + orjson.dumps(format_time(at)) + b',"series":['
        for index, series in enumerate(chosen):
            verdicts = judged(series, at, collector.rules).verdicts
            head = orjson.dumps({"account": series.account, "channel": series.channel})
            yield (b"," if index else b"") + head[:-1] + b',"waiting":'
            listed = itertools.islice(entries(series.windows, at, collector.rules, verdicts), limit)
            opened = False
            batch: list[dict[str, Any]] = []
            began = time.perf_counter()
            for entry in listed:
                batch.append(entry.to_json())
                if len(batch) >= ENTRIES_PER_PIECE or time.perf_counter() - began >= PIECE_S:
                    yield (b"," if opened else b"[") + orjson.dumps(batch)[1:-1]
                    opened, batch, began = True, [], time.perf_counter()
            if batch:
                yield (b"," if opened else b"[") + orjson.dumps(batch)[1:-1]
                opened = True
            yield (b"]" if opened else b"[]") + b"}"
        yield b"]}"

    return pieces()


async def serve(host: str, port: int, registry: CollectorRegistry, app: Any, health: Health,
                partitions: Partitions, ledger: Ledger, threads: ThreadStore,
                collector: SlaCollector, shared: Board, token: str | None = None) -> None:  # fmt: skip
    """Serve until cancelled; with `token`, the pages that name customers need it (`access.py`)."""

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
        body = orjson.dumps(shared.view(time.time()))
        return web.Response(body=body, content_type="application/json", headers=NO_STORE)

    async def waiting(request: web.Request) -> web.StreamResponse:
        try:
            pieces = waiting_pieces(collector, request.query)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        response = web.StreamResponse(headers={"Content-Type": "application/json", **NO_STORE})
        await response.prepare(request)
        try:
            for piece in pieces:
                await response.write(piece)
                await asyncio.sleep(0)  # the agents run between two pieces, even when nobody is slow to read
            await response.write_eof()
        except ConnectionResetError:  # the reader went away: nothing to answer, no error to log
            log.info("socialsla: GET /waiting ended by its reader before the end")
        return response

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token and request.path in PROTECTED:
            why = credential_fails(request.headers, token)
            if why is not None:
                log.info("socialsla: %s refused (401): %s", request.path, why)
                return web.Response(status=401, text="401: this page needs the team's token\n",
                                    headers=CHALLENGE)  # fmt: skip
        return await handler(request)

    server = web.Application(middlewares=[guard])
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
    if token:
        log.info("socialsla: the on-call page, /board and /waiting ask for SOCIALSLA_PAGE_TOKEN")
    else:
        log.info("socialsla: the on-call page, /board and /waiting are open to whoever reaches port %d "
                 "(set SOCIALSLA_PAGE_TOKEN to protect them)", port)  # fmt: skip
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
