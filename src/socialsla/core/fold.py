"""Stage 1 as a pure function: events in, thread states, outcomes and counts out.

The offline report (`report.build`) and the worker's stage 1 (`handlers.py`) both
call `fold`, so they cannot disagree on which events count, which are duplicates,
late or too many for their thread, or what a thread's waits are; the handler only
reads the states it needs from its thread store first, and stores and sends what
`fold` returns. Both then run stage 2 on `Folded.outcomes()`, what stage 1 sends:
`Ledger.apply` (series.py) builds the series and `series.evaluate` computes every
number of one at a time T, for the report's table and JSON and for `/metrics` alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from socialsla.core import feedback, resolution, thread
from socialsla.core.events import Event
from socialsla.core.thread import DEFAULT_POLICY, Policy, Thread, ThreadTooLong, Wait
from socialsla.core.wire import SEPARATOR, Outcome, Scorecard


class ThreadKey(NamedTuple):
    """Which thread: a `conversation_id` names one thread within its account and channel."""

    account: str
    channel: str
    conversation_id: str

    def encode(self) -> bytes:
        """The thread's key in its partition's store and log: `account|channel|conversation_id`.

        No partition in it: each input partition has a store and a log partition
        of its own (`thread_store.py`), whatever partitioner the upstream used.
        """
        return SEPARATOR.join(self).encode()


def key_of(event: Event) -> ThreadKey:
    """The conversation an event belongs to."""
    return ThreadKey(event.account, event.channel, event.conversation_id)


@dataclass(slots=True)
class Folded:
    """What a fold changed: the new state and summary of every thread it touched, and counts."""

    policy: Policy
    states: dict[ThreadKey, Thread] = field(default_factory=dict)
    #: The created_at of the last event folded into each touched thread.
    last_event: dict[ThreadKey, int] = field(default_factory=dict)
    #: (type, outcome) -> events, outcome one of accepted, duplicate, late (`socialsla_events_total`).
    tally: Counter[tuple[str, str]] = field(default_factory=Counter)

    def outcomes(self) -> list[Outcome]:
        """One whole summary (every wait) per touched thread, duplicates included.

        A summary is re-sent after a duplicate too: outcomes are idempotent, and
        a redelivery after a crash may be the only chance to pass on a summary
        whose send was lost. Being whole, a summary also retracts what a late
        event merged away (two waits become one): stage 2 replaces the thread.
        """
        out = []
        for key, state in self.states.items():
            found = thread.waits(state, self.policy)
            out.append(Outcome(key.account, key.channel, key.conversation_id, found, self.last_event[key],
                               scorecard(state, self.policy, found)))  # fmt: skip
        return out


def scorecard(state: Thread, policy: Policy, found: tuple[Wait, ...]) -> Scorecard | None:
    """A thread's resolutions and counted feedback; None when it has neither kind of event.

    Only a thread with a post counts for its series (its series is that of its posts).
    """
    resolves = [entry[0] for entry in state.events if entry[1] == thread.RESOLVE]
    answers = [entry[0] for entry in state.events if entry[1] == thread.FEEDBACK]
    if not found or not (resolves or answers):
        return None
    return Scorecard(
        tuple(r for r in resolution.resolutions(state, policy, found) if r.resolved_at is not None),
        feedback.counted(state, policy, found),
        min(resolves, default=None),
        min(answers, default=None),
    )


def fold(
    states: Mapping[ThreadKey, Thread],
    events: Iterable[Event],
    not_before: int,
    policy: Policy = DEFAULT_POLICY,
    reject: Callable[[Event, str], None] | None = None,
) -> Folded:
    """Fold events into the threads they belong to; `states` is not changed.

    An event created before `not_before` (7 days + R before the evaluation
    time) can no longer change any window: it is counted late and skipped. A
    new event for a thread that is full is handed to `reject` with its reason
    (the caller dead-letters it and counts it invalid) and changes nothing.
    """
    out = Folded(policy)
    touched = out.states
    for event in events:
        if event.created_at < not_before:
            out.tally[event.kind, "late"] += 1
            continue
        key = key_of(event)
        previous = touched.get(key)
        if previous is None:
            previous = states.get(key)
        try:
            state, duplicate = thread.apply(previous, event)
        except ThreadTooLong as exc:
            if reject is None:
                raise
            reject(event, exc.reason)
            continue
        touched[key] = state
        out.last_event[key] = event.created_at
        out.tally[event.kind, "duplicate" if duplicate else "accepted"] += 1
    return out
