"""Resolution and customer feedback live, against the report: shuffled, late, after a SIGKILL."""

from __future__ import annotations

import random
import signal
from pathlib import Path

from socialsla.core import report
from socialsla.core.events import MICROS, parse_time
from socialsla.core.rulebook import parse_book
from socialsla.core.thread import Policy
from socialsla.stream.settings import parse_silence
from tests.factories import line
from tests.harness import CATCH_UP_S, WORKER_READY_S, Stack, eventually, settles

from .expected import from_report, key, sla_gauges

AT = "2026-01-08T00:00:00Z"
T = parse_time(AT)
M, H, D = 60 * MICROS, 3600 * MICROS, 86_400 * MICROS

RULES = """
[[rule]]
name = "care_scorecard"
window = "7d"
min_response_rate = 0.9
min_resolution_rate = 0.8
min_csat = 0.8
min_nps = 0

[[rule]]
name = "business_resolution"
window = "7d"
clock = "business"
max_avg_resolution_seconds = 14400

[[calendar]]
name = "x_team"
timezone = "UTC"
channels = ["x"]
resolution_window = "2h"
hours = { mon = ["08:00-20:00"], tue = ["08:00-20:00"], wed = ["08:00-20:00"], thu = ["08:00-20:00"], fri = ["08:00-20:00"], sat = ["08:00-20:00"], sun = ["08:00-20:00"] }
"""


def scenario() -> tuple[list[bytes], list[bytes]]:
    """Threads of every case of resolution and feedback; the second part is late events that move spans
    and answers."""
    first = [
        # resolved, then the customer returns after a day's silence: a second conversation, resolved too
        line("post", "split", n=0, at=T - 4 * D), line("reply", "split", n=1, at=T - 4 * D + 10 * M),
        line("resolve", "split", n=2, at=T - 4 * D + H),
        line("post", "split", n=3, at=T - 2 * D), line("reply", "split", n=4, at=T - 2 * D + 20 * M),
        line("resolve", "split", n=5, at=T - 2 * D + 30 * H),  # 30 h: past S, overdue
        # resolved, reopened by the customer within the silence, resolved again
        line("post", "reopen", n=0, at=T - 10 * H), line("reply", "reopen", n=1, at=T - 10 * H + 5 * M),
        line("resolve", "reopen", n=2, at=T - 9 * H), line("post", "reopen", n=3, at=T - 8 * H),
        line("reply", "reopen", n=4, at=T - 7 * H), line("resolve", "reopen", n=5, at=T - 6 * H),
        # a customer who changes a CSAT answer, and an NPS answer
        line("post", "changed", n=0, at=T - 20 * H), line("reply", "changed", n=1, at=T - 19 * H),
        line("resolve", "changed", n=2, at=T - 18 * H),
        line("feedback", "changed", n=3, at=T - 17 * H, survey="csat", score=2),
        line("feedback", "changed", n=4, at=T - 16 * H, survey="csat", score=5),
        line("feedback", "changed", n=5, at=T - 16 * H, survey="nps", score=6),
        # feedback before the first post belongs to no conversation
        line("feedback", "early", n=0, at=T - 30 * H, survey="csat", score=1),
        line("post", "early", n=1, at=T - 29 * H), line("reply", "early", n=2, at=T - 28 * H),
        # on x, under the calendar with its own resolution window (2 h of open time)
        line("post", "xfast", n=0, at=T - 30 * H, channel="x"), line("reply", "xfast", n=1, at=T - 30 * H + 30 * M, channel="x"),
        line("resolve", "xfast", n=2, at=T - 29 * H, channel="x"),
        line("post", "xslow", n=0, at=T - 50 * H, channel="x"), line("reply", "xslow", n=1, at=T - 49 * H, channel="x"),
        line("resolve", "xslow", n=2, at=T - 40 * H, channel="x"), line("feedback", "xslow", n=3, at=T - 39 * H, channel="x", survey="ces", score=6),
        line("post", "xopen", n=0, at=T - 20 * H, channel="x"),  # unresolved
    ]  # fmt: skip
    second = [
        # the silence disappears: a reply inside it joins split's two conversations into one
        line("reply", "split", n=6, at=T - 3 * D, automated=True),
        # an earlier post moves early's conversation back before its feedback: now counted
        line("post", "early", n=3, at=T - 31 * H),
        # a second CSAT answer at the same instant as the first, with a larger id: it wins
        line("feedback", "changed", n=9, at=T - 16 * H, survey="csat", score=3),
    ]  # fmt: skip
    return first, second


def offline(lines: list[bytes], rules_text: str) -> report.Report:
    book = parse_book(rules_text)
    return report.build(iter(lines), T, T, book.rules, policy=Policy(new_conversation_after_us=parse_silence("24h")),
                        calendars=book.calendars)  # fmt: skip


def test_resolution_and_feedback_live_equal_the_report_also_after_a_sigkill(
    stack: Stack, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    env = {"SOCIALSLA_RULES_FILE": str(rules), "SOCIALSLA_NEW_CONVERSATION_AFTER": "24h"}
    worker = stack.worker(data_dir="kept", **env)
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    first, second = scenario()
    shuffled = first + first[:5]  # with redeliveries
    random.Random(24).shuffle(shuffled)
    (tmp_path / "first.jsonl").write_bytes(b"\n".join(shuffled) + b"\n")
    (tmp_path / "second.jsonl").write_bytes(b"\n".join(second) + b"\n")
    stack.produce(tmp_path / "first.jsonl")
    before = from_report(offline(first, RULES))
    settles(lambda: sla_gauges(worker.metrics()), before, CATCH_UP_S, "gauges = report, first part")
    fb = {"account": "acme", "channel": "facebook"}
    assert before[key("socialsla_resolutions", **fb, window="7d", state="reopened", clock="wall")] == 1
    assert before[key("socialsla_csat", **fb, window="24h")] == 1.0  # the changed answer, 5, counts
    assert key("socialsla_resolution_rate", **fb, window="7d", clock="business") not in before
    x_week = {"account": "acme", "channel": "x", "window": "7d"}
    assert before[key("socialsla_resolutions", **x_week, state="in_time", clock="business")] >= 1

    worker.stop(signal.SIGKILL)
    stack.produce(tmp_path / "second.jsonl")
    again = stack.worker(data_dir="kept", **env)
    after = from_report(offline(first + second, RULES))
    assert after != before
    settles(
        lambda: sla_gauges(again.metrics()),
        after,
        CATCH_UP_S,
        "gauges = report, after late events and a SIGKILL",
    )
    assert after[key("socialsla_csat", **fb, window="24h")] == 0.0  # the 3 at the same instant wins
