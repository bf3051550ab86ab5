"""Calendars and open time: validation, DST, 24:00, holidays, and additivity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.calendars import Calendar, CalendarError, calendar_for, parse_calendar, parse_calendars
from socialsla.core.events import MICROS, parse_time

H, M = 3600 * MICROS, 60 * MICROS


def calendar(zone: str = "Europe/London", **hours: list[str]) -> Calendar:
    table: dict[str, Any] = {"name": "team", "timezone": zone, "hours": hours}
    return parse_calendar(table, 1)


def at(text: str) -> int:
    return parse_time(text)


WEEKDAYS_9_TO_6 = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param({"name": "Team", "timezone": "UTC"}, "name must match", id="bad-name"),
        pytest.param({"name": "t", "timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'", id="unknown-zone"),
        pytest.param({"name": "t", "timezone": "UTC", "hours": {"mon": ["18:00-09:00"]}}, "ends before it starts",
                     id="reversed"),
        pytest.param({"name": "t", "timezone": "UTC", "hours": {"mon": ["09:00-13:00", "12:00-18:00"]}},
                     "ranges overlap or are out of order (09:00-13:00 and 12:00-18:00)", id="overlap"),
        pytest.param({"name": "t", "timezone": "UTC", "hours": {"mon": ["13:00-18:00", "09:00-12:00"]}},
                     "out of order", id="unsorted"),
        pytest.param({"name": "t", "timezone": "UTC", "hours": {"mon": ["9-5"]}}, "is not a range like", id="syntax"),
        pytest.param({"name": "t", "timezone": "UTC", "hours": {"mon": ["09:00-24:30"]}}, "not a time of day",
                     id="past-24"),
        pytest.param({"name": "t", "timezone": "UTC", "hours": {"monday": ["09:00-17:00"]}}, "unknown day 'monday'",
                     id="bad-day"),
        pytest.param({"name": "t", "timezone": "UTC", "holidays": ["2026-02-30"]}, "holiday '2026-02-30'",
                     id="bad-date"),
        pytest.param({"name": "t", "timezone": "UTC", "holidays": ["25/12/2026"]}, "not a date", id="date-format"),
        pytest.param({"name": "t", "timezone": "UTC", "response_window": "soon"}, "response_window", id="bad-window"),
        pytest.param({"name": "t", "timezone": "UTC", "resolution_window": "0s"}, "resolution_window: '0s' must be a positive duration",
                     id="zero-resolution-window"),
        pytest.param({"name": "t", "timezone": "UTC", "resolution_window": 8}, "resolution_window must be a duration",
                     id="number-resolution-window"),
        pytest.param({"name": "t", "timezone": "UTC", "opening": 1}, "unknown key 'opening'", id="unknown-key"),
        pytest.param({"name": "t", "timezone": "UTC", "channels": ["Facebook"]}, "does not match", id="bad-channel"),
    ],
)  # fmt: skip
def test_bad_calendars_are_refused_with_the_first_mistake(table: dict[str, Any], message: str) -> None:
    """Each mistake in a calendar table is named, with the calendar it is in."""
    with pytest.raises(CalendarError) as caught:
        parse_calendar(table, 1)
    assert message in str(caught.value)


def test_calendar_names_are_unique() -> None:
    """Two calendars with one name make the file invalid."""
    with pytest.raises(CalendarError, match="calendar name 'a' is used twice"):
        parse_calendars([{"name": "a", "timezone": "UTC"}, {"name": "a", "timezone": "UTC"}])


def test_the_first_calendar_that_selects_a_series_is_its_calendar() -> None:
    """File order decides; empty selector lists mean every account or channel."""
    first, second = parse_calendars([
        {"name": "emea", "timezone": "Europe/London", "accounts": ["acme"], "channels": []},
        {"name": "rest", "timezone": "UTC"},
    ])  # fmt: skip
    assert calendar_for((first, second), "acme", "x") is first
    assert calendar_for((first, second), "globex", "x") is second
    assert calendar_for((first,), "globex", "x") is None


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        pytest.param("2026-01-05T07:00:00Z", "2026-01-05T10:00:00Z", 1, id="before-opening"),
        pytest.param("2026-01-05T17:00:00Z", "2026-01-06T10:00:00Z", 2, id="overnight"),
        pytest.param("2026-01-09T17:30:00Z", "2026-01-12T09:30:00Z", 1, id="over-the-weekend"),
        pytest.param("2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z", 45, id="a-whole-week"),
        pytest.param("2026-01-10T00:00:00Z", "2026-01-11T23:00:00Z", 0, id="closed-weekend"),
    ],
)
def test_open_time_in_a_winter_week(start: str, end: str, hours: float) -> None:
    """Weekdays 09:00-18:00 in London in January (GMT): open time as a team lead would count it."""
    team = calendar(**WEEKDAYS_9_TO_6)
    assert team.open_us(at(start), at(end)) == hours * H


def test_24_00_is_the_next_local_midnight() -> None:
    """A Saturday range to 24:00 and a Sunday range from 00:00 are one stretch of open time."""
    team = calendar("America/New_York", sat=["20:00-24:00"], sun=["00:00-02:00"])
    # Sat 2026-01-10 23:00 EST = 04:00Z Sunday; Sun 01:00 EST = 06:00Z
    assert team.open_us(at("2026-01-11T04:00:00Z"), at("2026-01-11T06:00:00Z")) == 2 * H
    assert team.is_open(at("2026-01-11T04:59:59Z"))
    assert not team.is_open(at("2026-01-11T07:00:00Z"))


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        pytest.param("Europe/London", "2026-03-29", 23, id="london-spring-forward"),
        pytest.param("Europe/London", "2026-10-25", 25, id="london-fall-back"),
        pytest.param("America/New_York", "2026-03-08", 23, id="new-york-spring-forward"),
        pytest.param("America/New_York", "2026-11-01", 25, id="new-york-fall-back"),
        pytest.param("Europe/London", "2026-06-14", 24, id="summer-day"),
    ],
)
def test_a_whole_local_day_lasts_what_the_clocks_say(zone: str, day: str, hours: int) -> None:
    """00:00-24:00 on a DST day is 23 or 25 hours of open time, converted with the zone's rules."""
    local = date.fromisoformat(day)
    team = calendar(
        zone, **{("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]: ["00:00-24:00"]}
    )
    midnight = datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(zone))
    start = int(midnight.timestamp()) * MICROS
    end = (
        int((midnight + timedelta(days=1)).replace(tzinfo=None).replace(tzinfo=ZoneInfo(zone)).timestamp())
        * MICROS
    )
    assert team.open_us(start - 12 * H, end + 12 * H) == hours * H


def test_a_range_a_dst_gap_turns_inside_out_is_empty() -> None:
    """London skips 01:00-02:00 on 2026-03-29: 01:30-02:30 converts to an empty interval (fold=0)."""
    team = calendar(sun=["01:30-02:30"])
    assert team.open_us(at("2026-03-28T00:00:00Z"), at("2026-03-30T00:00:00Z")) == 0


def test_holidays_are_closed_all_day() -> None:
    """Christmas on a Friday: that Friday has no open time, the Thursday before keeps its nine hours."""
    team = parse_calendar({"name": "t", "timezone": "Europe/London", "hours": WEEKDAYS_9_TO_6,
                           "holidays": ["2026-12-25"]}, 1)  # fmt: skip
    assert team.open_us(at("2026-12-25T00:00:00Z"), at("2026-12-26T00:00:00Z")) == 0
    assert team.open_us(at("2026-12-24T00:00:00Z"), at("2026-12-25T00:00:00Z")) == 9 * H


zones = st.sampled_from(["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"])
minutes = st.integers(0, 1440)
day_ranges = st.lists(st.tuples(minutes, minutes), max_size=3).map(
    lambda pairs: [f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
                   for a, b in sorted({tuple(sorted(p)) for p in pairs if p[0] != p[1]})]
)  # fmt: skip
# Around 2026's DST changes in Europe and America, and over year ends.
instants = st.integers(at("2026-02-20T00:00:00Z") // MICROS, at("2027-01-10T00:00:00Z") // MICROS).map(
    lambda s: s * MICROS
)


def valid(ranges: list[str]) -> list[str]:
    """Drop ranges that overlap the one before (the strategy may draw some)."""
    out: list[str] = []
    last_end = -1
    for item in ranges:
        start = int(item[:2]) * 60 + int(item[3:5])
        if start >= last_end:
            out.append(item)
            last_end = int(item[6:8]) * 60 + int(item[9:11])
    return out


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    hours = {day: valid(draw(day_ranges)) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    holidays = draw(st.lists(st.dates(date(2026, 3, 1), date(2026, 12, 31)).map(str), max_size=3))
    return parse_calendar({"name": "t", "timezone": draw(zones), "hours": hours, "holidays": holidays}, 1)


@settings(max_examples=300, deadline=None)
@given(calendars(), st.lists(instants, min_size=3, max_size=3))
def test_open_time_is_additive(team: Calendar, points: list[int]) -> None:
    """open(a, b) + open(b, c) == open(a, c), across DST days, week edges and holidays."""
    a, b, c = sorted(points)
    assert team.open_us(a, b) + team.open_us(b, c) == team.open_us(a, c)
    assert 0 <= team.open_us(a, b) <= b - a


@settings(max_examples=200, deadline=None)
@given(calendars(), instants, st.integers(1, 30 * 24).map(lambda h: h * H // 7))
def test_the_deadline_is_the_first_instant_with_enough_open_time(
    team: Calendar, start: int, amount: int
) -> None:
    """open(start, deadline) reaches the amount, and a microsecond earlier it does not."""
    end = team.deadline(start, amount)
    if end is None:  # no open time for about a year: nothing would ever be missed
        assert team.open_us(start, start + 52 * 7 * 24 * H) < amount
        return
    assert team.open_us(start, end) == amount
    assert team.open_us(start, end - 1) < amount


@settings(max_examples=100, deadline=None)
@given(calendars().filter(lambda c: c.timezone in ("UTC", "Asia/Kolkata")), instants)
def test_open_time_agrees_with_reading_the_local_clock(team: Calendar, start: int) -> None:
    """In zones without DST, an instant is open exactly when its local weekday and time fall in a range."""
    zone = ZoneInfo(team.timezone)
    for step in range(0, 48 * 60, 37):
        instant = start + step * M
        local = datetime.fromtimestamp(instant / MICROS, UTC).astimezone(zone)
        minute = local.hour * 60 + local.minute
        expected = local.date() not in team.holidays and any(
            s <= minute < e for s, e in team.hours[local.weekday()]
        )
        assert team.is_open(instant) == expected
        assert team.open_us(instant, instant + MICROS) == (MICROS if expected else 0)
