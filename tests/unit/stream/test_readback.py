"""Where a replay of a log starts."""

from __future__ import annotations

import time

from socialsla.stream.readback import MARGIN_US, since_ms


def test_a_replay_starts_a_day_before_the_horizon_by_the_earlier_clock() -> None:
    wall_us = int(time.time() * 1_000_000)
    horizon_us = 8 * 86_400 * 1_000_000
    behind = wall_us - 30 * 86_400 * 1_000_000  # a replayed history's clock, behind the wall
    assert since_ms(behind, horizon_us) == (behind - horizon_us - MARGIN_US) // 1000
    ahead = since_ms(wall_us + 86_400 * 1_000_000, horizon_us)  # a clock ahead: the wall's instant is used
    assert ahead <= (int(time.time() * 1_000_000) - horizon_us - MARGIN_US) // 1000
    assert ahead >= (wall_us - horizon_us - MARGIN_US) // 1000
