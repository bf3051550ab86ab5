"""The naive peer: what a user would write before socialsla, for the benchmark to compare with.

One Faust agent over posts and replies, per-event table writes, and `Table.hopping`
windows of 7 days stepping hourly for the per-(account, channel) counts: the
obvious design (and the one faust-streaming issues #385 and #193 warn about).
It counts inbound posts and first replies per window; it does no less work than
that per event, and no more.

Run: python bench/naive_app.py BOOTSTRAP PREFIX PROGRESS_FILE
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import faust
import orjson


def main(bootstrap: str, prefix: str, progress: Path) -> None:
    app = faust.App(
        f"{prefix}-naive",
        broker=f"kafka://{bootstrap}",
        store="rocksdb://",
        datadir=str(progress.parent / "naive-data"),
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        key_serializer="raw",
        value_serializer="raw",
    )
    source = app.topic(f"{prefix}.posts", f"{prefix}.replies", key_type=bytes, value_type=bytes)
    first_reply = app.Table("first_reply", default=lambda: 0.0)
    opened = app.Table("opened", default=lambda: 0.0)
    inbound = app.Table("inbound", default=int).hopping(
        timedelta(days=7), timedelta(hours=1), expires=timedelta(days=8)
    )
    answered = app.Table("answered", default=int).hopping(
        timedelta(days=7), timedelta(hours=1), expires=timedelta(days=8)
    )
    done = [0]

    @app.agent(source)
    async def process(stream: Any) -> None:
        async for value in stream:
            event = orjson.loads(value)
            series = f"{event['account']}|{event['channel']}"
            conversation = f"{series}|{event['conversation_id']}"
            if event["type"] == "post":
                if not opened[conversation]:
                    opened[conversation] = 1.0
                    inbound[series] += 1
            elif opened[conversation] and not first_reply[conversation]:
                first_reply[conversation] = 1.0
                answered[series] += 1
            done[0] += 1

    @app.timer(interval=0.5)
    async def report() -> None:
        progress.write_text(f"{done[0]} {time.monotonic()}")

    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
