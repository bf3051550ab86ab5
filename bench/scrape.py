"""What one /metrics scrape costs at 1,000 series, with and without a calendar each (business hours).

    python bench/scrape.py                       # 1,000 series x 100 conversations
    python bench/scrape.py --series 1000 --conversations 100 --rounds 5

Builds a stage-2 `Ledger` in memory (no broker): every series gets conversations
over the last 7 days with agents and follow-ups; in the calendar run each series
has a calendar of its own (weekday office hours, a holiday, a different zone per
series), so the collector evaluates both clocks. It then times the collector's
scrapes: the first (cold caches), and the next ones with the clock moved 15 s
each (a Prometheus scrape interval). Both runs are interleaved round by round,
and the ratio is taken within the run. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from prometheus_client import CollectorRegistry, generate_latest

from socialsla.core.calendars import Calendar, parse_calendar
from socialsla.core.events import MICROS, parse_time
from socialsla.core.ledger import Ledger
from socialsla.core.rulebook import parse_rules
from socialsla.core.rules import DEFAULT_RULES, Rule
from socialsla.core.thread import Wait
from socialsla.core.wire import Outcome
from socialsla.serve.collector import SlaCollector

AT = parse_time("2026-03-31T12:00:00Z")
ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC")
BUSINESS_RULE = parse_rules(
    '[[rule]]\nname = "office"\nwindow = "7d"\nclock = "business"\nmin_response_rate = 0.9\n'
)


class Clock:
    def __init__(self, at: int) -> None:
        self.at = at

    def now_us(self) -> int:
        return self.at


def ledger(series: int, conversations: int, calendars: bool) -> Ledger:
    rng = random.Random(7)
    owned: list[Calendar] = []
    if calendars:
        for n in range(series):
            owned.append(parse_calendar({
                "name": f"team{n}", "timezone": ZONES[n % len(ZONES)], "accounts": [f"brand{n}"],
                "holidays": ["2026-03-27"],
                "hours": {d: ["08:00-12:30", "13:30-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
            }, n + 1))  # fmt: skip
    kept = Ledger(24 * 3600 * MICROS, calendars=owned)
    for n in range(series):
        outcomes = []
        for c in range(conversations):
            start = AT - rng.randrange(7 * 24 * 3600) * MICROS
            answer = None if rng.random() < 0.05 else start + int(rng.expovariate(1 / 900) * MICROS)
            waits = [Wait(start, answer, True, f"agent{rng.randrange(8)}")]
            if answer is not None and rng.random() < 0.2:
                later = answer + rng.randrange(60, 3600) * MICROS
                waits.append(Wait(later, later + rng.randrange(60, 1800) * MICROS, False, "agent0"))
            outcomes.append(Outcome(f"brand{n}", "x", f"c{c}", tuple(waits), AT))
        kept.apply(n % 4, outcomes, AT)
    return kept


def scrape_ms(kept: Ledger, rules: tuple[Rule, ...], rounds: int) -> tuple[float, list[float]]:
    clock = Clock(AT)
    registry = CollectorRegistry()
    registry.register(SlaCollector(kept, rules, clock))
    begin = time.perf_counter()
    generate_latest(registry)
    cold = (time.perf_counter() - begin) * 1000
    warm = []
    for _ in range(rounds):
        clock.at += 15 * MICROS
        begin = time.perf_counter()
        generate_latest(registry)
        warm.append((time.perf_counter() - begin) * 1000)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds of both runs")
    args = parser.parse_args()
    plain = ledger(args.series, args.conversations, calendars=False)
    with_calendars = ledger(args.series, args.conversations, calendars=True)
    results: dict[str, list[float]] = {"without": [], "with": []}
    colds: dict[str, list[float]] = {"without": [], "with": []}
    for round_ in range(args.repeat):
        order = [("without", plain, DEFAULT_RULES), ("with", with_calendars, DEFAULT_RULES + BUSINESS_RULE)]
        for name, kept, rules in order if round_ % 2 == 0 else order[::-1]:
            cold, warm = scrape_ms(kept, rules, args.rounds)
            colds[name].append(cold)
            results[name].extend(warm)
            print(f"... {name} calendars: cold {cold:.0f} ms, warm median {statistics.median(warm):.0f} ms",
                  flush=True)  # fmt: skip
    without, with_ = statistics.median(results["without"]), statistics.median(results["with"])
    cold_without, cold_with = statistics.median(colds["without"]), statistics.median(colds["with"])
    print(f"{args.series} series x {args.conversations} conversations: a scrape takes {without:.0f} ms "
          f"without calendars, {with_:.0f} ms with one each ({with_ / without:.2f}x, same run); "
          f"cold {cold_without:.0f} and {cold_with:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
