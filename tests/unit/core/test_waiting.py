"""Who is waiting: the list against a word-for-word oracle, its limit, at-risk marks, the metric's id."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.calendars import Calendar
from socialsla.core.events import MICROS
from socialsla.core.judging import judge
from socialsla.core.rules import Rule, Verdict
from socialsla.core.thread import Wait
from socialsla.core.waiting import DUE_SOON_US, Waiting, count, oldest_conversation, triage, waiting_list
from socialsla.core.windows import SeriesWindows
from tests.oracle import naive_waiting
from tests.unit.core.test_calendars import calendars
from tests.unit.core.test_windows import T0, H, R, Record, instants, one, records, thread_waits

threads = st.lists(st.lists(records, min_size=1, max_size=4), max_size=14)
# few distinct ids and times, so that ties at one instant happen
ids = st.sampled_from(["b", "a", "c10", "c9", "Z", "é"])


def _build(
    items: list[list[Record]], names: list[str], calendar: Calendar | None = None
) -> tuple[SeriesWindows, dict[str, tuple[Wait, ...]]]:
    windows = SeriesWindows(R, 900 * MICROS, calendar)
    current: dict[str, tuple[Wait, ...]] = {}
    for index, raw in enumerate(items):
        key = names[index % len(names)] + ("" if index < len(names) else str(index))
        current[key] = thread_waits(raw)
        windows.set(key, current[key])
    return windows, current


def _plain(entry: Waiting, business: bool) -> dict[str, object]:
    out: dict[str, object] = {
        "conversation_id": entry.conversation_id, "conversation": entry.conversation, "since": entry.since,
        "waited_us": entry.waited_us, "pending": entry.pending, "due_in_us": entry.due_in_us,
    }  # fmt: skip
    if business:
        out["business_waited_us"] = entry.business_waited_us
        out["business_pending"] = entry.business_pending
    return out


@settings(max_examples=300, deadline=None)
@given(threads, st.lists(ids, min_size=1, max_size=6), st.lists(instants, min_size=1, max_size=4))
def test_the_list_equals_the_oracle_and_a_limit_keeps_its_head(
    items: list[list[Record]], names: list[str], times: list[int]
) -> None:
    """Every unanswered wait of the last 7 days, oldest first and ties by id, at times asked in any order."""
    windows, current = _build(items, names)
    for at in times:
        got = waiting_list(windows, at)
        assert [_plain(entry, False) for entry in got] == naive_waiting(current, at, R)
        assert all(entry.business_waited_us is None and entry.at_risk == () for entry in got)
        for limit in (1, 2, 5):
            assert waiting_list(windows, at, limit=limit) == got[:limit]
        assert count(windows.evaluate(at)) == len(got)


@settings(max_examples=150, deadline=None)
@given(
    calendars(), threads, st.lists(ids, min_size=1, max_size=6), st.lists(instants, min_size=1, max_size=3)
)
def test_the_business_fields_follow_the_calendar(
    team: Calendar, items: list[list[Record]], names: list[str], times: list[int]
) -> None:
    """Open time waited, pending in open time, and the due-in instant as the first one open time reaches R_c."""
    windows, current = _build(items, names, team)
    business_r = team.response_window_us or R
    for at in times:
        got = waiting_list(windows, at)
        assert [_plain(e, True) for e in got] == naive_waiting(current, at, R, team.open_us, business_r)
        for entry in got:
            shown = entry.to_json()  # a series with a calendar shows its business fields
            assert shown["business_waited_seconds"] == entry.business_waited_us / MICROS
            assert shown["business_due_in_seconds"] == (None if entry.business_due_in_us is None
                                                        else entry.business_due_in_us / MICROS)  # fmt: skip
            due = entry.business_due_in_us
            if not entry.business_pending:
                assert due is None
            elif due is not None:
                assert due > 0
                assert team.open_us(entry.since, at + due) >= business_r
                assert team.open_us(entry.since, at + due - 1) < business_r


@settings(max_examples=300, deadline=None)
@given(
    threads, st.lists(ids, min_size=1, max_size=6), st.lists(instants, min_size=1, max_size=3),
    st.sampled_from(["1h", "24h", "7d"]), st.sampled_from([Fraction(1, 2), Fraction(9, 10), Fraction(1)]),
)  # fmt: skip
def test_at_risk_marks_the_conversations_that_turn_missed_before_the_forecast(
    items: list[list[Record]], names: list[str], times: list[int], window: str, threshold: Fraction
) -> None:
    """A conversation in the rule's window, pending now, missed by the forecast instant: answering it helps."""
    windows, _current = _build(items, names)
    rule = Rule(name="badge", window=window, min_response_rate=threshold)
    other = Rule(name="speed", window="7d", max_avg_first_reply_seconds=Fraction(900))
    length = {"1h": H, "24h": 24 * H, "7d": 7 * 24 * H}[window]
    for at in times:
        breach = windows.rate_breach_at(at, window, threshold)
        verdicts = {
            "badge": Verdict(True, None, None if breach is None else breach - at),
            "speed": Verdict(True, None),
        }
        got = waiting_list(windows, at, (rule, other), verdicts)
        for entry in got:
            expected = (
                breach is not None
                and entry.conversation
                and at - length < entry.since
                and at - entry.since < R  # pending on the rule's clock
                and entry.since + R <= breach  # missed at or before the forecast
            )
            assert entry.at_risk == (("badge",) if expected else ()), entry


def test_a_rule_without_a_forecast_marks_nobody() -> None:
    """A failing rule (no forecast) or one that holds for 7 days marks no entry."""
    windows = SeriesWindows(R)
    windows.set("c1", one(T0, None))
    rule = Rule(name="badge", window="7d", min_response_rate=Fraction(9, 10))
    for verdict in (Verdict(False, None), Verdict(True, None, None)):
        assert waiting_list(windows, T0 + H, (rule,), {"badge": verdict})[0].at_risk == ()
    assert waiting_list(windows, T0 + H, (rule,), {"badge": Verdict(True, None, R - H)})[0].at_risk == (
        "badge",
    )


@settings(max_examples=300, deadline=None)
@given(threads, st.lists(ids, min_size=1, max_size=6), st.lists(instants, min_size=1, max_size=4))
def test_the_metric_names_the_oldest_waiting_conversation(
    items: list[list[Record]], names: list[str], times: list[int]
) -> None:
    """The conversation (not a follow-up) whose wait `oldest_unanswered_seconds` measures; the smaller id of a tie."""
    windows, current = _build(items, names)
    for at in times:
        oldest = windows.evaluate(at).oldest_unanswered_us
        named = oldest_conversation(windows, at, oldest)
        first = next((e for e in naive_waiting(current, at, R) if e["conversation"]), None)
        assert named == (None if first is None else first["conversation_id"])
        if first is not None:
            assert oldest == first["waited_us"]


def test_ties_at_the_oldest_instant_and_follow_ups() -> None:
    """Two customers who wrote at the same microsecond are listed by id; a follow-up says so; answered ones are not."""
    windows = SeriesWindows(R)
    windows.set("b", one(T0, None))
    windows.set("a", one(T0, None))
    windows.set("ping", (Wait(T0 - H, T0 - H + 60 * MICROS, True), Wait(T0 - 30 * 60 * MICROS, None, False)))
    windows.set("done", one(T0 + H, T0 + H + 1))
    windows.set("old", one(T0 - 8 * 24 * H, None))
    at = T0 + 2 * H
    got = waiting_list(windows, at)
    assert [(e.conversation_id, e.conversation) for e in got] == [("ping", False), ("a", True), ("b", True)]
    assert oldest_conversation(windows, at, windows.evaluate(at).oldest_unanswered_us) == "a"
    assert got[1].to_json() == {
        "conversation_id": "a", "kind": "conversation", "since": "2026-01-01T00:00:00Z",
        "waited_seconds": 7200.0, "state": "pending", "due_in_seconds": 79200.0, "at_risk": [],
    }  # fmt: skip
    assert got[0].to_json()["kind"] == "follow_up"
    missed = waiting_list(windows, T0 + R + MICROS)[1]
    assert (missed.pending, missed.due_in_us) == (False, None)
    assert missed.to_json()["state"] == "missed"
    assert missed.to_json()["due_in_seconds"] is None


def _plain_triage(
    windows: SeriesWindows,
    at: int,
    rules: tuple[Rule, ...],
    verdicts: dict[str, Verdict],
    act: int,
    missed: int,
) -> tuple[list[Waiting], list[Waiting], int, int, int, int]:
    """The triage's definition, read off the whole list: pending on the series' clock, at risk first."""
    full = waiting_list(windows, at, rules, verdicts)
    business = windows.open is not None

    def pending(entry: Waiting) -> bool:
        return bool(entry.business_pending) if business else entry.pending

    def due(entry: Waiting) -> int | None:
        return entry.business_due_in_us if business else entry.due_in_us

    waiting_now = [e for e in full if pending(e)]
    head = ([e for e in waiting_now if e.at_risk] + [e for e in waiting_now if not e.at_risk])[:act]
    soon = sum(1 for e in waiting_now if (d := due(e)) is not None and d <= DUE_SOON_US)
    return (head, [e for e in full if not pending(e)][:missed], len(full), len(waiting_now),
            sum(1 for e in waiting_now if e.at_risk), soon)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    threads, st.lists(ids, min_size=1, max_size=6), st.lists(instants, min_size=1, max_size=3),
    st.one_of(st.none(), calendars()), st.integers(1, 4), st.integers(0, 3),
)  # fmt: skip
def test_triage_is_the_whole_list_sorted_for_action(
    items: list[list[Record]], names: list[str], times: list[int], calendar: Calendar | None, act: int,
    missed: int,
) -> None:  # fmt: skip
    """At risk first then by deadline, the oldest missed, and every count: as read off the whole list."""
    windows, _ = _build(items, names, calendar)
    rules = (Rule(name="badge", window="7d", min_response_rate=Fraction(3, 4)),
             Rule(name="team", window="24h", min_response_rate=Fraction(1, 2), clock="business"))  # fmt: skip
    for at in times:
        stats = windows.evaluate(at, business=calendar is not None)
        verdicts = {
            rule.name: judge(rule, stats if rule.clock == "business" else windows.evaluate(at), windows)
            for rule in rules
            if rule.clock == "wall" or calendar is not None
        }
        got = triage(windows, stats, at, rules, verdicts, act, missed)
        head, oldest, total, pending, at_risk, soon = _plain_triage(windows, at, rules, verdicts, act, missed)
        assert list(got.act) == head
        assert list(got.missed) == oldest
        assert (got.waiting, got.pending, got.missed_count) == (total, pending, total - pending)
        assert (got.at_risk, got.due_soon) == (at_risk, soon)
