"""How many series one worker can export at most, checked against the formula, and a scrape at that bound.

    python bench/series_bound.py                      # the defaults: 1,000 series, 10 agents
    python bench/series_bound.py --series 200 --agents 50 --rounds 3

Builds a stage-2 `Ledger` in memory (no broker) where every series reaches every
per-series family at its most: a calendar (both clocks), more agents than the cap
answering first and next replies in every window, follow-ups, a pending post,
resolutions (in time, overdue, reopened, first contact) and answers to every survey
in every window, and one rule whose eight conditions all fail (so
`socialsla_rule_failed` has all eight).
It counts the samples of one exposition and prints them beside the formula of
docs/metrics.md ("How many series"), then times scrapes (cold, then with the clock
moved 15 s each). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from socialsla.core.calendars import parse_calendar
from socialsla.core.events import MICROS, parse_time
from socialsla.core.feedback import Answer
from socialsla.core.ledger import Ledger
from socialsla.core.resolution import Resolution
from socialsla.core.rulebook import parse_rules
from socialsla.core.thread import Wait
from socialsla.core.wire import Outcome, Scorecard
from socialsla.serve.collector import SlaCollector

AT = parse_time("2026-03-31T12:00:00Z")  # a Tuesday
#: Every condition fails for every series: the most `socialsla_rule_failed` samples a rule can have.
RULES = parse_rules(
    '[[rule]]\nname = "strict"\nwindow = "7d"\nmin_response_rate = 0.99\nmax_avg_first_reply_seconds = 1\n'
    "max_p90_first_reply_seconds = 1\nmax_oldest_unanswered_seconds = 1\n"
    "min_resolution_rate = 0.99\nmax_avg_resolution_seconds = 1\nmin_csat = 0.99\nmin_nps = 100\n"
)
#: Per series: the badge, follow-up and resolution families on two clocks, feedback's and
#: who-is-waiting's on one (222), 24 per named agent and for `other`, and per rule at most 10
#: (an upper bound: a null statistic is not exported).
PER_SERIES_FIXED = 222
PER_AGENT = 24
PER_RULE_MOST = 2 + 8  # ok and budget, and a failed sample per condition (a forecast only while ok)


class Clock:
    def __init__(self, at: int) -> None:
        self.at = at

    def now_us(self) -> int:
        return self.at


def ledger(series: int, agents: int) -> Ledger:
    calendars = [
        parse_calendar({"name": f"team{n}", "timezone": "UTC", "accounts": [f"brand{n}"],
                        "hours": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}, n + 1)
        for n in range(series)
    ]  # fmt: skip
    kept = Ledger(24 * 3600 * MICROS, calendars=calendars)
    for n in range(series):
        outcomes = []
        for a in range(agents + 2):  # past the cap: some are pooled as `other`
            for ago in (600, 6 * 3600, 3 * 24 * 3600):  # one in each window
                start = AT - ago * MICROS
                waits = (Wait(start, start + 300 * MICROS, True, f"agent{a}"),
                         Wait(start + 400 * MICROS, start + 500 * MICROS, False, f"agent{a}"))  # fmt: skip
                # resolved after 5 minutes, or 2 days (overdue); every third reopened; a CSAT,
                # NPS or CES answer after it: every resolution and feedback sample is exported
                took = 300 if a % 2 else 2 * 24 * 3600
                resolved = Resolution(start, start + took * MICROS, a % 3 == 0, a % 3 != 0)
                survey = ("csat", "nps", "ces")[a % 3]
                answer = Answer(start + 450 * MICROS, survey, 1)
                card = Scorecard((resolved,), (answer,), resolved.resolved_at, answer.at)
                outcomes.append(Outcome(f"brand{n}", "x", f"c{a}-{ago}", waits, AT, card))
        outcomes.append(Outcome(f"brand{n}", "x", "waiting", (Wait(AT - 60 * MICROS, None, True),), AT))
        kept.apply(n % 4, outcomes, AT)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=1000, help="SOCIALSLA_MAX_SERIES (default 1000)")
    parser.add_argument("--agents", type=int, default=10, help="SOCIALSLA_MAX_AGENTS (default 10)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kept = ledger(args.series, args.agents)
    clock = Clock(AT)
    registry = CollectorRegistry()
    registry.register(SlaCollector(kept, RULES, clock, args.agents))
    begin = time.perf_counter()
    body = generate_latest(registry)
    cold = (time.perf_counter() - begin) * 1000
    samples = sum(
        1
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if "account" in sample.labels
    )
    formula = args.series * (PER_SERIES_FIXED + PER_AGENT * (args.agents + 1) + PER_RULE_MOST * len(RULES))
    warm = []
    for _ in range(args.rounds):
        clock.at += 15 * MICROS
        begin = time.perf_counter()
        generate_latest(registry)
        warm.append((time.perf_counter() - begin) * 1000)
    print(
        f"{args.series} series, {args.agents} agents each, 1 rule: {samples:,} per-series samples "
        f"(formula {formula:,}), {len(body) / 2**20:.1f} MiB of exposition; a scrape takes "
        f"{statistics.median(warm):,.0f} ms (cold {cold:,.0f} ms)",
        flush=True,
    )


if __name__ == "__main__":
    main()
