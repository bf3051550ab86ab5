"""Chatwoot's account webhook: messages, resolutions and CSAT answers from an open-source inbox.

Teams that answer Facebook, Instagram, X or WhatsApp customers in Chatwoot get
everything from this one webhook, and more than the networks tell: which agent
replied, when a conversation was resolved, and what the customer rated it.

The brand's account is the pair (Chatwoot account, inbox), because one Chatwoot
account usually holds one inbox per network page; the channel is the inbox's
network. Each delivery is one event of Chatwoot's, so each delivery is one item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Final

from socialsla.ingest.delivery import Delivery, Fields, Intake, InvalidItem, event_fields, rejected
from socialsla.ingest.fields import get, identifier, instant, kind_of, optional_id, required, shown
from socialsla.ingest.names import Names

_CHANNEL_PREFIX: Final = "Channel::"
#: Chatwoot's inbox types whose network we call by another name; any other
#: `Channel::Name` is `name` in lower case.
_CHANNELS: Final = {
    "FacebookPage": "facebook",
    "Instagram": "instagram",
    "TwitterProfile": "x",
    "Whatsapp": "whatsapp",
    "Tiktok": "tiktok",
    "WebWidget": "web",
}
#: Message types, as words at the top of a message event and as numbers inside a conversation.
_INCOMING: Final = ("incoming", 0)
_OUTGOING: Final = ("outgoing", 1)
#: Senders that are software: Chatwoot's agent bots and its Captain AI assistant.
_BOTS: Final = ("agent_bot", "captain_assistant")


@dataclass(frozen=True, slots=True)
class _Thread:
    """Where an event belongs: its Chatwoot account, inbox, conversation and network."""

    account_id: str
    inbox_id: str
    conversation_id: str
    channel: str

    def fields(self, kind: str, event_id: str, created_us: int, names: Names) -> Fields:
        """An event of this thread; `event_id` is made unique across Chatwoot accounts."""
        return event_fields(
            kind,
            event_id=f"chatwoot:{self.account_id}:{event_id}",
            conversation_id=f"chatwoot:{self.account_id}:{self.conversation_id}",
            account=names.account("chatwoot", f"{self.account_id}:{self.inbox_id}"),
            channel=self.channel,
            created_us=created_us,
        )


def map_chatwoot(body: object, names: Names, now_us: int) -> Delivery:
    """Map one parsed Chatwoot webhook delivery; `now_us`, the time it was received, dates CSAT answers."""
    if not isinstance(body, dict):
        return rejected(body, f"body must be a JSON object, got {kind_of(body)}")
    event = body.get("event")
    if not isinstance(event, str):
        return rejected(body, f"event must be a string, got {kind_of(event)}")
    intake = Intake(now_us)
    build = _HANDLERS.get(event)
    if build is None:
        intake.ignore()
    else:
        intake.take(body, partial(build, body, names, now_us))
    return intake.delivery


def chatwoot_channel(channel_type: object) -> str:
    """Our channel for a Chatwoot inbox type (`Channel::FacebookPage` is `facebook`)."""
    if not isinstance(channel_type, str) or not channel_type.startswith(_CHANNEL_PREFIX):
        raise InvalidItem(f"channel {shown(channel_type)} is not a Chatwoot inbox type (Channel::Name)")
    name = channel_type[len(_CHANNEL_PREFIX) :]
    return _CHANNELS.get(name, name.lower())


def _message_thread(body: dict[str, object]) -> _Thread:
    """A message event names its conversation in `conversation` and its inbox in `inbox`."""
    return _Thread(
        account_id=identifier(body, "account.id"),
        inbox_id=identifier(body, "inbox.id"),
        conversation_id=identifier(body, "conversation.id"),
        channel=chatwoot_channel(required(body, "conversation.channel")),
    )


def _message(body: dict[str, object], names: Names, now_us: int) -> Fields | None:
    """A customer's message is a post, the team's a reply; notes, activity and templates are no messages."""
    if body.get("private") is True:
        return None
    message_type = body.get("message_type")
    if type(message_type) not in (str, int) or message_type not in _INCOMING + _OUTGOING:
        return None  # (false and 0.0 equal 0 in Python: only the documented words and numbers count)
    kind = "post" if message_type in _INCOMING else "reply"
    thread = _message_thread(body)
    created_us = instant(required(body, "created_at"), "created_at")
    fields = thread.fields(kind, f"message:{identifier(body, 'id')}", created_us, names)
    if kind == "reply":
        fields.update(_sender(body))
    return fields


def _sender(body: dict[str, object]) -> Fields:
    """Who sent a reply: an agent (by name), a bot, or an automation rule (no sender at all).

    A message without a sender is an automation rule's, except an external echo:
    a reply typed in the network's own app, which Chatwoot copies in without
    knowing who typed it.
    """
    sender = body.get("sender")
    if sender is None:
        external = get(body, "content_attributes.external_echo") is True
        return {} if external else {"automated": True}
    if not isinstance(sender, dict):
        raise InvalidItem(f"sender must be an object, got {kind_of(sender)}")
    if sender.get("type") in _BOTS:
        return {"automated": True}
    name = sender.get("name")
    if sender.get("type") == "user" and isinstance(name, str) and name:
        return {"agent": name}
    return {}


def _resolve(body: dict[str, object], names: Names, now_us: int) -> Fields | None:
    """A conversation marked resolved; the assignee, when there is one, is the agent who owns it."""
    if body.get("status") != "resolved":
        return None
    thread = _Thread(
        account_id=_conversation_account(body),
        inbox_id=identifier(body, "inbox_id"),
        conversation_id=identifier(body, "id"),
        channel=chatwoot_channel(required(body, "channel")),
    )
    created_us = instant(required(body, "updated_at"), "updated_at")
    fields = thread.fields("resolve", f"resolved:{thread.conversation_id}:{created_us}", created_us, names)
    agent = get(body, "meta.assignee.name")
    if isinstance(agent, str) and agent:
        fields["agent"] = agent
    return fields


def _conversation_account(body: dict[str, object]) -> str:
    """A conversation event's account: `account.id` in current Chatwoot; versions
    without it carry `account_id`, and so does each of the conversation's messages."""
    found = optional_id(body, "account.id") or optional_id(body, "account_id")
    messages = body.get("messages")
    if found is None and isinstance(messages, list) and messages:
        found = optional_id(messages[0], "account_id")
    if found is None:
        raise InvalidItem("missing account.id")
    return found


def _csat(body: dict[str, object], names: Names, now_us: int) -> Fields | None:
    """A CSAT survey message the customer has rated. Chatwoot does not say when the
    customer answered, so the answer is dated when the delivery arrived."""
    if body.get("content_type") != "input_csat":
        return None
    rating = get(body, "content_attributes.submitted_values.csat_survey_response.rating")
    if rating is None:
        return None  # the survey was sent, or edited, but not answered
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise InvalidItem(f"csat rating must be a JSON integer, got {shown(rating)}")
    thread = _message_thread(body)
    fields = thread.fields("feedback", f"csat:{identifier(body, 'id')}:{rating}", now_us, names)
    fields.update(survey="csat", score=rating)
    return fields


_HANDLERS: Final[dict[str, Callable[[dict[str, object], Names, int], Fields | None]]] = {
    "message_created": _message,
    "conversation_status_changed": _resolve,
    "message_updated": _csat,
}
