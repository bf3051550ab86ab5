"""A bucket: the waits that start in one tumbling interval, and its cached readings.

A bucket's aggregate depends on T only through a few change points per wait
(start, answer, deadline `start + R`); each reading is cached together with the
interval of T over which it holds (`change_points.py`), so a wall clock moving
forward reuses it until the next change point, and any edit to the bucket drops
them all.
"""

from __future__ import annotations

from socialsla.core.accumulators import AnswerAccumulator, ResolutionAccumulator, WaitAccumulator
from socialsla.core.change_points import FOREVER, narrow
from socialsla.core.forecast import Outlook
from socialsla.core.thread import Wait
from socialsla.core.view import View


class Bucket:
    """The waits whose start falls in one tumbling interval, keyed by (thread, start).

    A thread's waits start at strictly increasing times (each after the previous
    answer), so the start tells them apart.
    """

    __slots__ = (
        "answers_cache", "cache", "first_resolved", "latency_cache", "open_cache", "open_latency_cache",
        "open_resolution_cache", "ordered", "outlook_cache", "records", "resolution_cache", "resolved",
        "starts",
    )  # fmt: skip

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], Wait] = {}
        #: The resolved conversations among the records, same keys, packed (`pack_resolution`).
        self.resolved: dict[tuple[str, int], int] = {}
        self.cache: tuple[int, int, WaitAccumulator] | None = None  # the wall view's aggregate
        self.open_cache: tuple[int, int, WaitAccumulator] | None = None  # the business view's
        self.latency_cache: tuple[int, int, list[int]] | None = None
        self.open_latency_cache: tuple[int, int, list[int]] | None = None
        self.outlook_cache: dict[tuple[int, bool], Outlook] | None = None
        self.resolution_cache: tuple[int, int, ResolutionAccumulator] | None = None
        self.open_resolution_cache: tuple[int, int, ResolutionAccumulator] | None = None
        #: The earliest resolve among the records, once asked: (None,) when none is resolved.
        self.first_resolved: tuple[int | None] | None = None
        self.answers_cache: tuple[int, int, AnswerAccumulator] | None = None  # the agents' (wall view)
        #: The earliest and the latest start among the records, once asked.
        self.starts: tuple[int, int] | None = None
        #: The records' keys in the waiting list's order, once asked.
        self.ordered: list[tuple[str, int]] | None = None

    def touch(self) -> None:
        """Drop every cached reading: the records changed."""
        self.cache = self.open_cache = self.latency_cache = self.open_latency_cache = None
        self.outlook_cache = self.resolution_cache = self.open_resolution_cache = None
        self.first_resolved = self.starts = self.ordered = self.answers_cache = None

    def in_order(self) -> list[tuple[str, int]]:
        """Its records' keys, oldest first, ties by thread (the waiting list's order); cached until touched.

        A reader of the list's head (the board, `?limit=`) then costs the
        entries it reads, not a sort of the bucket each time. The list holds
        the records' own keys: no object per record is made to keep it.
        """
        if self.ordered is None:
            self.ordered = sorted(self.records, key=_by_start)
        return self.ordered

    def earliest(self) -> int:
        """The earliest start it holds (it holds at least one record); cached until touched."""
        return self._starts()[0]

    def newest(self) -> int:
        """The latest start it holds: read whole at any T from then on; cached until touched."""
        return self._starts()[1]

    def _starts(self) -> tuple[int, int]:
        if self.starts is None:
            starts = [start for _, start in self.records]
            self.starts = (min(starts), max(starts))
        return self.starts

    def earliest_resolve(self) -> int | None:
        """The earliest `resolved_at` of its conversations (None: none is resolved); cached until touched."""
        if self.first_resolved is None:
            lowest = min(self.resolved.values(), default=None)  # packing keeps the order of resolved_at
            self.first_resolved = (None if lowest is None else lowest >> 2,)
        return self.first_resolved[0]

    def resolution(self, at: int, view: View) -> ResolutionAccumulator:
        """Its conversations' resolution figures at `at` on `view` (S its window); cached like `aggregate`."""
        cache = self.open_resolution_cache if view.business else self.resolution_cache
        if cache is not None and cache[0] <= at < cache[1]:
            return cache[2]
        total, low, high = ResolutionAccumulator(), -FOREVER, FOREVER
        resolved = self.resolved
        for key, wait in self.records.items():
            if not wait.conversation:
                continue
            packed = resolved.get(key)
            total.put(wait.start, packed, at, view)
            resolved_at = None if packed is None else packed >> 2
            low, high = narrow(low, high, at, view.deadline(wait.start), resolved_at)
            low = max(low, wait.start)
        if view.business:
            self.open_resolution_cache = (low, high, total)
        else:
            self.resolution_cache = (low, high, total)
        return total

    def latencies(self, at: int, view: View) -> list[int]:
        """Latencies of its conversations answered by `at`, largest first; cached like `aggregate`."""
        cache = self.open_latency_cache if view.business else self.latency_cache
        if cache is not None and cache[0] <= at < cache[1]:
            return cache[2]
        out, low, high = [], -FOREVER, FOREVER
        for wait in self.records.values():
            answer = wait.answer
            if not wait.conversation or answer is None:
                continue
            if answer <= at:
                out.append(view.age(wait.start, answer))
            low, high = narrow(low, high, at, answer)
        out.sort(reverse=True)
        if view.business:
            self.open_latency_cache = (low, high, out)
        else:
            self.latency_cache = (low, high, out)
        return out

    def outlook(self, at: int, length: int, view: View) -> Outlook:
        """Its conversations' `Outlook` for a window of `length`; cached while it holds."""
        cached = self.outlook_cache
        if cached is None:
            cached = self.outlook_cache = {}
        found = cached.get((length, view.business))
        if found is None or not found.low <= at < found.high:
            found = cached[length, view.business] = Outlook(self.records.values(), at, length, view)
        return found

    def answers(self, at: int, view: View) -> AnswerAccumulator:
        """Each agent's answers given by `at` (wall view); reused until the next answer, as `aggregate` is."""
        cache = self.answers_cache
        if cache is not None and cache[0] <= at < cache[1]:
            return cache[2]
        total, low, high = AnswerAccumulator(), -FOREVER, FOREVER
        for wait in self.records.values():
            total.add(wait, at, view)
            low, high = narrow(low, high, at, wait.answer)
            low = max(low, wait.start)
        self.answers_cache = (low, high, total)
        return total

    def aggregate(self, at: int, view: View) -> WaitAccumulator:
        """All records' contribution at `at`, reused while no change point is crossed."""
        cache = self.open_cache if view.business else self.cache
        if cache is not None and cache[0] <= at < cache[1]:
            return cache[2]
        total, low, high = WaitAccumulator(), -FOREVER, FOREVER
        for wait in self.records.values():
            total.add(wait, at, view)
            low, high = narrow(low, high, at, view.deadline(wait.start), wait.answer)
            low = max(low, wait.start)
        if view.business:
            self.open_cache = (low, high, total)
        else:
            self.cache = (low, high, total)
        return total


def _by_start(record: tuple[str, int]) -> tuple[int, str]:
    return record[1], record[0]
