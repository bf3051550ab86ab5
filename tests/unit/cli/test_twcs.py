"""Import of the public Twitter customer-support CSV, checked against figures derived by hand."""

from __future__ import annotations

import io
import subprocess
import sys

import orjson
import pytest

from socialsla.cli import twcs
from socialsla.core.events import decode, parse_time
from tests.paths import DATA

SAMPLE = DATA / "twcs-sample.csv"  # source: tests/data/README.md
NOW = parse_time("2026-11-22T00:00:00Z")


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "socialsla.cli", *args],
        input=stdin,
        capture_output=True,
        check=False,
    )


@pytest.fixture(scope="module")
def imported() -> subprocess.CompletedProcess[bytes]:
    return run("import", "twcs", str(SAMPLE))


@pytest.fixture(scope="module")
def reported(imported: subprocess.CompletedProcess[bytes]) -> dict[str, dict[str, object]]:
    done = run("report", "-", "--format", "json", stdin=imported.stdout)
    assert done.returncode == 0, done.stderr
    body = orjson.loads(done.stdout)
    assert body["at"] == "2017-10-12T12:09:13Z"  # tweet 119288, the latest in the excerpt
    return {s["account"]: s for s in body["series"]}


def test_import_counts_rows(imported: subprocess.CompletedProcess[bytes]) -> None:
    """93 rows: 49 customer tweets less 3 unattributable become posts; 44 brand tweets replies."""
    assert imported.returncode == 0
    assert b"imported 46 posts and 44 replies" in imported.stderr
    assert b"skipped 3 rows: 3 customer tweets answered by no brand" in imported.stderr


def test_import_writes_valid_events_without_text(
    imported: subprocess.CompletedProcess[bytes],
) -> None:
    """Every line is a valid event on channel x, and no tweet text leaks."""
    lines = imported.stdout.splitlines()
    assert len(lines) == 90
    assert all(decode(line, NOW).channel == "x" for line in lines)
    assert b"LiveChat" not in imported.stdout  # a phrase from a VirginTrains tweet


def test_thread_root_and_attribution(imported: subprocess.CompletedProcess[bytes]) -> None:
    """A customer tweet answered by a brand joins the thread of its root, under that brand."""
    events = [orjson.loads(line) for line in imported.stdout.splitlines()]
    by_id = {(e["type"], e["event_id"]): e for e in events}
    # 119249 replies to 119250 (a root) and is answered by AppleSupport's 119248
    assert by_id[("post", "119249")]["conversation_id"] == "twcs-119250"
    assert by_id[("post", "119249")]["account"] == "AppleSupport"
    # 119246 replies to 119247, which is not in the excerpt: the thread is named after it
    assert by_id[("reply", "119246")]["conversation_id"] == "twcs-119247"


def test_virgin_trains_thread(reported: dict[str, dict[str, object]]) -> None:
    """VirginTrains: posts 15:09:00, 15:17:21, 15:26:44; a brand tweet at 10:13:19 precedes the
    thread (does not count); first counting reply 15:16:08: one conversation, 428 s."""
    week = reported["VirginTrains"]["windows"]["7d"]  # type: ignore[index]
    assert (week["inbound"], week["responded"]) == (1, 1)
    assert week["first_reply_seconds"]["avg"] == 428.0
    # opened Oct 10 15:09, 45 h before T: outside the 24 h window
    assert reported["VirginTrains"]["windows"]["24h"]["inbound"] == 0  # type: ignore[index]


def test_tesco_threads(reported: dict[str, dict[str, object]]) -> None:
    """Tesco: threads rooted at 119315 (141 s), 119319 (347 s) and 119334, where a brand tweet at
    13:34:06 precedes the 14:05:18 post answered at 15:38:07 (5569 s)."""
    tesco = reported["Tesco"]
    day = tesco["windows"]["24h"]  # type: ignore[index]
    assert (day["inbound"], day["responded"], day["missed"]) == (3, 3, 0)
    latency = day["first_reply_seconds"]
    assert latency["avg"] == (141 + 347 + 5569) / 3
    assert latency["max"] == 5569.0
    # buckets (120,300], (300,600], (3600,7200]: p90 rank 2.7 -> 3600 + 3600 * 0.7 = 6120,
    # above the slowest reply, so it is capped at the max (an estimate never exceeds the slowest reply)
    assert latency["p90"] == 5569.0
    # 100% answered but a 2019 s average: the badge is lost; 3/(3+k) >= 0.9 allows k = 0
    assert tesco["rules"] == {
        "facebook_very_responsive": {"ok": False, "error_budget": 0, "rate_breach_in_seconds": None}
    }


def test_chase_support(reported: dict[str, dict[str, object]]) -> None:
    """ChaseSupport: post 13:00:09 answered 13:25:49, 1540 s."""
    latency = reported["ChaseSupport"]["windows"]["24h"]["first_reply_seconds"]  # type: ignore[index]
    assert (latency["count"], latency["avg"]) == (1, 1540.0)


def test_missing_columns_are_refused() -> None:
    """A CSV without the twcs columns is refused with the missing names."""
    text = io.StringIO("a,b\n1,2\n")
    with pytest.raises(twcs.TwcsFormatError, match="missing column"):
        list(twcs.convert(text, twcs.ImportTally()))
