"""Accumulators that sum waits, resolutions and answers over a window, bucket by bucket.

An accumulator takes one record at a time (`add`), and merges another's totals
(`merge`), so a bucket's cached aggregate and the records of a bucket cut by a
window's edge are summed the same way. `sum_windows` walks a series' buckets
once for every window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from socialsla.core import histogram
from socialsla.core.resolution import Resolution
from socialsla.core.stats import ResolutionStats, WindowStats
from socialsla.core.thread import Status, Wait, decide
from socialsla.core.view import View


class Accumulator:
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

    def merge(self, other: Accumulator) -> None:
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


class WaitAccumulator:
    """A conversation sum and a follow-up sum, walked and merged together."""

    __slots__ = ("conversations", "follow_ups")

    def __init__(self) -> None:
        self.conversations = Accumulator()
        self.follow_ups = Accumulator()

    def add(self, wait: Wait, at: int, view: View) -> None:
        into = self.conversations if wait.conversation else self.follow_ups
        into.add(wait.start, wait.answer, at, view)

    def merge(self, other: WaitAccumulator) -> None:
        self.conversations.merge(other.conversations)
        if other.follow_ups.inbound:  # most buckets hold no follow-up: skip the empty merge
            self.follow_ups.merge(other.follow_ups)

    def freeze(self) -> WindowStats:
        return self.conversations.freeze(self.follow_ups.freeze())


class AnswerAccumulator:
    """Each agent's answers: per agent (`unknown` when none is named), first replies and next replies.

    Only waits answered by T count; an answer's figures do not move with T
    once given, so a bucket's reading holds until its next answer (`Bucket.answers`).
    """

    __slots__ = ("agents",)

    def __init__(self) -> None:
        self.agents: dict[str, tuple[Accumulator, Accumulator]] = {}

    def add(self, wait: Wait, at: int, view: View) -> None:
        answer = wait.answer
        if answer is None or answer > at:
            return
        who = wait.agent if wait.agent is not None else "unknown"
        pair = self.agents.get(who)
        if pair is None:
            pair = self.agents[who] = (Accumulator(), Accumulator())
        pair[0 if wait.conversation else 1].add(wait.start, answer, at, view)

    def merge(self, other: AnswerAccumulator) -> None:
        for who, (first, follow) in other.agents.items():
            pair = self.agents.get(who)
            if pair is None:
                pair = self.agents[who] = (Accumulator(), Accumulator())
            pair[0].merge(first)
            pair[1].merge(follow)


class ResolutionAccumulator(Accumulator):
    """Resolution of conversations: `Accumulator` on the resolution window S, plus reopened and first contact.

    A resolution is judged as `thread.decide` judges a wait, with the resolve in place
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

    def merge(self, other: Accumulator) -> None:
        super().merge(other)
        if isinstance(other, ResolutionAccumulator):
            self.reopened += other.reopened
            self.first_contact += other.first_contact

    def stats(self) -> ResolutionStats:
        count = self.count
        seconds = WindowStats(count, 0, 0, count, self.sum, self.max, tuple(self.buckets))
        return ResolutionStats(count, self.responded, self.missed, self.reopened, self.first_contact, seconds)


class Mergeable(Protocol):
    def merge(self, other: Any) -> None: ...


#: What `sum_windows` sums: waits (`WaitAccumulator`), resolutions (`ResolutionAccumulator`),
#: agents' answers (`AnswerAccumulator`), survey answers (`feedback`'s tally).
_Total = TypeVar("_Total", bound=Mergeable)
_Held = TypeVar("_Held")


def sum_windows(
    buckets: Mapping[int, _Held],
    bucket_us: int,
    at: int,
    spans: list[tuple[str, int]],
    empty: Callable[[], _Total],
    whole: Callable[[_Held], Any],
    walk: Callable[[_Held, _Total, int], None],
    newest: Callable[[_Held], int] | None = None,
) -> dict[str, _Total]:
    """Per window `(name, edge)`: what its buckets hold at `at`, `edge < time <= at`.

    A bucket (number `n`: times in `[n * bucket_us, (n + 1) * bucket_us)`) wholly
    inside the window adds `whole(bucket)`, a cached aggregate; one the window's
    edge cuts is walked (`walk(bucket, total, edge)`), so a reading costs a step
    per bucket, not per record. `newest(bucket)`, when given, is the latest time
    the bucket holds: the bucket T falls in is then read whole too when nothing
    in it is after T, as live, where only the window's oldest edge cuts a bucket.
    """
    sums = {name: empty() for name, _ in spans}
    for index, bucket in buckets.items():
        start = index * bucket_us
        last = start + bucket_us - 1  # the latest time this bucket can hold
        if start > at:
            continue
        if last > at and newest is not None and newest(bucket) <= at:
            last = at
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
