"""Which series a rule or a calendar takes: every account and channel, or those its lists name."""

from __future__ import annotations


def selects(
    accounts: frozenset[str] | None, channels: frozenset[str] | None, account: str, channel: str
) -> bool:
    """Whether lists of accounts and channels take a series; a list left out (None) takes every one.

    Rules and calendars are read so that "every one" is always None (a calendar's
    empty list included), so both take a series by this one test.
    """
    return (accounts is None or account in accounts) and (channels is None or channel in channels)
