"""Who is waiting: a series' unanswered customers at T, oldest first, with their deadlines.

The gauges say that someone waits; the person on call must know who. The list
is read from the same kept waits as every number (`windows.SeriesWindows`), by
the offline report (`report --waiting`) and the worker (`GET /waiting`) alike,
so the two cannot disagree. `at_risk` names the rules whose forecast breach
answering the wait could still delay: the conversations that turn
missed, on the rule's clock, before the forecast instant.

A list asked with a limit walks the series' buckets oldest first and stops once
it has that many, so the head of the queue costs the few buckets that hold it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from socialsla.core.events import MICROS, format_time
from socialsla.core.rules import Rule, Verdict
from socialsla.core.stats import WINDOWS, SeriesStats
from socialsla.core.thread import Status, decide
from socialsla.core.view import View
from socialsla.core.windows import SeriesWindows

#: The list covers waits started within this much before T (the longest window).
SPAN_US = WINDOWS["7d"] * MICROS


@dataclass(frozen=True, slots=True)
class Waiting:
    """One unanswered wait at T: a customer to answer."""

    conversation_id: str
    #: A conversation (it counts in the response rate), or a follow-up that is not one.
    conversation: bool
    since: int
    waited_us: int
    #: Still within R on the wall clock; False: missed.
    pending: bool
    #: Wall-clock microseconds until it turns missed; None once missed.
    due_in_us: int | None
    #: With a calendar: open time waited, whether pending in the business view, and the wall
    #: time until missed there (None once missed, or when the calendar never opens enough).
    business_waited_us: int | None = None
    business_pending: bool | None = None
    business_due_in_us: int | None = None
    #: Names of the rules whose forecast breach answering this wait could delay, sorted.
    at_risk: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON (docs/semantics.md, "Who is waiting"); business fields only with a calendar."""
        out: dict[str, Any] = {
            "conversation_id": self.conversation_id,
            "kind": "conversation" if self.conversation else "follow_up",
            "since": format_time(self.since),
            "waited_seconds": self.waited_us / MICROS,
            "state": "pending" if self.pending else "missed",
            "due_in_seconds": None if self.due_in_us is None else self.due_in_us / MICROS,
        }
        if self.business_waited_us is not None:
            out["business_waited_seconds"] = self.business_waited_us / MICROS
            out["business_due_in_seconds"] = (
                None if self.business_due_in_us is None else self.business_due_in_us / MICROS
            )
        out["at_risk"] = list(self.at_risk)
        return out


def _due_in(view: View, start: int, at: int) -> tuple[bool, int | None]:
    """Whether the wait is pending in `view` at `at`, and the wall time until it turns missed there."""
    status, _ = decide(start, None, at, view.window, view.span)
    if status is not Status.PENDING:
        return False, None
    deadline = view.deadline(start)
    return True, None if deadline is None else deadline - at


@dataclass(frozen=True, slots=True)
class _Risk:
    """A rule with a forecast breach: which conversations answering could delay it."""

    name: str
    edge: int
    view: View
    until: int


def _risks(
    windows: SeriesWindows, at: int, rules: Sequence[Rule], verdicts: Mapping[str, Verdict]
) -> list[_Risk]:
    out = []
    for rule in rules:
        verdict = verdicts.get(rule.name)
        if rule.min_response_rate is None or verdict is None or verdict.rate_breach_in_us is None:
            continue
        view = windows.view(rule.clock == "business")
        out.append(_Risk(rule.name, at - WINDOWS[rule.window] * MICROS, view, at + verdict.rate_breach_in_us))
    return out


def waiting_list(
    windows: SeriesWindows,
    at: int,
    rules: Sequence[Rule] = (),
    verdicts: Mapping[str, Verdict] | None = None,
    limit: int | None = None,
) -> list[Waiting]:
    """The waiting list of a series at `at`, oldest first; the first `limit` entries when given.

    `verdicts` are the series' verdicts at `at` (`series.evaluate`): their
    forecasts decide `at_risk`.
    """
    risks = _risks(windows, at, rules, verdicts or {})
    business = windows.open
    out: list[Waiting] = []
    for start, key, is_conversation in windows.unanswered(at, at - SPAN_US):
        if limit is not None and len(out) >= limit:
            break
        pending, due_in = _due_in(windows.wall, start, at)
        business_waited: int | None = None
        business_pending: bool | None = None
        business_due_in: int | None = None
        if business is not None:
            business_waited = business.age(start, at)
            business_pending, business_due_in = _due_in(business, start, at)
        at_risk = tuple(
            sorted(
                risk.name
                for risk in risks
                if is_conversation
                and start > risk.edge
                and (deadline := _due_in(risk.view, start, at))[0]
                and deadline[1] is not None
                and at + deadline[1] <= risk.until
            )
        )
        out.append(Waiting(
            key, is_conversation, start, at - start, pending, due_in,
            business_waited, business_pending, business_due_in, at_risk,
        ))  # fmt: skip
    return out


def oldest_conversation(windows: SeriesWindows, at: int, oldest_us: int | None) -> str | None:
    """The id that `socialsla_oldest_unanswered_conversation` carries: the one unanswered longest at `at`.

    `oldest_us` is the series' `oldest_unanswered_us` on the wall clock at
    `at` (conversations only, within 7 days), so only the bucket holding
    that start is read. Of two that waited as long, the smaller id.
    """
    if oldest_us is None:
        return None
    return min(windows.unanswered_started(at - oldest_us, at), default=None)


def count(stats: SeriesStats) -> int:
    """How many entries the series' waiting list has, from its wall-clock statistics at the same T.

    The list's 7 days are the 7d window's: its conversations and follow-ups
    without an answer by T, so the figures a scrape computes count it without
    building the list.
    """
    week = stats.windows["7d"]
    assert week.next_reply is not None  # `SeriesWindows.evaluate` always fills it
    return week.inbound - week.latency_count + week.next_reply.inbound - week.next_reply.latency_count
