"""The on-call board: every series of the deployment on one page, whichever worker serves it.

A worker knows only the series it exports (each series has one exporting
worker at a time), but a team runs several behind one address, so the page at
`/` must show them all. Each worker posts, every `PUBLISH_EVERY_S`, one message
per series it exports to the compacted topic `<app id>-board`, keyed by
series: its card (`card`): the rule verdicts and breach forecast, whether the
calendar is open, how many wait, are at risk, are due within the hour or are
already missed, and the heads of those lists, all as `/metrics` and `/waiting`
say them. Every worker reads the whole topic from its start and keeps the
latest message per series (`Board`), which `GET /board` serves to the page. A
series a worker stops exporting is posted by its next owner within
`PUBLISH_EVERY_S`; a message not renewed for `STALE_AFTER_S` is shown as stale,
and one older than a day is dropped, as the topic's retention drops it.

Cost: one message per series every `PUBLISH_EVERY_S` (1,000 series: 200
messages a second for the deployment), each about 6 KiB at most whatever the
backlog, and per series a judgement (`series.judged`: only the windows the
rules read) and a walk of the customers due soon or at risk
(`waiting.triage`), not of the whole backlog: at 1M open conversations a
round is a small share of a core (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

import orjson

from socialsla.core import waiting
from socialsla.core.events import MICROS, format_time
from socialsla.core.rules import Rule
from socialsla.core.series import Evaluation, Series, judged

log = logging.getLogger("socialsla")

#: How often a worker posts its series; the page is this fresh, plus its own refresh.
PUBLISH_EVERY_S: Final = 5.0
#: Per series, the customers to answer now on the board (at risk first, then by deadline)...
ACT_HEAD: Final = 10
#: ...and the oldest of those already missed: the backlog is counted, and listed in full at `/waiting`.
MISSED_HEAD: Final = 5
#: A series whose message is older than this is shown as stale (its worker stopped posting it).
STALE_AFTER_S: Final = 30.0
#: Messages older than this are dropped, as the topic's retention drops them.
FORGET_AFTER_S: Final = 86_400.0


def card(
    series: Series, judgement: Evaluation, at: int, rules: Sequence[Rule], worker: str
) -> dict[str, Any]:
    """One series on the board at `at`: what `/metrics` and `/waiting` say of it, and who said it.

    `judgement` is the series' `series.judged` at `at`. The card holds the
    heads of its lists only (`waiting.triage`), so its size does not grow with
    the backlog.
    """
    stats = judgement.business or judgement.stats
    found = waiting.triage(series.windows, stats, at, rules, judgement.verdicts, ACT_HEAD, MISSED_HEAD)
    return {
        "account": series.account,
        "channel": series.channel,
        "at": format_time(at),
        "posted": time.time(),
        "worker": worker,
        "calendar": judgement.calendar,
        "open": judgement.is_open,
        "rules": {
            name: {
                "ok": verdict.ok,
                "rate_breach_in_seconds": None
                if verdict.rate_breach_in_us is None
                else verdict.rate_breach_in_us / MICROS,
                "failed": [condition for condition, _ in verdict.failed],
            }
            for name, verdict in judgement.verdicts.items()
        },
        "oldest_unanswered_seconds": judgement.stats.oldest_unanswered_seconds,
        "counts": {
            "waiting": found.waiting,
            "pending": found.pending,
            "missed": found.missed_count,
            "at_risk": found.at_risk,
            "due_soon": found.due_soon,
        },
        "due_soon_seconds": waiting.DUE_SOON_US / MICROS,
        "act": [entry.to_json() for entry in found.act],
        "missed": [entry.to_json() for entry in found.missed],
    }


class Board:
    """The latest card of every series of the deployment, as read from the board topic."""

    def __init__(self) -> None:
        self.cards: dict[bytes, dict[str, Any]] = {}
        #: Messages that did not parse (the topic is ours: a sign of another writer).
        self.unreadable = 0
        #: Cards in an older worker's format, left out.
        self.outdated = 0

    def take(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one message: a card replaces the series' last one; an empty value removes it."""
        if key is None:
            self.unreadable += 1
            return
        if not value:
            self.cards.pop(key, None)
            return
        try:
            found = orjson.loads(value)
            if not isinstance(found, dict) or not isinstance(found.get("posted"), int | float):
                raise ValueError("not a card")
        except ValueError:
            self.unreadable += 1
            return
        if not isinstance(found.get("counts"), dict):
            # A card of the code before the triage (a worker not yet upgraded, or the day-old card of
            # a series nobody posts any more): the page could not show it. Its series is shown again
            # as soon as an upgraded worker posts it.
            self.outdated += 1
            return
        self.cards[key] = found

    def view(self, now_s: float) -> dict[str, Any]:
        """`GET /board`: every series' latest card, sorted as the report sorts them, each with its age."""
        for key in [k for k, c in self.cards.items() if now_s - c["posted"] > FORGET_AFTER_S]:
            del self.cards[key]
        shown = []
        for each in sorted(self.cards.values(), key=lambda c: (str(c.get("account")), str(c.get("channel")))):
            age = max(0.0, now_s - each["posted"])
            shown.append({**each, "age_seconds": round(age, 1), "stale": age > STALE_AFTER_S})
        return {"series": shown, "publish_every_seconds": PUBLISH_EVERY_S}


def messages(
    ledger: Iterable[Series], at: int, rules: Sequence[Rule], worker: str
) -> list[tuple[bytes, bytes]]:
    """The messages of one round: a card per exported series, keyed `account|channel`."""
    out = []
    for series in ledger:
        key = f"{series.account}|{series.channel}".encode()
        out.append((key, orjson.dumps(card(series, judged(series, at, rules), at, rules, worker))))
    return out


async def post(topic: Any, ledger: Iterable[Series], at: int, rules: Sequence[Rule], worker: str) -> int:
    """One round: send every exported series' card to the board topic (a Faust topic); returns how many."""
    sent = messages(ledger, at, rules, worker)
    for key, value in sent:
        await topic.send(key=key, value=value)
    return len(sent)


async def follow(options: dict[str, Any], topic: str, board: Board) -> None:
    """Read the board topic from its start and keep following it, until cancelled."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    while True:
        consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, auto_offset_reset="earliest")
        try:
            await consumer.start()
            tps = [TopicPartition(topic, 0)]  # the topic has one partition (`kafka.ensure_topics`)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        board.take(record.key, record.value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the broker went away: read again from the start
            log.warning("socialsla: reading %s failed (%r); reading it again", topic, exc)
            await asyncio.sleep(1.0)
        finally:
            await consumer.stop()
