"""The live commands: `worker`, `produce`, `generate` and `demo`.

Each reads the `SOCIALSLA_*` settings once, validates them (all problems listed
together) and only then touches Kafka. Kafka's and Prometheus' clients are
imported by the commands that use them, Faust only by `worker` and `demo`'s
worker process: the traffic tools start fast, and `socialsla report` (cli.py)
loads none of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import gc
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import orjson

from socialsla.cli.files import InputFileError, check_input
from socialsla.core.calendars import Calendar
from socialsla.core.clock import parse_clock
from socialsla.core.duration import clock_reading, parse_seconds
from socialsla.core.events import parse_time
from socialsla.core.report import iter_lines
from socialsla.core.rules import Rule, load_book
from socialsla.stream.settings import HELP, Settings, SettingsError, from_env
from socialsla.stream.shutdown import STOP_SIGNALS, Deadline, die_with_parent

if TYPE_CHECKING:
    from socialsla.cli.traffic import TrafficShape

#: How long the traffic tools wait: a person at a terminal wants to hear soon that nothing answers.
_TOOL_BROKER_WAIT_S = 3.0


async def _topics_ready(settings: Settings, command: str, wait_seconds: float) -> bool:
    """Create or check the topics (kafka.ensure_topics); on failure print one line and say False."""
    from socialsla.stream.kafka import TopicsError, ensure_topics

    try:
        await ensure_topics(settings, wait_seconds)
    except TopicsError as exc:
        print(f"socialsla {command}: {exc}", file=sys.stderr)
        return False
    return True


def _web_port_taken(settings: Settings, command: str) -> bool:
    """Whether /metrics cannot bind its address; if so, say which and what to do, in one line.

    Checked before anything starts: a worker would crash deep inside Faust, and a
    demo would show the numbers of whichever process holds the port.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.web_host, settings.web_port))
        except OSError as exc:
            print(
                f"socialsla {command}: cannot serve /metrics on {settings.web_host}:{settings.web_port}: "
                f"{exc.strerror} (another worker or demo running?); stop it or set SOCIALSLA_WEB_PORT",
                file=sys.stderr,
            )
            return True
    return False


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
        # A help text that says its own default (rules_file) is not followed by "[default: unset]".
        shown = "" if not value and "default" in HELP[name] else f" [default: {value or 'unset'}]"
        lines.append(f"  {variable:<32} {HELP[name]}{shown}")
    return "\n".join(lines)


def _worker(args: argparse.Namespace) -> int:
    settings = _settings()
    book = load_book(settings.rules_file)
    rules = book.rules
    import uvloop  # deferred, with Faust below: the offline commands must not pay for their import

    from socialsla.app import Worker, assemble

    if _web_port_taken(settings, "worker"):
        return 1
    loop = uvloop.new_event_loop()  # the worker's loop: measured faster (BENCHMARKS.md, "Tuned defaults")
    asyncio.set_event_loop(loop)
    # Until Faust's handlers are in place SIGTERM and SIGHUP keep their default (end at once:
    # nothing is started yet); SIGINT ends the wait for the broker without a traceback.
    try:
        if not loop.run_until_complete(_topics_ready(settings, "worker", settings.broker_wait)):
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


def _produce(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from socialsla.cli.traffic import send_lines, shifted

    settings = _settings()
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
    if not asyncio.run(_topics_ready(settings, "produce", _TOOL_BROKER_WAIT_S)):
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


#: The worker's garbage-collection thresholds (Python's are 700, 10, 10).
GC_THRESHOLDS: Final = (100_000, 50, 1000)
#: The demo's rules when SOCIALSLA_RULES_FILE is not set: the badge and one calendar (SPEC §7).
DEMO_RULES: Final = Path(__file__).with_name("demo.toml")
#: The demo's R when SOCIALSLA_RESPONSE_WINDOW is not set.
DEMO_RESPONSE_WINDOW: Final = "1h"


def _shape(args: argparse.Namespace, calendars: tuple[Calendar, ...] = ()) -> TrafficShape:
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

    settings = _settings()
    clock = parse_clock(settings.clock)
    if not asyncio.run(_topics_ready(settings, "generate", _TOOL_BROKER_WAIT_S)):
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
            send_generated(_shape(args), settings, clock.now_us, args.backfill, args.duration, on_sent)
        )
    except KeyboardInterrupt:
        return 0
    except KafkaError as exc:
        print(f"socialsla generate: sending to {settings.bootstrap_servers} failed: {exc}", file=sys.stderr)
        return 1
    print(f"socialsla generate: sent {sent} events", file=sys.stderr)
    return 0


def _receiver(args: argparse.Namespace) -> int:
    from socialsla.serve import receiver

    try:
        receiver.receive(args.host, args.port, args.log)
    except OSError as exc:
        print(f"socialsla receiver: cannot serve on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    print("socialsla receiver: stopped", file=sys.stderr)
    return 0


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


#: How long the demo waits for its worker beyond the worker's own shutdown timeout before killing it.
_WORKER_STOP_MARGIN_S = 5.0


def _tail(path: Path, lines: int = 8) -> str:
    """The last lines of a log, indented, for a failure message on the screen."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "  (no log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:])


def _demo(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.rules_file is None:  # a newcomer's demo shows both clocks
        settings = dataclasses.replace(settings, rules_file=DEMO_RULES)
    if "SOCIALSLA_RESPONSE_WINDOW" not in os.environ:
        # With R = 24 h nothing is missed while a person watches; customers expect an answer
        # within the hour, and with R = 1h the backfill's first hour already holds misses.
        settings = dataclasses.replace(settings, response_window=DEMO_RESPONSE_WINDOW)
    book = load_book(settings.rules_file)
    rules = book.rules
    if _web_port_taken(settings, "demo"):
        return 1
    if not asyncio.run(_topics_ready(settings, "demo", _TOOL_BROKER_WAIT_S)):
        return 1
    from socialsla.stream.kafka import events_held

    earlier = asyncio.run(events_held(settings))
    history = (
        f"continuing earlier data: the topics already hold {earlier:,} events of earlier runs "
        "(bash deploy/run demo starts clean unless given --continue)"
        if earlier
        else "starting from empty topics"
    )
    print(history, flush=True)
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    worker_log = log_dir / "worker.log"
    env = dict(os.environ)
    env.setdefault("SOCIALSLA_DATA_DIR", str(log_dir / "data"))
    env["SOCIALSLA_RULES_FILE"] = str(settings.rules_file)
    env["SOCIALSLA_RESPONSE_WINDOW"] = settings.response_window
    url = f"http://{settings.web_host}:{settings.web_port}/metrics"
    with open(worker_log, "ab") as log:
        # A session of its own: Ctrl-C reaches the demo only, which stops the generator and
        # then the worker in order, and can tell a stop it asked for from a crash.
        # It ends with the demo however the demo ends (SIGKILL included): no worker outlives it.
        worker = subprocess.Popen(
            [sys.executable, "-m", "socialsla.cli", "worker"],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )
    page = f"http://{settings.web_host}:{settings.web_port}/"
    print(f"worker started (pid {worker.pid}); log: {worker_log}\nmetrics: {url}\n"
          f"on-call page (who is waiting): {page}", flush=True)  # fmt: skip
    try:
        failure = asyncio.run(
            _demo_screen(args, settings, rules, worker, worker_log, url, book.calendars, history)
        )
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            # The worker ends itself within its shutdown timeout; this is the backstop.
            limit = settings.shutdown_timeout + _WORKER_STOP_MARGIN_S
            try:
                worker.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                print(f"the worker (pid {worker.pid}) did not stop within {limit:.0f}s; killed it",
                      file=sys.stderr)  # fmt: skip
                worker.kill()
                worker.wait()
    if failure is not None:
        print(f"socialsla demo: {failure}", file=sys.stderr)
        return 1
    print("\nstopped: generator and worker", flush=True)
    return 0


async def _demo_screen(
    args: argparse.Namespace,
    settings: Settings,
    rules: tuple[Rule, ...],
    worker: subprocess.Popen[bytes],
    worker_log: Path,
    url: str,
    calendars: tuple[Calendar, ...] = (),
    history: str = "",
) -> str | None:
    """Generate traffic and refresh the summary until stopped (None) or something fails (why)."""
    from socialsla.cli import screen as summary
    from socialsla.cli.traffic import send_generated

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:  # a closed terminal (SIGHUP) stops the demo as Ctrl-C does
        loop.add_signal_handler(sig, stop.set)
    sent = [0]
    started = time.monotonic()

    def on_sent(n: int) -> None:
        sent[0] = n

    traffic = asyncio.create_task(
        send_generated(
            _shape(args, calendars), settings, parse_clock(settings.clock).now_us, args.backfill, 0.0, on_sent
        )
    )
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.refresh)
            if stop.is_set():
                return None
            if traffic.done():
                error = traffic.exception()
                return f"the traffic generator failed: {error!r}" if error else "the traffic generator ended"
            if worker.poll() is not None:
                code = worker.returncode
                return f"the worker exited ({code}); last lines of {worker_log}:\n{_tail(worker_log)}"
            text = await loop.run_in_executor(None, _fetch, url)
            now = time.strftime("%Y-%m-%d %H:%M:%S %Z")
            running = clock_reading(time.monotonic() - started)
            screen = ["\x1b[2J\x1b[H" if sys.stdout.isatty() else "",
                      f"socialsla demo  {now}  running {running}  {sent[0]:,} events sent  Ctrl-C stops",
                      f"{history}; metrics: {url}",
                      f"R = {settings.response_window}: a post unanswered that long is missed "
                      "(SOCIALSLA_RESPONSE_WINDOW)\n"]  # fmt: skip
            if text is None:
                screen.append(
                    "(waiting for the worker's /metrics: it is starting and joining its consumer group; "
                    "after a worker was killed, Kafka waits for that one's session to run out, "
                    f"SOCIALSLA_SESSION_TIMEOUT = {settings.session_timeout:g} s)"
                )
            else:
                screen.append(summary.render(summary.parse(text)))
            print("\n".join(screen), flush=True)
        return None
    finally:
        traffic.cancel()
        with contextlib.suppress(BaseException):
            await traffic


def _number(text: str, low: float, high: float = math.inf, low_included: bool = True) -> float:
    """A float flag within bounds, or argparse's clean usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    above = value >= low if low_included else value > low
    if not (above and value <= high) or math.isnan(value):
        bound = f"at least {low:g}" if low_included else f"more than {low:g}"
        if high != math.inf:
            bound += f" and at most {high:g}"
        raise argparse.ArgumentTypeError(f"{text} must be {bound}")
    return value


def _positive(text: str) -> float:
    return _number(text, 0.0, low_included=False)


def _rate_or_unlimited(text: str) -> float:
    return _number(text, 0.0)


def _share(text: str) -> float:
    return _number(text, 0.0, 1.0)


def _duration_or_none(text: str) -> float:
    """A duration flag where 0 means none (no backfill, no end)."""
    if text.strip() in ("0", "0s"):
        return 0.0
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or 0") from None


def _duration(text: str) -> float:
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _traffic_flags(command: argparse.ArgumentParser, backfill: str) -> None:
    command.add_argument("--accounts", default="acme,globex,initech", help="comma-separated brand accounts")
    command.add_argument("--channels", default="facebook,instagram,x", help="comma-separated channels")
    command.add_argument("--rate", type=_positive, default=2.0, metavar="CONVERSATIONS",
                         help="new conversations per second, more than 0; each is 1 to 5 events "
                              "(default 2)")  # fmt: skip
    command.add_argument("--median-reply", type=_duration, default=420.0, metavar="DURATION",
                         help="median first-reply latency (log-normal; default 7m)")  # fmt: skip
    command.add_argument("--unanswered", type=_share, default=0.03,
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
        type=_duration_or_none,
        default=parse_seconds(backfill),
        metavar="DURATION",
        help=f"history sent at once before live traffic (default {backfill}; 0 for none)",
    )


def register(commands: Any) -> None:
    """Add the live subcommands to the top-level parser."""
    worker = commands.add_parser(
        "worker",
        help="run a streaming worker (Faust) that exports the SLA gauges on /metrics",
        description="Consume post and reply events from Kafka, keep thread and window state "
        "rebuilt from logs in Kafka (7 days + R of them), and serve /metrics and /healthz. "
        "Configured by environment variables only.",
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
    # Not --rate: that is conversations per second in generate and demo, and a conversation is
    # several events.
    produce.add_argument("--events-per-second", dest="rate", type=_rate_or_unlimited, default=0.0,
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
    _traffic_flags(generate, "1h")
    generate.add_argument("--duration", type=_duration_or_none, default=0.0, metavar="DURATION",
                          help="stop after this long (default 0: run until Ctrl-C)")  # fmt: skip
    generate.set_defaults(run=_generate)

    hooks = commands.add_parser(
        "receiver",
        help="take Alertmanager's webhooks and log each page, one line per alert",
        description="A page receiver for Alertmanager (webhook_configs url http://HOST:PORT/hooks/NAME): "
        "writes each alert as one line with its receiver, status, severity, alert, account/channel, "
        "summary, description and runbook link. deploy/run stack routes every page here.",
    )
    hooks.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    hooks.add_argument("--port", type=int, default=9095, help="port to listen on (default 9095)")
    hooks.add_argument("--log", type=Path, help="append pages to this file (default: standard output)")
    hooks.set_defaults(run=_receiver)

    demo = commands.add_parser(
        "demo",
        help="the live pipeline with demo traffic and a refreshing terminal summary",
        description="Start a worker and the traffic generator against the configured broker "
        "and show each account/channel against the badge rule. Ctrl-C stops everything.",
    )
    _traffic_flags(demo, "2h")
    demo.add_argument("--refresh", type=_positive, default=2.0,
                      help="seconds between screen updates (default 2)")  # fmt: skip
    demo.add_argument("--log-dir", default="var/demo", help="worker log and data (default var/demo)")
    demo.set_defaults(run=_demo)
