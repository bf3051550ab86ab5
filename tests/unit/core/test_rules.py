"""Rule files, verdicts and error budgets."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from socialsla.core.events import MICROS
from socialsla.core.judging import error_budget, judge
from socialsla.core.rulebook import RuleError, load_rules, parse_book, parse_rules
from socialsla.core.rules import DEFAULT_RULES, Rule, Verdict
from socialsla.core.thread import Wait
from socialsla.core.windows import SeriesWindows
from tests import factories
from tests.paths import SHIPPED_RULES

H = 3600 * MICROS
T = 1_767_225_600 * MICROS
R = 24 * H


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("not toml = [", "not valid TOML", id="bad-toml"),
        pytest.param("", "no [[rule]] tables", id="empty"),
        pytest.param('x = 1\n[[rule]]\nname="a"\n', "unknown top-level key 'x'", id="top-level-key"),
        pytest.param(
            factories.rule(body="min_response_rate = 0.9\nspeed = 3"), "unknown key 'speed'", id="unknown-key"
        ),
        pytest.param(
            '[[rule]]\nname = "Bad Name"\nwindow="7d"\nmin_decided=1',
            "name must match",
            id="bad-name",
        ),
        pytest.param(
            '[[rule]]\nname = "a"\nwindow = "30d"\nmin_response_rate=0.9',
            "window must be one of 1h, 24h, 7d",
            id="bad-window",
        ),
        pytest.param(
            factories.rule(body="min_response_rate = 1.5"),
            "min_response_rate must be in (0, 1]",
            id="rate-above-1",
        ),
        pytest.param(
            factories.rule(body="min_response_rate = 0"),
            "min_response_rate must be in (0, 1]",
            id="rate-zero",
        ),
        pytest.param(
            factories.rule(body='min_response_rate = "90%"'),
            "min_response_rate must be a number, got str",
            id="rate-string",
        ),
        pytest.param(
            factories.rule(body="max_avg_first_reply_seconds = -5"), "must be positive", id="negative-limit"
        ),
        pytest.param(
            factories.rule(body="max_avg_first_reply_seconds = inf"), "must be finite", id="infinite-limit"
        ),
        pytest.param(factories.rule(body="min_decided = 1"), "names no condition", id="no-condition"),
        pytest.param(
            factories.rule(body="min_response_rate = 0.9\nmin_decided = -1"),
            "min_decided must be",
            id="negative-min",
        ),
        pytest.param(
            factories.rule(body='min_response_rate = 0.9\nchannels = ["Facebook"]'),
            "does not match",
            id="bad-channel",
        ),
        pytest.param(
            factories.rule(body="min_response_rate = 0.9\naccounts = []"),
            "non-empty list",
            id="empty-accounts",
        ),
        pytest.param(
            factories.rule(body="min_response_rate = 0.9") * 2,
            "rule name 'r' is used twice",
            id="duplicate-name",
        ),
        pytest.param(
            factories.rule(body="max_avg_first_reply_seconds = 900\navg_of_fastest = 0"),
            "avg_of_fastest must be in (0, 1]",
            id="fastest-zero",
        ),
        pytest.param(
            factories.rule(body="max_avg_first_reply_seconds = 900\navg_of_fastest = 1.1"),
            "avg_of_fastest must be in (0, 1]",
            id="fastest-above-1",
        ),
        pytest.param(
            factories.rule(body="min_response_rate = 0.9\navg_of_fastest = 0.9"),
            "avg_of_fastest needs max_avg_first_reply_seconds",
            id="fastest-without-average",
        ),
        pytest.param(
            factories.rule(body="min_resolution_rate = 1.5"),
            "min_resolution_rate must be in [0, 1]",
            id="resolution-rate-1.5",
        ),
        pytest.param(
            factories.rule(body="min_csat = -0.1"), "min_csat must be in [0, 1]", id="csat-negative"
        ),
        pytest.param(factories.rule(body="min_nps = 101"), "min_nps must be in [-100, 100]", id="nps-101"),
        pytest.param(
            factories.rule(body='min_nps = "50"'), "min_nps must be a number, got str", id="nps-string"
        ),
        pytest.param(
            factories.rule(body="max_avg_resolution_seconds = 0"),
            "max_avg_resolution_seconds must be positive",
            id="resolution-zero",
        ),
    ],
)
def test_bad_rule_files_are_refused_with_a_reason(text: str, message: str) -> None:
    """Each mistake in a rule file is named precisely."""
    with pytest.raises(RuleError, match=None) as caught:
        parse_rules(text)
    assert message in str(caught.value)


def test_full_rule_parses_exactly() -> None:
    """Every key of a response-time rule (name, window, channels, accounts, the four conditions, min_decided)
    is read, thresholds as exact decimals."""
    (rule,) = parse_rules(
        '[[rule]]\nname = "facebook_very_responsive"\nwindow = "7d"\nchannels = ["facebook"]\n'
        'accounts = ["acme"]\nmin_response_rate = 0.90\nmax_avg_first_reply_seconds = 900\n'
        "max_p90_first_reply_seconds = 3600\nmax_oldest_unanswered_seconds = 900\nmin_decided = 5\n"
    )
    assert rule.min_response_rate == Fraction(9, 10)
    assert rule.applies("acme", "facebook")
    assert not rule.applies("acme", "x")
    assert not rule.applies("other", "facebook")
    assert rule.min_decided == 5


def test_missing_file_is_a_rule_error(tmp_path: Path) -> None:
    """A rule file that cannot be read gives a RuleError naming it."""
    with pytest.raises(RuleError, match="cannot read"):
        load_rules(tmp_path / "nope.toml")


def test_no_file_means_the_facebook_badge() -> None:
    """The built-in default is the Facebook very-responsive badge."""
    assert load_rules(None) == DEFAULT_RULES
    (rule,) = DEFAULT_RULES
    assert (rule.name, rule.window, rule.min_response_rate) == (
        "facebook_very_responsive",
        "7d",
        Fraction(9, 10),
    )
    assert rule.max_avg_first_reply_seconds == 900


@pytest.mark.parametrize(
    ("responded", "missed", "budget"),
    [
        pytest.param(9, 1, 0, id="exactly-90-percent"),
        pytest.param(18, 1, 1, id="room-for-one"),
        pytest.param(8, 2, -2, id="below"),
        pytest.param(45, 0, 5, id="all-answered"),
        pytest.param(0, 3, -3, id="none-answered"),
    ],
)
def test_error_budget(responded: int, missed: int, budget: int) -> None:
    """The budget is the largest k keeping responded/(decided+k) at or above the rate."""
    assert error_budget(responded, missed, Fraction(9, 10)) == budget


def verdict(rule: Rule, windows: SeriesWindows) -> Verdict:
    return judge(rule, windows.evaluate(T), windows)


def stats_with(
    responded: int, missed: int, latency_s: int = 60, pending_age_s: int | None = None
) -> SeriesWindows:
    windows = SeriesWindows(R)
    for i in range(responded):
        opened = T - 2 * R - i * MICROS
        windows.set(f"r{i}", (Wait(opened, opened + latency_s * MICROS, True),))
    for i in range(missed):
        windows.set(f"m{i}", (Wait(T - 2 * R - i * MICROS, None, True),))
    if pending_age_s is not None:
        windows.set("p", (Wait(T - pending_age_s * MICROS, None, True),))
    return windows


@pytest.mark.parametrize(
    ("responded", "missed", "latency", "ok"),
    [
        pytest.param(9, 1, 900, True, id="exactly-90pct-and-15min-keeps-badge"),
        pytest.param(9, 1, 901, False, id="avg-one-second-over"),
        pytest.param(89, 11, 60, False, id="rate-89pct"),
        pytest.param(0, 0, 60, None, id="nothing-decided"),
    ],
)
def test_badge_verdict_boundaries(responded: int, missed: int, latency: int, ok: bool | None) -> None:
    """The badge holds at exactly 90% and 900 s and fails just past either."""
    (rule,) = DEFAULT_RULES
    assert verdict(rule, stats_with(responded, missed, latency)).ok is ok


def test_oldest_unanswered_condition() -> None:
    """A waiting customer older than the limit fails the rule; exactly at the limit holds."""
    (rule,) = parse_rules(factories.rule(body="max_oldest_unanswered_seconds = 900\nmin_decided = 0"))
    assert verdict(rule, stats_with(1, 0, pending_age_s=900)).ok is True
    assert verdict(rule, stats_with(1, 0, pending_age_s=901)).ok is False


def test_condition_on_null_statistic_holds() -> None:
    """With nothing answered yet, latency conditions hold (a condition on a null statistic holds)."""
    (rule,) = parse_rules(factories.rule(body="max_p90_first_reply_seconds = 10"))
    assert verdict(rule, stats_with(0, 2)).ok is True


SHIPPED = SHIPPED_RULES


def test_the_shipped_facebook_2018_rules_keep_a_badge_one_slow_reply_would_cost() -> None:
    """Facebook's fuller rule averages the fastest 90%: one 10-hour reply among nine quick ones keeps it."""
    (rule,) = load_rules(SHIPPED)
    assert (rule.window, rule.avg_of_fastest, rule.channels) == (
        "7d",
        Fraction(9, 10),
        frozenset({"facebook"}),
    )
    windows = SeriesWindows(R)
    for i in range(10):
        opened = T - 20 * H - i * MICROS
        windows.set(f"c{i}", (Wait(opened, opened + (10 * H if i == 0 else 60 * MICROS), True),))
    assert verdict(rule, windows).ok is True
    (badge,) = DEFAULT_RULES
    assert verdict(badge, windows).ok is False  # the plain average is over an hour


# --- calendars and the business clock in the rules file --------------------------------------

CALENDAR = """
[[calendar]]
name = "emea_care"
timezone = "Europe/London"
accounts = ["acme"]
holidays = ["2026-12-25"]
response_window = "8h"

[calendar.hours]
mon = ["08:00-12:30", "13:30-18:00"]
fri = ["08:00-17:00"]
"""


def test_a_rules_file_holds_calendars_beside_rules() -> None:
    """[[calendar]] tables are read in file order beside the rules, and a rule may use the business clock."""
    book = parse_book(CALENDAR + factories.rule(body='min_response_rate = 0.9\nclock = "business"'))
    (calendar,) = book.calendars
    assert (calendar.name, calendar.timezone, calendar.response_window_us) == (
        "emea_care",
        "Europe/London",
        8 * H,
    )
    assert book.rules[0].clock == "business"
    assert book.calendar_for("acme", "x") is calendar
    assert book.calendar_for("globex", "x") is None


def test_the_clock_is_wall_or_business() -> None:
    """Any other clock is refused with the rule's name."""
    with pytest.raises(RuleError, match="rule 'r': clock must be wall or business, got 'office'"):
        parse_book(factories.rule(body='min_response_rate = 0.9\nclock = "office"'))


def test_a_bad_calendar_makes_the_file_invalid_and_names_the_mistake() -> None:
    """A calendar mistake is a rules-file error naming the file and the calendar."""
    with pytest.raises(
        RuleError, match=r"<rules>:\d+: calendar 'emea_care': unknown timezone 'Europe/Londn'"
    ):
        parse_book(
            CALENDAR.replace("Europe/London", "Europe/Londn") + factories.rule(body="min_response_rate = 0.9")
        )


@pytest.mark.parametrize(
    ("selectors", "warned"),
    [
        pytest.param('accounts = ["acme"]', [], id="covered"),
        pytest.param('accounts = ["acme", "globex"]', ["globex"], id="one-account-uncovered"),
        pytest.param("", ["every other account"], id="every-account"),
    ],
)
def test_a_business_rule_over_series_no_calendar_covers_is_a_warning(
    selectors: str, warned: list[str]
) -> None:
    """A business-clock rule gives no verdict where no calendar applies: `rules check` says where."""
    book = parse_book(
        CALENDAR + factories.rule(body=f'min_response_rate = 0.9\nclock = "business"\n{selectors}')
    )
    found = book.warnings()
    assert len(found) == len(warned)
    for message, account in zip(found, warned, strict=True):
        assert "rule 'r' uses the business clock" in message
        assert account in message


def test_a_verdict_names_each_failing_condition_with_its_statistic() -> None:
    """A lost rule says which of its conditions failed and their values now; a condition it does not name is
    never blamed, and a rule that holds names none."""
    from socialsla.cli.words import read_failure
    from socialsla.core.judging import judge

    (p90_only,) = parse_rules('[[rule]]\nname = "p90"\nwindow = "7d"\nmax_p90_first_reply_seconds = 60\n')
    windows = SeriesWindows(R)
    windows.set("a", (Wait(T - 3600 * MICROS, T - 1800 * MICROS, True),))
    windows.set("b", (Wait(T - 3600 * MICROS, None, True),))
    stats = windows.evaluate(T)
    verdict = judge(p90_only, stats, windows)
    assert verdict.ok is False
    assert [condition for condition, _ in verdict.failed] == ["p90_first_reply_seconds"]
    assert read_failure("p90_first_reply_seconds", verdict.failed[0][1], 60.0).endswith("> 60s")
    (loose,) = parse_rules('[[rule]]\nname = "loose"\nwindow = "7d"\nmax_p90_first_reply_seconds = 86400\n')
    assert judge(loose, stats, windows).failed == ()


def test_every_mistake_is_listed_with_its_file_and_line() -> None:
    """A file with three bad rules and a bad calendar names all four, each at its table's line, not the first only."""
    text = """[[rule]]
name = "ok_rule"
window = "7d"
min_response_rate = 0.9

[[rule]]
name = "bad_window"
window = "2d"
min_response_rate = 0.9

[[rule]]
name = "Bad Name"
window = "7d"

[[rule]]
name = "no_condition"
window = "7d"

[[calendar]]
name = "team"
timezone = "Mars/Olympus"
"""
    with pytest.raises(RuleError) as caught:
        parse_book(text, "care.toml")
    assert str(caught.value).splitlines() == [
        "care.toml:6: rule 'bad_window': window must be one of 1h, 24h, 7d, got '2d'",
        "care.toml:11: rule 3 (the 3rd [[rule]]): name must match [a-z0-9_]{1,64}, got 'Bad Name'",
        "care.toml:15: rule 'no_condition': names no condition (a min_* floor or a max_* threshold)",
        "care.toml:19: calendar 'team': unknown timezone 'Mars/Olympus' (an IANA name such as Europe/London)",
    ]


def test_the_version_3_keys_parse_exactly_with_their_ends_included() -> None:
    (rule,) = parse_rules(
        factories.rule(
            body="min_resolution_rate = 0\nmin_csat = 1\nmin_nps = -100\nmax_avg_resolution_seconds = 14400"
        )
    )
    assert (rule.min_resolution_rate, rule.min_csat, rule.min_nps) == (0, 1, -100)
    assert rule.max_avg_resolution_seconds == 14_400
    assert rule.thresholds() == {
        "resolution_rate": 0.0,
        "avg_resolution_seconds": 14_400.0,
        "csat": 1.0,
        "nps": -100.0,
    }


def test_resolution_and_feedback_conditions_fail_below_their_floor_and_hold_on_null() -> None:
    """Exact comparisons, a failure says its statistic, and a series without the numbers keeps its rule."""
    from socialsla.core.accumulators import pack_resolution
    from socialsla.core.feedback import Answer, Surveys
    from socialsla.core.resolution import Resolution
    from socialsla.core.view import View

    day = 86_400 * MICROS
    at = 10 * day
    window = SeriesWindows(day)
    in_time = Resolution(at - 3 * day, at - 3 * day + 3600 * MICROS, False, True)
    window.set(
        "c1",
        (Wait(at - 3 * day, at - 3 * day + 60 * MICROS, True),),
        {at - 3 * day: pack_resolution(in_time)},
    )
    window.set("c2", (Wait(at - 2 * day, None, True),))  # unresolved for two days: overdue
    stats = window.evaluate(at)
    resolved = window.resolution(at, View(day))  # one in time, one overdue: 50%
    answers = [
        Answer(at - day, "csat", 5),
        Answer(at - day, "csat", 2),
        Answer(at - day, "nps", 10),
        Answer(at - day, "nps", 0),
    ]
    book = Surveys(900 * MICROS)
    for key, answer in enumerate(answers):
        book.set(str(key), answer.at, (answer,))
    surveys = book.windows(at)  # CSAT 50%, NPS 0
    keeps = Rule("r", "7d", min_resolution_rate=Fraction(1, 2), min_csat=Fraction(1, 2), min_nps=Fraction(0))
    assert judge(keeps, stats, window, resolved, surveys).ok is True
    loses = Rule("r", "7d", min_resolution_rate=Fraction(51, 100), min_csat=Fraction(6, 10), min_nps=Fraction(1),
                 max_avg_resolution_seconds=Fraction(3599))  # fmt: skip
    verdict = judge(loses, stats, window, resolved, surveys)
    assert verdict.ok is False
    assert dict(verdict.failed) == {
        "resolution_rate": 0.5,
        "avg_resolution_seconds": 3600.0,
        "csat": 0.5,
        "nps": 0.0,
    }
    assert judge(loses, stats, window, None, None).ok is True  # tracks neither: null statistics hold
    gated = Rule("r", "7d", min_csat=Fraction(6, 10), min_decided=5)
    assert judge(gated, stats, window, resolved, surveys).ok is None  # min_decided gates every verdict
