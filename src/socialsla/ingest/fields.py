"""Reading a platform's JSON: ids as decimal strings, times as exact microseconds.

Platforms send one field in more than one form: Meta's app ids are JSON numbers
while its page ids are strings; X writes times as strings of milliseconds;
Chatwoot writes a message's time as an ISO 8601 string and a conversation's as
float seconds. Each helper accepts every documented form and turns anything
else into an `InvalidItem` whose reason names the field, so that a mapping
reads as the list of fields it needs.
"""

from __future__ import annotations

import math
import re
import reprlib
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from socialsla.core.events import MICROS, InvalidEvent, parse_time
from socialsla.ingest.delivery import InvalidItem

#: A numeric time at or above this is in milliseconds, below it in seconds: 10^11
#: seconds is the year 5138, 10^11 milliseconds is March 1973, so no instant a
#: platform sends today is ambiguous.
MILLIS_FROM: Final = 10**11
_DIGITS: Final = re.compile(r"[0-9]{1,20}")
_FRACTION: Final = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}\.([0-9]+)")
# The instants a datetime can print, so that every accepted time can be written back.
_MIN_US: Final = -62_135_596_800 * MICROS
_MAX_US: Final = 253_402_300_800 * MICROS - 1
_SHOWN: Final = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxlong = _SHOWN.maxother = 60


def shown(value: object) -> str:
    """Echo a bad value in a reason without letting a huge or hostile value through.

    `reprlib` stops at a few levels of nesting, where `repr` would recurse into a
    body nested a thousand deep and fail.
    """
    text = _SHOWN.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def kind_of(value: object) -> str:
    """The JSON name of a value's type, for reasons."""
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def get(obj: object, path: str) -> object:
    """The value at a dotted path, or None when a step is absent, null or not an object."""
    value = obj
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def required(obj: object, path: str) -> object:
    """The value at a dotted path; a missing or null one makes the item invalid."""
    value = get(obj, path)
    if value is None:
        raise InvalidItem(f"missing {path}")
    return value


def as_id(value: object, label: str) -> str:
    """An id as a decimal string, whether the platform sent a JSON number or a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise InvalidItem(f"{label} must be a non-empty string or an integer, got {kind_of(value)}")


def identifier(obj: object, path: str) -> str:
    """The id at a dotted path, which the item must have."""
    return as_id(required(obj, path), path)


def optional_id(obj: object, path: str) -> str | None:
    """The id at a dotted path, or None when it is absent or null."""
    value = get(obj, path)
    return None if value is None else as_id(value, path)


def instant(value: object, label: str) -> int:
    """A platform's time as epoch microseconds, exact.

    A JSON number or a string of decimal digits is epoch milliseconds from
    `MILLIS_FROM` up and seconds below it, a fraction rounded to the nearest
    microsecond (half to even); any other string must be RFC 3339 with an offset.
    """
    if isinstance(value, bool):
        raise InvalidItem(f"{label} must be a time, got boolean")
    if isinstance(value, int):
        micros = _epoch(Decimal(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidItem(f"{label} must be a finite number")
        # repr is the shortest text that reads back as this float: the number the
        # platform wrote, so 1627063369.123456 is not taken for ...123455.99.
        micros = _epoch(Decimal(repr(value)))
    elif isinstance(value, str):
        micros = _epoch(Decimal(value)) if _DIGITS.fullmatch(value) else _text_instant(value, label)
    else:
        raise InvalidItem(f"{label} must be a time, got {kind_of(value)}")
    if not _MIN_US <= micros <= _MAX_US:
        raise InvalidItem(f"{label} {shown(value)} is out of range")
    return micros


def _epoch(number: Decimal) -> int:
    scale = 1000 if number >= MILLIS_FROM else MICROS
    return int((number * scale).to_integral_value(ROUND_HALF_EVEN))


def _text_instant(value: str, label: str) -> int:
    """An RFC 3339 time; a fraction finer than a microsecond is rounded, not cut."""
    try:
        micros = parse_time(value, label)
    except InvalidEvent as exc:
        raise InvalidItem(exc.reason) from None
    match = _FRACTION.search(value)
    if match is not None and len(match[1]) > 6:
        digits = match[1][:40]
        exact = Decimal("0." + digits) * MICROS
        micros += int(exact.to_integral_value(ROUND_HALF_EVEN)) - int(digits[:6])
    return micros
