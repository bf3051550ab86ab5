"""The table codec: keys carry their input partition, and parse back."""

from __future__ import annotations

import pytest

from socialsla import rows
from socialsla.conversation import Wait
from socialsla.rows import ConversationKey


@pytest.mark.parametrize(
    ("partition", "account", "channel", "conversation_id"),
    [(0, "acme", "x", "c1"), (11, "a-b_c", "facebook", "id|with|bars"), (3, "acme", "x", None)],
    ids=["record", "separator-in-id", "totals"],
)
def test_series_keys_round_trip(
    partition: int, account: str, channel: str, conversation_id: str | None
) -> None:
    """A stage-2 key parses back to its partition, series and conversation (None for the totals row)."""
    key = rows.series_key(partition, account, channel, conversation_id)
    assert rows.parse_series_key(key) == (partition, account, channel, conversation_id)
    assert key.startswith(rows.prefix(partition))


def test_a_partitions_rows_share_its_prefix_and_no_other() -> None:
    """Partition 1's prefix matches its keys and not partition 11's (the sweep and the loader select by it)."""
    one = rows.conversation_key(1, ConversationKey("acme", "x", "c"))
    eleven = rows.conversation_key(11, ConversationKey("acme", "x", "c"))
    assert one.startswith(rows.prefix(1))
    assert not eleven.startswith(rows.prefix(1))


def test_records_round_trip() -> None:
    """A conversation's record keeps both times, or their absence."""
    waits = (Wait(5, None, True), Wait(9, 12, False, "ana"))
    assert rows.parse_record_value(rows.record_value(waits)) == waits
