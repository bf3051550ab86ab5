"""Flag values: each bad one becomes argparse's one-line usage error that says what the flag takes."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import pytest

from socialsla.cli import options
from socialsla.core.events import MICROS, parse_time


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [(options.duration_us, "15m", 900 * MICROS), (options.positive_whole, "3", 3),
     (options.time_us, "2026-01-08T00:00:00Z", parse_time("2026-01-08T00:00:00Z")),
     (options.time_us, "1767830400", 1_767_830_400 * MICROS), (options.positive, "0.5", 0.5),
     (options.rate_or_unlimited, "0", 0.0), (options.share, "1", 1.0), (options.duration_or_none, "0", 0.0),
     (options.duration_or_none, "2h", 7_200.0), (options.duration_seconds, "90s", 90.0)],
)  # fmt: skip
def test_good_values_read_as_the_command_needs_them(
    kind: Callable[[str], object], text: str, value: object
) -> None:
    assert kind(text) == value


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [(options.duration_us, "soon", "is not a duration"), (options.positive_whole, "2.5", "expected a whole number"),
     (options.positive_whole, "0", "must be at least 1, got 0"),
     (options.time_us, "2026-01-08", "is a date without a time: write 2026-01-08T00:00:00Z"),
     (options.time_us, "yesterday", "--at 'yesterday' is not an RFC 3339 timestamp"), (options.positive, "0", "must be more than 0"),
     (options.positive, "many", "'many' is not a number"), (options.share, "1.5", "must be at least 0 and at most 1"),
     (options.share, "nan", "must be at least 0"), (options.rate_or_unlimited, "-1", "must be at least 0"),
     (options.duration_or_none, "-5m", "or 0"), (options.duration_seconds, "0", "must be a positive duration")],
)  # fmt: skip
def test_bad_values_are_usage_errors_that_say_why(
    kind: Callable[[str], object], text: str, message: str
) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        kind(text)


def test_a_bounded_number_names_both_of_its_bounds() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"^7 must be more than 0 and at most 5$"):
        options.bounded_number("7", 0, 5, low_included=False)
    assert options.bounded_number("inf", 0) == math.inf
