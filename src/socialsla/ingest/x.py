"""X's Account Activity API: direct messages and public posts of one subscribed brand account.

Each delivery is about one subscribed account, `for_user_id`: the brand. X
sends the brand's own messages back to it, so "who sent it" decides between a
customer's post and the brand's reply. A customer's direct messages form one
thread with the brand, and so do a customer's public mentions: X has no notion
of a thread that spans both, and a mention three weeks after the last one is
split off later, by the workers' rule for a new conversation after silence.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import partial
from typing import Final

from socialsla.core.events import InvalidEvent, parse_time
from socialsla.ingest.delivery import Delivery, Fields, Intake, InvalidItem, event_fields, rejected
from socialsla.ingest.fields import as_id, get, identifier, instant, kind_of, optional_id, required, shown
from socialsla.ingest.names import Names

#: The arrays that carry messages; every other array (likes, follows, typing, reads,
#: deletions) is ignored.
_MAPPED: Final = ("direct_message_events", "tweet_create_events")
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
#: X's v1.1 time, "Wed Jun 19 11:05:02 +0000 2024"; English names whatever the locale.
_TWITTER_TIME: Final = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([0-9]{1,2}) ([0-9]{2}:[0-9]{2}:[0-9]{2}) "
    r"([+-][0-9]{2})([0-9]{2}) ([0-9]{4})"
)


@dataclass(frozen=True, slots=True)
class _Brand:
    """The subscribed account a delivery is about."""

    user_id: str
    account: str
    automated_app_ids: Collection[str]


def map_x(body: object, names: Names, automated_app_ids: Collection[str], now_us: int) -> Delivery:
    """Map one parsed Account Activity delivery; `automated_app_ids` are the team's bots (as strings)."""
    if not isinstance(body, dict):
        return rejected(body, f"body must be a JSON object, got {kind_of(body)}")
    intake = Intake(now_us)
    others = sum(len(value) for key, value in body.items() if key not in _MAPPED and isinstance(value, list))
    if not any(key in body for key in _MAPPED):
        # Likes, follows, reads; revocations and replay notices (which have no for_user_id).
        intake.ignore(max(others, 1))
        return intake.delivery
    try:
        user_id = identifier(body, "for_user_id")
    except InvalidItem as exc:
        return rejected(body, exc.reason)
    intake.ignore(others)
    brand = _Brand(user_id, names.account("x", user_id), automated_app_ids)
    for key, build in (("direct_message_events", _direct_message), ("tweet_create_events", _tweet)):
        items = body.get(key, [])
        if not isinstance(items, list):
            intake.reject(body, f"{key} must be an array, got {kind_of(items)}")
            continue
        for item in items:
            intake.take(item, partial(build, item, brand))
    return intake.delivery


def _direct_message(item: object, brand: _Brand) -> Fields | None:
    """A direct message: sent by the brand it is a reply to its recipient, else a post from its sender."""
    if not isinstance(item, dict):
        raise InvalidItem(f"direct message event must be an object, got {kind_of(item)}")
    if item.get("type") != "message_create":
        return None
    sender = identifier(item, "message_create.sender_id")
    recipient = identifier(item, "message_create.target.recipient_id")
    by_brand = sender == brand.user_id
    customer = recipient if by_brand else sender
    fields = event_fields(
        "reply" if by_brand else "post",
        event_id=identifier(item, "id"),
        conversation_id=f"x-dm:{brand.user_id}:{customer}",
        account=brand.account,
        channel="x",
        created_us=instant(required(item, "created_timestamp"), "created_timestamp"),
    )
    if by_brand:
        app_id = optional_id(item, "message_create.source_app_id")
        fields["automated"] = app_id in brand.automated_app_ids
    return fields


def _tweet(item: object, brand: _Brand) -> Fields | None:
    """A post that mentions the brand is a post from its author; the brand's answer to
    someone else is a reply to that person. Retweets and the brand's own posts are no messages."""
    if not isinstance(item, dict):
        raise InvalidItem(f"tweet must be an object, got {kind_of(item)}")
    author = _id_str(item, "user.id")
    if author != brand.user_id:
        if item.get("retweeted_status") is not None:
            return None
        kind, customer = "post", author
    else:
        to = _optional_id_str(item, "in_reply_to_user_id")
        if to is None or to == brand.user_id:
            return None
        kind, customer = "reply", to
    return event_fields(
        kind,
        event_id=_id_str(item, "id"),
        conversation_id=f"x-public:{brand.user_id}:{customer}",
        account=brand.account,
        channel="x",
        created_us=_tweet_time(item),
    )


def _optional_id_str(item: dict[str, object], path: str) -> str | None:
    """An id of a v1.1 object: `<path>_str` exactly, else the JSON number `<path>`.

    The string is preferred because JavaScript readers (and X's own docs) round
    the number above 2^53; it is a JSON integer for us, exact either way.
    """
    text = get(item, path + "_str")
    if text is not None:
        return as_id(text, path + "_str")
    return optional_id(item, path)


def _id_str(item: dict[str, object], path: str) -> str:
    found = _optional_id_str(item, path)
    if found is None:
        raise InvalidItem(f"missing {path}_str")
    return found


def _tweet_time(item: dict[str, object]) -> int:
    """`timestamp_ms` when X sends it (a number or a string of digits), else `created_at`."""
    stamp = item.get("timestamp_ms")
    if stamp is not None:
        return instant(stamp, "timestamp_ms")
    return twitter_time(required(item, "created_at"), "created_at")


def twitter_time(value: object, label: str) -> int:
    """X's v1.1 time ("Wed Jun 19 11:05:02 +0000 2024") as epoch microseconds."""
    match = _TWITTER_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or match[1] not in _MONTHS:
        raise InvalidItem(f"{label} {shown(value)} is not a time like 'Wed Jun 19 11:05:02 +0000 2024'")
    month, day, clock, hours, minutes, year = match.groups()
    text = f"{year}-{_MONTHS[month]:02d}-{int(day):02d}T{clock}{hours}:{minutes}"
    try:
        return parse_time(text, label)
    except InvalidEvent as exc:
        raise InvalidItem(exc.reason) from None
