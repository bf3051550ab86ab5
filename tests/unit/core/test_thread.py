"""Thread state, its conversation and its waits (docs/semantics.md, "Threads, waits and conversations")."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.events import MICROS, Event
from socialsla.core.thread import (
    MAX_EVENTS,
    Policy,
    Status,
    Thread,
    ThreadTooLong,
    Wait,
    apply,
    expired,
    status_at,
    waits,
)

R = 24 * 3600 * MICROS
T0 = 1_768_000_000 * MICROS


def post(minute: float, event_id: str | None = None) -> Event:
    at = T0 + round(minute * 60 * MICROS)
    return Event("post", event_id or f"p{minute}", "c", "acme", "facebook", at)


def reply(minute: float, event_id: str | None = None, automated: bool = False) -> Event:
    at = T0 + round(minute * 60 * MICROS)
    return Event("reply", event_id or f"r{minute}", "c", "acme", "facebook", at, automated)


def fold(*events: Event) -> Thread:
    state: Thread | None = None
    for event in events:
        state, _ = apply(state, event)
    assert state is not None
    return state


def m(v: int | None) -> float | None:
    return None if v is None else (v - T0) / 60 / MICROS


def minutes(state: Thread, count_automated: bool = False) -> tuple[float | None, float | None]:
    """(opened_at, first_reply_at) in minutes: the thread's conversation (its first wait)."""
    found = waits(state, Policy(count_automated))
    return (m(found[0].start), m(found[0].answer)) if found else (None, None)


def shown(found: tuple[Wait, ...]) -> list[tuple[float | None, float | None, bool]]:
    return [(m(w.start), m(w.answer), w.conversation) for w in found]


def test_post_then_reply() -> None:
    """The first reply after the post sets the latency."""
    assert minutes(fold(post(0), reply(12))) == (0, 12)


def test_reply_arriving_before_its_post() -> None:
    """A reply delivered before its post still counts once the post arrives."""
    assert minutes(fold(reply(12), post(0))) == (0, 12)


def test_brand_initiated_thread_does_not_count() -> None:
    """Replies before the first post (a brand-initiated thread) are not first replies."""
    assert minutes(fold(reply(-10), post(0), reply(5))) == (0, 5)
    assert minutes(fold(reply(-10), post(0))) == (0, None)


def test_late_earlier_post_moves_opening_back_and_counts_earlier_reply() -> None:
    """A late post with an earlier time moves opened_at back and makes an earlier reply count."""
    state = fold(post(10), reply(5), reply(20), post(0))
    assert minutes(state) == (0, 5)


def test_late_earlier_post_before_all_replies() -> None:
    """Moving opened_at back before every early reply picks the earliest of them."""
    state = fold(post(10), reply(7), reply(3), reply(30), post(1))
    assert minutes(state) == (1, 3)


def test_automated_replies_do_not_count_by_default() -> None:
    """Auto-responder replies are ignored unless configured to count."""
    events = (post(0), reply(1, automated=True), reply(30))
    assert minutes(fold(*events)) == (0, 30)
    assert minutes(fold(*events), count_automated=True) == (0, 1)


def test_duplicates_are_ignored_after_the_first() -> None:
    """A redelivered event (same type and id) is reported as a duplicate and changes nothing."""
    state = fold(post(0, "a"), reply(10, "b"))
    again, duplicate = apply(state, reply(10, "b"))
    assert duplicate
    assert again == state


def test_conflicting_redelivery_cannot_rewrite_history() -> None:
    """A duplicate id with a different time is ignored: the first delivery of a type and id counts."""
    state = fold(post(0, "a"), reply(10, "b"))
    again, duplicate = apply(state, reply(2, "b"))
    assert duplicate
    assert minutes(again) == (0, 10)


def test_post_and_reply_may_share_an_event_id() -> None:
    """Duplicates are keyed by type and id, so a post and a reply with one id are distinct."""
    assert minutes(fold(post(0, "x"), reply(3, "x"))) == (0, 3)


def test_a_full_thread_refuses_new_events_but_knows_its_duplicates() -> None:
    """A thread keeps at most 1,000 times: past that, a new event is `thread too long`; a
    redelivery stays a duplicate."""
    state = fold(post(0, "p"), *(reply(i + 1, f"r{i}") for i in range(MAX_EVENTS - 1)))
    assert len(state.events) == MAX_EVENTS
    with pytest.raises(ThreadTooLong, match="thread too long"):
        apply(state, post(5_000, "late"))
    again, duplicate = apply(state, reply(1, "r0"))
    assert duplicate
    assert again == state


def test_state_round_trips_through_bytes() -> None:
    """Serialised state reads back identical."""
    state = fold(reply(-3), post(0), reply(4))
    assert Thread.from_bytes(state.to_bytes()) == state


@pytest.mark.parametrize(
    ("events", "at_minute", "expected"),
    [
        pytest.param((post(0),), -1, Status.NOT_OPEN, id="before-post"),
        pytest.param((post(0),), 0, Status.PENDING, id="at-post"),
        pytest.param((post(0), reply(30)), 29, Status.PENDING, id="reply-not-yet-seen"),
        pytest.param((post(0), reply(30)), 30, Status.RESPONDED, id="reply-seen"),
        pytest.param((post(0),), 24 * 60 - 1, Status.PENDING, id="just-before-deadline"),
        pytest.param((post(0),), 24 * 60, Status.MISSED, id="at-deadline"),
        pytest.param((post(0), reply(24 * 60)), 24 * 60, Status.RESPONDED, id="reply-exactly-24h"),
        pytest.param((post(0), reply(24 * 60 + 1)), 24 * 60 + 1, Status.MISSED, id="reply-after-24h"),
        pytest.param((reply(0),), 5, Status.NOT_OPEN, id="reply-only"),
    ],
)
def test_status_at(events: tuple[Event, ...], at_minute: int, expected: Status) -> None:
    """Status at T with R = 24 h, including its boundaries: exactly R is responded when answered,
    missed when not."""
    assert status_at(fold(*events), T0 + at_minute * 60 * MICROS, R) == expected


def test_expiry_waits_for_the_last_event() -> None:
    """A conversation expires only when its newest event is older than the horizon."""
    state = fold(post(0), reply(60))
    horizon = 8 * 24 * 3600 * MICROS
    assert not expired(state, T0 + 60 * 60 * MICROS + horizon, horizon)
    assert expired(state, T0 + 60 * 60 * MICROS + horizon + 1, horizon)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param((post(0), reply(5)), [(0, 5, True)], id="one-wait"),
        pytest.param((post(0), reply(5), post(10), reply(30)), [(0, 5, True), (10, 30, False)], id="follow-up"),
        pytest.param((post(0), post(2), reply(5)), [(0, 5, True)], id="posts-inside-a-wait-add-nothing"),
        pytest.param((post(0), reply(5), reply(6), post(10)), [(0, 5, True), (10, None, False)],
                     id="unanswered-follow-up"),
        pytest.param((post(0), reply(5), post(5)), [(0, 5, True)], id="post-at-the-answer-is-inside"),
        pytest.param((post(0), post(0.5), reply(5)), [(0, 5, True)], id="answer-after-two-posts"),
        pytest.param((reply(-3), reply(-1)), [], id="brand-only"),
        pytest.param((post(0), reply(1, automated=True), post(2), reply(3)), [(0, 3, True)],
                     id="automated-reply-answers-nothing"),
    ],
)  # fmt: skip
def test_waits(events: tuple[Event, ...], expected: list[tuple[float, float | None, bool]]) -> None:
    """Waits: a post after an answer waits again; posts inside a wait add nothing."""
    assert shown(waits(fold(*events))) == expected


DAY = 24 * 60


@pytest.mark.parametrize(
    ("gap_minutes", "conversation"),
    [
        pytest.param(DAY, True, id="exactly-24h"),
        pytest.param(DAY - 1 / 60, False, id="one-second-less"),
    ],
)
def test_silence_starts_a_new_conversation(gap_minutes: float, conversation: bool) -> None:
    """With the 24h rule, exactly 24 h of silence since the thread's previous event opens a conversation."""
    state = fold(post(0), reply(5), post(5 + gap_minutes), reply(6 + gap_minutes))
    found = waits(state, Policy(new_conversation_after_us=DAY * 60 * MICROS))
    assert [w.conversation for w in found] == [True, conversation]
    assert [w.conversation for w in waits(state)] == [True, False]  # off by default


def test_silence_is_broken_by_automated_replies() -> None:
    """An auto-responder's message counts as an event of the thread for silence, though it answers nothing."""
    state = fold(post(0), reply(5), reply(100, automated=True), post(5 + DAY), reply(6 + DAY))
    found = waits(state, Policy(new_conversation_after_us=DAY * 60 * MICROS))
    assert [w.conversation for w in found] == [True, False]


def plain_waits(events: list[Event], policy: Policy) -> list[Wait]:
    """The waits, which of them are conversations (after silence), and each one's answering agent, straight
    from their definitions, over a plain list of distinct events."""
    unique = {(e.kind, e.event_id): e for e in reversed(events)}.values()  # the first of each id wins
    P = sorted(e.created_at for e in unique if e.kind == "post")
    # by time; at one instant, the smaller event_id answers
    Q = sorted((e.created_at, e.event_id, e.agent) for e in unique
               if e.kind == "reply" and (policy.count_automated or not e.automated))  # fmt: skip
    every = sorted(e.created_at for e in unique)
    out: list[Wait] = []
    s = min(P) if P else None
    while s is not None:
        answers = [q for q in Q if q[0] >= s]
        a = answers[0][0] if answers else None
        who = None if not answers else "unknown" if answers[0][2] is None else answers[0][2]
        previous = max(t for t in every if t < s) if out else None
        silence = policy.new_conversation_after_us
        is_conversation = not out or (
            silence is not None and previous is not None and s - previous >= silence
        )
        out.append(Wait(s, a, is_conversation, who))
        later = [p for p in P if a is not None and p > a]
        s = min(later) if later else None
    return out


_events = st.lists(
    st.tuples(
        st.sampled_from(["post", "reply"]),
        st.integers(0, 12),  # ids collide, so redeliveries occur
        st.integers(-100, 3_000).map(lambda minute: T0 + minute * 60 * MICROS),
        st.booleans(),
        st.sampled_from([None, "ana", "bo"]),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_events, st.randoms(), st.sampled_from([None, 60, DAY]), st.booleans())
def test_waits_from_shuffled_arrival_equal_sorted_arrival(
    raw: list[tuple[str, int, int, bool, str | None]],
    rnd: random.Random,
    silence: int | None,
    automated: bool,
) -> None:
    """Any arrival order, with redeliveries and late earlier posts, gives the waits of a plain recomputation."""
    events = [Event(kind, f"e{n}", "c", "acme", "facebook", at, kind == "reply" and flag,
                    agent if kind == "reply" else None)
              for kind, n, at, flag, agent in raw]  # fmt: skip
    # A redelivery carries the same event as the first delivery: make duplicates identical.
    first = {}
    events = [first.setdefault((e.kind, e.event_id), e) for e in events]
    policy = Policy(automated, None if silence is None else silence * 60 * MICROS)
    expected = plain_waits(events, policy)
    in_order = sorted(events, key=lambda e: e.created_at)
    shuffled = events[:]
    rnd.shuffle(shuffled)
    for arrival in (events, in_order, shuffled):
        state: Thread | None = None
        for event in arrival:
            state, _ = apply(state, event)
        assert list(waits(state or Thread(), policy)) == expected


def test_of_two_replies_at_one_instant_the_smaller_event_id_answers() -> None:
    """The wait's agent is the one whose reply has the smaller event_id, whatever arrived first."""
    b = Event("reply", "r-b", "c", "acme", "facebook", T0 + 60 * MICROS, agent="bo")
    a = Event("reply", "r-a", "c", "acme", "facebook", T0 + 60 * MICROS, agent="al")
    for order in ((b, a), (a, b)):
        (wait,) = waits(fold(post(0), *order))
        assert wait.agent == "al"


def test_an_answer_without_an_agent_is_unknown() -> None:
    """A reply that names no agent answers as `unknown`; an unanswered wait has no agent."""
    assert [w.agent for w in waits(fold(post(0), reply(5), post(10)))] == ["unknown", None]


def test_a_stored_state_takes_its_own_size_not_a_serialiser_buffer() -> None:
    """A `memory://` store keeps each thread's bytes: a two-event state must not hold kilobytes."""
    import tracemalloc

    state = fold(post(0), reply(5))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [state.to_bytes() for _ in range(1_000)]
        per_state = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_state < 4 * len(kept[0])  # orjson's own result took 4 KiB each


@settings(max_examples=100, deadline=None)
@given(_events, st.randoms())
def test_a_stored_states_last_event_is_read_without_the_thread(
    raw: list[tuple[str, int, int, bool, str | None]], rnd: random.Random
) -> None:
    """A replay reads each state's latest event time alone (`last_event_of`): the thread's own."""
    from socialsla.core.thread import last_event_of

    events = [Event(kind, f"e{n}", "c", "acme", "facebook", at) for kind, n, at, _, _ in raw]
    rnd.shuffle(events)
    state: Thread | None = None
    for event in events:
        state, _ = apply(state, event)
    stored = (state or Thread()).to_bytes()
    assert last_event_of(stored) == (state or Thread()).last_event_at
    with pytest.raises(ValueError, match="not a thread row"):
        last_event_of(b'{"an": "older row"}')
