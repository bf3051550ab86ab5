"""Human durations: parsed from flags and settings (`90s`, `15m`, `24h`, `7d`), and printed."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_RE: Final = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
#: Durations in settings, flags and files: whole numbers with units, largest first (`1h30m`, `1d12h`).
_COMPOUND_RE: Final = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_seconds(text: str) -> float:
    """Seconds in a duration such as `24h` or `1h30m`; a bare number is seconds."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        match = _RE.fullmatch(text)
        compound = _COMPOUND_RE.fullmatch(text) if match is None and text else None
        if match is not None:
            value = float(match.group(1)) * _UNITS[match.group(2)]
        elif compound is not None:
            d, h, m, sec = (int(part or 0) for part in compound.groups())
            value = float(((d * 24 + h) * 60 + m) * 60 + sec)
        else:
            raise ValueError(f"{text!r} is not a duration like 90s, 15m, 24h, 1h30m or 7d") from None
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


def clock_reading(seconds: float) -> str:
    """Elapsed time as a person reads it on a clock: 42s, 3m05s, 1h02m."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
