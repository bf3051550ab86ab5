"""What socialsla's own work costs per event, without Kafka or Faust: both stages' adapters, offline.

    python bench/own_cost.py                       # 200,000 events, RocksDB store, µs per event
    python bench/own_cost.py --profile 25          # and the 25 costliest functions (cProfile)

The full pipeline's rate is bounded by Faust's delivery plus this. `bench/run.py`
measures the whole; this isolates the part socialsla owns, so a change to it can
be compared in seconds and with little noise: the same events as `bench/run.py`,
in batches of 5,000 as Faust hands them, through the stages' handlers:
`ThreadsStage.handle` (decode, thread store, fold, log records, outcome
messages) and `SeriesStage.handle` (decode, ledger). Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import NOW_US, events  # noqa: E402

from socialsla.cli.worker import GC_THRESHOLDS  # noqa: E402
from socialsla.core.ledger import Ledger  # noqa: E402
from socialsla.stream.counters import PipelineMetrics  # noqa: E402
from socialsla.stream.handlers import Admission, SeriesStage, ThreadsStage  # noqa: E402
from socialsla.stream.partitions import Partitions  # noqa: E402
from socialsla.stream.settings import Settings  # noqa: E402
from socialsla.stream.thread_store import ThreadStore  # noqa: E402


class _Message:
    __slots__ = ("key", "offset", "partition", "topic", "value")

    def __init__(self, topic: str, partition: int, offset: int, key: bytes, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = topic, partition, offset, key, value


async def _empty_log(options: Any, topic: str, partitions: Any, since: int, apply: Any) -> dict[int, int]:
    return {partition: 0 for partition in partitions}


class _Clock:
    def now_us(self) -> int:
        return NOW_US


def _partition(key: bytes, partitions: int) -> int:
    return zlib.crc32(key) % partitions


def stage_one(
    count: int, conversations: int, partitions: int = 1, store: str = "memory://", batch: int = 5_000,
    scorecard: bool = False,
) -> tuple[list[tuple[bytes, bytes]], dict[str, float]]:  # fmt: skip
    """`bench/run.py`'s events through stage 1's handler: the outcome messages, and µs per event."""
    data = Path(tempfile.mkdtemp(prefix="own-cost-"))
    settings = Settings(store=store, data_dir=data, purge_interval=3600.0)
    clock = _Clock()
    metrics = PipelineMetrics(CollectorRegistry())
    threads = ThreadStore(settings, clock)  # type: ignore[arg-type]
    threads.reset(set(range(partitions)))
    admission = Admission(settings, metrics)
    stage1 = ThreadsStage(settings, admission, metrics, threads)
    items = events(count, conversations, seed=conversations, scorecard=scorecard)
    messages = [
        _Message("posts" if kind == "post" else "replies", _partition(key, partitions), n, key, value)
        for n, (kind, key, value) in enumerate(items)
    ]
    log_records = 0
    outcomes: list[tuple[bytes, bytes]] = []
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    start = time.perf_counter()
    for at in range(0, len(messages), batch):
        sends = stage1.handle(messages[at : at + batch], NOW_US)
        log_records += len(sends.log)
        outcomes.extend(sends.outcomes)
    took = time.perf_counter() - start
    return outcomes, {
        "events": len(messages),
        "stage1_us": took / len(messages) * 1e6,
        "log_records": log_records,
    }


async def stage_two(outcomes: list[tuple[bytes, bytes]]) -> tuple[Ledger, float]:
    """The outcome messages through stage 2's handler, one by one as Faust hands them: the ledger, seconds."""
    settings = Settings(purge_interval=3600.0)
    metrics = PipelineMetrics(CollectorRegistry())
    ledger = Ledger(settings.response_window_us, int(settings.refresh_interval * 1_000_000))
    loaded = Partitions({}, lambda: 0, [(ledger, "outcomes", frozenset({"outcomes"}))], _empty_log)
    await loaded.ready(ledger, {0})
    stage2 = SeriesStage(Admission(settings, metrics), metrics, ledger, loaded)
    start = time.perf_counter()
    for n, (key, value) in enumerate(outcomes):
        stage2.handle([_Message("outcomes", 0, n, key, value)], NOW_US)
    return ledger, time.perf_counter() - start


async def measure(
    count: int, conversations: int, partitions: int, store: str, batch: int
) -> dict[str, float]:
    """µs per input event of stage 1 and of stage 2, over the same events."""
    outcomes, figures = stage_one(count, conversations, partitions, store, batch)
    _, stage2_s = await stage_two(outcomes)
    return {**figures, "stage2_us": stage2_s / figures["events"] * 1e6, "outcome_messages": len(outcomes)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--store", default="rocksdb://", choices=["rocksdb://", "memory://"])
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is printed beside each")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N costliest functions")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        result = asyncio.run(
            measure(args.events, args.conversations, args.partitions, args.store, args.batch)
        )
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        runs.append(result)
        print(
            f"stage 1 {result['stage1_us']:.1f} µs/event, stage 2 {result['stage2_us']:.1f} µs/event "
            f"({result['events']:,} events, {result['log_records']} log records, "
            f"{result['outcome_messages']} outcome messages)",
            flush=True,
        )
    best1 = min(run["stage1_us"] for run in runs)
    best2 = min(run["stage2_us"] for run in runs)
    print(f"best: stage 1 {best1:.1f} µs/event, stage 2 {best2:.1f} µs/event, both {best1 + best2:.1f}")


if __name__ == "__main__":
    main()
