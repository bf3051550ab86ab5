"""Our own events, as JSON Lines or one JSON array, from any other source."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.events import Event
from socialsla.ingest.delivery import Delivery
from socialsla.ingest.jsonlines import map_events
from tests.unit.ingest.helpers import NOW, assert_sound, at, json_values

POST = {
    "type": "post",
    "event_id": "t-1",
    "conversation_id": "tiktok:acme:42",
    "account": "acme",
    "channel": "tiktok",
    "created_at": "2026-01-01T12:00:00.5Z",
}
REPLY = {**POST, "type": "reply", "event_id": "t-2", "agent": "ann", "created_at": 1767268860}
POST_EVENT = Event("post", "t-1", "tiktok:acme:42", "acme", "tiktok", at("2026-01-01T12:00:00.5Z"))
REPLY_EVENT = Event(
    "reply", "t-2", "tiktok:acme:42", "acme", "tiktok", at("2026-01-01T12:01:00Z"), agent="ann"
)


def mapped(raw: bytes) -> Delivery:
    delivery = map_events(raw, NOW)
    assert_sound(delivery)
    return delivery


def lines(*items: Any) -> bytes:
    return b"\n".join(orjson.dumps(item) for item in items) + b"\n"


def test_json_lines_are_judged_one_by_one() -> None:
    """Each valid line is an event; each invalid one a dead letter with the decoder's reason."""
    raw = lines(POST, {**POST, "channel": "TikTok"}, REPLY) + b"not json\n"
    delivery = mapped(raw)
    assert delivery.events == [POST_EVENT, REPLY_EVENT]
    assert delivery.invalid[0] == (
        orjson.dumps({**POST, "channel": "TikTok"}),
        "channel 'TikTok' does not match [a-z0-9_-]{1,32}",
    )
    assert delivery.invalid[1][0] == b"not json"
    assert delivery.invalid[1][1].startswith("not valid JSON: ")
    assert len(delivery.invalid) == 2


def test_a_json_array_of_events() -> None:
    """One array is the other accepted body; each element is judged alone."""
    raw = orjson.dumps([POST, {"type": "post"}, REPLY])
    delivery = mapped(raw)
    assert delivery.events == [POST_EVENT, REPLY_EVENT]
    assert delivery.invalid == [(b'{"type":"post"}', "missing field event_id")]
    assert [orjson.loads(value) for _, value in delivery.produced] == [POST, REPLY]


def test_a_single_event_even_over_several_lines() -> None:
    """A body that is one JSON object is one event, however it is laid out."""
    raw = orjson.dumps(POST, option=orjson.OPT_INDENT_2)
    assert raw.count(b"\n") > 3
    assert mapped(raw).events == [POST_EVENT]
    assert mapped(raw).invalid == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"", Delivery([], []), id="empty"),
        pytest.param(b"\n \r\n\n", Delivery([], []), id="blank-lines"),
        pytest.param(b"[]", Delivery([], []), id="empty-array"),
        pytest.param(b"5", Delivery([], [(b"5", "not a JSON object, got int")]), id="scalar"),
        pytest.param(b"[[1]]", Delivery([], [(b"[1]", "not a JSON object, got list")]), id="array-in-array"),
    ],
)
def test_edge_bodies(raw: bytes, expected: Delivery) -> None:
    """Blank lines separate nothing; a scalar or a nested array is invalid."""
    assert mapped(raw) == expected


def test_windows_line_endings_are_fine() -> None:
    """CRLF separates lines too."""
    raw = orjson.dumps(POST) + b"\r\n" + orjson.dumps(REPLY) + b"\r\n"
    assert mapped(raw).events == [POST_EVENT, REPLY_EVENT]


def test_an_event_ahead_of_the_clock_is_dead_lettered() -> None:
    """The decoder judges the future against the gateway's clock."""
    raw = lines({**POST, "created_at": (NOW // 1_000_000) + 400})
    assert mapped(raw).invalid[0][1].endswith("is more than 5 minutes ahead of the clock")


@settings(max_examples=300)
@given(items=st.lists(json_values | st.just(POST) | st.just(REPLY), max_size=5), as_array=st.booleans())
def test_any_json_body_maps_without_raising(items: list[Any], as_array: bool) -> None:
    """Whatever the lines, mapping never raises; every event decodes and round-trips."""
    raw = orjson.dumps(items) if as_array else b"\n".join(orjson.dumps(item) for item in items)
    mapped(raw)


@settings(max_examples=300)
@given(raw=st.binary(max_size=200))
def test_any_bytes_map_without_raising(raw: bytes) -> None:
    """Not even bytes that are not UTF-8 make mapping raise."""
    mapped(raw)


@pytest.mark.parametrize("field", ["type", "event_id", "account", "created_at", "score", "extra"])
def test_a_field_nested_a_thousand_deep_is_dead_lettered(field: str) -> None:
    """A value deeper than Python's recursion limit is invalid (or ignored, as an unknown field), never a crash."""
    deep = b"[" * 1000 + b"]" * 1000
    line = (
        orjson.dumps({**POST, "type": "feedback", "survey": "csat", "score": 3})[:-1]
        + b',"'
        + field.encode()
        + b'":'
        + deep
        + b"}"
    )
    delivery = mapped(lines(POST) + line)
    assert delivery.events[0] == POST_EVENT
    assert len(delivery.events) + len(delivery.invalid) == 2
