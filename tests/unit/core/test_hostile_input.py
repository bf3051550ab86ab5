"""Hostile input never crashes decoding: random bytes, odd JSON, deep nesting, huge and odd values."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.events import Event, InvalidEvent, decode, parse_time
from socialsla.core.wire import decode_outcomes

NOW = parse_time("2026-01-08T00:00:00Z")
FIELDS = ["type", "event_id", "conversation_id", "account", "channel", "created_at", "automated", "author"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def judged(raw: bytes) -> Event | str:
    try:
        return decode(raw, NOW)
    except InvalidEvent as exc:
        reason = exc.reason
    assert 0 < len(reason) < 200
    return reason


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_are_judged(raw: bytes) -> None:
    """Arbitrary bytes give an event or a short reason, never another exception."""
    judged(raw)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8))
def test_event_shaped_objects_are_judged(body: dict[str, object]) -> None:
    """Objects with the right field names and arbitrary values are judged, never crash."""
    judged(orjson.dumps(body))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"[" * 100_000, "not valid JSON", id="deep-nesting"),
        pytest.param(b'{"created_at": NaN}', "not valid JSON", id="nan"),
        pytest.param(
            b'{"type":"post","event_id":"e","conversation_id":"c","account":"a","channel":"x","created_at":1e309}',
            "not valid JSON",
            id="infinity",
        ),
        pytest.param(
            orjson.dumps({"type": "post", "event_id": "e" * 10_000_000}),
            "event_id must be 1-256 characters",
            id="huge-string",
        ),
        pytest.param(
            b'{"type":"post","event_id":"e","conversation_id":"c","account":"a","channel":"x","created_at":"9999-12-31T23:59:59Z"}',
            "ahead of the clock",
            id="far-future",
        ),
        pytest.param(
            b'{"type":"post","event_id":"e","conversation_id":"c","account":"a","channel":"x","created_at":-1e12}',
            "out of range",
            id="before-year-1",
        ),
        pytest.param(b"\x00\x01\x02", "not valid JSON", id="binary"),
        pytest.param(
            '{"type":"post","event_id":"e","conversation_id":"c","account":"\u202eacme","channel":"x","created_at":1}'.encode(),
            "does not match",
            id="bidi-account",
        ),
    ],
)
def test_hostile_values_are_rejected_with_reasons(raw: bytes, reason: str) -> None:
    """Known hostile shapes are rejected with the expected reason."""
    assert reason in str(judged(raw))


def test_deep_objects_are_rejected() -> None:
    """5000 nested objects are rejected (orjson's depth limit, or no event fields), never a crash."""
    assert isinstance(judged(b'{"a":' * 5000 + b"1" + b"}" * 5000), str)


def test_far_past_is_valid_and_left_to_lateness() -> None:
    """A timestamp in year 1 is a valid event; the pipeline counts it late, not invalid."""
    event = judged(
        b'{"type":"post","event_id":"e","conversation_id":"c","account":"a","channel":"x","created_at":"0001-01-01T00:00:00Z"}'
    )
    assert isinstance(event, Event)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256) | json_values.map(orjson.dumps))
def test_outcome_reader_refuses_garbage_cleanly(raw: bytes) -> None:
    """Stage 2's reader raises only ValueError on bytes, or JSON, that is not an outcome message."""
    with contextlib.suppress(ValueError):
        decode_outcomes(raw)


@pytest.mark.parametrize("depth", [500, 1000, 1023])
@pytest.mark.parametrize("field", ["type", "event_id", "created_at", "survey", "score"])
def test_a_value_nested_deeper_than_repr_can_go_is_named_not_shown(field: str, depth: int) -> None:
    """orjson reads lists nested up to 1024 deep; the reason names such a value instead of crashing on it."""
    good = {"type": "feedback", "event_id": "f1", "conversation_id": "c", "account": "acme",
            "channel": "x", "created_at": "2026-01-07T00:00:00Z", "survey": "csat", "score": 5}  # fmt: skip
    raw = orjson.dumps({**good, field: "here"}).replace(b'"here"', b"[" * depth + b"]" * depth)
    with pytest.raises(InvalidEvent) as caught:
        decode(raw, NOW)
    assert field in caught.value.reason
    assert len(caught.value.reason) < 200
