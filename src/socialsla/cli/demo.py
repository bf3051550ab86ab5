"""`socialsla demo`: a worker, generated traffic and a terminal screen of every series, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Final

from socialsla.cli.options import positive
from socialsla.cli.send import traffic_flags, traffic_shape
from socialsla.cli.startup import TOOL_BROKER_WAIT_S, read_settings, topics_ready, web_port_taken
from socialsla.core.calendars import Calendar
from socialsla.core.clock import parse_clock
from socialsla.core.duration import clock_reading
from socialsla.core.rulebook import load_book
from socialsla.core.rules import Rule
from socialsla.stream.settings import Settings
from socialsla.stream.shutdown import STOP_SIGNALS, die_with_parent

#: The demo's rules when SOCIALSLA_RULES_FILE is not set: the badge and one calendar of business hours.
DEMO_RULES: Final = Path(__file__).with_name("demo.toml")

#: The demo's R when SOCIALSLA_RESPONSE_WINDOW is not set.
DEMO_RESPONSE_WINDOW: Final = "1h"


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
    settings = _demo_settings()
    book = load_book(settings.rules_file)
    if web_port_taken(settings, "demo"):
        return 1
    if not asyncio.run(topics_ready(settings, "demo", TOOL_BROKER_WAIT_S)):
        return 1
    history = _history(settings)
    print(history, flush=True)
    worker, worker_log, url = _start_worker(settings, Path(args.log_dir))
    try:
        failure = asyncio.run(
            _demo_screen(args, settings, book.rules, worker, worker_log, url, book.calendars, history)
        )
    finally:
        _stop_worker(worker, settings)
    if failure is not None:
        print(f"socialsla demo: {failure}", file=sys.stderr)
        return 1
    print("\nstopped: generator and worker", flush=True)
    return 0


def _demo_settings() -> Settings:
    """The environment's settings, with the demo's rules and response window unless those are set."""
    settings = read_settings()
    if settings.rules_file is None:  # a newcomer's demo shows both clocks
        settings = dataclasses.replace(settings, rules_file=DEMO_RULES)
    if "SOCIALSLA_RESPONSE_WINDOW" not in os.environ:
        # With R = 24 h nothing is missed while a person watches; customers expect an answer
        # within the hour, and with R = 1h the backfill's first hour already holds misses.
        settings = dataclasses.replace(settings, response_window=DEMO_RESPONSE_WINDOW)
    return settings


def _history(settings: Settings) -> str:
    """Whether the topics hold earlier runs' events: a newcomer must know what the numbers include."""
    from socialsla.stream.kafka import events_held

    earlier = asyncio.run(events_held(settings))
    if earlier:
        return (
            f"continuing earlier data: the topics already hold {earlier:,} events of earlier runs "
            "(bash deploy/run demo starts clean unless given --continue)"
        )
    return "starting from empty topics"


def _start_worker(settings: Settings, log_dir: Path) -> tuple[subprocess.Popen[bytes], Path, str]:
    """Start `socialsla worker` on the demo's settings; say where its log, metrics and page are."""
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
    return worker, worker_log, url


def _stop_worker(worker: subprocess.Popen[bytes], settings: Settings) -> None:
    """SIGTERM: the worker ends itself within its shutdown timeout; killing it is the backstop."""
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    limit = settings.shutdown_timeout + _WORKER_STOP_MARGIN_S
    try:
        worker.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        print(f"the worker (pid {worker.pid}) did not stop within {limit:.0f}s; killed it",
              file=sys.stderr)  # fmt: skip
        worker.kill()
        worker.wait()


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
    """Generate traffic and refresh the screen until stopped (None) or something fails (why)."""
    from socialsla.cli.traffic import send_generated

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:  # a closed terminal (SIGHUP) stops the demo as Ctrl-C does
        loop.add_signal_handler(sig, stop.set)
    sent = [0]
    started = time.monotonic()

    def on_sent(n: int) -> None:
        sent[0] = n

    clock = parse_clock(settings.clock).now_us
    shape = traffic_shape(args, calendars)
    traffic = asyncio.create_task(send_generated(shape, settings, clock, args.backfill, 0.0, on_sent))
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.refresh)
            if stop.is_set():
                return None
            failure = _failure(traffic, worker, worker_log)
            if failure is not None:
                return failure
            text = await loop.run_in_executor(None, _fetch, url)
            header = _header(settings, url, history, sent[0], time.monotonic() - started)
            print("\n".join([*header, _body(text, settings)]), flush=True)
        return None
    finally:
        traffic.cancel()
        with contextlib.suppress(BaseException):
            await traffic


def _failure(traffic: asyncio.Task[Any], worker: subprocess.Popen[bytes], worker_log: Path) -> str | None:
    """Why the demo must stop, if the generator or the worker ended under it."""
    if traffic.done():
        error = traffic.exception()
        return f"the traffic generator failed: {error!r}" if error else "the traffic generator ended"
    if worker.poll() is not None:
        return f"the worker exited ({worker.returncode}); last lines of {worker_log}:\n{_tail(worker_log)}"
    return None


def _header(settings: Settings, url: str, history: str, sent: int, running_s: float) -> list[str]:
    """The screen's first lines: time, events sent, where the metrics are, what R is."""
    now = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return ["\x1b[2J\x1b[H" if sys.stdout.isatty() else "",
            f"socialsla demo  {now}  running {clock_reading(running_s)}  {sent:,} events sent  Ctrl-C stops",
            f"{history}; metrics: {url}",
            f"R = {settings.response_window}: a post unanswered that long is missed "
            "(SOCIALSLA_RESPONSE_WINDOW)\n"]  # fmt: skip


def _body(text: str | None, settings: Settings) -> str:
    """The series as the worker's /metrics shows them, or why there is nothing yet."""
    from socialsla.cli.screen import draw, read_scrape  # prometheus_client's parser: only the demo needs it

    if text is None:
        return (
            "(waiting for the worker's /metrics: it is starting and joining its consumer group; "
            "after a worker was killed, Kafka waits for that one's session to run out, "
            f"SOCIALSLA_SESSION_TIMEOUT = {settings.session_timeout:g} s)"
        )
    return draw(read_scrape(text))


def add_demo_command(commands: Any) -> None:
    """Add `demo` to the top-level parser."""
    demo = commands.add_parser(
        "demo",
        help="the live pipeline with demo traffic and a refreshing terminal screen",
        description="Start a worker and the traffic generator against the configured broker "
        "and show each account/channel against the badge rule. Ctrl-C stops everything.",
    )
    traffic_flags(demo, "2h")
    demo.add_argument("--refresh", type=positive, default=2.0,
                      help="seconds between screen updates (default 2)")  # fmt: skip
    demo.add_argument("--log-dir", default="var/demo", help="worker log and data (default var/demo)")
    demo.set_defaults(run=_demo)
