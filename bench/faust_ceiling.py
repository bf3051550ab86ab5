"""The Faust ceiling: an agent that takes events in batches and does nothing with them.

What any Faust app can reach on this machine before doing any work: the rate at
which Faust's consumer, conductor and stream hand messages to an agent. Modes:

* `faust`: stock Faust, its defaults;
* `tuned`: stock Faust (its own delivery loop) with the best settings stock Faust
  allows: uvloop, a consumer fetch of FETCH_MIB per partition, no cap on the
  records of a poll, a deeper stream buffer (`bench/run.py` sweeps FETCH_MIB and
  keeps the best as the ceiling ours is measured against);
* `socialsla`: the same settings on the worker's own app class (`socialsla.app._App`,
  which installs the consumer and producer workarounds of
  socialsla/stream/workarounds.py as `socialsla worker` does: its delivery loop and
  commit guard), to show what that change is worth.

Run: python bench/faust_ceiling.py BOOTSTRAP PREFIX PROGRESS_FILE {faust,tuned,socialsla} [FETCH_MIB]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import faust

from socialsla.app import _App as WorkerApp  # the worker's wiring of workarounds.py, not a copy of it


def main(bootstrap: str, prefix: str, progress: Path, mode: str, fetch_mib: int) -> None:
    kind = WorkerApp if mode == "socialsla" else faust.App
    tuning: dict[str, Any] = {}
    loop = None
    if mode != "faust":
        import uvloop

        loop = uvloop.new_event_loop()
        tuning = {
            "consumer_max_fetch_size": fetch_mib << 20,
            "broker_max_poll_records": None,
            "stream_buffer_maxsize": 65_536,
        }
    app = kind(
        f"{prefix}-ceiling-{mode}-{fetch_mib}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        **tuning,
    )
    source = app.topic(f"{prefix}.posts", f"{prefix}.replies", key_type=bytes, value_type=bytes)
    done = [0]

    @app.agent(source)
    async def process(stream: Any) -> None:
        async for batch in stream.take_events(5000, within=0.1):
            done[0] += len(batch)

    @app.timer(interval=0.25)
    async def report() -> None:
        progress.write_text(f"{done[0]} {time.monotonic()}")

    worker = faust.Worker(app, loglevel="warning", quiet=True, loop=loop)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(
        sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 1
    )
