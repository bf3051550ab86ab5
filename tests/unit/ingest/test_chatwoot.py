"""Chatwoot's account webhook: messages, resolutions and CSAT answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.events import Event
from socialsla.ingest import chatwoot
from socialsla.ingest.chatwoot import chatwoot_channel, map_chatwoot
from socialsla.ingest.delivery import Delivery
from socialsla.ingest.names import Names, parse_names
from tests.unit.ingest.helpers import (
    NOW,
    ODD_VALUES,
    assert_sound,
    at,
    ids,
    json_values,
    maybe,
    paths,
    replaced,
    sample,
    times,
)

THREAD = "chatwoot:3:388"


def mapped(body: Any, names: Names | None = None) -> Delivery:
    delivery = map_chatwoot(body, names or Names(), NOW)
    assert_sound(delivery)
    return delivery


def one(body: Any, **kwargs: Any) -> Event:
    delivery = mapped(body, **kwargs)
    assert (len(delivery.events), delivery.invalid) == (1, []), delivery
    return delivery.events[0]


def ignored(body: Any) -> bool:
    return mapped(body) == Delivery([], [], 1)


def outgoing(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = sample("chatwoot-message-outgoing.json")
    body.update(changes)
    return body


# Messages


def test_an_incoming_message_is_a_post() -> None:
    """The documented message_created: a post on the web widget, its ISO time to the millisecond."""
    assert one(sample("chatwoot-message-created.json")) == Event(
        "post", "chatwoot:1:message:118", "chatwoot:1:10", "1:1", "web", at("2021-07-23T18:02:48Z")
    )


def test_an_agents_message_is_a_reply_with_the_agents_name() -> None:
    """An outgoing message from a user is a reply whose agent is the user's name."""
    assert one(sample("chatwoot-message-outgoing.json")) == Event(
        "reply",
        "chatwoot:3:message:4721",
        THREAD,
        "3:12",
        "facebook",
        at("2026-01-05T09:41:07.512Z"),
        agent="Priya Raman",
    )


@pytest.mark.parametrize(
    ("sender", "content_attributes", "automated", "agent"),
    [
        pytest.param({"id": 2, "name": "Routing bot", "type": "agent_bot"}, {}, True, None, id="agent-bot"),
        pytest.param({"id": 1, "name": "Captain", "type": "captain_assistant"}, {}, True, None, id="captain"),
        pytest.param(None, {}, True, None, id="automation-rule"),
        pytest.param(None, {"external_echo": True}, False, None, id="external-echo"),
        pytest.param({"id": 7, "name": "", "type": "user"}, {}, False, None, id="user-without-name"),
        pytest.param({"id": 14, "name": "little-haze-776", "type": "contact"}, {}, False, None, id="contact"),
    ],
)
def test_who_sent_a_reply(
    sender: object, content_attributes: dict[str, Any], automated: bool, agent: str | None
) -> None:
    """Bots and automation rules are automated; an echo from the network's own app is a person, unnamed."""
    event = one(outgoing(sender=sender, content_attributes=content_attributes))
    assert (event.kind, event.automated, event.agent) == ("reply", automated, agent)


def test_a_reply_without_any_sender_key_is_an_automation_rules() -> None:
    """An absent sender reads as a null one."""
    body = outgoing()
    del body["sender"]
    assert one(body).automated


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"private": True}, id="private-note"),
        pytest.param({"message_type": "activity"}, id="activity"),
        pytest.param({"message_type": "template"}, id="template"),
        pytest.param({"message_type": 2}, id="activity-as-number"),
        pytest.param({"message_type": False}, id="false-is-not-0"),
        pytest.param({"message_type": True}, id="true-is-not-1"),
        pytest.param({"message_type": 1.0}, id="a-float-is-not-1"),
    ],
)
def test_notes_activity_and_templates_are_ignored(changes: dict[str, Any]) -> None:
    """Private notes and Chatwoot's own messages are not messages to the customer."""
    assert ignored(outgoing(**changes))


def test_message_types_as_numbers_are_read_too() -> None:
    """0 and 1, as inside a conversation's messages, are incoming and outgoing."""
    assert one(outgoing(message_type=0)).kind == "post"
    assert one(outgoing(message_type=1)).kind == "reply"


def test_a_message_time_as_seconds_is_read_too() -> None:
    """created_at as integer seconds (the conversation's messages' form) reads as well."""
    assert one(outgoing(created_at=1767606067)).created_at == at("2026-01-05T09:41:07Z")


def test_the_names_file_names_the_account_and_inbox() -> None:
    """The account is chatwoot:{account}:{inbox} in the names file."""
    event = one(sample("chatwoot-message-outgoing.json"), names=parse_names('"chatwoot:3:12" = "acme"'))
    assert (event.account, event.conversation_id) == ("acme", THREAD)


def test_ids_sent_as_strings_are_kept() -> None:
    """Chatwoot's hand-written sample writes ids as strings; they read the same."""
    body = outgoing(id="4721", account={"id": "3"}, inbox={"id": "12"})
    body["conversation"]["id"] = "388"
    event = one(body)
    assert (event.event_id, event.conversation_id, event.account) == (
        "chatwoot:3:message:4721",
        THREAD,
        "3:12",
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param(
            {"created_at": "2020-03-03 13:05:57 UTC"},
            "created_at '2020-03-03 13:05:57 UTC' is not an RFC 3339 timestamp",
            id="not-iso",
        ),
        pytest.param({"created_at": None}, "missing created_at", id="no-time"),
        pytest.param({"account": None}, "missing account.id", id="no-account"),
        pytest.param({"inbox": {"name": "x"}}, "missing inbox.id", id="no-inbox"),
        pytest.param({"sender": "Priya"}, "sender must be an object, got string", id="sender-string"),
    ],
)
def test_a_bad_message_is_dead_lettered(changes: dict[str, Any], reason: str) -> None:
    """The whole delivery is the item: its bytes and reason go to the dead letters."""
    body = outgoing(**changes)
    assert mapped(body) == Delivery([], [(orjson.dumps(body), reason)])


@pytest.mark.parametrize(
    ("channel_type", "channel"),
    [
        pytest.param("Channel::FacebookPage", "facebook", id="facebook"),
        pytest.param("Channel::Instagram", "instagram", id="instagram"),
        pytest.param("Channel::TwitterProfile", "x", id="x"),
        pytest.param("Channel::Whatsapp", "whatsapp", id="whatsapp"),
        pytest.param("Channel::Tiktok", "tiktok", id="tiktok"),
        pytest.param("Channel::WebWidget", "web", id="web"),
        pytest.param("Channel::Api", "api", id="api-lowercased"),
        pytest.param("Channel::TwilioSms", "twiliosms", id="twilio-lowercased"),
        pytest.param("Channel::Email", "email", id="email-lowercased"),
    ],
)
def test_inbox_types_become_channels(channel_type: str, channel: str) -> None:
    """Named networks get our names; any other Channel::Name is the name in lower case."""
    assert chatwoot_channel(channel_type) == channel


@pytest.mark.parametrize(
    ("channel_type", "reason"),
    [
        pytest.param(None, "missing conversation.channel", id="missing"),
        pytest.param(
            "Facebook", "channel 'Facebook' is not a Chatwoot inbox type (Channel::Name)", id="no-prefix"
        ),
        pytest.param("Channel::", "channel '' does not match [a-z0-9_-]{1,32}", id="empty-name"),
        pytest.param("Channel::Face Book", "channel 'face book' does not match [a-z0-9_-]{1,32}", id="space"),
    ],
)
def test_a_channel_that_is_no_inbox_type_is_invalid(channel_type: object, reason: str) -> None:
    """Not Channel::Name, or a name that cannot be a channel, dead-letters the delivery."""
    body = outgoing()
    body["conversation"]["channel"] = channel_type
    assert [r for _, r in mapped(body).invalid] == [reason]


# Resolutions


def test_a_resolved_conversation_is_a_resolve_with_its_assignee() -> None:
    """Status resolved: a resolve at updated_at (float seconds, exact), the assignee as agent."""
    assert one(sample("chatwoot-status-resolved.json")) == Event(
        "resolve",
        "chatwoot:3:resolved:388:1767606391208374",
        THREAD,
        "3:12",
        "facebook",
        at("2026-01-05T09:46:31.208374Z"),
    )


def test_a_resolve_names_the_assignee() -> None:
    """The resolve's fields carry the assignee's name (Event keeps no agent on a resolve, so read the fields)."""
    fields = chatwoot._resolve(sample("chatwoot-status-resolved.json"), Names(), NOW)
    assert fields is not None
    assert fields["agent"] == "Priya Raman"
    body = sample("chatwoot-status-resolved.json")
    body["meta"]["assignee"] = None
    fields = chatwoot._resolve(body, Names(), NOW)
    assert fields is not None
    assert "agent" not in fields


def test_an_account_object_wins_over_the_messages_account_id() -> None:
    """Current Chatwoot adds account to conversation events; older ones carry account_id only."""
    body = sample("chatwoot-status-resolved.json")
    body["account"] = {"id": 4, "name": "Acme Inc"}
    assert one(body).conversation_id == "chatwoot:4:388"
    body = sample("chatwoot-status-resolved.json")
    body["account_id"] = 5
    assert one(body).conversation_id == "chatwoot:5:388"
    body = sample("chatwoot-status-resolved.json")
    body["messages"] = []
    assert [r for _, r in mapped(body).invalid] == ["missing account.id"]


@pytest.mark.parametrize("status", ["open", "pending", "snoozed"])
def test_other_statuses_are_ignored(status: str) -> None:
    """Only a resolution is an event."""
    body = sample("chatwoot-status-resolved.json")
    body["status"] = status
    assert ignored(body)


def test_a_resolution_without_updated_at_is_dead_lettered() -> None:
    """The resolution's time is updated_at; without it the event cannot be dated."""
    body = sample("chatwoot-status-resolved.json")
    del body["updated_at"]
    assert [r for _, r in mapped(body).invalid] == ["missing updated_at"]


# CSAT


def test_a_rated_csat_survey_is_feedback_dated_on_arrival() -> None:
    """message_updated of an input_csat with a rating: csat feedback at the time received."""
    assert one(sample("chatwoot-csat.json")) == Event(
        "feedback", "chatwoot:3:csat:4723:4", THREAD, "3:12", "facebook", NOW, survey="csat", score=4
    )


def test_a_changed_rating_is_another_event() -> None:
    """The rating is in the event id: a customer who changes their answer sends a new one."""
    body = sample("chatwoot-csat.json")
    body["content_attributes"]["submitted_values"]["csat_survey_response"]["rating"] = 2
    assert one(body).event_id == "chatwoot:3:csat:4723:2"


@pytest.mark.parametrize(
    ("rating", "reason"),
    [
        pytest.param(6, "score 6 is outside csat's 1-5", id="above"),
        pytest.param(0, "score 0 is outside csat's 1-5", id="below"),
        pytest.param("4", "csat rating must be a JSON integer, got '4'", id="string"),
        pytest.param(4.5, "csat rating must be a JSON integer, got 4.5", id="fraction"),
        pytest.param(True, "csat rating must be a JSON integer, got True", id="boolean"),
    ],
)
def test_a_bad_rating_is_dead_lettered(rating: object, reason: str) -> None:
    """A rating out of 1-5, or not an integer, is invalid."""
    body = sample("chatwoot-csat.json")
    body["content_attributes"]["submitted_values"]["csat_survey_response"]["rating"] = rating
    assert [r for _, r in mapped(body).invalid] == [reason]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"content_attributes": {}}, id="not-answered"),
        pytest.param({"content_type": "input_email"}, id="other-input"),
    ],
)
def test_other_message_updates_are_ignored(change: dict[str, Any]) -> None:
    """A survey not yet answered, and every other update, is ignored."""
    body = sample("chatwoot-csat.json")
    body.update(change)
    assert ignored(body)


# Envelopes


@pytest.mark.parametrize(
    "event", ["conversation_created", "conversation_updated", "webwidget_triggered", "contact_created"]
)
def test_other_events_are_ignored(event: str) -> None:
    """Events that carry no message, resolution or rating are ignored."""
    body = sample("chatwoot-status-resolved.json")
    body["event"] = event
    assert ignored(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param([], "body must be a JSON object, got array", id="array"),
        pytest.param({"id": 1}, "event must be a string, got null", id="no-event"),
    ],
)
def test_a_body_that_is_not_the_envelope_is_one_dead_letter(body: Any, reason: str) -> None:
    """The whole body is dead-lettered with the reason."""
    assert mapped(body) == Delivery([], [(orjson.dumps(body), reason)])


# Properties

channels = maybe(st.sampled_from(["Channel::FacebookPage", "Channel::Api", "Channel::Whatsapp"]))
senders = st.none() | st.fixed_dictionaries(
    {
        "type": maybe(st.sampled_from(["user", "agent_bot", "captain_assistant", "contact"])),
        "name": maybe(st.text(max_size=10)),
    }
)
places = {
    "id": ids,
    "account": st.fixed_dictionaries({"id": ids}),
    "inbox": st.fixed_dictionaries({"id": ids}),
    "conversation": st.fixed_dictionaries({"id": ids, "channel": channels}),
}
messages = st.fixed_dictionaries(
    {
        **places,
        "event": maybe(st.just("message_created")),
        "created_at": times,
        "message_type": maybe(st.sampled_from(["incoming", "outgoing", "activity", "template", 0, 1])),
        "private": maybe(st.booleans()),
        "sender": maybe(senders),
        "content_attributes": maybe(st.fixed_dictionaries({}, optional={"external_echo": st.booleans()})),
    }
)
ratings = st.fixed_dictionaries({"rating": maybe(st.integers(0, 6))})
csat_updates = st.fixed_dictionaries(
    {
        **places,
        "event": maybe(st.just("message_updated")),
        "content_type": maybe(st.sampled_from(["input_csat", "text"])),
        "content_attributes": maybe(
            st.fixed_dictionaries(
                {}, optional={"submitted_values": st.fixed_dictionaries({"csat_survey_response": ratings})}
            )
        ),
    }
)
conversations = st.fixed_dictionaries(
    {
        "event": maybe(st.just("conversation_status_changed")),
        "id": ids,
        "inbox_id": ids,
        "channel": channels,
        "status": maybe(st.sampled_from(["resolved", "open"])),
        "updated_at": times,
        "meta": maybe(
            st.fixed_dictionaries(
                {"assignee": maybe(st.fixed_dictionaries({"name": maybe(st.text(max_size=10))}))}
            )
        ),
    },
    optional={
        "account": st.fixed_dictionaries({"id": ids}),
        "account_id": ids,
        "messages": st.lists(json_values, max_size=2),
    },
)


@settings(max_examples=300)
@given(body=json_values | messages | csat_updates | conversations)
def test_any_body_maps_without_raising_to_events_the_workers_accept(body: Any) -> None:
    """Whatever the JSON, mapping never raises, and every event decodes and round-trips."""
    delivery = mapped(body)
    assert len(delivery.events) + len(delivery.invalid) + delivery.ignored == 1


def test_the_envelope_strategy_reaches_events() -> None:
    """The near-valid envelopes do produce events of every kind."""
    produced = []

    @settings(max_examples=500, database=None, derandomize=True)
    @given(body=messages | csat_updates | conversations)
    def collect(body: Any) -> None:
        produced.extend(map_chatwoot(body, Names(), NOW).events)

    collect()
    assert {e.kind for e in produced} == {"post", "reply", "resolve", "feedback"}


@pytest.mark.parametrize(
    "name",
    [
        "chatwoot-message-created.json",
        "chatwoot-message-outgoing.json",
        "chatwoot-status-resolved.json",
        "chatwoot-csat.json",
    ],
)
def test_any_value_in_any_place_of_a_sample_maps_without_raising(name: str) -> None:
    """Each place of each sample in turn holds a value nested a thousand deep, then each JSON type."""
    for path in list(paths(sample(name))):
        for value in ODD_VALUES:
            body = replaced(name, path, value)
            mapped(body)
