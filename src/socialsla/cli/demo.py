"""`socialsla demo`: a worker, a webhook gateway, generated traffic through it and a terminal screen of
every series, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Final

from socialsla.cli.options import positive
from socialsla.cli.send import traffic_flags, traffic_shape
from socialsla.cli.startup import TOOL_BROKER_WAIT_S, port_taken, read_settings, topics_ready, web_port_taken
from socialsla.cli.webhooks import META_BOT_APP, X_BOT_APP, names_file
from socialsla.core.calendars import Calendar
from socialsla.core.clock import parse_clock
from socialsla.core.duration import clock_reading
from socialsla.core.rulebook import load_book
from socialsla.stream.settings import Settings
from socialsla.stream.shutdown import STOP_SIGNALS, die_with_parent

#: The demo's rules when SOCIALSLA_RULES_FILE is not set: the badge and one calendar of business hours.
DEMO_RULES: Final = Path(__file__).with_name("demo.toml")

#: The demo's R when SOCIALSLA_RESPONSE_WINDOW is not set.
DEMO_RESPONSE_WINDOW: Final = "1h"
#: The demo's S when SOCIALSLA_RESOLUTION_WINDOW is not set: shorter than the backfill, so that some
#: resolutions come late and "resolved in time" says something.
DEMO_RESOLUTION_WINDOW: Final = "1h"


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
    log_dir = Path(args.log_dir)
    settings = _demo_settings(log_dir)
    book = load_book(settings.rules_file)
    if web_port_taken(settings, "demo"):
        return 1
    if port_taken(settings.ingest_host, settings.ingest_port, "demo", "webhooks", "SOCIALSLA_INGEST_PORT"):
        return 1
    if not asyncio.run(topics_ready(settings, "demo", TOOL_BROKER_WAIT_S)):
        return 1
    history = _history(settings)
    print(history, flush=True)
    worker = _start(["worker"], settings, log_dir, "worker", _WORKER_SETTINGS)
    gateway = _start(["ingest"], settings, log_dir, "gateway", _GATEWAY_SETTINGS)
    url = f"http://{settings.web_host}:{settings.web_port}/metrics"
    print(f"worker started (pid {worker.process.pid}); log: {worker.log}\nmetrics: {url}\n"
          f"on-call page (who is waiting): http://{settings.web_host}:{settings.web_port}/\n"
          f"gateway started (pid {gateway.process.pid}); log: {gateway.log}\n"
          f"webhooks: http://{settings.ingest_host}:{settings.ingest_port}/meta, /x, /chatwoot",
          flush=True)  # fmt: skip
    try:
        failure = asyncio.run(_demo_screen(args, settings, (worker, gateway), url, book.calendars, history))
    finally:
        _stop(gateway, settings)  # no more deliveries, then the worker
        _stop(worker, settings)
    if failure is not None:
        print(f"socialsla demo: {failure}", file=sys.stderr)
        return 1
    print("\nstopped: generator, gateway and worker", flush=True)
    return 0


def _demo_settings(log_dir: Path) -> Settings:
    """The environment's settings, with the demo's rules, windows and gateway secrets unless those are set.

    The gateway's secrets are made for this run and handed to the gateway and
    the generator alone; the names file maps the demo's page ids to its accounts.
    """
    settings = read_settings()
    if settings.rules_file is None:  # a newcomer's demo shows both clocks
        settings = dataclasses.replace(settings, rules_file=DEMO_RULES)
    if "SOCIALSLA_RESPONSE_WINDOW" not in os.environ:
        # With R = 24 h nothing is missed while a person watches; customers expect an answer
        # within the hour, and with R = 1h the backfill's first hour already holds misses.
        settings = dataclasses.replace(settings, response_window=DEMO_RESPONSE_WINDOW)
    if "SOCIALSLA_RESOLUTION_WINDOW" not in os.environ:
        # With S = 24 h every resolution of the demo's two hours is in time: 100% says nothing.
        settings = dataclasses.replace(settings, resolution_window=DEMO_RESOLUTION_WINDOW)
    log_dir.mkdir(parents=True, exist_ok=True)
    names = log_dir / "accounts.toml"
    names.write_text(names_file())
    return dataclasses.replace(
        settings,
        ingest_accounts=settings.ingest_accounts or names,
        meta_app_secret=settings.meta_app_secret or secrets.token_hex(16),
        meta_verify_token=settings.meta_verify_token or secrets.token_hex(8),
        meta_automated_app_ids=settings.meta_automated_app_ids or META_BOT_APP,
        x_consumer_secret=settings.x_consumer_secret or secrets.token_hex(16),
        x_automated_app_ids=settings.x_automated_app_ids or X_BOT_APP,
        chatwoot_secret=settings.chatwoot_secret or secrets.token_hex(16),
    )


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


#: The settings the demo may choose for its worker (`_demo_settings`), and in addition for its gateway:
#: the secrets of this run go to the gateway alone.
_WORKER_SETTINGS: Final = ("rules_file", "response_window", "resolution_window")
_GATEWAY_SETTINGS: Final = (
    *_WORKER_SETTINGS, "ingest_accounts", "meta_app_secret", "meta_verify_token", "meta_automated_app_ids",
    "x_consumer_secret", "x_automated_app_ids", "chatwoot_secret",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class _Child:
    """A process the demo started: the worker or the gateway."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path


def _start(
    command: list[str], settings: Settings, log_dir: Path, name: str, chosen: tuple[str, ...]
) -> _Child:
    """Start `socialsla COMMAND` with the demo's `chosen` settings, its output in log_dir/NAME.log."""
    log_path = log_dir / f"{name}.log"
    env = dict(os.environ)
    env.setdefault("SOCIALSLA_DATA_DIR", str(log_dir / "data"))
    for setting in chosen:
        env[f"SOCIALSLA_{setting.upper()}"] = str(getattr(settings, setting))
    with open(log_path, "ab") as log:
        # A session of its own: Ctrl-C reaches the demo only, which stops the generator,
        # the gateway and then the worker in order, and can tell a stop it asked for from a crash.
        # It ends with the demo however the demo ends (SIGKILL included): nothing outlives it.
        process = subprocess.Popen(
            [sys.executable, "-m", "socialsla.cli", *command],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )
    return _Child(name, process, log_path)


def _stop(child: _Child, settings: Settings) -> None:
    """SIGTERM: a child ends itself within its shutdown timeout; killing it is the backstop."""
    if child.process.poll() is not None:
        return
    child.process.send_signal(signal.SIGTERM)
    limit = settings.shutdown_timeout + _WORKER_STOP_MARGIN_S
    try:
        child.process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        print(f"the {child.name} (pid {child.process.pid}) did not stop within {limit:.0f}s; killed it",
              file=sys.stderr)  # fmt: skip
        child.process.kill()
        child.process.wait()


async def _demo_screen(
    args: argparse.Namespace,
    settings: Settings,
    children: tuple[_Child, ...],
    url: str,
    calendars: tuple[Calendar, ...] = (),
    history: str = "",
) -> str | None:
    """Send the generated traffic through the gateway and refresh the screen until stopped (None) or
    something fails (why)."""
    from socialsla.cli.webhooks import send_as_webhooks

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
    traffic = asyncio.create_task(send_as_webhooks(shape, settings, clock, args.backfill, on_sent))
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.refresh)
            if stop.is_set():
                return None
            failure = _failure(traffic, children)
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


def _failure(traffic: asyncio.Task[Any], children: tuple[_Child, ...]) -> str | None:
    """Why the demo must stop, if the generator, the gateway or the worker ended under it."""
    if traffic.done():
        error = traffic.exception()
        return f"the traffic generator failed: {error!r}" if error else "the traffic generator ended"
    for child in children:
        if child.process.poll() is not None:
            return (f"the {child.name} exited ({child.process.returncode}); last lines of {child.log}:\n"
                    f"{_tail(child.log)}")  # fmt: skip
    return None


def _header(settings: Settings, url: str, history: str, sent: int, running_s: float) -> list[str]:
    """The screen's first lines: time, events sent, where the metrics are, what R and S are."""
    now = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return ["\x1b[2J\x1b[H" if sys.stdout.isatty() else "",
            f"socialsla demo  {now}  running {clock_reading(running_s)}  {sent:,} events sent  Ctrl-C stops",
            f"{history}; traffic as Meta, X and Chatwoot webhooks through the gateway; metrics: {url}",
            f"R = {settings.response_window}: a post unanswered that long is missed "
            f"(SOCIALSLA_RESPONSE_WINDOW); S = {settings.resolution_window}: a conversation resolved "
            "within it is resolved in time (SOCIALSLA_RESOLUTION_WINDOW)\n"]  # fmt: skip


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
        description="Start a worker, a webhook gateway (socialsla ingest) and the traffic generator "
        "against the configured broker: the traffic goes through the gateway as signed Meta, X and "
        "Chatwoot webhooks, as a real team's would. The screen shows each account/channel against "
        "the demo's rules. Ctrl-C stops everything.",
    )
    traffic_flags(demo, "2h")
    demo.add_argument("--refresh", type=positive, default=2.0,
                      help="seconds between screen updates (default 2)")  # fmt: skip
    demo.add_argument("--log-dir", default="var/demo", help="worker log and data (default var/demo)")
    demo.set_defaults(run=_demo)
