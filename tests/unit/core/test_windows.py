"""Rolling windows: incremental buckets against the brute-force oracle."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.accumulators import pack_resolution
from socialsla.core.agents import agents
from socialsla.core.calendars import Calendar, parse_calendar
from socialsla.core.events import MICROS, parse_time
from socialsla.core.resolution import Resolution
from socialsla.core.stats import WINDOWS
from socialsla.core.thread import Wait
from socialsla.core.view import View
from socialsla.core.windows import SeriesWindows
from tests.oracle import naive_fastest_average, naive_resolution_windows, naive_stats

H = 3600 * MICROS
R = 24 * H
T0 = 1_767_225_600 * MICROS  # 2026-01-01T00:00Z: aligned with every bucket width below

# Times on a coarse grid hit bucket and window edges often; a fine jitter keeps it honest.
instants = st.integers(min_value=-9 * 24, max_value=24).map(lambda h: T0 + h * H) | st.integers(
    min_value=T0 - 9 * 24 * H, max_value=T0 + 24 * H
)
records = st.tuples(instants, st.none() | st.integers(min_value=0, max_value=30 * H), st.booleans())
Record = tuple[int, int | None, bool]


def one(opened: int, first: int | None, conversation: bool = True) -> tuple[Wait, ...]:
    """A thread of one wait."""
    return (Wait(opened, first, conversation),)


def build(items: list[Record], bucket_us: int) -> SeriesWindows:
    windows = SeriesWindows(R, bucket_us)
    for key, (opened, delay, conversation) in enumerate(items):
        windows.set(str(key), one(opened, None if delay is None else opened + delay, conversation))
    return windows


def as_records(items: list[Record]) -> list[Wait]:
    return [Wait(o, None if d is None else o + d, c) for o, d, c in items]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(records, max_size=40),
    st.lists(instants, min_size=1, max_size=5),
    st.sampled_from([60 * MICROS, 900 * MICROS, 7 * 3600 * MICROS]),
)
def test_incremental_equals_naive(items: list[Record], times: list[int], bucket_us: int) -> None:
    """Bucketed windows give exactly the oracle's numbers at any T, asked in any order."""
    windows = build(items, bucket_us)
    for at in times:
        assert windows.evaluate(at) == naive_stats(as_records(items), at, R)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(records, min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 29), records), max_size=30),
    st.lists(instants, min_size=1, max_size=3),
)
def test_edits_between_reads_keep_exact(
    items: list[Record],
    edits: list[tuple[int, Record]],
    times: list[int],
) -> None:
    """Moving conversations between reads (cached aggregates) never leaves stale numbers."""
    windows = build(items, 900 * MICROS)
    current = dict(enumerate(items))
    for at in sorted(times):
        windows.evaluate(at)
    for position, (index, record) in enumerate(edits):
        key = index % len(items)
        current[key] = record
        opened, delay, conversation = record
        windows.set(str(key), one(opened, None if delay is None else opened + delay, conversation))
        at = sorted(times)[position % len(times)]
        assert windows.evaluate(at) == naive_stats(as_records(list(current.values())), at, R)


def test_setting_the_same_record_twice_changes_nothing() -> None:
    """Re-applying an outcome is idempotent."""
    windows = SeriesWindows(R)
    assert windows.set("a", one(T0, T0 + H))
    assert not windows.set("a", one(T0, T0 + H))
    assert len(windows) == 1


def test_moving_a_conversation_leaves_one_record() -> None:
    """A late earlier post moves the record; it is not counted twice."""
    windows = SeriesWindows(R)
    windows.set("a", one(T0, None))
    windows.set("a", one(T0 - 2 * H, None))
    stats = windows.evaluate(T0)
    assert stats.windows["24h"].inbound == 1
    assert stats.windows["1h"].inbound == 0


def test_open_at_exactly_seven_days_ago_is_outside() -> None:
    """A conversation opened exactly at T - 7d is outside the 7d window, a microsecond later is in."""
    windows = SeriesWindows(R)
    windows.set("edge", one(T0 - 7 * 24 * H, None))
    windows.set("inside", one(T0 - 7 * 24 * H + 1, None))
    assert windows.evaluate(T0).windows["7d"].inbound == 1


def test_time_alone_turns_pending_into_missed() -> None:
    """With no new records, passing the deadline moves a conversation from pending to missed."""
    windows = SeriesWindows(R)
    windows.set("a", one(T0, None))
    before = windows.evaluate(T0 + R - 1).windows["7d"]
    after = windows.evaluate(T0 + R).windows["7d"]
    assert (before.pending, before.missed) == (1, 0)
    assert (after.pending, after.missed) == (0, 1)
    assert windows.evaluate(T0 + R).oldest_unanswered_us == R


def test_expire_drops_only_what_no_window_can_see() -> None:
    """Expiry removes conversations older than the cut-off and keeps the rest."""
    windows = SeriesWindows(R, 900 * MICROS)
    windows.set("old", one(T0 - 8 * 24 * H, None))
    windows.set("new", one(T0 - H, None))
    assert windows.expire(T0 - 7 * 24 * H) == [("old", Wait(T0 - 8 * 24 * H, None, True))]
    assert [key for key, _ in windows.threads()] == ["new"]


def test_lifetime_window_counts_everything_kept() -> None:
    """The lifetime window sees conversations older than 7 days too."""
    windows = SeriesWindows(R)
    windows.set("old", one(T0 - 8 * 24 * H, T0 - 8 * 24 * H + 60 * MICROS))
    windows.set("new", one(T0 - H, None))
    stats = windows.evaluate(T0, lifetime=True)
    assert (stats.windows["all"].responded, stats.windows["all"].inbound) == (1, 2)
    assert "all" not in windows.evaluate(T0).windows


def test_quantiles_are_capped_at_the_slowest_reply() -> None:
    """One 92.8-minute reply interpolates to p90 114m in its bucket, capped at the max."""
    windows = SeriesWindows(R)
    windows.set("c", one(T0, T0 + 5_568 * MICROS))
    week = windows.evaluate(T0 + 2 * H).windows["7d"]
    assert week.max_seconds == 5_568.0
    assert week.quantile_seconds(0.9) == 5_568.0
    assert week.quantile_seconds(0.5) == 5_400.0  # 3600 + 3600 * 0.5: under the max, kept


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30 * H), min_size=1, max_size=30))
def test_quantiles_never_exceed_the_max(delays: list[int]) -> None:
    """Whatever the latencies, p50 <= p90 <= max."""
    windows = SeriesWindows(R)
    for key, delay in enumerate(delays):
        windows.set(str(key), one(T0, T0 + delay))
    week = windows.evaluate(T0 + 31 * H).windows["7d"]
    p50, p90, top = week.quantile_seconds(0.5), week.quantile_seconds(0.9), week.max_seconds
    assert p50 is not None
    assert p90 is not None
    assert top is not None
    assert p50 <= p90 <= top


# --- threads of several waits, the fastest average and the breach forecast ------------------

threads = st.lists(st.lists(records, min_size=1, max_size=4), max_size=12)


def thread_waits(raw: list[Record]) -> tuple[Wait, ...]:
    """A thread's waits with distinct, increasing starts (each after the previous one's answer)."""
    out: list[Wait] = []
    for opened, delay, conversation in sorted(raw, key=lambda r: r[0]):
        if out and opened <= (out[-1].answer if out[-1].answer is not None else out[-1].start):
            continue
        out.append(Wait(opened, None if delay is None else opened + delay, conversation or not out))
        if delay is None:
            break
    return tuple(out)


@settings(max_examples=200, deadline=None)
@given(threads, threads, st.lists(instants, min_size=1, max_size=3))
def test_threads_replaced_whole_equal_naive(
    first: list[list[Record]], second: list[list[Record]], times: list[int]
) -> None:
    """Threads of several waits, each set twice (the second time different), give the oracle's numbers."""
    windows = SeriesWindows(R, 900 * MICROS)
    current: dict[str, tuple[Wait, ...]] = {}
    for items in (first, second):
        for key, raw in enumerate(items):
            current[str(key)] = thread_waits(raw)
            windows.set(str(key), current[str(key)])
        for at in times:
            expected = naive_stats([w for waits in current.values() for w in waits], at, R)
            assert windows.evaluate(at) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(records, max_size=40), instants, st.sampled_from(["1h", "24h", "7d"]),
       st.fractions(min_value=0, max_value=1).filter(lambda f: f > 0))  # fmt: skip
def test_fastest_average_equals_naive(items: list[Record], at: int, window: str, fraction: Fraction) -> None:
    """avg_of_fastest is the exact mean of the ceil(f * count) fastest first replies of the window."""
    windows = build(items, 900 * MICROS)
    expected = naive_fastest_average(as_records(items), at, window, fraction)
    assert windows.fastest_average_us(at, window, fraction) == expected


def test_fastest_average_drops_the_slowest_tenth() -> None:
    """Ten replies, nine of 60 s and one of 10 h: the fastest 90% average 60 s, all of them 1 h 1 m."""
    windows = SeriesWindows(R)
    for key in range(10):
        windows.set(str(key), one(T0, T0 + (10 * H if key == 0 else 60 * MICROS)))
    assert windows.fastest_average_us(T0 + 11 * H, "24h", Fraction(9, 10)) == 60 * MICROS
    assert windows.fastest_average_us(T0 + 11 * H, "24h", Fraction(1)) == (10 * H + 9 * 60 * MICROS) / 10


def rate_below(waits: list[Wait], at: int, seen_until: int, window: str, threshold: Fraction) -> bool:
    """The oracle's rate at `at`, seeing only events up to `seen_until`, is below the threshold."""
    seen = [Wait(w.start, w.answer if w.answer is not None and w.answer <= seen_until else None, w.conversation)
            for w in waits if w.start <= seen_until]  # fmt: skip
    stats = naive_stats(seen, at, R).windows[window]
    return stats.decided > 0 and stats.responded < threshold * stats.decided


@settings(max_examples=300, deadline=None)
@given(st.lists(records, max_size=30), st.lists(instants, min_size=1, max_size=3),
       st.sampled_from(["1h", "24h", "7d"]), st.sampled_from([Fraction(1, 2), Fraction(9, 10), Fraction(1)]))  # fmt: skip
def test_breach_forecast_is_the_first_instant_below(
    items: list[Record], times: list[int], window: str, threshold: Fraction
) -> None:
    """The predicted instant is below the threshold and no change point before it is, asked at times in any order."""
    windows = build(items, 900 * MICROS)
    waits = as_records(items)
    length = {"1h": H, "24h": 24 * H, "7d": 7 * 24 * H}[window]
    for at in times:  # one windows object: cached outlooks must hold at every time asked
        predicted = windows.rate_breach_at(at, window, threshold)
        points = {at} | {
            p for w in waits for p in (w.start + R, w.start + length) if at < p <= at + 7 * 24 * H
        }
        checks = sorted(points | {p - 1 for p in points if p - 1 >= at})
        for instant in checks:
            if predicted is not None and instant >= predicted:
                break
            assert not rate_below(waits, instant, at, window, threshold), instant
        if predicted is not None:
            assert at <= predicted <= at + 7 * 24 * H
            assert rate_below(waits, predicted, at, window, threshold)


def test_breach_forecast_names_the_deadline_that_tips_the_rate() -> None:
    """At 90%, nine answered and one waiting hold; a second waiting customer tips the rate at its deadline."""
    windows = SeriesWindows(R)
    windows.set("waiting", one(T0, None))
    for key in range(9):
        windows.set(f"ok{key}", one(T0 + H + key * MICROS, T0 + H + key * MICROS + 60 * MICROS))
    at = T0 + 3 * H
    # 9 / 10 at the deadline is not below; the missed one leaves before the answered ones
    assert windows.rate_breach_at(at, "7d", Fraction(9, 10)) is None
    windows.set("waiting2", one(T0 + 30 * MICROS, None))
    # 9 / (9 + 1) at the first deadline holds, 9 / (9 + 2) at the second is below
    assert windows.rate_breach_at(at, "7d", Fraction(9, 10)) == T0 + 30 * MICROS + R


def test_breach_forecast_sees_answered_customers_leave_the_window() -> None:
    """One missed behind nine answered: when the answered ones age out of the window the rate falls."""
    windows = SeriesWindows(R)
    for key in range(9):
        windows.set(f"ok{key}", one(T0 + key * MICROS, T0 + key * MICROS + 60 * MICROS))
    windows.set("missed", one(T0 + H, None))
    at = T0 + H + R
    # at T0 + 7d the first answered leaves: 8 / 9 < 90%
    assert windows.rate_breach_at(at, "7d", Fraction(9, 10)) == T0 + 7 * 24 * H


# --- the business view: every duration in a calendar's open time -----------------------------

from tests.unit.core.test_calendars import calendars  # noqa: E402 - the calendar strategy lives with its tests


@settings(max_examples=150, deadline=None)
@given(calendars(), st.lists(records, max_size=25), st.lists(instants, min_size=1, max_size=3))
def test_business_view_equals_naive_with_open_time(
    team: Calendar, items: list[Record], times: list[int]
) -> None:
    """Latency, missed and the waiting age in open time give the oracle's numbers, read at times in any order."""
    windows = SeriesWindows(R, 900 * MICROS, team)
    for key, (opened, delay, conversation) in enumerate(items):
        windows.set(str(key), one(opened, None if delay is None else opened + delay, conversation))
    for at in times:
        expected = naive_stats(as_records(items), at, R, team.open_us)
        assert windows.evaluate(at, business=True) == expected
        assert windows.evaluate(at) == naive_stats(as_records(items), at, R)  # the wall view is unchanged


def test_a_calendar_response_window_replaces_r_in_the_business_view() -> None:
    """With `response_window = "1h"`, a post answered after two open hours is missed in business time only."""
    team = parse_calendar({"name": "t", "timezone": "UTC", "response_window": "1h",
                           "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}, 1)  # fmt: skip
    windows = SeriesWindows(R, 900 * MICROS, team)
    monday_9 = parse_time("2026-01-05T09:00:00Z")
    windows.set("c", one(monday_9, monday_9 + 2 * H))
    wall, business = windows.evaluate(monday_9 + 3 * H), windows.evaluate(monday_9 + 3 * H, business=True)
    assert (wall.windows["24h"].responded, business.windows["24h"].missed) == (1, 1)


# --- agents --------------------------------------------------------------------------------


def answered(
    start_minutes_ago: int, latency_s: int, who: str | None, conversation: bool = True
) -> tuple[Wait, ...]:
    start = T0 - start_minutes_ago * 60 * MICROS
    return (Wait(start, start + latency_s * MICROS, conversation, who),)


def test_agents_are_named_by_their_7d_replies_and_the_rest_pooled() -> None:
    """Beyond the cap the quietest agents (ties by name) and one literally called `other` share the pool."""
    windows = SeriesWindows(R)
    plan = [("ana", 3), ("ben", 2), ("cy", 2), ("dee", 1), ("other", 5), (None, 1)]
    n = 0
    for who, count in plan:
        for _ in range(count):
            n += 1
            windows.set(f"c{n}", answered(30 + n, 60 * n, who))
    found = agents(windows, T0, max_agents=2)["7d"]
    assert list(found) == ["ana", "ben", "other"]  # ben beats cy on the name; other pools cy, dee, unknown
    pooled = found["other"].first
    assert pooled.latency_count == 2 + 1 + 5 + 1
    assert found["ana"].first.latency_count == 3


def test_an_agent_is_listed_in_a_window_only_when_it_answered_there() -> None:
    """An answer three hours ago lists its agent in 24h and 7d, not in 1h; follow-ups count as next replies."""
    windows = SeriesWindows(R)
    windows.set("a", answered(180, 120, "ana"))
    windows.set("b", answered(20, 60, "ben", conversation=False))
    found = agents(windows, T0, max_agents=50)
    assert list(found["1h"]) == ["ben"]
    assert sorted(found["24h"]) == ["ana", "ben"]
    assert (found["1h"]["ben"].first.latency_count, found["1h"]["ben"].next.latency_count) == (0, 1)
    assert found["24h"]["ana"].first.avg_seconds == 120.0


def _naive_agents(
    waits: list[Wait], at: int, max_agents: int
) -> dict[str, dict[str, tuple[list[int], list[int]]]]:
    """Per window, per agent (pooled as the rule says), the latencies of first and of next replies."""
    per_window: dict[str, dict[str, tuple[list[int], list[int]]]] = {}
    for name, seconds in WINDOWS.items():
        found: dict[str, tuple[list[int], list[int]]] = {}
        for w in waits:
            if at - seconds * MICROS < w.start <= at and w.answer is not None and w.answer <= at:
                who = w.agent or "unknown"
                found.setdefault(who, ([], []))[0 if w.conversation else 1].append(w.answer - w.start)
        per_window[name] = found
    week = per_window["7d"]
    named = sorted((n for n in week if n != "other"), key=lambda n: (-len(week[n][0]) - len(week[n][1]), n))
    kept = set(named[:max_agents])
    out = {}
    for name, found in per_window.items():
        pooled: dict[str, tuple[list[int], list[int]]] = {}
        for who, (first, follow) in found.items():
            into = pooled.setdefault(who if who in kept else "other", ([], []))
            into[0].extend(first)
            into[1].extend(follow)
        out[name] = {who: (sorted(f), sorted(n)) for who, (f, n) in pooled.items()}
    return out


agent_names = st.sampled_from([None, "ana", "ben", "other", "cy"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(records, agent_names), max_size=16),
    st.lists(st.tuples(records, agent_names), max_size=6),
    st.lists(instants, min_size=1, max_size=4),
    st.integers(1, 3),
)
def test_agents_equal_a_walk_of_every_answer_with_threads_replaced_between_reads(
    first: list[tuple[Record, str | None]], second: list[tuple[Record, str | None]], times: list[int],
    max_agents: int,
) -> None:  # fmt: skip
    """Per window and agent: the same replies as walking every answer, read again after threads change."""
    windows = SeriesWindows(R, 900 * MICROS)
    current: dict[str, tuple[Wait, ...]] = {}
    for batch in (first, second):
        for n, (raw, who) in enumerate(batch):
            waits = tuple(Wait(w.start, w.answer, w.conversation, who) for w in thread_waits([raw]))
            current[f"c{n}"] = waits
            windows.set(f"c{n}", waits)
        for at in sorted(times) + times:
            got = agents(windows, at, max_agents)
            expected = _naive_agents([w for waits in current.values() for w in waits], at, max_agents)
            assert set(got) == set(expected)
            for name, per_agent in got.items():
                assert {who: (a.first.latency_count, a.first.latency_sum_us, a.next.latency_count,
                              a.next.latency_sum_us, a.first.latency_max_us) for who, a in per_agent.items()} == {
                    who: (len(f), sum(f), len(n), sum(n), max(f, default=None))
                    for who, (f, n) in expected[name].items()
                }  # fmt: skip


# --- resolution: resolved conversations kept beside their waits ------------------------------

resolves = st.none() | st.tuples(st.integers(min_value=0, max_value=60 * H), st.booleans(), st.booleans())
S = 24 * H


def resolved_threads(
    raw: list[list[Record]], marks: list[tuple[int, bool, bool] | None]
) -> dict[str, tuple[tuple[Wait, ...], dict[int, int], list[tuple[int, int | None, bool, bool]]]]:
    """Per thread: its waits, its resolved conversations packed by start, and the oracle's tuples."""
    out = {}
    for key, items in enumerate(raw):
        waits = thread_waits(items)
        packed: dict[int, int] = {}
        plain: list[tuple[int, int | None, bool, bool]] = []
        for index, wait in enumerate(w for w in waits if w.conversation):
            mark = marks[(key + index) % len(marks)] if marks else None
            if mark is None:
                plain.append((wait.start, None, False, False))
                continue
            resolution = Resolution(wait.start, wait.start + mark[0], mark[1], mark[2] and not mark[1])
            packed[wait.start] = pack_resolution(resolution)
            plain.append(tuple(resolution))  # type: ignore[arg-type]
        out[str(key)] = (waits, packed, plain)
    return out


def expected_resolution(
    threads: dict[str, tuple[tuple[Wait, ...], dict[int, int], list[tuple[int, int | None, bool, bool]]]],
    at: int,
    view: View,
) -> dict[str, tuple[int, int, int, int, int, int, int | None]]:
    conversations = [c for _, _, plain in threads.values() for c in plain]
    return naive_resolution_windows(conversations, at, view.window, view.span or (lambda a, b: b - a))


def got_resolution(windows: SeriesWindows, at: int, view: View) -> dict[str, tuple[int, ...]]:
    return {
        name: (
            r.resolved,
            r.in_time,
            r.overdue,
            r.reopened,
            r.first_contact,
            r.seconds.latency_sum_us,
            r.seconds.latency_max_us,
        )
        for name, r in windows.resolution(at, view).items()
    }


@settings(max_examples=200, deadline=None)
@given(threads, threads, st.lists(resolves, max_size=6), st.lists(resolves, max_size=6),
       st.lists(instants, min_size=1, max_size=4))  # fmt: skip
def test_resolutions_per_window_equal_naive_with_threads_replaced_between_reads(
    first: list[list[Record]],
    second: list[list[Record]],
    marks: list[tuple[int, bool, bool] | None],
    other_marks: list[tuple[int, bool, bool] | None],
    times: list[int],
) -> None:
    """Summed per bucket (cached while no resolve or deadline passes), as the oracle counts each conversation."""
    windows = SeriesWindows(R, 900 * MICROS)
    view = View(S)
    current: dict[str, tuple[tuple[Wait, ...], dict[int, int], list[tuple[int, int | None, bool, bool]]]] = {}
    for raw, chosen in ((first, marks), (second, other_marks)):
        for key, thread in resolved_threads(raw, chosen).items():
            current[key] = thread
            windows.set(key, thread[0], thread[1])
        for at in sorted(times) + times:  # forward (the cache is reused), then in any order
            assert got_resolution(windows, at, view) == expected_resolution(current, at, view)
        earliest = [r for _, _, plain in current.values() for _, r, _, _ in plain if r is not None]
        assert windows.earliest_resolve() == min(earliest, default=None)


@settings(max_examples=100, deadline=None)
@given(calendars(), threads, st.lists(resolves, max_size=6), st.lists(instants, min_size=1, max_size=3))
def test_business_resolution_equals_naive_in_open_time(
    team: Calendar, raw: list[list[Record]], marks: list[tuple[int, bool, bool] | None], times: list[int]
) -> None:
    windows = SeriesWindows(R, 900 * MICROS, team)
    current = resolved_threads(raw, marks)
    for key, thread in current.items():
        windows.set(key, thread[0], thread[1])
    business, wall = View(S, team), View(S)
    for at in times:
        assert got_resolution(windows, at, business) == expected_resolution(current, at, business)
        assert got_resolution(windows, at, wall) == expected_resolution(current, at, wall)


def test_a_resolution_alone_changing_is_a_change() -> None:
    """The same waits with a new resolve replace the old one; the same again changes nothing."""
    windows = SeriesWindows(R, 900 * MICROS)
    waits = one(T0, T0 + H)
    assert windows.set("c", waits) is True
    assert windows.set("c", waits, {T0: pack_resolution(Resolution(T0, T0 + 2 * H, False, True))}) is True
    assert windows.set("c", waits, {T0: pack_resolution(Resolution(T0, T0 + 2 * H, False, True))}) is False
    assert windows.resolution(T0 + 3 * H, View(S))["1h"].resolved == 0  # opened 3 hours before
    assert windows.resolution(T0 + 3 * H, View(S))["24h"].first_contact == 1
    assert windows.set("c", waits) is True  # the resolve is gone (say, it moved to a later span)
    assert windows.resolution(T0 + 3 * H, View(S))["24h"].resolved == 0
    assert windows.earliest_resolve() is None


def test_time_alone_brings_a_resolve_into_sight_and_a_conversation_overdue() -> None:
    """A reading cached before a resolve's time or a deadline is not reused past it."""
    windows = SeriesWindows(R, 900 * MICROS)
    windows.set("a", one(T0, T0 + H), {T0: pack_resolution(Resolution(T0, T0 + 2 * H, False, True))})
    windows.set("b", one(T0 + 60 * MICROS, None))
    view = View(S)
    before = windows.resolution(T0 + H, view)["24h"]
    assert (before.resolved, before.in_time, before.overdue) == (0, 0, 0)
    after = windows.resolution(T0 + 3 * H, view)["24h"]
    assert (after.resolved, after.in_time, after.first_contact, after.overdue) == (1, 1, 1, 0)
    late = windows.resolution(T0 + S + H, view)["7d"]
    assert (late.resolved, late.in_time, late.overdue) == (1, 1, 1)  # "b" is past S unresolved
