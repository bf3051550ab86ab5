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

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

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
    return list(itertools.islice(entries(windows, at, rules, verdicts), limit))


def entries(
    windows: SeriesWindows,
    at: int,
    rules: Sequence[Rule] = (),
    verdicts: Mapping[str, Verdict] | None = None,
    edge: int | None = None,
) -> Iterator[Waiting]:
    """The waiting list's entries one at a time, oldest first, from those started after `edge`.

    Lazy, so a reader stops when it has what it needs and a server can send the
    entries as they come. `edge` defaults to the list's 7 days.
    """
    risks = _risks(windows, at, rules, verdicts or {})
    business = windows.open
    since = at - SPAN_US if edge is None else max(edge, at - SPAN_US)
    for start, key, is_conversation in windows.unanswered(at, since):
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
        yield Waiting(
            key, is_conversation, start, at - start, pending, due_in,
            business_waited, business_pending, business_due_in, at_risk,
        )  # fmt: skip


#: How far ahead "due soon" looks: the customers who turn missed within this are counted apart.
DUE_SOON_US: Final = 3_600 * MICROS


@dataclass(frozen=True, slots=True)
class Triage:
    """A series' waiting list as the person on call acts on it: who to answer first, and what is lost.

    `act` holds the customers who can still be answered in time, those at risk
    first (answering them keeps a badge), then the others by how soon they turn
    missed; `missed` the oldest of those already missed. Counts cover the whole
    list; the entries are its heads only, so the board's cards stay small.
    """

    act: tuple[Waiting, ...]
    missed: tuple[Waiting, ...]
    #: Every entry of the list (`count`), and those still pending on the series' clock.
    waiting: int
    pending: int
    #: Conversations whose answer could delay a rule's forecast breach.
    at_risk: int
    #: Pending entries that turn missed within `DUE_SOON_US`.
    due_soon: int

    @property
    def missed_count(self) -> int:
        """The entries already past their deadline on the series' clock."""
        return self.waiting - self.pending


def triage(
    windows: SeriesWindows,
    stats: SeriesStats,
    at: int,
    rules: Sequence[Rule],
    verdicts: Mapping[str, Verdict],
    act_head: int,
    missed_head: int,
) -> Triage:
    """The on-call view of a series at `at`, from its statistics there on the series' clock.

    The series' clock is its calendar's open time when it has one (its team is
    judged on it), else the wall clock; `stats` are its windows on that clock
    (`series.judged`'s `business`, else its `stats`). It equals sorting the
    whole list (`waiting_list`), but reads only part of it: a deadline only
    grows with the start, so the missed entries are the oldest and the pending
    ones are due in the order they started. The walk starts at the oldest
    pending start and stops once it has `act_head` entries and has passed
    every at-risk and due-soon deadline: its cost is the customers due soon or
    at risk, not the backlog.
    """
    view = windows.open or windows.wall
    risks = _risks(windows, at, rules, verdicts)
    # (view, instant): an entry due after every one of these, on its view, is neither due soon nor at risk
    horizons = [(view, at + DUE_SOON_US), *((risk.view, risk.until) for risk in risks)]
    week = stats.windows["7d"]
    assert week.next_reply is not None  # `SeriesWindows.evaluate` always fills it
    pending = week.pending + week.next_reply.pending  # the walk may stop early: count them all
    waiting = count(stats)
    risky: list[Waiting] = []
    others: list[Waiting] = []
    at_risk = due_soon = seen = 0
    for entry in entries(windows, at, rules, verdicts, _pending_edge(windows, view, at)):
        if seen >= pending:
            break  # every pending entry is seen: the rest were answered or missed in between
        if len(risky) + len(others) >= act_head and all(
            (deadline := on.deadline(entry.since)) is None or deadline > until for on, until in horizons
        ):
            break  # every later entry is due later still, on every clock: nothing more to count or show
        is_pending, due_in = _due_in(view, entry.since, at)
        if not is_pending:
            continue
        seen += 1
        if due_in is not None and due_in <= DUE_SOON_US:
            due_soon += 1
        if entry.at_risk:
            at_risk += 1
            if len(risky) < act_head:
                risky.append(entry)
        elif len(others) < act_head:
            others.append(entry)
    missed: list[Waiting] = []
    for entry in entries(windows, at, rules, verdicts):  # a backlog's oldest are the list's first entries
        if len(missed) >= min(missed_head, waiting - pending) or _due_in(view, entry.since, at)[0]:
            break  # as many as there are, or the rest is pending
        missed.append(entry)
    act = (risky + others)[:act_head]
    return Triage(tuple(act), tuple(missed), waiting, pending, at_risk, due_soon)


def _pending_edge(windows: SeriesWindows, view: View, at: int) -> int:
    """A start such that every wait started by then is missed on `view` at `at` (so the walk begins after it).

    On the wall clock, `at - R`. On a calendar's open time, the newest bucket
    whose latest start is already past its deadline bounds it: deadlines grow
    with the start, so everything older is missed too.
    """
    if view.calendar is None:
        return at - view.window
    return windows.missed_by(at, view)


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
