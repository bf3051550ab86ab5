"""The offline commands: `report` (an events file's numbers), `rules check` and `import twcs`.

They load no Kafka, Faust or Prometheus client: a report needs only the core.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from socialsla.cli import render, twcs
from socialsla.cli.files import check_input, iter_lines, read_input
from socialsla.cli.options import duration_us, positive_whole, silence_us, time_us
from socialsla.core import report
from socialsla.core.calendars import Calendar
from socialsla.core.events import encode
from socialsla.core.report import DEFAULT_MAX_AGENTS, DEFAULT_RESPONSE_WINDOW_US, Report, build, latest_time
from socialsla.core.rulebook import load_book
from socialsla.core.rules import Rule
from socialsla.core.series import DEFAULT_RESOLUTION_WINDOW_US
from socialsla.core.thread import DEFAULT_POLICY, Policy


def report_of(
    source: str,
    at: int | None,
    rules: tuple[Rule, ...],
    response_window_us: int = DEFAULT_RESPONSE_WINDOW_US,
    policy: Policy = DEFAULT_POLICY,
    now_us: int | None = None,
    progress: Callable[[int], None] | None = None,
    calendars: Sequence[Calendar] = (),
    max_agents: int = DEFAULT_MAX_AGENTS,
    resolution_window_us: int = DEFAULT_RESOLUTION_WINDOW_US,
    waiting: bool = False,
) -> Report:
    """Build a report from a path or `-` (stdin), finding T first when none is given."""
    now = time.time_ns() // 1_000 if now_us is None else now_us
    with read_input(source, seekable=at is None) as stream:
        if at is None:
            at = latest_time(iter_lines(stream, progress), now)
            if at is None:
                at = now
            stream.seek(0)
        return build(
            iter_lines(stream, progress),
            at,
            now,
            rules,
            response_window_us,
            policy,
            calendars,
            max_agents,
            resolution_window_us,
            waiting,
        )


def _progress(done: int) -> None:
    print(f"... read {done / (1 << 20):,.0f} MiB", file=sys.stderr, flush=True)


def _report(args: argparse.Namespace) -> int:
    book = load_book(args.rules)
    rules = book.rules
    check_input(args.events)
    result = report_of(
        args.events,
        args.at,
        rules,
        response_window_us=args.response_window,
        policy=Policy(args.count_automated, args.new_conversation_after),
        progress=_progress if sys.stderr.isatty() else None,
        calendars=book.calendars,
        max_agents=args.max_agents,
        resolution_window_us=args.resolution_window,
        waiting=args.waiting,
    )
    if args.format == "json":
        out = render.to_json(result, rules)
    elif args.agents:
        out = render.to_agents_table(result).encode()
    else:
        out = render.to_table(result, rules).encode()
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    print(result.tally.summary(None if args.all_reasons else 5), file=sys.stderr)
    judged = {name for series in result.series for name in series.verdicts}
    for rule in rules if result.series else ():
        if rule.name not in judged:
            print(f"warning: rule {rule.name!r} ({_scope(rule.accounts, rule.channels)}) matches no series "
                  "of the input: its verdicts are all '-'", file=sys.stderr)  # fmt: skip
    tally = result.tally
    if not tally.accepted + tally.duplicate + tally.late + tally.after_at:
        print(f"socialsla report: no usable event in {args.events}", file=sys.stderr)
        return 1
    return 0


def _scope(accounts: frozenset[str] | None, channels: frozenset[str] | None) -> str:
    scope = []
    if accounts:
        scope.append("accounts " + ", ".join(sorted(accounts)))
    if channels:
        scope.append("channels " + ", ".join(sorted(channels)))
    return "; ".join(scope) or "every series"


def _rules_check(args: argparse.Namespace) -> int:
    book = load_book(args.file)
    for rule in book.rules:
        clock = "; business clock" if rule.clock == "business" else ""
        print(f"ok: {rule.name} (window {rule.window}{clock}; {_scope(rule.accounts, rule.channels)})")
    for calendar in book.calendars:
        days = sum(1 for ranges in calendar.hours if ranges)
        scope = _scope(calendar.accounts, calendar.channels)
        open_days = f"{days} day{'s' if days != 1 else ''} a week"
        print(f"ok: calendar {calendar.name} ({calendar.timezone}, open {open_days}, "
              f"{len(calendar.holidays)} holidays; {scope})")  # fmt: skip
    for warning in book.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _import_twcs(args: argparse.Namespace) -> int:
    tally = twcs.ImportTally()
    check_input(args.csv, events=False)
    try:
        with open(args.csv, "rb") as raw, twcs.open_csv(raw) as text:
            out = sys.stdout.buffer
            for event in twcs.convert(text, tally):
                out.write(encode(event) + b"\n")
    except twcs.TwcsFormatError as exc:
        print(f"socialsla import twcs: {args.csv}: {exc}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as exc:
        print(f"socialsla import twcs: {args.csv}: not UTF-8 text past byte {exc.start:,}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    print(tally.summary(), file=sys.stderr)
    return 0


def add_offline_commands(commands: Any) -> None:
    """Add `report`, `rules check` and `import twcs` to the top-level parser."""
    _add_report(commands)
    _add_rules(commands)
    _add_import(commands)


def _add_report(commands: Any) -> None:
    # One statement per flag, as --help lists them: longer than 60 lines by nature, and flat.
    rep = commands.add_parser(
        "report",
        help="numbers of an events file at one time",
        description="Read post/reply events (JSON Lines, one per line; - for stdin) and print "
        "1h/24h/7d response rate, first-reply latency and rule verdicts per account and "
        "channel. Invalid lines are counted and summarised on stderr, never fatal.",
    )
    rep.add_argument("events", help="JSON Lines file of events, or - for stdin")
    rep.add_argument(
        "--at",
        type=time_us,
        help="evaluation time T (RFC 3339 with offset, or epoch seconds); "
        "default: the largest created_at in the file",
    )
    rep.add_argument("--rules", type=Path, help="TOML rule file; default: the Facebook badge rule")
    rep.add_argument("--format", choices=("table", "json"), default="table")
    rep.add_argument(
        "--response-window",
        type=duration_us,
        default=report.DEFAULT_RESPONSE_WINDOW_US,
        metavar="DURATION",
        help="R: a post unanswered this long is missed (default 24h)",
    )
    rep.add_argument(
        "--resolution-window",
        type=duration_us,
        default=DEFAULT_RESOLUTION_WINDOW_US,
        metavar="DURATION",
        help="S: a conversation resolved within this is resolved in time (default 24h)",
    )
    rep.add_argument(
        "--all-reasons",
        action="store_true",
        help="list every reason an input line was invalid (default: the 5 commonest)",
    )
    rep.add_argument(
        "--count-automated",
        action="store_true",
        help="let automated replies (auto-responders) count as first replies",
    )
    rep.add_argument(
        "--new-conversation-after",
        type=silence_us,
        default=None,
        metavar="DURATION",
        help="a customer post after this much silence in its thread (no post or reply, automated or "
        "not) opens a new conversation instead of a follow-up, so it counts in the response rate and "
        "first-reply time; 24h is Facebook's rule for its badge (default: off, every later post is a "
        "follow-up, measured as next-reply time)",
    )
    rep.add_argument(
        "--agents",
        action="store_true",
        help="with the table format: per agent, first replies to conversations and next replies to "
        "follow-ups, with their times (the JSON always carries them)",
    )
    rep.add_argument(
        "--waiting",
        action="store_true",
        help="also list who is waiting: per series every unanswered customer of the last 7 days, oldest "
        "first, with how long they waited, when they turn missed (on the calendar's clock too) and the "
        "rules whose forecast breach answering them could delay; in JSON, `waiting` and "
        "`oldest_unanswered_conversation` per series",
    )
    rep.add_argument(
        "--max-agents",
        type=positive_whole,
        default=report.DEFAULT_MAX_AGENTS,
        metavar="N",
        help="agents named per series, the busiest over 7 days; the rest are pooled as `other` "
        "(default 10, as SOCIALSLA_MAX_AGENTS)",
    )
    rep.set_defaults(run=_report)


def _add_rules(commands: Any) -> None:
    rules = commands.add_parser("rules", help="rule file tools")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = rules_commands.add_parser(
        "check", help="validate a TOML rule file", description="Validate a TOML rule file."
    )
    check.add_argument("file", type=Path)
    check.set_defaults(run=_rules_check)


def _add_import(commands: Any) -> None:
    imp = commands.add_parser("import", help="convert public datasets into events")
    imp_commands = imp.add_subparsers(dest="import_command", required=True, metavar="FORMAT")
    tw = imp_commands.add_parser(
        "twcs",
        help='the "Customer Support on Twitter" CSV',
        description="Convert a twcs CSV (tweet_id, author_id, inbound, created_at, text, "
        "response_tweet_id, in_response_to_tweet_id) into JSON Lines events on stdout, "
        "channel x, without text. Rows that cannot be attributed to a brand are counted on stderr.",
    )
    tw.add_argument("csv", help="path of the CSV file")
    tw.set_defaults(run=_import_twcs)
