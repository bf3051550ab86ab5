"""Events (docs/semantics.md, "Events"): decoding raw bytes into validated values.

Four kinds: a customer's post, a brand's reply, a `resolve` (an agent marked the
thread done) and a customer's `feedback` (a CSAT, NPS or CES answer).

Decoding is the only place bad input is judged, so every rejection carries a
precise, bounded reason that ends up beside the original bytes in the
dead-letter sink. Message text and authors are never kept: nothing downstream
needs them, and what is not kept cannot leak. A reply's `agent` is kept, for
the per-agent figures.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal, NamedTuple

import orjson

Kind = Literal["post", "reply", "resolve", "feedback"]

#: Each feedback survey and the scores it allows, ends included.
SURVEYS: Final = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}

MICROS: Final = 1_000_000
#: How far ahead of the processing clock an event may claim to be; further ahead, it is invalid.
MAX_FUTURE_US: Final = 5 * 60 * MICROS

ACCOUNT_PATTERN: Final = "[A-Za-z0-9_.@:-]{1,64}"
CHANNEL_PATTERN: Final = "[a-z0-9_-]{1,32}"
_ACCOUNT_RE: Final = re.compile(ACCOUNT_PATTERN)
_CHANNEL_RE: Final = re.compile(CHANNEL_PATTERN)
_RFC3339_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?"
)
_ID_MAX: Final = 256
# datetime's range, so that every accepted instant can be printed back.
_MIN_EPOCH_S: Final = -62_135_596_800
_MAX_EPOCH_S: Final = 253_402_300_799
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


class InvalidEvent(ValueError):
    """An event that cannot be used (see `decode`); `reason` is short, bounded and safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Event(NamedTuple):
    """A validated event; times are integer microseconds since the epoch.

    A named tuple, not a frozen dataclass: as immutable, and one is built per
    event, where a frozen dataclass's constructor costs nearly three times as much.
    """

    kind: Kind
    event_id: str
    conversation_id: str
    account: str
    channel: str
    created_at: int
    automated: bool = False
    #: The agent who sent a reply, for the per-agent figures; None when absent.
    agent: str | None = None
    #: A feedback's survey (`csat`, `nps` or `ces`) and score.
    survey: str | None = None
    score: int | None = None


def _show(value: object) -> str:
    """Echo a bad value in a reason without letting a huge or hostile value through.

    JSON nested about a thousand deep is still JSON to orjson (its limit is
    1024), but deeper than `repr` can recurse: such a value is named, not shown.
    """
    try:
        text = repr(value)
    except RecursionError:
        return f"(a {type(value).__name__} nested too deeply to show)"
    return text if len(text) <= 40 else text[:37] + "..."


def _required_str(obj: dict[str, Any], name: str) -> str:
    if name not in obj:
        raise InvalidEvent(f"missing field {name}")
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, got {type(value).__name__}")
    return value


def _identifier(obj: dict[str, Any], name: str) -> str:
    value = _required_str(obj, name)
    if not 1 <= len(value) <= _ID_MAX:
        raise InvalidEvent(f"{name} must be 1-{_ID_MAX} characters, got {len(value)}")
    return value


def _patterned(obj: dict[str, Any], name: str, pattern: re.Pattern[str], text: str) -> str:
    value = _required_str(obj, name)
    if pattern.fullmatch(value) is None:
        raise InvalidEvent(f"{name} {_show(value)} does not match {text}")
    return value


def parse_time(value: object, field: str = "created_at") -> int:
    """Turn an RFC 3339 string with an offset, or epoch seconds, into epoch microseconds."""
    if isinstance(value, bool):
        raise InvalidEvent(f"{field} must be an RFC 3339 string or epoch seconds, got bool")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not _MIN_EPOCH_S <= value <= _MAX_EPOCH_S:
            raise InvalidEvent(f"{field} {_show(value)} is out of range")
        if isinstance(value, int):
            return value * MICROS
        return round(value * MICROS)
    if not isinstance(value, str):
        raise InvalidEvent(f"{field} must be an RFC 3339 string or epoch seconds, got {type(value).__name__}")
    match = _RFC3339_RE.fullmatch(value)
    if match is None:
        raise InvalidEvent(f"{field} {_show(value)} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset is None:
        raise InvalidEvent(f"{field} has no UTC offset")
    # Integer arithmetic, not aware datetimes: this runs once per event and was about
    # a sixth of stage 1's own cost. `date` still judges the calendar (leap years).
    hours, minutes, seconds = int(hour), int(minute), int(second)
    offset_hours, offset_minutes = (0, 0) if offset in ("Z", "z") else (int(offset[1:3]), int(offset[4:6]))
    if hours > 23 or minutes > 59 or seconds > 59 or offset_hours > 23 or offset_minutes > 59:
        raise InvalidEvent(f"{field} {_show(value)} is not a valid time")
    offset_s = (offset_hours * 3600 + offset_minutes * 60) * (-1 if offset[0] == "-" else 1)
    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise InvalidEvent(f"{field} {_show(value)} is not a valid time") from None
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    return (days * 86_400 + hours * 3600 + minutes * 60 + seconds - offset_s) * MICROS + micros


def format_time(micros: int) -> str:
    """Print epoch microseconds as RFC 3339 UTC, with a fraction only when there is one."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _optional(obj: dict[str, Any], name: str, kind: type) -> None:
    value = obj.get(name)
    if value is not None and not isinstance(value, kind):
        raise InvalidEvent(f"{name} must be a {kind.__name__}, got {type(value).__name__}")


def decode(raw: bytes | str, now_us: int) -> Event:
    """Validate one raw event (docs/semantics.md, "Events"), judging the future against `now_us`."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {str(exc)[:80]}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent(f"not a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind is None:
        raise InvalidEvent("missing field type")
    if kind not in ("post", "reply", "resolve", "feedback"):
        raise InvalidEvent(f'type must be "post", "reply", "resolve" or "feedback", got {_show(kind)}')
    event_id = _identifier(obj, "event_id")
    conversation_id = _identifier(obj, "conversation_id")
    account = _patterned(obj, "account", _ACCOUNT_RE, ACCOUNT_PATTERN)
    channel = _patterned(obj, "channel", _CHANNEL_RE, CHANNEL_PATTERN)
    if "created_at" not in obj:
        raise InvalidEvent("missing field created_at")
    created_at = parse_time(obj["created_at"])
    if created_at > now_us + MAX_FUTURE_US:
        raise InvalidEvent(f"created_at {format_time(created_at)} is more than 5 minutes ahead of the clock")
    if kind == "post":
        _optional(obj, "author", str)
        return Event(kind, event_id, conversation_id, account, channel, created_at)
    if kind == "reply":
        _optional(obj, "agent", str)
        _optional(obj, "automated", bool)
        automated = obj.get("automated") is True
        return Event(
            kind, event_id, conversation_id, account, channel, created_at, automated, obj.get("agent")
        )
    if kind == "resolve":
        _optional(obj, "agent", str)  # a resolve may name its agent, though no number is kept per agent
        return Event(kind, event_id, conversation_id, account, channel, created_at)
    survey, score = _survey_and_score(obj)
    return Event(kind, event_id, conversation_id, account, channel, created_at, survey=survey, score=score)


def _survey_and_score(obj: dict[str, Any]) -> tuple[str, int]:
    """A feedback's survey and score: a JSON integer (no boolean) within the survey's scale."""
    survey = _required_str(obj, "survey")
    if survey not in SURVEYS:
        raise InvalidEvent(f'survey must be "csat", "nps" or "ces", got {_show(survey)}')
    if "score" not in obj:
        raise InvalidEvent("missing field score")
    score = obj["score"]
    if isinstance(score, bool) or not isinstance(score, int):
        raise InvalidEvent(f"score must be a JSON integer, got {_show(score)}")
    low, high = SURVEYS[survey]
    if not low <= score <= high:
        raise InvalidEvent(f"score {score} is outside {survey}'s {low}-{high}")
    return survey, score


def encode(event: Event) -> bytes:
    """Write an event back as the JSON `decode` reads (used by the importer and traffic tools)."""
    body: dict[str, Any] = {
        "type": event.kind,
        "event_id": event.event_id,
        "conversation_id": event.conversation_id,
        "account": event.account,
        "channel": event.channel,
        "created_at": format_time(event.created_at),
    }
    if event.automated:
        body["automated"] = True
    if event.agent is not None:
        body["agent"] = event.agent
    if event.survey is not None:
        body["survey"] = event.survey
        body["score"] = event.score
    return orjson.dumps(body)
