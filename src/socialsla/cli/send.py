"""`socialsla produce` and `socialsla generate`: events into the input topics, from a file or made up."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from socialsla.cli.files import InputFileError, check_input, iter_lines
from socialsla.cli.options import duration_or_none, duration_seconds, positive, rate_or_unlimited, share
from socialsla.cli.startup import TOOL_BROKER_WAIT_S, read_settings, topics_ready
from socialsla.core.calendars import Calendar
from socialsla.core.clock import parse_clock
from socialsla.core.duration import parse_seconds
from socialsla.core.events import parse_time
from socialsla.core.rulebook import load_book

if TYPE_CHECKING:
    from socialsla.cli.traffic import TrafficShape


def _produce(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from socialsla.cli.traffic import send_lines, shifted

    settings = read_settings()
    offset = 0
    path = args.events
    try:
        check_input(path)
    except InputFileError as exc:
        print(f"socialsla produce: {exc}", file=sys.stderr)
        return 1
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
    if not asyncio.run(topics_ready(settings, "produce", TOOL_BROKER_WAIT_S)):
        return 1
    stream: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    try:
        lines = (shifted(line, offset) if offset else line for line in iter_lines(stream))

        def progress(n: int) -> None:
            print(f"... sent {n:,}", file=sys.stderr, flush=True)

        sent = asyncio.run(send_lines(lines, settings, args.rate, progress))
    except KafkaError as exc:
        print(f"socialsla produce: sending to {settings.bootstrap_servers} failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    print(f"socialsla produce: sent {sent} events to {settings.bootstrap_servers}", file=sys.stderr)
    return 0


def traffic_shape(args: argparse.Namespace, calendars: tuple[Calendar, ...] = ()) -> TrafficShape:
    from socialsla.cli.traffic import TrafficShape

    if args.calendars is not None:
        calendars = load_book(args.calendars).calendars
    return TrafficShape(
        accounts=tuple(args.accounts.split(",")),
        channels=tuple(args.channels.split(",")),
        rate=args.rate,
        median_reply_seconds=args.median_reply,
        unanswered_share=args.unanswered,
        seed=args.seed,
        calendars=calendars,
    )


def _generate(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from socialsla.cli.traffic import send_generated

    settings = read_settings()
    clock = parse_clock(settings.clock)
    if not asyncio.run(topics_ready(settings, "generate", TOOL_BROKER_WAIT_S)):
        return 1
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
            send_generated(traffic_shape(args), settings, clock.now_us, args.backfill, args.duration, on_sent)
        )
    except KeyboardInterrupt:
        return 0
    except KafkaError as exc:
        print(f"socialsla generate: sending to {settings.bootstrap_servers} failed: {exc}", file=sys.stderr)
        return 1
    print(f"socialsla generate: sent {sent} events", file=sys.stderr)
    return 0


def traffic_flags(command: argparse.ArgumentParser, backfill: str) -> None:
    command.add_argument("--accounts", default="acme,globex,initech", help="comma-separated brand accounts")
    command.add_argument("--channels", default="facebook,instagram,x", help="comma-separated channels")
    command.add_argument("--rate", type=positive, default=2.0, metavar="CONVERSATIONS",
                         help="new conversations per second, more than 0; each is 1 to 5 events "
                              "(default 2)")  # fmt: skip
    command.add_argument("--median-reply", type=duration_seconds, default=420.0, metavar="DURATION",
                         help="median first-reply latency (log-normal; default 7m)")  # fmt: skip
    command.add_argument("--unanswered", type=share, default=0.03,
                         help="share never answered in a well-staffed series, 0 to 1; a third of "
                              "the series leave twice as many, another third three times "
                              "(default 0.03)")  # fmt: skip
    command.add_argument("--seed", type=int, default=1, help="random seed (same seed, same traffic shape)")
    command.add_argument(
        "--calendars",
        type=Path,
        metavar="FILE",
        help="a rules file whose [[calendar]] teams answer only while open; the demo uses "
        "its own rules file's calendars by default",
    )
    command.add_argument(
        "--backfill",
        type=duration_or_none,
        default=parse_seconds(backfill),
        metavar="DURATION",
        help=f"history sent at once before live traffic (default {backfill}; 0 for none)",
    )


def add_send_commands(commands: Any) -> None:
    """Add `produce` and `generate` to the top-level parser."""
    produce = commands.add_parser(
        "produce",
        help="replay a JSON Lines events file into the input topics",
        description="Send each line to the posts or replies topic by its type, keyed by "
        "conversation_id. Invalid lines are sent as they are (the worker dead-letters them).",
    )
    produce.add_argument("events", help="JSON Lines file, or - for stdin")
    # Not --rate: that is conversations per second in generate and demo, and a conversation is
    # several events.
    produce.add_argument("--events-per-second", dest="rate", type=rate_or_unlimited, default=0.0,
                         metavar="N", help="lines sent per second (default 0: no limit)")  # fmt: skip
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
    traffic_flags(generate, "1h")
    generate.add_argument("--duration", type=duration_or_none, default=0.0, metavar="DURATION",
                          help="stop after this long (default 0: run until Ctrl-C)")  # fmt: skip
    generate.set_defaults(run=_generate)
