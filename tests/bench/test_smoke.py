"""The benchmark driver, run tiny through its command line on the real broker, and its waits on children.

No timing is asserted: the smoke run checks only that `bench/run.py` completes (a
child that dies fails it at once, with the child's last lines) and prints its figures.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench.children import Child, ChildDied, WaitTimedOut, wait_for

REPO = Path(__file__).resolve().parents[2]
#: The table's columns, as bench/run.py prints them.
COLUMNS = ["conv", "part", "ours", "ev/s", "tuned", "ceil", "ours/ceil", "limit", "ev/s", "ours/limit", "stock",
           "+drain", "naive", "writes/ev", "open", "RSS", "MiB", "peak", "MiB", "recover", "s"]  # fmt: skip
#: The whole run may take this long on a 2-core machine (it takes about 25 s).
RUN_LIMIT_S = 240


def dying_child(tmp_path: Path, lines: int = 50, code: int = 3) -> Child:
    script = (
        "import sys\n"
        f"for i in range({lines}): print(f'line {{i}}')\n"
        "print('the cause of death', file=sys.stderr)\n"
        f"sys.exit({code})\n"
    )
    return Child.start("the dying child", [sys.executable, "-c", script], tmp_path / "logs" / "child.log")


def test_a_child_that_exits_ends_the_wait_with_its_last_lines(tmp_path: Path) -> None:
    child = dying_child(tmp_path)
    began = time.monotonic()
    with pytest.raises(ChildDied) as died:
        wait_for(lambda: None, child, timeout=120, what="its progress file", interval=0.05)
    assert time.monotonic() - began < 30  # not the wait's 120 s
    message = str(died.value)
    assert message.startswith("the dying child exited with code 3 while waiting for its progress file")
    assert str(tmp_path / "logs" / "child.log") in message
    shown = message.splitlines()
    assert shown[-1] == "the cause of death"  # stderr too, in the order written
    assert "line 49" in shown
    assert "line 20" not in shown  # the last 30 lines only
    assert len(shown) == 1 + 30


def test_a_wait_returns_what_its_probe_finds_while_the_child_runs(tmp_path: Path) -> None:
    child = Child.start(
        "the sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log"
    )
    try:
        probes = iter([None, None, (7, 1.5)])
        assert wait_for(lambda: next(probes), child, timeout=30, what="a reading", interval=0.01) == (7, 1.5)
        with pytest.raises(WaitTimedOut, match=r"a reading: not within 0 s; last 30 lines of .*s\.log"):
            wait_for(lambda: None, child, timeout=0.2, what="a reading", interval=0.05)
    finally:
        assert child.stop() == -signal.SIGTERM


def run_bench(tmp_path: Path, broker: str, *options: str, script: str = "run.py", limit_s: float = RUN_LIMIT_S
              ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """bench/SCRIPT with these options, in its own session so that nothing it started outlives it."""
    path = os.pathsep.join(p for p in (str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "TMPDIR": str(tmp_path)}
    command = [sys.executable, str(REPO / "bench" / script), "--bootstrap", broker, *options]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)  # fmt: skip
    try:
        output, _ = process.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"bench/{script} ran over {limit_s} s; its last output:\n{output[-6000:]}")
    return subprocess.CompletedProcess(command, process.returncode, output)


def table(output: str) -> list[list[str]]:
    """The rows of the printed table, each split into its fields, after checking its header."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["conv", "part"])
    assert lines[header].split() == COLUMNS
    rows = []
    for line in lines[header + 1 :]:
        if not line.strip() or line.startswith("results:"):
            break
        rows.append(line.split())
    return rows


@pytest.mark.integration
def test_the_bench_runs_tiny_through_its_command_line(broker: str, tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    ran = run_bench(tmp_path, broker, "--events", "2000", "--conversations", "1000", "--partitions", "1",
                    "--fetch-mib", "1", "4", "--quick", "--out", str(out))  # fmt: skip
    assert ran.returncode == 0, f"bench/run.py exited with {ran.returncode}:\n{ran.stdout[-6000:]}"
    rows = table(ran.stdout)
    assert [row[:2] for row in rows] == [["1000", "1"]]
    assert len(rows[0]) == 15
    assert all(float(field) >= 0 or field == "nan" for field in rows[0])
    assert f"results: {out}" in ran.stdout.splitlines()
    (run,) = json.loads(out.read_text())["runs"]
    assert (run["conversations"], run["partitions"], run["events"]) == (1000, 1, 2000)
    assert set(run["faust_ceiling"]) == {
        "faust",
        "tuned-1",
        "tuned-4",
        "tuned",
        "tuned_fetch_mib",
        "socialsla",
    }
    assert not list(tmp_path.glob("socialsla-bench-*")), "a run that succeeds removes its logs and data"
