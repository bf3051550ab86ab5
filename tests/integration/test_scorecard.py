"""Resolution and customer feedback (SPEC §11, §12) live, against the report: shuffled, late, after a SIGKILL."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import orjson

from socialsla.core import report
from socialsla.core.events import MICROS, format_time, parse_time
from socialsla.core.rulebook import parse_book
from socialsla.core.thread import Policy
from socialsla.stream.settings import parse_silence
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


def event(kind: str, thread: str, n: int, at: int, channel: str = "facebook", **extra: object) -> bytes:
    return orjson.dumps({"type": kind, "event_id": f"{thread}-{kind}-{n}", "conversation_id": thread,
                         "account": "acme", "channel": channel, "created_at": format_time(at), **extra})  # fmt: skip


def scenario() -> tuple[list[bytes], list[bytes]]:
    """Threads of every §11 and §12 case; the second part is late events that move spans and answers."""
    first = [
        # resolved, then the customer returns after a day's silence: a second conversation, resolved too
        event("post", "split", 0, T - 4 * D), event("reply", "split", 1, T - 4 * D + 10 * M),
        event("resolve", "split", 2, T - 4 * D + H),
        event("post", "split", 3, T - 2 * D), event("reply", "split", 4, T - 2 * D + 20 * M),
        event("resolve", "split", 5, T - 2 * D + 30 * H),  # 30 h: past S, overdue
        # resolved, reopened by the customer within the silence, resolved again
        event("post", "reopen", 0, T - 10 * H), event("reply", "reopen", 1, T - 10 * H + 5 * M),
        event("resolve", "reopen", 2, T - 9 * H), event("post", "reopen", 3, T - 8 * H),
        event("reply", "reopen", 4, T - 7 * H), event("resolve", "reopen", 5, T - 6 * H),
        # a customer who changes a CSAT answer, and an NPS answer
        event("post", "changed", 0, T - 20 * H), event("reply", "changed", 1, T - 19 * H),
        event("resolve", "changed", 2, T - 18 * H),
        event("feedback", "changed", 3, T - 17 * H, survey="csat", score=2),
        event("feedback", "changed", 4, T - 16 * H, survey="csat", score=5),
        event("feedback", "changed", 5, T - 16 * H, survey="nps", score=6),
        # feedback before the first post belongs to no conversation
        event("feedback", "early", 0, T - 30 * H, survey="csat", score=1),
        event("post", "early", 1, T - 29 * H), event("reply", "early", 2, T - 28 * H),
        # on x, under the calendar with its own resolution window (2 h of open time)
        event("post", "xfast", 0, T - 30 * H, "x"), event("reply", "xfast", 1, T - 30 * H + 30 * M, "x"),
        event("resolve", "xfast", 2, T - 29 * H, "x"),
        event("post", "xslow", 0, T - 50 * H, "x"), event("reply", "xslow", 1, T - 49 * H, "x"),
        event("resolve", "xslow", 2, T - 40 * H, "x"), event("feedback", "xslow", 3, T - 39 * H, "x", survey="ces", score=6),
        event("post", "xopen", 0, T - 20 * H, "x"),  # unresolved
    ]  # fmt: skip
    second = [
        # the silence disappears: a reply inside it joins split's two conversations into one
        event("reply", "split", 6, T - 3 * D, automated=True),
        # an earlier post moves early's conversation back before its feedback: now counted
        event("post", "early", 3, T - 31 * H),
        # a second CSAT answer at the same instant as the first, with a larger id: it wins
        event("feedback", "changed", 9, T - 16 * H, survey="csat", score=3),
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
