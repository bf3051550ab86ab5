"""The clock a series' durations are measured on: the wall clock, or a calendar's open time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from socialsla.core.calendars import Calendar


@dataclass(frozen=True, slots=True)
class View:
    """How a series' durations are measured: wall-clock time, or a calendar's open time.

    Which waits are in a window is decided by wall-clock time in both views;
    only latencies, waiting ages and "missed" are measured in the view.
    """

    #: R: how long a wait may take before it is missed (the calendar's response window, in open time).
    window: int
    calendar: Calendar | None = None

    @property
    def business(self) -> bool:
        """Whether durations are open time."""
        return self.calendar is not None

    @property
    def span(self) -> Callable[[int, int], int] | None:
        """`span(a, b)` for `thread.decide`: None on the wall clock."""
        return None if self.calendar is None else self.calendar.open_us

    def age(self, start: int, at: int) -> int:
        """How long a wait started at `start` has lasted at `at`."""
        return at - start if self.calendar is None else self.calendar.open_us(start, at)

    def deadline(self, start: int) -> int | None:
        """When a wait started at `start` turns missed unanswered; None: never (a calendar never open)."""
        return start + self.window if self.calendar is None else self.calendar.deadline(start, self.window)
