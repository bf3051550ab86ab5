"""Reading a rules file: its `[[rule]]` and `[[calendar]]` tables, every mistake at once.

A file is mended in one go: each mistake is reported as `FILE:LINE: what`, the
line being that of its table's header.
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
from socialsla.core.events import ACCOUNT_PATTERN, CHANNEL_PATTERN
from socialsla.core.rules import CLOCKS, DEFAULT_RULES, Rule
from socialsla.core.stats import WINDOWS

_NAME_RE: Final = re.compile("[a-z0-9_]{1,64}")
_ACCOUNT_RE: Final = re.compile(ACCOUNT_PATTERN)
_CHANNEL_RE: Final = re.compile(CHANNEL_PATTERN)
_THRESHOLDS: Final = (
    "max_avg_first_reply_seconds",
    "max_p90_first_reply_seconds",
    "max_oldest_unanswered_seconds",
    "max_avg_resolution_seconds",
)
#: The resolution and feedback floors, each with its range (ends included).
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


class RuleError(ValueError):
    """A rule file that cannot be used, with a message that names the place."""


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
    """One `[[rule]]` table, validated; its first mistake is raised as a `RuleError` naming the rule."""
    where, name = _named(table, position)
    window = table.get("window")
    if window not in WINDOWS:
        raise RuleError(f"{where}: window must be one of {', '.join(WINDOWS)}, got {window!r}")
    rate = _fraction_in(table, where, "min_response_rate", 0, 1, low_included=False)
    limits = _limits(table, where)
    floors = {key: found for key, (low, high) in _FLOORS.items()
              if (found := _fraction_in(table, where, key, low, high)) is not None}  # fmt: skip
    if rate is None and not limits and not floors:
        raise RuleError(f"{where}: names no condition (a min_* floor or a max_* threshold)")
    fastest = _fraction_in(table, where, "avg_of_fastest", 0, 1, low_included=False)
    if fastest is not None and "max_avg_first_reply_seconds" not in limits:
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


def _named(table: dict[str, Any], position: int) -> tuple[str, str]:
    """Where a rule's mistakes are said to be, and its name; unknown keys or a bad name are refused.

    A rule is named by its name where it has a valid one, by its place in the file otherwise.
    """
    name = table.get("name")
    valid = isinstance(name, str) and _NAME_RE.fullmatch(name) is not None
    where = f"rule {name!r}" if valid else f"rule {position} (the {_ordinal(position)} [[rule]])"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    if not valid:
        raise RuleError(f"{where}: name must match [a-z0-9_]{{1,64}}, got {name!r}")
    return where, str(name)


def _fraction_in(
    table: dict[str, Any], where: str, key: str, low: int, high: int, low_included: bool = True
) -> Fraction | None:
    """An optional exact number within `[low, high]` (or `(low, high]`); None when the key is absent."""
    if key not in table:
        return None
    value = _exact(table[key], where, key)
    if low_included and not low <= value <= high:
        raise RuleError(f"{where}: {key} must be in [{low}, {high}], got {float(value)}")
    if not low_included and not low < value <= high:
        raise RuleError(f"{where}: {key} must be in ({low}, {high}], got {float(value)}")
    return value


def _limits(table: dict[str, Any], where: str) -> dict[str, Fraction]:
    """The `max_*` thresholds a rule names, each a positive number."""
    limits: dict[str, Fraction] = {}
    for key in _THRESHOLDS:
        if key in table:
            limits[key] = _exact(table[key], where, key)
            if limits[key] <= 0:
                raise RuleError(f"{where}: {key} must be positive, got {float(limits[key])}")
    return limits


@dataclass(frozen=True, slots=True)
class RuleBook:
    """A rules file: its `[[rule]]` tables and its `[[calendar]]` tables, in file order."""

    rules: tuple[Rule, ...]
    calendars: tuple[Calendar, ...] = ()

    def calendar_for(self, account: str, channel: str) -> Calendar | None:
        """The first calendar, in file order, whose selectors take the series, or None."""
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
    rules = _rules(document.get("rule"), _header_lines(text, "rule"), source, problems)
    raw = document.get("calendar")
    if isinstance(raw, list):
        lines = _header_lines(text, "calendar")
        for position, table in enumerate(raw, 1):
            try:
                parse_calendar(table, position)
            except CalendarError as exc:
                problems.append(f"{_at_line(source, lines, position)}: {exc}")
    calendars: tuple[Calendar, ...] = ()
    if not problems:
        try:
            calendars = parse_calendars(raw)
        except CalendarError as exc:
            problems.append(f"{source}: {exc}")
    if problems:
        raise RuleError("\n".join(problems))
    return RuleBook(tuple(rules), calendars)


def _at_line(source: str, lines: list[int], position: int) -> str:
    """`FILE:LINE` of the table at this position, or the file alone when its header was not found."""
    return f"{source}:{lines[position - 1]}" if position <= len(lines) else source


def _rules(tables: object, lines: list[int], source: str, problems: list[str]) -> list[Rule]:
    """The valid `[[rule]]` tables of a file; each mistake, and a name used twice, goes to `problems`."""
    if not isinstance(tables, list) or not tables:
        problems.append(f"{source}: no [[rule]] tables")
        return []
    rules = []
    for position, table in enumerate(tables, 1):
        try:
            rules.append(_rule(table, position))
        except RuleError as exc:
            problems.append(f"{_at_line(source, lines, position)}: {exc}")
    names = [rule.name for rule in rules]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"{source}: rule name {name!r} is used twice")
    return rules


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
