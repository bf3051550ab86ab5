"""Outcome messages: a series' conversation summaries per Kafka message, and nothing else accepted."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialsla.events import MICROS
from socialsla.outcome import PER_MESSAGE, Outcome, chunks, decode, encode

T0 = 1_767_225_600 * MICROS

times = st.none() | st.integers(min_value=0, max_value=2**62)
outcomes = st.lists(
    st.builds(
        Outcome,
        st.just("acme"),
        st.just("x"),
        st.text(min_size=1, max_size=256),
        times,
        times,
        st.integers(min_value=0, max_value=2**62),
    ),
    min_size=1,
    max_size=50,
)


@given(outcomes)
def test_messages_round_trip(items: list[Outcome]) -> None:
    """Any list of one series' outcomes, ids with separators and any text included, decodes as sent."""
    assert decode(encode(items)) == items


def test_key_is_the_series() -> None:
    """The Kafka key co-partitions a series' outcomes with its rows."""
    assert Outcome("acme", "facebook", "c|with|bars", T0, None, T0).key() == b"acme|facebook"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[1, 2]",
        b'["acme", "x"]',
        b'["acme", "x", [["c1", 1, 2]]]',
        b'["acme", "x", [["c1", "1", 2, 3]]]',
        b'["acme", "x", [["c1", 1.5, 2, 3]]]',
        b'["acme", "x", [["c1", true, null, 3]]]',
        b'["acme", 7, [["c1", 1, null, 3]]]',
        b'["acme", "x", [[5, 1, null, 3]]]',
        b'["acme", "x", [["c1", 1, null, null]]]',
        b'["acme", "x", {"c1": 1}]',
        b"\xff\xfe",
    ],
)
def test_anything_else_is_refused_with_a_reason(raw: bytes) -> None:
    """Stage 2 dead-letters what it cannot read instead of crashing on it."""
    with pytest.raises(ValueError, match="not an outcome message"):
        decode(raw)


def test_chunks_keep_messages_under_the_kafka_limit() -> None:
    """Worst-case ids (256 four-byte characters) still fit Kafka's 1 MB default per message."""
    items = [
        Outcome("a" * 256, "c" * 256, "\U0001f600" * 255 + str(i % 10), T0, T0, T0)
        for i in range(2 * PER_MESSAGE + 3)
    ]
    parts = list(chunks(items))
    assert [len(p) for p in parts] == [PER_MESSAGE, PER_MESSAGE, 3]
    assert [o for p in parts for o in p] == items
    assert max(len(encode(p)) for p in parts) < 1_000_000
    assert orjson.loads(encode(parts[-1]))[0] == "a" * 256
