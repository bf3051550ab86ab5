"""Outcomes: what stage 1 tells stage 2 about its conversations, a series per Kafka message.

An outcome carries the conversation's whole current summary, not a delta, so stage
2 can apply it any number of times (redelivery, replay after a crash) and end in
the same state. The key is the series (`account|channel`), which co-partitions
every conversation of a series with that series' window table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import orjson

SEPARATOR = "|"  # not allowed in account or channel names (SPEC §1), so keys split safely
#: Outcomes per Kafka message. An id is at most 256 characters (1 KiB of UTF-8), so 500 of
#: them stay under Kafka's 1 MB default message size even in the worst case.
PER_MESSAGE: Final = 500


def series_key(account: str, channel: str) -> str:
    """The Kafka key and table-key prefix of one (account, channel)."""
    return f"{account}{SEPARATOR}{channel}"


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


def encode(outcomes: Sequence[Outcome]) -> bytes:
    """One Kafka value for outcomes of a single series: `[account, channel, [[id, o, f, t], ...]]`.

    Stage 1 sends one such message per series per batch instead of one per
    event, so stage 2 pays Faust's per-message cost once for many conversations.
    """
    first = outcomes[0]
    return orjson.dumps(
        [first.account, first.channel,
         [[o.conversation_id, o.opened_at, o.first_reply_at, o.event_at] for o in outcomes]]
    )  # fmt: skip


def decode(raw: bytes) -> list[Outcome]:
    """Inverse of `encode`; raises ValueError, with the reason, on anything else."""
    try:
        account, channel, items = orjson.loads(raw)
        result = [Outcome(account, channel, k, o, f, t) for k, o, f, t in items]
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"not an outcome message: {exc}") from None
    for item in result:
        if not (
            isinstance(item.account, str)
            and isinstance(item.channel, str)
            and isinstance(item.conversation_id, str)
            and all(t is None or type(t) is int for t in (item.opened_at, item.first_reply_at))
            and type(item.event_at) is int
        ):
            raise ValueError("not an outcome message: wrong field types")
    return result


def chunks(outcomes: Sequence[Outcome]) -> Iterator[Sequence[Outcome]]:
    """Slices of at most `PER_MESSAGE` outcomes, each one Kafka message."""
    for start in range(0, len(outcomes), PER_MESSAGE):
        yield outcomes[start : start + PER_MESSAGE]
