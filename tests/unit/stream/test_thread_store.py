"""The child that rebuilds a thread store does not outlive its worker (no broker needed).

The stand-in worker below starts the real child (`python -m socialsla.stream.thread_store`)
against a "broker" (this test's socket, which outlives the worker) that accepts
the connection and never answers, so the child is still replaying when the
worker is killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

WORKER = """
import os, pickle, subprocess, sys, time
from pathlib import Path
from socialsla.stream.settings import Settings

settings = Settings(bootstrap_servers=sys.argv[2], data_dir=Path(sys.argv[1]))
child = subprocess.Popen([sys.executable, "-m", "socialsla.stream.thread_store"], stdin=subprocess.PIPE)
child.stdin.write(pickle.dumps((settings, [0], 0, 0, os.getpid())))
child.stdin.close()
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


def test_the_rebuilding_child_dies_when_its_worker_is_killed(tmp_path: Path) -> None:
    """SIGKILL on the worker (no clean-up runs) still ends the child, instead of a replay nobody reads."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    silent.settimeout(30)
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), address], stdout=subprocess.PIPE)
    assert worker.stdout is not None
    child = int(worker.stdout.readline())
    connection, _ = silent.accept()  # the child is replaying: it asks the "broker" for metadata
    assert _alive(child)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
    connection.close()
    silent.close()
