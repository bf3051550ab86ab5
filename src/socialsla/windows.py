"""Rolling 1h / 24h / 7d windows per (account, channel) (SPEC §3, §8, §9).

Waits (SPEC §8) are kept in tumbling buckets by their start, one compact
record (`start`, `answer`, `conversation`) each: conversations feed the §3
statistics, the other follow-ups the next-reply ones. Reading at time T sums
whole buckets from a cached aggregate and walks records only in the buckets a
window edge cuts through, so evaluation costs about one step per bucket, not one
per wait, while staying exact at any T (microsecond times, integer sums).

A bucket's aggregate depends on T only through a few change points per record
(start, answer, deadline `start + R`); it is cached together with the interval
of T over which it holds, so a wall clock moving forward reuses it until the
next change point and any edit to the bucket drops it.

Setting a thread replaces all its waits at once, so it is idempotent, and a
late event that merged two waits leaves no stale record: replayed or re-emitted
outcomes cannot double-count.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, Protocol, TypeVar

from socialsla import histogram
from socialsla.calendars import Calendar
from socialsla.conversation import Status, Wait, decide
from socialsla.events import MICROS
from socialsla.resolution import Resolution, ResolutionStats

#: Window names and lengths in seconds, newest (shortest) first.
WINDOWS: Final = {"1h": 3_600, "24h": 86_400, "7d": 604_800}
LONGEST_US: Final = max(WINDOWS.values()) * MICROS
#: The name of the window over every kept conversation (see `SeriesWindows.evaluate`).
ALL: Final = "all"
DEFAULT_BUCKET_US: Final = 900 * MICROS
_FOREVER: Final = 2**63


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Counts and first-reply latency of the conversations opened in one window."""

    inbound: int
    responded: int
    missed: int
    latency_count: int
    latency_sum_us: int
    latency_max_us: int | None
    latency_buckets: tuple[int, ...]
    #: SPEC §8: the same figures for the window's follow-ups that are not conversations.
    next_reply: WindowStats | None = None

    @property
    def pending(self) -> int:
        """Opened in the window and neither responded nor missed yet."""
        return self.inbound - self.responded - self.missed

    @property
    def decided(self) -> int:
        """Responded plus missed: the denominator of the response rate."""
        return self.responded + self.missed

    @property
    def response_rate(self) -> float | None:
        """responded / (responded + missed), or None when nothing is decided."""
        return self.responded / self.decided if self.decided else None

    @property
    def response_rate_worst(self) -> float | None:
        """responded / inbound: pending counted as missed."""
        return self.responded / self.inbound if self.inbound else None

    @property
    def avg_seconds(self) -> float | None:
        """Mean first-reply latency in seconds."""
        if not self.latency_count:
            return None
        return self.latency_sum_us / self.latency_count / MICROS

    @property
    def max_seconds(self) -> float | None:
        """Largest first-reply latency in seconds."""
        return None if self.latency_max_us is None else self.latency_max_us / MICROS

    def quantile_seconds(self, q: float) -> float | None:
        """The histogram_quantile estimate of the q-quantile in seconds, capped at the max (SPEC §3).

        Interpolating inside a wide bucket can land above the slowest reply the
        bucket holds (`p90 102.0m, max 92.8m`); a summary never exceeds what it
        summarises, so the report, the gauges and rules all read the capped value.
        """
        estimate = histogram.quantile(q, self.latency_buckets)
        if estimate is None or self.latency_max_us is None:
            return estimate
        return min(estimate, self.latency_max_us / MICROS)


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """Everything SPEC §3 says about one (account, channel) at one time."""

    at: int
    windows: dict[str, WindowStats]
    oldest_unanswered_us: int | None

    @property
    def oldest_unanswered_seconds(self) -> float | None:
        """Age of the longest-waiting conversation with no counting reply, within 7 days."""
        return None if self.oldest_unanswered_us is None else self.oldest_unanswered_us / MICROS


@dataclass(frozen=True, slots=True)
class View:
    """How a series' durations are measured: wall-clock time, or a calendar's open time (SPEC §7).

    Which waits are in a window is decided by wall-clock time in both views;
    only latencies, waiting ages and "missed" are measured in the view.
    """

    #: R: how long a wait may take before it is missed (the calendar's response window, in open time).
    window: int
    calendar: Calendar | None = None

    @property
    def business(self) -> bool:
        """Whether durations are open time."""
        return self.calendar is not None

    @property
    def span(self) -> Callable[[int, int], int] | None:
        """`span(a, b)` for `conversation.decide`: None on the wall clock."""
        return None if self.calendar is None else self.calendar.open_us

    def age(self, start: int, at: int) -> int:
        """How long a wait started at `start` has lasted at `at`."""
        return at - start if self.calendar is None else self.calendar.open_us(start, at)

    def deadline(self, start: int) -> int | None:
        """When a wait started at `start` turns missed unanswered; None: never (a calendar never open)."""
        return start + self.window if self.calendar is None else self.calendar.deadline(start, self.window)


class _Sum:
    """A mutable accumulator of record contributions; merged across buckets."""

    __slots__ = ("buckets", "count", "inbound", "max", "missed", "oldest", "responded", "sum")

    def __init__(self) -> None:
        self.inbound = self.responded = self.missed = self.count = self.sum = 0
        self.max: int | None = None
        self.oldest: int | None = None  # smallest opened_at without a reply seen
        self.buckets = [0] * histogram.SIZE

    def add(self, opened: int, first: int | None, at: int, view: View) -> None:
        self.inbound += 1
        status, latency = decide(opened, first, at, view.window, view.span)
        if status is Status.RESPONDED:
            self.responded += 1
        elif status is Status.MISSED:
            self.missed += 1
        if latency is None:
            if self.oldest is None or opened < self.oldest:
                self.oldest = opened
            return
        self.count += 1
        self.sum += latency
        if self.max is None or latency > self.max:
            self.max = latency
        self.buckets[histogram.bucket_of(latency)] += 1

    def merge(self, other: _Sum) -> None:
        self.inbound += other.inbound
        self.responded += other.responded
        self.missed += other.missed
        self.count += other.count
        self.sum += other.sum
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max
        if other.oldest is not None and (self.oldest is None or other.oldest < self.oldest):
            self.oldest = other.oldest
        mine = self.buckets
        for index, value in enumerate(other.buckets):
            if value:
                mine[index] += value

    def freeze(self, next_reply: WindowStats | None = None) -> WindowStats:
        return WindowStats(
            self.inbound,
            self.responded,
            self.missed,
            self.count,
            self.sum,
            self.max,
            tuple(self.buckets),
            next_reply,
        )


class _Pair:
    """A conversation sum and a follow-up sum, walked and merged together."""

    __slots__ = ("conversations", "follow_ups")

    def __init__(self) -> None:
        self.conversations = _Sum()
        self.follow_ups = _Sum()

    def add(self, wait: Wait, at: int, view: View) -> None:
        into = self.conversations if wait.conversation else self.follow_ups
        into.add(wait.start, wait.answer, at, view)

    def merge(self, other: _Pair) -> None:
        self.conversations.merge(other.conversations)
        if other.follow_ups.inbound:  # most buckets hold no follow-up: skip the empty merge
            self.follow_ups.merge(other.follow_ups)

    def freeze(self) -> WindowStats:
        return self.conversations.freeze(self.follow_ups.freeze())


class _Resolved(_Sum):
    """SPEC §11 over conversations: `_Sum` on the resolution window S, plus reopened and first contact.

    A resolution is judged as SPEC §2 judges a wait, with the resolve in place
    of the first reply and S in place of R: resolved in time is "responded",
    overdue is "missed", and the resolution times are the latencies.
    """

    __slots__ = ("first_contact", "reopened")

    def __init__(self) -> None:
        super().__init__()
        self.reopened = self.first_contact = 0

    def put(self, opened: int, resolved: int | None, at: int, view: View) -> None:
        """Add one conversation: `resolved` packed (`pack_resolution`), None while unresolved."""
        if resolved is None:
            self.add(opened, None, at, view)
            return
        resolved_at = resolved >> 2
        self.add(opened, resolved_at, at, view)
        if resolved_at <= at:
            self.reopened += (resolved >> 1) & 1
            self.first_contact += resolved & 1

    def merge(self, other: _Sum) -> None:
        super().merge(other)
        if isinstance(other, _Resolved):
            self.reopened += other.reopened
            self.first_contact += other.first_contact

    def stats(self) -> ResolutionStats:
        count = self.count
        seconds = WindowStats(count, 0, 0, count, self.sum, self.max, tuple(self.buckets))
        return ResolutionStats(count, self.responded, self.missed, self.reopened, self.first_contact, seconds)


class _Mergeable(Protocol):
    def merge(self, other: Any) -> None: ...


#: What `sum_windows` sums: waits (`_Pair`), resolutions (`_Resolved`), answers (`feedback`'s tally).
_Total = TypeVar("_Total", bound=_Mergeable)
_Held = TypeVar("_Held")


def sum_windows(
    buckets: Mapping[int, _Held],
    bucket_us: int,
    at: int,
    spans: list[tuple[str, int]],
    empty: Callable[[], _Total],
    whole: Callable[[_Held], Any],
    walk: Callable[[_Held, _Total, int], None],
) -> dict[str, _Total]:
    """Per window `(name, edge)`: what its buckets hold at `at`, `edge < time <= at`.

    A bucket (number `n`: times in `[n * bucket_us, (n + 1) * bucket_us)`) wholly
    inside the window adds `whole(bucket)`, a cached aggregate; one the window's
    edge (or `at`) cuts is walked (`walk(bucket, total, edge)`), so a reading
    costs a step per bucket, not per record.
    """
    sums = {name: empty() for name, _ in spans}
    for index, bucket in buckets.items():
        start = index * bucket_us
        last = start + bucket_us - 1  # the latest time this bucket can hold
        if start > at:
            continue
        for name, edge in spans:
            if last <= edge:
                continue  # wholly older than this window
            if start > edge and last <= at:
                sums[name].merge(whole(bucket))
            else:
                walk(bucket, sums[name], edge)
    return sums


def pack_resolution(resolution: Resolution) -> int:
    """A resolved conversation in one integer, as a series keeps it: resolved_at, reopened, first contact."""
    assert resolution.resolved_at is not None  # only resolved conversations are kept
    return resolution.resolved_at << 2 | int(resolution.reopened) << 1 | int(resolution.first_contact)


def _narrow(low: int, high: int, at: int, *points: int | None) -> tuple[int, int]:
    """[low, high) around `at`, shrunk to the given change points: where a cached reading holds."""
    for point in points:
        if point is None:
            continue
        if point <= at:
            low = max(low, point)
        else:
            high = min(high, point)
    return low, high


class _Segment:
    """Changes of (responded, missed) at instants ahead, all within one bucket's span of time."""

    __slots__ = ("begin", "bounds", "changes", "end")

    def __init__(self, grouped: dict[int, list[int]]) -> None:
        #: (instant, responded change, missed change), by instant: changes of one instant together.
        self.changes = sorted((instant, r, m) for instant, (r, m) in grouped.items())
        self.begin = self.changes[0][0]
        self.end = self.changes[-1][0] + 1
        self.bounds: dict[tuple[int, int], tuple[int, int]] = {}

    def bound(self, p: int, q: int) -> tuple[int, int]:
        """(lowest prefix, total) of the slack `q * responded - p * decided` over it, for threshold p/q."""
        found = self.bounds.get((p, q))
        if found is None:
            running, lowest = 0, 0
            for _, r, m in self.changes:
                running += q * r - p * (r + m)
                lowest = min(lowest, running)
            found = self.bounds[p, q] = (lowest, running)
        return found


class _Outlook:
    """What the breach forecast needs of some conversations at a time: their statuses, and what lies ahead.

    Ahead, with no new events: pending ones turn missed at their deadline
    (one segment), and each leaves the window at `start + length` (another).
    It holds for every time in [low, high): between the instants where an
    answer or a deadline passes, nobody's status changes.
    """

    __slots__ = ("high", "low", "missed", "responded", "segments")

    def __init__(self, waits: Iterable[Wait], at: int, length: int, view: View) -> None:
        self.responded = self.missed = 0
        low, high = -_FOREVER, _FOREVER
        exits: dict[int, list[int]] = {}
        deadlines: dict[int, list[int]] = {}
        for wait in waits:
            if not wait.conversation:
                continue
            deadline = view.deadline(wait.start)
            low, high = _narrow(low, high, at, deadline, wait.answer)
            status, _ = decide(wait.start, wait.answer, at, view.window, view.span)
            leaves = wait.start + length
            if status is Status.RESPONDED:
                self.responded += 1
                exits.setdefault(leaves, [0, 0])[0] -= 1
            elif status is Status.MISSED:
                self.missed += 1
                exits.setdefault(leaves, [0, 0])[1] -= 1
            elif deadline is not None and deadline < leaves:  # pending: missed at its deadline, then leaves
                deadlines.setdefault(deadline, [0, 0])[1] += 1
                exits.setdefault(leaves, [0, 0])[1] -= 1
        self.low, self.high = low, high
        self.segments = [_Segment(grouped) for grouped in (deadlines, exits) if grouped]


class _Bucket:
    """The waits whose start falls in one tumbling interval, keyed by (thread, start).

    A thread's waits start at strictly increasing times (each after the previous
    answer), so the start tells them apart.
    """

    __slots__ = (
        "cache", "first_resolved", "latency_cache", "open_cache", "open_latency_cache",
        "open_resolution_cache", "outlook_cache", "records", "resolution_cache", "resolved",
    )  # fmt: skip

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], Wait] = {}
        #: SPEC §11: the resolved conversations among the records, same keys, packed (`pack_resolution`).
        self.resolved: dict[tuple[str, int], int] = {}
        self.cache: tuple[int, int, _Pair] | None = None  # the wall view's aggregate
        self.open_cache: tuple[int, int, _Pair] | None = None  # the business view's
        self.latency_cache: tuple[int, int, list[int]] | None = None
        self.open_latency_cache: tuple[int, int, list[int]] | None = None
        self.outlook_cache: dict[tuple[int, bool], _Outlook] | None = None
        self.resolution_cache: tuple[int, int, _Resolved] | None = None
        self.open_resolution_cache: tuple[int, int, _Resolved] | None = None
        #: The earliest resolve among the records, once asked: (None,) when none is resolved.
        self.first_resolved: tuple[int | None] | None = None

    def touch(self) -> None:
        """Drop every cached reading: the records changed."""
        self.cache = self.open_cache = self.latency_cache = self.open_latency_cache = None
        self.outlook_cache = self.resolution_cache = self.open_resolution_cache = None
        self.first_resolved = None

    def earliest_resolve(self) -> int | None:
        """The earliest `resolved_at` of its conversations (None: none is resolved); cached until touched."""
        if self.first_resolved is None:
            lowest = min(self.resolved.values(), default=None)  # packing keeps the order of resolved_at
            self.first_resolved = (None if lowest is None else lowest >> 2,)
        return self.first_resolved[0]

    def resolution(self, at: int, view: View) -> _Resolved:
        """Its conversations' SPEC §11 figures at `at` on `view` (S its window); cached like `aggregate`."""
        cache = self.open_resolution_cache if view.business else self.resolution_cache
        if cache is not None and cache[0] <= at < cache[1]:
            return cache[2]
        total, low, high = _Resolved(), -_FOREVER, _FOREVER
        resolved = self.resolved
        for key, wait in self.records.items():
            if not wait.conversation:
                continue
            packed = resolved.get(key)
            total.put(wait.start, packed, at, view)
            resolved_at = None if packed is None else packed >> 2
            low, high = _narrow(low, high, at, view.deadline(wait.start), resolved_at)
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
        out, low, high = [], -_FOREVER, _FOREVER
        for wait in self.records.values():
            answer = wait.answer
            if not wait.conversation or answer is None:
                continue
            if answer <= at:
                out.append(view.age(wait.start, answer))
            low, high = _narrow(low, high, at, answer)
        out.sort(reverse=True)
        if view.business:
            self.open_latency_cache = (low, high, out)
        else:
            self.latency_cache = (low, high, out)
        return out

    def outlook(self, at: int, length: int, view: View) -> _Outlook:
        """Its conversations' `_Outlook` for a window of `length`; cached while it holds."""
        cached = self.outlook_cache
        if cached is None:
            cached = self.outlook_cache = {}
        found = cached.get((length, view.business))
        if found is None or not found.low <= at < found.high:
            found = cached[length, view.business] = _Outlook(self.records.values(), at, length, view)
        return found

    def aggregate(self, at: int, view: View) -> _Pair:
        """All records' contribution at `at`, reused while no change point is crossed."""
        cache = self.open_cache if view.business else self.cache
        if cache is not None and cache[0] <= at < cache[1]:
            return cache[2]
        total, low, high = _Pair(), -_FOREVER, _FOREVER
        for wait in self.records.values():
            total.add(wait, at, view)
            low, high = _narrow(low, high, at, view.deadline(wait.start), wait.answer)
            low = max(low, wait.start)
        if view.business:
            self.open_cache = (low, high, total)
        else:
            self.cache = (low, high, total)
        return total


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
        #: SPEC §7's business view, for a series with a calendar.
        self.open = (
            None if calendar is None else View(calendar.response_window_us or response_window_us, calendar)
        )
        self._buckets: dict[int, _Bucket] = {}
        self._threads: dict[str, tuple[Wait, ...]] = {}
        #: Waits starting before this were expired (`expire`) and are never taken back,
        #: so a thread re-sent in full cannot count them twice.
        self.floor = -_FOREVER

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
        first = self._buckets[min(self._buckets)]
        return min(wait.start for wait in first.records.values()) <= at

    def holds_before(self, key: str, before: int) -> bool:
        """Whether the thread keeps a wait that `expire(before)` would drop."""
        size = self.bucket_us
        return any((wait.start // size + 1) * size <= before for wait in self._threads.get(key, ()))

    def set(self, key: str, waits: tuple[Wait, ...], resolved: Mapping[int, int] | None = None) -> bool:
        """Record a thread's current waits, replacing its old ones; returns whether anything changed.

        `resolved`: SPEC §11, its resolved conversations by their start, packed
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
                bucket = buckets[number] = _Bucket()
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

    def _in_window(self, at: int, edge: int) -> Iterator[Wait]:
        """Every kept wait with `edge < start <= at`."""
        size = self.bucket_us
        for number, bucket in self._buckets.items():
            if number * size > at or (number + 1) * size - 1 <= edge:
                continue
            for wait in bucket.records.values():
                if edge < wait.start <= at:
                    yield wait

    def unanswered(self, at: int, edge: int) -> Iterator[tuple[int, str, bool]]:
        """`(start, thread, is_conversation)` of each wait with `edge < start <= at` unanswered at `at`.

        Oldest first, ties by thread (SPEC §13); buckets are read in order, so a
        caller that stops early reads only the oldest ones.
        """
        size = self.bucket_us
        for number in sorted(self._buckets):
            if (number + 1) * size - 1 <= edge:
                continue
            if number * size > at:
                break
            found = [
                (wait.start, key, wait.conversation)
                for (key, _), wait in self._buckets[number].records.items()
                if edge < wait.start <= at and (wait.answer is None or wait.answer > at)
            ]
            found.sort()
            yield from found

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

    def evaluate(self, at: int, lifetime: bool = False, business: bool = False) -> SeriesStats:
        """The SPEC §3 and §8 statistics of every window at time `at` (microseconds), on either clock.

        With `lifetime`, also an "all" window over every kept wait, for the
        cumulative counters and histogram that Prometheus rates are taken from.
        """
        view = self.view(business)
        spans = [(name, at - seconds * MICROS) for name, seconds in WINDOWS.items()]
        if lifetime:
            spans.append((ALL, -_FOREVER))

        def walk(bucket: _Bucket, into: _Pair, edge: int) -> None:
            for wait in bucket.records.values():
                if edge < wait.start <= at:
                    into.add(wait, at, view)

        sums = sum_windows(
            self._buckets, self.bucket_us, at, spans, _Pair, lambda bucket: bucket.aggregate(at, view), walk
        )
        oldest = sums["7d"].conversations.oldest
        return SeriesStats(
            at,
            {name: total.freeze() for name, total in sums.items()},
            None if oldest is None else view.age(oldest, at),
        )

    def earliest_resolve(self) -> int | None:
        """The earliest resolve of a kept conversation (SPEC §11: the series tracks resolution from then)."""
        return min(
            (found for bucket in self._buckets.values() if (found := bucket.earliest_resolve()) is not None),
            default=None,
        )

    def resolution(self, at: int, view: View) -> dict[str, ResolutionStats]:
        """SPEC §11 per window at `at`: the conversations opened in it, judged against `view`'s window (S).

        `view` is `View(S)`, or `View(S, calendar)` for the business view (a
        series keeps the same one of each). Summed per bucket as `evaluate` is.
        """
        spans = [(name, at - seconds * MICROS) for name, seconds in WINDOWS.items()]

        def walk(bucket: _Bucket, into: _Resolved, edge: int) -> None:
            for key, wait in bucket.records.items():
                if wait.conversation and edge < wait.start <= at:
                    into.put(wait.start, bucket.resolved.get(key), at, view)

        sums = sum_windows(
            self._buckets,
            self.bucket_us,
            at,
            spans,
            _Resolved,
            lambda bucket: bucket.resolution(at, view),
            walk,
        )
        return {name: total.stats() for name, total in sums.items()}

    def answered_since(self, edge: int, at: int) -> Iterator[Wait]:
        """Every kept wait with `edge < start <= at` answered by `at` (SPEC §10 walks these)."""
        for wait in self._in_window(at, edge):
            if wait.answer is not None and wait.answer <= at:
                yield wait

    def fastest_average_us(
        self, at: int, window: str, fraction: Fraction, business: bool = False
    ) -> Fraction | None:
        """SPEC §9 `avg_of_fastest`: the mean of the `ceil(fraction * count)` fastest first replies.

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
        """SPEC §9: the earliest T' in [at, at + 7d] where the window's response rate is below `threshold`.

        No further events are assumed, so the rate only moves at the instants
        where a pending conversation turns missed (start + R) and where one
        leaves the window (start + W); those are the only candidates, and the
        changes of one instant apply together. None when the rate never drops below.

        The sweep follows the slack `q * responded - p * decided` (threshold
        p/q), negative exactly when the rate is below. Each bucket's changes
        ahead come in at most two segments (`_Outlook`, cached while no status
        changes); a group of overlapping segments whose lowest points cannot
        take the slack below zero together is passed in one step, so a scrape
        walks single conversations only where the rate really dips.
        """
        length = WINDOWS[window] * MICROS
        view = self.view(business)
        size = self.bucket_us
        edge = at - length
        p, q = threshold.numerator, threshold.denominator
        responded = missed = 0
        segments: list[_Segment] = []
        for number, bucket in self._buckets.items():
            start, last = number * size, number * size + size - 1
            if start > at or last <= edge:
                continue
            if start > edge and last <= at:
                outlook = bucket.outlook(at, length, view)
            else:  # cut by the window's edge, or holding what is after `at`: only the part inside
                inside = (w for w in bucket.records.values() if edge < w.start <= at)
                outlook = _Outlook(inside, at, length, view)
            responded += outlook.responded
            missed += outlook.missed
            segments.extend(outlook.segments)
        slack = q * responded - p * (responded + missed)
        if slack < 0:
            return at
        segments.sort(key=lambda segment: segment.begin)
        index = 0
        while index < len(segments):
            group = [segments[index]]
            end = group[0].end
            index += 1
            while index < len(segments) and segments[index].begin < end:
                group.append(segments[index])
                end = max(end, segments[index].end)
                index += 1
            bounds = [segment.bound(p, q) for segment in group]
            if slack + sum(lowest for lowest, _ in bounds) >= 0:
                slack += sum(total for _, total in bounds)
                continue
            merged: dict[int, list[int]] = {}
            for instant, r, m in itertools.chain.from_iterable(segment.changes for segment in group):
                change = merged.setdefault(instant, [0, 0])
                change[0] += r
                change[1] += m
            for instant in sorted(merged):
                r, m = merged[instant]
                slack += q * r - p * (r + m)
                if slack < 0:
                    return instant
        return None


@dataclass(frozen=True, slots=True)
class AgentStats:
    """SPEC §10: one agent's answers in one window; `first` for conversations, `next` for follow-ups.

    Each is the `WindowStats` of the waits the agent answered: `latency_count`
    is the number of replies (first_replies / next_replies), the latency figures
    their seconds; the counts by state say nothing more (every one is answered).
    """

    first: WindowStats
    next: WindowStats


#: SPEC §10: the pool of agents beyond the cap, and of any agent literally named so.
OTHER_AGENTS: Final = "other"


def _copy(latencies: _Sum) -> _Sum:
    out = _Sum()
    out.merge(latencies)
    return out


def agents(windows: SeriesWindows, at: int, max_agents: int) -> dict[str, dict[str, AgentStats]]:
    """SPEC §10 at time `at`: per window, per agent who answered there, their first and next replies.

    Wall clock only. The `max_agents` with the most first plus next replies in
    the 7d window are named (ties by name); the rest, and an agent literally
    named `other`, are pooled under `other`, so label cardinality stays bounded.
    """
    # Each answer is added once, to the shortest window holding it; the longer windows then take
    # in the shorter ones (1h inside 24h inside 7d), so a scrape walks each answer once.
    names = list(WINDOWS)  # shortest first
    edges = [at - WINDOWS[name] * MICROS for name in names]
    shortest: list[dict[str, tuple[_Sum, _Sum]]] = [{} for _ in names]
    for wait in windows.answered_since(edges[-1], at):
        assert wait.answer is not None  # answered_since yields answered waits only
        start = wait.start
        index = next(i for i, edge in enumerate(edges) if start > edge)
        who = wait.agent if wait.agent is not None else "unknown"
        pair = shortest[index].get(who)
        if pair is None:
            pair = shortest[index][who] = (_Sum(), _Sum())
        # answered by `at`: the sum's latency figures are the agent's reply times
        pair[0 if wait.conversation else 1].add(start, wait.answer, at, windows.wall)
    found: dict[str, dict[str, tuple[_Sum, _Sum]]] = {}
    running: dict[str, tuple[_Sum, _Sum]] = {}
    for name, own in zip(names, shortest, strict=True):
        for who, (first, follow) in own.items():
            mine = running.get(who)
            if mine is None:
                mine = running[who] = (_Sum(), _Sum())
            mine[0].merge(first)
            mine[1].merge(follow)
        found[name] = {who: (_copy(first), _copy(follow)) for who, (first, follow) in running.items()}
    week = found["7d"]
    ranked = sorted(
        (n for n in week if n != OTHER_AGENTS), key=lambda n: (-(week[n][0].count + week[n][1].count), n)
    )
    named = set(ranked[:max_agents])
    out: dict[str, dict[str, AgentStats]] = {}
    for name, per_agent in found.items():
        listed: dict[str, tuple[_Sum, _Sum]] = {}
        for who, (first, follow) in per_agent.items():
            key = who if who in named else OTHER_AGENTS
            if key not in listed:
                listed[key] = (_Sum(), _Sum())
            listed[key][0].merge(first)
            listed[key][1].merge(follow)
        out[name] = {
            who: AgentStats(first.freeze(), follow.freeze())
            for who, (first, follow) in sorted(listed.items())
        }
    return out
