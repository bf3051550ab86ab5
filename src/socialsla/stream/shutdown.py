"""Every process ends: a deadline on a graceful stop, and children that end with their parent.

A graceful stop can wait on a broker that is gone: a commit, a producer flush, a
consumer that retries its coordinator until the broker's request timeout or for
ever. A worker whose broker was stopped first ignored SIGTERM and SIGINT for
minutes. The deadline is a timer thread, so it fires whatever the event loop is
doing, and says in the log what it did (Kubernetes' termination contract: SIGTERM,
a grace period, then the end).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Final

#: prctl(2) option: the signal a process receives when its parent ends.
_PR_SET_PDEATHSIG: Final = 1
#: Signals that ask a process to stop: Ctrl-C, `kill`, a closed terminal or lost SSH session.
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Deadline:
    """Once armed, ends the process `seconds` later unless it has ended by itself."""

    def __init__(self, seconds: float, who: str) -> None:
        self.seconds = seconds
        self.who = who
        self.armed_at: float | None = None
        self._lock = threading.Lock()

    def arm(self) -> None:
        """Start the countdown (once; later calls keep the first), saying how long it gives."""
        with self._lock:
            if self.armed_at is not None:
                return
            self.armed_at = time.monotonic()
        print(f"{self.who}: stopping; exiting within {self.seconds:g} s", file=sys.stderr, flush=True)
        timer = threading.Timer(self.seconds, self._expire)
        timer.daemon = True
        timer.start()

    def elapsed(self) -> float:
        """Seconds since the countdown started (0 when it never did)."""
        return 0.0 if self.armed_at is None else time.monotonic() - self.armed_at

    def _expire(self) -> None:
        print(
            f"{self.who}: did not stop within {self.seconds:g} s; exiting now "
            "(nothing is lost: input offsets are committed only after their events are processed)",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)


def die_with_parent(parent: int) -> None:
    """In a child of `parent` between fork and exec: receive SIGTERM when the parent ends, however.

    A parent killed with SIGKILL (or the OOM killer) runs no clean-up: without this its
    worker ran on with parent 1, holding its port and its consumer group membership.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
