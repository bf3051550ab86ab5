"""Import of the public "Customer Support on Twitter" CSV into events (JSON Lines).

Each row is a tweet. Brand tweets (`inbound` False) become replies of the brand
account that wrote them; customer tweets become posts of the brand that
answered them or, failing that, of the brand they reply to. Tweets are grouped
into conversations by following `in_response_to_tweet_id` to the thread's root.
The text column is never read into an event. Two passes: the first keeps a
small index (parent, author, inbound) per tweet, the second writes events in
file order.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Final

from socialsla.core.events import ACCOUNT_PATTERN, MICROS, Event

CHANNEL: Final = "x"
_TIME_FORMAT: Final = "%a %b %d %H:%M:%S %z %Y"
_ACCOUNT_RE: Final = re.compile(ACCOUNT_PATTERN)
_COLUMNS: Final = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)


class TwcsFormatError(ValueError):
    """The CSV is not in the expected format at all (as opposed to a bad row)."""


@dataclass(slots=True)
class ImportTally:
    """What became of the rows."""

    posts: int = 0
    replies: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """A line or two for stderr."""
        text = f"imported {self.posts} posts and {self.replies} replies"
        if self.skipped:
            reasons = ", ".join(f"{n} {why}" for why, n in self.skipped.most_common())
            text += f"; skipped {sum(self.skipped.values())} rows: {reasons}"
        return text


@dataclass(frozen=True, slots=True)
class _Tweet:
    author: str
    inbound: bool
    parent: str | None
    responses: tuple[str, ...]


def _reader(stream: IO[str]) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(stream)
    missing = [c for c in _COLUMNS if c != "text" and c not in (reader.fieldnames or ())]
    if missing:
        raise TwcsFormatError(f"not a twcs CSV: missing column(s) {', '.join(missing)}")
    yield from reader


def _index(stream: IO[str]) -> dict[str, _Tweet]:
    tweets: dict[str, _Tweet] = {}
    for row in _reader(stream):
        tweet_id = (row.get("tweet_id") or "").strip()
        if not tweet_id:
            continue
        responses = tuple(r.strip() for r in (row.get("response_tweet_id") or "").split(",") if r.strip())
        tweets[tweet_id] = _Tweet(
            author=(row.get("author_id") or "").strip(),
            inbound=(row.get("inbound") or "").strip().lower() == "true",
            parent=(row.get("in_response_to_tweet_id") or "").strip() or None,
            responses=responses,
        )
    return tweets


def _root(tweet_id: str, tweets: dict[str, _Tweet]) -> str:
    """The thread's first tweet: the earliest ancestor, known or only referenced."""
    seen = {tweet_id}
    current = tweet_id
    while True:
        parent = tweets[current].parent
        if parent is None or parent in seen:
            return current
        if parent not in tweets:
            return parent
        seen.add(parent)
        current = parent


def _brand_of(tweet: _Tweet, tweets: dict[str, _Tweet]) -> str | None:
    for response in tweet.responses:
        answer = tweets.get(response)
        if answer is not None and not answer.inbound:
            return answer.author
    parent = tweets.get(tweet.parent) if tweet.parent else None
    if parent is not None and not parent.inbound:
        return parent.author
    return None


def convert(text: IO[str], tally: ImportTally) -> Iterator[Event]:
    """Events from a seekable twcs CSV stream, in file order."""
    tweets = _index(text)
    text.seek(0)
    for row in _reader(text):
        tweet_id = (row.get("tweet_id") or "").strip()
        if not tweet_id:
            tally.skipped["without tweet_id"] += 1
            continue
        tweet = tweets[tweet_id]
        try:
            created = datetime.strptime((row.get("created_at") or "").strip(), _TIME_FORMAT)
        except ValueError:
            tally.skipped["with an unreadable created_at"] += 1
            continue
        account = tweet.author if not tweet.inbound else _brand_of(tweet, tweets)
        if account is None:
            tally.skipped["customer tweets answered by no brand and replying to none"] += 1
            continue
        if _ACCOUNT_RE.fullmatch(account) is None:
            tally.skipped["with a brand name outside the account pattern"] += 1
            continue
        if tweet.inbound:
            tally.posts += 1
        else:
            tally.replies += 1
        yield Event(
            kind="post" if tweet.inbound else "reply",
            event_id=tweet_id,
            conversation_id=f"twcs-{_root(tweet_id, tweets)}",
            account=account,
            channel=CHANNEL,
            created_at=int(created.timestamp()) * MICROS,
        )


def open_csv(raw: IO[bytes]) -> IO[str]:
    """A text view of a CSV byte stream, tolerant of a UTF-8 byte-order mark."""
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
