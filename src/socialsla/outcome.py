"""Outcomes: what stage 1 tells stage 2 about one conversation, as a Kafka message.

An outcome carries the conversation's whole current summary, not a delta, so stage
2 can apply it any number of times (redelivery, replay after a crash) and end in
the same state. The key is the series (`account|channel`), which co-partitions
every conversation of a series with that series' window table.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

SEPARATOR = "|"  # not allowed in account or channel names (SPEC §1), so keys split safely


def series_key(account: str, channel: str) -> str:
    """The Kafka key and table-key prefix of one (account, channel)."""
    return f"{account}{SEPARATOR}{channel}"


def split_series(key: str) -> tuple[str, str]:
    """Inverse of series_key."""
    account, channel = key.split(SEPARATOR, 1)
    return account, channel


@dataclass(frozen=True, slots=True)
class Outcome:
    """A conversation's current times; `event_at` is the created_at of the event that caused it."""

    account: str
    channel: str
    conversation_id: str
    opened_at: int | None
    first_reply_at: int | None
    event_at: int

    def key(self) -> bytes:
        """Kafka key: the series."""
        return series_key(self.account, self.channel).encode()

    def to_bytes(self) -> bytes:
        """Kafka value."""
        return orjson.dumps(
            [self.account, self.channel, self.conversation_id, self.opened_at,
             self.first_reply_at, self.event_at]
        )  # fmt: skip

    @classmethod
    def from_bytes(cls, raw: bytes) -> Outcome:
        """Inverse of to_bytes; raises ValueError on anything else."""
        try:
            a, c, k, o, f, t = orjson.loads(raw)
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise ValueError(f"not an outcome: {exc}") from None
        return cls(a, c, k, o, f, t)
