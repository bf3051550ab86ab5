"""The live commands: `worker`, `produce`, `generate` and `demo`.

Each reads the `SOCIALSLA_*` settings once, validates them (all problems listed
together) and only then touches Kafka. Faust is imported only by `worker` and
`demo`'s worker process, so the traffic tools start fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from socialsla import summary
from socialsla.clock import parse_clock
from socialsla.duration import parse_seconds
from socialsla.events import parse_time
from socialsla.report import iter_lines
from socialsla.rules import load_rules
from socialsla.settings import HELP, Settings, SettingsError, from_env
from socialsla.traffic import TrafficShape, replay, send_generated, shifted


def _settings() -> Settings:
    try:
        return from_env(os.environ)
    except SettingsError as exc:
        print("socialsla: bad settings:\n  " + str(exc).replace("\n", "\n  "), file=sys.stderr)
        raise SystemExit(1) from None


def _settings_epilog() -> str:
    lines = ["settings (environment variables, read once at start):"]
    for variable, value in Settings().describe():
        name = variable.removeprefix("SOCIALSLA_").lower()
        lines.append(f"  {variable:<32} {HELP[name]} [default: {value or 'unset'}]")
    return "\n".join(lines)


def _worker(args: argparse.Namespace) -> int:
    settings = _settings()
    rules = load_rules(settings.rules_file)
    import faust  # deferred: the offline commands must not pay for Faust's import

    from socialsla.app import build
    from socialsla.kafka import ensure_topics

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(ensure_topics(settings))
    except Exception as exc:
        print(
            f"socialsla worker: cannot prepare topics on {settings.bootstrap_servers}: {exc}",
            file=sys.stderr,
        )
        return 1
    pipeline = build(settings, rules)
    shown = ", ".join(f"{k}={v}" for k, v in settings.describe() if v)
    print(f"socialsla worker: {shown}", file=sys.stderr, flush=True)
    worker = faust.Worker(pipeline.app, loop=loop, loglevel=args.loglevel, quiet=True)
    # Faust's terminal spinner puts the root logger at DEBUG to spin on every record, which makes
    # every debug call in Faust and aiokafka build a log record: a quarter of the CPU in a profile.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0


def _produce(args: argparse.Namespace) -> int:
    settings = _settings()
    offset = 0
    path = args.events
    if args.shift_to_now:
        if path == "-":
            print(
                "socialsla produce: --shift-to-now needs a file (it reads it twice)",
                file=sys.stderr,
            )
            return 2
        latest = None
        with open(path, "rb") as source:
            for line in iter_lines(source):
                with contextlib.suppress(Exception):
                    at = parse_time(orjson.loads(line)["created_at"])
                    latest = at if latest is None else max(latest, at)
        if latest is not None:
            offset = parse_clock("system").now_us() - latest
    stream: BinaryIO
    try:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        print(f"socialsla produce: {path}: no such file", file=sys.stderr)
        return 1
    try:
        lines = (shifted(line, offset) if offset else line for line in iter_lines(stream))

        def progress(n: int) -> None:
            print(f"... sent {n:,}", file=sys.stderr, flush=True)

        sent = asyncio.run(replay(lines, settings, args.rate, progress))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    print(f"socialsla produce: sent {sent} events to {settings.bootstrap_servers}", file=sys.stderr)
    return 0


def _shape(args: argparse.Namespace) -> TrafficShape:
    return TrafficShape(
        accounts=tuple(args.accounts.split(",")),
        channels=tuple(args.channels.split(",")),
        rate=args.rate,
        median_reply_seconds=args.median_reply,
        unanswered_share=args.unanswered,
        seed=args.seed,
    )


def _generate(args: argparse.Namespace) -> int:
    settings = _settings()
    clock = parse_clock(settings.clock)
    started = time.monotonic()

    def on_sent(n: int) -> None:
        if n % 1000 == 0:
            print(
                f"... {n:,} events in {time.monotonic() - started:.0f}s",
                file=sys.stderr,
                flush=True,
            )

    try:
        sent = asyncio.run(
            send_generated(_shape(args), settings, clock.now_us, args.backfill, args.duration, on_sent)
        )
    except KeyboardInterrupt:
        return 0
    print(f"socialsla generate: sent {sent} events", file=sys.stderr)
    return 0


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


def _demo(args: argparse.Namespace) -> int:
    settings = _settings()
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    worker_log = log_dir / "worker.log"
    env = dict(os.environ)
    env.setdefault("SOCIALSLA_DATA_DIR", str(log_dir / "data"))
    url = f"http://{settings.web_host}:{settings.web_port}/metrics"
    with open(worker_log, "ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "socialsla.cli", "worker"], env=env, stdout=log, stderr=log
        )
    print(f"worker started (pid {worker.pid}); log: {worker_log}\nmetrics: {url}", flush=True)
    loop = asyncio.new_event_loop()
    sent = [0]

    def on_sent(n: int) -> None:
        sent[0] = n

    traffic = loop.create_task(
        send_generated(_shape(args), settings, parse_clock(settings.clock).now_us,
                       args.backfill, 0.0, on_sent)
    )  # fmt: skip
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            loop.run_until_complete(asyncio.sleep(args.refresh))
            if traffic.done() and traffic.exception() is not None:
                print(f"traffic generator failed: {traffic.exception()}", file=sys.stderr)
                break
            if worker.poll() is not None:
                print(f"the worker exited ({worker.returncode}); see {worker_log}", file=sys.stderr)
                break
            text = _fetch(url)
            screen = ["\x1b[2J\x1b[H" if sys.stdout.isatty() else "",
                      f"socialsla demo: {sent[0]:,} events sent; {url}; Ctrl-C stops\n"]  # fmt: skip
            if text is None:
                screen.append("(waiting for the worker's /metrics ...)")
            else:
                screen.append(summary.render(summary.parse(text)))
            print("\n".join(screen), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        traffic.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(traffic)
        loop.close()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        print("\nstopped: generator and worker", flush=True)
    return 0


def _traffic_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--accounts", default="acme,globex,initech", help="comma-separated brand accounts")
    command.add_argument("--channels", default="facebook,instagram,x", help="comma-separated channels")
    command.add_argument("--rate", type=float, default=2.0, help="new conversations per second (default 2)")
    command.add_argument("--median-reply", type=parse_seconds, default=420.0, metavar="DURATION",
                         help="median first-reply latency (log-normal; default 7m)")  # fmt: skip
    command.add_argument("--unanswered", type=float, default=0.05, help="share never answered (default 0.05)")
    command.add_argument("--seed", type=int, default=1, help="random seed (same seed, same traffic)")
    command.add_argument(
        "--backfill",
        type=parse_seconds,
        default=3600.0,
        metavar="DURATION",
        help="history sent at once before live traffic (default 1h; 0 for none)",
    )


def register(commands: Any) -> None:
    """Add the live subcommands to the top-level parser."""
    worker = commands.add_parser(
        "worker",
        help="run a streaming worker (Faust) that exports the SPEC gauges on /metrics",
        description="Consume post and reply events from Kafka, keep conversation and window "
        "state in changelog-backed tables, and serve /metrics and /healthz. Configured by "
        "environment variables only.",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument("--loglevel", default="warning", choices=("debug", "info", "warning", "error"))
    worker.set_defaults(run=_worker)

    produce = commands.add_parser(
        "produce",
        help="replay a JSON Lines events file into the input topics",
        description="Send each line to the posts or replies topic by its type, keyed by "
        "conversation_id. Invalid lines are sent as they are (the worker dead-letters them).",
    )
    produce.add_argument("events", help="JSON Lines file, or - for stdin")
    produce.add_argument("--rate", type=float, default=0.0, help="events per second (default: no limit)")
    produce.add_argument("--shift-to-now", action="store_true",
                         help="move every created_at so that the newest event is now")  # fmt: skip
    produce.set_defaults(run=_produce)

    generate = commands.add_parser(
        "generate",
        help="generate synthetic live traffic (posts, replies, auto-replies, bursts)",
        description="Synthetic customer care traffic in real time: accounts x channels, "
        "log-normal reply latency, an unanswered share, periodic bursts, a few duplicates "
        "and invalid events.",
    )
    _traffic_flags(generate)
    generate.add_argument("--duration", type=parse_seconds, default=0.0, metavar="DURATION",
                          help="stop after this long (default: run until Ctrl-C)")  # fmt: skip
    generate.set_defaults(run=_generate)

    demo = commands.add_parser(
        "demo",
        help="the live pipeline with demo traffic and a refreshing terminal summary",
        description="Start a worker and the traffic generator against the configured broker "
        "and show each account/channel against the badge rule. Ctrl-C stops everything.",
    )
    _traffic_flags(demo)
    demo.add_argument("--refresh", type=float, default=2.0, help="seconds between screen updates")
    demo.add_argument("--log-dir", default="var/demo", help="worker log and data (default var/demo)")
    demo.set_defaults(run=_demo)
