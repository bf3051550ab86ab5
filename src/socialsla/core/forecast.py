"""The breach forecast: when a window's response rate falls below a threshold if nobody answers.

With no further events, a window's response rate moves only where a pending
conversation turns missed (its deadline) and where one leaves the window (its
start plus the window's length). Each bucket's changes ahead come in at most
two segments (`Outlook`, cached by the bucket while no status changes), and
`breach_at` sweeps them in time order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from fractions import Fraction

from socialsla.core.change_points import FOREVER, narrow
from socialsla.core.thread import Status, Wait, decide
from socialsla.core.view import View


class Segment:
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


class Outlook:
    """What the breach forecast needs of some conversations at a time: their statuses, and what lies ahead.

    Ahead, with no new events: pending ones turn missed at their deadline
    (one segment), and each leaves the window at `start + length` (another).
    It holds for every time in [low, high): between the instants where an
    answer or a deadline passes, nobody's status changes.
    """

    __slots__ = ("high", "low", "missed", "responded", "segments")

    def __init__(self, waits: Iterable[Wait], at: int, length: int, view: View) -> None:
        self.responded = self.missed = 0
        low, high = -FOREVER, FOREVER
        exits: dict[int, list[int]] = {}
        deadlines: dict[int, list[int]] = {}
        for wait in waits:
            if not wait.conversation:
                continue
            deadline = view.deadline(wait.start)
            low, high = narrow(low, high, at, deadline, wait.answer)
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
        self.segments = [Segment(grouped) for grouped in (deadlines, exits) if grouped]


def breach_at(at: int, outlooks: Iterable[Outlook], threshold: Fraction) -> int | None:
    """The earliest instant from `at` on where the rate of these conversations is below `threshold`.

    `outlooks` hold the window's conversations, bucket by bucket. The sweep
    follows the slack `q * responded - p * decided` (threshold p/q), negative
    exactly when the rate is below; changes of one instant apply together. A
    group of overlapping segments whose lowest points cannot take the slack
    below zero together is passed in one step, so a scrape walks single
    conversations only where the rate really dips. None when it never drops below.
    """
    p, q = threshold.numerator, threshold.denominator
    responded = missed = 0
    segments: list[Segment] = []
    for outlook in outlooks:
        responded += outlook.responded
        missed += outlook.missed
        segments.extend(outlook.segments)
    slack = q * responded - p * (responded + missed)
    if slack < 0:
        return at
    for group in _overlapping(segments):
        bounds = [segment.bound(p, q) for segment in group]
        if slack + sum(lowest for lowest, _ in bounds) >= 0:
            slack += sum(total for _, total in bounds)
            continue
        for instant, r, m in _by_instant(group):
            slack += q * r - p * (r + m)
            if slack < 0:
                return instant
    return None


def _overlapping(segments: list[Segment]) -> Iterable[list[Segment]]:
    """The segments in groups that overlap in time, by their beginning."""
    segments = sorted(segments, key=lambda segment: segment.begin)
    index = 0
    while index < len(segments):
        group = [segments[index]]
        end = group[0].end
        index += 1
        while index < len(segments) and segments[index].begin < end:
            group.append(segments[index])
            end = max(end, segments[index].end)
            index += 1
        yield group


def _by_instant(group: list[Segment]) -> list[tuple[int, int, int]]:
    """A group's changes merged per instant: (instant, responded change, missed change), by instant."""
    merged: dict[int, list[int]] = {}
    for instant, r, m in itertools.chain.from_iterable(segment.changes for segment in group):
        change = merged.setdefault(instant, [0, 0])
        change[0] += r
        change[1] += m
    return [(instant, r, m) for instant, (r, m) in sorted(merged.items())]
