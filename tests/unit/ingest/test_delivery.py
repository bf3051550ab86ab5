"""Building a delivery item by item: produced, dead-lettered or ignored."""

from __future__ import annotations

import orjson
import pytest

from socialsla.core.events import Event
from socialsla.ingest.delivery import (
    Delivery,
    Intake,
    InvalidItem,
    event_fields,
    item_bytes,
    load_json,
    rejected,
)
from tests.unit.ingest.helpers import DEEP, NOW, at

FIELDS = event_fields("post", "e1", "c1", "acme", "facebook", at("2026-01-01T12:00:00.000001Z"))


def test_an_item_that_builds_is_produced_exactly() -> None:
    """The event is the decoder's, its time exact to the microsecond."""
    intake = Intake(NOW)
    intake.take({"id": 1}, lambda: FIELDS)
    assert intake.delivery.events == [
        Event("post", "e1", "c1", "acme", "facebook", at("2026-01-01T12:00:00.000001Z"))
    ]
    assert intake.delivery.invalid == []
    ((_, value),) = intake.delivery.produced
    assert orjson.loads(value) == FIELDS  # the bytes produced are the fields judged


def test_a_resolve_keeps_its_agent_in_the_bytes_produced() -> None:
    """The decoder checks a resolve's agent but keeps no number per agent; the topic still gets it."""
    fields = {**event_fields("resolve", "z1", "c1", "acme", "x", at("2026-01-01T12:00:00Z")), "agent": "Ana"}
    intake = Intake(NOW)
    intake.take({"id": 1}, lambda: fields)
    ((event, value),) = intake.delivery.produced
    assert event.agent is None
    assert orjson.loads(value)["agent"] == "Ana"


def test_an_item_that_fails_to_build_is_dead_lettered_with_its_bytes() -> None:
    """InvalidItem's reason goes beside the item's JSON."""

    def build() -> None:
        raise InvalidItem("missing sender.id")

    intake = Intake(NOW)
    intake.take({"id": 1}, build)
    assert intake.delivery == Delivery([], [(b'{"id":1}', "missing sender.id")])


def test_an_item_the_decoder_refuses_is_dead_lettered_with_its_reason() -> None:
    """Fields the workers would reject never become an event."""
    intake = Intake(NOW)
    intake.take({"id": 1}, lambda: {**FIELDS, "channel": "Face Book"})
    assert intake.delivery.invalid == [(b'{"id":1}', "channel 'Face Book' does not match [a-z0-9_-]{1,32}")]


def test_an_item_that_builds_nothing_is_ignored() -> None:
    """None means: not a kind of item that is mapped."""
    intake = Intake(NOW)
    intake.take({}, lambda: None)
    intake.ignore(2)
    assert intake.delivery == Delivery([], [], 3)


def test_a_score_too_large_for_json_is_dead_lettered() -> None:
    """Fields that cannot even be written (a 65-bit score) are invalid, not an exception."""
    intake = Intake(NOW)
    intake.produce({}, {**FIELDS, "type": "feedback", "survey": "csat", "score": 2**65})
    assert intake.delivery.invalid[0][1].startswith("cannot be written as JSON")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(b"raw \xff", b"raw \xff", id="bytes-as-they-came"),
        pytest.param({"a": [1, None]}, b'{"a":[1,null]}', id="json"),
        pytest.param({"big": 2**70}, b'{"big":1180591620717411303424}', id="beyond-64-bits"),
        pytest.param({1: "x"}, b'{"1":"x"}', id="non-string-key"),
        pytest.param(
            {"a": [1.5, "\u00e9", None, True, 2**70]},
            b'{"a":[1.5,"\\u00e9",null,true,1180591620717411303424]}',
            id="every-scalar",
        ),
    ],
)
def test_item_bytes_never_fail(item: object, expected: bytes) -> None:
    """A dead letter always has bytes, whatever the item."""
    assert item_bytes(item) == expected


def test_item_bytes_of_a_value_nested_a_thousand_deep() -> None:
    """Deeper than orjson writes and than Python's encoder recurses: still valid JSON, the same value."""
    deep = b"[" * 1000 + b"]" * 1000
    assert item_bytes({"x": DEEP, "big": 2**70}) == b'{"x":' + deep + b',"big":1180591620717411303424}'


def test_a_body_that_is_not_json_raises_with_a_reason() -> None:
    """load_json's reason is the dead letter's; a JSON body parses."""
    assert load_json(b'{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidItem, match=r"^not valid JSON: "):
        load_json(b"{nope")


def test_a_rejected_body_is_one_dead_letter() -> None:
    """The whole body, with the reason."""
    assert rejected([1], "body must be a JSON object, got array") == Delivery(
        [], [(orjson.dumps([1]), "body must be a JSON object, got array")]
    )
