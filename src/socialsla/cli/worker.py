"""`socialsla worker`: one streaming worker, exporting the numbers on /metrics.

Faust is imported here only when the command runs: the other commands start
fast, and the offline ones load no Kafka client at all.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from typing import Any, Final

from socialsla.cli.startup import read_settings, settings_epilog, topics_ready, web_port_taken
from socialsla.core.rulebook import load_book
from socialsla.stream.shutdown import Deadline

#: The worker's garbage-collection thresholds (Python's are 700, 10, 10).
GC_THRESHOLDS: Final = (100_000, 50, 1000)


def _worker(args: argparse.Namespace) -> int:
    settings = read_settings()
    book = load_book(settings.rules_file)
    rules = book.rules
    import uvloop  # deferred, with Faust below: the offline commands must not pay for their import

    from socialsla.app import Worker, assemble

    if web_port_taken(settings, "worker"):
        return 1
    loop = uvloop.new_event_loop()  # the worker's loop: measured faster (BENCHMARKS.md, "Tuned defaults")
    asyncio.set_event_loop(loop)
    # Until Faust's handlers are in place SIGTERM and SIGHUP keep their default (end at once:
    # nothing is started yet); SIGINT ends the wait for the broker without a traceback.
    try:
        if not loop.run_until_complete(topics_ready(settings, "worker", settings.broker_wait)):
            return 1
    except KeyboardInterrupt:
        print("socialsla worker: stopped (SIGINT) before it started", file=sys.stderr)
        return 130
    pipeline = assemble(settings, rules, calendars=book.calendars)
    # Fewer, later collections: a batch makes and drops many small objects, and the default
    # threshold (700) ran the young generation every few events (BENCHMARKS.md, "Tuned defaults").
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    shown = ", ".join(f"{k}={v}" for k, v in settings.describe() if v)
    print(f"socialsla worker: {shown}", file=sys.stderr, flush=True)
    deadline = Deadline(settings.shutdown_timeout, "socialsla worker")
    worker = Worker(pipeline.app, deadline, loop=loop, loglevel=args.loglevel, quiet=True)
    try:
        worker.execute_from_commandline()
    finally:
        print(f"socialsla worker: stopped ({deadline.elapsed():.1f} s after the stop began)",
              file=sys.stderr, flush=True)  # fmt: skip
    return 0


def add_worker_command(commands: Any) -> None:
    """Add `worker` to the top-level parser."""
    worker = commands.add_parser(
        "worker",
        help="run a streaming worker (Faust) that exports the SLA gauges on /metrics",
        description="Consume post, reply, resolve and feedback events from Kafka, keep thread and "
        "window state rebuilt from logs in Kafka (7 days + R of them), and serve /metrics (the gauges), "
        "/healthz, /waiting (who waits for an answer), / (the on-call page), /board and /runbooks. "
        "Configured by environment variables only.",
        epilog=settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument("--loglevel", default="warning", choices=("debug", "info", "warning", "error"))
    worker.set_defaults(run=_worker)
