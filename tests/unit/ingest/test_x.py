"""X's Account Activity API: direct messages and public posts of the subscribed account."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.events import Event
from socialsla.ingest.delivery import Delivery, InvalidItem
from socialsla.ingest.names import Names, parse_names
from socialsla.ingest.x import map_x, twitter_time
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

BRAND_DM = "4337869213"
CUSTOMER_DM = "3001969357"
APP = "13090192"
BRAND = "2244994945"
CUSTOMER = "3001969357"


def mapped(body: Any, names: Names | None = None, bots: frozenset[str] = frozenset({APP})) -> Delivery:
    delivery = map_x(body, names or Names(), bots, NOW)
    assert_sound(delivery)
    return delivery


def one(body: Any, **kwargs: Any) -> Event:
    delivery = mapped(body, **kwargs)
    assert (len(delivery.events), delivery.invalid) == (1, []), delivery
    return delivery.events[0]


def tweet(name: str = "x-mention.json", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = sample(name)
    body["tweet_create_events"][0].update(changes)
    return body


# Direct messages


def test_a_received_direct_message_is_a_post_from_its_sender() -> None:
    """The documented DM to the subscribed account: a post in the sender's DM thread."""
    assert one(sample("x-dm.json")) == Event(
        "post",
        "954491830116155396",
        f"x-dm:{BRAND_DM}:{CUSTOMER_DM}",
        BRAND_DM,
        "x",
        at("2018-01-19T23:12:40.557Z"),
    )


def test_a_sent_direct_message_is_a_reply_to_its_recipient() -> None:
    """A DM the subscribed account sent is a reply in the recipient's thread."""
    event = one(sample("x-dm-sent.json"), bots=frozenset())
    assert event == Event(
        "reply",
        "954492419512422404",
        f"x-dm:{BRAND_DM}:{CUSTOMER_DM}",
        BRAND_DM,
        "x",
        at("2018-01-19T23:15:01.081Z"),
    )


def test_a_sent_direct_message_from_a_bot_app_is_automated() -> None:
    """source_app_id among the automated app ids makes the reply automated."""
    assert one(sample("x-dm-sent.json"), bots=frozenset({APP})).automated
    assert not one(sample("x-dm-sent.json"), bots=frozenset({"999"})).automated


def test_a_received_direct_message_is_never_automated() -> None:
    """The docs' received DM carries a source_app_id too; a post has no automated flag."""
    assert not one(sample("x-dm.json"), bots=frozenset({APP})).automated


def test_the_names_file_names_the_account() -> None:
    """The account is the subscribed user's name; thread ids keep the user id."""
    event = one(sample("x-dm.json"), names=parse_names(f'"x:{BRAND_DM}" = "acme"'))
    assert (event.account, event.conversation_id) == ("acme", f"x-dm:{BRAND_DM}:{CUSTOMER_DM}")


def test_ids_sent_as_numbers_become_decimal_strings() -> None:
    """for_user_id, sender and recipient as JSON numbers read as their decimal strings."""
    body = sample("x-dm.json")
    body["for_user_id"] = int(BRAND_DM)
    message = body["direct_message_events"][0]
    message["message_create"]["sender_id"] = int(CUSTOMER_DM)
    message["id"] = 954491830116155396
    message["created_timestamp"] = 1516403560557
    event = one(body)
    assert (event.event_id, event.conversation_id, event.created_at) == (
        "954491830116155396",
        f"x-dm:{BRAND_DM}:{CUSTOMER_DM}",
        at("2018-01-19T23:12:40.557Z"),
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(
            {"created_timestamp": "soon"},
            "created_timestamp 'soon' is not an RFC 3339 timestamp",
            id="bad-time",
        ),
        pytest.param({"created_timestamp": None}, "missing created_timestamp", id="no-time"),
        pytest.param({"id": ""}, "id must be a non-empty string or an integer, got string", id="empty-id"),
        pytest.param(
            {"message_create": {"sender_id": CUSTOMER_DM}},
            "missing message_create.target.recipient_id",
            id="no-recipient",
        ),
    ],
)
def test_a_bad_direct_message_is_dead_lettered(change: dict[str, Any], reason: str) -> None:
    """Each bad DM is dead-lettered with its own bytes and reason."""
    body = sample("x-dm.json")
    body["direct_message_events"][0].update(change)
    delivery = mapped(body)
    assert delivery.invalid == [(orjson.dumps(body["direct_message_events"][0]), reason)]


def test_other_direct_message_event_types_are_ignored() -> None:
    """Only message_create is a message."""
    body = sample("x-dm.json")
    body["direct_message_events"][0]["type"] = "welcome_message"
    assert (mapped(body).events, mapped(body).ignored) == ([], 1)


# Public posts


def test_a_mention_is_a_post_from_its_author() -> None:
    """A customer's tweet is a post in their public thread with the brand, timed by created_at."""
    assert one(sample("x-mention.json")) == Event(
        "post",
        "1803399614211788841",
        f"x-public:{BRAND}:{CUSTOMER}",
        BRAND,
        "x",
        at("2024-06-19T11:05:02Z"),
    )


def test_the_brands_answer_is_a_reply_in_the_customers_thread() -> None:
    """A tweet by the brand in reply to someone else is a reply to that person."""
    assert one(sample("x-brand-reply.json")) == Event(
        "reply",
        "1803403317769568405",
        f"x-public:{BRAND}:{CUSTOMER}",
        BRAND,
        "x",
        at("2024-06-19T11:19:45Z"),
    )


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        pytest.param("x-mention.json", {"retweeted_status": {"id_str": "1"}}, id="retweet"),
        pytest.param(
            "x-brand-reply.json",
            {"in_reply_to_user_id_str": None, "in_reply_to_user_id": None},
            id="brand-own-post",
        ),
        pytest.param("x-brand-reply.json", {"in_reply_to_user_id_str": BRAND}, id="brand-thread-on-itself"),
    ],
)
def test_retweets_and_the_brands_own_posts_are_ignored(name: str, changes: dict[str, Any]) -> None:
    """No message: a retweet, the brand's own post, the brand answering itself."""
    delivery = mapped(tweet(name, **changes))
    assert (delivery.events, delivery.invalid, delivery.ignored) == ([], [], 1)


@pytest.mark.parametrize(
    "timestamp_ms",
    [pytest.param("1718795102123", id="string"), pytest.param(1718795102123, id="number")],
)
def test_timestamp_ms_wins_over_created_at(timestamp_ms: object) -> None:
    """timestamp_ms, as a string or a number, gives the milliseconds created_at lacks."""
    assert one(tweet(timestamp_ms=timestamp_ms)).created_at == at("2024-06-19T11:05:02.123Z")


def test_ids_without_their_str_twin_are_read_from_the_numbers() -> None:
    """id and user.id as JSON numbers serve when id_str and user.id_str are absent."""
    body = tweet()
    item = body["tweet_create_events"][0]
    del item["id_str"], item["user"]["id_str"]
    event = one(body)
    assert (event.event_id, event.conversation_id) == ("1803399614211788841", f"x-public:{BRAND}:{CUSTOMER}")


def test_a_reply_to_a_user_given_only_by_number() -> None:
    """in_reply_to_user_id serves when its _str twin is absent."""
    body = tweet("x-brand-reply.json")
    del body["tweet_create_events"][0]["in_reply_to_user_id_str"]
    assert one(body).conversation_id == f"x-public:{BRAND}:{CUSTOMER}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Wed Jun 19 11:05:02 +0000 2024", "2024-06-19T11:05:02Z", id="utc"),
        pytest.param("Mon May 19 14:01:46 +0000 2025", "2025-05-19T14:01:46Z", id="docs-example"),
        pytest.param("Wed Oct 10 20:19:24 +0000 2018", "2018-10-10T20:19:24Z", id="dictionary-example"),
        pytest.param("Thu Feb 29 23:59:59 -0130 2024", "2024-03-01T01:29:59Z", id="offset-and-leap-day"),
    ],
)
def test_twitters_time_format(text: str, expected: str) -> None:
    """X's v1.1 time reads in any locale, its offset applied."""
    assert twitter_time(text, "created_at") == at(expected)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2024-06-19T11:05:02Z", id="rfc3339"),
        pytest.param("Wed Jux 19 11:05:02 +0000 2024", id="bad-month"),
        pytest.param("Wed Jun 19 11:05:02 2024", id="no-offset"),
        pytest.param("Fri Feb 30 11:05:02 +0000 2024", id="no-such-day"),
        pytest.param("mer. juin 19 11:05:02 +0000 2024", id="french"),
    ],
)
def test_other_time_texts_are_invalid(text: str) -> None:
    """Anything but X's format, or an impossible date, is refused."""
    with pytest.raises(InvalidItem, match="created_at"):
        twitter_time(text, "created_at")


def test_a_tweet_with_a_bad_time_is_dead_lettered() -> None:
    """The reason names the format expected."""
    delivery = mapped(tweet(created_at="2024-06-19 11:05"))
    assert [r for _, r in delivery.invalid] == [
        "created_at '2024-06-19 11:05' is not a time like 'Wed Jun 19 11:05:02 +0000 2024'"
    ]


# Envelopes


def test_other_arrays_are_ignored_item_by_item() -> None:
    """Likes (and follows, reads, typing, deletions) are counted as ignored."""
    delivery = mapped(sample("x-favorite.json"))
    assert (delivery.events, delivery.invalid, delivery.ignored) == ([], [], 1)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"user_event": {"revoke": {"date_time": "2018-05-24T09:48:12+00:00"}}}, id="revoke"),
        pytest.param({"replay_job_status": {"job_state": "Complete"}}, id="replay-done"),
        pytest.param({"data": {"event_type": "dm.received", "payload": {}}}, id="activity-api"),
    ],
)
def test_deliveries_without_messages_are_ignored(body: dict[str, Any]) -> None:
    """Notices without for_user_id are counted as one ignored item."""
    assert mapped(body) == Delivery([], [], 1)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param([], "body must be a JSON object, got array", id="array"),
        pytest.param({"tweet_create_events": []}, "missing for_user_id", id="no-for-user-id"),
        pytest.param(
            {"for_user_id": True, "tweet_create_events": []},
            "for_user_id must be a non-empty string or an integer, got boolean",
            id="bool-user",
        ),
    ],
)
def test_a_body_that_is_not_the_envelope_is_one_dead_letter(body: Any, reason: str) -> None:
    """The whole body is dead-lettered with the reason."""
    assert mapped(body) == Delivery([], [(orjson.dumps(body), reason)])


def test_an_array_that_is_not_an_array_is_dead_lettered_and_the_other_mapped() -> None:
    """A bad tweet_create_events fails alone; the DMs beside it are produced."""
    body = sample("x-dm.json")
    body["tweet_create_events"] = {"oops": 1}
    delivery = mapped(body)
    assert len(delivery.events) == 1
    assert [r for _, r in delivery.invalid] == ["tweet_create_events must be an array, got object"]


# Properties

users = st.fixed_dictionaries({"id_str": ids}, optional={"id": ids})
direct_messages = st.fixed_dictionaries(
    {
        "type": maybe(st.just("message_create")),
        "id": ids,
        "created_timestamp": times,
        "message_create": maybe(
            st.fixed_dictionaries(
                {
                    "sender_id": maybe(st.sampled_from([BRAND_DM, CUSTOMER_DM])),
                    "target": st.fixed_dictionaries(
                        {"recipient_id": maybe(st.sampled_from([BRAND_DM, CUSTOMER_DM]))}
                    ),
                },
                optional={"source_app_id": maybe(st.sampled_from([APP, "1"]))},
            )
        ),
    }
)
tweets = st.fixed_dictionaries(
    {
        "id_str": ids,
        "user": maybe(st.fixed_dictionaries({"id_str": maybe(st.sampled_from([BRAND_DM, CUSTOMER_DM]))})),
        "created_at": maybe(
            st.sampled_from(["Wed Jun 19 11:05:02 +0000 2024", "Tue Feb 30 00:00:00 +0000 2024"])
        ),
    },
    optional={
        "timestamp_ms": times,
        "retweeted_status": json_values,
        "in_reply_to_user_id_str": maybe(st.sampled_from([BRAND_DM, CUSTOMER_DM])),
    },
)
envelopes = st.fixed_dictionaries(
    {"for_user_id": maybe(st.sampled_from([BRAND_DM, int(BRAND_DM)]))},
    optional={
        "direct_message_events": maybe(st.lists(direct_messages | json_values, max_size=3)),
        "tweet_create_events": maybe(st.lists(tweets | json_values, max_size=3)),
        "favorite_events": st.lists(json_values, max_size=2),
    },
)


@settings(max_examples=300)
@given(body=json_values | envelopes)
def test_any_body_maps_without_raising_to_events_the_workers_accept(body: Any) -> None:
    """Whatever the JSON, mapping never raises, and every event decodes and round-trips."""
    mapped(body)


def test_the_envelope_strategy_reaches_events() -> None:
    """The near-valid envelopes do produce events of each kind, in both threads."""
    produced = []

    @settings(max_examples=500, database=None, derandomize=True)
    @given(body=envelopes)
    def collect(body: Any) -> None:
        produced.extend(map_x(body, Names(), {APP}, NOW).events)

    collect()
    assert {(e.kind, e.conversation_id.split(":")[0]) for e in produced} >= {
        ("post", "x-dm"),
        ("reply", "x-dm"),
        ("post", "x-public"),
        ("reply", "x-public"),
    }


@pytest.mark.parametrize(
    "name", ["x-dm.json", "x-dm-sent.json", "x-mention.json", "x-brand-reply.json", "x-favorite.json"]
)
def test_any_value_in_any_place_of_a_sample_maps_without_raising(name: str) -> None:
    """Each place of each sample in turn holds a value nested a thousand deep, then each JSON type."""
    for path in list(paths(sample(name))):
        for value in ODD_VALUES:
            body = replaced(name, path, value)
            mapped(body)
