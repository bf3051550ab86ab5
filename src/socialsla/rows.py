"""The keys and values of the worker's two tables, written and read only here.

Every key starts with the input partition its row belongs to. Faust keeps a
table row, and writes its changelog record, on the partition of the event being
processed, so a row lives on its input partition whatever partitioner the
upstream used; housekeeping finds a partition's rows by that prefix instead of
re-hashing keys (a re-hash with murmur2 missed the rows of an upstream that
partitions with librdkafka's CRC32, so they were never purged).

* `conversations`: `p|account|channel|conversation_id` -> `Conversation` bytes
* `series`: `p|account|channel|conversation_id` -> the thread's kept waits, flat
  (`outcome.flat_waits`), and `p|account|channel` -> the series' expired `Totals`
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from socialsla.conversation import Wait
from socialsla.outcome import SEPARATOR, flat_waits, parse_waits

_SEP = SEPARATOR.encode()
#: The worker's two tables.
CONVERSATIONS = "conversations"
SERIES = "series"
TABLES = (CONVERSATIONS, SERIES)


class ConversationKey(NamedTuple):
    """Which conversation (SPEC §2: a conversation is unique per account and channel)."""

    account: str
    channel: str
    conversation_id: str


class SeriesRow(NamedTuple):
    """A parsed stage-2 key: a conversation's record, or (conversation_id None) a series' totals."""

    partition: int
    account: str
    channel: str
    conversation_id: str | None


def prefix(partition: int) -> bytes:
    """What every key of a partition's rows starts with."""
    return b"%d" % partition + _SEP


def conversation_key(partition: int, key: ConversationKey) -> bytes:
    """The stage-1 table key of a conversation."""
    return prefix(partition) + SEPARATOR.join(key).encode()


def series_key(partition: int, account: str, channel: str, conversation_id: str | None = None) -> bytes:
    """The stage-2 table key of a conversation's record, or of the series' totals."""
    parts = (account, channel) if conversation_id is None else (account, channel, conversation_id)
    return prefix(partition) + SEPARATOR.join(parts).encode()


def parse_series_key(raw: bytes) -> SeriesRow:
    """Inverse of `series_key`; ids may contain the separator, names may not (SPEC §1)."""
    partition, account, channel, *rest = raw.decode().split(SEPARATOR, 3)
    return SeriesRow(int(partition), account, channel, rest[0] if rest else None)


def record_value(waits: tuple[Wait, ...]) -> bytes:
    """A thread's record in the stage-2 table: its kept waits."""
    return orjson.dumps(flat_waits(waits))


def parse_record_value(raw: bytes) -> tuple[Wait, ...]:
    """Inverse of `record_value`; ValueError for anything else (a row of an older version)."""
    return parse_waits(orjson.loads(raw))
