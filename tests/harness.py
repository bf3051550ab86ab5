"""Shared harness for tests that run real processes: the Kafka broker, workers, Prometheus.

Every test gets its own topics, consumer group, data directories, clock file and
web port, so tests never see each other's data. Workers are real `socialsla
worker` processes; tests wait on what the worker reports (owned partitions,
events counted), never on fixed sleeps.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson
from prometheus_client.parser import text_string_to_metric_families

BOOTSTRAP = os.environ.get("SOCIALSLA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
WORKER_READY_S = 90.0
CATCH_UP_S = 60.0
REBALANCE_S = 120.0

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


def eventually(
    probe: Callable[[], T],
    accept: Callable[[T], bool],
    timeout: float,
    what: str,
    explain: Callable[[T], str] = lambda value: f"last: {value!r}",
) -> T:
    """Poll `probe` until `accept` holds; fail naming `what` and, through `explain`, the last value seen."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; {explain(value)}")
        time.sleep(0.2)
        value = probe()
    return value


def holds(probe: Callable[[], T], accept: Callable[[T], bool], duration: float, what: str) -> T:
    """Poll `probe` for `duration` seconds: `accept` must hold at every look (a watch over time, for
    what must not happen, such as an idle worker re-reading); fail at the first look where it does not."""
    deadline = time.monotonic() + duration
    while True:
        value = probe()
        if not accept(value):
            raise AssertionError(f"{what} no longer held; last: {value!r}")
        if time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def settles(probe: Callable[[], dict[K, V]], expected: dict[K, V], timeout: float, what: str) -> dict[K, V]:
    """Poll `probe` until it equals `expected`; on timeout, fail with what still differs."""
    return eventually(
        probe, lambda got: got == expected, timeout, what, lambda got: difference(got, expected)
    )


def difference(got: dict[K, V], expected: dict[K, V], shown: int = 12) -> str:
    """The keys where two dicts differ, the first few of each kind, for a readable failure."""
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    changed = [(k, got[k], expected[k]) for k in expected if k in got and got[k] != expected[k]]
    parts = [f"{len(got)} samples, {len(expected)} expected"]
    if missing:
        parts.append(f"{len(missing)} missing: {missing[:shown]!r}")
    if extra:
        parts.append(f"{len(extra)} unexpected: {extra[:shown]!r}")
    if changed:
        parts.append(f"{len(changed)} differ (key, got, expected): {changed[:shown]!r}")
    series = sorted({_series_of(k) for k in [*missing, *extra, *(c[0] for c in changed)]} - {None})
    if series:
        parts.append(f"series involved: {series!r}")
    return "; ".join(parts)


def _series_of(key: object) -> tuple[str, str] | None:
    """(account, channel) of a metrics sample key, when it has both labels."""
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], tuple):
        labels = dict(key[1])
        if "account" in labels and "channel" in labels:
            return labels["account"], labels["channel"]
    return None


#: Ports handed out in this test run: two calls never give the same one, bound or not.
_GIVEN: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def ends_with_this_test_run() -> Callable[[], None]:
    """A `preexec_fn` for a process a test starts: SIGTERM to it when pytest itself ends, however.

    A test run killed outright (a CI timeout, Ctrl-C twice) runs no teardown; its
    workers, Prometheus and Alertmanager then ran on and held their ports.
    """
    from socialsla.stream.shutdown import die_with_parent

    return functools.partial(die_with_parent, os.getpid())


def as_a_terminal_job() -> None:
    """A `preexec_fn` for a command a test runs as a person at a terminal would: SIGINT and SIGQUIT at
    their defaults, as a terminal's foreground job has them.

    A test run started in the background of a script inherits SIGINT ignored, and bash
    cannot trap a signal ignored at its start: `deploy/run`'s Ctrl-C then did nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def run_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real console command in a child process, as a person at a terminal runs it."""
    return subprocess.run([sys.executable, "-m", "socialsla.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60, check=False)  # fmt: skip


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port() -> int:
    """A free loopback port for a server a test starts, below the kernel's ephemeral range.

    A port from the ephemeral range (32768-60999 here, where `bind(0)` picks) can be
    handed to a client as its own local port: a client reconnecting to a stopped
    broker on such a port once connected to itself, held the port, and the broker
    could not start again ("Address already in use").
    """
    low = min(_ephemeral_low(), 32768)
    picker = random.SystemRandom()
    for _ in range(1000):
        port = picker.randrange(10000, low)
        if port not in _GIVEN and bindable(port):
            _GIVEN.add(port)
            return port
    raise RuntimeError(f"no free loopback port between 10000 and {low}")


def bindable(port: int) -> bool:
    """Whether a loopback port is free again: nothing left listening on it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@dataclass
class Worker:
    """One running `socialsla worker` process."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.env["SOCIALSLA_WEB_PORT"])

    def start(self) -> Worker:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "socialsla.cli", "worker", "--loglevel", "info"],
                preexec_fn=ends_with_this_test_run(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def get(self, path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=3) as r:
                return str(r.read().decode())
        except OSError:
            return None

    def health(self) -> dict[str, object]:
        if self.process is not None and self.process.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
            raise AssertionError(f"the worker exited with {self.process.returncode}:\n{tail}")
        text = self.get("/healthz")
        return {} if text is None else dict(orjson.loads(text))

    def owned(self) -> list[int]:
        return list(self.health().get("owned_partitions", []))  # type: ignore[call-overload]

    def metrics(self) -> Samples:
        text = self.get("/metrics")
        return {} if text is None else parse_metrics(text)

    def consumed(self) -> float:
        return sum(v for (name, _), v in self.metrics().items() if name == "socialsla_events_total")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class Gateway:
    """One running `socialsla ingest` process."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.env["SOCIALSLA_INGEST_PORT"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_s: float = 60.0) -> Gateway:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "socialsla.cli", "ingest"],
                preexec_fn=ends_with_this_test_run(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        eventually(self._serving, bool, ready_s, f"the gateway on port {self.port} to serve")
        return self

    def _serving(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
            raise AssertionError(f"the gateway exited with {self.process.returncode}:\n{tail}")
        return "socialsla ingest: serving" in self.log.read_text(errors="replace")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """(status, body, headers) of one request; an HTTP error status is an answer, not a failure."""
        request = urllib.request.Request(self.url + path, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        status, answer, _ = self.request("POST", path, body, headers)
        return status, orjson.loads(answer) if answer else {}

    def metrics(self) -> Samples:
        status, text, _ = self.request("GET", "/metrics")
        return parse_metrics(text.decode()) if status == 200 else {}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int | None:
        """Signal the gateway and wait for it; its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code, self.process = self.process.returncode, None
        return code


@dataclass
class Stack:
    """The topics, clock and workers of one test."""

    tmp: Path
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)

    @classmethod
    def create(cls, tmp: Path) -> Stack:
        """Fresh topics, group, clock (at 2026-01-08T00:00:00Z) and directories under `tmp`."""
        tag = f"it{uuid.uuid4().hex[:10]}"
        clock = tmp / "clock"
        clock.write_text("2026-01-08T00:00:00Z")
        env = {
            **os.environ,
            "SOCIALSLA_BOOTSTRAP_SERVERS": BOOTSTRAP,
            "SOCIALSLA_APP_ID": tag,
            "SOCIALSLA_TOPIC_POSTS": f"{tag}.posts",
            "SOCIALSLA_TOPIC_REPLIES": f"{tag}.replies",
            "SOCIALSLA_TOPIC_OUTCOMES": f"{tag}.outcomes",
            "SOCIALSLA_TOPIC_DEADLETTER": f"{tag}.deadletter",
            "SOCIALSLA_PARTITIONS": "4",
            "SOCIALSLA_CLOCK": f"file:{clock}",
            "SOCIALSLA_REFRESH_INTERVAL": "0.5",
        }
        return cls(tmp, env)

    @property
    def clock(self) -> Path:
        return Path(self.env["SOCIALSLA_CLOCK"].removeprefix("file:"))

    def set_clock(self, when: str) -> None:
        self.clock.write_text(when)

    def worker(self, data_dir: str | None = None, **extra: str) -> Worker:
        name = f"w{len(self.workers)}"
        env = {
            **self.env,
            "SOCIALSLA_WEB_PORT": str(free_port()),
            "SOCIALSLA_DATA_DIR": str(self.tmp / (data_dir or name)),
            **extra,
        }
        worker = Worker(env, self.tmp / f"{name}.log")
        self.workers.append(worker)
        return worker.start()

    def gateway(self, **extra: str) -> Gateway:
        """A gateway on this stack's topics, every platform configured (tests/webhooks.py's secrets)."""
        from tests.webhooks import SECRETS

        env = {**self.env, **SECRETS, "SOCIALSLA_INGEST_PORT": str(free_port()), **extra}
        gateway = Gateway(env, self.tmp / f"gateway{len(self.gateways)}.log")
        self.gateways.append(gateway)
        return gateway.start()

    def produce(self, path: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "socialsla.cli", "produce", str(path)],
            env=self.env,
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()


def write_load(
    path: Path, seed: int, hours: float, rate: float, accounts: tuple[str, ...] = ("acme", "globex")
) -> int:
    """A generated events file ending at the stacks' clock (2026-01-08T00:00Z); returns its line count."""
    import asyncio

    from socialsla.cli.traffic import TrafficShape, generate
    from socialsla.core.events import parse_time

    now = parse_time("2026-01-08T00:00:00Z")
    shape = TrafficShape(accounts=accounts, rate=rate, seed=seed, burst_every_seconds=0)

    async def collect() -> list[bytes]:
        return [line async for line in generate(shape, lambda: now, hours * 3600, 0.000001)]

    lines = asyncio.run(collect())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)


def producing(stack: Stack, path: Path, rate: float) -> subprocess.Popen[bytes]:
    """Start `socialsla produce` in the background at a rate, as load during a test."""
    return subprocess.Popen(
        preexec_fn=ends_with_this_test_run(),
        args=[sys.executable, "-m", "socialsla.cli", "produce", str(path), "--events-per-second", str(rate)],
        env=stack.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
