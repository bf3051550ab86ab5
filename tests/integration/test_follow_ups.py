"""Follow-ups, new conversations after silence and the breach forecast live, against the report."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from socialsla.core import report
from socialsla.core.events import MICROS, format_time, parse_time
from socialsla.core.rules import DEFAULT_RULES
from socialsla.core.thread import Policy
from socialsla.stream.settings import parse_silence
from tests.factories import line
from tests.harness import CATCH_UP_S, WORKER_READY_S, Stack, eventually, settles

from .expected import from_report, key, sla_gauges

AT = "2026-01-08T00:00:00Z"
T = parse_time(AT)
S, M, H, D = MICROS, 60 * MICROS, 3600 * MICROS, 86_400 * MICROS


def threads() -> tuple[list[bytes], list[bytes]]:
    """Back-and-forth threads and silence boundaries; the second part holds late events that reshape waits."""
    first = [
        # three waits: answered in 10 m, answered in 1 h, and one still waiting
        line("post", "ping", n=0, at=T - 5 * H), line("reply", "ping", n=1, at=T - 5 * H + 10 * M),
        line("post", "ping", n=2, at=T - 4 * H), line("post", "ping", n=3, at=T - 4 * H + 5 * M),
        line("reply", "ping", n=4, at=T - 3 * H), line("post", "ping", n=5, at=T - 2 * H),
        # silent exactly 24 h after the answer, then writes again
        line("post", "day", n=0, at=T - 3 * D), line("reply", "day", n=1, at=T - 3 * D + 10 * M),
        line("post", "day", n=2, at=T - 2 * D + 10 * M), line("reply", "day", n=3, at=T - 2 * D + 30 * M),
        # silent 1 s less than 24 h
        line("post", "almost", n=0, at=T - 3 * D), line("reply", "almost", n=1, at=T - 3 * D + 10 * M),
        line("post", "almost", n=2, at=T - 2 * D + 10 * M - S), line("reply", "almost", n=3, at=T - 2 * D + 40 * M),
        # silent 2 days, then a follow-up nobody answers (missed after R)
        line("post", "quiet", n=0, at=T - 5 * D, channel="x"), line("reply", "quiet", n=1, at=T - 5 * D + 5 * M, channel="x"),
        line("post", "quiet", n=2, at=T - 3 * D, channel="x"),
        # split later: one long wait now, two waits once an earlier reply arrives
        line("post", "split", n=0, at=T - 6 * H, channel="x"), line("post", "split", n=1, at=T - 5 * H, channel="x"),
        line("reply", "split", n=2, at=T - 4 * H, channel="x"),
    ]  # fmt: skip
    second = [
        # an automated reply inside "quiet"'s silence: with the 24h rule its follow-up stops being a conversation
        line("reply", "quiet", n=3, at=T - 3 * D - 12 * H, channel="x", automated=True),
        # a reply between "split"'s posts arrives late: its 5 h post becomes a follow-up
        line("reply", "split", n=4, at=T - 5 * H - 30 * M, channel="x"),
        # a late earlier post moves "ping"'s first wait back
        line("post", "ping", n=6, at=T - 6 * H),
    ]  # fmt: skip
    return first, second


def offline(lines: list[bytes], policy: Policy) -> report.Report:
    return report.build(iter(lines), T, T, DEFAULT_RULES, policy=policy)


@pytest.mark.parametrize("silence", ["", "24h"], ids=["silence-off", "silence-24h"])
def test_follow_ups_and_silence_equal_the_report(stack: Stack, tmp_path: Path, silence: str) -> None:
    """Shuffled back-and-forth threads, then late events that reshape them: /metrics equals the report each time."""
    policy = Policy(new_conversation_after_us=parse_silence(silence))
    worker = stack.worker(SOCIALSLA_NEW_CONVERSATION_AFTER=silence)
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    first, second = threads()
    shuffled = first[:]
    random.Random(7).shuffle(shuffled)
    (tmp_path / "first.jsonl").write_bytes(b"\n".join(shuffled) + b"\n")
    (tmp_path / "second.jsonl").write_bytes(b"\n".join(second) + b"\n")
    stack.produce(tmp_path / "first.jsonl")
    eventually(worker.consumed, lambda n: n == len(first), CATCH_UP_S, "the first part counted")
    before = from_report(offline(first, policy))
    settles(lambda: sla_gauges(worker.metrics()), before, CATCH_UP_S, "gauges = report, first part")
    stack.produce(tmp_path / "second.jsonl")
    eventually(
        worker.consumed, lambda n: n == len(first) + len(second), CATCH_UP_S, "the second part counted"
    )
    after = from_report(offline(first + second, policy))
    assert after != before
    settles(lambda: sla_gauges(worker.metrics()), after, CATCH_UP_S, "gauges = report, after the late events")
    x_week = ("account", "acme"), ("channel", "x"), ("clock", "wall"), ("state", "inbound"), ("window", "7d")
    # quiet's follow-up and split's 5 h post; with the 24h rule quiet's was a conversation before the reply
    assert after[("socialsla_follow_ups", x_week)] == 2
    assert before[("socialsla_follow_ups", x_week)] == (0 if silence else 1)


def test_breach_forecast_comes_true_at_the_predicted_instant(stack: Stack, tmp_path: Path) -> None:
    """The forecast on /metrics matches the report; at the predicted instant the badge is lost, 1 µs before it holds."""
    lines = [line("post", f"ok{n}", n=0, at=T - H + n * S) for n in range(9)]
    lines += [line("reply", f"ok{n}", n=1, at=T - H + n * S + M) for n in range(9)]
    lines += [
        line("post", "waiting", n=0, at=T - 23 * H - 30 * M),
        line("post", "waiting2", n=0, at=T - 23 * H),
    ]
    path = tmp_path / "breach.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    offline_report = offline(lines, Policy())
    verdict = offline_report.series[0].verdicts["facebook_very_responsive"]
    # 9 answered; 9 / 10 holds at the first deadline, 9 / 11 is below 90% at the second, one hour on
    assert verdict.rate_breach_in_us == H
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    stack.produce(path)
    settles(lambda: sla_gauges(worker.metrics()), from_report(offline_report), CATCH_UP_S, "gauges = report")
    who = ("account", "acme"), ("channel", "facebook"), ("rule", "facebook_very_responsive")
    breach = worker.metrics()[("socialsla_rule_rate_breach_in_seconds", who)]
    instant = T + round(breach * MICROS)
    for at, ok in ((instant - 1, 1.0), (instant, 0.0)):
        stack.set_clock(format_time(at))
        expected = report.build(iter(lines), at, T, DEFAULT_RULES)
        assert expected.series[0].verdicts["facebook_very_responsive"].ok is bool(ok)
        # every gauge as the report has it at `at`: the worker has read its clock file by then
        got = settles(lambda: sla_gauges(worker.metrics()), from_report(expected), CATCH_UP_S,
                      f"gauges = report at {format_time(at)}")  # fmt: skip
        assert got[key("socialsla_rule_ok", **dict(who))] == ok
