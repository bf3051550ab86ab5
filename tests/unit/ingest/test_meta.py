"""Meta's webhook: Messenger and Instagram messages, feedback cards, Page and Instagram comments."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from socialsla.core.events import Event
from socialsla.ingest.delivery import Delivery
from socialsla.ingest.meta import map_meta
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

PAGE = "103149398319188"
PSID = "4218946531502934"
IG = "17841405309211844"
IGSID = "6182937746471823"
BOT = "1517776481860111"
PAGE_INBOX = "263902037430900"
DM = f"fb-dm:{PAGE}:{PSID}"


def mapped(body: Any, names: Names | None = None, bots: frozenset[str] = frozenset({BOT})) -> Delivery:
    delivery = map_meta(body, names or Names(), bots, NOW)
    assert_sound(delivery)
    return delivery


def one(body: Any, **kwargs: Any) -> Event:
    delivery = mapped(body, **kwargs)
    assert (len(delivery.events), delivery.invalid) == (1, []), delivery
    return delivery.events[0]


def messaging(body: dict[str, Any], index: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = body["entry"][0]["messaging"][index]
    return item


# Messenger direct messages


def test_a_customers_messages_are_posts_in_their_thread() -> None:
    """Each customer message is a post from the sender, timed by its millisecond timestamp."""
    delivery = mapped(sample("meta-messenger-message.json"))
    assert delivery.events == [
        Event(
            "post",
            "m_Ac3xT1Bmz9sKJq0WbA7Ev8rG5zmMqTB2pQxh1ZCwYjVl",
            DM,
            PAGE,
            "facebook",
            at("2026-01-01T12:00:00.478Z"),
        ),
        Event(
            "post",
            "m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU",
            DM,
            PAGE,
            "facebook",
            at("2026-01-01T12:00:01.308Z"),
        ),
    ]
    assert (delivery.invalid, delivery.ignored) == ([], 0)


def test_an_echo_is_a_reply_to_its_recipient() -> None:
    """Echoes swap sender and recipient: the customer is the recipient, the thread is the same."""
    delivery = mapped(sample("meta-messenger-echo.json"))
    assert [(e.kind, e.conversation_id, e.account, e.agent) for e in delivery.events] == [
        ("reply", DM, PAGE, None),
        ("reply", DM, PAGE, None),
    ]
    assert [e.created_at for e in delivery.events] == [
        at("2026-01-01T12:00:02.627Z"),
        at("2026-01-01T12:05:00.713Z"),
    ]


def test_a_bot_apps_echo_is_automated_and_a_business_suite_reply_is_not() -> None:
    """The bot's app id (a JSON number) makes a reply automated; the Page Inbox app's does not."""
    delivery = mapped(sample("meta-messenger-echo.json"), bots=frozenset({BOT}))
    assert [(e.event_id, e.automated) for e in delivery.events] == [
        ("m_Bq9Lx0TzKd3Wc2aVf6Yh8pN4sJmR7uE1gHkQoX5iZvCt", True),
        ("m_Cw4Nd8QaHs2Fk7Rb1Tz6Lp0XyJv3Ge9Ui5Mo2Sc8KfBn", False),
    ]


def test_without_automated_app_ids_no_echo_is_automated() -> None:
    """By default no app is a bot."""
    delivery = mapped(sample("meta-messenger-echo.json"), bots=frozenset())
    assert [e.automated for e in delivery.events] == [False, False]


def test_an_app_id_sent_as_a_string_matches_too() -> None:
    """An app id is compared as a decimal string, whichever JSON type carried it."""
    body = sample("meta-messenger-echo.json")
    messaging(body)["message"]["app_id"] = BOT
    assert mapped(body).events[0].automated


def test_standby_carries_the_same_messages() -> None:
    """Messages delivered on standby (another app owns the thread) map as in messaging."""
    delivery = mapped(sample("meta-standby.json"))
    assert [(e.kind, e.conversation_id, e.created_at, e.automated) for e in delivery.events] == [
        ("post", DM, at("2026-01-01T12:22:40.211Z"), False),
        ("reply", DM, at("2026-01-01T12:22:50.673Z"), True),
    ]
    assert delivery.events[1].event_id.startswith("qT7ywaKpO9kkQR7Gv")


def test_a_deleted_message_is_ignored() -> None:
    """A message the customer deleted is no new message."""
    body = sample("meta-messenger-message.json")
    messaging(body)["message"]["is_deleted"] = True
    delivery = mapped(body)
    assert (len(delivery.events), delivery.invalid, delivery.ignored) == (1, [], 1)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"read": {"watermark": 1458668856253}}, id="read"),
        pytest.param({"delivery": {"mids": ["m_1"], "watermark": 1458668856253}}, id="delivery"),
        pytest.param({"reaction": {"mid": "m_1", "action": "react", "reaction": "love"}}, id="reaction"),
        pytest.param({"message_edit": {"mid": "m_1", "text": "edited", "num_edit": 1}}, id="edit"),
        pytest.param({"postback": {"title": "Get Started", "payload": "START"}}, id="postback"),
        pytest.param({"pass_thread_control": {"new_owner_app_id": "263902037430900"}}, id="handover"),
    ],
)
def test_other_messaging_events_are_ignored(event: dict[str, Any]) -> None:
    """Reads, deliveries, reactions, edits, postbacks and handovers are counted as ignored."""
    body = sample("meta-messenger-message.json")
    item = messaging(body)
    del item["message"]
    item.update(event)
    delivery = mapped(body)
    assert (len(delivery.events), delivery.ignored) == (1, 1)


def test_without_entry_id_the_account_is_the_brands_side() -> None:
    """An entry without id takes the account from the recipient of a message, the sender of an echo."""
    message, echo = sample("meta-messenger-message.json"), sample("meta-messenger-echo.json")
    del message["entry"][0]["id"]
    del echo["entry"][0]["id"]
    assert mapped(message).events[0].conversation_id == DM
    assert mapped(echo).events[0].conversation_id == DM


def test_the_names_file_names_the_account_but_not_the_thread() -> None:
    """The account is the mapped name; conversation ids keep the platform's ids."""
    names = parse_names(f'"meta:{PAGE}" = "acme"')
    event = mapped(sample("meta-messenger-message.json"), names=names).events[0]
    assert (event.account, event.conversation_id) == ("acme", DM)


def test_ids_sent_as_numbers_become_decimal_strings() -> None:
    """Page, customer and times sent as JSON numbers read the same as strings."""
    body = sample("meta-messenger-message.json")
    body["entry"][0]["id"] = int(PAGE)
    messaging(body)["sender"]["id"] = int(PSID)
    assert (
        one({**body, "entry": [{**body["entry"][0], "messaging": [messaging(body)]}]}).conversation_id == DM
    )


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        pytest.param(1767268800478, "2026-01-01T12:00:00.478Z", id="milliseconds"),
        pytest.param(1767268800, "2026-01-01T12:00:00Z", id="seconds"),
        pytest.param("1767268800478", "2026-01-01T12:00:00.478Z", id="milliseconds-string"),
        pytest.param(1767268800.25, "2026-01-01T12:00:00.25Z", id="fractional-seconds"),
        pytest.param(100_000_000_000, "1973-03-03T09:46:40Z", id="first-milliseconds"),
    ],
)
def test_numeric_times_below_1e11_are_seconds_and_above_milliseconds(
    timestamp: object, expected: str
) -> None:
    """A numeric time is milliseconds from 10^11 up, seconds below."""
    body = sample("meta-messenger-message.json")
    body["entry"][0]["messaging"] = [messaging(body)]
    messaging(body)["timestamp"] = timestamp
    assert one(body).created_at == at(expected)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(
            {"timestamp": "yesterday"}, "timestamp 'yesterday' is not an RFC 3339 timestamp", id="bad-time"
        ),
        pytest.param({"timestamp": None}, "missing timestamp", id="no-time"),
        pytest.param({"sender": {}}, "missing sender.id", id="no-sender"),
        pytest.param(
            {"sender": {"id": ["x"]}},
            "sender.id must be a non-empty string or an integer, got array",
            id="list-id",
        ),
        pytest.param({"message": {"text": "no mid"}}, "missing message.mid", id="no-mid"),
        pytest.param({"message": "hello"}, "message must be an object, got string", id="message-string"),
        pytest.param(
            {"sender": {"id": "x" * 300}}, "conversation_id must be 1-256 characters, got 322", id="long-id"
        ),
    ],
)
def test_a_message_that_cannot_be_an_event_is_dead_lettered_alone(
    change: dict[str, Any], reason: str
) -> None:
    """A bad message goes to the dead letters with its reason and its own bytes; the next is still produced."""
    body = sample("meta-messenger-message.json")
    messaging(body).update(change)
    delivery = mapped(body)
    assert [r for _, r in delivery.invalid] == [reason]
    assert orjson.loads(delivery.invalid[0][0]) == messaging(body)
    assert [e.event_id for e in delivery.events] == ["m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU"]


def test_a_message_too_far_in_the_future_is_dead_lettered() -> None:
    """The workers' own judge applies: more than 5 minutes ahead of the gateway's clock is invalid."""
    body = sample("meta-messenger-message.json")
    messaging(body)["timestamp"] = NOW // 1000 + 301_000
    assert "ahead of the clock" in mapped(body).invalid[0][1]


def test_an_account_id_that_breaks_the_account_pattern_is_dead_lettered() -> None:
    """An entry id that cannot be an account name dead-letters each of its items."""
    body = sample("meta-messenger-message.json")
    body["entry"][0]["id"] = "<PAGE_ID>"
    delivery = mapped(body)
    assert delivery.events == []
    assert [r for _, r in delivery.invalid] == [
        "account '<PAGE_ID>' does not match [A-Za-z0-9_.@:-]{1,64}"
    ] * 2


# Instagram direct messages


def test_instagram_messages_echoes_and_deletions() -> None:
    """Instagram: a message is a post, an echo a reply, a deleted message and a read are ignored."""
    delivery = mapped(sample("instagram-dm.json"))
    thread = f"ig-dm:{IG}:{IGSID}"
    assert [
        (e.kind, e.conversation_id, e.account, e.channel, e.created_at, e.automated) for e in delivery.events
    ] == [
        ("post", thread, IG, "instagram", at("2026-01-01T15:06:39.349Z"), False),
        ("reply", thread, IG, "instagram", at("2026-01-01T15:10:40.513Z"), False),
    ]
    assert (delivery.invalid, delivery.ignored) == ([], 2)


# Customer feedback cards


def test_a_feedback_card_as_documented() -> None:
    """The documented card (no entry id, no timestamp) is a csat answer timed by the entry's time."""
    created = at("2026-01-01T13:00:00.25Z")
    assert one(sample("meta-feedback.json")) == Event(
        "feedback",
        f"fb-feedback:{PAGE}:{PSID}:1767272400250000:0:hauydmns8",
        DM,
        PAGE,
        "facebook",
        created,
        survey="csat",
        score=5,
    )


def feedback(questions: dict[str, Any], **item: Any) -> dict[str, Any]:
    body: dict[str, Any] = sample("meta-feedback.json")
    messaging(body)["messaging_feedback"]["feedback_screens"][0]["questions"] = questions
    messaging(body).update(item)
    return body


@pytest.mark.parametrize(
    ("survey", "payload", "score"),
    [
        pytest.param("csat", "1", 1, id="csat-1"),
        pytest.param("nps", "0", 0, id="nps-0"),
        pytest.param("nps", "10", 10, id="nps-10"),
        pytest.param("ces", "7", 7, id="ces-7"),
        pytest.param("csat ", "4", 4, id="csat-with-space"),
    ],
)
def test_each_survey_and_its_scores(survey: str, payload: str, score: int) -> None:
    """csat, nps and ces answers carry the score of their string payload."""
    event = one(feedback({"q1": {"type": survey, "payload": payload}}))
    assert (event.survey, event.score) == (survey.strip(), score)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param("6", "score 6 is outside csat's 1-5", id="above-range"),
        pytest.param("0", "score 0 is outside csat's 1-5", id="below-range"),
        pytest.param("4.5", "question 'q1' payload must be a score in digits, got '4.5'", id="fraction"),
        pytest.param("five", "question 'q1' payload must be a score in digits, got 'five'", id="word"),
        pytest.param(5, "question 'q1' payload must be a score in digits, got 5", id="number"),
        pytest.param("", "question 'q1' payload must be a score in digits, got ''", id="empty"),
        pytest.param(
            "99999999999999999999",
            "question 'q1' payload must be a score in digits, got '99999999999999999999'",
            id="huge",
        ),
    ],
)
def test_a_bad_score_is_dead_lettered(payload: object, reason: str) -> None:
    """A payload out of range, or not a string of digits, is invalid with a precise reason."""
    delivery = mapped(feedback({"q1": {"type": "csat", "payload": payload}}))
    assert (delivery.events, [r for _, r in delivery.invalid]) == ([], [reason])


def test_every_answered_question_is_one_feedback() -> None:
    """Questions of each screen become one event each; a free-form-only question is not one."""
    delivery = mapped(
        feedback(
            {"a": {"type": "nps", "payload": "9"}, "b": {"type": "free_form", "payload": "hi"}},
            timestamp=1767272400000,
        )
    )
    assert [(e.event_id, e.survey, e.score) for e in delivery.events] == [
        (f"fb-feedback:{PAGE}:{PSID}:1767272400000000:0:a", "nps", 9)
    ]


def test_a_card_with_its_own_timestamp_and_entry_id_uses_them() -> None:
    """The item's timestamp wins over the entry's time, and the entry id over the recipient."""
    body = feedback({"q": {"type": "ces", "payload": "6"}}, timestamp=1767272401000)
    body["entry"][0]["id"] = PAGE
    event = one(body)
    assert (event.created_at, event.event_id) == (
        at("2026-01-01T13:00:01Z"),
        f"fb-feedback:{PAGE}:{PSID}:1767272401000000:0:q",
    )


def test_a_card_with_only_free_form_questions_is_ignored() -> None:
    """Nothing to count: the card is counted as ignored."""
    delivery = mapped(feedback({"q": {"type": "free_form", "payload": "meh"}}))
    assert (delivery.events, delivery.invalid, delivery.ignored) == ([], [], 1)


def test_a_card_without_any_time_is_dead_lettered() -> None:
    """Neither the item's timestamp nor the entry's time: the card cannot be dated."""
    body = sample("meta-feedback.json")
    del body["entry"][0]["time"]
    assert [r for _, r in mapped(body).invalid] == ["missing timestamp (and entry time)"]


def test_a_card_on_instagram_is_in_the_instagram_thread() -> None:
    """On Instagram the ids start with ig-."""
    body = feedback({"q": {"type": "csat", "payload": "3"}})
    body["object"] = "instagram"
    event = one(body)
    assert (event.channel, event.conversation_id, event.event_id.split(":")[0]) == (
        "instagram",
        f"ig-dm:{PAGE}:{PSID}",
        "ig-feedback",
    )


# Page comments


def test_page_comments_thread_by_their_top_level_comment() -> None:
    """A top-level comment (parent is the post) starts a thread; replies join it; the Page's own is a reply."""
    delivery = mapped(sample("meta-page-comment.json"))
    thread = f"fb-comment:{PAGE}:122131676912594941_1213590066982748"
    assert delivery.events == [
        Event(
            "post",
            "122131676912594941_1213590066982748",
            thread,
            PAGE,
            "facebook",
            at("2026-01-01T14:00:12Z"),
        ),
        Event(
            "reply",
            "122131676912594941_987301254416522",
            thread,
            PAGE,
            "facebook",
            at("2026-01-01T14:05:40Z"),
        ),
        Event(
            "post", "122131676912594941_542072878449250", thread, PAGE, "facebook", at("2026-01-01T14:09:02Z")
        ),
    ]
    assert (delivery.invalid, delivery.ignored) == ([], 1)  # the visitor's post


def page_comment(**value: Any) -> dict[str, Any]:
    body: dict[str, Any] = sample("meta-page-comment.json")
    change = body["entry"][0]["changes"][0]
    change["value"].update(value)
    body["entry"][0]["changes"] = [change]
    return body


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"verb": "edited"}, id="edit"),
        pytest.param({"verb": "remove"}, id="removal"),
        pytest.param({"item": "reaction", "verb": "add"}, id="reaction"),
        pytest.param({"item": "like"}, id="like"),
    ],
)
def test_other_feed_items_and_verbs_are_ignored(value: dict[str, Any]) -> None:
    """Only comments added are messages."""
    delivery = mapped(page_comment(**value))
    assert (delivery.events, delivery.ignored) == ([], 1)


def test_a_top_level_comment_without_parent_starts_its_own_thread() -> None:
    """No parent_id at all reads as a top-level comment."""
    body = page_comment()
    del body["entry"][0]["changes"][0]["value"]["parent_id"]
    assert one(body).conversation_id == f"fb-comment:{PAGE}:122131676912594941_1213590066982748"


def test_a_page_comment_needs_its_created_time() -> None:
    """created_time is the comment's time; without it the comment is invalid."""
    delivery = mapped(page_comment(created_time=None))
    assert [r for _, r in delivery.invalid] == ["missing value.created_time"]


def test_other_page_fields_are_ignored() -> None:
    """A change of another field (a rating, a mention) is ignored."""
    body = page_comment()
    body["entry"][0]["changes"][0]["field"] = "ratings"
    assert mapped(body).ignored == 1


# Instagram comments


def test_instagram_comments_thread_by_parent_id() -> None:
    """A comment without parent_id starts a thread; a reply (with it) joins; the brand's own is a reply."""
    delivery = mapped(sample("instagram-comment.json"))
    thread = f"ig-comment:{IG}:17865799348089039"
    assert delivery.events == [
        Event("post", "17865799348089039", thread, IG, "instagram", at("2026-01-01T16:00:00Z")),
        Event("reply", "17902834651287345", thread, IG, "instagram", at("2026-01-01T16:05:00Z")),
        Event("post", "17933471205566611", thread, IG, "instagram", at("2026-01-01T16:07:00Z")),
    ]


def test_an_instagram_comment_in_business_login_form() -> None:
    """The documented form with field and value in the entry itself maps as a change."""
    event = one(sample("instagram-comment-business-login.json"))
    assert (event.kind, event.event_id, event.conversation_id, event.created_at) == (
        "post",
        "17880456319024577",
        f"ig-comment:{IG}:17880456319024577",
        at("2026-01-01T16:10:00Z"),
    )


def test_an_instagram_comment_named_by_comment_id() -> None:
    """Meta's Facebook Login example names the comment's id comment_id."""
    body = sample("instagram-comment-business-login.json")
    value = body["entry"][0]["value"]
    value["comment_id"] = value.pop("id")
    assert one(body).event_id == "17880456319024577"


def test_live_comments_and_feed_on_instagram_are_ignored() -> None:
    """Only the comments field is mapped on Instagram."""
    body = sample("instagram-comment-business-login.json")
    body["entry"][0]["field"] = "live_comments"
    assert mapped(body).ignored == 1


# Envelopes


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param([], "body must be a JSON object, got array", id="array"),
        pytest.param("page", "body must be a JSON object, got string", id="string"),
        pytest.param({"entry": []}, "object must be a string, got null", id="no-object"),
        pytest.param({"object": "page"}, "entry must be an array, got null", id="no-entry"),
        pytest.param(
            {"object": "page", "entry": {}}, "entry must be an array, got object", id="entry-object"
        ),
    ],
)
def test_a_body_that_is_not_the_envelope_is_one_dead_letter(body: Any, reason: str) -> None:
    """The whole body is dead-lettered with the reason."""
    delivery = mapped(body)
    assert delivery.invalid == [(orjson.dumps(body), reason)]
    assert delivery.events == []


def test_other_objects_are_ignored() -> None:
    """WhatsApp or user-object deliveries on the same endpoint are ignored."""
    delivery = mapped({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": []}]})
    assert (delivery.events, delivery.invalid, delivery.ignored) == ([], [], 1)


def test_a_bad_entry_is_dead_lettered_and_the_next_is_mapped() -> None:
    """An entry that is not an object, or whose arrays are not arrays, fails alone."""
    good = sample("meta-messenger-message.json")["entry"][0]
    body = {"object": "page", "entry": [5, {"id": PAGE, "messaging": {}}, {"id": {"x": 1}}, good]}
    delivery = mapped(body)
    assert [r for _, r in delivery.invalid] == [
        "entry must be an object, got number",
        "entry messaging must be an array, got object",
        "entry id must be a non-empty string or an integer, got object",
    ]
    assert len(delivery.events) == 2


# Properties


parties = st.fixed_dictionaries({"id": ids})
messages = st.fixed_dictionaries(
    {
        "sender": parties,
        "recipient": parties,
        "timestamp": times,
        "message": maybe(
            st.fixed_dictionaries(
                {"mid": maybe(st.text(min_size=1, max_size=30)), "is_echo": st.booleans()},
                optional={
                    "is_deleted": maybe(st.booleans()),
                    "app_id": maybe(st.sampled_from([int(BOT), BOT, int(PAGE_INBOX)])),
                },
            )
        ),
    },
)
reads = st.fixed_dictionaries({"sender": parties, "recipient": parties, "read": json_values})
questions = st.fixed_dictionaries(
    {
        "type": maybe(st.sampled_from(["csat", "nps", "ces", "free_form"])),
        "payload": maybe(st.integers(-1, 12).map(str)),
    }
)
screens = st.fixed_dictionaries(
    {
        "screen_id": maybe(st.integers(0, 3)),
        "questions": maybe(
            st.dictionaries(st.text(min_size=1, max_size=10), questions, min_size=1, max_size=3)
        ),
    }
)
cards = st.fixed_dictionaries(
    {
        "sender": parties,
        "recipient": parties,
        "messaging_feedback": maybe(
            st.fixed_dictionaries({"feedback_screens": maybe(st.lists(screens, min_size=1, max_size=2))})
        ),
    },
    optional={"timestamp": times},
)
authors = st.fixed_dictionaries({"id": maybe(st.sampled_from([PAGE, IG, PSID]))})
page_comments = st.fixed_dictionaries(
    {
        "field": maybe(st.just("feed")),
        "value": maybe(
            st.fixed_dictionaries(
                {
                    "item": maybe(st.sampled_from(["comment", "comment", "post"])),
                    "verb": maybe(st.sampled_from(["add", "add", "edited"])),
                    "comment_id": ids,
                    "created_time": times,
                    "from": authors,
                },
                optional={"parent_id": ids, "post_id": ids},
            )
        ),
    }
)
instagram_comments = st.fixed_dictionaries(
    {
        "field": maybe(st.sampled_from(["comments", "mentions"])),
        "value": maybe(st.fixed_dictionaries({"id": ids, "from": authors}, optional={"parent_id": ids})),
    }
)
changes = page_comments | instagram_comments
entries = st.fixed_dictionaries(
    {"time": times},
    optional={
        "id": maybe(st.sampled_from([PAGE, IG, int(PAGE)])),
        "messaging": maybe(st.lists(messages | cards | reads | json_values, max_size=3)),
        "standby": maybe(st.lists(messages, max_size=2)),
        "changes": maybe(st.lists(changes, max_size=3)),
    },
)
envelopes = st.fixed_dictionaries(
    {
        "object": maybe(st.sampled_from(["page", "instagram", "user"])),
        "entry": maybe(st.lists(entries, max_size=3)),
    }
)


@settings(max_examples=300)
@given(body=json_values | envelopes)
def test_any_body_maps_without_raising_to_events_the_workers_accept(body: Any) -> None:
    """Whatever the JSON, mapping never raises, and every event decodes and round-trips."""
    delivery = mapped(body)
    items = len(delivery.events) + len(delivery.invalid) + delivery.ignored
    assert items >= (1 if not isinstance(body, dict) else 0)


@pytest.mark.parametrize("kind", ["post", "reply", "feedback"])
def test_the_envelope_strategy_reaches_each_kind(kind: str) -> None:
    """The near-valid envelopes do produce events of every kind, so the property is not only about rejections."""
    find(envelopes, lambda body: any(e.kind == kind for e in map_meta(body, Names(), {BOT}, NOW).events),
         settings=settings(max_examples=5000, database=None, phases=[Phase.generate]))  # fmt: skip


@pytest.mark.parametrize("thread", ["fb-dm", "ig-dm", "fb-comment", "ig-comment"])
def test_the_envelope_strategy_reaches_each_kind_of_thread(thread: str) -> None:
    def reaches(body: Any) -> bool:
        return any(
            e.conversation_id.startswith(thread + ":") for e in map_meta(body, Names(), {BOT}, NOW).events
        )

    find(envelopes, reaches, settings=settings(max_examples=5000, database=None, phases=[Phase.generate]))


@pytest.mark.parametrize(
    "name",
    [
        "meta-messenger-message.json",
        "meta-messenger-echo.json",
        "meta-standby.json",
        "meta-feedback.json",
        "meta-page-comment.json",
        "instagram-dm.json",
        "instagram-comment.json",
        "instagram-comment-business-login.json",
    ],
)
def test_any_value_in_any_place_of_a_sample_maps_without_raising(name: str) -> None:
    """Each place of each sample in turn holds a value nested a thousand deep, then each JSON type."""
    for path in list(paths(sample(name))):
        for value in ODD_VALUES:
            body = replaced(name, path, value)
            mapped(body)
