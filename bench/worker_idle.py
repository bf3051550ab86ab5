"""A whole worker's CPU while idle, board included, on a kept 1M run's logs: this code against another's.

    python bench/run.py --events 2000000 --conversations 10000000 --partitions 4 --quick \\
        --skip-ceiling --scorecard --keep-logs          # prints: worker logs kept in DIR
    python bench/worker_idle.py DIR --against ../before --rounds 2

Each round starts a worker of each tree in turn on a wiped data directory with
the kept run's app id, so it rebuilds both stages from the same logs in Kafka;
once `/healthz` says every partition is rebuilt it lets it settle, then moves
the clock file forward as a wall clock does (the board's rounds see time pass)
for `--idle` seconds and reads the worker's CPU time from /proc: its share of
one core, with the board's rounds, their sends to Kafka and the board topic's
read-back, Faust's own idle work and housekeeping all in. Figures are printed,
never asserted; compare the trees within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from children import wait_for  # noqa: E402
from run import CLOCK, NOW_US, Worker, recovered  # noqa: E402

from socialsla.core.events import format_time  # noqa: E402

#: After the rebuild, before measuring: the first scrape-free board rounds and the last replay work settle.
SETTLE_S = 15.0


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (/proc/PID/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(kept: Path, prefix: str, partitions: int, tree: Path, port: int, idle_s: float) -> dict[str, Any]:
    """Start a worker of `tree` on the kept logs, wait for its rebuild, and measure it idle."""
    data = kept / f"idle-{port}" / "data"
    worker = Worker(os.environ.get("SOCIALSLA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), prefix, partitions, data,
                    port)  # fmt: skip
    worker.env["PYTHONPATH"] = str(tree / "src")
    clock = data.parent / "clock"
    started = time.monotonic()
    worker.start()
    try:
        wait_for(lambda: recovered(port, partitions), worker.started, 1800, "the worker to rebuild")
        rebuilt_s = time.monotonic() - started
        time.sleep(SETTLE_S)
        pid = worker.started.pid
        began, cpu = time.monotonic(), cpu_seconds(pid)
        while time.monotonic() - began < idle_s:
            clock.write_text(format_time(NOW_US + int((time.monotonic() - began) * 1e6)))
            time.sleep(0.5)
        share = (cpu_seconds(pid) - cpu) / (time.monotonic() - began)
        return {"tree": str(tree), "rebuilt_s": rebuilt_s, "idle_core_share": share, "rss_mib": worker.rss()}
    finally:
        clock.write_text(CLOCK)
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kept", type=Path, help="the folder bench/run.py --keep-logs printed")
    parser.add_argument("--partitions", type=int, default=4, help="as the kept run had")
    parser.add_argument("--against", type=Path, help="another checkout to measure the same way, alternating")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--idle", type=float, default=40.0)
    parser.add_argument("--port", type=int, default=17066)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    prefixes = [p.name for p in args.kept.iterdir() if p.is_dir() and p.name.startswith("bench")]
    if len(prefixes) != 1:
        raise SystemExit(f"expected one run's folder (bench…) in {args.kept}, found {prefixes}")
    trees = [HERE.parent] + ([args.against.resolve()] if args.against else [])
    results = []
    port = args.port
    for number in range(args.rounds):
        for tree in trees:
            found = one(args.kept, prefixes[0], args.partitions, tree, port, args.idle)
            port += 1
            results.append(found)
            print(f"round {number + 1}, {tree}: rebuilt in {found['rebuilt_s']:.1f} s, idle "
                  f"{100 * found['idle_core_share']:.1f}% of a core, RSS {found['rss_mib']:.0f} MiB",
                  flush=True)  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
