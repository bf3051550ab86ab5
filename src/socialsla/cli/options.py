"""Argument types shared by the commands: durations, times, whole numbers and bounded numbers.

Each turns a bad value into argparse's one-line usage error, which names the
flag and what it takes.
"""

from __future__ import annotations

import argparse
import math
import re

from socialsla.core.duration import parse_seconds
from socialsla.core.events import MICROS, InvalidEvent, parse_time
from socialsla.stream.settings import parse_silence


def duration_us(text: str) -> int:
    try:
        return round(parse_seconds(text) * MICROS)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def silence_us(text: str) -> int | None:
    try:
        return parse_silence(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def time_us(text: str) -> int:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise argparse.ArgumentTypeError(
            f"{text} is a date without a time: write {text.strip()}T00:00:00Z for its start, "
            f"or {text.strip()}T23:59:59Z for its end (any RFC 3339 time with an offset, or epoch seconds)"
        )
    try:
        return parse_time(float(text) if text.replace(".", "", 1).isdigit() else text, "--at")
    except InvalidEvent as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def bounded_number(text: str, low: float, high: float = math.inf, low_included: bool = True) -> float:
    """A float flag within bounds, or argparse's clean usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    above = value >= low if low_included else value > low
    if not (above and value <= high) or math.isnan(value):
        bound = f"at least {low:g}" if low_included else f"more than {low:g}"
        if high != math.inf:
            bound += f" and at most {high:g}"
        raise argparse.ArgumentTypeError(f"{text} must be {bound}")
    return value


def positive(text: str) -> float:
    return bounded_number(text, 0.0, low_included=False)


def rate_or_unlimited(text: str) -> float:
    return bounded_number(text, 0.0)


def share(text: str) -> float:
    return bounded_number(text, 0.0, 1.0)


def duration_or_none(text: str) -> float:
    """A duration flag where 0 means none (no backfill, no end)."""
    if text.strip() in ("0", "0s"):
        return 0.0
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or 0") from None


def duration_seconds(text: str) -> float:
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
