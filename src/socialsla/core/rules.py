"""Badge-style rules (SPEC §4, §9): loading TOML rule files, verdicts, error budgets and the breach forecast.

Thresholds are compared exactly (as decimals, via `Fraction`), so a team at
exactly 90% keeps its badge and the error budget never flips on float rounding.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from socialsla.core.calendars import Calendar, CalendarError, calendar_for, parse_calendar, parse_calendars
from socialsla.core.duration import human
from socialsla.core.events import ACCOUNT_PATTERN, CHANNEL_PATTERN, MICROS
from socialsla.core.feedback import SurveyStats
from socialsla.core.stats import WINDOWS, ResolutionStats, SeriesStats
from socialsla.core.windows import SeriesWindows

_NAME_RE: Final = re.compile("[a-z0-9_]{1,64}")
_ACCOUNT_RE: Final = re.compile(ACCOUNT_PATTERN)
_CHANNEL_RE: Final = re.compile(CHANNEL_PATTERN)
_THRESHOLDS: Final = (
    "max_avg_first_reply_seconds",
    "max_p90_first_reply_seconds",
    "max_oldest_unanswered_seconds",
    "max_avg_resolution_seconds",
)
#: SPEC §11, §12: the floors of Version 3, each with its range (ends included).
_FLOORS: Final = {"min_resolution_rate": (0, 1), "min_csat": (0, 1), "min_nps": (-100, 100)}
_KEYS: Final = {
    "name",
    "window",
    "channels",
    "accounts",
    "min_response_rate",
    "min_decided",
    "avg_of_fastest",
    "clock",
    *_THRESHOLDS,
    *_FLOORS,
}
#: SPEC §7: what a rule's durations are measured in.
CLOCKS: Final = ("wall", "business")


class RuleError(ValueError):
    """A rule file that cannot be used, with a message that names the place."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One `[[rule]]` table."""

    name: str
    window: str
    channels: frozenset[str] | None = None
    accounts: frozenset[str] | None = None
    min_response_rate: Fraction | None = None
    max_avg_first_reply_seconds: Fraction | None = None
    max_p90_first_reply_seconds: Fraction | None = None
    max_oldest_unanswered_seconds: Fraction | None = None
    min_decided: int = 1
    #: SPEC §9: the average condition over the fastest fraction of first replies only.
    avg_of_fastest: Fraction | None = None
    #: SPEC §7: "business" judges the series' business view; a series without a calendar gets no verdict.
    clock: str = "wall"
    #: SPEC §11: resolved in time / (in time + overdue), and the average resolution time.
    min_resolution_rate: Fraction | None = None
    max_avg_resolution_seconds: Fraction | None = None
    #: SPEC §12: CSAT (0-1) and NPS (-100-100) in the rule's window, on the wall clock.
    min_csat: Fraction | None = None
    min_nps: Fraction | None = None

    def thresholds(self) -> dict[str, float]:
        """The threshold of each condition the rule names, by `condition` label."""
        out = {}
        for condition, key in CONDITIONS.items():
            value = getattr(self, key)
            if value is not None:
                fastest = condition == "avg_first_reply_seconds" and self.avg_of_fastest is not None
                out[FASTEST if fastest else condition] = float(value)
        return out

    def applies(self, account: str, channel: str) -> bool:
        """Whether this rule judges the given (account, channel)."""
        return (self.accounts is None or account in self.accounts) and (
            self.channels is None or channel in self.channels
        )


#: A rule's conditions as exported (`condition` label): the rule key each reads, and what it measures.
CONDITIONS: Final = {
    "response_rate": "min_response_rate",
    "avg_first_reply_seconds": "max_avg_first_reply_seconds",
    "p90_first_reply_seconds": "max_p90_first_reply_seconds",
    "oldest_unanswered_seconds": "max_oldest_unanswered_seconds",
    "resolution_rate": "min_resolution_rate",
    "avg_resolution_seconds": "max_avg_resolution_seconds",
    "csat": "min_csat",
    "nps": "min_nps",
}
#: The average condition of a rule with `avg_of_fastest` (SPEC §9) reads another statistic.
FASTEST: Final = "avg_of_fastest_first_reply_seconds"
#: How a person reads each condition's statistic.
_READ: Final = {
    "response_rate": "rate",
    "avg_first_reply_seconds": "avg",
    FASTEST: "avg of the fastest",
    "p90_first_reply_seconds": "p90",
    "oldest_unanswered_seconds": "oldest wait",
    "avg_resolution_seconds": "avg resolution",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's verdict: ok is None when too few conversations are decided to judge."""

    ok: bool | None
    error_budget: int | None
    #: SPEC §9: microseconds until the rate would drop below the threshold with no more events.
    rate_breach_in_us: int | None = None
    #: Each condition that fails, with its statistic now (a rate, or seconds), so that people
    #: are told which one lost the rule and by how much: the report, the demo, the alert.
    failed: tuple[tuple[str, float], ...] = ()


DEFAULT_RULES: Final = (
    Rule(
        name="facebook_very_responsive",
        window="7d",
        min_response_rate=Fraction(9, 10),
        max_avg_first_reply_seconds=Fraction(900),
    ),
)


def _exact(value: object, where: str, key: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{where}: {key} must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RuleError(f"{where}: {key} must be finite")
    # repr gives the shortest decimal that reads back as this float: 0.9, not 0.900000000000000022.
    return Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)


def _names(value: object, where: str, key: str, pattern: re.Pattern[str]) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise RuleError(f"{where}: {key} must be a non-empty list of strings")
    for item in value:
        if not isinstance(item, str) or pattern.fullmatch(item) is None:
            raise RuleError(f"{where}: {key} entry {item!r} does not match {pattern.pattern}")
    return frozenset(value)


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _rule(table: dict[str, Any], position: int) -> Rule:
    # Named by its name where it has a valid one; by its place in the file otherwise.
    name = table.get("name")
    valid = isinstance(name, str) and _NAME_RE.fullmatch(name) is not None
    where = f"rule {name!r}" if valid else f"rule {position} (the {_ordinal(position)} [[rule]])"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    if not valid:
        raise RuleError(f"{where}: name must match [a-z0-9_]{{1,64}}, got {name!r}")
    assert isinstance(name, str)
    window = table.get("window")
    if window not in WINDOWS:
        raise RuleError(f"{where}: window must be one of {', '.join(WINDOWS)}, got {window!r}")
    rate = None
    if "min_response_rate" in table:
        rate = _exact(table["min_response_rate"], where, "min_response_rate")
        if not 0 < rate <= 1:
            raise RuleError(f"{where}: min_response_rate must be in (0, 1], got {float(rate)}")
    limits: dict[str, Fraction] = {}
    for key in _THRESHOLDS:
        if key in table:
            limits[key] = _exact(table[key], where, key)
            if limits[key] <= 0:
                raise RuleError(f"{where}: {key} must be positive, got {float(limits[key])}")
    floors: dict[str, Fraction] = {}
    for key, (low, high) in _FLOORS.items():
        if key in table:
            floors[key] = _exact(table[key], where, key)
            if not low <= floors[key] <= high:
                raise RuleError(f"{where}: {key} must be in [{low}, {high}], got {float(floors[key])}")
    if rate is None and not limits and not floors:
        raise RuleError(f"{where}: names no condition (a min_* floor or a max_* threshold)")
    fastest = None
    if "avg_of_fastest" in table:
        fastest = _exact(table["avg_of_fastest"], where, "avg_of_fastest")
        if not 0 < fastest <= 1:
            raise RuleError(f"{where}: avg_of_fastest must be in (0, 1], got {float(fastest)}")
        if "max_avg_first_reply_seconds" not in limits:
            raise RuleError(f"{where}: avg_of_fastest needs max_avg_first_reply_seconds")
    clock = table.get("clock", "wall")
    if clock not in CLOCKS:
        raise RuleError(f"{where}: clock must be wall or business, got {clock!r}")
    min_decided = table.get("min_decided", 1)
    if isinstance(min_decided, bool) or not isinstance(min_decided, int) or min_decided < 0:
        raise RuleError(f"{where}: min_decided must be a whole number >= 0, got {min_decided!r}")
    return Rule(
        name=name,
        window=str(window),
        channels=_names(table["channels"], where, "channels", _CHANNEL_RE) if "channels" in table else None,
        accounts=_names(table["accounts"], where, "accounts", _ACCOUNT_RE) if "accounts" in table else None,
        min_response_rate=rate,
        min_decided=min_decided,
        avg_of_fastest=fastest,
        clock=str(clock),
        **limits,
        **floors,
    )


@dataclass(frozen=True, slots=True)
class RuleBook:
    """A rules file: its `[[rule]]` tables and its `[[calendar]]` tables (SPEC §4, §7), in file order."""

    rules: tuple[Rule, ...]
    calendars: tuple[Calendar, ...] = ()

    def calendar_for(self, account: str, channel: str) -> Calendar | None:
        """SPEC §7: the first calendar whose selectors take the series, or None."""
        return calendar_for(self.calendars, account, channel)

    def warnings(self) -> list[str]:
        """Business-clock rules that select series no calendar covers: they give no verdict there.

        Selectors are finite lists or "every", so the rule's selection is
        checked on the names either side lists, plus a stand-in for every
        other name where a side selects every one.
        """
        out = []
        other = "\x00other"  # a stand-in: matches no listed name, and "every" selectors take it
        for rule in self.rules:
            if rule.clock != "business":
                continue
            listed_accounts = {a for c in self.calendars for a in c.accounts or ()}
            listed_channels = {ch for c in self.calendars for ch in c.channels or ()}
            accounts = (
                sorted(rule.accounts) if rule.accounts is not None else [*sorted(listed_accounts), other]
            )
            channels = (
                sorted(rule.channels) if rule.channels is not None else [*sorted(listed_channels), other]
            )
            for account in accounts:
                for channel in channels:
                    if self.calendar_for(account, channel) is None:
                        who = "every other account" if account == other else f"account {account}"
                        where = "every other channel" if channel == other else f"channel {channel}"
                        out.append(
                            f"rule {rule.name!r} uses the business clock but no calendar covers {who} "
                            f"on {where}: it gives those series no verdict"
                        )
        return out


def _header_lines(text: str, table: str) -> list[int]:
    """The 1-based line of each `[[table]]` header, in file order: where each table's mistakes are."""
    header = re.compile(rf"^\s*\[\[\s*{table}\s*\]\]")
    return [number for number, line in enumerate(text.splitlines(), 1) if header.match(line)]


def parse_book(text: str, source: str = "<rules>") -> RuleBook:
    """Parse and validate a TOML rules file's text: rules and calendars.

    Every mistake is found, not just the first, each as `FILE:LINE: what`, the
    line being that of its table's header: a file is mended in one go.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: not valid TOML: {exc}") from None
    problems: list[str] = []
    extra = sorted(set(document) - {"rule", "calendar"})
    if extra:
        problems.append(
            f"{source}: unknown top-level key {extra[0]!r}; "
            "rules go in [[rule]] tables, calendars in [[calendar]]"
        )
    tables = document.get("rule")
    if not isinstance(tables, list) or not tables:
        problems.append(f"{source}: no [[rule]] tables")
        tables = []
    lines = _header_lines(text, "rule")
    rules = []
    for position, table in enumerate(tables, 1):
        where = f"{source}:{lines[position - 1]}" if position <= len(lines) else source
        try:
            rules.append(_rule(table, position))
        except RuleError as exc:
            problems.append(f"{where}: {exc}")
    names = [rule.name for rule in rules]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"{source}: rule name {name!r} is used twice")
    calendars: tuple[Calendar, ...] = ()
    raw = document.get("calendar")
    if isinstance(raw, list):
        lines = _header_lines(text, "calendar")
        for position, table in enumerate(raw, 1):
            try:
                parse_calendar(table, position)
            except CalendarError as exc:
                where = f"{source}:{lines[position - 1]}" if position <= len(lines) else source
                problems.append(f"{where}: {exc}")
    if not problems:
        try:
            calendars = parse_calendars(raw)
        except CalendarError as exc:
            problems.append(f"{source}: {exc}")
    if problems:
        raise RuleError("\n".join(problems))
    return RuleBook(tuple(rules), calendars)


def parse_rules(text: str, source: str = "<rules>") -> tuple[Rule, ...]:
    """Parse and validate a TOML rule file's text; its rules only."""
    return parse_book(text, source).rules


def load_book(path: Path | None) -> RuleBook:
    """The rules and calendars of a file, or the built-in Facebook badge rule when no file is given."""
    if path is None:
        return RuleBook(DEFAULT_RULES)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    return parse_book(text, str(path))


def load_rules(path: Path | None) -> tuple[Rule, ...]:
    """The rules of a file, or the built-in Facebook badge rule when no file is given."""
    return load_book(path).rules


#: A breach forecast further off than this is not shown to people (the wall's badge tile says the
#: same): with R = 24 h every OK rule was "lost in 23.7h unless answered", which says nothing.
FORECAST_SHOWN_UNDER_S: Final = 3 * 3600


def verdict_words(
    ok: bool | None, budget: float | None, breach_seconds: float | None
) -> tuple[str, list[str]]:
    """How a person reads a verdict: one word (OK, LOST) and the notes that say something.

    The error budget counts the misses the response rate can still take: shown
    while the rule holds, or when the rate is what lost it (negative), and not
    beside a rule lost on its average, where "+55" would read as good news.
    """
    word = {True: "OK", False: "LOST", None: "no verdict"}[ok]
    notes = []
    if budget is not None and (ok or budget < 0):
        notes.append(f"budget {budget:+.0f}")
    if ok and breach_seconds is not None and breach_seconds < FORECAST_SHOWN_UNDER_S:
        notes.append(f"lost in {human(breach_seconds)} unless answered")
    return word, notes


def read_failure(condition: str, value: float, threshold: float | None) -> str:
    """A failed condition as a person reads it: `rate 87.5% < 90.0%`, `avg 17.4m > 15.0m`."""
    if condition in ("response_rate", "resolution_rate", "csat"):
        word = {"response_rate": "rate", "resolution_rate": "resolution rate", "csat": "CSAT"}[condition]
        shown = f"{word} {value * 100:.1f}%"
        return shown if threshold is None else f"{shown} < {threshold * 100:.1f}%"
    if condition == "nps":
        shown = f"NPS {value:+.0f}"
        return shown if threshold is None else f"{shown} < {threshold:+.0f}"
    shown = f"{_READ.get(condition, condition)} {human(value)}"
    return shown if threshold is None else f"{shown} > {human(threshold)}"


def error_budget(responded: int, missed: int, min_rate: Fraction) -> int:
    """Largest whole k with responded / (responded + missed + k) >= min_rate (SPEC §4)."""
    return math.floor(Fraction(responded) / min_rate - responded - missed)


def judge(
    rule: Rule,
    stats: SeriesStats,
    windows: SeriesWindows,
    resolution: dict[str, ResolutionStats] | None = None,
    surveys: dict[str, dict[str, SurveyStats]] | None = None,
) -> Verdict:
    """The rule's verdict on one series' statistics: `windows` evaluated at one time on the rule's clock.

    `windows` answers what the sums in `stats` cannot: the exact average of the
    fastest replies, and the breach forecast. `resolution` (on the rule's clock)
    and `surveys` (wall clock) are None for a series that does not track them:
    a condition on a null statistic holds. Use `verdicts` to get the clock right.
    """
    business = rule.clock == "business"
    window = stats.windows[rule.window]
    if window.decided < rule.min_decided:
        return Verdict(None, None)
    failed: list[tuple[str, float]] = []
    floor = rule.min_response_rate
    if floor is not None and window.decided and window.responded < floor * window.decided:
        failed.append(("response_rate", window.responded / window.decided))
    limit = rule.max_avg_first_reply_seconds
    if limit is not None and rule.avg_of_fastest is not None:
        fastest = windows.fastest_average_us(stats.at, rule.window, rule.avg_of_fastest, business)
        if fastest is not None and fastest > limit * MICROS:
            failed.append((FASTEST, float(fastest / MICROS)))
    elif (
        limit is not None
        and window.latency_count
        and window.latency_sum_us > limit * MICROS * window.latency_count
    ):
        failed.append(("avg_first_reply_seconds", window.latency_sum_us / window.latency_count / MICROS))
    limit = rule.max_p90_first_reply_seconds
    p90 = window.quantile_seconds(0.9)
    if limit is not None and p90 is not None and Fraction(p90) > limit:
        failed.append(("p90_first_reply_seconds", p90))
    limit = rule.max_oldest_unanswered_seconds
    if (
        limit is not None
        and stats.oldest_unanswered_us is not None
        and stats.oldest_unanswered_us > limit * MICROS
    ):
        failed.append(("oldest_unanswered_seconds", stats.oldest_unanswered_us / MICROS))
    failed.extend(_scorecard_failures(rule, resolution, surveys))
    ok = not failed
    budget = breach = None
    if floor is not None:
        budget = error_budget(window.responded, window.missed, floor)
        if ok:
            instant = windows.rate_breach_at(stats.at, rule.window, floor, business)
            breach = None if instant is None else instant - stats.at
    return Verdict(ok, budget, breach, tuple(failed))


def _scorecard_failures(
    rule: Rule,
    resolution: dict[str, ResolutionStats] | None,
    surveys: dict[str, dict[str, SurveyStats]] | None,
) -> list[tuple[str, float]]:
    """The Version 3 conditions that fail (SPEC §11, §12); each holds on a null statistic."""
    failed: list[tuple[str, float]] = []
    if resolution is not None:
        r = resolution[rule.window]
        decided = r.in_time + r.overdue
        floor = rule.min_resolution_rate
        if floor is not None and decided and r.in_time < floor * decided:
            failed.append(("resolution_rate", r.in_time / decided))
        limit = rule.max_avg_resolution_seconds
        took = r.seconds
        if (
            limit is not None
            and took.latency_count
            and took.latency_sum_us > limit * MICROS * took.latency_count
        ):
            failed.append(("avg_resolution_seconds", took.latency_sum_us / took.latency_count / MICROS))
    if surveys is not None:
        csat, nps = surveys[rule.window]["csat"], surveys[rule.window]["nps"]
        if rule.min_csat is not None and csat.responses and csat.good < rule.min_csat * csat.responses:
            failed.append(("csat", csat.good / csat.responses))
        score = 100 * (nps.good - nps.detractors)
        if rule.min_nps is not None and nps.responses and score < rule.min_nps * nps.responses:
            failed.append(("nps", score / nps.responses))
    return failed


def verdicts(
    rules: tuple[Rule, ...],
    account: str,
    channel: str,
    windows: SeriesWindows,
    wall: SeriesStats,
    business: SeriesStats | None,
    resolution: tuple[dict[str, ResolutionStats] | None, dict[str, ResolutionStats] | None] = (None, None),
    surveys: dict[str, dict[str, SurveyStats]] | None = None,
) -> dict[str, Verdict]:
    """Every applicable rule's verdict on a series, each on its clock (no calendar: no business verdict).

    `resolution` is the series' (wall, business) resolution figures; `surveys`
    its feedback, which every rule judges on the wall clock (SPEC §12).
    """
    out = {}
    for rule in rules:
        if not rule.applies(account, channel):
            continue
        on_business = rule.clock == "business"
        stats = business if on_business else wall
        if stats is None:
            out[rule.name] = Verdict(None, None)
            continue
        out[rule.name] = judge(rule, stats, windows, resolution[1 if on_business else 0], surveys)
    return out
