"""The live terminal summary, read from exposition text."""

from __future__ import annotations

from socialsla.cli import screen

TEXT = """\
socialsla_conversations{account="acme",channel="facebook",state="inbound",window="7d"} 10
socialsla_conversations{account="acme",channel="facebook",state="pending",window="7d"} 2
socialsla_conversations{account="acme",channel="facebook",state="inbound",window="1h"} 99
socialsla_response_rate{account="acme",channel="facebook",window="7d"} 0.875
socialsla_response_rate_worst{account="acme",channel="facebook",window="7d"} 0.7
socialsla_first_reply_seconds{account="acme",channel="facebook",stat="avg",window="7d"} 1044
socialsla_first_reply_seconds{account="acme",channel="facebook",stat="p90",window="7d"} 1700
socialsla_oldest_unanswered_seconds{account="acme",channel="facebook"} 300
socialsla_rule_ok{account="acme",channel="facebook",rule="facebook_very_responsive"} 0
socialsla_rule_error_budget{account="acme",channel="facebook",rule="facebook_very_responsive"} -1
socialsla_rule_failed{account="acme",channel="facebook",condition="response_rate",rule="facebook_very_responsive"} 0.875
socialsla_rule_failed{account="acme",channel="facebook",condition="avg_first_reply_seconds",rule="facebook_very_responsive"} 1044
socialsla_rule_threshold{condition="response_rate",rule="facebook_very_responsive"} 0.9
socialsla_rule_threshold{condition="avg_first_reply_seconds",rule="facebook_very_responsive"} 900
socialsla_conversations{account="zeta",channel="x",state="inbound",window="7d"} 1183
socialsla_conversations{account="zeta",channel="x",state="pending",window="7d"} 640
socialsla_response_rate{account="zeta",channel="x",window="7d"} 1
socialsla_response_rate_worst{account="zeta",channel="x",window="7d"} 0.459
socialsla_rule_ok{account="zeta",channel="x",rule="facebook_very_responsive"} 1
socialsla_rule_error_budget{account="zeta",channel="x",rule="facebook_very_responsive"} 60
socialsla_rule_rate_breach_in_seconds{account="zeta",channel="x",rule="facebook_very_responsive"} 2520
"""


def test_rows_take_each_window() -> None:
    """Parsed rows keep every window apart, and the series-wide oldest wait."""
    acme = screen.read_scrape(TEXT).rows[("acme", "facebook")]
    seven = acme.windows["7d"]
    assert (seven.inbound, seven.pending, seven.rate, seven.worst, seven.avg, seven.p90) == (
        10, 2, 0.875, 0.7, 1044, 1700,
    )  # fmt: skip
    assert acme.windows["1h"].inbound == 99
    assert acme.oldest == 300


def test_breached_series_come_first_with_the_failed_conditions() -> None:
    """A lost badge comes first and says which conditions failed, by how much, and its budget."""
    lines = screen.draw(screen.read_scrape(TEXT)).splitlines()
    assert lines[2].startswith("acme")
    assert "LOST facebook_very_responsive: rate 87.5% < 90.0%, avg 17.4m > 15.0m (budget -1)" in lines[2]
    assert lines[3].startswith("zeta")
    assert lines[3].endswith("OK facebook_very_responsive (budget +60, lost in 42.0m unless answered)")


def test_worst_case_rate_stands_beside_the_rate() -> None:
    """A 100% rate with most posts pending shows the worst case beside it."""
    zeta = next(
        line for line in screen.draw(screen.read_scrape(TEXT)).splitlines() if line.startswith("zeta")
    )
    assert "100.0%" in zeta
    assert "45.9%" in zeta


def test_a_lost_rule_without_its_conditions_on_metrics_says_where_to_look() -> None:
    """A verdict whose failed conditions are not in the scrape (an older worker) says where to look."""
    text = "\n".join(line for line in TEXT.splitlines() if "socialsla_rule_failed" not in line)
    line = screen.draw(screen.read_scrape(text)).splitlines()[2]
    assert "LOST facebook_very_responsive: see /metrics (budget -1)" in line


def test_empty_scrape_says_so() -> None:
    """No series yet gives a hint instead of an empty table."""
    assert "no series yet" in screen.draw(screen.Scrape({}, {}))


def test_a_held_badge_says_when_it_would_be_lost() -> None:
    """The breach forecast shows beside the budget: the team reads how long it has to answer."""
    text = screen.draw(screen.read_scrape(TEXT))
    assert "OK facebook_very_responsive (budget +60, lost in 42.0m unless answered)" in text


def test_a_rule_lost_on_the_fastest_average_names_it() -> None:
    """The plain average is not the rule's: a lost avg_of_fastest rule names its own condition."""
    text = TEXT.replace(
        'condition="avg_first_reply_seconds"', 'condition="avg_of_fastest_first_reply_seconds"'
    )
    line = screen.draw(screen.read_scrape(text)).splitlines()[2]
    assert "LOST facebook_very_responsive: rate 87.5% < 90.0%, avg of the fastest 17.4m > 15.0m" in line


def test_a_series_with_a_calendar_shows_its_business_hours_under_it() -> None:
    """Both clocks on the screen: the wall-clock row, then the business-hours row and whether the team is open."""
    text = TEXT + "\n".join([
        'socialsla_conversations{account="acme",channel="facebook",clock="business",state="inbound",window="7d"} 10',
        'socialsla_response_rate{account="acme",channel="facebook",clock="business",window="7d"} 1',
        'socialsla_first_reply_seconds{account="acme",channel="facebook",clock="business",stat="avg",window="7d"} 240',
        'socialsla_series_open{account="acme",channel="facebook"} 0',
    ]) + "\n"  # fmt: skip
    scrape = screen.read_scrape(text)
    lines = screen.draw(scrape).splitlines()
    acme = next(i for i, line in enumerate(lines) if line.startswith("acme"))
    assert "  business hours" in lines[acme + 1]
    assert "100.0%" in lines[acme + 1]
    assert "240s" in lines[acme + 1] or "4.0m" in lines[acme + 1]
    assert lines[acme + 1].endswith("closed now")
    assert (
        scrape.rows[("acme", "facebook")].windows["7d"].rate == 0.875
    )  # the wall row keeps the wall figures


def test_a_budget_beside_a_rule_lost_on_its_average_is_not_shown() -> None:
    """A rule lost on its average with the rate fine shows why, not a budget that reads as good news."""
    text = "\n".join(line for line in TEXT.splitlines() if 'condition="response_rate",rule' not in line)
    text = text.replace('rule="facebook_very_responsive"} -1', 'rule="facebook_very_responsive"} 55')
    line = screen.draw(screen.read_scrape(text)).splitlines()[2]
    assert line.endswith("LOST facebook_very_responsive: avg 17.4m > 15.0m"), line


def test_a_forecast_far_off_is_not_shown() -> None:
    """A breach forecast of hours (every OK row with R = 24 h) is left out; one under 3 hours is shown."""
    far = TEXT.replace('rule="facebook_very_responsive"} 2520', 'rule="facebook_very_responsive"} 85320')
    line = screen.draw(screen.read_scrape(far)).splitlines()[3]
    assert line.endswith("OK facebook_very_responsive (budget +60)"), line


def test_a_series_that_sends_resolve_and_feedback_events_shows_its_scorecard_and_others_do_not() -> None:
    """The demo screen reads the resolution and feedback gauges from /metrics: one line under the series."""
    from prometheus_client import CollectorRegistry, generate_latest

    from socialsla.core import fold
    from socialsla.core.events import MICROS, Event
    from socialsla.core.ledger import Ledger
    from socialsla.core.rules import DEFAULT_RULES
    from socialsla.serve.collector import SlaCollector

    h = 3600 * MICROS
    t = 1_767_225_600 * MICROS

    class Clock:
        def now_us(self) -> int:
            return t

    events = [
        Event("post", "p1", "c1", "acme", "x", t - 5 * h), Event("reply", "r1", "c1", "acme", "x", t - 5 * h + 60),
        Event("resolve", "d1", "c1", "acme", "x", t - 4 * h),
        Event("feedback", "f1", "c1", "acme", "x", t - 3 * h, survey="csat", score=5),
        Event("feedback", "f2", "c1", "acme", "x", t - 3 * h, survey="nps", score=0),
        Event("post", "p2", "c2", "zeta", "x", t - 5 * h),
    ]  # fmt: skip
    ledger = Ledger(24 * h)
    ledger.apply(0, fold.fold({}, events, 0).outcomes(), t)
    registry = CollectorRegistry()
    registry.register(SlaCollector(ledger, DEFAULT_RULES, Clock()))
    drawn = screen.draw(screen.read_scrape(generate_latest(registry).decode()))
    scorecards = [line for line in drawn.splitlines() if line.strip().startswith("scorecard")]
    assert scorecards == [
        "  scorecard                 resolved in time 100.0%, first contact 100.0%, CSAT 100.0%, NPS -100"
    ]
