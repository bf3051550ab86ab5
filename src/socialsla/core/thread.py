"""One thread's state, as a value: initialise, apply an event, derive its waits.

A thread is every event of one conversation_id. Its state is the thread's seen
events themselves, as sorted `(created_at, kind, tie, fingerprint, detail)`
entries, never message text. `tie` is the event_id of a reply (of two replies
at one instant, the smaller event_id answers) or a feedback (of two answers at
one instant, the larger event_id is the latest); `detail` is a reply's agent,
or a feedback's survey and score (`csat:4`). Everything socialsla measures is a
function of the sorted event times, so the state is the same whether events
arrive in order, shuffled or redelivered, and a late event that merges two
waits (or two conversations) simply gives a different derivation: nothing has
to be patched.

* the fingerprint of each event detects redeliveries exactly, so the
  `duplicate` outcome is counted and a redelivery never adds a time twice;
* the kind keeps automated replies apart, because whether they count is a
  setting (`count_automated`) while they always break a silence (the silence
  after which a customer's next post opens a new conversation).

Bound: `MAX_EVENTS` per thread, of every kind (resolves and feedback too);
`apply` refuses the next one with `ThreadTooLong`, which the callers dead-letter.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, NamedTuple

import orjson

from socialsla.core.events import Event

#: A thread keeps at most this many events, of every type, so that its state stays bounded.
MAX_EVENTS: Final = 1_000
POST: Final = 0
REPLY: Final = 1
AUTOMATED: Final = 2
#: Resolves and feedback: no messages, so they neither answer a wait nor break a silence.
RESOLVE: Final = 3
FEEDBACK: Final = 4


class Status(Enum):
    """Where a conversation stands at an evaluation time."""

    NOT_OPEN = "not_open"
    RESPONDED = "responded"
    MISSED = "missed"
    PENDING = "pending"


class ThreadTooLong(ValueError):
    """A seen event that its thread has no room for: invalid (`thread too long`), never dropped silently."""

    reason = "thread too long"


@dataclass(frozen=True, slots=True)
class Policy:
    """The settings that decide what counts: automated replies, and the silence that starts a conversation."""

    count_automated: bool = False
    #: `SOCIALSLA_NEW_CONVERSATION_AFTER` in microseconds: a follow-up after this much silence is a
    #: conversation of its own; None is off.
    new_conversation_after_us: int | None = None


#: Replies by people only, and no silence rule: what counts unless the settings say otherwise.
DEFAULT_POLICY: Final = Policy()


#: The agent of an answer whose reply names none.
UNKNOWN_AGENT: Final = "unknown"


class Wait(NamedTuple):
    """One customer wait for a reply: start, answer, whether it counts as a conversation, who answered."""

    start: int
    answer: int | None
    conversation: bool
    agent: str | None = None


class Thread(NamedTuple):
    """A thread's seen events, sorted: `(created_at, kind, tie, fingerprint, agent)`.

    A named tuple, for the same reason as `Event`: one is built per event.
    """

    events: tuple[tuple[int, int, str, int, str | None], ...] = ()

    @property
    def opened_at(self) -> int | None:
        """The earliest post time (when its first conversation opens), or None for a thread without posts."""
        return next((entry[0] for entry in self.events if entry[1] == POST), None)

    @property
    def last_event_at(self) -> int | None:
        """The latest event time of any kind: what expiry is measured from."""
        return self.events[-1][0] if self.events else None

    def to_bytes(self) -> bytes:
        """Serialise compactly for the thread store and its log: one flat list of integers.

        Copied out of orjson's result, which holds a 4 KiB buffer whatever its
        length: a `memory://` store keeps every state, and would keep that too.
        """
        return bytes(memoryview(orjson.dumps([value for entry in self.events for value in entry])))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Thread:
        """Inverse of `to_bytes`; raises ValueError on anything else (an older row format)."""
        flat = _flat(raw)
        return cls(tuple(zip(flat[0::5], flat[1::5], flat[2::5], flat[3::5], flat[4::5], strict=True)))


def _flat(raw: bytes) -> list[Any]:
    flat = orjson.loads(raw)
    if not isinstance(flat, list) or len(flat) % 5 or (flat and not isinstance(flat[2], str)):
        raise ValueError("not a thread row of this version")
    return flat


def last_event_of(raw: bytes) -> int | None:
    """A stored state's `last_event_at`, without building the thread; ValueError as `from_bytes`.

    A replay asks it of every state in the log, to leave out the expired ones.
    """
    flat = _flat(raw)
    return flat[-5] if flat else None  # events are sorted by time: the last one's created_at


def fingerprint(kind: str, event_id: str) -> int:
    """A 63-bit digest of (type, event_id): the duplicate key (a redelivery repeats both), small to store."""
    digest = hashlib.blake2b(f"{kind}\0{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def apply(state: Thread | None, event: Event) -> tuple[Thread, bool]:
    """Fold one event into a thread; returns the new state and whether it was a duplicate.

    Raises `ThreadTooLong` for a new event when the thread already holds `MAX_EVENTS`.
    """
    events = () if state is None else state.events
    mark = fingerprint(event.kind, event.event_id)
    for entry in events:
        if entry[3] == mark:
            return state or Thread(), True
    if len(events) >= MAX_EVENTS:
        raise ThreadTooLong(ThreadTooLong.reason)
    if event.kind == "post":
        entry = (event.created_at, POST, "", mark, None)
    elif event.kind == "reply":
        entry = (event.created_at, AUTOMATED if event.automated else REPLY, event.event_id, mark, event.agent)
    elif event.kind == "resolve":
        entry = (event.created_at, RESOLVE, "", mark, None)
    else:
        entry = (event.created_at, FEEDBACK, event.event_id, mark, f"{event.survey}:{event.score}")
    position = bisect.bisect(events, entry[:4], key=lambda e: e[:4])  # agents (None or text) never compared
    return Thread((*events[:position], entry, *events[position:])), False


def waits(state: Thread, policy: Policy = DEFAULT_POLICY) -> tuple[Wait, ...]:
    """The thread's waits, oldest first; the first one, from the thread's first post, is a conversation.

    A wait starting at `s` is answered by the first counting reply at or after
    `s`; the next wait starts at the first post after that answer. A follow-up
    is a conversation of its own when it starts at least the policy's silence
    after the thread's previous message (post or reply of any kind: resolve and
    feedback events are no messages).
    """
    posts = [entry[0] for entry in state.events if entry[1] == POST]
    if not posts:
        return ()
    counting = (REPLY, AUTOMATED) if policy.count_automated else (REPLY,)
    # By time, then event_id: of two replies at one instant, the smaller id answers.
    answers = sorted((at, tie, agent) for at, kind, tie, _, agent in state.events if kind in counting)
    replies = [at for at, _, _ in answers]
    times = [entry[0] for entry in state.events if entry[1] <= AUTOMATED]  # posts and replies only
    silence = policy.new_conversation_after_us
    out: list[Wait] = []
    start: int | None = posts[0]
    while start is not None:
        found = bisect.bisect_left(replies, start)
        answer = replies[found] if found < len(replies) else None
        agent = None if answer is None else answers[found][2]
        if answer is not None and agent is None:
            agent = UNKNOWN_AGENT
        if not out:
            is_conversation = True
        else:
            before = bisect.bisect_left(times, start)  # events strictly before the start
            is_conversation = silence is not None and start - times[before - 1] >= silence
        out.append(Wait(start, answer, is_conversation, agent))
        if answer is None:
            break
        following = bisect.bisect_right(posts, answer)
        start = posts[following] if following < len(posts) else None
    return tuple(out)


def decide(
    opened: int, first: int | None, at: int, window: int, span: Callable[[int, int], int] | None = None
) -> tuple[Status, int | None]:
    """A wait started at `opened`, seen at time `at`: responded, missed or pending, and its latency by then.

    The one place the rule is written (docs/semantics.md, "Threads, waits and
    conversations"): the windows (conversations and follow-ups, wall and
    business clocks alike), the expiry totals and `status_at` all ask here. A
    reply after the window still has a latency (it counts in the latency
    statistics) and makes the wait missed. `span(a, b)` measures durations:
    wall-clock time when None, else a calendar's open time (the business view:
    latency `open(opened, first)`, missed once `open(opened, at) >= window`).
    """
    if first is not None and first <= at:
        latency = first - opened if span is None else span(opened, first)
        return (Status.RESPONDED if latency <= window else Status.MISSED), latency
    waited = at - opened if span is None else span(opened, at)
    return (Status.MISSED if waited >= window else Status.PENDING), None


def status_at(state: Thread, at: int, response_window: int, policy: Policy = DEFAULT_POLICY) -> Status:
    """The status of the thread's first conversation at time `at` (microseconds)."""
    found = waits(state, policy)
    if not found or found[0].start > at:
        return Status.NOT_OPEN
    return decide(found[0].start, found[0].answer, at, response_window)[0]


def expired(state: Thread, at: int, horizon: int) -> bool:
    """True once nothing in this thread can change a window any more: its events are all late."""
    return past_horizon(state.last_event_at, at, horizon)


def past_horizon(last_event_at: int | None, at: int, horizon: int) -> bool:
    """`expired` from a thread's latest event time (`last_event_of` reads it without the thread)."""
    return last_event_at is not None and last_event_at < at - horizon
