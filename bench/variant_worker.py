"""`socialsla worker` without one of workarounds.py's performance workarounds, for same-run comparisons.

    python bench/variant_worker.py stock-drain worker   # Faust's own delivery loop
    python bench/variant_worker.py untuned worker       # asyncio's loop, default gc, 1 MiB fetches

Run by `bench/run.py --variants stock-drain untuned`, which prints each one's
throughput as a ratio to socialsla's in the same run: a workaround stays only
while that ratio shows its worth.

Faust's delivery loop drops messages below its per-partition read offset and
records gaps for its own commit rule, so `stock-drain` also answers read-offset
lookups with "nothing read" and records no gaps (the commit guard neither reads
nor chops them).
"""

from __future__ import annotations

import sys
from typing import Any

from socialsla.cli import main as cli
from socialsla.stream import workarounds


class _NoDropReadOffsets(dict[Any, Any]):
    def __getitem__(self, key: Any) -> None:
        return None


async def _no_gap(tp: Any, offset_from: int, offset_to: int) -> None:
    return None


def _with_fausts_drain(install: Any) -> Any:
    def install_with_fausts_drain(consumer: Any) -> Any:
        fausts_drain = consumer._drain_messages
        guard = install(consumer)
        consumer._drain_messages = fausts_drain
        consumer._read_offset = _NoDropReadOffsets()
        consumer._add_gap = _no_gap
        return guard

    return install_with_fausts_drain


def _untuned() -> None:
    """The worker without its tuned defaults: asyncio's loop, Python's gc, Faust's fetch and stream buffer."""
    import asyncio

    import uvloop

    from socialsla import app
    from socialsla.cli import worker

    worker.GC_THRESHOLDS = (700, 10, 10)  # type: ignore[misc]
    app.FETCH_BYTES = 1 << 20
    app.INPUT_BUFFER = 4096
    uvloop.new_event_loop = asyncio.new_event_loop


VARIANTS = {
    "untuned": _untuned,
    "stock-drain": lambda: setattr(
        workarounds, "install_consumer", _with_fausts_drain(workarounds.install_consumer)
    ),
}

if __name__ == "__main__":
    VARIANTS[sys.argv.pop(1)]()
    sys.exit(cli.main())
