"""Rolling 1h / 24h / 7d windows per series (docs/semantics.md, "Windows at time T").

Waits are kept in tumbling buckets by their start, one compact record
(`start`, `answer`, `conversation`) each: conversations feed the response-rate
and first-reply statistics, the other follow-ups the next-reply ones. Reading
at time T sums whole buckets from a cached aggregate and walks records only in
the buckets a window edge cuts through, so evaluation costs about one step per
bucket, not one per wait, while staying exact at any T (microsecond times,
integer sums).

Each bucket caches its readings between change points (`bucket.py`); the
result types are in `stats.py`, the breach forecast's sweep in `forecast.py`
and the per-agent figures in `agents.py`.

Setting a thread replaces all its waits at once, so it is idempotent, and a
late event that merged two waits leaves no stale record: replayed or re-emitted
outcomes cannot double-count.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Iterator, Mapping
from fractions import Fraction
from typing import Final

from socialsla.core.accumulators import AnswerAccumulator, ResolutionAccumulator, WaitAccumulator, sum_windows
from socialsla.core.bucket import Bucket
from socialsla.core.calendars import Calendar
from socialsla.core.change_points import FOREVER
from socialsla.core.events import MICROS
from socialsla.core.forecast import Outlook, breach_at
from socialsla.core.stats import ALL, WINDOWS, ResolutionStats, SeriesStats
from socialsla.core.thread import Wait
from socialsla.core.view import View

DEFAULT_BUCKET_US: Final = 900 * MICROS


class SeriesWindows:
    """The rolling windows of one (account, channel), updated one thread at a time."""

    def __init__(
        self, response_window_us: int, bucket_us: int = DEFAULT_BUCKET_US, calendar: Calendar | None = None
    ) -> None:
        if bucket_us <= 0 or response_window_us <= 0:
            raise ValueError("bucket and response window must be positive")
        self.response_window_us = response_window_us
        self.bucket_us = bucket_us
        self.calendar = calendar
        self.wall = View(response_window_us)
        #: The business view (durations in the calendar's open time), for a series with a calendar.
        self.open = (
            None if calendar is None else View(calendar.response_window_us or response_window_us, calendar)
        )
        self._buckets: dict[int, Bucket] = {}
        self._threads: dict[str, tuple[Wait, ...]] = {}
        #: Waits starting before this were expired (`expire`) and are never taken back,
        #: so a thread re-sent in full cannot count them twice.
        self.floor = -FOREVER

    def __len__(self) -> int:
        """Threads kept."""
        return len(self._threads)

    def threads(self) -> Iterator[tuple[str, tuple[Wait, ...]]]:
        """Every kept thread with its kept waits."""
        yield from self._threads.items()

    def waits_of(self, key: str) -> tuple[Wait, ...]:
        """A thread's kept waits (none when it is not kept)."""
        return self._threads.get(key, ())

    def started_by(self, at: int) -> bool:
        """Whether a kept wait starts at or before `at`."""
        if not self._buckets:
            return False
        return self._buckets[min(self._buckets)].earliest() <= at

    def holds_before(self, key: str, before: int) -> bool:
        """Whether the thread keeps a wait that `expire(before)` would drop."""
        size = self.bucket_us
        return any((wait.start // size + 1) * size <= before for wait in self._threads.get(key, ()))

    def set(self, key: str, waits: tuple[Wait, ...], resolved: Mapping[int, int] | None = None) -> bool:
        """Record a thread's current waits, replacing its old ones; returns whether anything changed.

        `resolved`: its resolved conversations by their start, packed
        (`pack_resolution`); a conversation wait not in it is unresolved.
        """
        size, floor = self.bucket_us, self.floor
        if waits and (waits[0].start // size + 1) * size <= floor:  # starts increase: the first kept, all are
            kept = tuple(w for w in waits if (w.start // size + 1) * size > floor)
        else:
            kept = waits
        wanted: dict[int, int] = {}
        if resolved:  # most threads have no resolution: no dict built for them
            wanted = {w.start: resolved[w.start] for w in kept if w.conversation and w.start in resolved}
        old = self._threads.get(key)
        if old == kept and self._resolved_of(key, kept) == wanted:
            return False
        if old is not None:
            self._remove(key, old)
        if not kept:
            return old is not None
        self._threads[key] = kept
        buckets = self._buckets
        for wait in kept:
            number = wait.start // size
            bucket = buckets.get(number)
            if bucket is None:
                bucket = buckets[number] = Bucket()
            record = (key, wait.start)
            bucket.records[record] = wait
            packed = wanted.get(wait.start)
            if packed is not None:
                bucket.resolved[record] = packed
            bucket.touch()
        return True

    def _resolved_of(self, key: str, waits: tuple[Wait, ...]) -> dict[int, int]:
        """The kept resolutions of a thread's waits, by start."""
        out = {}
        for wait in waits:
            bucket = self._buckets.get(wait.start // self.bucket_us)
            packed = None if bucket is None else bucket.resolved.get((key, wait.start))
            if packed is not None:
                out[wait.start] = packed
        return out

    def _remove(self, key: str, waits: tuple[Wait, ...]) -> None:
        del self._threads[key]
        size = self.bucket_us
        for wait in waits:
            number = wait.start // size
            bucket = self._buckets[number]
            record = (key, wait.start)
            del bucket.records[record]
            bucket.resolved.pop(record, None)
            if bucket.records:
                bucket.touch()
            else:
                del self._buckets[number]

    def expire(self, before: int) -> list[tuple[str, Wait]]:
        """Drop and return the waits of buckets wholly before `before`, with their threads.

        A thread keeps its newer waits; the caller rewrites (or deletes) the
        rows of the threads named here from `waits_of`.
        """
        size = self.bucket_us
        dropped: list[tuple[str, Wait]] = []
        for number in [n for n in self._buckets if (n + 1) * size <= before]:
            bucket = self._buckets.pop(number)
            dropped.extend((key, wait) for (key, _), wait in bucket.records.items())
        if dropped and before > self.floor:
            # Only when something was dropped: the floor is then part of the totals a replay
            # applies (`wire.Totals.floor`), so live and replayed windows keep the same waits.
            self.floor = before
        for key in {key for key, _ in dropped}:
            remaining = tuple(w for w in self._threads[key] if (w.start // size + 1) * size > before)
            if remaining:
                self._threads[key] = remaining
            else:
                del self._threads[key]
        return dropped

    def unanswered(self, at: int, edge: int) -> Iterator[tuple[int, str, bool]]:
        """`(start, thread, is_conversation)` of each wait with `edge < start <= at` unanswered at `at`.

        Oldest first, ties by thread (the waiting list's order); buckets are
        read in order, so a caller that stops early reads only the oldest ones,
        and a bucket whose cached aggregate has nobody unanswered is skipped
        unread: between two entries, at most the rest of one bucket and the
        head of the next are read, however many answered waits lie between.
        """
        size = self.bucket_us
        for number in sorted(self._buckets):
            if (number + 1) * size - 1 <= edge:
                continue
            if number * size > at:
                break
            bucket = self._buckets.get(number)
            if bucket is None:  # expired while a slow reader was between two buckets
                continue
            total = bucket.aggregate(at, self.wall)
            if total.conversations.inbound == total.conversations.count and (
                total.follow_ups.inbound == total.follow_ups.count
            ):
                continue  # every wait in it is answered by `at`
            records = bucket.records
            for record in bucket.in_order():
                key, start = record
                wait = records.get(record)
                if wait is not None and edge < start <= at and (wait.answer is None or wait.answer > at):
                    yield start, key, wait.conversation

    def missed_by(self, at: int, view: View) -> int:
        """A start such that every kept wait started by then is missed on `view` at `at` if unanswered.

        A deadline only grows with the start, so the newest bucket whose latest
        start is past its deadline bounds every older one: a walk of the
        buckets from the newest, one deadline each.
        """
        for number in sorted(self._buckets, reverse=True):
            newest = self._buckets[number].newest()
            deadline = view.deadline(newest)
            if newest <= at and deadline is not None and deadline <= at:
                return newest
        return -FOREVER

    def unanswered_started(self, start: int, at: int) -> list[str]:
        """The threads whose conversation started at `start` is unanswered at `at`."""
        bucket = self._buckets.get(start // self.bucket_us)
        if bucket is None:
            return []
        return [
            key
            for (key, began), wait in bucket.records.items()
            if began == start and wait.conversation and (wait.answer is None or wait.answer > at)
        ]

    def view(self, business: bool) -> View:
        """The wall view, or the business one (ValueError for a series without a calendar)."""
        if not business:
            return self.wall
        if self.open is None:
            raise ValueError("this series has no calendar: it has no business view")
        return self.open

    def evaluate(
        self, at: int, lifetime: bool = False, business: bool = False, only: Collection[str] | None = None
    ) -> SeriesStats:
        """The first-reply and next-reply statistics of every window at `at` (microseconds), on either clock.

        With `lifetime`, also an "all" window over every kept wait, for the
        cumulative counters and histogram that Prometheus rates are taken from.
        `only` names the windows wanted (the 7d one is always read: the oldest
        wait is taken from it), for a reader that needs no more, such as the
        on-call board's verdicts: a shorter window's edge is where most walking is.
        """
        view = self.view(business)
        spans = [
            (name, at - seconds * MICROS)
            for name, seconds in WINDOWS.items()
            if only is None or name in only or name == "7d"
        ]
        if lifetime:
            spans.append((ALL, -FOREVER))

        def walk(bucket: Bucket, into: WaitAccumulator, edge: int) -> None:
            for wait in bucket.records.values():
                if edge < wait.start <= at:
                    into.add(wait, at, view)

        sums = sum_windows(
            self._buckets,
            self.bucket_us,
            at,
            spans,
            WaitAccumulator,
            lambda bucket: bucket.aggregate(at, view),
            walk,
            Bucket.newest,
        )
        oldest = sums["7d"].conversations.oldest
        return SeriesStats(
            at,
            {name: total.freeze() for name, total in sums.items()},
            None if oldest is None else view.age(oldest, at),
        )

    def earliest_resolve(self) -> int | None:
        """The earliest resolve of a kept conversation: the series tracks resolution from then on."""
        return min(
            (found for bucket in self._buckets.values() if (found := bucket.earliest_resolve()) is not None),
            default=None,
        )

    def resolution(self, at: int, view: View) -> dict[str, ResolutionStats]:
        """Resolution per window at `at`: the conversations opened in it, judged against `view`'s window (S).

        `view` is `View(S)`, or `View(S, calendar)` for the business view (a
        series keeps the same one of each). Summed per bucket as `evaluate` is.
        """
        spans = [(name, at - seconds * MICROS) for name, seconds in WINDOWS.items()]

        def walk(bucket: Bucket, into: ResolutionAccumulator, edge: int) -> None:
            for key, wait in bucket.records.items():
                if wait.conversation and edge < wait.start <= at:
                    into.put(wait.start, bucket.resolved.get(key), at, view)

        sums = sum_windows(
            self._buckets,
            self.bucket_us,
            at,
            spans,
            ResolutionAccumulator,
            lambda bucket: bucket.resolution(at, view),
            walk,
            Bucket.newest,
        )
        return {name: total.stats() for name, total in sums.items()}

    def answers(self, at: int) -> dict[str, AnswerAccumulator]:
        """Per window, each agent's answers by `at` to waits started in it (wall clock), for `agents.py`.

        Summed per bucket as `evaluate` is: a bucket's reading is cached until
        its next answer, so a scrape walks only the buckets a window's edge cuts.
        """
        spans = [(name, at - seconds * MICROS) for name, seconds in WINDOWS.items()]
        view = self.wall

        def walk(bucket: Bucket, into: AnswerAccumulator, edge: int) -> None:
            for wait in bucket.records.values():
                if edge < wait.start <= at:
                    into.add(wait, at, view)

        return sum_windows(
            self._buckets,
            self.bucket_us,
            at,
            spans,
            AnswerAccumulator,
            lambda bucket: bucket.answers(at, view),
            walk,
            Bucket.newest,
        )

    def fastest_average_us(
        self, at: int, window: str, fraction: Fraction, business: bool = False
    ) -> Fraction | None:
        """A rule's `avg_of_fastest`: the mean of the `ceil(fraction * count)` fastest first replies.

        Exact, not from buckets: whole buckets keep their latencies sorted (cached
        like their aggregates), so the slowest `count - take` are found by merging
        those lists from the top, and only buckets cut by the window edge are walked.
        """
        view = self.view(business)
        edge = at - WINDOWS[window] * MICROS
        size = self.bucket_us
        lists: list[list[int]] = []
        loose: list[int] = []
        for number, bucket in self._buckets.items():
            start, last = number * size, number * size + size - 1
            if start > at or last <= edge:
                continue
            if start > edge and last <= at:
                lists.append(bucket.latencies(at, view))
                continue
            loose.extend(
                view.age(w.start, w.answer)
                for w in bucket.records.values()
                if w.conversation and edge < w.start <= at and w.answer is not None and w.answer <= at
            )
        loose.sort(reverse=True)
        lists.append(loose)
        count = sum(len(values) for values in lists)
        if not count:
            return None
        take = -(-fraction.numerator * count // fraction.denominator)  # ceil, exactly
        total = sum(sum(values) for values in lists)
        slowest = sum(itertools.islice(heapq.merge(*lists, reverse=True), count - take))
        return Fraction(total - slowest, take)

    def rate_breach_at(self, at: int, window: str, threshold: Fraction, business: bool = False) -> int | None:
        """The breach forecast: the earliest T' in [at, at + 7d] where the window's rate is below `threshold`.

        No further events are assumed, so the rate only moves at the instants
        where a pending conversation turns missed (start + R) and where one
        leaves the window (start + W); those are the only candidates, and the
        changes of one instant apply together. None when the rate never drops below.

        The sweep is `forecast.breach_at`, over each bucket's `Outlook`.
        """
        length = WINDOWS[window] * MICROS
        view = self.view(business)
        edge = at - length
        return breach_at(at, self._outlooks(at, edge, length, view), threshold)

    def _outlooks(self, at: int, edge: int, length: int, view: View) -> Iterator[Outlook]:
        """Each bucket's conversations with `edge < start <= at`, looking ahead (cached if wholly inside)."""
        size = self.bucket_us
        for number, bucket in self._buckets.items():
            start, last = number * size, number * size + size - 1
            if start > at or last <= edge:
                continue
            if start > edge and last <= at:
                yield bucket.outlook(at, length, view)
            else:  # cut by the window's edge, or holding what is after `at`: only the part inside
                yield Outlook((w for w in bucket.records.values() if edge < w.start <= at), at, length, view)
