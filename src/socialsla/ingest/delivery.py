"""What one webhook delivery yields, and how a mapping builds it item by item.

A delivery is judged item by item: one bad message must not cost the good ones
beside it, because the platform would only send the same poisoned delivery
again. Each item ends in exactly one of three places: produced as an event,
dead-lettered with a reason, or ignored (a kind of item we do not map).

Every event goes through `socialsla.core.events.decode`, the same judge the workers
use, so the gateway can never produce an event the workers would reject.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import orjson

from socialsla.core.events import Event, InvalidEvent, decode, format_time

#: An event as the JSON object the workers read, before it is judged.
Fields = dict[str, object]

_REASON_MAX: Final = 200


class InvalidItem(InvalidEvent):
    """A webhook item that cannot become an event; `reason` names the field at fault.

    A kind of `InvalidEvent`, so that a mapping handles the platform's mistakes
    and the event decoder's verdicts in one place.
    """


@dataclass(slots=True)
class Delivery:
    """What one webhook delivery yields."""

    #: Valid events, to produce, in delivery order: each as the decoder read it (its kind picks
    #: the topic, its conversation_id the key) and the JSON bytes it was read from, which are
    #: what is produced: they keep what the decoder checks but does not hold, a resolve's agent.
    produced: list[tuple[Event, bytes]]
    #: The dead letters: (the item's JSON bytes, or the whole body; reason).
    invalid: list[tuple[bytes, str]]
    #: Items that are not mapped to any event (reads, reactions, other fields, ...).
    ignored: int = 0

    @property
    def events(self) -> list[Event]:
        """The valid events, as the workers will read them."""
        return [event for event, _ in self.produced]


def item_bytes(item: object) -> bytes:
    """The JSON bytes of an item, for its dead letter; bytes are kept as they came."""
    if isinstance(item, bytes):
        return item
    try:
        return orjson.dumps(item)
    except orjson.JSONEncodeError:
        return _flat_json(item)


class _Raw(str):
    """JSON punctuation to write as it is, where any other string is a value to quote."""

    __slots__ = ()


def _flat_json(item: object) -> bytes:
    """JSON text written without recursion, whatever the item.

    orjson refuses integers beyond 64 bits and stops at 255 levels of nesting;
    Python's encoder stops at its recursion limit, and orjson parses bodies 1,024
    levels deep. A dead letter must never fail.
    """
    out: list[str] = []
    todo: list[object] = [item]
    while todo:
        value = todo.pop()
        if isinstance(value, _Raw):
            out.append(value)
        elif isinstance(value, dict):
            todo.extend(reversed(_members(value)))
        elif isinstance(value, list | tuple):
            todo.extend(reversed(_elements(value)))
        else:
            out.append(json.dumps(value, default=repr))
    return "".join(out).encode()


def _elements(values: list[object] | tuple[object, ...]) -> list[object]:
    parts: list[object] = [_Raw("[")]
    for index, value in enumerate(values):
        parts.extend((_Raw(","), value) if index else (value,))
    parts.append(_Raw("]"))
    return parts


def _members(obj: dict[object, object]) -> list[object]:
    parts: list[object] = [_Raw("{")]
    for index, (key, value) in enumerate(obj.items()):
        parts.extend((_Raw(("," if index else "") + json.dumps(str(key)) + ":"), value))
    parts.append(_Raw("}"))
    return parts


def load_json(raw: bytes) -> object:
    """Parse a body; a body that is not JSON raises `InvalidItem` (dead-letter the raw bytes)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidItem(f"not valid JSON: {str(exc)[:80]}") from None


def rejected(body: object, reason: str) -> Delivery:
    """A delivery that is one dead letter: a body that is not the platform's envelope."""
    return Delivery([], [(item_bytes(body), reason[:_REASON_MAX])])


def event_fields(
    kind: str, event_id: str, conversation_id: str, account: str, channel: str, created_us: int
) -> Fields:
    """The fields every event has; the time is written exact to the microsecond."""
    return {
        "type": kind,
        "event_id": event_id,
        "conversation_id": conversation_id,
        "account": account,
        "channel": channel,
        "created_at": format_time(created_us),
    }


class Intake:
    """Builds one `Delivery`: each item is produced, dead-lettered or ignored."""

    __slots__ = ("delivery", "now_us")

    def __init__(self, now_us: int) -> None:
        self.now_us = now_us
        self.delivery = Delivery([], [])

    def take(self, item: object, build: Callable[[], Fields | None]) -> None:
        """Map one item: `build` returns its event's fields, None to ignore it, or raises."""
        try:
            fields = build()
        except InvalidEvent as exc:
            self.reject(item, exc.reason)
            return
        if fields is None:
            self.ignore()
        else:
            self.produce(item, fields)

    def produce(self, item: object, fields: Fields) -> None:
        """Judge the fields as the workers will; a verdict against them dead-letters the item."""
        try:
            value = orjson.dumps(fields)
            self.delivery.produced.append((decode(value, self.now_us), value))
        except InvalidEvent as exc:
            self.reject(item, exc.reason)
        except orjson.JSONEncodeError as exc:
            self.reject(item, f"cannot be written as JSON: {exc}")

    def reject(self, item: object, reason: str) -> None:
        """Dead-letter an item with the reason it cannot become an event."""
        self.delivery.invalid.append((item_bytes(item), reason[:_REASON_MAX]))

    def ignore(self, count: int = 1) -> None:
        """Count items that no event is made of."""
        self.delivery.ignored += count
