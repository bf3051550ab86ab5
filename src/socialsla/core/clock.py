"""Where "now" comes from: the system clock, or a file that a test or a replay moves.

The worker judges late, future and missed conversations against this clock, so a
test can make a day pass in a second without sleeping and without a back door
into the worker: it rewrites the file.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from socialsla.core.events import InvalidEvent, parse_time


class Clock(Protocol):
    """Now, in epoch microseconds."""

    def now_us(self) -> int: ...


class SystemClock:
    """The machine's wall clock."""

    def now_us(self) -> int:
        """Wall-clock time in microseconds."""
        return time.time_ns() // 1_000


class FileClock:
    """Time read from a file holding an RFC 3339 time or epoch seconds, read again at most every 0.1 s."""

    #: Seconds a reading is reused: the worker asks for every event, the file changes rarely.
    REREAD_S = 0.1

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = 0
        self._read_at = -1.0

    def now_us(self) -> int:
        """The file's time; if it cannot be read now, the last good value (time never goes back)."""
        if time.monotonic() - self._read_at < self.REREAD_S:
            return self._last
        self._read_at = time.monotonic()
        try:
            text = self.path.read_text().strip()
            value = parse_time(float(text) if text.replace(".", "", 1).isdigit() else text, "clock")
        except (OSError, ValueError, InvalidEvent):
            return self._last
        self._last = max(self._last, value)
        return self._last


def parse_clock(spec: str) -> Clock:
    """`system`, or `file:PATH`."""
    if spec == "system":
        return SystemClock()
    if spec.startswith("file:") and len(spec) > 5:
        return FileClock(Path(spec[5:]))
    raise ValueError(f"clock must be 'system' or 'file:PATH', got {spec!r}")
