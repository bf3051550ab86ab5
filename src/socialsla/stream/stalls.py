"""Waits on the broker that say, while they last, what they are waiting for.

A worker waiting on Kafka (a send into a full producer batch, a commit's flush)
is otherwise silent until it is over: the worker that stopped for 88 s showed
only Faust's "Timer commit is overlapping (runtime=88.13)" afterwards. Each such
wait is bounded by the Kafka client's own request timeouts; this makes it
visible too, every LOG_EVERY_S seconds, with what it waits for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

log = logging.getLogger("socialsla")

#: How often a long wait logs that it is still waiting.
LOG_EVERY_S: Final = 10.0

T = TypeVar("T")


async def logged(awaitable: Awaitable[T], what: Callable[[], str], every: float = LOG_EVERY_S) -> T:
    """Await `awaitable`; while it lasts, log every `every` seconds how long, and `what()` it waits for."""
    task = asyncio.ensure_future(awaitable)
    started = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait((task,), timeout=every)
            if done:
                return task.result()
            log.warning("socialsla: waiting %.0fs so far for %s", time.monotonic() - started, what())
    finally:
        task.cancel()  # nothing when it is done; when this wait is cancelled, so is what it awaits


class Progress:
    """For polling loops: says, at most every `every` seconds, how long the loop has waited and for what."""

    def __init__(self, what: Callable[[], str], every: float = LOG_EVERY_S) -> None:
        self.what = what
        self.every = every
        self.started = time.monotonic()
        self.next = self.started + every

    def tick(self) -> None:
        """Called on each round of the loop; logs when the next report is due."""
        now = time.monotonic()
        if now >= self.next:
            self.next = now + self.every
            log.warning("socialsla: waiting %.0fs so far for %s", now - self.started, self.what())
