"""Who is waiting at scale: the board's idle cost, `/waiting` and a scrape, this code against another's.

    python bench/board.py                                   # 1M open conversations, this tree only
    python bench/board.py --against ../before --rounds 2    # and another checkout, alternating, same data

Builds `bench/run.py`'s scorecard traffic (2M events over 10M ids, with their
resolves and survey answers: about 1M open conversations over 60 series)
through stage 1's handler once, keeps the outcome messages in a file, then for
each tree runs a child process that rebuilds the ledger from them through stage
2's handler and measures, on that tree's own code:

* the board while idle: a round every 5 s (each series' card built and
  encoded, as `board.post` sends them), the clock moving as a wall clock does,
  for `--idle` seconds: the process's CPU time over that time (a share of one
  core; Kafka's send and the board topic's read-back are not included);
* `GET /waiting` (every entry), served by the tree's own `web.serve` to `curl`
  in another process: its time, its size, and the longest the event loop went
  without running (a task that sleeps 1 ms and notes how late it wakes);
* `GET /waiting?limit=50` and one scrape of `/metrics` the same way (median of 3),
  and, before all, the first scrape after the ledger is built (in process: it
  fills every bucket's cached readings, as a worker's first scrape after a
  start does).

Figures are printed (and written as JSON with `--out`), never asserted. The
machine has 2 cores and is noisy: compare the trees within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

#: The board's period (`board.PUBLISH_EVERY_S`, the same in both trees).
ROUND_S = 5.0


def build(path: Path, events: int, conversations: int) -> None:
    """The outcome messages of the traffic, written once to `path`: every tree reads the same."""
    from own_cost import stage_one

    started = time.monotonic()
    outcomes, figures = stage_one(events, conversations, scorecard=True)
    path.write_bytes(pickle.dumps(outcomes, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"built {len(outcomes):,} outcome messages from {figures['events']:,} events "
          f"in {time.monotonic() - started:.0f} s", flush=True)  # fmt: skip


class MovingClock:
    """The bench traffic's clock, then moving as the wall clock does (the board's rounds see time pass)."""

    def __init__(self, start_us: int) -> None:
        self.start_us, self.began = start_us, time.monotonic()

    def now_us(self) -> int:
        return self.start_us + int((time.monotonic() - self.began) * 1e6)


class _Nothing:
    """What `web.serve` is handed for what `/waiting`, `/metrics` and `/board` do not read."""

    rebalancing = False
    stale = False
    last_progress = 0.0

    def loaded(self, state: object) -> set[int]:
        return set()


async def _curl(url: str) -> tuple[float, int]:
    """Seconds and bytes of one GET, from another process (the loop under test only serves it)."""
    process = await asyncio.create_subprocess_exec(
        "curl", "-s", "-o", "/dev/null", "-w", "%{time_total} %{size_download} %{http_code}", url,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    seconds, size, code = out.decode().split()
    if code != "200":
        raise RuntimeError(f"{url} answered {code}")
    return float(seconds), int(size)


def _rss_mib() -> float:
    """This process's resident memory now (the peak would be the outcome messages', read to build it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stalls:
    """The longest time the event loop went without running a 1 ms sleeper, since the last `take`."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - before - 0.001)

    def take(self) -> float:
        found, self.longest = self.longest, 0.0
        return found


async def child(outcomes_path: Path, idle_s: float, port: int) -> dict[str, Any]:
    """Measure this process's tree (on `sys.path`) on the ledger the outcomes build."""
    from own_cost import stage_two
    from prometheus_client import CollectorRegistry, generate_latest
    from run import NOW_US

    from socialsla.core.rulebook import parse_rules
    from socialsla.serve import board, web
    from socialsla.serve.collector import SlaCollector

    outcomes = pickle.loads(outcomes_path.read_bytes())
    ledger, _ = await stage_two(outcomes)
    del outcomes
    gc.collect()
    gc.freeze()
    rules = parse_rules((REPO / "rules" / "facebook-2018.toml").read_text())
    clock = MovingClock(NOW_US)
    existing = list(ledger.existing(NOW_US))
    figures: dict[str, Any] = {
        "series": len(existing),
        "open_conversations": sum(len(s.windows) for s in existing),
    }
    # The board's round, on this tree's signature (today's takes no agent cap: it reads no agent).
    takes_agents = "max_agents" in inspect.signature(board.messages).parameters

    def round_now() -> int:
        at = clock.now_us()
        args = (ledger.existing(at), at, rules, 10, "bench") if takes_agents else (
            ledger.existing(at), at, rules, "bench")  # fmt: skip
        return sum(len(value) for _, value in board.messages(*args))

    registry = CollectorRegistry()
    collector = SlaCollector(ledger, rules, clock)
    registry.register(collector)
    started = time.perf_counter()
    generate_latest(registry)  # the first scrape after a start fills every bucket's cached readings
    figures["first_scrape_s"] = time.perf_counter() - started
    figures["card_bytes"] = round_now() / max(1, len(existing))
    cpu, began = time.process_time(), time.monotonic()
    while time.monotonic() - began < idle_s:
        round_now()
        await asyncio.sleep(ROUND_S - (time.monotonic() - began) % ROUND_S)
    figures["idle_core_share"] = (time.process_time() - cpu) / (time.monotonic() - began)

    nothing = _Nothing()
    server = asyncio.create_task(web.serve("127.0.0.1", port, registry, nothing, nothing, nothing, ledger,
                                           nothing, collector, board.Board()))  # fmt: skip
    stalls = Stalls()
    watcher = asyncio.create_task(stalls.watch())
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            await _curl(base + "/healthz")
            break
        except (RuntimeError, ValueError):
            await asyncio.sleep(0.1)
    stalls.take()
    for name, path, times in (("scrape", "/metrics", 3), ("waiting_limit_50", "/waiting?limit=50", 3),
                              ("waiting_all", "/waiting", 1)):  # fmt: skip
        took, stalled, size = [], [], 0
        for _ in range(times):
            seconds, size = await _curl(base + path)
            took.append(seconds)
            stalled.append(stalls.take())
        figures[name] = {"seconds": statistics.median(took), "longest_stall_s": max(stalled), "bytes": size}
    watcher.cancel()
    server.cancel()
    gc.collect()
    figures["rss_mib"] = _rss_mib()  # now, after it all: the ledger and what the readings keep
    return figures


def measure_tree(tree: Path, outcomes: Path, idle_s: float, port: int) -> dict[str, Any]:
    """One child process on `tree`'s code (its `src` first on the path); its figures."""
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{HERE}"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(outcomes), "--idle", str(idle_s),
         "--port", str(port)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"the child on {tree} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def show(label: str, f: dict[str, Any]) -> str:
    w, fifty, scrape = f["waiting_all"], f["waiting_limit_50"], f["scrape"]
    return (
        f"{label}: {f['open_conversations']:,} open over {f['series']} series; "
        f"board idle {100 * f['idle_core_share']:.1f}% of a core, {f['card_bytes'] / 1024:.1f} KiB per card; "
        f"/waiting {w['seconds']:.1f} s, {w['bytes'] / 2**20:.0f} MiB, "
        f"longest stall {1000 * w['longest_stall_s']:.0f} ms; "
        f"?limit=50 {1000 * fifty['seconds']:.0f} ms (stall {1000 * fifty['longest_stall_s']:.0f} ms); "
        f"scrape {1000 * scrape['seconds']:.0f} ms (stall {1000 * scrape['longest_stall_s']:.0f} ms; "
        f"the first {1000 * f['first_scrape_s']:.0f} ms); RSS {f['rss_mib']:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--conversations", type=int, default=10_000_000)
    parser.add_argument("--against", type=Path, help="another checkout to measure the same way, alternating")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each tree, alternating")
    parser.add_argument(
        "--idle", type=float, default=30.0, help="seconds of board rounds measured while idle"
    )
    parser.add_argument("--port", type=int, default=16066)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.idle, args.port))), flush=True)
        return
    trees = [("this", REPO)] + ([("against", args.against.resolve())] if args.against else [])
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in trees}
    with tempfile.TemporaryDirectory(prefix="bench-board-") as tmp:
        outcomes = Path(tmp) / "outcomes.pickle"
        build(outcomes, args.events, args.conversations)
        for number in range(args.rounds):
            for label, tree in trees:
                found = measure_tree(tree, outcomes, args.idle, args.port)
                results[label].append(found)
                print(f"round {number + 1}, {show(label, found)}", flush=True)
    if args.out:
        given = {k: str(v) for k, v in vars(args).items()}
        args.out.write_text(json.dumps({"args": given, "results": results},
                                       indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
