"""The child that rebuilds a thread store does not outlive its worker (no broker needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import sys, time
from socialsla.thread_store import _die_with_the_worker
_die_with_the_worker(int(sys.argv[1]))
print("armed", flush=True)
time.sleep(60)
"""

WORKER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())], stdout=subprocess.PIPE)
assert child.stdout.readline() == b"armed\\n"
print(child.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie that nobody reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_rebuilding_child_dies_when_its_worker_is_killed() -> None:
    """SIGKILL on the worker (no clean-up runs) still ends the child, instead of a replay nobody reads."""
    worker = subprocess.Popen([sys.executable, "-c", WORKER, CHILD], stdout=subprocess.PIPE)
    assert worker.stdout is not None
    child = int(worker.stdout.readline())
    assert _alive(child)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
