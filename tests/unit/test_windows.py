"""Rolling windows (SPEC §3): incremental buckets against the brute-force oracle."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.events import MICROS
from socialsla.windows import SeriesWindows
from tests.oracle import naive_stats

H = 3600 * MICROS
R = 24 * H
T0 = 1_767_225_600 * MICROS  # 2026-01-01T00:00Z: aligned with every bucket width below

# Times on a coarse grid hit bucket and window edges often; a fine jitter keeps it honest.
instants = st.integers(min_value=-9 * 24, max_value=24).map(lambda h: T0 + h * H) | st.integers(
    min_value=T0 - 9 * 24 * H, max_value=T0 + 24 * H
)
records = st.tuples(instants, st.none() | st.integers(min_value=0, max_value=30 * H))


def build(items: list[tuple[int, int | None]], bucket_us: int) -> SeriesWindows:
    windows = SeriesWindows(R, bucket_us)
    for key, (opened, delay) in enumerate(items):
        windows.set(str(key), opened, None if delay is None else opened + delay)
    return windows


def as_records(items: list[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    return [(o, None if d is None else o + d) for o, d in items]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(records, max_size=40),
    st.lists(instants, min_size=1, max_size=5),
    st.sampled_from([60 * MICROS, 900 * MICROS, 7 * 3600 * MICROS]),
)
def test_incremental_equals_naive(
    items: list[tuple[int, int | None]], times: list[int], bucket_us: int
) -> None:
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
    items: list[tuple[int, int | None]],
    edits: list[tuple[int, tuple[int, int | None]]],
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
        opened, delay = record
        windows.set(str(key), opened, None if delay is None else opened + delay)
        at = sorted(times)[position % len(times)]
        assert windows.evaluate(at) == naive_stats(as_records(list(current.values())), at, R)


def test_setting_the_same_record_twice_changes_nothing() -> None:
    """Re-applying an outcome is idempotent."""
    windows = SeriesWindows(R)
    assert windows.set("a", T0, T0 + H)
    assert not windows.set("a", T0, T0 + H)
    assert len(windows) == 1


def test_moving_a_conversation_leaves_one_record() -> None:
    """A late earlier post moves the record; it is not counted twice."""
    windows = SeriesWindows(R)
    windows.set("a", T0, None)
    windows.set("a", T0 - 2 * H, None)
    stats = windows.evaluate(T0)
    assert stats.windows["24h"].inbound == 1
    assert stats.windows["1h"].inbound == 0


def test_open_at_exactly_seven_days_ago_is_outside() -> None:
    """A conversation opened exactly at T - 7d is outside the 7d window, a microsecond later is in."""
    windows = SeriesWindows(R)
    windows.set("edge", T0 - 7 * 24 * H, None)
    windows.set("inside", T0 - 7 * 24 * H + 1, None)
    assert windows.evaluate(T0).windows["7d"].inbound == 1


def test_time_alone_turns_pending_into_missed() -> None:
    """With no new records, passing the deadline moves a conversation from pending to missed."""
    windows = SeriesWindows(R)
    windows.set("a", T0, None)
    before = windows.evaluate(T0 + R - 1).windows["7d"]
    after = windows.evaluate(T0 + R).windows["7d"]
    assert (before.pending, before.missed) == (1, 0)
    assert (after.pending, after.missed) == (0, 1)
    assert windows.evaluate(T0 + R).oldest_unanswered_us == R


def test_expire_drops_only_what_no_window_can_see() -> None:
    """Expiry removes conversations older than the cut-off and keeps the rest."""
    windows = SeriesWindows(R, 900 * MICROS)
    windows.set("old", T0 - 8 * 24 * H, None)
    windows.set("new", T0 - H, None)
    assert windows.expire(T0 - 7 * 24 * H) == [("old", T0 - 8 * 24 * H, None)]
    assert [key for key, _, _ in windows.records()] == ["new"]


def test_lifetime_window_counts_everything_kept() -> None:
    """The lifetime window sees conversations older than 7 days too."""
    windows = SeriesWindows(R)
    windows.set("old", T0 - 8 * 24 * H, T0 - 8 * 24 * H + 60 * MICROS)
    windows.set("new", T0 - H, None)
    stats = windows.evaluate(T0, lifetime=True)
    assert (stats.windows["all"].responded, stats.windows["all"].inbound) == (1, 2)
    assert "all" not in windows.evaluate(T0).windows


def test_quantiles_are_capped_at_the_slowest_reply() -> None:
    """One 92.8-minute reply interpolates to p90 114m in its bucket; SPEC §3 caps it at the max."""
    windows = SeriesWindows(R)
    windows.set("c", T0, T0 + 5_568 * MICROS)
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
        windows.set(str(key), T0, T0 + delay)
    week = windows.evaluate(T0 + 31 * H).windows["7d"]
    p50, p90, top = week.quantile_seconds(0.5), week.quantile_seconds(0.9), week.max_seconds
    assert p50 is not None
    assert p90 is not None
    assert top is not None
    assert p50 <= p90 <= top
