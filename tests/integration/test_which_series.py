"""Which series exist, live: exactly those with a customer's post seen at T, on every output.

Threads without a post (a brand's outreach, a stray resolve, a stray feedback)
belong to no series, in a series of their own or beside one that has posts. A
reply read before its thread's post counts once the post arrives, a post ahead
of the clock makes its series appear only when the clock reaches it, and a
worker that rebuilds everything from the logs on an empty data directory says
the same. `/metrics`, `GET /waiting`, `GET /board` and the on-call page in
Chromium are all checked against the offline report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from socialsla.cli import render
from socialsla.core import report
from socialsla.core.events import MICROS, format_time, parse_time
from socialsla.core.rules import DEFAULT_RULES
from tests.factories import line
from tests.harness import CATCH_UP_S, WORKER_READY_S, Stack, Worker, eventually, settles

from .conftest import ARTIFACTS
from .expected import from_report, sla_gauges

AT = "2026-01-08T00:00:00Z"
T = parse_time(AT)
M = 60 * MICROS
#: A card is posted every 5 s and read back by every worker; the page refreshes every 5 s.
SHOWN_S = 30.0


def first_part() -> list[bytes]:
    """A series with posts and stray threads beside it; series made only of strays; a reply before its post."""
    return [
        line("post", "c1", account="acme", channel="facebook", at=T - 30 * M),
        line("reply", "c1", account="acme", channel="facebook", at=T - 25 * M),
        # threads without a post in a series that has posts
        line("reply", "acme-outreach", account="acme", channel="facebook", at=T - 20 * M),
        line("resolve", "acme-stray-resolve", account="acme", channel="facebook", at=T - 10 * M),
        line(
            "feedback",
            "acme-stray-feedback",
            account="acme",
            channel="facebook",
            at=T - 5 * M,
            survey="csat",
            score=1,
        ),
        # series made only of threads without a post
        line("reply", "zeta-outreach", account="zeta", channel="x", at=T - 20 * M),
        line("resolve", "omega-resolve", account="omega", channel="x", at=T - 15 * M),
        line(
            "feedback", "kappa-feedback", account="kappa", channel="x", at=T - 15 * M, survey="nps", score=0
        ),
        # its post comes later, with an earlier time
        line("reply", "early", account="early", channel="instagram", at=T - 8 * M),
        # a minute ahead of the clock: seen only once T reaches it
        line("post", "ahead", account="future", channel="x", at=T + M),
    ]


def second_part() -> list[bytes]:
    return [line("post", "early", account="early", channel="instagram", at=T - 12 * M)]


def offline(lines: list[bytes], at: int) -> report.Report:
    return report.build(iter(lines), at, at, DEFAULT_RULES, waiting=True)


def names(built: report.Report) -> list[str]:
    return [f"{s.account}/{s.channel}" for s in built.series]


def exported(worker: Worker) -> list[str]:
    return sorted({
        f"{dict(labels)['account']}/{dict(labels)['channel']}"
        for name, labels in worker.metrics()
        if name == "socialsla_conversations"
    })  # fmt: skip


def waiting(worker: Worker) -> Any:
    text = worker.get("/waiting")
    return None if text is None else orjson.loads(text)


def board(worker: Worker) -> list[str]:
    text = worker.get("/board")
    return [] if text is None else [f"{c['account']}/{c['channel']}" for c in orjson.loads(text)["series"]]


def expected_waiting(built: report.Report) -> dict[str, Any]:
    body = orjson.loads(render.to_json(built, DEFAULT_RULES))
    return {
        "at": body["at"],
        "series": [{"account": s["account"], "channel": s["channel"], "waiting": s["waiting"]}
                   for s in body["series"]],
    }  # fmt: skip


def agree(worker: Worker, built: report.Report, what: str) -> None:
    """/metrics, /waiting and /board list the report's series, with the report's numbers."""
    settles(lambda: sla_gauges(worker.metrics()), from_report(built), CATCH_UP_S, f"gauges = report, {what}")
    assert exported(worker) == names(built)
    settles(
        lambda: waiting(worker),
        expected_waiting(built),
        CATCH_UP_S,
        f"GET /waiting = report --waiting, {what}",
    )
    eventually(
        lambda: board(worker), lambda found: found == names(built), SHOWN_S, f"the board's cards, {what}"
    )


def test_only_series_with_a_post_exist_live_after_late_posts_the_clock_and_a_rebuild(
    stack: Stack, browser: Any, tmp_path: Path
) -> None:
    """Strays make no series anywhere; a late post and the clock add theirs; a rebuild from the logs agrees."""
    first, second = first_part(), second_part()
    (tmp_path / "first.jsonl").write_bytes(b"\n".join(first) + b"\n")
    (tmp_path / "second.jsonl").write_bytes(b"\n".join(second) + b"\n")
    worker = stack.worker(data_dir="kept")
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")

    stack.produce(tmp_path / "first.jsonl")
    eventually(
        worker.consumed, lambda n: n == len(first), CATCH_UP_S, "every event of the first part counted"
    )
    at_t = offline(first, T)
    assert names(at_t) == ["acme/facebook"]
    assert at_t.series[0].resolution is None  # the stray resolve beside it makes it track nothing
    assert at_t.series[0].feedback is None
    agree(worker, at_t, "strays only beside acme's posts")

    stack.produce(tmp_path / "second.jsonl")
    with_early = offline(first + second, T)
    assert names(with_early) == ["acme/facebook", "early/instagram"]
    assert with_early.series[1].stats.windows["1h"].avg_seconds == 240.0  # the reply read first counts
    agree(worker, with_early, "after the post of a reply read before it")

    later = T + M
    stack.set_clock(format_time(later))
    at_later = offline(first + second, later)
    assert names(at_later) == ["acme/facebook", "early/instagram", "future/x"]
    agree(worker, at_later, "once the clock reaches the post ahead of it")

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"http://127.0.0.1:{worker.port}/")
    for name in names(at_later):
        page.wait_for_selector(f'section[data-series="{name}"]', timeout=SHOWN_S * 1000)
    assert page.locator("section[data-series]").count() == len(names(at_later))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "which-series.png"), full_page=True)

    worker.stop()
    rebuilt = stack.worker(data_dir="empty")  # every state from the thread log and social.outcomes
    eventually(rebuilt.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the rebuilt worker to own 4")
    agree(rebuilt, at_later, "rebuilt from the logs on an empty data directory")
