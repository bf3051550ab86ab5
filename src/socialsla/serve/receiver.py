"""A page receiver for Alertmanager's webhooks: each notification becomes lines of a log a person reads.

`deploy/run stack` routes every Alertmanager receiver here, so a newcomer sees a
page arrive (in `var/stack/pages.log`) instead of Alertmanager posting to a port
where nothing listens. In production, point the receivers at your pager; this is
the reference of what each page carries.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson
from aiohttp import web

from socialsla.stream.shutdown import STOP_SIGNALS


def page_lines(receiver: str, body: Any) -> list[str]:
    """One line per alert of an Alertmanager webhook body (version 4), as a person reads a page."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise ValueError("not an Alertmanager notification: no list of alerts")
    lines = []
    for alert in body["alerts"]:
        if not isinstance(alert, dict):
            raise ValueError("an alert is not a JSON object")
        labels = alert.get("labels") or {}
        notes = alert.get("annotations") or {}
        where = "/".join(str(labels[key]) for key in ("account", "channel") if key in labels)
        status = str(alert.get("status", "?")).upper()
        what = str(labels.get("alertname", "?")) + (f" {where}" if where else "") + ":"
        when = str(alert.get("startsAt", ""))[:19] + "Z"
        parts = [when, receiver, status, str(labels.get("severity", "-")), what]
        parts += [str(notes[key]) for key in ("summary", "description") if notes.get(key)]
        if notes.get("runbook_url"):
            parts.append(f"runbook: {notes['runbook_url']}")
        lines.append(" ".join(parts))
    return lines


async def listen(host: str, port: int, out: TextIO) -> None:
    """Take webhooks on POST /hooks/RECEIVER until a stop signal; write each page to `out`."""

    async def hook(request: web.Request) -> web.Response:
        receiver = request.match_info["receiver"]
        try:
            lines = page_lines(receiver, orjson.loads(await request.read()))
        except (orjson.JSONDecodeError, ValueError) as exc:
            print(f"{receiver}: refused a notification: {exc}", file=out, flush=True)
            return web.Response(status=400, text=f"{exc}\n")
        for line in lines:
            print(line, file=out, flush=True)
        return web.Response(text="ok\n")

    server = web.Application()
    server.router.add_post("/hooks/{receiver}", hook)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"socialsla receiver: taking Alertmanager webhooks on http://{host}:{port}/hooks/RECEIVER",
          file=sys.stderr, flush=True)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def receive(host: str, port: int, log: Path | None) -> None:
    """Serve, appending pages to `log` (and to stdout when there is none)."""
    if log is None:
        asyncio.run(listen(host, port, sys.stdout))
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as out:
        asyncio.run(listen(host, port, out))
