"""The offline report: an events file's numbers at one time T, computed as the worker computes them.

`build` folds the lines into threads (`fold.fold`, stage 1's fold), applies
their outcomes to a ledger (`Ledger.apply`, stage 2's) and evaluates each
series (`series.evaluate`, the collector's): the report and `/metrics` agree
because there is one copy of each number. Lines are taken one at a time, so a
file's size bounds nothing but time. Printing the report is `cli/render.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from socialsla.core import fold
from socialsla.core.calendars import Calendar
from socialsla.core.events import MICROS, Event, InvalidEvent, decode
from socialsla.core.ledger import Ledger
from socialsla.core.rules import Rule
from socialsla.core.series import DEFAULT_RESOLUTION_WINDOW_US, Evaluation, evaluate
from socialsla.core.stats import LONGEST_US
from socialsla.core.thread import DEFAULT_POLICY, Policy
from socialsla.core.waiting import Waiting, waiting_list

DEFAULT_RESPONSE_WINDOW_US: Final = 24 * 3_600 * MICROS
#: Agents named per series (SOCIALSLA_MAX_AGENTS). Not 50, the first default: that let one worker
#: export over a million series at 1,000 series (docs/metrics.md, "How many series").
DEFAULT_MAX_AGENTS: Final = 10
_FIRST_LINES: Final = 5


@dataclass(slots=True)
class Tally:
    """What happened to each input line, by `socialsla_events_total` outcome plus what T hides."""

    accepted: int = 0
    duplicate: int = 0
    invalid: int = 0
    late: int = 0
    after_at: int = 0
    blank: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    first_lines: dict[str, list[int]] = field(default_factory=dict)

    def reject(self, line: int, reason: str) -> None:
        """Count an invalid line under its reason, remembering the first few line numbers."""
        self.invalid += 1
        self.reasons[reason] += 1
        lines = self.first_lines.setdefault(reason, [])
        if len(lines) < _FIRST_LINES:
            lines.append(line)

    def summary(self, top: int | None = 5) -> str:
        """A few lines for stderr: counts, then the commonest reasons (all when `top` is None)."""
        # Offline, "late" (the live worker's word, where it means arrived too late) would
        # blame the file's order: these are simply too old for any window at T.
        head = (
            f"events: {self.accepted} accepted, {self.duplicate} duplicate, "
            f"{self.invalid} invalid, {self.late} older than every window (before T - 7d - R)"
        )
        if self.after_at:
            head += f", {self.after_at} after --at (not seen)"
        if self.blank:
            head += f", {self.blank} blank lines skipped"
        out = [head]
        for reason, count in self.reasons.most_common(top):
            lines = ", ".join(str(n) for n in self.first_lines[reason])
            out.append(f"  {count} x {reason} (line {lines}{', ...' if count > _FIRST_LINES else ''})")
        if top is not None and len(self.reasons) > top:
            out.append(f"  ... and {len(self.reasons) - top} more reasons (--all-reasons lists them)")
        return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Report:
    """The whole report at time `at`."""

    at: int
    #: Each series' evaluation, the worker's own (`series.evaluate`), sorted by account and channel.
    series: list[Evaluation]
    tally: Tally
    #: Who is waiting, asked with `--waiting`: each series' waiting list, in the order of `series`.
    waiting: list[list[Waiting]] | None = None


def latest_time(lines: Iterator[bytes], now_us: int) -> int | None:
    """The largest created_at among the valid events of the input."""
    latest: int | None = None
    for raw in lines:
        if not raw.strip():
            continue
        try:
            at = decode(raw, now_us).created_at
        except InvalidEvent:
            continue
        if latest is None or at > latest:
            latest = at
    return latest


def build(
    lines: Iterator[bytes],
    at: int,
    now_us: int,
    rules: tuple[Rule, ...],
    response_window_us: int = DEFAULT_RESPONSE_WINDOW_US,
    policy: Policy = DEFAULT_POLICY,
    calendars: Sequence[Calendar] = (),
    max_agents: int = DEFAULT_MAX_AGENTS,
    resolution_window_us: int = DEFAULT_RESOLUTION_WINDOW_US,
    waiting: bool = False,
) -> Report:
    """Fold every line into threads (`fold.fold`, as the live stage 1), then evaluate at `at`.

    With `waiting`, also each series' waiting list, as `GET /waiting` builds it.
    """
    tally = Tally()
    horizon = at - (LONGEST_US + response_window_us)
    line = [0]  # the line being folded: fold takes events one at a time

    def events() -> Iterator[Event]:
        for number, raw in enumerate(lines, 1):
            line[0] = number
            if not raw.strip():
                tally.blank += 1
                continue
            try:
                event = decode(raw, now_us)
            except InvalidEvent as exc:
                tally.reject(number, exc.reason)
                continue
            if event.created_at > at:
                tally.after_at += 1
                continue
            yield event

    folded = fold.fold({}, events(), horizon, policy, lambda _, reason: tally.reject(line[0], reason))
    for (_, outcome), count in folded.tally.items():
        setattr(tally, outcome, getattr(tally, outcome) + count)
    # Stage 2 as the worker runs it: the outcomes stage 1 would send, applied by the same function.
    ledger = Ledger(response_window_us, LONGEST_US, calendars, resolution_window_us)
    ledger.apply(0, folded.outcomes(), at)
    series = sorted(ledger.existing(at), key=lambda s: (s.account, s.channel))
    evaluations = [evaluate(each, at, rules, max_agents) for each in series]
    lists = None
    if waiting:
        lists = [
            waiting_list(s.windows, at, rules, e.verdicts) for s, e in zip(series, evaluations, strict=True)
        ]
    return Report(at, evaluations, tally, lists)
