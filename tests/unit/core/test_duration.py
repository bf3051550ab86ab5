"""Durations as people write them in flags, settings and rules files, and as tables print them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialsla.core.duration import clock_reading, human, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("0.5", 0.5), ("90s", 90.0), ("15m", 900.0), ("24h", 86_400.0), ("7d", 604_800.0),
     ("1.5h", 5_400.0), ("1h30m", 5_400.0), ("1d12h", 129_600.0), ("2m05s", 125.0), (" 15m ", 900.0)],
)  # fmt: skip
def test_durations_read_with_and_without_units(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "is not a duration"), ("15 minutes", "is not a duration"), ("30m1h", "is not a duration"),
     ("1.5h30m", "is not a duration"), ("0", "must be a positive duration"), ("-5", "must be a positive duration"),
     ("0s", "must be a positive duration"), ("inf", "must be a positive duration"), ("nan", "must be a positive")],
)  # fmt: skip
def test_what_is_not_a_positive_duration_is_refused_with_the_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_seconds(text)


@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_compound_durations_add_their_parts(days: int, hours: int, minutes: int, seconds: int) -> None:
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{value}{unit}" for value, unit in parts if value)
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total:
        assert parse_seconds(text) == total


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0, "0s"), (119, "119s"), (120, "2.0m"), (750, "12.5m"), (7_199, "120.0m"), (7_200, "2.0h"),
     (11_520, "3.2h")],
)  # fmt: skip
def test_tables_show_a_duration_in_its_unit(seconds: float | None, shown: str) -> None:
    assert human(seconds) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0s"), (42.9, "42s"), (185, "3m05s"), (3_720, "1h02m"), (90_000, "25h00m")]
)
def test_a_clock_reading_is_what_a_person_reads_on_a_clock(seconds: float, shown: str) -> None:
    assert clock_reading(seconds) == shown
