"""A series: one account on one channel, as stage 2 keeps it, and its one evaluation.

A `Series` holds the windows of its threads' waits (`windows.SeriesWindows`),
the totals of what expired past the 7 days + R horizon, its resolved
conversations (kept beside their waits, leaving with them) and its counted
survey answers (`feedback.Surveys`, by their own time). `evaluate` computes
every number of a series at one time T, for the offline report, `/metrics`,
`/waiting` and the on-call board alike: there is one copy of each number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from socialsla.core.accumulators import pack_resolution
from socialsla.core.agents import AgentStats, agents
from socialsla.core.feedback import Surveys, SurveyStats
from socialsla.core.judging import verdicts
from socialsla.core.rules import Rule, Verdict
from socialsla.core.stats import ALL, ResolutionStats, SeriesStats
from socialsla.core.view import View
from socialsla.core.waiting import oldest_conversation
from socialsla.core.windows import DEFAULT_BUCKET_US, SeriesWindows
from socialsla.core.wire import (
    Outcome,
    Totals,
)

#: The resolution window S unless set: a conversation resolved within it is resolved in time.
DEFAULT_RESOLUTION_WINDOW_US: Final = 86_400 * 1_000_000


@dataclass(frozen=True, slots=True)
class Lifetime:
    """Cumulative figures of a series: kept conversations plus expired totals."""

    responded: int
    missed: int
    latency_count: int
    latency_sum_us: int
    buckets: tuple[int, ...]


@dataclass(slots=True)
class Series:
    """One (account, channel): its windows and the totals of what expired."""

    account: str
    channel: str
    windows: SeriesWindows
    expired: Totals = field(default_factory=Totals)
    #: The resolution window S: a conversation resolved within it is resolved in time.
    resolution_window_us: int = DEFAULT_RESOLUTION_WINDOW_US
    #: Customer feedback: the counted survey answers, by thread and per bucket of their time.
    surveys: Surveys = field(default_factory=lambda: Surveys(DEFAULT_BUCKET_US))
    #: A thread's first resolve when no kept conversation of it was resolved then (a
    #: resolve before its first post): the series tracks resolution from then all the same.
    #: The resolved conversations themselves are kept beside their waits, in `windows`.
    early_resolves: dict[str, int] = field(default_factory=dict)

    def put(self, outcome: Outcome) -> None:
        """An outcome replaces its thread: its waits, resolved conversations and counted answers."""
        key, card = outcome.conversation_id, outcome.scorecard
        if card is None:
            self.windows.set(key, outcome.waits)
            self.surveys.set(key, None, ())
            if self.early_resolves:
                self.early_resolves.pop(key, None)
            return
        self.windows.set(key, outcome.waits, {r.opened: pack_resolution(r) for r in card.resolutions})
        self.surveys.set(key, card.first_feedback_at, card.answers)
        first = card.first_resolve_at
        if (
            first is not None
            and self.windows.waits_of(key)
            and all(r.resolved_at != first for r in card.resolutions)
        ):
            self.early_resolves[key] = first
        else:
            self.early_resolves.pop(key, None)

    def prune_early_resolves(self) -> None:
        """Forget the early resolves of threads whose last wait expired: they leave with the thread."""
        for key in [key for key in self.early_resolves if not self.windows.waits_of(key)]:
            del self.early_resolves[key]

    def first_resolve(self) -> int | None:
        """The earliest resolve of a kept thread: the series tracks resolution from then on."""
        kept = self.windows.earliest_resolve()
        early = min(self.early_resolves.values(), default=None)
        return kept if early is None else early if kept is None else min(kept, early)

    def resolution_view(self, business: bool) -> View:
        """How resolutions are judged: against S on the wall clock, or the calendar's S in its open time."""
        calendar = self.windows.calendar
        if not business:
            return View(self.resolution_window_us)
        assert calendar is not None  # only a series with a calendar has a business view
        return View(calendar.resolution_window_us or self.resolution_window_us, calendar)

    def exists_at(self, at: int) -> bool:
        """Whether a customer's post of this series is seen at `at`: a kept wait started by then,
        or conversations already counted into the totals of what expired."""
        return self.expired.floor is not None or self.windows.started_by(at)

    def lifetime(self, stats: SeriesStats) -> Lifetime:
        """Lifetime counters from stats evaluated with lifetime=True."""
        kept = stats.windows[ALL]
        buckets = tuple(a + b for a, b in zip(kept.latency_buckets, self.expired.buckets, strict=True))
        return Lifetime(
            kept.responded + self.expired.responded,
            kept.missed + self.expired.missed,
            kept.latency_count + self.expired.latency_count,
            kept.latency_sum_us + self.expired.latency_sum_us,
            buckets,
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything known of one series at a time T: what the report prints and `/metrics` exports."""

    account: str
    channel: str
    #: The wall clock's windows (and the lifetime one, `ALL`).
    stats: SeriesStats
    verdicts: dict[str, Verdict]
    #: The series' calendar and its business view (its open time), when a calendar selects it.
    calendar: str | None = None
    business: SeriesStats | None = None
    #: Whether the calendar is open at T (`socialsla_series_open`); None without one.
    is_open: bool | None = None
    #: Per window, per agent, their first and next replies (wall clock).
    agents: dict[str, dict[str, AgentStats]] = field(default_factory=dict)
    lifetime: Lifetime | None = None
    #: Resolution per window, wall clock and business view; None when the series tracks no resolution.
    resolution: dict[str, ResolutionStats] | None = None
    business_resolution: dict[str, ResolutionStats] | None = None
    #: Customer feedback per window and survey (wall clock only); None when the series has no feedback.
    feedback: dict[str, dict[str, SurveyStats]] | None = None
    #: The customer to answer first, whose wait `oldest_unanswered_seconds` measures.
    oldest_unanswered_conversation: str | None = None


def evaluate(series: Series, at: int, rules: Sequence[Rule], max_agents: int) -> Evaluation:
    """The one evaluation of a series at `at`: windows on both clocks, verdicts, forecast, agents.

    The offline report and the worker's collector both call it on a `Series` that
    `Ledger.apply` built, so they cannot disagree on any number.
    """
    windows = series.windows
    stats = windows.evaluate(at, lifetime=True)
    calendar = windows.calendar
    business = None if calendar is None else windows.evaluate(at, business=True)
    resolution, surveys = _scorecard(series, at, resolution=True, feedback=True)
    judged = verdicts(
        tuple(rules), series.account, series.channel, windows, stats, business, resolution, surveys
    )
    return Evaluation(
        series.account,
        series.channel,
        stats,
        judged,
        None if calendar is None else calendar.name,
        business,
        None if calendar is None else calendar.is_open(at),
        agents(windows, at, max_agents),
        series.lifetime(stats),
        *resolution,
        surveys,
        oldest_conversation(windows, at, stats.oldest_unanswered_us),
    )


def judged(series: Series, at: int, rules: Sequence[Rule]) -> Evaluation:
    """The part of `evaluate` that who-is-waiting reads: the verdicts, and the 7d window on the wall clock.

    The on-call board judges every series every few seconds and `/waiting`
    judges each series it lists; both need only the rules' verdicts (their
    forecasts decide who is at risk) and the 7d counts. So only the windows the
    applicable rules judge are read (and the 7d one, on both clocks with a
    calendar), and resolution and feedback only when a rule has a condition on them:
    the same functions as `evaluate`, hence the same numbers, at a fraction of
    the cost. The other fields stay empty.
    """
    windows, calendar = series.windows, series.windows.calendar
    applying = [rule for rule in rules if rule.applies(series.account, series.channel)]
    wanted = {rule.window for rule in applying}
    stats = windows.evaluate(at, only=wanted)
    business = None if calendar is None else windows.evaluate(at, business=True, only=wanted)
    resolution, surveys = _scorecard(
        series,
        at,
        any(_on_resolution(rule) for rule in applying),
        any(_on_feedback(rule) for rule in applying),
    )
    judgements = verdicts(
        tuple(applying), series.account, series.channel, windows, stats, business, resolution, surveys
    )
    return Evaluation(
        series.account,
        series.channel,
        stats,
        judgements,
        None if calendar is None else calendar.name,
        business,
        None if calendar is None else calendar.is_open(at),
    )


_Resolutions = tuple[dict[str, ResolutionStats] | None, dict[str, ResolutionStats] | None]


def _scorecard(
    series: Series, at: int, resolution: bool, feedback: bool
) -> tuple[_Resolutions, dict[str, dict[str, SurveyStats]] | None]:
    """Resolution (wall clock, and business with a calendar) and feedback at `at`, each when asked for.

    Each is None for a series that does not track it by `at`: resolution from
    its first resolve on, feedback from its first survey answer on.
    """
    wall = business = surveys = None
    first_resolve = series.first_resolve() if resolution else None
    if first_resolve is not None and first_resolve <= at:
        wall = series.windows.resolution(at, series.resolution_view(False))
        if series.windows.calendar is not None:
            business = series.windows.resolution(at, series.resolution_view(True))
    first_feedback = series.surveys.first() if feedback else None
    if first_feedback is not None and first_feedback <= at:
        surveys = series.surveys.windows(at)
    return (wall, business), surveys


def _on_resolution(rule: Rule) -> bool:
    return rule.min_resolution_rate is not None or rule.max_avg_resolution_seconds is not None


def _on_feedback(rule: Rule) -> bool:
    return rule.min_csat is not None or rule.min_nps is not None
