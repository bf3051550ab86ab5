"""Meta's webhooks: Messenger and Instagram Direct messages, feedback cards, Page and Instagram comments.

One webhook carries both networks: `object` is `page` for Facebook and
`instagram` for Instagram, and each `entry` is one of the brand's accounts
(its id is the account). Direct messages come in `messaging` (or in `standby`
while another app, such as a bot platform, owns the thread); comments come in
`changes`.

Who is the customer: in a customer's message the sender is the customer; in an
echo (a message the brand sent, from any app or from Meta Business Suite) the
roles are swapped and the recipient is the customer. A direct-message thread
is the pair (brand account, customer). A comment thread is the top-level
comment and every reply under it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import partial
from typing import Final

from socialsla.core.events import SURVEYS
from socialsla.ingest.delivery import Delivery, Fields, Intake, InvalidItem, event_fields, rejected
from socialsla.ingest.fields import as_id, get, identifier, instant, kind_of, optional_id, required, shown
from socialsla.ingest.names import Names

_CHANNELS: Final = {"page": "facebook", "instagram": "instagram"}
#: The start of every conversation id and feedback event id, per channel.
_PREFIXES: Final = {"facebook": "fb", "instagram": "ig"}
_SCORE: Final = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the items of one `entry` share: the channel and the brand's account."""

    channel: str
    #: The entry's `id`: the Page or Instagram account; None when the entry has none.
    account_id: str | None
    #: The entry's `time` as sent (Meta's time of the notification), None when absent.
    time: object
    names: Names
    automated_app_ids: Collection[str]

    @property
    def prefix(self) -> str:
        """How this channel's thread and feedback ids start: `fb` or `ig`."""
        return _PREFIXES[self.channel]

    def brand(self, item: object, path: str) -> str:
        """The brand's account id: the entry's, or the item's own side when the entry has none."""
        return self.account_id if self.account_id is not None else identifier(item, path)

    def account(self, account_id: str) -> str:
        """The account name of a Page or Instagram account id."""
        return self.names.account("meta", account_id)


def map_meta(body: object, names: Names, automated_app_ids: Collection[str], now_us: int) -> Delivery:
    """Map one parsed delivery of Meta's webhook; `automated_app_ids` are the team's bots (as strings)."""
    if not isinstance(body, dict):
        return rejected(body, f"body must be a JSON object, got {kind_of(body)}")
    kind = body.get("object")
    if not isinstance(kind, str):
        return rejected(body, f"object must be a string, got {kind_of(kind)}")
    entries = body.get("entry")
    intake = Intake(now_us)
    if kind not in _CHANNELS:
        # Other products (WhatsApp, users, permissions) share the endpoint: not ours to map.
        intake.ignore()
        return intake.delivery
    if not isinstance(entries, list):
        return rejected(body, f"entry must be an array, got {kind_of(entries)}")
    for entry in entries:
        _entry(intake, entry, _CHANNELS[kind], names, automated_app_ids)
    return intake.delivery


def _entry(
    intake: Intake, entry: object, channel: str, names: Names, automated_app_ids: Collection[str]
) -> None:
    """One of the brand's accounts: its direct messages, standby messages and changes."""
    if not isinstance(entry, dict):
        intake.reject(entry, f"entry must be an object, got {kind_of(entry)}")
        return
    try:
        account_id = optional_id(entry, "id")
    except InvalidItem as exc:
        intake.reject(entry, f"entry {exc.reason}")
        return
    context = _Entry(channel, account_id, entry.get("time"), names, automated_app_ids)
    for key in ("messaging", "standby"):
        for item in _items(intake, entry, key):
            _messaging(intake, item, context)
    for change in _changes(intake, entry):
        intake.take(change, partial(_change, change, context))


def _items(intake: Intake, entry: dict[str, object], key: str) -> list[object]:
    """An entry's array under `key`; one that is not an array dead-letters the entry."""
    items = entry.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        intake.reject(entry, f"entry {key} must be an array, got {kind_of(items)}")
        return []
    return items


def _changes(intake: Intake, entry: dict[str, object]) -> list[object]:
    """An entry's changes. Instagram's examples for Business Login put the one change's
    `field` and `value` in the entry itself: such an entry is its own change."""
    if "changes" not in entry and "field" in entry:
        return [entry]
    return _items(intake, entry, "changes")


def _messaging(intake: Intake, item: object, context: _Entry) -> None:
    """One object of `messaging` or `standby`: a message, a feedback card, or something we ignore."""
    if isinstance(item, dict) and "messaging_feedback" in item:
        _feedback(intake, item, context)
    elif isinstance(item, dict) and "message" in item:
        intake.take(item, partial(_message, item, context))
    elif isinstance(item, dict):
        intake.ignore()  # reads, deliveries, reactions, edits, postbacks, handovers, ...
    else:
        intake.reject(item, f"messaging item must be an object, got {kind_of(item)}")


def _message(item: dict[str, object], context: _Entry) -> Fields | None:
    """A customer's message is a post; the brand's echo is a reply to the echo's recipient."""
    message = item["message"]
    if not isinstance(message, dict):
        raise InvalidItem(f"message must be an object, got {kind_of(message)}")
    if message.get("is_deleted") is True:
        return None
    echo = message.get("is_echo") is True
    customer_path, brand_path = ("recipient.id", "sender.id") if echo else ("sender.id", "recipient.id")
    customer = identifier(item, customer_path)
    account_id = context.brand(item, brand_path)
    fields = event_fields(
        "reply" if echo else "post",
        event_id=identifier(item, "message.mid"),
        conversation_id=f"{context.prefix}-dm:{account_id}:{customer}",
        account=context.account(account_id),
        channel=context.channel,
        created_us=instant(required(item, "timestamp"), "timestamp"),
    )
    if echo:
        # A reply typed in Meta Business Suite comes from Meta's Page Inbox app:
        # a person, so only the team's own bot apps make a reply automated.
        fields["automated"] = optional_id(message, "app_id") in context.automated_app_ids
    return fields


def _feedback(intake: Intake, item: dict[str, object], context: _Entry) -> None:
    """A customer feedback card: one feedback event per CSAT, NPS or CES question answered."""
    try:
        base = _feedback_base(item, context)
        answers = _answers(item)
    except InvalidItem as exc:
        intake.reject(item, exc.reason)
        return
    if not answers:
        intake.ignore()  # a card of free-form questions only
    for screen_id, question_id, question in answers:
        intake.take(item, partial(_answer, base, screen_id, question_id, question))


def _feedback_base(item: dict[str, object], context: _Entry) -> Fields:
    """The fields a card's answers share; `event_id` holds the start of each answer's id."""
    customer = identifier(item, "sender.id")
    account_id = context.brand(item, "recipient.id")
    # Meta's documented card has no `timestamp`; the entry's `time` is when it was submitted.
    when, label = item.get("timestamp"), "timestamp"
    if when is None:
        when, label = context.time, "entry time"
    if when is None:
        raise InvalidItem("missing timestamp (and entry time)")
    created_us = instant(when, label)
    return event_fields(
        "feedback",
        event_id=f"{context.prefix}-feedback:{account_id}:{customer}:{created_us}",
        conversation_id=f"{context.prefix}-dm:{account_id}:{customer}",
        account=context.account(account_id),
        channel=context.channel,
        created_us=created_us,
    )


def _answers(item: dict[str, object]) -> list[tuple[str, str, dict[str, object]]]:
    """Each (screen id, question id, question) of a card whose type is a survey we count."""
    screens = get(item, "messaging_feedback.feedback_screens")
    if not isinstance(screens, list):
        raise InvalidItem(f"messaging_feedback.feedback_screens must be an array, got {kind_of(screens)}")
    answers: list[tuple[str, str, dict[str, object]]] = []
    for screen in screens:
        questions = get(screen, "questions")
        if not isinstance(questions, dict):
            raise InvalidItem(f"feedback screen questions must be an object, got {kind_of(questions)}")
        screen_id = as_id(get(screen, "screen_id"), "feedback screen_id")
        answers.extend(
            (screen_id, question_id, question)
            for question_id, question in questions.items()
            if isinstance(question, dict) and _survey(question) in SURVEYS
        )
    return answers


def _survey(question: dict[str, object]) -> str | None:
    """A question's score type; Meta's own list of them writes "csat " with a space."""
    survey = question.get("type")
    return survey.strip() if isinstance(survey, str) else None


def _answer(base: Fields, screen_id: str, question_id: str, question: dict[str, object]) -> Fields:
    """One answered question; Meta sends the score as a string of digits."""
    payload = question.get("payload")
    if not isinstance(payload, str) or _SCORE.fullmatch(payload) is None:
        raise InvalidItem(f"question {question_id!r} payload must be a score in digits, got {shown(payload)}")
    return {
        **base,
        "event_id": f"{base['event_id']}:{screen_id}:{question_id}",
        "survey": _survey(question),
        "score": int(payload),
    }


def _change(change: object, context: _Entry) -> Fields | None:
    """A Page `feed` comment or an Instagram `comments` comment; every other change is ignored."""
    if not isinstance(change, dict):
        raise InvalidItem(f"change must be an object, got {kind_of(change)}")
    if context.channel == "facebook" and change.get("field") == "feed":
        return _page_comment(change, context)
    if context.channel == "instagram" and change.get("field") == "comments":
        return _instagram_comment(change, context)
    return None


def _page_comment(change: dict[str, object], context: _Entry) -> Fields | None:
    """A comment added on a Page post. A top-level comment's parent is the post itself,
    and it starts a thread; a reply belongs to the thread of the comment it answers."""
    if get(change, "value.item") != "comment" or get(change, "value.verb") != "add":
        return None  # posts, likes, reactions, edits, removals
    comment_id = identifier(change, "value.comment_id")
    parent_id = optional_id(change, "value.parent_id")
    thread = comment_id if parent_id in (None, optional_id(change, "value.post_id")) else parent_id
    created_us = instant(required(change, "value.created_time"), "value.created_time")
    return _comment(change, context, comment_id, thread, created_us)


def _instagram_comment(change: dict[str, object], context: _Entry) -> Fields:
    """An Instagram comment: a reply under a comment has `parent_id`, a top-level one starts a thread.
    Meta's examples for Facebook Login name the comment's id `comment_id` instead of `id`."""
    comment_id = optional_id(change, "value.id") or identifier(change, "value.comment_id")
    thread = optional_id(change, "value.parent_id") or comment_id
    if context.time is None:
        raise InvalidItem("missing entry time")
    return _comment(change, context, comment_id, thread, instant(context.time, "entry time"))


def _comment(
    change: dict[str, object], context: _Entry, comment_id: str, thread: str, created_us: int
) -> Fields:
    """A comment by the brand's own account is its reply; anyone else's is a post."""
    if context.account_id is None:
        raise InvalidItem("missing entry id")
    author = optional_id(change, "value.from.id")
    return event_fields(
        "reply" if author == context.account_id else "post",
        event_id=comment_id,
        conversation_id=f"{context.prefix}-comment:{context.account_id}:{thread}",
        account=context.account(context.account_id),
        channel=context.channel,
        created_us=created_us,
    )
