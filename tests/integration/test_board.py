"""The on-call page at `/` in a real browser (Debian's Chromium driven by Playwright) against real workers.

Two workers of one group split the series; the page of either shows them all,
because the workers share their lists through the board topic. A new post
appears, its answer removes it, and the page asks nothing of any other host.
The customers who can still be saved come before the missed backlog, which is
counted and reachable. With a page token, the pages that name customers answer
401 without it and work with it held in the URL, as a wall browser holds it.
Screenshots are kept in var/test-artifacts/.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.factories import line, write_lines
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


def _card(worker: Worker, account: str) -> dict[str, object] | None:
    text = worker.get("/board")
    cards = [] if text is None else orjson.loads(text)["series"]
    return next((c for c in cards if c["account"] == account), None)


def test_who_can_still_be_saved_comes_before_the_missed_backlog(
    stack: Stack, browser: object, tmp_path: Path
) -> None:
    """At risk first, then by deadline with countdowns; the missed counted, the oldest named, the rest a click away."""
    worker = stack.worker()
    # At 2026-01-08T00:00Z with R = 24h: 27 answered and 2 missed (93% of 7 days: the badge holds);
    # "soon" turns missed in 30 min (27 of 30 still holds), "later" in 20 h (27 of 31 breaks it), so
    # answering either delays the breach: both at risk; "fresh" turns missed after it.
    answered = [line(kind, f"ok{n}", at, account="acme") for n in range(27)
                for kind, at in (("post", "2026-01-07T10:00:00Z"), ("reply", "2026-01-07T10:01:00Z"))]  # fmt: skip
    waiting = [line("post", thread, at, account="acme") for thread, at in (
        ("old-1", "2026-01-06T20:00:00Z"), ("old-2", "2026-01-06T21:00:00Z"), ("soon", "2026-01-07T00:30:00Z"),
        ("later", "2026-01-07T20:00:00Z"), ("fresh", "2026-01-07T23:50:00Z"))]  # fmt: skip
    stack.produce(write_lines(tmp_path / "in.jsonl", *answered, *waiting))
    card = eventually(lambda: _card(worker, "acme"),
                      lambda c: c is not None and c["counts"]["waiting"] == 5, CATCH_UP_S, "acme's card")  # fmt: skip
    assert card is not None
    assert card["counts"] == {"waiting": 5, "pending": 3, "missed": 2, "at_risk": 2, "due_soon": 1}

    page = browser.new_page(viewport={"width": 1920, "height": 1080})  # type: ignore[attr-defined]
    page.goto(f"http://127.0.0.1:{worker.port}/")
    section = page.locator('section[data-series="acme/facebook"]')
    section.locator('tr[data-conversation="soon"]').wait_for(timeout=SHOWN_S * 1000)
    act = [
        row.get_attribute("data-conversation") for row in section.locator(".act tr[data-conversation]").all()
    ]
    assert act == ["soon", "later", "fresh"]  # at risk first, each by its deadline
    assert "AT RISK" in section.locator('tr[data-conversation="soon"]').inner_text()
    assert "AT RISK" not in section.locator('tr[data-conversation="fresh"]').inner_text()
    backlog = section.locator(".backlog h3")
    assert "Missed: 2" in backlog.inner_text()
    assert "old-1" in backlog.inner_text()  # the oldest, named
    above = section.locator('tr[data-conversation="later"]').bounding_box()
    below = backlog.bounding_box()
    assert above is not None
    assert below is not None
    assert above["y"] < below["y"]
    # the missed ones are listed only once asked, and the full list is a link away
    assert not section.locator('.backlog tr[data-conversation="old-1"]').is_visible()
    section.locator(".backlog summary").click()
    assert section.locator('.backlog tr[data-conversation="old-1"]').is_visible()
    full = section.locator(".backlog a").get_attribute("href")
    assert full is not None
    listed = orjson.loads(urllib.request.urlopen(full, timeout=5).read())
    assert [w["conversation_id"] for w in listed["series"][0]["waiting"]] == ["old-1", "old-2", "soon", "later",
                                                                            "fresh"]  # fmt: skip
    # the wall row says it in words and signs, not only colour
    row = page.locator('#wall tr[data-series="acme/facebook"]').inner_text()
    assert "✔ facebook_very_responsive OK" in row
    assert "⚠" in row
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board-act-first.png"), full_page=True)


TOKEN = "wall-token-0123456789abcdef"


def _status(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""  # not listening yet


def test_a_page_token_keeps_who_waits_to_the_team_and_metrics_open(
    stack: Stack, browser: object, tmp_path: Path
) -> None:
    """401 and nothing else without the token or with a wrong one; the content with it; /metrics, /healthz open."""
    worker = stack.worker(SOCIALSLA_PAGE_TOKEN=TOKEN)
    stack.produce(write_lines(tmp_path / "in.jsonl", line("post", "secret-customer", "2026-01-07T23:00:00Z")))
    base = f"http://127.0.0.1:{worker.port}"
    eventually(lambda: _status(base + "/metrics")[1], lambda body: b"secret-customer" in body, CATCH_UP_S,
               "the post on /metrics")  # fmt: skip
    basic = "Basic " + base64.b64encode(f"wall:{TOKEN}".encode()).decode()
    for path in ("/", "/board", "/waiting", "/waiting?limit=1"):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": "Basic d3Jvbmc="},
                        {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Digest " + TOKEN}):  # fmt: skip
            status, body = _status(base + path, headers)
            assert status == 401, (path, headers)
            assert b"secret-customer" not in body, (path, headers)
            assert b"<script" not in body, (path, headers)
        for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"Authorization": basic}):
            status, _ = _status(base + path, headers)
            assert status == 200, (path, headers)
    waiting = eventually(lambda: _status(base + "/waiting", {"Authorization": f"Bearer {TOKEN}"})[1],
                         lambda body: b"secret-customer" in body, CATCH_UP_S, "the list with the token")  # fmt: skip
    assert orjson.loads(waiting)["series"][0]["waiting"][0]["conversation_id"] == "secret-customer"
    for path in ("/metrics", "/healthz", "/runbooks"):
        assert _status(base + path)[0] == 200, path

    # Chromium without the token, or with a wrong one in the URL: the worker's 401 and no page
    from playwright.sync_api import Error as PlaywrightError  # the browser fixture made sure it is there

    for url in (base + "/", f"http://wall:wrong-token-0123456789@127.0.0.1:{worker.port}/"):
        refused = browser.new_page()  # type: ignore[attr-defined]
        statuses: list[int] = []
        refused.on("response", lambda response, seen=statuses: seen.append(response.status))
        # headless, it cannot ask for a password: it gives up on the 401
        with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
            refused.goto(url)
        assert 401 in statuses, statuses
        assert 200 not in statuses, statuses  # nothing was shown: not the page, nor what it would fetch
        refused.close()
    # a wall browser holds the token in its URL; the page's own requests then carry it
    wall = browser.new_page(viewport={"width": 1920, "height": 1080})  # type: ignore[attr-defined]
    wall.goto(f"http://wall:{TOKEN}@127.0.0.1:{worker.port}/")
    wall.locator('tr[data-conversation="secret-customer"]').wait_for(timeout=SHOWN_S * 1000)
    assert wall.locator("#error").inner_text() == ""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    wall.screenshot(path=str(ARTIFACTS / "board-with-token.png"))


def test_fifty_series_on_a_wall_rotate_a_page_at_a_time_every_row_shown(
    stack: Stack, browser: object, tmp_path: Path
) -> None:
    """Denser rows, and the rows that still do not fit shown a page at a time, unattended, within the screen."""
    worker = stack.worker()
    accounts = [f"team{n:02}" for n in range(50)]
    stack.produce(write_lines(tmp_path / "in.jsonl", *(line("post", f"{a}-1", "2026-01-07T23:00:00Z", account=a)
                                                       for a in accounts)))  # fmt: skip
    eventually(lambda: worker.get("/board"), lambda text: text is not None and len(orjson.loads(text)["series"]) == 50,
               CATCH_UP_S, "fifty cards")  # fmt: skip
    page = browser.new_page(viewport={"width": 1920, "height": 1080})  # type: ignore[attr-defined]
    page.goto(f"http://127.0.0.1:{worker.port}/")
    page.wait_for_function("document.querySelectorAll('#wall-rows tr').length === 50", timeout=SHOWN_S * 1000)
    seen: set[str] = set()
    pages = set()
    for _ in range(4):  # every page within the time a wall shows four of them
        shown = [row for row in page.locator("#wall-rows tr").all() if row.is_visible()]
        assert shown, "a page with no row"
        for row in shown:
            box = row.bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= 1080
        seen |= {str(row.get_attribute("data-series")) for row in shown}
        pager = page.locator("#pager").inner_text()
        assert pager.startswith("page ")
        pages.add(pager.split(" (")[0])
        if len(seen) == 50:
            break
        page.wait_for_function(f"!document.getElementById('pager').textContent.startsWith('{pager.split(' (')[0]}')",
                               timeout=20_000)  # fmt: skip
    assert seen == {f"{a}/facebook" for a in accounts}
    assert len(pages) >= 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board-fifty-series-1920x1080.png"))
