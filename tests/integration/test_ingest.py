"""`socialsla ingest` on the real broker, over real HTTP: the platforms' documented deliveries, signed
as each platform signs, become exactly the events the gateway's contract says, on the right topic
with the right key; refusals produce nothing; poison goes to the dead letters beside the good items.

The expected events are written out by hand from the mapping rules (docs/ingest.md), field by field.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialsla.core.events import decode, parse_time
from tests.harness import Gateway, Stack
from tests.webhooks import (
    SECRETS,
    Record,
    bearer,
    chatwoot_signed,
    meta_signed,
    records,
    sample,
    x_signed,
)

NAMES = """\
"meta:103149398319188" = "acme"
"meta:17841405309211844" = "acme"
"x:2244994945" = "acme"
"chatwoot:3:12" = "acme"
"""
FB_DM = "fb-dm:103149398319188:4218946531502934"
CW = "chatwoot:3:388"

#: sample -> the events it must yield: (topic, the event's JSON as produced)
EXPECTED: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "meta-messenger-message.json": [
        ("posts", {"type": "post", "event_id": "m_Ac3xT1Bmz9sKJq0WbA7Ev8rG5zmMqTB2pQxh1ZCwYjVl", "conversation_id": FB_DM,
                   "account": "acme", "channel": "facebook", "created_at": "2026-01-01T12:00:00.478Z"}),
        ("posts", {"type": "post", "event_id": "m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU", "conversation_id": FB_DM,
                   "account": "acme", "channel": "facebook", "created_at": "2026-01-01T12:00:01.308Z"}),
    ],
    # an echo is the Page's reply; the bot app's is automated, the Page Inbox app's (Business Suite) is not
    "meta-messenger-echo.json": [
        ("replies", {"type": "reply", "event_id": "m_Bq9Lx0TzKd3Wc2aVf6Yh8pN4sJmR7uE1gHkQoX5iZvCt",
                     "conversation_id": FB_DM, "account": "acme", "channel": "facebook",
                     "created_at": "2026-01-01T12:00:02.627Z", "automated": True}),
        ("replies", {"type": "reply", "event_id": "m_Cw4Nd8QaHs2Fk7Rb1Tz6Lp0XyJv3Ge9Ui5Mo2Sc8KfBn",
                     "conversation_id": FB_DM, "account": "acme", "channel": "facebook",
                     "created_at": "2026-01-01T12:05:00.713Z", "automated": False}),
    ],
    "meta-feedback.json": [
        ("posts", {"type": "feedback",
                   "event_id": "fb-feedback:103149398319188:4218946531502934:1767272400250000:0:hauydmns8",
                   "conversation_id": FB_DM, "account": "acme", "channel": "facebook",
                   "created_at": "2026-01-01T13:00:00.25Z", "survey": "csat", "score": 5}),
    ],
    # a top-level comment threads by its own id; the Page's comment under it is a reply
    "meta-page-comment.json": [
        ("posts", {"type": "post", "event_id": "122131676912594941_1213590066982748",
                   "conversation_id": "fb-comment:103149398319188:122131676912594941_1213590066982748",
                   "account": "acme", "channel": "facebook", "created_at": "2026-01-01T14:00:12Z"}),
        ("replies", {"type": "reply", "event_id": "122131676912594941_987301254416522",
                     "conversation_id": "fb-comment:103149398319188:122131676912594941_1213590066982748",
                     "account": "acme", "channel": "facebook", "created_at": "2026-01-01T14:05:40Z"}),
        ("posts", {"type": "post", "event_id": "122131676912594941_542072878449250",
                   "conversation_id": "fb-comment:103149398319188:122131676912594941_1213590066982748",
                   "account": "acme", "channel": "facebook", "created_at": "2026-01-01T14:09:02Z"}),
    ],
    "x-mention.json": [
        ("posts", {"type": "post", "event_id": "1803399614211788841", "conversation_id": "x-public:2244994945:3001969357",
                   "account": "acme", "channel": "x", "created_at": "2024-06-19T11:05:02Z"}),
    ],
    "x-brand-reply.json": [
        ("replies", {"type": "reply", "event_id": "1803403317769568405",
                     "conversation_id": "x-public:2244994945:3001969357", "account": "acme", "channel": "x",
                     "created_at": "2024-06-19T11:19:45Z"}),
    ],
    # no names entry for this account: it is its id; created_timestamp is in milliseconds
    "x-dm.json": [
        ("posts", {"type": "post", "event_id": "954491830116155396", "conversation_id": "x-dm:4337869213:3001969357",
                   "account": "4337869213", "channel": "x", "created_at": "2018-01-19T23:12:40.557Z"}),
    ],
    "x-dm-sent.json": [
        ("replies", {"type": "reply", "event_id": "954492419512422404",
                     "conversation_id": "x-dm:4337869213:3001969357", "account": "4337869213", "channel": "x",
                     "created_at": "2018-01-19T23:15:01.081Z", "automated": False}),
    ],
    "chatwoot-message-outgoing.json": [
        ("replies", {"type": "reply", "event_id": "chatwoot:3:message:4721", "conversation_id": CW, "account": "acme",
                     "channel": "facebook", "created_at": "2026-01-05T09:41:07.512Z", "agent": "Priya Raman"}),
    ],
    # updated_at is float seconds: the instant is exact to the microsecond, and names the event
    "chatwoot-status-resolved.json": [
        ("replies", {"type": "resolve", "event_id": "chatwoot:3:resolved:388:1767606391208374",
                     "conversation_id": CW, "account": "acme", "channel": "facebook",
                     "created_at": "2026-01-05T09:46:31.208374Z", "agent": "Priya Raman"}),
    ],
}  # fmt: skip
#: Signed deliveries, by the path they go to.
SIGNERS = {"meta": meta_signed, "x": x_signed, "chatwoot": chatwoot_signed}


def _order(record: tuple[str, bytes | None, dict[str, Any]]) -> tuple[str, bytes, bytes]:
    topic, key, event = record
    return topic, key or b"", orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def platform_of(name: str) -> str:
    return "meta" if name.startswith(("meta", "instagram")) else name.split("-")[0]


@pytest.fixture
def gateway(stack: Stack, tmp_path: Path) -> Gateway:
    names = tmp_path / "accounts.toml"
    names.write_text(NAMES)
    return stack.gateway(SOCIALSLA_INGEST_ACCOUNTS=str(names), SOCIALSLA_INGEST_MAX_BYTES="65536")


def topics(stack: Stack) -> dict[str, str]:
    return {name: stack.env[f"SOCIALSLA_TOPIC_{name.upper()}"] for name in ("posts", "replies", "deadletter")}


def produced(stack: Stack) -> list[Record]:
    return records(stack.env["SOCIALSLA_BOOTSTRAP_SERVERS"], list(topics(stack).values()))


def test_documented_deliveries_become_exactly_the_contracts_events(stack: Stack, gateway: Gateway) -> None:
    """Each documented sample, signed and posted, yields its events on the right topic, keyed by thread."""
    for name in EXPECTED:
        platform = platform_of(name)
        body = sample(name)
        status, answer = gateway.post(f"/{platform}", body, SIGNERS[platform](body))
        assert status == 200, (name, answer)
        assert answer["produced"] == len(EXPECTED[name]), (name, answer)
    by_topic = {value: key for key, value in topics(stack).items()}
    got = sorted(((by_topic[r.topic], r.key, orjson.loads(r.value)) for r in produced(stack)), key=_order)
    want = sorted(
        (
            (topic, event["conversation_id"].encode(), event)
            for events in EXPECTED.values()
            for topic, event in events
        ),
        key=_order,
    )
    assert got == want
    for record in produced(stack):
        decode(record.value, parse_time("2026-01-08T00:00:00Z"))  # the workers accept every one


def test_a_csat_answer_is_dated_when_the_gateway_receives_it(stack: Stack, gateway: Gateway) -> None:
    """Chatwoot does not say when the customer answered: the arrival, to the microsecond, is the instant."""
    body = sample("chatwoot-csat.json")
    before = time.time()
    status, _ = gateway.post("/chatwoot", body, chatwoot_signed(body))
    after = time.time()
    assert status == 200
    (record,) = produced(stack)
    event = orjson.loads(record.value)
    assert {k: v for k, v in event.items() if k != "created_at"} == {
        "type": "feedback", "event_id": "chatwoot:3:csat:4723:4", "conversation_id": CW, "account": "acme",
        "channel": "facebook", "survey": "csat", "score": 4,
    }  # fmt: skip
    assert before - 1 <= parse_time(event["created_at"]) / 1e6 <= after + 1
    assert record.topic == topics(stack)["posts"]


def test_what_the_contract_does_not_map_is_ignored_and_counted(stack: Stack, gateway: Gateway) -> None:
    """A favorite, a read, a deleted message and a post's own change produce nothing and count as ignored."""
    for name in ("x-favorite.json", "instagram-dm.json", "meta-page-comment.json"):
        body = sample(name)
        platform = platform_of(name)
        status, _ = gateway.post(f"/{platform}", body, SIGNERS[platform](body))
        assert status == 200
    ignored = {
        dict(labels)["platform"]: value
        for (name, labels), value in gateway.metrics().items()
        if name == "socialsla_ingest_items_total" and dict(labels)["outcome"] == "ignored"
    }
    assert ignored == {"meta": 3.0, "x": 1.0, "chatwoot": 0.0, "events": 0.0}


def test_subscription_checks(gateway: Gateway) -> None:
    """Meta's verify handshake echoes the challenge only for our token; X's CRC is the base64 HMAC."""
    token = SECRETS["SOCIALSLA_META_VERIFY_TOKEN"]
    status, body, headers = gateway.request(
        "GET", f"/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
    )
    assert (status, body) == (200, b"1158201444")
    assert headers["Content-Type"].startswith("text/plain")
    assert gateway.request("GET", "/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1")[0] == 403
    status, body, _ = gateway.request("GET", "/x?crc_token=challenge-token")
    assert status == 200
    expected = x_signed(b"challenge-token")["x-twitter-webhooks-signature"]
    assert orjson.loads(body) == {"response_token": expected}
    assert gateway.request("GET", "/x")[0] == 400


def test_refusals_produce_nothing(stack: Stack, gateway: Gateway) -> None:
    """Wrong and missing signatures on every platform, a stale Chatwoot timestamp, a wrong bearer token and
    a body over the limit: each its status, a reason, and not one record produced."""
    meta, x, chatwoot = (
        sample("meta-messenger-message.json"),
        sample("x-dm.json"),
        sample("chatwoot-message-outgoing.json"),
    )
    events = sample("meta-messenger-message.json")  # any bytes: the token is checked first
    cases = [
        ("/meta", meta, {}, 401), ("/meta", meta, meta_signed(meta, "not-the-secret"), 401),
        ("/meta", meta, meta_signed(meta + b" "), 401),
        ("/x", x, {}, 401), ("/x", x, x_signed(x, "not-the-secret"), 401),
        ("/chatwoot", chatwoot, {}, 401), ("/chatwoot", chatwoot, chatwoot_signed(chatwoot, "not-the-secret"), 401),
        ("/chatwoot", chatwoot, chatwoot_signed(chatwoot, at=int(time.time()) - 301), 401),
        ("/events", events, {}, 401), ("/events", events, bearer("not-the-token"), 401),
        ("/meta", b" " * 70_000, meta_signed(b" " * 70_000), 413),
    ]  # fmt: skip
    for path, body, headers, status in cases:
        got, answer = gateway.post(path, body, headers)
        assert got == status, (path, headers, answer)
        assert answer.get("error"), answer
    assert produced(stack) == []
    refused = sum(
        value for (name, labels), value in gateway.metrics().items()
        if name == "socialsla_ingest_deliveries_total" and dict(labels)["code"] in ("401", "413")
    )  # fmt: skip
    assert refused == len(cases)


def test_poison_goes_to_the_dead_letters_and_the_rest_is_produced(stack: Stack, gateway: Gateway) -> None:
    """A body that is not JSON, and a feedback card's score out of range beside a good message: the bad part is
    dead-lettered with its reason and source, the good one produced, and the delivery answered 200."""
    not_json = b'{"object": "page", "entry": [ oops'
    status, answer = gateway.post("/meta", not_json, meta_signed(not_json))
    assert (status, answer) == (200, {"produced": 0, "invalid": 1, "ignored": 0})
    card = orjson.loads(sample("meta-feedback.json"))
    card["entry"][0]["messaging"][0]["messaging_feedback"]["feedback_screens"][0]["questions"]["hauydmns8"][
        "payload"
    ] = "9"
    message = orjson.loads(sample("meta-messenger-message.json"))["entry"][0]["messaging"][0]
    card["entry"][0]["messaging"].append(message)
    body = orjson.dumps(card)
    status, answer = gateway.post("/meta", body, meta_signed(body))
    assert (status, answer) == (200, {"produced": 1, "invalid": 1, "ignored": 0})
    letters = {r.value: r.headers for r in produced(stack) if r.topic == topics(stack)["deadletter"]}
    assert letters[not_json]["source"] == b"ingest/meta"
    assert letters[not_json]["reason"].startswith(b"not valid JSON")
    ((item, headers),) = [(value, headers) for value, headers in letters.items() if value != not_json]
    assert b"score" in headers["reason"]
    assert headers["source"] == b"ingest/meta"
    screen = orjson.loads(item)["messaging_feedback"]["feedback_screens"][0]
    assert screen["questions"]["hauydmns8"]["payload"] == "9"  # the item itself, as it came
    (good,) = [r for r in produced(stack) if r.topic == topics(stack)["posts"]]
    assert orjson.loads(good.value)["event_id"] == message["message"]["mid"]


def test_our_own_events_with_a_token(stack: Stack, gateway: Gateway) -> None:
    """/events takes JSON Lines of our events: valid ones produced as sent (a resolve keeps its agent),
    invalid ones dead-lettered with the decoder's reason; the answer says how many of each."""
    resolve = b'{"type":"resolve","event_id":"z1","conversation_id":"c1","account":"acme","channel":"x","created_at":"2026-01-07T10:00:00Z","agent":"Ana"}'
    post = b'{"type":"post","event_id":"p1","conversation_id":"c1","account":"acme","channel":"x","created_at":"2026-01-07T09:00:00Z"}'
    bad = b'{"type":"post","event_id":"p2","conversation_id":"c1","account":"acme","channel":"X","created_at":"2026-01-07T09:00:00Z"}'
    status, answer = gateway.post("/events", b"\n".join([post, bad, resolve]), bearer())
    assert (status, answer) == (200, {"produced": 2, "invalid": 1, "ignored": 0})
    by_topic: dict[str, list[Record]] = {}
    for record in produced(stack):
        by_topic.setdefault(record.topic, []).append(record)
    names = topics(stack)
    assert [r.value for r in by_topic[names["posts"]]] == [post]
    assert [(r.key, r.value) for r in by_topic[names["replies"]]] == [(b"c1", resolve)]
    (letter,) = by_topic[names["deadletter"]]
    assert letter.value == bad
    assert letter.headers["source"] == b"ingest/events"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
entries = st.fixed_dictionaries(
    {"object": st.sampled_from(["page", "instagram", "user"]), "entry": st.lists(json_values, max_size=3)}
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, entries))
def test_any_json_body_never_crashes_the_gateway_nor_produces_an_event_the_workers_reject(
    stack: Stack, gateway: Gateway, body: object
) -> None:
    raw = json.dumps(body).encode()  # integers past 64 bits and non-finite floats included
    for path, signer in SIGNERS.items():
        status, answer = gateway.post(f"/{path}", raw, signer(raw))
        assert status == 200, (path, answer)
    assert gateway.process is not None
    assert gateway.process.poll() is None
    for record in produced(stack):
        if record.topic != topics(stack)["deadletter"]:
            decode(record.value, time.time_ns() // 1000)


def test_a_poisoned_body_near_the_size_limit_is_dead_lettered_cut_to_fit_a_record(stack: Stack) -> None:
    """A signed body that is not JSON, just under the default 1 MiB limit, would not fit a Kafka record with
    its headers: its dead letter keeps the first 900 KiB and says how long it was, and the answer is 200 (not
    a 503 the platform would retry for ever)."""
    gateway = stack.gateway()  # the default SOCIALSLA_INGEST_MAX_BYTES, 1 MiB
    body = b"{" + b"x" * 1_048_400
    status, answer = gateway.post("/meta", body, meta_signed(body))
    assert (status, answer) == (200, {"produced": 0, "invalid": 1, "ignored": 0})
    (letter,) = produced(stack)
    assert letter.topic == topics(stack)["deadletter"]
    assert letter.value == body[: 900 * 1024]
    assert letter.headers["truncated_from_bytes"] == str(len(body)).encode()
    assert letter.headers["reason"].startswith(b"not valid JSON")
