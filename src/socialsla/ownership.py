"""Which stage-2 partitions this worker exports, and rebuilding their series from `social.outcomes`.

A worker exports only the series of outcome partitions it actively owns (SPEC
§6: one exporter per series). A partition is loaded by replaying its part of
`social.outcomes` from `now - (7d + R)` and a day's margin (`readback.Loader`,
`Ledger.replay`): the topic is stage 2's log, so there is no table to recover
and nothing to wait for. Housekeeping loads owned partitions between
rebalances; stage 2 loads a partition an outcome arrives for before applying
it. Either way the log is complete, so a partition loaded during a rebalance is
as right as one loaded after it; a partition no longer owned is dropped at the
next round.
"""

from __future__ import annotations

from typing import Any

from socialsla import readback
from socialsla.clock import Clock
from socialsla.series import Ledger
from socialsla.wire import is_totals


class Ownership:
    """The outcome partitions loaded into the ledger, kept in step with Faust's assignment."""

    def __init__(
        self, app: Any, topic: str, ledger: Ledger, clock: Clock, horizon_us: int, options: dict[str, Any]
    ) -> None:
        self.app = app
        self.topic = topic
        self.ledger = ledger
        self.loader = readback.Loader(
            options, topic, lambda: readback.since_ms(clock.now_us(), horizon_us), self._apply
        )
        #: Per partition, when each series last sent its totals (time.time()).
        self.totals_sent: dict[int, dict[str, float]] = {}
        #: Messages a replay could not read (each was dead-lettered when first consumed).
        self.unreadable = 0

    @property
    def loaded(self) -> set[int]:
        """The partitions whose series this worker has and exports."""
        return self.loader.loaded

    def _apply(self, partition: int, record: Any) -> None:
        value = record.value or b""
        try:
            self.ledger.replay(partition, value)
        except ValueError:
            self.unreadable += 1
            return
        if is_totals(value):
            sent = self.totals_sent.setdefault(partition, {})
            sent[record.key.decode(errors="replace")] = record.timestamp / 1000

    def active(self) -> set[int]:
        """The outcome partitions Faust has actively assigned to this worker."""
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topic}

    async def ensure_loaded(self, partition: int) -> None:
        """Load a partition an outcome arrived for, if it is not, with every owned one not loaded yet.

        One replay for all of them, so that after a restart the series appear
        together rather than partition by partition as outcomes happen to arrive.
        """
        if partition not in self.loader.loaded:
            await self.loader.load({partition} | self.active())

    def replayed(self, partition: int, offset: int) -> bool:
        """Whether the partition's replay applied this offset already, so the live agent skips it."""
        return self.loader.replayed(partition, offset)

    def forget(self, partition: int) -> None:
        """Drop a partition's series from the output."""
        self.ledger.drop(partition)
        self.loader.forget(partition)
        self.totals_sent.pop(partition, None)

    async def on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Faust's `on_partitions_revoked` signal: revoked series leave the output at once."""
        for tp in args[0]:
            if tp.topic == self.topic:
                self.forget(tp.partition)

    async def settle(self) -> None:
        """Between rebalances: drop what is no longer owned, load what is."""
        active = self.active()
        for partition in (set(self.ledger.partitions) | self.loaded) - active:
            self.forget(partition)
        if not self.app.rebalancing:
            await self.loader.load(active)
