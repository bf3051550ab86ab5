"""Resolution (SPEC §11): a thread's conversations as spans of time, and how each one was resolved.

A thread's conversations (SPEC §8: its first wait, and with the silence setting
each wait after silence) split its time into spans: a conversation opened at
`o` spans `[o, o')`, `o'` being when the next one opens (or forever). An agent's
`resolve` event resolves the conversation whose span holds it; the earliest one
counts. Customers' feedback (feedback.py) is placed in spans the same way.

Everything here is a function of the thread's seen events, as the waits are, so
a late event that moves a span (an earlier post, a silence that appears or
disappears) simply gives a different derivation, which stage 1 sends whole.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from socialsla import histogram
from socialsla.conversation import (
    AUTOMATED,
    DEFAULT_POLICY,
    POST,
    REPLY,
    RESOLVE,
    Conversation,
    Policy,
    Wait,
    waits,
)  # fmt: skip
from socialsla.events import MICROS
from socialsla.windows import WINDOWS, WindowStats


class Resolution(NamedTuple):
    """How one conversation was resolved: when it opened, its first resolve, reopened, first contact."""

    opened: int
    #: The earliest resolve event in the conversation's span; None while unresolved.
    resolved_at: int | None
    #: A post of the thread came after `resolved_at`, within the span.
    reopened: bool
    #: Resolved, not reopened, and exactly one counting reply from `opened` to `resolved_at`.
    first_contact: bool


def opens(
    state: Conversation, policy: Policy = DEFAULT_POLICY, found: tuple[Wait, ...] | None = None
) -> list[int]:
    """When each of the thread's conversations opened, oldest first: the starts of its spans.

    `found`: the thread's waits, when the caller has them already.
    """
    return [wait.start for wait in (waits(state, policy) if found is None else found) if wait.conversation]


def resolutions(
    state: Conversation, policy: Policy = DEFAULT_POLICY, found: tuple[Wait, ...] | None = None
) -> tuple[Resolution, ...]:
    """One `Resolution` per conversation of the thread, oldest first (SPEC §11)."""
    starts = opens(state, policy, found)
    if not starts:
        return ()
    counting = (REPLY, AUTOMATED) if policy.count_automated else (REPLY,)
    resolves = [at for at, kind, *_ in state.events if kind == RESOLVE]
    posts = [at for at, kind, *_ in state.events if kind == POST]
    replies = [at for at, kind, *_ in state.events if kind in counting]
    out: list[Resolution] = []
    for index, opened in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else None
        first = bisect.bisect_left(resolves, opened)
        if first == len(resolves) or (end is not None and resolves[first] >= end):
            out.append(Resolution(opened, None, False, False))
            continue
        resolved_at = resolves[first]
        after = bisect.bisect_right(posts, resolved_at)
        reopened = after < len(posts) and (end is None or posts[after] < end)
        answers = bisect.bisect_right(replies, resolved_at) - bisect.bisect_left(replies, opened)
        out.append(Resolution(opened, resolved_at, reopened, not reopened and answers == 1))
    return tuple(out)


class Judged(NamedTuple):
    """A conversation's resolution seen at a time T against a resolution window S."""

    resolved: bool
    in_time: bool
    overdue: bool
    #: The resolution time when resolved by T (wall clock, or a calendar's open time).
    seconds_us: int | None


def judge_at(
    resolution: Resolution, at: int, window: int, span: Callable[[int, int], int] | None = None
) -> Judged:
    """SPEC §11 at time `at`: resolved by then, in time (within `window`), overdue (past it, not in time).

    `span(a, b)` measures durations: wall-clock time when None, else a
    calendar's open time (the business view, SPEC §7).
    """
    opened, resolved_at = resolution.opened, resolution.resolved_at
    measure = span or (lambda a, b: b - a)
    if resolved_at is not None and resolved_at <= at:
        took = measure(opened, resolved_at)
        in_time = took <= window
        return Judged(True, in_time, not in_time and measure(opened, at) >= window, took)
    return Judged(False, False, measure(opened, at) >= window, None)


@dataclass(frozen=True, slots=True)
class ResolutionStats:
    """SPEC §11 for the conversations opened in one window, seen at T."""

    resolved: int
    in_time: int
    overdue: int
    reopened: int
    first_contact: int
    #: The resolution times of the resolved ones, as latencies (count, sum, max, histogram).
    seconds: WindowStats

    @property
    def resolution_rate(self) -> float | None:
        """in_time / (in_time + overdue), None when both are 0."""
        decided = self.in_time + self.overdue
        return self.in_time / decided if decided else None

    @property
    def first_contact_rate(self) -> float | None:
        """first_contact / resolved, None when nothing is resolved."""
        return self.first_contact / self.resolved if self.resolved else None


def resolution_windows(
    resolutions: Iterable[Resolution], at: int, window: int, span: Callable[[int, int], int] | None = None
) -> dict[str, ResolutionStats]:
    """Per window of SPEC §3 (`T - W < opened <= T`), the resolution figures at `at` against `window` (S)."""
    judged = [(r, judge_at(r, at, window, span)) for r in resolutions if r.opened <= at]
    out: dict[str, ResolutionStats] = {}
    for name, seconds in WINDOWS.items():
        edge = at - seconds * MICROS
        inside = [(r, j) for r, j in judged if r.opened > edge]
        took = [j.seconds_us for _, j in inside if j.seconds_us is not None]
        counts = [0] * histogram.SIZE
        for value in took:
            counts[histogram.bucket_of(value)] += 1
        durations = WindowStats(len(took), 0, 0, len(took), sum(took), max(took, default=None), tuple(counts))
        out[name] = ResolutionStats(
            sum(1 for _, j in inside if j.resolved),
            sum(1 for _, j in inside if j.in_time),
            sum(1 for _, j in inside if j.overdue),
            sum(1 for r, j in inside if j.resolved and r.reopened),
            sum(1 for r, j in inside if j.resolved and r.first_contact),
            durations,
        )
    return out
