"""Business hours (docs/semantics.md, "Business hours"): calendars from the rules file, and open time.

A calendar says when a team is open: ranges of local time per weekday, in an
IANA zone, minus holidays. `Calendar.open_us(a, b)` is the length of `[a, b)`
that lies in open time, the one duration every business-view figure is made
of (latency, waiting age, the deadline for "missed").

Open time is a union of UTC intervals. They are built per local date (`24:00`
is the next local midnight, local times converted with `fold=0`, a range that
a DST gap turns inside out is empty) and cached per UTC week with running
sums, so `open_us` costs two binary searches per week it spans: a scrape of a
thousand series with a calendar each stays close to one without.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from socialsla.core.duration import parse_seconds
from socialsla.core.events import ACCOUNT_PATTERN, CHANNEL_PATTERN, MICROS
from socialsla.core.selectors import selects

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME_RE: Final = re.compile("[a-z0-9_]{1,64}")
_RANGE_RE: Final = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_ACCOUNT_RE: Final = re.compile(ACCOUNT_PATTERN)
_CHANNEL_RE: Final = re.compile(CHANNEL_PATTERN)
_KEYS: Final = {
    "name", "timezone", "accounts", "channels", "holidays", "response_window", "resolution_window", "hours",
}  # fmt: skip
_DAY_US: Final = 86_400 * MICROS
_WEEK_US: Final = 7 * _DAY_US
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class CalendarError(ValueError):
    """A calendar table that cannot be used, with a message that names the place."""


@dataclass(slots=True)
class _Week:
    """Open intervals within one UTC week, with the open time before each."""

    starts: list[int]
    ends: list[int]
    before: list[int]  # open time in this week before interval i
    total: int


@dataclass(frozen=True, slots=True, eq=False)
class Calendar:
    """One `[[calendar]]` table of the rules file."""

    name: str
    timezone: str
    #: Per weekday (Monday first): sorted, disjoint (start, end) minutes of the local day; 1440 is 24:00.
    hours: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date] = frozenset()
    accounts: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    #: R in open time for this calendar; None means the worker's R.
    response_window_us: int | None = None
    #: The business view's resolution window S, when the calendar sets one.
    resolution_window_us: int | None = None
    _weeks: dict[int, _Week] = field(default_factory=dict, repr=False, compare=False)

    def applies(self, account: str, channel: str) -> bool:
        """Whether this calendar's selectors take the series (an empty list was read as every one)."""
        return selects(self.accounts, self.channels, account, channel)

    def open_us(self, a: int, b: int) -> int:
        """Microseconds of `[a, b)` that lie in open time (0 when b <= a)."""
        if b <= a:
            return 0
        first, last = a // _WEEK_US, (b - 1) // _WEEK_US
        if first == last:
            return self._within(first, b) - self._within(first, a)
        total = self._week(first).total - self._within(first, a) + self._within(last, b)
        for number in range(first + 1, last):
            total += self._week(number).total
        return total

    def is_open(self, at: int) -> bool:
        """Whether `at` lies in open time."""
        week = self._week(at // _WEEK_US)
        index = bisect.bisect_right(week.starts, at) - 1
        return index >= 0 and at < week.ends[index]

    def deadline(self, start: int, amount: int) -> int | None:
        """The earliest instant t >= start with open_us(start, t) >= amount; None past about a year."""
        if amount <= 0:
            return start
        number = start // _WEEK_US
        need = amount + self._within(number, start)  # open time wanted from the week's start
        for _ in range(60):
            week = self._week(number)
            if week.total >= need:
                index = bisect.bisect_left([b + e - s for b, s, e in zip(week.before, week.starts, week.ends,
                                                                        strict=True)], need)  # fmt: skip
                return week.starts[index] + (need - week.before[index])
            need -= week.total
            number += 1
        return None

    def _within(self, number: int, at: int) -> int:
        """Open time from the start of week `number` up to `at` (which lies in that week or at its end)."""
        week = self._week(number)
        index = bisect.bisect_right(week.starts, at) - 1
        if index < 0:
            return 0
        return week.before[index] + min(at, week.ends[index]) - week.starts[index]

    def _week(self, number: int) -> _Week:
        week = self._weeks.get(number)
        if week is None:
            week = self._weeks[number] = self._build(number)
        return week

    def _build(self, number: int) -> _Week:
        begin, end = number * _WEEK_US, (number + 1) * _WEEK_US
        zone = ZoneInfo(self.timezone)
        # Local dates whose ranges can reach into this week: zones are within a day of UTC.
        first = (_EPOCH + timedelta(microseconds=begin)).date() - timedelta(days=2)
        spans: list[tuple[int, int]] = []
        for offset in range(11):
            day = first + timedelta(days=offset)
            if day in self.holidays:
                continue
            for start_minute, end_minute in self.hours[day.weekday()]:
                low = _utc_us(day, start_minute, zone)
                high = _utc_us(day, end_minute, zone)
                low, high = max(low, begin), min(high, end)
                if high > low:  # a DST gap can turn a range inside out: it is empty
                    spans.append((low, high))
        spans.sort()
        starts: list[int] = []
        ends: list[int] = []
        for low, high in spans:  # a union: converted ranges may touch or, around DST, overlap
            if ends and low <= ends[-1]:
                ends[-1] = max(ends[-1], high)
            else:
                starts.append(low)
                ends.append(high)
        before, running = [], 0
        for low, high in zip(starts, ends, strict=True):
            before.append(running)
            running += high - low
        return _Week(starts, ends, before, running)


def _utc_us(day: date, minute: int, zone: ZoneInfo) -> int:
    """Epoch microseconds of a local date and minute of the day (1440 is the next local midnight), fold=0."""
    if minute == 1_440:
        day, minute = day + timedelta(days=1), 0
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone, fold=0)
    return (local - _EPOCH) // timedelta(microseconds=1)


def _ranges(value: object, where: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list):
        raise CalendarError(f'{where}: must be a list of "HH:MM-HH:MM" ranges')
    out = []
    for item in value:
        match = _RANGE_RE.fullmatch(item) if isinstance(item, str) else None
        if match is None:
            raise CalendarError(f'{where}: {item!r} is not a range like "08:00-12:30"')
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise CalendarError(f"{where}: {item!r} is not a time of day (00:00 to 24:00)")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise CalendarError(f"{where}: {item!r} ends before it starts")
        out.append((start, end))
    for (s1, e1), (s2, e2) in itertools.pairwise(out):
        if s2 < e1:
            raise CalendarError(
                f"{where}: ranges overlap or are out of order ({_hhmm(s1, e1)} and {_hhmm(s2, e2)})"
            )
    return tuple(out)


def _hhmm(start: int, end: int) -> str:
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _names(value: object, where: str, key: str, pattern: re.Pattern[str]) -> frozenset[str] | None:
    if not isinstance(value, list):
        raise CalendarError(f"{where}: {key} must be a list of strings")
    for item in value:
        if not isinstance(item, str) or pattern.fullmatch(item) is None:
            raise CalendarError(f"{where}: {key} entry {item!r} does not match {pattern.pattern}")
    return frozenset(value) or None  # an empty list means every one


def parse_calendar(table: Mapping[str, Any], position: int) -> Calendar:
    """One `[[calendar]]` table, validated; the first mistake is raised as a `CalendarError`."""
    where = f"calendar {position}"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise CalendarError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    name = table.get("name")
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        raise CalendarError(f"{where}: name must match [a-z0-9_]{{1,64}}, got {name!r}")
    where = f"calendar {name!r}"
    zone = table.get("timezone")
    if not isinstance(zone, str):
        raise CalendarError(f"{where}: timezone must be an IANA zone name such as Europe/London")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(
            f"{where}: unknown timezone {zone!r} (an IANA name such as Europe/London)"
        ) from None
    hours = table.get("hours", {})
    if not isinstance(hours, dict):
        raise CalendarError(f"{where}: hours must be a table of weekdays ({', '.join(WEEKDAYS)})")
    extra = sorted(set(hours) - set(WEEKDAYS))
    if extra:
        raise CalendarError(f"{where}: hours has unknown day {extra[0]!r} (days: {', '.join(WEEKDAYS)})")
    week = tuple(_ranges(hours.get(day, []), f"{where}: hours.{day}") for day in WEEKDAYS)
    holidays = table.get("holidays", [])
    if not isinstance(holidays, list):
        raise CalendarError(f'{where}: holidays must be a list of dates like "2026-12-25"')
    days = set()
    for item in holidays:
        try:
            # TOML's own dates are accepted too; strings must be exactly YYYY-MM-DD.
            days.add(
                item
                if isinstance(item, date) and not isinstance(item, datetime)
                else date.fromisoformat(item)
            )
        except (TypeError, ValueError):
            raise CalendarError(f"{where}: holiday {item!r} is not a date like 2026-12-25") from None
    window = _window(table, "response_window", where)
    resolution_window = _window(table, "resolution_window", where)
    return Calendar(
        name=name,
        timezone=zone,
        hours=week,
        holidays=frozenset(days),
        accounts=_names(table["accounts"], where, "accounts", _ACCOUNT_RE) if "accounts" in table else None,
        channels=_names(table["channels"], where, "channels", _CHANNEL_RE) if "channels" in table else None,
        response_window_us=window,
        resolution_window_us=resolution_window,
    )


def _window(table: Mapping[str, Any], key: str, where: str) -> int | None:
    """A calendar's duration setting in microseconds (above 0: `parse_seconds`); None when absent."""
    if key not in table:
        return None
    raw = table[key]
    try:
        window = round(parse_seconds(raw) * MICROS) if isinstance(raw, str) else None
    except ValueError as exc:
        raise CalendarError(f"{where}: {key}: {exc}") from None
    if window is None:
        raise CalendarError(f'{where}: {key} must be a duration such as "8h"')
    return window


def parse_calendars(tables: object) -> tuple[Calendar, ...]:
    """Every `[[calendar]]` table of a rules file, in file order, with unique names."""
    if tables is None:
        return ()
    if not isinstance(tables, list):
        raise CalendarError("calendar must be an array of tables: write [[calendar]]")
    calendars = tuple(parse_calendar(table, position) for position, table in enumerate(tables, 1))
    names = [calendar.name for calendar in calendars]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise CalendarError(f"calendar name {twice[0]!r} is used twice")
    return calendars


def calendar_for(calendars: Sequence[Calendar], account: str, channel: str) -> Calendar | None:
    """The first calendar, in file order, whose selectors take the series."""
    return next((calendar for calendar in calendars if calendar.applies(account, channel)), None)
