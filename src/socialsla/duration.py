"""Human durations: parsed from flags and settings (`90s`, `15m`, `24h`, `7d`), and printed."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_RE: Final = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_seconds(text: str) -> float:
    """Seconds in a duration such as `24h`; a bare number is seconds."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        match = _RE.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a duration like 90s, 15m, 24h or 7d") from None
        value = float(match.group(1)) * _UNITS[match.group(2)]
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{text!r} must be a positive duration")
    return value


def human(seconds: float | None) -> str:
    """A short reading of a duration for tables and terminals: 45s, 12.5m, 3.2h; '-' for none."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7_200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3_600:.1f}h"
