"""The webhook gateway's throughput and latency: one `socialsla ingest` process on the real broker, beside a
do-nothing aiohttp handler, under the same load generator in the same run. Prints a table and writes JSON.

    deploy/kafka/kafka.sh start
    python bench/ingest.py            # the full run (about four minutes)
    python bench/ingest.py --quick    # a short run (the smoke run of tests/bench/test_ingest_bench.py)

Four shapes of delivery, each sent to both servers:

    events-1   POST /events with the bearer token: one of our events, as JSON Lines
    events-50  POST /events: 50 events (posts and replies)
    meta-1     POST /meta signed with X-Hub-Signature-256: one Messenger message
    meta-50    POST /meta: a batch of 50 Messenger messages (50 entries of one message each)

For each shape and each server, two measurements:

  saturation  a load generator with --concurrency connections (an aiohttp client, in its own
              process, so that it does not share the server's core) sends deliveries back to back
              for --seconds; deliveries answered 200 per second, and events per second
              (deliveries x events per delivery) so that the 50-event shapes compare;
  half rate   deliveries sent open-loop at half the rate just measured, for --paced-seconds;
              p50 and p99 latency, each delivery timed from when it was due (a stall counts in full).

The gateway is a real `python -m socialsla.cli ingest` subprocess with its idempotent acks=all
producer, on topics made for this run (deleted at the end); it answers 200 only once Kafka has
acknowledged every event. The do-nothing handler is a tiny aiohttp app that reads the body and
answers 200 `{}`. Targets, printed beside the figures and never asserted: the gateway reaches at
least half the do-nothing handler's deliveries per second, and its p99 at half rate is at most
50 ms. The server under test, the load generator and the Kafka broker share this machine's cores:
the table shows each server's and the load generator's CPU (in cores) and the whole machine's.

Each child's output goes to a log under $TMPDIR/socialsla-bench-ingest-*/ (bench/children.py); a
child that dies ends the run at once with its last lines, and a failed run keeps the logs.
BENCH_INGEST_PROFILE=DIR runs the gateway under cProfile (slower: read its shares, not its
rates), writes DIR/gateway.prof and prints where the gateway's time went.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import platform
import random
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from children import Child, ChildDied, in_scratch, wait_for

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
#: The gateway's secrets for this run: /meta and /events are served, nothing else.
META_SECRET = "bench-meta-app-secret"
TOKEN = "bench-ingest-token"
SECRETS = {
    "SOCIALSLA_META_APP_SECRET": META_SECRET,
    "SOCIALSLA_META_VERIFY_TOKEN": "bench-verify-token",
    "SOCIALSLA_INGEST_TOKEN": TOKEN,
}
#: The Facebook Page every Meta delivery is for (the one of tests/data/webhooks).
PAGE_ID = "103149398319188"
#: Distinct deliveries of each shape, cycled by the load generator.
POOL = 128
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
#: A delivery not answered within this long counts as failed.
ANSWER_TIMEOUT_S = 30.0
#: Connections the open-loop sender may open: past them a delivery queues in the client, and waits.
PACED_CONNECTIONS = 512
CLOCK_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Shape:
    """One kind of delivery: its name, path and how many events it carries."""

    name: str
    path: str
    events: int


SHAPES = (
    Shape("events-1", "/events", 1),
    Shape("events-50", "/events", 50),
    Shape("meta-1", "/meta", 1),
    Shape("meta-50", "/meta", 50),
)
SHAPE_OF = {shape.name: shape for shape in SHAPES}


# --- the deliveries -------------------------------------------------------------------------------


def rfc3339(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def our_events(index: int, count: int, now_s: float) -> bytes:
    """JSON Lines of `count` events: a post, then a reply to it, and so on."""
    lines = []
    for n in range(count):
        event = {
            "type": "post" if n % 2 == 0 else "reply",
            "event_id": f"bench-{index}-{n}",
            "conversation_id": f"bench-{index}-{n // 2}",
            "account": "acme",
            "channel": "x",
            "created_at": rfc3339(now_s - 60 + n),
        }
        lines.append(orjson.dumps(event))
    return b"\n".join(lines) + b"\n"


def meta_messages(index: int, count: int, now_ms: int) -> bytes:
    """A Messenger webhook of `count` customers' messages, one entry each, as Meta batches them."""
    entries = [
        {
            "id": PAGE_ID,
            "time": now_ms,
            "messaging": [
                {
                    "sender": {"id": str(4218946531500000 + index * 100 + n)},
                    "recipient": {"id": PAGE_ID},
                    "timestamp": now_ms - 60_000 + n,
                    "message": {"mid": f"m_bench{index}x{n}", "text": "hello, world!"},
                }
            ],
        }
        for n in range(count)
    ]
    return orjson.dumps({"object": "page", "entry": entries})


def headers_for(shape: Shape, body: bytes) -> dict[str, str]:
    """Meta's signature over the body, or /events' bearer token."""
    if shape.path == "/meta":
        digest = hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
    return {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}


def deliveries(shape: Shape, count: int = POOL) -> list[tuple[bytes, dict[str, str]]]:
    """`count` distinct deliveries of a shape, with their headers."""
    now = time.time()
    out = []
    for index in range(count):
        if shape.path == "/meta":
            body = meta_messages(index, shape.events, int(now * 1000))
        else:
            body = our_events(index, shape.events, now)
        out.append((body, headers_for(shape, body)))
    return out


# --- the do-nothing handler (a child process) -----------------------------------------------------


async def _nothing(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=b"{}", content_type="application/json")


async def serve_nothing(port: int) -> None:
    """Serve POST on every path, reading the body and answering 200 `{}`, until SIGTERM."""
    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/{path}", _nothing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"do-nothing handler: serving on http://127.0.0.1:{port}/", flush=True)
    await stop.wait()
    await runner.cleanup()


# --- the load generator (a child process) ---------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    """What one load generator sends, how, and where it writes its figures."""

    url: str
    shape: str
    mode: str  # "saturate" or "paced"
    seconds: float
    warmup: float
    concurrency: int
    rate: float
    server_pid: int
    out: str


@dataclass
class Tally:
    """The answers counted in the measured window."""

    latencies: list[float] = field(default_factory=list)
    #: How late the open-loop sender sent each delivery: a load generator that falls behind adds this.
    late: list[float] = field(default_factory=list)
    produced: int = 0
    failed: dict[str, int] = field(default_factory=dict)

    def record(self, latency_s: float, status: int | str, answer: bytes) -> None:
        if status != 200:
            self.failed[str(status)] = self.failed.get(str(status), 0) + 1
            return
        self.latencies.append(latency_s)
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            self.produced += int(orjson.loads(answer).get("produced", 0))


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | str, bytes]:
    """(status, body) of one delivery; a failure to get an answer is named by its exception."""
    try:
        async with session.post(url, data=body, headers=headers) as response:
            return response.status, await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__, b""


async def saturate(
    spec: LoadSpec, session: aiohttp.ClientSession, window: tuple[float, float], tally: Tally
) -> None:
    """`spec.concurrency` connections, each sending the next delivery as soon as the last is answered;
    the answers that arrive within the window are counted."""
    bodies = deliveries(SHAPE_OF[spec.shape])
    start, end = window

    async def connection(offset: int) -> None:
        index = offset
        while time.perf_counter() < end:
            body, headers = bodies[index % len(bodies)]
            index += spec.concurrency
            began = time.perf_counter()
            status, answer = await post(session, spec.url, body, headers)
            done = time.perf_counter()
            if start <= done <= end:
                tally.record(done - began, status, answer)

    await asyncio.gather(*(connection(n) for n in range(spec.concurrency)))


async def paced(
    spec: LoadSpec, session: aiohttp.ClientSession, window: tuple[float, float], tally: Tally
) -> None:
    """Deliveries due at `spec.rate` a second whether or not the earlier ones are answered; each one
    due within the window is timed from when it was due."""
    bodies = deliveries(SHAPE_OF[spec.shape])
    start, end = window
    began = start - spec.warmup
    pending: set[asyncio.Task[None]] = set()

    async def one(index: int, due: float) -> None:
        body, headers = bodies[index % len(bodies)]
        late = time.perf_counter() - due
        status, answer = await post(session, spec.url, body, headers)
        if due >= start:
            tally.record(time.perf_counter() - due, status, answer)
            tally.late.append(late)

    index = 0
    while (due := began + index / spec.rate) < end:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        task = asyncio.create_task(one(index, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
        index += 1
    if pending:
        await asyncio.wait(pending)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used; nan where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all but idle and iowait); nan without /proc."""
    try:
        ticks = [int(t) for t in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return float("nan")
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK_TICK


def cpu_now(server_pid: int) -> tuple[float, float, float, float]:
    """(wall, server CPU, this process's CPU, machine busy), in seconds."""
    return time.perf_counter(), process_cpu_s(server_pid), time.process_time(), machine_busy_s()


async def usage(server_pid: int, window: tuple[float, float]) -> dict[str, float]:
    """Cores used over the window by the server, by the load generator and by the whole machine."""
    await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
    first = cpu_now(server_pid)
    await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
    last = cpu_now(server_pid)
    wall = last[0] - first[0]
    server, client, machine = ((b - a) / wall for a, b in zip(first[1:], last[1:], strict=True))
    return {"server_cores": server, "loadgen_cores": client, "machine_cores": machine}


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values (nearest rank), in milliseconds; nan when there are none."""
    if not ordered:
        return float("nan")
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summary(spec: LoadSpec, tally: Tally, cores: dict[str, float]) -> dict[str, Any]:
    ordered = sorted(tally.latencies)
    return {
        "mode": spec.mode,
        "seconds": spec.seconds,
        "concurrency": spec.concurrency if spec.mode == "saturate" else None,
        "rate_sent": spec.rate if spec.mode == "paced" else None,
        "deliveries": len(ordered),
        "deliveries_per_s": len(ordered) / spec.seconds,
        "produced": tally.produced,
        "failed": tally.failed,
        "p50_ms": percentile(ordered, 0.50),
        "p90_ms": percentile(ordered, 0.90),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": 1000 * ordered[-1] if ordered else float("nan"),
        "sent_late_p99_ms": percentile(sorted(tally.late), 0.99) if spec.mode == "paced" else None,
        **cores,
    }


async def load(spec: LoadSpec) -> dict[str, Any]:
    """Send as the spec says and return the figures of its measured window (after the warmup)."""
    start = time.perf_counter() + 0.2 + spec.warmup  # 0.2 s to build the deliveries
    window = (start, start + spec.seconds)
    limit = spec.concurrency if spec.mode == "saturate" else PACED_CONNECTIONS
    tally = Tally()
    sampler = asyncio.create_task(usage(spec.server_pid, window))
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_S),
    ) as session:
        send = saturate if spec.mode == "saturate" else paced
        await send(spec, session, window, tally)
    return summary(spec, tally, await sampler)


def run_load_child(spec: LoadSpec) -> None:
    """The load generator's process: uvloop when installed (a cheaper client), figures to spec.out."""
    runner: Callable[[Awaitable[dict[str, Any]]], dict[str, Any]] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    figures = runner(load(spec))
    out = Path(spec.out)
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(figures))
    partial.rename(out)


# --- the run (the parent process) -----------------------------------------------------------------


@dataclass
class Server:
    """A server under load: the gateway or the do-nothing handler."""

    name: str
    child: Child
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range (where clients take their own ports)."""
    picker = random.SystemRandom()
    for _ in range(1000):
        port = picker.randrange(10000, 32000)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port between 10000 and 32000")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment, with this checkout's sources first on the path (not an installed socialsla)."""
    path = [str(REPO / "src"), str(REPO), str(HERE), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p), **(extra or {})}


def topics(tag: str) -> dict[str, str]:
    return {
        f"SOCIALSLA_TOPIC_{kind.upper()}": f"{tag}.{kind}"
        for kind in ("posts", "replies", "outcomes", "deadletter")
    }


def gateway_command(profile: Path | None) -> list[str]:
    if profile is None:
        return [sys.executable, "-m", "socialsla.cli", "ingest"]
    return [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "socialsla.cli", "ingest"]


def log_says(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


def start_gateway(bootstrap: str, tag: str, tmp: Path, profile: Path | None) -> Server:
    """`socialsla ingest` on this run's topics, serving /meta and /events; returned once it serves."""
    port = free_port()
    env = child_env(
        {
            "SOCIALSLA_BOOTSTRAP_SERVERS": bootstrap,
            "SOCIALSLA_APP_ID": tag,
            **topics(tag),
            "SOCIALSLA_PARTITIONS": "4",
            "SOCIALSLA_INGEST_HOST": "127.0.0.1",
            "SOCIALSLA_INGEST_PORT": str(port),
            **SECRETS,
        }
    )
    log = tmp / "logs" / "gateway.log"
    child = Child.start("the gateway (socialsla ingest)", gateway_command(profile), log, env)
    wait_for(lambda: log_says(log, "socialsla ingest: serving"), child, 120, "the gateway to serve")
    return Server("gateway", child, port)


def start_nothing(tmp: Path) -> Server:
    """The do-nothing aiohttp handler; returned once it serves."""
    port = free_port()
    log = tmp / "logs" / "nothing.log"
    command = [sys.executable, str(HERE / "ingest.py"), "--child", "nothing", "--port", str(port)]
    child = Child.start("the do-nothing handler", command, log, child_env())
    wait_for(lambda: log_says(log, "serving on"), child, 60, "the do-nothing handler to serve")
    return Server("nothing", child, port)


def answer_of(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def check_serves(server: Server, shape: Shape) -> None:
    """One delivery of the shape must be answered 200, with every event produced by the gateway."""
    body, headers = deliveries(shape, 1)[0]
    try:
        status, answer = answer_of(server.url(shape.path), body, headers)
    except OSError:
        server.child.check(f"its answer to a {shape.name} delivery")  # a dead server says why
        raise
    produced = orjson.loads(answer).get("produced") if status == 200 else None
    if status != 200 or (server.name == "gateway" and produced != shape.events):
        raise RuntimeError(
            f"{server.name} answered a {shape.name} delivery with {status}: {answer[:300]!r}"
            f" (expected 200 and {shape.events} produced)"
        )


def finished(child: Child, out: Path) -> dict[str, Any] | None:
    """The load generator's figures once written; its death without them is the run's end."""
    code = child.process.poll()
    if out.exists():
        figures: dict[str, Any] = json.loads(out.read_text())
        return figures
    if code is not None:
        raise ChildDied(child.report(f"{child.name} exited with code {code} before writing its figures"))
    return None


def run_load(spec: LoadSpec, servers: list[Server], tmp: Path) -> dict[str, Any]:
    """One load generator in its own process, watched with every server; its figures."""
    name = Path(spec.out).stem
    command = [sys.executable, str(HERE / "ingest.py"), "--child", "load", "--spec", json.dumps(asdict(spec))]
    child = Child.start(f"the load generator ({name})", command, tmp / "logs" / f"{name}.log", child_env())
    try:
        timeout = spec.warmup + spec.seconds + ANSWER_TIMEOUT_S + 60
        return wait_for(lambda: finished(child, Path(spec.out)), [s.child for s in servers], timeout, name)
    finally:
        child.stop(grace=10)


def spec_for(args: argparse.Namespace, server: Server, shape: Shape, rate: float, tmp: Path) -> LoadSpec:
    """Saturation when `rate` is 0, else open-loop at `rate` deliveries a second."""
    mode = "paced" if rate else "saturate"
    return LoadSpec(
        url=server.url(shape.path),
        shape=shape.name,
        mode=mode,
        seconds=args.paced_seconds if rate else args.seconds,
        warmup=args.warmup,
        concurrency=args.concurrency,
        rate=rate,
        server_pid=server.child.pid,
        out=str(tmp / f"{shape.name}-{server.name}-{mode}.json"),
    )


def say(server: Server, shape: Shape, figures: dict[str, Any]) -> None:
    """One progress line per measurement."""
    what = (
        f"half rate ({figures['rate_sent']:,.0f}/s)"
        if figures["mode"] == "paced"
        else f"saturation ({figures['concurrency']} connections)"
    )
    failed = f", failed {figures['failed']}" if figures["failed"] else ""
    print(
        f"... {shape.name} {server.name}, {what}: {figures['deliveries_per_s']:,.0f} deliveries/s "
        f"({figures['deliveries_per_s'] * shape.events:,.0f} events/s), p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms; cores: server {figures['server_cores']:.2f}, "
        f"load generator {figures['loadgen_cores']:.2f}, machine {figures['machine_cores']:.2f}"
        f"{failed}",
        flush=True,
    )


def measure_server(
    args: argparse.Namespace, server: Server, shape: Shape, servers: list[Server], tmp: Path
) -> dict[str, Any]:
    """Saturation, then latency at half the rate it sustained."""
    saturated = run_load(spec_for(args, server, shape, 0.0, tmp), servers, tmp)
    say(server, shape, saturated)
    rate = max(1.0, saturated["deliveries_per_s"] / 2)
    half = run_load(spec_for(args, server, shape, rate, tmp), servers, tmp)
    say(server, shape, half)
    return {"saturated": saturated, "half_rate": half}


def measure_shape(args: argparse.Namespace, shape: Shape, servers: list[Server], tmp: Path) -> dict[str, Any]:
    """Both servers on one shape, and how they compare."""
    for server in servers:
        check_serves(server, shape)
    result: dict[str, Any] = {"events_per_delivery": shape.events, "path": shape.path}
    for server in servers:
        result[server.name] = measure_server(args, server, shape, servers, tmp)
    gateway, nothing = (result[s]["saturated"]["deliveries_per_s"] for s in ("gateway", "nothing"))
    result["gateway_events_per_s"] = gateway * shape.events
    result["ratio"] = gateway / nothing if nothing else float("nan")
    result["ratio_met"] = result["ratio"] >= TARGET_RATIO
    result["p99_met"] = result["gateway"]["half_rate"]["p99_ms"] <= TARGET_P99_MS
    expected = result["gateway"]["saturated"]["deliveries"] * shape.events
    result["gateway_produced_as_expected"] = result["gateway"]["saturated"]["produced"] == expected
    return result


async def delete_topics(bootstrap: str, tag: str) -> None:
    """Every topic of this run: its name starts with the run's unique tag."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:  # the inputs, and what the gateway's topic check made under the run's app id
        ours = [name for name in await admin.list_topics() if name.startswith((f"{tag}.", f"{tag}-"))]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


def print_profile(profile: Path, lines: int = 30) -> None:
    """Where the gateway's time went, by own time and by cumulative time."""
    import pstats

    if not profile.exists():
        print(f"profile: {profile} was not written (the gateway did not exit cleanly)")
        return
    for order in ("tottime", "cumulative"):
        print(f"\ngateway profile ({profile}), top {lines} by {order}:")
        pstats.Stats(str(profile), stream=sys.stdout).sort_stats(order).print_stats(lines)


# --- the table ------------------------------------------------------------------------------------

#: (title, width) of the saturation table's columns, then of the half-rate table's.
SATURATION = (("shape", 9), ("ev/dlv", 6), ("gw dlv/s", 8), ("gw ev/s", 8), ("nil dlv/s", 9), ("gw/nil", 6),
              (">=0.5", 5), ("gw cpu", 6), ("nil cpu", 7), ("gen cpu", 7), ("machine", 7))  # fmt: skip
HALF_RATE = (("shape", 9), ("gw rate/s", 9), ("gw p50", 6), ("gw p99", 6), ("<=50ms", 6), ("late", 5),
             ("nil rate/s", 10), ("nil p50", 7), ("nil p99", 7), ("late", 5))  # fmt: skip


def saturation_row(name: str, result: dict[str, Any]) -> list[str]:
    gw, nil = result["gateway"]["saturated"], result["nothing"]["saturated"]
    return [name, str(result["events_per_delivery"]), f"{gw['deliveries_per_s']:.0f}",
            f"{result['gateway_events_per_s']:.0f}", f"{nil['deliveries_per_s']:.0f}",
            f"{result['ratio']:.2f}", "yes" if result["ratio_met"] else "NO",
            f"{gw['server_cores']:.2f}", f"{nil['server_cores']:.2f}", f"{gw['loadgen_cores']:.2f}",
            f"{gw['machine_cores']:.2f}"]  # fmt: skip


def half_rate_row(name: str, result: dict[str, Any]) -> list[str]:
    gw, nil = result["gateway"]["half_rate"], result["nothing"]["half_rate"]
    return [name, f"{gw['rate_sent']:.0f}", f"{gw['p50_ms']:.1f}", f"{gw['p99_ms']:.1f}",
            "yes" if result["p99_met"] else "NO", f"{gw['sent_late_p99_ms']:.1f}", f"{nil['rate_sent']:.0f}",
            f"{nil['p50_ms']:.1f}", f"{nil['p99_ms']:.1f}", f"{nil['sent_late_p99_ms']:.1f}"]  # fmt: skip


def print_rows(columns: tuple[tuple[str, int], ...], rows: list[list[str]]) -> None:
    print("  ".join(title.rjust(width) for title, width in columns))
    for values in rows:
        print("  ".join(v.rjust(w) for v, (_, w) in zip(values, columns, strict=True)))


def print_notes(shapes: dict[str, Any]) -> None:
    """Deliveries not answered 200, and gateway answers that did not produce every event."""
    for name, result in shapes.items():
        for server in ("gateway", "nothing"):
            for mode in ("saturated", "half_rate"):
                if result[server][mode]["failed"]:
                    print(f"note: {name} {server} {mode}: not answered 200: {result[server][mode]['failed']}")
        if not result["gateway_produced_as_expected"]:
            print(f"note: {name}: the gateway did not report {result['events_per_delivery']} events produced "
                  "for every delivery")  # fmt: skip


def print_table(results: dict[str, Any]) -> None:
    machine, options, shapes = results["machine"], results["options"], results["shapes"]
    print(f"\nmachine: {machine['cpus']} cores, shared by the server under test, the load generator and the "
          f"Kafka broker ({machine['busy_before_cores']:.2f} cores busy just before the run); "
          f"Python {machine['python']}, aiohttp {machine['aiohttp']}, load generator on "
          f"{machine['loop']}")  # fmt: skip
    print("gw = one `socialsla ingest` process (acks=all, idempotent producer) on the real broker; nil = a "
          "do-nothing aiohttp handler\n")  # fmt: skip
    print(f"saturation ({options['concurrency']} connections, {options['seconds']:g} s): deliveries "
          "answered 200 per second; cpu in cores (gen = load generator, machine = every process) while gw "
          "was loaded")  # fmt: skip
    print_rows(SATURATION, [saturation_row(name, result) for name, result in shapes.items()])
    print(f"\nhalf rate (open loop, {options['paced_seconds']:g} s): latency in ms from when each delivery "
          "was due; late = p99 of how late the load generator sent (a sender that falls behind adds "
          "it)")  # fmt: skip
    print_rows(HALF_RATE, [half_rate_row(name, result) for name, result in shapes.items()])
    print_notes(shapes)


# --- options and main -----------------------------------------------------------------------------


def options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=8.0,
        help="length of each saturation measurement, after its warmup (default 8)",
    )
    parser.add_argument(
        "--paced-seconds",
        type=float,
        default=20.0,
        help="length of each half-rate latency measurement, after its warmup (default 20)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="seconds of load before each measurement starts counting (default 1)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="connections of the load generator at saturation, each sending its next "
        "delivery once the last is answered (default 32)",
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        choices=list(SHAPE_OF),
        default=list(SHAPE_OF),
        help="the shapes of delivery to measure (default: all four)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short runs (2 s saturation, 3 s half rate, 0.5 s warmup): a smoke run whose figures are rough",
    )
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("SOCIALSLA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="the Kafka broker (default: $SOCIALSLA_BOOTSTRAP_SERVERS or 127.0.0.1:9092); the "
        "run makes its own topics there and deletes them at the end",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "results" / "ingest-latest.json",
        help="where the figures are written as JSON (default: bench/results/ingest-latest.json)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the children's logs of a run that succeeds"
    )
    parser.add_argument("--child", choices=["load", "nothing"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser


def busy_cores(seconds: float = 3.0) -> float:
    """Cores the machine keeps busy over `seconds` with no load of ours: other work sharing it."""
    first, began = machine_busy_s(), time.perf_counter()
    time.sleep(seconds)
    return (machine_busy_s() - first) / (time.perf_counter() - began)


def machine(busy_before: float) -> dict[str, Any]:
    loop = "asyncio"
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401

        loop = "uvloop"
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "loop": loop,
        "busy_before_cores": busy_before,
    }


def profile_path() -> Path | None:
    """$BENCH_INGEST_PROFILE/gateway.prof, its folder made; None when the variable is unset."""
    folder = os.environ.get("BENCH_INGEST_PROFILE")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder).resolve() / "gateway.prof"


def measure_shapes(args: argparse.Namespace, tag: str, tmp: Path, profile: Path | None) -> dict[str, Any]:
    """Both servers started once; every shape measured on both; the servers stopped, the topics deleted."""
    servers: list[Server] = []
    try:
        servers.append(start_gateway(args.bootstrap, tag, tmp, profile))
        servers.append(start_nothing(tmp))
        return {name: measure_shape(args, SHAPE_OF[name], servers, tmp) for name in args.shapes}
    finally:
        for server in servers:
            server.child.stop()
        with contextlib.suppress(Exception):
            asyncio.run(delete_topics(args.bootstrap, tag))


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Every figure, with the machine and options it was taken with."""
    tag = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    profile = profile_path()
    busy_before = busy_cores()
    shapes = measure_shapes(args, tag, tmp, profile)
    kept = ("seconds", "paced_seconds", "warmup", "concurrency", "quick")
    results = {
        "machine": machine(busy_before),
        "options": {k: v for k, v in vars(args).items() if k in kept},
        "targets": {"gateway_over_nothing_at_least": TARGET_RATIO, "gateway_p99_ms_at_most": TARGET_P99_MS},
        "topics_prefix": tag,
        "shapes": shapes,
    }
    if profile is not None:
        results["profile"] = str(profile)
    return results


def run_child(args: argparse.Namespace) -> None:
    if args.child == "nothing":
        asyncio.run(serve_nothing(args.port))
    else:
        run_load_child(LoadSpec(**json.loads(args.spec)))


def main() -> None:
    args = options().parse_args()
    if args.child:
        run_child(args)
        return
    if args.quick:
        args.seconds, args.paced_seconds, args.warmup = (
            min(args.seconds, 2.0),
            min(args.paced_seconds, 3.0),
            0.5,
        )
    results, kept = in_scratch("socialsla-bench-ingest", lambda tmp: measure(args, tmp), args.keep_logs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print_table(results)
    if "profile" in results:
        print_profile(Path(results["profile"]))
    print(f"results: {args.out}")
    if kept is not None:
        print(f"logs kept in {kept}")


if __name__ == "__main__":
    main()
