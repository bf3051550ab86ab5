"""Outcomes: what stage 1 tells stage 2 about its conversations, a series per Kafka message.

An outcome carries the conversation's whole current summary, not a delta, so stage
2 can apply it any number of times (redelivery, replay after a crash) and end in
the same state. The key is the series (`account|channel`), which puts every
conversation of a series on one partition, whose owner exports the series. The
topic is stage 2's log: it also carries stage 2's totals of expired waits
(`totals_message`, a JSON object where outcomes are a JSON array). Both codecs of
the topic are here, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

import orjson

from socialsla.core import histogram
from socialsla.core.feedback import Answer
from socialsla.core.resolution import Resolution
from socialsla.core.thread import Wait

SEPARATOR = "|"  # not allowed in account or channel names (events.py's patterns), so keys split safely
#: Outcomes per Kafka message, at most: what keeps stage 2's per-message cost amortised.
PER_MESSAGE: Final = 500
#: Bytes per Kafka message, estimated from the worst case of each outcome (a 1 KiB id, 60
#: bytes per wait), kept well under Kafka's 1 MB default message size.
MESSAGE_BUDGET: Final = 512 * 1024
_ID_BYTES: Final = 1_100
_WAIT_BYTES: Final = 60 + 4 * 256  # an agent name may be long


def series_key(account: str, channel: str) -> str:
    """The Kafka key of one (account, channel) in `social.outcomes`, and its name in the ledger."""
    return f"{account}{SEPARATOR}{channel}"


class Scorecard(NamedTuple):
    """A thread's resolutions and counted feedback, for a thread that has either."""

    #: Its resolved conversations: every other conversation of the thread is unresolved.
    resolutions: tuple[Resolution, ...]
    answers: tuple[Answer, ...]
    #: The thread's earliest resolve and feedback events, of any conversation: from then on
    #: its series tracks resolution, or feedback. None when it has none of that type.
    first_resolve_at: int | None
    first_feedback_at: int | None


class Outcome(NamedTuple):
    """A thread's current waits, all of them; `event_at`: created_at of the event that caused it.

    A named tuple, for the same reason as `Event`: one is built per thread a batch touches.
    """

    account: str
    channel: str
    conversation_id: str
    waits: tuple[Wait, ...]
    event_at: int
    #: None for a thread with no resolve and no feedback event: most of them, and nothing to send.
    scorecard: Scorecard | None = None

    def key(self) -> bytes:
        """Kafka key: the series."""
        return series_key(self.account, self.channel).encode()


def encode_outcomes(outcomes: Sequence[Outcome]) -> bytes:
    """One Kafka value for outcomes of a single series: `[account, channel, [[id, waits, t], ...]]`.

    `waits` is flat: `start, answer, conversation (0 or 1), agent` per wait. A
    thread with a scorecard has four more fields: its resolved conversations, flat
    (`opened, resolved_at, reopened, first_contact`), its answers, flat (`at,
    survey, score`), and its first resolve and feedback times.

    Stage 1 sends one such message per series per batch instead of one per
    event, so stage 2 pays Faust's per-message cost once for many conversations.
    """
    first = outcomes[0]
    return orjson.dumps(
        [first.account, first.channel,
         [[o.conversation_id, flat_waits(o.waits), o.event_at] if o.scorecard is None
          else [o.conversation_id, flat_waits(o.waits), o.event_at, *_flat_scorecard(o.scorecard)]
          for o in outcomes]]
    )  # fmt: skip


def _flat_scorecard(card: Scorecard) -> list[object]:
    return [
        [
            v
            for r in card.resolutions
            for v in (r.opened, r.resolved_at, int(r.reopened), int(r.first_contact))
        ],
        [v for a in card.answers for v in (a.at, a.survey, a.score)],
        card.first_resolve_at,
        card.first_feedback_at,
    ]


def _parse_scorecard(extra: list[object]) -> Scorecard:
    """Inverse of `_flat_scorecard`; ValueError on anything else."""
    resolutions, answers, first_resolve, first_feedback = extra
    if type(resolutions) is not list or len(resolutions) % 4 or type(answers) is not list or len(answers) % 3:
        raise ValueError("wrong scorecard shape")
    if not (first_resolve is None or type(first_resolve) is int) or not (
        first_feedback is None or type(first_feedback) is int
    ):
        raise ValueError("wrong first-event field types")
    return Scorecard(
        tuple(_resolution(*resolutions[at : at + 4]) for at in range(0, len(resolutions), 4)),
        tuple(_answer(*answers[at : at + 3]) for at in range(0, len(answers), 3)),
        first_resolve,
        first_feedback,
    )


def _resolution(opened: object, resolved_at: object, reopened: object, first_contact: object) -> Resolution:
    if (
        type(opened) is not int
        or type(resolved_at) is not int
        or reopened not in (0, 1)
        or first_contact not in (0, 1)
    ):
        raise ValueError("wrong resolution field types")
    return Resolution(opened, resolved_at, reopened == 1, first_contact == 1)


def _answer(at: object, survey: object, score: object) -> Answer:
    if type(at) is not int or type(survey) is not str or type(score) is not int:
        raise ValueError("wrong answer field types")
    return Answer(at, survey, score)


def is_totals(raw: bytes) -> bool:
    """Whether a `social.outcomes` value is stage 2's totals of a series (`totals_message`)."""
    return raw[:1] == b"{"


def decode_outcomes(raw: bytes) -> list[Outcome]:
    """Inverse of `encode_outcomes`; raises ValueError, with the reason, on anything else."""
    try:
        account, channel, items = orjson.loads(raw)
        result = [
            Outcome(account, channel, k, parse_waits(w), t, _parse_scorecard(extra) if extra else None)
            for k, w, t, *extra in items
        ]
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"not an outcome message: {exc}") from None
    for item in result:
        if not (
            isinstance(item.account, str)
            and isinstance(item.channel, str)
            and isinstance(item.conversation_id, str)
            and type(item.event_at) is int
        ):
            raise ValueError("not an outcome message: wrong field types")
    return result


def parse_waits(flat: object) -> tuple[Wait, ...]:
    """Waits from their flat form `[start, answer, conversation, agent, ...]`; ValueError on anything else.

    A replay parses every outcome its log holds, most with one wait: that case
    takes a third of the time of the general one.
    """
    if type(flat) is not list or len(flat) % 4:
        raise ValueError("waits must be a flat list of start, answer, conversation, agent")
    if len(flat) == 4:
        return (_wait(*flat),)
    return tuple(_wait(*flat[at : at + 4]) for at in range(0, len(flat), 4))


def _wait(start: object, answer: object, is_conversation: object, agent: object) -> Wait:
    answer_ok = answer is None or type(answer) is int
    agent_ok = agent is None or type(agent) is str
    if type(start) is not int or not answer_ok or is_conversation not in (0, 1) or not agent_ok:
        raise ValueError("wrong wait field types")
    return Wait(start, answer, is_conversation == 1, agent)  # type: ignore[arg-type]  # checked above


def flat_waits(waits: tuple[Wait, ...]) -> list[int | str | None]:
    """The flat form `parse_waits` reads."""
    return [v for w in waits for v in (w.start, w.answer, int(w.conversation), w.agent)]


def chunks(outcomes: Sequence[Outcome]) -> Iterator[Sequence[Outcome]]:
    """Slices of at most `PER_MESSAGE` outcomes and `MESSAGE_BUDGET` bytes, each one Kafka message."""
    start, size = 0, 0
    for index, outcome in enumerate(outcomes):
        cost = _ID_BYTES + _WAIT_BYTES * len(outcome.waits)
        if outcome.scorecard is not None:
            cost += 40 * (len(outcome.scorecard.resolutions) + len(outcome.scorecard.answers) + 1)
        if index > start and (index - start >= PER_MESSAGE or size + cost > MESSAGE_BUDGET):
            yield outcomes[start:index]
            start, size = index, 0
        size += cost
    if start < len(outcomes):
        yield outcomes[start:]


@dataclass(slots=True)
class Totals:
    """What expired conversations added to the lifetime counters of a series; every wait before `floor`."""

    responded: int = 0
    missed: int = 0
    latency_count: int = 0
    latency_sum_us: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * histogram.SIZE)
    #: Waits starting before this are counted here (`SeriesWindows.floor`); None before any expiry.
    floor: int | None = None

    def to_list(self) -> list[object]:
        """The JSON form inside a totals message."""
        counts = [self.responded, self.missed, self.latency_count, self.latency_sum_us]
        return [self.floor, *counts, self.buckets]

    @classmethod
    def from_list(cls, raw: object) -> Totals:
        """Inverse of `to_list`; ValueError on anything else."""
        if not isinstance(raw, list) or len(raw) != 6:
            raise ValueError("totals must be [floor, responded, missed, count, sum, buckets]")
        floor, r, m, c, s, b = raw
        counts = (r, m, c, s)
        if type(floor) is not int or not all(type(v) is int for v in counts) or not isinstance(b, list):
            raise ValueError("wrong totals field types")
        if len(b) != histogram.SIZE or not all(type(v) is int for v in b):
            raise ValueError(f"totals need {histogram.SIZE} histogram buckets")
        return cls(r, m, c, s, list(b), floor)


def totals_message(account: str, channel: str, totals: Totals) -> bytes:
    """A `social.outcomes` value carrying a series' totals: `{"totals": [account, channel, totals]}`."""
    return orjson.dumps({"totals": [account, channel, totals.to_list()]})


def parse_totals(raw: bytes) -> tuple[str, str, Totals]:
    """Inverse of `totals_message`; ValueError on anything else."""
    try:
        account, channel, totals = orjson.loads(raw)["totals"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a totals message: {exc}") from None
    if not isinstance(account, str) or not isinstance(channel, str):
        raise ValueError("not a totals message: wrong field types")
    return account, channel, Totals.from_list(totals)
