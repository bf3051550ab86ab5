"""Which stage-2 partitions this worker exports, and loading their series from the table.

A worker exports only the series of outcome partitions it actively owns (SPEC
§6: one exporter per series). A newly assigned partition is rebuilt from the
`series` table once Faust reports its recovery finished; because Faust reports
nothing after a rebalance with no changelog to replay, owned partitions are
also loaded by housekeeping when no rebalance is under way. A partition stage 2
had to load early (events taken before a rebalance, processed after it) is
loaded again, whole, at that round.
"""

from __future__ import annotations

import logging
from typing import Any

from socialsla import rows
from socialsla.ledger import Ledger

log = logging.getLogger("socialsla")


class Ownership:
    """The outcome partitions loaded into the ledger, kept in step with Faust's assignment."""

    def __init__(self, app: Any, topic: str, table: Any, ledger: Ledger) -> None:
        self.app = app
        self.topic = topic
        self.table = table
        self.ledger = ledger
        self.loaded: set[int] = set()
        #: Partitions loaded outside a completed recovery, to load again once stable.
        self.reload: set[int] = set()

    def active(self) -> set[int]:
        """The outcome partitions Faust has actively assigned to this worker."""
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topic}

    def load(self, partitions: set[int]) -> None:
        """Rebuild the ledger of newly owned partitions from the stage-2 table."""
        fresh = partitions - self.loaded
        if not fresh:
            return
        starts = tuple(rows.prefix(partition) for partition in fresh)
        foreign = 0
        for key, value in list(self.table.items()):
            if key.startswith(starts):
                try:
                    self.ledger.restore(key, value)
                except ValueError:
                    foreign += 1
            elif not key[:1].isdigit():
                foreign += 1
        if foreign:
            log.error(
                "socialsla: %d rows of table %s are in the format of an older socialsla (keys without an "
                "input partition before 0.2, one conversation per row before 0.3); they are ignored. Start "
                "the worker with a new SOCIALSLA_APP_ID to rebuild every table from the input topics.",
                foreign,
                self.table.name,
            )
        self.loaded |= fresh
        log.info("socialsla: loaded partitions %s of %s", sorted(fresh), self.topic)

    def ensure_loaded(self, partition: int) -> None:
        """Load a partition an outcome arrived for, if it is not; reload it whole once stable.

        Events taken before a rebalance can reach stage 2 after their partition's
        revocation, while the table may still be recovering.
        """
        if partition not in self.loaded:
            self.load({partition})
            self.reload.add(partition)

    def forget(self, partition: int) -> None:
        """Drop a partition's series from the output."""
        self.ledger.drop(partition)
        self.loaded.discard(partition)

    async def on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Faust's `on_partitions_revoked` signal: revoked series leave the output at once."""
        for tp in args[0]:
            if tp.topic == self.topic:
                self.forget(tp.partition)

    async def on_recovered(self) -> None:
        """Faust's table recovery hook: the table now holds every row of the owned partitions."""
        active = self.active()
        for partition in active:
            self.forget(partition)
        self.load(active)

    def settle(self) -> None:
        """Between rebalances: drop what is no longer owned, load what is, reload what was loaded early."""
        active = self.active()
        for partition in (set(self.ledger.partitions) | self.loaded) - active:
            self.forget(partition)
        if self.app.rebalancing:
            return
        again = self.reload & active
        self.reload.clear()
        for partition in again:
            self.forget(partition)
        self.load(active)
