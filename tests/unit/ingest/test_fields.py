"""Reading platforms' fields: ids as decimal strings, times exact to the microsecond."""

from __future__ import annotations

import pytest

from socialsla.ingest.delivery import InvalidItem
from socialsla.ingest.fields import as_id, get, identifier, instant, kind_of, optional_id, required, shown
from tests.unit.ingest.helpers import DEEP, at


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1767268800, "2026-01-01T12:00:00Z", id="seconds"),
        pytest.param(1767268800478, "2026-01-01T12:00:00.478Z", id="milliseconds"),
        pytest.param("1516403560557", "2018-01-19T23:12:40.557Z", id="milliseconds-string"),
        pytest.param("1767268800", "2026-01-01T12:00:00Z", id="seconds-string"),
        pytest.param(99_999_999_999, "5138-11-16T09:46:39Z", id="last-seconds"),
        pytest.param(100_000_000_000, "1973-03-03T09:46:40Z", id="first-milliseconds"),
        pytest.param(1627063369.123456, "2021-07-23T18:02:49.123456Z", id="float-seconds-exact"),
        pytest.param(1767606391.2083745, "2026-01-05T09:46:31.208374Z", id="float-half-to-even-down"),
        pytest.param(1767606391.2083755, "2026-01-05T09:46:31.208376Z", id="float-half-to-even-up"),
        pytest.param(1767268800478.5, "2026-01-01T12:00:00.4785Z", id="fractional-milliseconds"),
        pytest.param(0, "1970-01-01T00:00:00Z", id="epoch"),
        pytest.param(-86400, "1969-12-31T00:00:00Z", id="before-epoch"),
        pytest.param("2021-07-23T18:02:48.000Z", "2021-07-23T18:02:48Z", id="iso-milliseconds"),
        pytest.param("2021-07-23T20:02:48+02:00", "2021-07-23T18:02:48Z", id="iso-offset"),
        pytest.param("2021-07-23T18:02:48.1234565Z", "2021-07-23T18:02:48.123456Z", id="iso-tie-to-even"),
        pytest.param("2021-07-23T18:02:48.1234575Z", "2021-07-23T18:02:48.123458Z", id="iso-tie-up-to-even"),
        pytest.param("2021-07-23T18:02:48.12345651Z", "2021-07-23T18:02:48.123457Z", id="iso-above-tie"),
        pytest.param(
            "2021-07-23T18:02:59.9999999Z", "2021-07-23T18:03:00Z", id="iso-rounds-into-next-minute"
        ),
    ],
)
def test_instant_reads_every_documented_form_exactly(value: object, expected: str) -> None:
    """Numbers and digit strings from 10^11 up are milliseconds, below seconds; fractions round to the microsecond."""
    assert instant(value, "t") == at(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(True, "t must be a time, got boolean", id="boolean"),
        pytest.param(None, "t must be a time, got null", id="null"),
        pytest.param([1], "t must be a time, got array", id="array"),
        pytest.param(float("inf"), "t must be a finite number", id="infinite"),
        pytest.param("yesterday", "t 'yesterday' is not an RFC 3339 timestamp", id="word"),
        pytest.param("2021-07-23T18:02:48", "t has no UTC offset", id="naive"),
        pytest.param("1627063369.5", "t '1627063369.5' is not an RFC 3339 timestamp", id="decimal-string"),
        pytest.param("-5", "t '-5' is not an RFC 3339 timestamp", id="negative-string"),
        pytest.param(10**30, "t 1000000000000000000000000000000 is out of range", id="huge"),
        pytest.param(1e300, "t 1e+300 is out of range", id="huge-float"),
        pytest.param(-(10**12), "t -1000000000000 is out of range", id="too-early"),
        pytest.param("99999999999999999999", "t '99999999999999999999' is out of range", id="huge-digits"),
    ],
)
def test_instant_refuses_what_is_no_time(value: object, reason: str) -> None:
    """Anything else is invalid, and the reason names the field."""
    with pytest.raises(InvalidItem) as caught:
        instant(value, "t")
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("4218946531502934", "4218946531502934", id="string"),
        pytest.param(1517776481860111, "1517776481860111", id="number"),
        pytest.param(2**64 - 1, "18446744073709551615", id="unsigned-64"),
        pytest.param("m_1fTq8oLumEyIp3Q2MR", "m_1fTq8oLumEyIp3Q2MR", id="not-digits"),
        pytest.param(0, "0", id="zero"),
    ],
)
def test_ids_become_decimal_strings(value: object, expected: str) -> None:
    """An id sent as a JSON number is written in decimal; a string is kept as sent."""
    assert as_id(value, "id") == expected


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        pytest.param("", "string", id="empty"),
        pytest.param(True, "boolean", id="boolean"),
        pytest.param(1.5, "number", id="float"),
        pytest.param({"id": 1}, "object", id="object"),
    ],
)
def test_other_ids_are_invalid(value: object, kind: str) -> None:
    """Empty strings, booleans, fractions and containers are no ids."""
    with pytest.raises(InvalidItem) as caught:
        as_id(value, "sender.id")
    assert caught.value.reason == f"sender.id must be a non-empty string or an integer, got {kind}"


def test_paths_read_nested_objects_and_treat_null_as_absent() -> None:
    """get follows a dotted path; a missing step, a null or a non-object gives None."""
    item = {"a": {"b": {"c": 7}, "n": None, "s": "text"}}
    assert get(item, "a.b.c") == 7
    assert [get(item, p) for p in ("a.x", "a.n", "a.s.t", "z")] == [None, None, None, None]
    assert (identifier(item, "a.b.c"), optional_id(item, "a.n")) == ("7", None)
    with pytest.raises(InvalidItem, match=r"^missing a\.n$"):
        required(item, "a.n")


def test_reasons_show_bounded_values_and_json_type_names() -> None:
    """Values echoed in reasons are cut short; type names are JSON's."""
    assert len(shown("x" * 100)) == 40
    assert shown("x" * 100).endswith("...")
    assert shown(DEEP) == "[[[[[[[...]]]]]]]"
    values: tuple[object, ...] = (None, True, 1, 1.0, "", [], {})
    assert [kind_of(v) for v in values] == [
        "null",
        "boolean",
        "number",
        "number",
        "string",
        "array",
        "object",
    ]
