"""Stage 1's state: each thread's events, per input partition, in a local store rebuilt from a log.

The log is the topic `<app id>-threads`, partitioned like the input. A batch
writes, per input partition, the threads it changed in as few records as fit
(`pack`: frames of key and state; a new record past `RECORD_BUDGET`, 512 KiB),
where a table would write a changelog record per conversation and hand each to
the Kafka client on its own. The topic keeps 7 days + R and a spare
(`kafka.ensure_topics`): a thread whose last state is older can no longer change
a window, and is purged anyway (`thread.expired`).

A partition's store is rebuilt by replaying its log from `now - (7d + R)` and a
day's margin, when `partitions.py` says: the latest state of a thread wins, and
a thread past the horizon is left out, as the sweep would purge it; so a
restart, on a kept or a wiped data directory, is the same replay, and nothing
but the log has to be right.

The local store is RocksDB (`rocksdb://`, the default: the states live on disk
within `SOCIALSLA_STORE_MEMORY_MIB`, not in RSS) or a dict (`memory://`). It is
made empty at each load and removed when the partition goes.

A RocksDB store is rebuilt aside, by a child process (`rebuild_aside`): the
replay is CPU work in Python, and stage 2 replays its own log in the worker at
the same time, so a restart uses both cores instead of one after the other. The
child writes the store's directory and exits; the worker then opens it. The
child dies with the worker, and a cancelled load kills it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import shutil
import struct
import sys
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import orjson

import socialsla
from socialsla.core import thread
from socialsla.core.clock import Clock, parse_clock
from socialsla.stream import kafka, readback
from socialsla.stream.settings import Settings
from socialsla.stream.shutdown import die_with_parent
from socialsla.stream.topics import Topics

log = logging.getLogger("socialsla")

_FRAME = struct.Struct(">HI")
#: Bytes of frames per log record, at most: well under Kafka's 1 MB default message size.
RECORD_BUDGET = 512 * 1024


def pack(states: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """Records of frames `key length, state length, key, state`, each at most `RECORD_BUDGET` bytes."""
    parts: list[bytes] = []
    size = 0
    for key, state in states:
        frame = _FRAME.pack(len(key), len(state)) + key + state
        if parts and size + len(frame) > RECORD_BUDGET:
            yield b"".join(parts)
            parts, size = [], 0
        parts.append(frame)
        size += len(frame)
    if parts:
        yield b"".join(parts)


def unpack(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Inverse of `pack`; ValueError on a record that does not parse to its end."""
    at, end, header, size = 0, len(raw), _FRAME.unpack_from, _FRAME.size
    while at < end:
        if at + size > end:
            raise ValueError("truncated frame header")
        key_length, state_length = header(raw, at)
        key_end = at + size + key_length
        state_end = key_end + state_length
        if state_end > end:
            raise ValueError("truncated frame")
        yield raw[at + size : key_end], raw[key_end:state_end]
        at = state_end


def _open_store(settings: Settings, partition: int, empty: bool = True) -> MutableMapping[bytes, bytes]:
    """A store for one partition's threads: made empty, or as a rebuild left it (`empty=False`)."""
    if settings.store == "memory://":
        return {}
    from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteOptions

    path = _store_path(settings, partition)
    if empty:
        shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    sizes = settings.rocksdb_options()
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(sizes["write_buffer_size"])
    options.set_max_write_buffer_number(sizes["max_write_buffer_number"])
    table = BlockBasedOptions()
    table.set_block_cache(Cache(sizes["block_cache_size"]))
    options.set_block_based_table_factory(table)
    store: MutableMapping[bytes, bytes] = Rdict(str(path), options)  # type: ignore[assignment]
    # No write-ahead log: the store is made empty and filled from the Kafka log at each load,
    # never reopened after a crash, so RocksDB's own log would only be written, never read.
    writes = WriteOptions()
    writes.disable_wal = True  # type: ignore[method-assign,assignment]  # a property; the stubs say a method
    store.set_write_options(writes)  # type: ignore[attr-defined]
    return store


def _put_all(store: MutableMapping[bytes, bytes], items: Iterable[tuple[bytes, bytes | None]]) -> None:
    """Write many states at once (None deletes): one RocksDB write batch, or dict updates."""
    if isinstance(store, dict):
        for key, value in items:
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value
        return
    from rocksdict import WriteBatch

    batch = WriteBatch(raw_mode=True)
    for key, value in items:
        if value is None:
            batch.delete(key)
        else:
            batch.put(key, value)
    store.write(batch)  # type: ignore[attr-defined]


def _store_path(settings: Settings, partition: int) -> Path:
    return settings.data_dir / settings.app_id / "threads" / str(partition)


class ThreadStore:
    """The thread states of stage 1's input partitions, one store each (a `partitions.LogBacked`)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        topics = Topics.of(settings)
        self.topics = frozenset(topics.inputs)
        self.log_topic = topics.threads
        #: The SLA clock when the running replay began: what it judges expiry by.
        self.replay_at = 0
        #: 7 days + R, computed once: a replay asks it of every state.
        self.horizon_us = settings.horizon_us
        self.stores: dict[int, MutableMapping[bytes, bytes]] = {}
        #: Log records a replay could not parse (none are written so: a sign of another writer).
        self.unreadable = 0
        #: Partitions reset and not dropped whose RocksDB store a child is rebuilding.
        self.building: set[int] = set()
        #: How `partitions.Partitions` loads this state: a RocksDB store is rebuilt by a child
        #: process; a dict can only be filled here, by the replay calling `load_record`.
        self.aside: Callable[[Collection[int], int], Awaitable[dict[int, int]]] | None = (
            None if settings.store == "memory://" else self.rebuild_aside
        )

    def reset(self, partitions: set[int]) -> None:
        """Start these partitions' stores empty, before their replay (a RocksDB one: by the rebuild)."""
        self.replay_at = self.clock.now_us()
        for partition in partitions:
            self.drop(partition)
            if self.aside is None:
                self.stores[partition] = _open_store(self.settings, partition)
            else:
                self.building.add(partition)

    async def rebuild_aside(self, partitions: Collection[int], since_ms: int) -> dict[int, int]:
        """Rebuild reset partitions' RocksDB stores in a child process; returns the log's end offsets.

        The child replays the log into each store's directory, flushes and
        closes it; a partition still wanted then is opened here, a partition
        dropped meanwhile has its directory removed. The child is killed if
        this is cancelled (the worker stops), and dies if the worker does.
        """
        job = pickle.dumps((self.settings, sorted(partitions), since_ms, self.replay_at, os.getpid()))
        source = str(Path(socialsla.__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])),
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "socialsla.stream.thread_store",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            out, _ = await child.communicate(job)
        except BaseException:
            if child.returncode is None:
                child.kill()
                await child.wait()
            raise
        if child.returncode != 0:
            raise RuntimeError(
                f"rebuilding thread stores {sorted(partitions)} failed (exit {child.returncode})"
            )
        result = orjson.loads(out)
        self.unreadable += result["unreadable"]
        for partition in partitions:
            if partition in self.building:
                self.building.discard(partition)
                self.stores[partition] = _open_store(self.settings, partition, empty=False)
            else:
                shutil.rmtree(_store_path(self.settings, partition), ignore_errors=True)
        return {int(partition): end for partition, end in result["ends"].items()}

    def load_record(self, partition: int, record: Any) -> None:
        """Apply one record of the partition's log: its states replace the stored ones."""
        store = self.stores.get(partition)
        if store is None:
            return
        try:
            states = [(key, self._live(state)) for key, state in unpack(record.value or b"")]
        except ValueError as exc:
            self.unreadable += 1
            log.error("socialsla: %s[%d] offset %d is not a thread-state record (%s); skipped",
                      self.log_topic, partition, record.offset, exc)  # fmt: skip
            return
        _put_all(store, states)

    def _live(self, state: bytes) -> bytes | None:
        """A replayed state, or None for a thread past the horizon: the sweep purged it, or would.

        Replaying it would bring back a thread the live worker had forgotten, and
        its next event would continue it instead of starting a new one.
        """
        try:
            last = thread.last_event_of(state)
        except ValueError:
            return state  # an older format: the stage says so when it meets it
        return None if thread.past_horizon(last, self.replay_at, self.horizon_us) else state

    def drop(self, partition: int) -> None:
        """Close and remove a partition's store (one a child is rebuilding: once the child is done)."""
        self.building.discard(partition)
        store = self.stores.pop(partition, None)
        if store is not None and hasattr(store, "close"):
            store.close()
            shutil.rmtree(_store_path(self.settings, partition), ignore_errors=True)

    def get(self, partition: int, key: bytes) -> bytes | None:
        """A thread's stored state on a loaded partition."""
        return self.stores[partition].get(key)

    def get_many(self, partition: int, keys: list[bytes]) -> list[bytes | None]:
        """Threads' stored states on a loaded partition: RocksDB reads them in one call."""
        store = self.stores[partition]
        if isinstance(store, dict):
            return [store.get(key) for key in keys]
        found: list[bytes | None] = store.get(keys)  # type: ignore[call-overload]
        return found

    def keys(self, partition: int) -> list[bytes]:
        """Every thread of a loaded partition."""
        return list(self.stores[partition].keys())

    def delete(self, partition: int, key: bytes) -> None:
        """Purge a thread from the local store; its log records age out with the topic's retention."""
        store = self.stores[partition]
        if key in store:
            del store[key]

    def put(self, partition: int, changed: dict[bytes, bytes]) -> list[bytes]:
        """Store changed states; returns the records that log them, for the partition of the log."""
        _put_all(self.stores[partition], changed.items())
        return list(pack(changed.items()))


def _rebuild_here() -> None:
    """The child of `ThreadStore.rebuild_aside`: replay the log into fresh stores, then print the result."""
    settings, partitions, since_ms, replay_at, worker = pickle.loads(sys.stdin.buffer.read())
    die_with_parent(worker)  # a worker killed with SIGKILL takes its child along
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    store = ThreadStore(settings, parse_clock(settings.clock))
    store.replay_at = replay_at  # the worker's clock when it opened the partitions
    for partition in partitions:
        store.stores[partition] = _open_store(settings, partition)
    ends = asyncio.run(
        readback.read_back(
            kafka.client_options(settings), store.log_topic, partitions, since_ms, store.load_record
        )
    )
    for partition in partitions:
        rocks = store.stores.pop(partition)
        rocks.flush()  # type: ignore[attr-defined]  # no write-ahead log: the states go to files now
        rocks.close()  # type: ignore[attr-defined]
    sys.stdout.buffer.write(
        orjson.dumps({"ends": {str(p): end for p, end in ends.items()}, "unreadable": store.unreadable})
    )


if __name__ == "__main__":
    _rebuild_here()
