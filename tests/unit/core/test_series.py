"""Stage 2's ledger: outcomes in, series per owned partition, expiry into totals, and replay of its log."""

from __future__ import annotations

from fractions import Fraction

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.calendars import Calendar
from socialsla.core.events import MICROS
from socialsla.core.feedback import Answer
from socialsla.core.ledger import RESEND_TOTALS_S, Ledger
from socialsla.core.resolution import Resolution
from socialsla.core.rules import Rule
from socialsla.core.series import Series, evaluate, judged
from socialsla.core.thread import Wait
from socialsla.core.windows import SeriesWindows
from socialsla.core.wire import Outcome, Scorecard, Totals, encode_outcomes, parse_totals, totals_message
from tests.unit.core.test_calendars import calendars
from tests.unit.core.test_windows import Record, instants, records, thread_waits

H = 3600 * MICROS
R = 24 * H
T0 = 1_767_225_600 * MICROS
DAY = 24 * H


def outcome(cid: str, opened: int | None, first: int | None, channel: str = "facebook") -> Outcome:
    waits = () if opened is None else (Wait(opened, first, True),)
    return Outcome("acme", channel, cid, waits, opened or T0)


def test_outcomes_are_idempotent() -> None:
    """The same outcome applied twice keeps one thread, and sends nothing before anything expires."""
    ledger = Ledger(R)
    first = ledger.apply(0, [outcome("c1", T0, T0 + H)], T0)
    again = ledger.apply(0, [outcome("c1", T0, T0 + H)], T0)
    (series,) = list(ledger)
    assert list(series.windows.threads()) == [("c1", (Wait(T0, T0 + H, True),))]
    assert first.totals == again.totals == {}


def test_dropping_a_partition_removes_its_series() -> None:
    """A revoked partition's series leave the ledger at once."""
    ledger = Ledger(R)
    ledger.apply(0, [outcome("c1", T0, None)], T0)
    ledger.apply(1, [outcome("c2", T0, None, channel="x")], T0)
    ledger.drop(0)
    assert [(s.account, s.channel) for s in ledger] == [("acme", "x")]


def test_expiry_moves_contribution_into_totals() -> None:
    """Expired conversations leave the windows but stay in the lifetime counters."""
    ledger = Ledger(R)
    ledger.apply(0, [outcome("old-answered", T0, T0 + 60 * MICROS), outcome("old-missed", T0, None),
                     outcome("recent", T0 + 8 * DAY, None)], T0)  # fmt: skip
    (series,) = list(ledger)
    now = T0 + 9 * DAY
    before = series.lifetime(series.windows.evaluate(now, lifetime=True))
    dropped = ledger.expire(series, now)
    after = series.lifetime(series.windows.evaluate(now, lifetime=True))
    assert sorted(dropped) == ["old-answered", "old-missed"]
    assert after == before
    assert (series.expired.responded, series.expired.missed) == (1, 1)


def test_expiry_during_apply_sends_the_new_totals() -> None:
    """Expiry during apply counts the expired conversations and sends the series' totals, floor included."""
    ledger = Ledger(R, expire_every_us=H)
    ledger.apply(0, [outcome("old", T0, T0 + 60 * MICROS)], T0)
    writes = ledger.apply(0, [outcome("new", T0 + 9 * DAY, None)], T0 + 9 * DAY)
    assert writes.expired == 1
    (series,) = list(ledger)
    account, channel, totals = parse_totals(writes.totals[b"acme|facebook"])
    assert (account, channel, totals) == ("acme", "facebook", series.expired)
    assert totals.responded == 1
    assert totals.floor == series.windows.floor > T0


def test_expiry_runs_at_most_once_per_interval_of_the_clock() -> None:
    """Within expire_every_us of the last expiry, nothing is expired even when due."""
    ledger = Ledger(R, expire_every_us=10 * DAY)
    ledger.apply(0, [outcome("old", T0, None)], T0)  # the first sight expires (nothing yet)
    early = ledger.apply(
        0, [outcome("x", T0 + 9 * DAY, None)], T0 + 9 * DAY
    )  # "old" is due, the interval not
    due = ledger.apply(0, [outcome("y", T0 + 9 * DAY, None)], T0 + 10 * DAY)
    assert (early.expired, due.expired) == (0, 1)


@pytest.mark.parametrize("every", [0, 10 * DAY], ids=["expiry-due", "expiry-not-due"])
def test_a_thread_id_used_again_after_the_horizon_keeps_its_old_conversation_counted(every: int) -> None:
    """A quiet series whose thread id returns 9 days on (Messenger's one thread per customer) counts the old
    conversation in its totals before the new one replaces the thread: the decided counter never falls."""
    ledger = Ledger(R, expire_every_us=every)
    ledger.apply(0, [outcome("c1", T0, T0 + 60 * MICROS)], T0)
    (series,) = list(ledger)
    before = series.lifetime(series.windows.evaluate(T0 + DAY, lifetime=True))
    later = T0 + 9 * DAY
    writes = ledger.apply(0, [outcome("c1", later, later + 60 * MICROS)], later)
    after = series.lifetime(series.windows.evaluate(later + DAY, lifetime=True))
    assert (before.responded, after.responded) == (1, 2)
    assert writes.expired == 1  # the old conversation left memory, into the totals
    assert series.expired.responded == 1


def test_totals_round_trip() -> None:
    """Totals survive their message, and anything else is refused with a reason."""
    totals = Totals(1, 2, 3, 4, [5] * 13, floor=T0)
    assert parse_totals(totals_message("acme", "x", totals)) == ("acme", "x", totals)
    for bad in (b"[]", b"{}", b'{"totals": ["acme", "x", [1, 2]]}', b'{"totals": [1, "x", [0,0,0,0,0,[]]]}'):
        with pytest.raises(ValueError, match="totals"):
            parse_totals(bad)


def test_totals_are_sent_again_when_a_day_old() -> None:
    """A series that expired something sends its totals again after RESEND_TOTALS_S, to stay in retention."""
    ledger = Ledger(R)
    ledger.apply(0, [outcome("old", T0, None)], T0)
    ledger.apply(0, [outcome("new", T0 + 9 * DAY, None, channel="x")], T0 + 9 * DAY)
    ledger.expire(next(s for s in ledger if s.channel == "facebook"), T0 + 9 * DAY)
    ledger.sent[0] = {"acme|facebook": 1_000.0}
    assert list(ledger.totals_due(0, 1_000.0 + RESEND_TOTALS_S - 1)) == []
    due = dict(ledger.totals_due(0, 1_000.0 + RESEND_TOTALS_S))
    assert list(due) == [b"acme|facebook"]  # acme|x has expired nothing: it has no totals to keep
    assert ledger.sent[0]["acme|facebook"] == 1_000.0 + RESEND_TOTALS_S
    assert list(ledger.totals_due(0, 1_000.0 + RESEND_TOTALS_S)) == []


def test_a_replaced_thread_leaves_no_stale_row_or_record() -> None:
    """A late event that merges two conversations (a reply breaking the silence) replaces the thread whole."""
    ledger = Ledger(R)
    two = (Wait(T0, T0 + H, True), Wait(T0 + 2 * DAY, T0 + 2 * DAY + H, True))
    ledger.apply(0, [Outcome("acme", "facebook", "c1", two, T0)], T0 + 3 * DAY)
    merged = (Wait(T0, T0 + H, True), Wait(T0 + 2 * DAY, T0 + 2 * DAY + H, False))
    ledger.apply(0, [Outcome("acme", "facebook", "c1", merged, T0 + DAY)], T0 + 3 * DAY)
    (series,) = list(ledger)
    assert list(series.windows.threads()) == [("c1", merged)]
    week = series.windows.evaluate(T0 + 3 * DAY).windows["7d"]
    assert week.next_reply is not None
    assert (week.inbound, week.next_reply.inbound) == (1, 1)


def test_a_long_thread_keeps_its_newer_waits_when_old_ones_expire() -> None:
    """Expiry drops a thread's waits past the horizon, keeps the rest, and never takes them back."""
    ledger = Ledger(R, expire_every_us=H)
    old, new = Wait(T0, T0 + H, True), Wait(T0 + 9 * DAY, None, False)
    ledger.apply(0, [Outcome("acme", "facebook", "c1", (old,), T0)], T0)
    ledger.apply(0, [Outcome("acme", "facebook", "c1", (old, new), T0 + 9 * DAY)], T0 + 9 * DAY)
    (series,) = list(ledger)
    assert list(series.windows.threads()) == [("c1", (new,))]
    assert series.expired.responded == 1
    # stage 1 re-sends the whole thread later: the expired wait is not counted again
    ledger.apply(0, [Outcome("acme", "facebook", "c1", (old, new), T0 + 9 * DAY)], T0 + 9 * DAY + 1)
    life = series.lifetime(series.windows.evaluate(T0 + 9 * DAY + 1, lifetime=True))
    assert life.responded == 1


def _lifetimes(ledger: Ledger, at: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for series in ledger:
        stats = series.windows.evaluate(at, lifetime=True)
        out[series.channel] = (series.lifetime(stats), sorted(series.windows.threads()))
    return out


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 6),  # thread
            st.sampled_from(["facebook", "x"]),
            # new waits: hours before now they started, latency (None: unanswered), conversation
            st.lists(
                st.tuples(st.integers(0, 6), st.none() | st.integers(0, 48 * 3600), st.booleans()), max_size=2
            ),
            st.integers(0, 3 * 24),  # hours the clock moves on first
        ),
        min_size=1,
        max_size=40,
    ),
    lose_last_totals=st.booleans(),
    shuffle_totals=st.booleans(),
)
def test_a_replay_of_the_log_rebuilds_the_same_series(
    steps: list[tuple[int, str, list[tuple[int, int | None, bool]], int]],
    lose_last_totals: bool,
    shuffle_totals: bool,
) -> None:
    """Replaying the messages of a partition (outcomes and the totals apply sent) ends in the same series.

    Threads grow as stage 1 makes them: new waits start near the clock, old ones
    are re-sent unchanged. The replay matches also when the last totals message
    of each series was lost in a crash (its waits are expired, and counted,
    again), and when totals arrive out of order (a zombie's older totals after
    newer ones): the highest floor wins.
    """
    live = Ledger(R, expire_every_us=H)
    log: list[bytes] = []
    threads: dict[tuple[str, int], dict[int, Wait]] = {}
    now = T0
    for thread, channel, new, hours in steps:
        now += hours * H
        waits = threads.setdefault((channel, thread), {})
        for back, latency, conversation in new:
            start = now - back * H
            waits.setdefault(
                start, Wait(start, None if latency is None else start + latency * MICROS, conversation)
            )
        item = Outcome("acme", channel, f"c{thread}", tuple(waits[k] for k in sorted(waits)), now)
        log.append(encode_outcomes([item]))
        log.extend(live.apply(0, [item], now).totals.values())
    if lose_last_totals:
        for channel in ("facebook", "x"):
            last = [i for i, raw in enumerate(log) if raw[:1] == b"{" and f'"{channel}"'.encode() in raw[:40]]
            if last:
                del log[last[-1]]
    if shuffle_totals:
        totals = [raw for raw in log if raw[:1] == b"{"]
        log = [raw for raw in log if raw[:1] != b"{"] + totals[::-1]
    replayed = Ledger(R, expire_every_us=H)
    for raw in log:
        replayed.restore(0, raw)
    later = now + 2 * H  # both expire what is due, as after a restart
    for ledger in (live, replayed):
        for series in list(ledger):
            ledger.expire(series, later)
    assert _lifetimes(replayed, later) == _lifetimes(live, later)


def test_a_replay_refuses_what_is_neither_outcomes_nor_totals() -> None:
    """A message of neither kind raises ValueError (the live agent dead-lettered it already)."""
    with pytest.raises(ValueError, match="not a totals message"):
        Ledger(R).restore(0, orjson.dumps({"something": 1}))
    with pytest.raises(ValueError, match="not an outcome message"):
        Ledger(R).restore(0, b"not json")


def test_a_replayed_log_record_notes_when_its_totals_were_sent_and_counts_what_it_cannot_read() -> None:
    """As the log is read back, a totals message's timestamp says when the series last sent its totals.

    So a replayed series sends them again only a day after the last one, not at
    once; a message of neither kind is counted unreadable, and changes nothing.
    """
    ledger = Ledger(R)

    class Record:
        def __init__(self, key: bytes, value: bytes, timestamp_ms: int) -> None:
            self.key, self.value, self.timestamp = key, value, timestamp_ms

    ledger.reset({3})
    ledger.load_record(
        3, Record(b"acme|x", encode_outcomes([outcome("c1", T0, T0 + 60 * MICROS, "x")]), 1_000)
    )
    ledger.load_record(3, Record(b"acme|x", totals_message("acme", "x", Totals(floor=T0)), 5_000_000))
    ledger.load_record(3, Record(b"acme|x", b"garbage", 6_000_000))
    assert ledger.sent == {3: {"acme|x": 5_000.0}}
    assert ledger.unreadable == 1
    assert list(ledger.totals_due(3, 5_000.0 + RESEND_TOTALS_S - 1)) == []
    assert [key for key, _ in ledger.totals_due(3, 5_000.0 + RESEND_TOTALS_S)] == [b"acme|x"]
    ledger.reset({3})  # a new replay starts the partition empty
    assert list(ledger) == []
    assert 3 not in ledger.sent


def test_a_threads_scorecard_leaves_with_the_thread_past_the_horizon() -> None:
    """A resolved conversation goes with its wait, an answer by its own time, an early resolve with the thread."""
    from socialsla.core.feedback import Answer
    from socialsla.core.resolution import Resolution
    from socialsla.core.series import evaluate
    from socialsla.core.wire import Scorecard

    ledger = Ledger(R)
    answered_late = Answer(T0 + 2 * DAY, "csat", 5)  # asked two days after the post
    card = Scorecard((Resolution(T0, T0 + H, False, True),), (answered_late,), T0 + H, T0 + 2 * DAY)
    early = Scorecard((), (), T0 + DAY - H, None)  # a resolve an hour before the thread's first post
    ledger.apply(0, [Outcome("acme", "x", "c1", (Wait(T0, T0 + 60, True),), T0 + 2 * DAY, card)], T0 + H)
    ledger.apply(0, [Outcome("acme", "x", "c2", (Wait(T0 + DAY, None, True),), T0 + DAY, early)], T0 + DAY)
    (series,) = list(ledger)
    assert series.first_resolve() == T0 + H  # c1's resolve
    assert series.early_resolves == {"c2": T0 + DAY - H}
    past_c1 = T0 + 7 * DAY + R + 2 * 900 * MICROS  # c1's wait is past the horizon, c2's is not
    ledger.expire(series, past_c1)
    assert series.windows.earliest_resolve() is None  # c1's resolved conversation left with its wait
    assert series.first_resolve() == T0 + DAY - H
    seen = evaluate(series, T0 + 2 * DAY + H, (), 10)
    assert seen.feedback is not None  # the late answer is still within a window of its own time
    assert seen.feedback["7d"]["csat"].responses == 1
    ledger.expire(series, T0 + 2 * DAY + 7 * DAY + R + 1)
    assert series.surveys.first() is None
    assert series.early_resolves == {}
    assert series.first_resolve() is None


def test_a_replayed_totals_message_takes_early_resolves_with_the_threads_it_expires() -> None:
    """A replay that applies totals past a thread's last wait leaves no resolve of it behind."""
    from socialsla.core.wire import Scorecard

    ledger = Ledger(R)
    early = Scorecard((), (), T0 - H, None)  # a resolve an hour before the thread's first post
    ledger.restore(0, encode_outcomes([Outcome("acme", "x", "c1", (Wait(T0, None, True),), T0, early)]))
    (series,) = list(ledger)
    assert series.first_resolve() == T0 - H
    floor = T0 + DAY  # every wait before it is counted in these totals
    ledger.restore(0, totals_message("acme", "x", Totals(missed=1, floor=floor)))
    assert series.early_resolves == {}
    assert series.first_resolve() is None


# --- which series exist: only through a customer's post ----------------------------------------


def test_an_outcome_without_a_post_creates_no_series_live_or_replayed() -> None:
    """A thread with no post (outreach, a stray resolve or feedback) gives no series, live or from the log."""
    live, replayed = Ledger(R), Ledger(R)
    stray = outcome("outreach", None, None, channel="x")
    live.apply(0, [stray], T0)
    replayed.restore(0, encode_outcomes([stray]))
    assert list(live) == list(replayed) == []


def test_an_outcome_without_a_post_empties_its_thread_in_a_series_that_exists() -> None:
    """In an existing series, a thread re-sent without waits leaves it; the series stays."""
    ledger = Ledger(R)
    ledger.apply(0, [outcome("c1", T0, None), outcome("c2", T0, T0 + H)], T0)
    ledger.apply(0, [outcome("c1", None, None)], T0 + H)
    (series,) = list(ledger)
    assert [key for key, _ in series.windows.threads()] == ["c2"]


def test_a_series_exists_from_its_first_post_on() -> None:
    """A post ahead of the clock (allowed a few minutes) makes its series exist only once T reaches it."""
    ledger = Ledger(R)
    ledger.apply(0, [outcome("early", T0 + 60 * MICROS, None)], T0)
    ledger.apply(1, [outcome("now", T0, None, channel="x")], T0)
    assert [s.channel for s in ledger.existing(T0)] == ["x"]
    assert sorted(s.channel for s in ledger.existing(T0 + 60 * MICROS)) == ["facebook", "x"]
    assert [s.channel for s in ledger.existing(T0 + 60 * MICROS, {0})] == ["facebook"]


def test_a_series_whose_waits_all_expired_still_exists_through_its_totals() -> None:
    """Its lifetime counters stay exported after its last conversation left memory."""
    ledger = Ledger(R)
    ledger.apply(0, [outcome("old", T0, T0 + H)], T0)
    (series,) = list(ledger)
    assert ledger.expire(series, T0 + 9 * DAY) == ["old"]
    assert list(ledger.existing(T0 + 9 * DAY)) == [series]


JUDGING_RULES = (
    Rule(name="badge", window="7d", min_response_rate=Fraction(9, 10), max_avg_first_reply_seconds=Fraction(900)),
    Rule(name="hour", window="1h", min_response_rate=Fraction(1, 2), max_p90_first_reply_seconds=Fraction(600)),
    Rule(name="team", window="24h", min_response_rate=Fraction(3, 4), clock="business",
         max_avg_resolution_seconds=Fraction(3600)),
    Rule(name="care", window="7d", min_resolution_rate=Fraction(1, 2), min_csat=Fraction(4, 5)),
    Rule(name="fast", window="24h", max_avg_first_reply_seconds=Fraction(60), avg_of_fastest=Fraction(9, 10),
         channels=frozenset({"x"})),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(records, st.none() | st.integers(0, 48 * H), st.none() | st.integers(1, 5)),
             max_size=12),
    st.one_of(st.none(), calendars()),
    st.lists(instants, min_size=1, max_size=3),
)  # fmt: skip
def test_judged_gives_the_verdicts_of_the_whole_evaluation(
    items: list[tuple[Record, int | None, int | None]], calendar: Calendar | None, times: list[int]
) -> None:
    """The board's and `/waiting`'s lighter evaluation judges exactly as the scrape's, every kind of rule."""
    series = Series("acme", "facebook", SeriesWindows(R, 900 * MICROS, calendar))
    for n, (raw, took, score) in enumerate(items):
        waits = thread_waits([raw])
        start = waits[0].start
        resolutions = () if took is None else (Resolution(start, start + took, n % 2 == 0, n % 3 == 0),)
        answers = () if score is None else (Answer(start + 60 * MICROS, "csat", score),)
        first_resolve = resolutions[0].resolved_at if resolutions else None
        card = Scorecard(resolutions, answers, first_resolve, answers[0].at if answers else None)
        series.put(Outcome("acme", "facebook", f"c{n}", waits, T0, card))
    for at in times:
        whole, light = evaluate(series, at, JUDGING_RULES, 10), judged(series, at, JUDGING_RULES)
        assert light.verdicts == whole.verdicts
        assert light.stats.windows["7d"] == whole.stats.windows["7d"]
        assert light.stats.oldest_unanswered_us == whole.stats.oldest_unanswered_us
        assert (light.calendar, light.is_open) == (whole.calendar, whole.is_open)
        if whole.business is not None:
            assert light.business is not None
            assert light.business.windows["7d"] == whole.business.windows["7d"]
