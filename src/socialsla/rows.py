"""The key of a thread in stage 1's state, written and read only here."""

from __future__ import annotations

from typing import NamedTuple

from socialsla.wire import SEPARATOR


class ConversationKey(NamedTuple):
    """Which conversation (SPEC §2: a conversation is unique per account and channel)."""

    account: str
    channel: str
    conversation_id: str


def conversation_key(key: ConversationKey) -> bytes:
    """A thread's key in its partition's store and log: `account|channel|conversation_id`.

    No partition in it: each input partition has a store and a log partition of
    its own (`thread_store.py`), whatever partitioner the upstream used.
    """
    return SEPARATOR.join(key).encode()
