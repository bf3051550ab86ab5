"""Resolution: a thread's conversations as spans of time, and how each one was resolved.

A thread's conversations (its first wait, and with the silence setting
each wait after silence) split its time into spans: a conversation opened at
`o` spans `[o, o')`, `o'` being when the next one opens (or forever). An agent's
`resolve` event resolves the conversation whose span holds it; the earliest one
counts. Customers' feedback (feedback.py) is placed in spans the same way.

Everything here is a function of the thread's seen events, as the waits are, so
a late event that moves a span (an earlier post, a silence that appears or
disappears) simply gives a different derivation, which stage 1 sends whole.
Stage 2 keeps each resolved conversation beside its wait and sums them per
window with it (`windows.SeriesWindows.resolution`, into `stats.ResolutionStats`):
judged at T, a resolution is a wait whose "reply" is the resolve and whose window is S.
The full rules: docs/semantics.md, "Resolution".
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from socialsla.core.thread import (
    AUTOMATED,
    DEFAULT_POLICY,
    POST,
    REPLY,
    RESOLVE,
    Policy,
    Thread,
    Wait,
    waits,
)  # fmt: skip


class Resolution(NamedTuple):
    """How one conversation was resolved: when it opened, its first resolve, reopened, first contact."""

    opened: int
    #: The earliest resolve event in the conversation's span; None while unresolved.
    resolved_at: int | None
    #: A post of the thread came after `resolved_at`, within the span.
    reopened: bool
    #: Resolved, not reopened, and exactly one counting reply from `opened` to `resolved_at`.
    first_contact: bool


def opens(state: Thread, policy: Policy = DEFAULT_POLICY, found: tuple[Wait, ...] | None = None) -> list[int]:
    """When each of the thread's conversations opened, oldest first: the starts of its spans.

    `found`: the thread's waits, when the caller has them already.
    """
    return [wait.start for wait in (waits(state, policy) if found is None else found) if wait.conversation]


def resolutions(
    state: Thread, policy: Policy = DEFAULT_POLICY, found: tuple[Wait, ...] | None = None
) -> tuple[Resolution, ...]:
    """One `Resolution` per conversation of the thread, oldest first."""
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
