"""Shared by the gateway's tests: the sample deliveries, a clock, and JSON strategies."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from socialsla.core.events import Event, decode, encode, parse_time
from socialsla.ingest.delivery import Delivery

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "webhooks"
#: The gateway's clock in these tests: after every sample.
NOW = parse_time("2026-06-01T12:00:00Z")
#: A value nested as deep as orjson parses (1,024 levels): deeper than Python's
#: recursion limit lets repr() or json.dumps() go.
DEEP = orjson.loads(b"[" * 1000 + b"]" * 1000)
#: One value of each JSON type, and the awkward ones: put in every place of every sample.
ODD_VALUES: tuple[Any, ...] = (DEEP, None, True, -1, 2**64 - 1, 1e300, "", "x" * 300, [], {})


def sample(name: str) -> Any:
    """A parsed sample delivery (a fresh copy: tests may change it)."""
    return copy.deepcopy(orjson.loads((SAMPLES / name).read_bytes()))


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value: the keys and indexes that lead to each object, array and scalar."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def replaced(name: str, path: tuple[Any, ...], value: Any) -> Any:
    """A sample with the value at `path` replaced (the value itself, not a copy)."""
    if not path:
        return value
    body = sample(name)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return body


def at(text: str) -> int:
    """An RFC 3339 time as epoch microseconds."""
    return parse_time(text)


def assert_sound(delivery: Delivery) -> None:
    """Every event is one the workers accept, and survives being written and read back."""
    for event in delivery.events:
        assert isinstance(event, Event)
        assert decode(encode(event), NOW) == event
    for raw, reason in delivery.invalid:
        assert isinstance(raw, bytes)
        assert isinstance(reason, str)
        assert reason
    assert delivery.ignored >= 0


#: JSON scalars as orjson parses them: 64-bit integers, finite floats, valid Unicode.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
)
#: Any JSON value.
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a value of `strategy`, sometimes any JSON at all in its place."""
    # Hypothesis favours small integers: the small ones pick the near-valid value.
    return st.integers(0, 9).flatmap(lambda n: strategy if n < 9 else json_values)


#: Ids in the forms platforms send them (decimal strings, JSON numbers), sometimes not.
ids = maybe(
    st.sampled_from(["103149398319188", "17841405309211844", "4218946531502934", "2244994945", "7"])
    | st.integers(min_value=0, max_value=2**63 - 1)
    | st.integers(min_value=0, max_value=2**63 - 1).map(str)
)
#: Times in every documented form, mostly before the tests' clock: seconds and
#: milliseconds as numbers and strings of digits, floats, RFC 3339 strings.
times = maybe(
    st.integers(min_value=1_500_000_000, max_value=1_780_000_000)
    | st.integers(min_value=1_500_000_000_000, max_value=1_780_000_000_000)
    | st.integers(min_value=1_500_000_000_000, max_value=1_780_000_000_000).map(str)
    | st.floats(min_value=1.5e9, max_value=1.78e9)
    | st.sampled_from(["2021-07-23T18:02:48.000Z", "2026-01-05T09:41:07.5123456+02:00", "yesterday"])
)
