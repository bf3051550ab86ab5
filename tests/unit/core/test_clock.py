"""Clocks: the system clock and the file clock tests use to make time pass."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from socialsla.core.clock import FileClock, SystemClock, parse_clock
from socialsla.core.events import parse_time


def test_file_clock_follows_the_file(tmp_path: Path) -> None:
    """The file clock reads RFC 3339 or epoch seconds and never goes back."""
    path = tmp_path / "clock"
    clock = FileClock(path)
    clock.REREAD_S = 0.0  # read the file on every call in this test
    path.write_text("2026-01-08T00:00:00Z\n")
    assert clock.now_us() == parse_time("2026-01-08T00:00:00Z")
    path.write_text("1767916800")
    assert clock.now_us() == parse_time("2026-01-09T00:00:00Z")
    path.write_text("2026-01-01T00:00:00Z")
    assert clock.now_us() == parse_time("2026-01-09T00:00:00Z")
    path.write_text("garbage")
    assert clock.now_us() == parse_time("2026-01-09T00:00:00Z")


def test_system_clock_is_wall_time() -> None:
    """The system clock is within a second of time.time()."""
    assert abs(SystemClock().now_us() / 1e6 - time.time()) < 1


def test_parse_clock() -> None:
    """Clock specs are 'system' or 'file:PATH'."""
    assert isinstance(parse_clock("system"), SystemClock)
    assert isinstance(parse_clock("file:/tmp/c"), FileClock)
    with pytest.raises(ValueError, match="system"):
        parse_clock("file:")
