"""One conversation's state (SPEC §2), as a value: initialise, apply an event, read a status.

The state keeps timestamps, never event lists, so it sits in a Faust table and is
the same whether events arrive in order, shuffled or redelivered:

* `opened_at` is a minimum over posts and `first_reply_at` a minimum over
  counting replies, so both are order-free and idempotent;
* replies older than the current `opened_at` are kept (a bounded few) because a
  late, earlier post can make them count;
* fingerprints of the events seen detect redeliveries, so the `duplicate`
  outcome can be counted and a conflicting redelivery cannot rewrite history.

Bounds: at most `MAX_EARLY_REPLIES` early replies (the latest ones, closest to
the post) and `MAX_SEEN` fingerprints per conversation. Past those a
redelivery is still harmless (the minima are idempotent), it is only counted as
accepted instead of duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum
from typing import Final

import orjson

from socialsla.events import Event

MAX_EARLY_REPLIES: Final = 32
MAX_SEEN: Final = 256


class Status(Enum):
    """Where a conversation stands at an evaluation time."""

    NOT_OPEN = "not_open"
    RESPONDED = "responded"
    MISSED = "missed"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Conversation:
    """Order-free summary of the events seen for one conversation."""

    opened_at: int | None = None
    first_reply_at: int | None = None
    early_replies: tuple[int, ...] = ()
    seen: tuple[int, ...] = ()
    last_event_at: int | None = None

    def to_bytes(self) -> bytes:
        """Serialise compactly for a table or changelog."""
        return orjson.dumps(
            [self.opened_at, self.first_reply_at, self.early_replies, self.seen, self.last_event_at]
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Conversation:
        """Inverse of `to_bytes`."""
        o, f, early, seen, last = orjson.loads(raw)
        return cls(o, f, tuple(early), tuple(seen), last)


def fingerprint(kind: str, event_id: str) -> int:
    """A 63-bit digest of (type, event_id): the duplicate key of SPEC §2, small to store."""
    digest = hashlib.blake2b(f"{kind}\0{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def counts(event: Event, count_automated: bool) -> bool:
    """Whether a reply can count towards a first reply at all (automation aside, SPEC §2)."""
    return event.kind == "reply" and (count_automated or not event.automated)


def apply(
    state: Conversation | None, event: Event, count_automated: bool = False
) -> tuple[Conversation, bool]:
    """Fold one event into a conversation; returns the new state and whether it was a duplicate."""
    state = state or Conversation()
    mark = fingerprint(event.kind, event.event_id)
    if mark in state.seen:
        return state, True
    seen = (*state.seen, mark)[-MAX_SEEN:]
    last = event.created_at if state.last_event_at is None else max(state.last_event_at, event.created_at)
    opened, first, early = state.opened_at, state.first_reply_at, state.early_replies
    at = event.created_at
    if event.kind == "post":
        if opened is None or at < opened:
            opened = at
            # Replies that were before the thread's start may count now.
            now_counting = [r for r in early if r >= opened]
            if now_counting:
                candidate = min(now_counting)
                first = candidate if first is None else min(first, candidate)
                early = tuple(r for r in early if r < opened)
    elif counts(event, count_automated):
        if opened is None or at < opened:
            if at not in early:
                early = tuple(sorted((*early, at)))[-MAX_EARLY_REPLIES:]
        else:
            first = at if first is None else min(first, at)
    return Conversation(opened, first, early, seen, last), False


def decide(opened: int, first: int | None, at: int, window: int) -> tuple[Status, int | None]:
    """SPEC §2 for an open conversation at time `at`: its status, and the first-reply latency seen by then.

    The one place the rule is written: the windows, the expiry totals and
    `status_at` all ask here. A reply after the window still has a latency (it
    counts in the latency statistics) and makes the conversation missed.
    """
    if first is not None and first <= at:
        latency = first - opened
        return (Status.RESPONDED if latency <= window else Status.MISSED), latency
    return (Status.MISSED if at >= opened + window else Status.PENDING), None


def status_at(state: Conversation, at: int, response_window: int) -> Status:
    """The SPEC §2 status at time `at` (microseconds), seeing only events up to `at`."""
    opened = state.opened_at
    if opened is None or opened > at:
        return Status.NOT_OPEN
    return decide(opened, state.first_reply_at, at, response_window)[0]


def expired(state: Conversation, at: int, horizon: int) -> bool:
    """True once nothing in this conversation can change a window any more (SPEC §2, late)."""
    return state.last_event_at is not None and state.last_event_at < at - horizon
