"""The benchmarks that need no broker, run tiny through their command lines so that they keep working.

No timing is asserted: each must complete and print (and write) every figure it reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.harness import free_port
from tests.paths import REPO

#: Each tiny run takes a few seconds; this is its bound on a loaded 2-core machine.
RUN_LIMIT_S = 180


def _bench(script: str, *options: str) -> str:
    done = subprocess.run([sys.executable, str(REPO / "bench" / script), *options], capture_output=True,
                          text=True, timeout=RUN_LIMIT_S, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_own_cost_prints_both_stages_per_event() -> None:
    out = _bench("own_cost.py", "--events", "3000", "--conversations", "1000", "--repeat", "1",
                 "--store", "memory://")  # fmt: skip
    assert "best: stage 1 " in out
    assert "3,000 events" in out


def test_the_board_bench_measures_every_figure_on_this_tree(tmp_path: Path) -> None:
    out = tmp_path / "board.json"
    printed = _bench("board.py", "--events", "4000", "--conversations", "2000", "--idle", "1",
                     "--port", str(free_port()), "--out", str(out))  # fmt: skip
    assert "round 1, this: " in printed
    (figures,) = json.loads(out.read_text())["results"]["this"]
    assert figures["series"] == 60
    assert figures["open_conversations"] > 0
    for name in ("scrape", "waiting_limit_50", "waiting_all"):
        assert figures[name]["bytes"] > 0, name
        assert figures[name]["seconds"] > 0, name
    assert 0 <= figures["idle_core_share"] < 1
