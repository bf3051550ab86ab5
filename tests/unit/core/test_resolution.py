"""Resolution and counted feedback from shuffled arrival, against a word-for-word oracle."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core import feedback, fold, resolution
from socialsla.core.accumulators import pack_resolution
from socialsla.core.events import MICROS, Event
from socialsla.core.resolution import Resolution
from socialsla.core.thread import Policy, Thread, Wait
from socialsla.core.view import View
from socialsla.core.windows import SeriesWindows
from tests.oracle import naive_scorecard

M = 60 * MICROS
T = 10_000 * M
SURVEYS = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}


@st.composite
def threads(draw: st.DrawFn) -> tuple[list[Event], Policy, int]:
    """One thread's events, times on a coarse grid (so ties happen), some redelivered, in any order."""
    count = draw(st.integers(1, 30))
    events: list[Event] = []
    for n in range(count):
        kind = draw(st.sampled_from(["post", "post", "reply", "reply", "resolve", "feedback"]))
        at = T - draw(st.integers(0, 60)) * 10 * M
        if kind == "feedback":
            survey = draw(st.sampled_from(sorted(SURVEYS)))
            score = draw(st.integers(*SURVEYS[survey]))
            events.append(Event(kind, f"f{n}", "c", "acme", "x", at, survey=survey, score=score))
        else:
            automated = kind == "reply" and draw(st.booleans())
            events.append(
                Event(
                    kind, f"{kind[0]}{n}", "c", "acme", "x", at, automated, "ann" if kind == "reply" else None
                )
            )
    redelivered = draw(st.lists(st.sampled_from(events), max_size=5))
    arrival = events + redelivered
    random.Random(draw(st.integers(0, 2**32))).shuffle(arrival)
    silence = draw(st.sampled_from([None, 30 * M, 120 * M]))
    policy = Policy(count_automated=draw(st.booleans()), new_conversation_after_us=silence)
    not_before = T - draw(st.sampled_from([10_000, 400])) * M  # the second makes some events late
    return arrival, policy, not_before


@settings(max_examples=400, deadline=None)
@given(threads())
def test_resolutions_and_counted_feedback_equal_the_oracle(case: tuple[list[Event], Policy, int]) -> None:
    arrival, policy, not_before = case
    folded = fold.fold({}, arrival, not_before, policy)
    state = next(iter(folded.states.values()), Thread())
    expected_conversations, expected_feedback = naive_scorecard(
        arrival, T, not_before, policy.count_automated, policy.new_conversation_after_us
    )
    assert [tuple(r) for r in resolution.resolutions(state, policy)] == expected_conversations
    assert [tuple(a) for a in feedback.counted(state, policy)] == expected_feedback


def test_a_thread_resolved_reopened_and_resolved_again() -> None:
    """The README's example: with a silence of 24 h, the customer's return is a conversation of its own."""
    hour = 60 * M
    day = 24 * hour
    policy = Policy(new_conversation_after_us=day)
    events = [
        Event("post", "p1", "c", "acme", "x", T),
        Event("reply", "r1", "c", "acme", "x", T + hour),
        Event("resolve", "d1", "c", "acme", "x", T + 2 * hour),
        Event("post", "p2", "c", "acme", "x", T + 3 * hour),  # the customer writes again: reopened
        Event("reply", "r2", "c", "acme", "x", T + 4 * hour),
        Event("resolve", "d2", "c", "acme", "x", T + 5 * hour),
        Event("post", "p3", "c", "acme", "x", T + 5 * hour + 2 * day),  # after silence: a new one
        Event("reply", "r3", "c", "acme", "x", T + 6 * hour + 2 * day),
        Event("resolve", "d3", "c", "acme", "x", T + 7 * hour + 2 * day),
    ]
    (state,) = fold.fold({}, events, 0, policy).states.values()
    first, second = resolution.resolutions(state, policy)
    assert first == Resolution(T, T + 2 * hour, True, False)  # reopened: not first contact
    assert second == Resolution(T + 5 * hour + 2 * day, T + 7 * hour + 2 * day, False, True)
    judged = SeriesWindows(day)  # the conversations alone, as stage 2 keeps them: judged against S = 24 h
    judged.set("c", (Wait(T, T + hour, True),), {T: pack_resolution(first)})
    judged.set(
        "late", (Wait(T, T + hour, True),), {T: pack_resolution(Resolution(T, T + 30 * hour, False, True))}
    )
    judged.set("pending", (Wait(T + 1, None, True),))
    at_three_days = judged.resolution(T + 3 * day, View(day))["7d"]
    assert (at_three_days.resolved, at_three_days.in_time, at_three_days.overdue) == (2, 1, 2)
    within = judged.resolution(T + hour, View(day))["7d"]
    assert (within.resolved, within.overdue) == (0, 0)
    exactly_s = judged.resolution(T + day + 1, View(day))["7d"]
    assert exactly_s.overdue == 2  # "late" at T + 24 h, "pending" at exactly S after it opened


def test_a_customer_who_changes_a_csat_answer_counts_once_with_the_latest() -> None:
    events = [
        Event("feedback", "early", "c", "acme", "x", T - M, survey="csat", score=1),  # before the first post
        Event("post", "p1", "c", "acme", "x", T),
        Event("feedback", "f1", "c", "acme", "x", T + M, survey="csat", score=2),
        Event("feedback", "f2", "c", "acme", "x", T + 2 * M, survey="csat", score=5),
        Event("feedback", "n1", "c", "acme", "x", T + 2 * M, survey="nps", score=9),
        Event(
            "feedback", "n0", "c", "acme", "x", T + 2 * M, survey="nps", score=3
        ),  # same instant: larger id wins
    ]
    (state,) = fold.fold({}, events, 0).states.values()
    assert feedback.counted(state) == (
        feedback.Answer(T + 2 * M, "csat", 5),
        feedback.Answer(T + 2 * M, "nps", 9),
    )


def test_survey_numbers() -> None:
    book = feedback.Surveys(900 * MICROS)
    scores = [("nps", s) for s in (10, 9, 8, 6, 0)] + [("csat", s) for s in (5, 4, 3)]
    for n, (survey, score) in enumerate(scores):
        book.set(f"c{n}", T, (feedback.Answer(T, survey, score),))
    said = book.windows(T)["1h"]
    nps = said["nps"]
    assert (nps.responses, nps.good, nps.passives, nps.detractors) == (5, 2, 1, 2)
    assert feedback.score(nps, "nps") == 0
    csat = said["csat"]
    assert feedback.score(csat, "csat") * 3 == 2
    assert csat.score_avg == 4
    ces = said["ces"]
    assert (ces.responses, ces.score_avg, feedback.score(ces, "ces")) == (0, None, None)


H = 60 * M


@st.composite
def series_events(draw: st.DrawFn) -> list[Event]:
    """Several threads of one series over three days before T, with resolves and feedback."""
    events: list[Event] = []
    for thread in range(draw(st.integers(1, 6))):
        cid = f"c{thread}"
        for n in range(draw(st.integers(1, 8))):
            kind = draw(st.sampled_from(["post", "reply", "resolve", "feedback"]))
            at = T - draw(st.integers(0, 72)) * H
            if kind == "feedback":
                survey = draw(st.sampled_from(sorted(SURVEYS)))
                events.append(Event(kind, f"{cid}f{n}", cid, "acme", "x", at, survey=survey,
                                    score=draw(st.integers(*SURVEYS[survey]))))  # fmt: skip
            else:
                events.append(Event(kind, f"{cid}{kind[0]}{n}", cid, "acme", "x", at))
    return events


@settings(max_examples=150, deadline=None)
@given(series_events())
def test_the_report_counts_resolution_and_feedback_as_the_oracle_per_window(events: list[Event]) -> None:
    """Resolution and feedback per window, from the report (stage 1, stage 2, evaluate), against
    per-thread oracles."""
    from socialsla.core import report
    from socialsla.core.events import encode

    window_s = 24 * H
    built = report.build(iter([encode(e) for e in events]), T, T, ())
    per_thread = {
        cid: naive_scorecard([e for e in events if e.conversation_id == cid], T, 0, False, None)
        for cid in {e.conversation_id for e in events}
    }
    has_post = {
        cid for cid in per_thread if any(e.kind == "post" and e.conversation_id == cid for e in events)
    }
    tracks = any(e.kind == "resolve" and e.conversation_id in has_post for e in events)
    tracks_feedback = any(e.kind == "feedback" and e.conversation_id in has_post for e in events)
    found = [s for s in built.series if s.account == "acme"]
    assert len(found) == (1 if has_post else 0)  # a series exists only through a customer's post
    if not found:
        return
    (evaluation,) = found
    assert (evaluation.resolution is not None) == tracks
    assert (evaluation.feedback is not None) == tracks_feedback
    for name, seconds in {"1h": 3600, "24h": 86_400, "7d": 604_800}.items():
        edge = T - seconds * MICROS
        conversations = [c for convs, _ in per_thread.values() for c in convs if edge < c[0] <= T]
        if evaluation.resolution is not None:
            got = evaluation.resolution[name]
            resolved = [c for c in conversations if c[1] is not None]
            in_time = [c for c in resolved if c[1] - c[0] <= window_s]
            overdue = [c for c in conversations if c not in in_time and T - c[0] >= window_s]
            assert (got.resolved, got.in_time, got.overdue) == (len(resolved), len(in_time), len(overdue))
            assert got.reopened == sum(1 for c in resolved if c[2])
            assert got.first_contact == sum(1 for c in resolved if c[3])
            assert got.seconds.latency_sum_us == sum(c[1] - c[0] for c in resolved)
        if evaluation.feedback is not None:
            answers = [a for _, said in per_thread.values() for a in said if edge < a[0] <= T]
            for survey in SURVEYS:
                scores = [a[2] for a in answers if a[1] == survey]
                stats = evaluation.feedback[name][survey]
                assert (stats.responses, stats.score_sum) == (len(scores), sum(scores))


def test_the_report_takes_its_resolution_window_and_a_calendars_own() -> None:
    """`--resolution-window` moves a 30-hour resolution from overdue to in time; a calendar's S, its business view."""
    from socialsla.core import report
    from socialsla.core.calendars import parse_calendar
    from socialsla.core.events import encode

    events = [
        Event("post", "p1", "c1", "acme", "x", T - 72 * H),
        Event("reply", "r1", "c1", "acme", "x", T - 71 * H),
        Event("resolve", "d1", "c1", "acme", "x", T - 42 * H),  # 30 hours after the post
    ]
    lines = [encode(e) for e in events]
    default = report.build(iter(lines), T, T, ()).series[0].resolution
    longer = report.build(iter(lines), T, T, (), resolution_window_us=48 * H).series[0].resolution
    assert default is not None
    assert longer is not None
    assert (default["7d"].in_time, default["7d"].overdue) == (0, 1)
    assert (longer["7d"].in_time, longer["7d"].overdue) == (1, 0)
    always_open = parse_calendar({"name": "team", "timezone": "UTC", "resolution_window": "48h"}, 1)
    business = report.build(iter(lines), T, T, (), calendars=[always_open]).series[0].business_resolution
    assert business is not None
    assert (business["7d"].in_time, business["7d"].overdue) == (1, 0)


def test_the_report_table_has_a_scorecard_line_only_for_series_that_track_it() -> None:
    from socialsla.cli import render
    from socialsla.core import report
    from socialsla.core.events import encode

    events = [
        Event("post", "p1", "c1", "acme", "x", T - 3 * H), Event("reply", "r1", "c1", "acme", "x", T - 3 * H + M),
        Event("resolve", "d1", "c1", "acme", "x", T - 2 * H),
        Event("feedback", "f1", "c1", "acme", "x", T - H, survey="nps", score=10),
        Event("post", "p2", "c2", "zeta", "x", T - 3 * H),
    ]  # fmt: skip
    table = render.to_table(report.build(iter([encode(e) for e in events]), T, T, ()))
    lines = table.splitlines()
    start = lines.index("scorecard, 7 days (series that send resolve or feedback events)")
    assert lines[start + 1 :] == [
        "acme x: resolved 1 (in time 1, overdue 0, reopened 0): rate 100.0%, first contact 100.0%, avg 60.0m; "
        "NPS +100 (1 answers)"
    ]
