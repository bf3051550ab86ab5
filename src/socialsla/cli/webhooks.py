"""The demo's traffic as the networks send it: each generated event as a signed webhook delivery.

acme and globex answer on Meta (Messenger and Instagram Direct, Page and Instagram
comments, feedback cards) and on X (direct messages, mentions); initech's team
answers every channel in Chatwoot, which also carries its agents' names, its
resolutions and its CSAT. A generated thread's id picks its customer, and whether
it is a private message or a public comment. What a network cannot say is not
sent: Meta and X know no resolution, X no survey, Chatwoot no NPS or CES, and a
public comment or tweet does not say that a bot wrote it (bots answer in private);
so only initech's series have resolution figures, as with real teams.

The shapes are those of the platforms' documentation (tests/data/webhooks holds
one documented sample of each), and the gateway reads them like any other.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from socialsla.core.events import format_time, parse_time
from socialsla.ingest.signatures import signed_chatwoot, signed_meta, signed_x
from socialsla.stream.settings import Settings

if TYPE_CHECKING:  # the generator's module loads the Kafka client, which `socialsla report` must not
    from socialsla.cli.traffic import TrafficShape

#: The demo's accounts on each network, as the names file maps them.
META_PAGES: Final = {"acme": "103149398319188", "globex": "104211933412876"}
INSTAGRAM_ACCOUNTS: Final = {"acme": "17841405309211844", "globex": "17841400018822119"}
X_USERS: Final = {"acme": "2244994945", "globex": "783214"}
CHATWOOT_ACCOUNT: Final = "3"
CHATWOOT_INBOXES: Final = {"facebook": "12", "instagram": "13", "x": "14"}
CHATWOOT_TEAMS: Final = ("initech",)
_CHATWOOT_CHANNELS: Final = {"facebook": "Channel::FacebookPage", "instagram": "Channel::Instagram",
                             "x": "Channel::TwitterProfile"}  # fmt: skip
#: The team's bot apps (set as SOCIALSLA_META_AUTOMATED_APP_IDS and SOCIALSLA_X_AUTOMATED_APP_IDS), and
#: Meta's Page Inbox app, which sends what agents type in Business Suite.
META_BOT_APP: Final = "1517776481860111"
META_INBOX_APP: Final = 263902037430900
X_BOT_APP: Final = "17000001"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One delivery to the gateway: its path and body."""

    path: str
    body: bytes


def names_file() -> str:
    """The names file of the demo's accounts (SOCIALSLA_INGEST_ACCOUNTS)."""
    lines = [f'"meta:{page}" = "{account}"' for account, page in META_PAGES.items()]
    lines += [f'"meta:{ig}" = "{account}"' for account, ig in INSTAGRAM_ACCOUNTS.items()]
    lines += [f'"x:{user}" = "{account}"' for account, user in X_USERS.items()]
    lines += [f'"chatwoot:{CHATWOOT_ACCOUNT}:{inbox}" = "initech"' for inbox in CHATWOOT_INBOXES.values()]
    return "\n".join(lines) + "\n"


def signed(outgoing: Outgoing, settings: Settings, now_s: int) -> dict[str, str]:
    """The headers a network signs this delivery with, by the gateway's secrets."""
    headers = {"Content-Type": "application/json"}
    if outgoing.path == "/meta":
        headers.update(signed_meta(outgoing.body, settings.meta_app_secret or ""))
    elif outgoing.path == "/x":
        headers.update(signed_x(outgoing.body, settings.x_consumer_secret or ""))
    else:
        headers.update(signed_chatwoot(outgoing.body, settings.chatwoot_secret or "", now_s))
    return headers


def delivery_of(line: bytes) -> Outgoing | None:
    """The delivery that carries a generated event; None for one its network cannot say.

    A generated line that is not a valid event becomes a Messenger message whose
    time cannot be read: the gateway dead-letters it, as it would Meta's.
    """
    try:
        event = orjson.loads(line)
        at_us = parse_time(event["created_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return _poisoned(line)
    if event["account"] in CHATWOOT_TEAMS:
        return _chatwoot(event, at_us)
    if event["channel"] == "x":
        return _x(event, at_us)
    return _meta(event, at_us)


def _number(text: str, digits: int = 15) -> str:
    """A stable numeric id for a generated name (a customer, a comment)."""
    return str(10 ** (digits - 1) + zlib.crc32(text.encode()) * 7919 % (9 * 10 ** (digits - 1)))


def _public(thread: str) -> bool:
    """One thread in four is public: a comment or a mention, not a private message."""
    return zlib.crc32(thread.encode()) % 4 == 0


def _poisoned(line: bytes) -> Outgoing:
    item = {"sender": {"id": "1"}, "recipient": {"id": META_PAGES["acme"]}, "timestamp": "yesterday",
            "message": {"mid": f"m_bad{zlib.crc32(line)}", "text": "?"}}  # fmt: skip
    return Outgoing(
        "/meta", orjson.dumps({"object": "page", "entry": [{"id": META_PAGES["acme"], "messaging": [item]}]})
    )


def _meta(event: dict[str, Any], at_us: int) -> Outgoing | None:
    instagram = event["channel"] == "instagram"
    brand = (INSTAGRAM_ACCOUNTS if instagram else META_PAGES)[event["account"]]
    thread, kind = event["conversation_id"], event["type"]
    customer = _number(thread)
    entry: dict[str, Any] = {"id": brand, "time": at_us // 1000}
    if kind == "resolve" or (_public(thread) and event.get("automated")):
        return None  # Meta knows no resolution, and a comment does not say which app wrote it
    if _public(thread) and kind != "feedback":
        entry["changes"] = [_comment(event, at_us, brand, customer, instagram)]
    elif kind == "feedback":
        entry["messaging"] = [_feedback_card(event, at_us, brand, customer)]
    else:
        entry["messaging"] = [_message(event, at_us, brand, customer)]
    body = {"object": "instagram" if instagram else "page", "entry": [entry]}
    return Outgoing("/meta", orjson.dumps(body))


def _message(event: dict[str, Any], at_us: int, brand: str, customer: str) -> dict[str, Any]:
    mid = f"m_{_number(event['event_id'], 18)}"
    if event["type"] == "post":
        return {"sender": {"id": customer}, "recipient": {"id": brand}, "timestamp": at_us // 1000,
                "message": {"mid": mid, "text": "Hi, my order has not arrived."}}  # fmt: skip
    app = int(META_BOT_APP) if event.get("automated") else META_INBOX_APP
    return {"sender": {"id": brand}, "recipient": {"id": customer}, "timestamp": at_us // 1000,
            "message": {"is_echo": True, "app_id": app, "mid": mid, "text": "Checking now."}}  # fmt: skip


def _comment(event: dict[str, Any], at_us: int, brand: str, customer: str, instagram: bool) -> dict[str, Any]:
    """A comment under one of the brand's posts: the thread's first is top level, the rest answer it."""
    thread = event["conversation_id"]
    post, first = _number(f"post:{thread}"), _number(f"first:{thread}")
    this = first if event["event_id"].endswith("-p") else _number(event["event_id"])
    author = brand if event["type"] == "reply" else customer
    if instagram:
        value: dict[str, Any] = {"from": {"id": author, "username": "someone"}, "media": {"id": post},
                                 "id": this, "text": "..."}  # fmt: skip
        if this != first:
            value["parent_id"] = first
        return {"field": "comments", "value": value}
    return {"field": "feed", "value": {
        "item": "comment", "verb": "add", "post_id": f"{brand}_{post}", "comment_id": f"{post}_{this}",
        "parent_id": f"{brand}_{post}" if this == first else f"{post}_{first}",
        "created_time": at_us // 1_000_000, "from": {"id": author, "name": "Someone"}, "message": "...",
    }}  # fmt: skip


def _feedback_card(event: dict[str, Any], at_us: int, brand: str, customer: str) -> dict[str, Any]:
    question = {"type": event["survey"], "payload": str(event["score"])}
    screen = {"screen_id": 0, "questions": {_number(event["event_id"], 9): question}}
    return {"sender": {"id": customer}, "recipient": {"id": brand}, "timestamp": at_us // 1000,
            "messaging_feedback": {"feedback_screens": [screen]}}  # fmt: skip


def _x(event: dict[str, Any], at_us: int) -> Outgoing | None:
    brand, thread, kind = X_USERS[event["account"]], event["conversation_id"], event["type"]
    if kind not in ("post", "reply") or (_public(thread) and event.get("automated")):
        return None  # X knows no resolution nor survey, and a tweet does not say which app wrote it
    customer, tweet_id = _number(thread, 10), _number(event["event_id"], 19)
    if _public(thread):
        author = brand if kind == "reply" else customer
        tweet = {"id_str": tweet_id, "timestamp_ms": str(at_us // 1000), "text": "@brand help",
                 "user": {"id_str": author, "screen_name": "someone"}}  # fmt: skip
        if kind == "reply":
            tweet["in_reply_to_user_id_str"] = customer
        body: dict[str, Any] = {"for_user_id": brand, "tweet_create_events": [tweet]}
    else:
        sender, recipient = (brand, customer) if kind == "reply" else (customer, brand)
        create: dict[str, Any] = {"target": {"recipient_id": recipient}, "sender_id": sender,
                                  "message_data": {"text": "..."}}  # fmt: skip
        if event.get("automated"):
            create["source_app_id"] = X_BOT_APP
        message = {"type": "message_create", "id": tweet_id, "created_timestamp": str(at_us // 1000),
                   "message_create": create}  # fmt: skip
        body = {"for_user_id": brand, "direct_message_events": [message]}
    return Outgoing("/x", orjson.dumps(body))


def _chatwoot(event: dict[str, Any], at_us: int) -> Outgoing | None:
    inbox, kind = CHATWOOT_INBOXES[event["channel"]], event["type"]
    conversation = {"id": int(_number(event["conversation_id"], 9)), "inbox_id": int(inbox),
                    "channel": _CHATWOOT_CHANNELS[event["channel"]]}  # fmt: skip
    account = {"id": int(CHATWOOT_ACCOUNT), "name": "Initech"}
    message_id = int(_number(event["event_id"], 9))
    if kind == "resolve":
        body = {"event": "conversation_status_changed", "status": "resolved", **conversation,
                "updated_at": at_us / 1_000_000, "account": account,
                "meta": {"assignee": {"name": "Dora"}}}  # fmt: skip
    elif kind == "feedback":
        if event["survey"] != "csat":
            return None
        rating = {"csat_survey_response": {"rating": event["score"]}}
        body = {"event": "message_updated", "id": message_id, "content_type": "input_csat",
                "content_attributes": {"submitted_values": rating}, "message_type": "template",
                "inbox": {"id": int(inbox)}, "conversation": conversation, "account": account}  # fmt: skip
    else:
        body = {"event": "message_created", "id": message_id, "created_at": format_time(at_us),
                "message_type": "incoming" if kind == "post" else "outgoing", "private": False,
                "content_type": "text", "content_attributes": {}, "sender": _chatwoot_sender(event),
                "inbox": {"id": int(inbox)}, "conversation": conversation, "account": account}  # fmt: skip
    return Outgoing("/chatwoot", orjson.dumps(body))


def _chatwoot_sender(event: dict[str, Any]) -> dict[str, Any]:
    if event["type"] == "post":
        return {"id": int(_number(event["conversation_id"], 6)), "name": "Customer", "type": "contact"}
    if event.get("automated"):
        return {"id": 1, "name": "Initech Bot", "type": "agent_bot"}
    agent = str(event.get("agent") or "ana")
    return {"id": zlib.crc32(agent.encode()) % 1000, "name": agent.title(), "type": "user"}


class RefusedDelivery(Exception):
    """The gateway refused a delivery of the demo's own: a setting differs between the two."""


#: Deliveries in flight at once: the backfill sends hours of history when the demo starts.
IN_FLIGHT: Final = 16
#: How long the generator keeps trying a gateway that does not answer yet (it is starting).
GATEWAY_WAIT_S: Final = 60.0


async def send_as_webhooks(
    shape: TrafficShape,
    settings: Settings,
    now_us: Callable[[], int],
    backfill_seconds: float,
    on_sent: Callable[[int], Any] | None = None,
) -> int:
    """Run the generator through the gateway until cancelled: each event as its network's signed
    delivery. Calls `on_sent` with the count of events the gateway has produced so far."""
    import aiohttp

    from socialsla.cli.traffic import generate

    base = f"http://{settings.ingest_host}:{settings.ingest_port}"
    slots = asyncio.Semaphore(IN_FLIGHT)
    produced = [0]
    running: set[asyncio.Task[int]] = set()
    failures: list[BaseException] = []

    def done(task: asyncio.Task[int]) -> None:
        running.discard(task)
        slots.release()
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            failures.append(error)  # raised by the loop below: a refused delivery ends the demo
            return
        produced[0] += task.result()
        if on_sent is not None:
            on_sent(produced[0])

    async with aiohttp.ClientSession() as session:
        try:
            async for line in generate(shape, now_us, backfill_seconds, 0.0):
                outgoing = delivery_of(line)
                if outgoing is None:
                    continue
                await slots.acquire()
                if failures:
                    slots.release()
                    raise failures[0]
                task = asyncio.create_task(_deliver(session, base, outgoing, settings))
                running.add(task)
                task.add_done_callback(done)
        finally:
            for task in list(running):
                task.cancel()
    return produced[0]


async def _deliver(session: Any, base: str, outgoing: Outgoing, settings: Settings) -> int:
    """Post one delivery until the gateway takes it (a 503 is sent again, as the networks do)."""
    import aiohttp

    started = time.monotonic()
    while True:
        headers = signed(outgoing, settings, int(time.time()))
        try:
            async with session.post(base + outgoing.path, data=outgoing.body, headers=headers) as response:
                answer = await response.read()
                if response.status == 200:
                    return int(orjson.loads(answer)["produced"])
                if response.status != 503:
                    raise RefusedDelivery(f"{outgoing.path} answered {response.status}: {answer[:200]!r}")
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        except aiohttp.ClientConnectionError:
            if time.monotonic() - started > GATEWAY_WAIT_S:
                raise
            await asyncio.sleep(0.5)
