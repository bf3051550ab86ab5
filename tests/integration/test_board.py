"""The on-call page at `/` in a real browser (Debian's Chromium driven by Playwright) against two workers.

Two workers of one group split the series; the page of either shows them all,
because the workers share their lists through the board topic. A new post
appears, its answer removes it, and the page asks nothing of any other host.
A screenshot is kept in var/test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.factories import line
from tests.harness import CATCH_UP_S, REBALANCE_S, Stack, Worker, eventually

from .conftest import ARTIFACTS

ACCOUNTS = [f"brand{n}" for n in range(8)]
#: The page refreshes every 5 s and a worker posts its series every 5 s: a new post shows within both.
SHOWN_S = 30.0


def _series(worker: Worker) -> set[str]:
    text = worker.get("/waiting")
    return set() if text is None else {s["account"] for s in orjson.loads(text)["series"]}


def test_either_workers_page_shows_every_series_and_follows_posts_and_answers(
    stack: Stack, browser: object, tmp_path: Path
) -> None:
    """Both workers' series on one page; a post appears within a refresh, its answer removes it; no other host."""
    first, second = stack.worker(), stack.worker()
    eventually(lambda: (sorted(first.owned()), sorted(second.owned())),
               lambda owned: len(owned[0]) == 2 and len(owned[1]) == 2, REBALANCE_S, "two partitions each")  # fmt: skip
    lines = [line("post", f"{account}-1", account=account, at="2026-01-07T23:30:00Z") for account in ACCOUNTS]
    (tmp_path / "posts.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    stack.produce(tmp_path / "posts.jsonl")
    split = eventually(lambda: (_series(first), _series(second)),
                       lambda found: found[0] | found[1] == set(ACCOUNTS), CATCH_UP_S, "every series exported")  # fmt: skip
    assert split[0], "the test needs series on both workers"
    assert split[1], "the test needs series on both workers"
    elsewhere = sorted(split[1])[0]  # a series only the second worker exports

    page = browser.new_page()  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"http://127.0.0.1:{first.port}/")
    for account in ACCOUNTS:
        page.wait_for_selector(f'section[data-series="{account}/facebook"]', timeout=SHOWN_S * 1000)
    card = page.locator(f'section[data-series="{elsewhere}/facebook"]')
    assert "facebook_very_responsive" in card.inner_text()
    assert card.locator(f'tr[data-conversation="{elsewhere}-1"]').count() == 1

    newcomer = [line("post", f"{elsewhere}-new", account=elsewhere, at="2026-01-07T23:55:00Z")]
    (tmp_path / "new.jsonl").write_bytes(b"\n".join(newcomer) + b"\n")
    stack.produce(tmp_path / "new.jsonl")
    page.wait_for_selector(f'tr[data-conversation="{elsewhere}-new"]', timeout=SHOWN_S * 1000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)
    assert (ARTIFACTS / "board.png").stat().st_size > 10_000

    answer = [line("reply", f"{elsewhere}-new", account=elsewhere, at="2026-01-07T23:58:00Z")]
    (tmp_path / "answer.jsonl").write_bytes(b"\n".join(answer) + b"\n")
    stack.produce(tmp_path / "answer.jsonl")
    page.wait_for_selector(
        f'tr[data-conversation="{elsewhere}-new"]', state="detached", timeout=SHOWN_S * 1000
    )
    assert card.locator(f'tr[data-conversation="{elsewhere}-1"]').count() == 1  # still waiting

    # the second worker's page shows the first worker's series too
    other = browser.new_page()  # type: ignore[attr-defined]
    other.on("request", lambda request: requests.append(request.url))
    other.goto(f"http://127.0.0.1:{second.port}/")
    for account in sorted(split[0]):
        other.wait_for_selector(f'section[data-series="{account}/facebook"]', timeout=SHOWN_S * 1000)
    assert requests
    hosts = {url.split("/")[2] for url in requests if not url.startswith("data:")}
    assert hosts <= {f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"}, hosts
