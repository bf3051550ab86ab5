"""The bench's child processes: each one's output in a log file, and no wait that outlives it.

Every process the bench starts (workers, do-nothing Faust agents, the naive peer) is a
`Child`: its stdout and stderr go to a log file under the run's temporary directory,
never to /dev/null, and every wait on it (a progress file, `/healthz`, committed
offsets) goes through `wait_for`, which looks at the child before each probe. A child
that exits ends the wait at once with a `ChildDied` naming it, its exit code and the
last lines of its log; a wait that runs out raises `WaitTimedOut` with the same tail.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Lines of a child's log shown when it dies or a wait on it runs out.
TAIL_LINES = 30


class ChildDied(RuntimeError):
    """A child exited while the bench waited on it."""


class WaitTimedOut(TimeoutError):
    """A wait on children ran out of time while they still ran."""


def tail(log: Path, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of a log file ("" while it does not exist)."""
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Child:
    """One process the bench started, with its output in `log`."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, name: str, command: Sequence[str], log: Path, env: Mapping[str, str] | None = None
    ) -> Child:
        """Start `command` with its stdout and stderr appended to `log` (made with its folder)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(list(command), env=env, stdout=out, stderr=subprocess.STDOUT)
        return cls(name, process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def report(self, headline: str) -> str:
        """`headline`, then where the log is and its last lines."""
        return f"{headline}; last {TAIL_LINES} lines of {self.log}:\n{tail(self.log) or '(empty)'}"

    def check(self, what: str) -> None:
        """Raise `ChildDied` if the child has exited, while the bench was waiting for `what`."""
        code = self.process.poll()
        if code is not None:
            raise ChildDied(self.report(f"{self.name} exited with code {code} while waiting for {what}"))

    def stop(self, grace: float = 60.0) -> int:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code (at once if it had exited)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def kill(self) -> int:
        """SIGKILL, as a crash would; returns the exit code."""
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()


def wait_for(
    probe: Callable[[], T | None],
    children: Child | Sequence[Child],
    timeout: float,
    what: str,
    interval: float = 0.25,
) -> T:
    """Poll `probe` until it returns a true value, and return it.

    Before each probe every child is checked: one that has exited raises
    `ChildDied` with its log's tail. After `timeout` seconds, `WaitTimedOut`,
    with each child's tail.
    """
    watched = [children] if isinstance(children, Child) else list(children)
    deadline = time.monotonic() + timeout
    while True:
        for child in watched:
            child.check(what)
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            headline = f"{what}: not within {timeout:.0f} s"
            raise WaitTimedOut("\n".join(child.report(headline) for child in watched) or headline)
        time.sleep(interval)


def run_for(seconds: float, children: Child | Sequence[Child], what: str) -> None:
    """Let the children run `seconds`, ending early with `ChildDied` if one exits."""
    end = time.monotonic() + seconds
    wait_for(lambda: time.monotonic() >= end, children, seconds + 60, what)


def in_scratch(prefix: str, measure: Callable[[Path], T], keep: bool = False) -> tuple[T, Path | None]:
    """Run `measure` in a fresh folder under $TMPDIR for the children's logs and data.

    A failed run keeps the folder and says where; a run that succeeds removes it
    unless `keep`, and returns the folder it kept (or None).
    """
    import os
    import shutil
    import sys
    import uuid

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"{prefix}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        results = measure(tmp)
    except BaseException:
        print(f"bench failed: the children's logs and data are kept in {tmp}", file=sys.stderr, flush=True)
        raise
    if keep:
        return results, tmp
    shutil.rmtree(tmp, ignore_errors=True)
    return results, None
