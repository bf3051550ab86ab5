"""Conversation state (SPEC §2)."""

from __future__ import annotations

import pytest

from socialsla.conversation import (
    MAX_SEEN,
    Conversation,
    Status,
    apply,
    expired,
    status_at,
)
from socialsla.events import MICROS, Event

R = 24 * 3600 * MICROS
T0 = 1_768_000_000 * MICROS


def post(minute: float, event_id: str | None = None) -> Event:
    at = T0 + round(minute * 60 * MICROS)
    return Event("post", event_id or f"p{minute}", "c", "acme", "facebook", at)


def reply(minute: float, event_id: str | None = None, automated: bool = False) -> Event:
    at = T0 + round(minute * 60 * MICROS)
    return Event("reply", event_id or f"r{minute}", "c", "acme", "facebook", at, automated)


def fold(*events: Event, count_automated: bool = False) -> Conversation:
    state: Conversation | None = None
    for event in events:
        state, _ = apply(state, event, count_automated)
    assert state is not None
    return state


def minutes(state: Conversation) -> tuple[float | None, float | None]:
    def m(v: int | None) -> float | None:
        return None if v is None else (v - T0) / 60 / MICROS

    return m(state.opened_at), m(state.first_reply_at)


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
    assert minutes(fold(*events, count_automated=True)) == (0, 1)


def test_duplicates_are_ignored_after_the_first() -> None:
    """A redelivered event (same type and id) is reported as a duplicate and changes nothing."""
    state = fold(post(0, "a"), reply(10, "b"))
    again, duplicate = apply(state, reply(10, "b"))
    assert duplicate
    assert again == state


def test_conflicting_redelivery_cannot_rewrite_history() -> None:
    """A duplicate id with a different time is ignored, as SPEC §2 says."""
    state = fold(post(0, "a"), reply(10, "b"))
    again, duplicate = apply(state, reply(2, "b"))
    assert duplicate
    assert minutes(again) == (0, 10)


def test_post_and_reply_may_share_an_event_id() -> None:
    """Duplicates are keyed by type and id, so a post and a reply with one id are distinct."""
    assert minutes(fold(post(0, "x"), reply(3, "x"))) == (0, 3)


def test_seen_fingerprints_are_bounded() -> None:
    """A very long conversation keeps at most MAX_SEEN fingerprints."""
    state = fold(post(0), *(reply(i + 1, f"r{i}") for i in range(MAX_SEEN + 50)))
    assert len(state.seen) == MAX_SEEN
    assert minutes(state) == (0, 1)


def test_state_round_trips_through_bytes() -> None:
    """Serialised state reads back identical."""
    state = fold(reply(-3), post(0), reply(4))
    assert Conversation.from_bytes(state.to_bytes()) == state


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
    """Status at T follows SPEC §2, including its boundaries."""
    assert status_at(fold(*events), T0 + at_minute * 60 * MICROS, R) == expected


def test_expiry_waits_for_the_last_event() -> None:
    """A conversation expires only when its newest event is older than the horizon."""
    state = fold(post(0), reply(60))
    horizon = 8 * 24 * 3600 * MICROS
    assert not expired(state, T0 + 60 * 60 * MICROS + horizon, horizon)
    assert expired(state, T0 + 60 * 60 * MICROS + horizon + 1, horizon)
