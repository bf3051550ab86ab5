"""The webhook gateway's benchmark, run quick through its command line on the real broker.

No timing is asserted: the run must complete (a child that dies fails it at once, with the
child's last lines), print both of its tables and write every figure it printed.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from tests.bench.test_smoke import run_bench

#: The quick run of two shapes takes about 30 s on a 2-core machine.
RUN_LIMIT_S = 240
SHAPES = ["events-1", "meta-50"]


def run_ingest_bench(tmp_path: Path, broker: str, *options: str) -> subprocess.CompletedProcess[str]:
    """bench/ingest.py with these options, in its own session so that nothing it started outlives it."""
    return run_bench(tmp_path, broker, *options, script="ingest.py", limit_s=RUN_LIMIT_S)


@pytest.mark.integration
def test_the_ingest_bench_runs_quick_through_its_command_line(broker: str, tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    ran = run_ingest_bench(
        tmp_path, broker, "--quick", "--concurrency", "8", "--shapes", *SHAPES, "--out", str(out)
    )
    assert ran.returncode == 0, f"bench/ingest.py exited with {ran.returncode}:\n{ran.stdout[-6000:]}"
    lines = ran.stdout.splitlines()
    assert f"results: {out}" in lines
    for header in (["shape", "ev/dlv", "gw"], ["shape", "gw", "rate/s"]):
        assert any(line.split()[:3] == header for line in lines), f"no table starting {header}:\n{ran.stdout}"
    shapes = json.loads(out.read_text())["shapes"]
    assert list(shapes) == SHAPES
    for result in shapes.values():
        for server in ("gateway", "nothing"):
            saturated, half = result[server]["saturated"], result[server]["half_rate"]
            assert saturated["deliveries"] > 0, result
            assert half["deliveries"] > 0, result
            assert not math.isnan(half["p99_ms"])
        assert result["gateway_produced_as_expected"], result
    assert not list(tmp_path.glob("socialsla-bench-ingest-*")), "a run that succeeds removes its logs"
