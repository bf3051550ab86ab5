"""Housekeeping's own state: the progress /healthz reports."""

from __future__ import annotations

import time

from socialsla.stream.housekeeping import Health


def test_progress_moves_the_instant_healthz_measures_from() -> None:
    health = Health()
    before = health.last_progress
    assert not health.stale
    while time.monotonic() == before:
        pass  # the monotonic clock ticks
    health.progress()
    assert health.last_progress > before
