"""Both stages' log-backed state, partition by partition: loaded on assignment, served, dropped on revocation.

Each stage keeps state per partition that is rebuilt from a log (a `LogBacked`):
stage 1 its threads (`thread_store.ThreadStore`, log `<app id>-threads`),
stage 2 its series (`ledger.Ledger`, log `social.outcomes` itself). This one
manager decides for both when a partition's state exists:

* Faust's `on_partitions_assigned` signal records the assignment and wakes the
  loading task (`keep_loaded`), which rebuilds every assigned partition not
  loaded yet, one replay per log (`readback.read_back`), so a restarted worker
  has its state, and `/healthz` says so, before the first event; both logs at
  once, stage 1's thread stores by a child process when they are RocksDB
  (`aside`: the replays are CPU work, and a worker has more than one core);
* an agent awaits `ready` before a batch, which loads what the batch needs if
  the task has not yet (the same `load`, under the same lock), so no event is
  ever applied to a partition that is not rebuilt;
* Faust's `on_partitions_revoked` signal drops the revoked partitions' state:
  another worker writes their logs from now on. Faust sends it after the
  events in flight are processed (`stream_wait_empty`) and the producer is
  flushed, and aiokafka revokes every partition at each rebalance, so a
  partition kept through a rebalance is rebuilt too: its log is whole then.

A replay reads each partition from `now - (7d + R)` and a day's margin
(`readback.since_ms`) up to the end offsets taken at its start; the live agent
skips what it applied already (`replayed`). A partition revoked while its replay
ran is not marked loaded, and its next `ready` or assignment loads it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from socialsla.stream import readback

log = logging.getLogger("socialsla")

#: Reads a log back (`readback.read_back`): options, topic, partitions, since_ms, apply -> end offsets.
Reader = Callable[
    [dict[str, Any], str, Collection[int], int, Callable[[int, Any], None]], Awaitable[dict[int, int]]
]

#: How long the loading task waits before it tries again after a failed replay.
RETRY_S = 1.0


class LogBacked(Protocol):
    """A stage's state per partition that its log rebuilds."""

    def reset(self, partitions: set[int]) -> None:
        """Start these partitions empty: a replay fills them next."""

    def load_record(self, partition: int, record: Any) -> None:
        """Apply one record of the partition's log, read back in order."""

    def drop(self, partition: int) -> None:
        """Forget the partition's state."""

    #: None, or how the state rebuilds reset partitions itself, out of this process (`partitions,
    #: since_ms -> end offsets`), instead of the replay calling `load_record` here.
    aside: Callable[[Collection[int], int], Awaitable[dict[int, int]]] | None


@dataclass(eq=False)
class _Log:
    """Where one state's partitions stand."""

    state: LogBacked
    #: The topic whose partitions are replayed into the state.
    log_topic: str
    #: The assigned topics whose partitions it follows (posts and replies are co-partitioned).
    topics: frozenset[str]
    assigned: set[int] = field(default_factory=set)
    loaded: set[int] = field(default_factory=set)
    #: Per loaded partition, the first offset its replay did not apply.
    ends: dict[int, int] = field(default_factory=dict)
    #: Bumped by a drop: a partition dropped while its replay ran is not marked loaded.
    generation: dict[int, int] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Partitions:
    """Which partitions of each log-backed state this worker has, and the one place they change."""

    def __init__(
        self,
        options: dict[str, Any],
        start_ms: Callable[[], int],
        states: Sequence[tuple[LogBacked, str, frozenset[str]]],
        reader: Reader = readback.read_back,
    ) -> None:
        self.options = options
        self.start_ms = start_ms
        self.reader = reader
        #: Per state (by identity): its log topic and the assigned topics it follows.
        self.logs = {id(state): _Log(state, log_topic, topics) for state, log_topic, topics in states}
        self.assignment_changed = asyncio.Event()

    def _log(self, state: LogBacked) -> _Log:
        return self.logs[id(state)]

    def loaded(self, state: LogBacked) -> set[int]:
        """The partitions of `state` rebuilt and served."""
        return set(self._log(state).loaded)

    def holds(self, state: LogBacked, partition: int) -> bool:
        """Whether the partition of `state` is loaded now (not dropped since)."""
        return partition in self._log(state).loaded

    def replayed(self, state: LogBacked, partition: int, offset: int) -> bool:
        """Whether the partition's replay applied this offset of its log already."""
        return offset < self._log(state).ends.get(partition, 0)

    # -- Faust's rebalance signals --------------------------------------------------------------

    def assign(self, tps: Iterable[Any]) -> None:
        """Record an assignment (topic-partitions) and wake the loading task."""
        tps = list(tps)
        for entry in self.logs.values():
            entry.assigned = {tp.partition for tp in tps if tp.topic in entry.topics}
        self.assignment_changed.set()

    def revoke(self, tps: Iterable[Any]) -> None:
        """Drop the state of revoked topic-partitions."""
        tps = list(tps)
        for entry in self.logs.values():
            for partition in sorted({tp.partition for tp in tps if tp.topic in entry.topics}):
                entry.assigned.discard(partition)
                self._drop(entry, partition)

    async def on_assigned(self, sender: Any, /, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        """Faust's `on_partitions_assigned` signal."""
        self.assign(args[0])

    async def on_revoked(self, sender: Any, /, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        """Faust's `on_partitions_revoked` signal."""
        self.revoke(args[0])

    # -- loading --------------------------------------------------------------------------------

    async def ready(self, state: LogBacked, partitions: Collection[int]) -> None:
        """Return once these partitions of `state` are loaded; loads them and the assigned ones not loaded."""
        entry = self._log(state)
        while missing := set(partitions) - entry.loaded:  # again if one was dropped during its replay
            await self._load(entry, missing | entry.assigned)

    async def load_assigned(self) -> None:
        """Load every assigned partition not loaded yet, of every state, the states side by side.

        A state rebuilt aside (in a child process) then replays on another core
        while the others replay here.
        """
        await asyncio.gather(*(self._load(entry, set(entry.assigned)) for entry in self.logs.values()))

    async def keep_loaded(self) -> None:
        """The loading task: after each assignment, load it; after a failed replay, try again."""
        while True:
            await self.assignment_changed.wait()
            self.assignment_changed.clear()
            try:
                await self.load_assigned()
            except Exception as exc:  # the broker went away: the next try, or an agent's `ready`, loads
                log.warning("socialsla: loading assigned partitions failed (%r); trying again", exc)
                await asyncio.sleep(RETRY_S)
                self.assignment_changed.set()

    async def _load(self, entry: _Log, partitions: set[int]) -> None:
        async with entry.lock:
            fresh = partitions - entry.loaded
            if not fresh:
                return
            state = entry.state
            generations = {p: entry.generation.get(p, 0) for p in fresh}
            state.reset(fresh)
            began = time.monotonic()
            applied = [0]

            def apply(partition: int, record: Any) -> None:
                if entry.generation.get(partition, 0) == generations[partition]:  # not dropped meanwhile
                    applied[0] += 1
                    state.load_record(partition, record)

            if state.aside is not None:
                ends = await state.aside(fresh, self.start_ms())
            else:
                ends = await self.reader(self.options, entry.log_topic, fresh, self.start_ms(), apply)
            kept = {p for p in fresh if entry.generation.get(p, 0) == generations[p]}
            entry.ends.update((p, ends[p]) for p in kept)
            entry.loaded |= kept
            how = "in a child process" if state.aside else f"from {applied[0]} messages"
            log.info(
                "socialsla: loaded partitions %s of %s %s in %.1f s",
                sorted(kept), entry.log_topic, how, time.monotonic() - began,
            )  # fmt: skip

    def _drop(self, entry: _Log, partition: int) -> None:
        entry.generation[partition] = entry.generation.get(partition, 0) + 1
        entry.loaded.discard(partition)
        entry.ends.pop(partition, None)
        entry.state.drop(partition)
