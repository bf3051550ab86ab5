"""Outcome messages: a series' conversation summaries per Kafka message, and nothing else accepted."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialsla.core.events import MICROS
from socialsla.core.feedback import Answer
from socialsla.core.resolution import Resolution
from socialsla.core.thread import MAX_EVENTS, Wait
from socialsla.core.wire import PER_MESSAGE, Outcome, Scorecard, chunks, decode_outcomes, encode_outcomes

T0 = 1_767_225_600 * MICROS

time = st.integers(min_value=0, max_value=2**62)
waits = st.lists(st.builds(Wait, time, st.none() | time, st.booleans()), max_size=4).map(tuple)
outcomes = st.lists(
    st.builds(
        Outcome,
        st.just("acme"),
        st.just("x"),
        st.text(min_size=1, max_size=256),
        waits,
        time,
        st.none()
        | st.builds(
            Scorecard,
            st.lists(st.builds(Resolution, time, time, st.booleans(), st.booleans())).map(tuple),
            st.lists(
                st.builds(Answer, time, st.sampled_from(["csat", "nps", "ces"]), st.integers(0, 10))
            ).map(tuple),
            st.none() | time,
            st.none() | time,
        ),
    ),
    min_size=1,
    max_size=50,
)


@given(outcomes)
def test_messages_round_trip(items: list[Outcome]) -> None:
    """Any list of one series' outcomes, ids with separators and any text included, decodes as sent."""
    assert decode_outcomes(encode_outcomes(items)) == items


def test_key_is_the_series() -> None:
    """The Kafka key co-partitions a series' outcomes with its rows."""
    assert Outcome("acme", "facebook", "c|with|bars", (Wait(T0, None, True),), T0).key() == b"acme|facebook"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[1, 2]",
        b'["acme", "x"]',
        b'["acme", "x", [["c1", [1, 2]]]]',
        b'["acme", "x", [["c1", [1, 2], 3]]]',
        b'["acme", "x", [["c1", ["1", 2, 1], 3]]]',
        b'["acme", "x", [["c1", [1.5, 2, 1], 3]]]',
        b'["acme", "x", [["c1", [1, 2, 2], 3]]]',
        b'["acme", "x", [["c1", [true, null, 1], 3]]]',
        b'["acme", 7, [["c1", [1, null, 1], 3]]]',
        b'["acme", "x", [[5, [1, null, 1], 3]]]',
        b'["acme", "x", [["c1", [1, null, 1], null]]]',
        b'["acme", "x", [["c1", 1, 2, 3]]]',
        b'["acme", "x", {"c1": 1}]',
        b"\xff\xfe",
    ],
)
def test_anything_else_is_refused_with_a_reason(raw: bytes) -> None:
    """Stage 2 dead-letters what it cannot read instead of crashing on it."""
    with pytest.raises(ValueError, match="not an outcome message"):
        decode_outcomes(raw)


def test_chunks_keep_messages_under_the_kafka_limit() -> None:
    """Worst-case ids (256 four-byte characters) still fit Kafka's 1 MB default per message."""
    one = (Wait(T0, T0, True),)
    items = [
        Outcome("a" * 64, "c" * 32, "\U0001f600" * 255 + str(i % 10), one, T0)
        for i in range(2 * PER_MESSAGE + 3)
    ]
    parts = list(chunks(items))
    assert len(parts) > 2
    assert all(len(p) <= PER_MESSAGE for p in parts)
    assert [o for p in parts for o in p] == items
    assert max(len(encode_outcomes(p)) for p in parts) < 1_000_000
    assert orjson.loads(encode_outcomes(parts[-1]))[0] == "a" * 64


def test_chunks_of_the_longest_threads_stay_under_the_kafka_limit() -> None:
    """Threads of 1,000 events (500 waits, 19-digit times) are split by size, not only by count."""
    longest = tuple(Wait(2**62 + 2 * i, 2**62 + 2 * i + 1, False) for i in range(MAX_EVENTS // 2))
    items = [Outcome("a" * 64, "c" * 32, "\U0001f600" * 256, longest, 2**62) for _ in range(100)]
    parts = list(chunks(items))
    assert len(parts) > 1
    assert [o for p in parts for o in p] == items
    assert max(len(encode_outcomes(p)) for p in parts) < 1_000_000
