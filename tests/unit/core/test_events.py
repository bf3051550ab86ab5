"""Decoding of events (docs/semantics.md, "Events")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialsla.core.events import MICROS, Event, InvalidEvent, decode, encode, format_time, parse_time

NOW = parse_time("2026-01-10T12:00:00Z")
BASE = {
    "type": "post",
    "event_id": "e1",
    "conversation_id": "c1",
    "account": "acme",
    "channel": "facebook",
    "created_at": "2026-01-10T11:00:00Z",
}


def raw(**changes: object) -> bytes:
    body = {**BASE, **changes}
    return orjson.dumps({k: v for k, v in body.items() if v is not ...})


def test_a_post_decodes_to_microseconds() -> None:
    """A well-formed post becomes an Event with its time in epoch microseconds."""
    event = decode(raw(), NOW)
    assert event == Event("post", "e1", "c1", "acme", "facebook", NOW - 3600 * MICROS)


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        pytest.param("2026-01-10T11:00:00Z", "2026-01-10T11:00:00Z", id="zulu"),
        pytest.param("2026-01-10T12:00:00+01:00", "2026-01-10T11:00:00Z", id="positive-offset"),
        pytest.param("2026-01-10T06:30:00-04:30", "2026-01-10T11:00:00Z", id="negative-offset"),
        pytest.param("2026-01-10t11:00:00.250z", "2026-01-10T11:00:00.25Z", id="lowercase-fraction"),
        pytest.param("2026-01-10 11:00:00.1234567Z", "2026-01-10T11:00:00.123456Z", id="space-nanos"),
        pytest.param(1768042800, "2026-01-10T11:00:00Z", id="epoch-int"),
        pytest.param(1768042800.5, "2026-01-10T11:00:00.5Z", id="epoch-float"),
    ],
)
def test_timestamp_formats_agree(created_at: object, expected: str) -> None:
    """Every accepted timestamp form lands on the same instant."""
    assert format_time(decode(raw(created_at=created_at), NOW).created_at) == expected


def test_reply_fields_and_automation() -> None:
    """A reply keeps its automated flag and drops agent and unknown fields."""
    event = decode(raw(type="reply", agent="bob", automated=True, text="hi", extra=[1]), NOW)
    assert (event.kind, event.automated) == ("reply", True)


def test_text_and_author_are_not_kept() -> None:
    """Nothing of the message text or author survives decoding and re-encoding."""
    event = decode(raw(author="customer-42", text="my secret order number"), NOW)
    assert b"customer-42" not in encode(event)
    assert b"secret" not in encode(event)


def test_encode_round_trips() -> None:
    """encode then decode gives the same event back, of every type."""
    for body in (
        raw(type="reply", automated=True),
        raw(type="resolve", agent="ann"),
        raw(type="feedback", survey="nps", score=0),
        raw(type="feedback", survey="ces", score=7, agent="ignored"),
    ):
        event = decode(body, NOW)
        assert decode(encode(event), NOW) == event


def test_resolve_and_feedback_keep_only_what_the_numbers_need() -> None:
    """A resolve keeps no agent and never counts as automated; a feedback keeps its survey and score."""
    resolve = decode(raw(type="resolve", agent="ann", automated=True), NOW)
    assert (resolve.kind, resolve.agent, resolve.automated, resolve.survey) == ("resolve", None, False, None)
    answer = decode(raw(type="feedback", survey="csat", score=5, agent="ann"), NOW)
    assert (answer.kind, answer.survey, answer.score, answer.agent) == ("feedback", "csat", 5, None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"{not json", "not valid JSON", id="bad-json"),
        pytest.param(b"\xff\xfe{}", "not valid JSON", id="not-utf8"),
        pytest.param(b"[1, 2]", "not a JSON object, got list", id="array"),
        pytest.param(b'"post"', "not a JSON object, got str", id="string"),
        pytest.param(b"NaN", "not valid JSON", id="nan"),
        pytest.param(raw(type=...), "missing field type", id="no-type"),
        pytest.param(
            raw(type="comment"),
            'type must be "post", "reply", "resolve" or "feedback", got \'comment\'',
            id="bad-type",
        ),
        pytest.param(
            raw(type="feedback", survey="csat", score=4.0),
            "score must be a JSON integer, got 4.0",
            id="float-score",
        ),
        pytest.param(
            raw(type="feedback", survey="csat", score="5"),
            "score must be a JSON integer, got '5'",
            id="str-score",
        ),
        pytest.param(
            raw(type="feedback", survey="csat", score=True),
            "score must be a JSON integer, got True",
            id="bool-score",
        ),
        pytest.param(
            raw(type="feedback", survey="csat", score=0), "score 0 is outside csat's 1-5", id="csat-0"
        ),
        pytest.param(
            raw(type="feedback", survey="nps", score=11), "score 11 is outside nps's 0-10", id="nps-11"
        ),
        pytest.param(raw(type="feedback", survey="ces", score=8), "score 8 is outside ces's 1-7", id="ces-8"),
        pytest.param(
            raw(type="feedback", survey="sus", score=3),
            'survey must be "csat", "nps" or "ces", got \'sus\'',
            id="unknown-survey",
        ),
        pytest.param(raw(type="feedback", score=3), "missing field survey", id="no-survey"),
        pytest.param(raw(type="feedback", survey="nps"), "missing field score", id="no-score"),
        pytest.param(raw(type="resolve", agent=3), "agent must be a str, got int", id="int-resolve-agent"),
        pytest.param(raw(conversation_id=...), "missing field conversation_id", id="no-conversation"),
        pytest.param(raw(event_id=7), "event_id must be a string, got int", id="int-event-id"),
        pytest.param(raw(event_id=""), "event_id must be 1-256 characters, got 0", id="empty-id"),
        pytest.param(raw(event_id="x" * 257), "event_id must be 1-256 characters, got 257", id="long-id"),
        pytest.param(
            raw(channel="Facebook"),
            "channel 'Facebook' does not match [a-z0-9_-]{1,32}",
            id="uppercase-channel",
        ),
        pytest.param(
            raw(account="acme corp"),
            "account 'acme corp' does not match [A-Za-z0-9_.@:-]{1,64}",
            id="space-in-account",
        ),
        pytest.param(raw(account="a" * 65), "does not match [A-Za-z0-9_.@:-]{1,64}", id="long-account"),
        pytest.param(raw(created_at=...), "missing field created_at", id="no-time"),
        pytest.param(raw(created_at="2026-01-10T11:00:00"), "created_at has no UTC offset", id="naive"),
        pytest.param(raw(created_at="yesterday"), "is not an RFC 3339 timestamp", id="words"),
        pytest.param(raw(created_at="2026-02-30T11:00:00Z"), "is not a valid time", id="feb-30"),
        pytest.param(raw(created_at="2026-01-10T11:00:00+25:00"), "is not a valid time", id="offset-25h"),
        pytest.param(raw(created_at=True), "got bool", id="bool-time"),
        pytest.param(raw(created_at=[1]), "got list", id="list-time"),
        pytest.param(raw(created_at=1e300), "is out of range", id="huge-epoch"),
        pytest.param(
            raw(created_at="2026-01-10T12:05:01Z"),
            "created_at 2026-01-10T12:05:01Z is more than 5 minutes ahead of the clock",
            id="future",
        ),
        pytest.param(raw(author=5), "author must be a str, got int", id="int-author"),
        pytest.param(
            raw(type="reply", automated="yes"),
            "automated must be a bool, got str",
            id="str-automated",
        ),
    ],
)
def test_invalid_events_say_why(body: bytes, reason: str) -> None:
    """Each kind of invalid event is rejected with a precise reason."""
    with pytest.raises(InvalidEvent) as caught:
        decode(body, NOW)
    assert reason in caught.value.reason


def test_five_minutes_ahead_is_still_accepted() -> None:
    """An event exactly 5 minutes ahead of the clock is within tolerance."""
    assert decode(raw(created_at="2026-01-10T12:05:00Z"), NOW).created_at == NOW + 300 * MICROS


def test_reasons_stay_short_for_huge_values() -> None:
    """A hostile huge value is not echoed whole into the reason."""
    with pytest.raises(InvalidEvent) as caught:
        decode(raw(channel="X" * 100_000), NOW)
    assert len(caught.value.reason) < 120


def _parse_time_by_datetime(text: str) -> int | None:
    """The oracle: the timestamp through aware datetimes, as parse_time computed it before; None if invalid."""
    match = re.fullmatch(
        r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})", text
    )
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        zone = UTC
        if offset not in ("Z", "z"):
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                return None
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        micros = int((fraction or "0")[:6].ljust(6, "0"))
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, zone)
    except ValueError:
        return None
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def _two_digits(most: int) -> st.SearchStrategy[str]:
    """Two digits, mostly up to one past the field's largest value (its edges), sometimes any."""
    return st.one_of(st.integers(0, most + 1), st.integers(0, 99)).map(lambda n: f"{n:02d}")


@given(
    year=st.one_of(st.sampled_from([0, 1, 1900, 1970, 2000, 2024, 9999]), st.integers(0, 9999)).map(
        lambda n: f"{n:04d}"
    ),
    month=_two_digits(12),
    day=_two_digits(31),
    hour=_two_digits(23),
    minute=_two_digits(59),
    second=_two_digits(59),
    separator=st.sampled_from("Tt "),
    fraction=st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9).map(lambda f: "." + f)),
    offset=st.one_of(
        st.sampled_from(["Z", "z"]),
        st.tuples(st.sampled_from("+-"), _two_digits(23), _two_digits(59)).map(
            lambda t: f"{t[0]}{t[1]}:{t[2]}"
        ),
    ),
)
def test_parse_time_equals_aware_datetimes(
    year: str,
    month: str,
    day: str,
    hour: str,
    minute: str,
    second: str,
    separator: str,
    fraction: str,
    offset: str,
) -> None:
    """parse_time's integer arithmetic accepts and places every timestamp as aware datetimes do."""
    text = f"{year}-{month}-{day}{separator}{hour}:{minute}:{second}{fraction}{offset}"
    expected = _parse_time_by_datetime(text)
    if expected is None:
        with pytest.raises(InvalidEvent, match="is not a valid time"):
            parse_time(text)
    else:
        assert parse_time(text) == expected
