"""`socialsla worker` with Faust's own delivery loop instead of `transport.drain_messages`.

For the bench only (`bench/run.py --variants stock-drain`): it shows, in the same
run, what the drain workaround is worth to the whole pipeline. Faust's loop drops
messages below its per-partition read offset and records gaps for its own
commit rule, so this variant also answers read-offset lookups with "nothing
read" and does not record gaps (the commit guard neither reads nor chops them).
"""

from __future__ import annotations

import sys
from typing import Any

from socialsla import cli, transport

_install = transport.install_consumer


class _NoDropReadOffsets(dict[Any, Any]):
    def __getitem__(self, key: Any) -> None:
        return None


async def _no_gap(tp: Any, offset_from: int, offset_to: int) -> None:
    return None


def _install_with_fausts_drain(consumer: Any) -> Any:
    fausts_drain = consumer._drain_messages
    installed = _install(consumer)
    installed._drain_messages = fausts_drain
    installed._read_offset = _NoDropReadOffsets()
    installed._add_gap = _no_gap
    return installed


if __name__ == "__main__":
    transport.install_consumer = _install_with_fausts_drain
    sys.exit(cli.main())
