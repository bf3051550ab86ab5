"""The live terminal summary, read from exposition text."""

from __future__ import annotations

from socialsla import summary

TEXT = """\
socialsla_conversations{account="acme",channel="facebook",state="inbound",window="7d"} 10
socialsla_conversations{account="acme",channel="facebook",state="pending",window="7d"} 2
socialsla_conversations{account="acme",channel="facebook",state="inbound",window="1h"} 99
socialsla_response_rate{account="acme",channel="facebook",window="7d"} 0.8
socialsla_first_reply_seconds{account="acme",channel="facebook",stat="avg",window="7d"} 1200
socialsla_oldest_unanswered_seconds{account="acme",channel="facebook"} 300
socialsla_rule_ok{account="acme",channel="facebook",rule="facebook_very_responsive"} 0
socialsla_conversations{account="zeta",channel="x",state="inbound",window="7d"} 4
socialsla_response_rate{account="zeta",channel="x",window="7d"} 1
socialsla_rule_ok{account="zeta",channel="x",rule="facebook_very_responsive"} 1
"""


def test_rows_take_the_7d_window() -> None:
    """Parsed rows carry the 7d figures, not other windows'."""
    rows = summary.parse(TEXT)
    acme = rows[("acme", "facebook")]
    assert (acme.inbound, acme.pending, acme.rate, acme.avg, acme.oldest) == (10, 2, 0.8, 1200, 300)


def test_breached_series_come_first() -> None:
    """A lost badge is listed before healthy series, with the rule named."""
    lines = summary.render(summary.parse(TEXT)).splitlines()
    assert lines[2].startswith("acme")
    assert "LOST: facebook_very_responsive" in lines[2]
    assert lines[3].startswith("zeta")
    assert lines[3].endswith("OK")


def test_empty_scrape_says_so() -> None:
    """No series yet gives a hint instead of an empty table."""
    assert "no series yet" in summary.render({})
