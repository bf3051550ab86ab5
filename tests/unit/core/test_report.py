"""The offline report on hand-written scenarios, with numbers derived by hand."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.cli import render
from socialsla.cli.files import iter_lines
from socialsla.cli.offline import report_of
from socialsla.core import report
from socialsla.core.events import MICROS, Event, encode, parse_time
from socialsla.core.rulebook import parse_book, parse_rules
from socialsla.core.rules import DEFAULT_RULES
from socialsla.core.thread import Policy
from tests.factories import line
from tests.paths import DATA

AT = parse_time("2026-01-08T00:00:00Z")
NOW = parse_time("2026-11-22T00:00:00Z")


@pytest.fixture(scope="module")
def scenario() -> report.Report:
    with (DATA / "scenario.jsonl").open("rb") as stream:
        return report.build(iter_lines(stream), AT, NOW, DEFAULT_RULES)


def series(result: report.Report, account: str, channel: str) -> dict[str, object]:
    for item in result.series:
        if (item.account, item.channel) == (account, channel):
            return render.series_json(item, DEFAULT_RULES)
    raise AssertionError(f"no series {account}/{channel}")


NO_SECONDS = {"count": 0, "avg": None, "p50": None, "p90": None, "max": None}
NO_FOLLOW_UPS = {"inbound": 0, "responded": 0, "missed": 0, "pending": 0, "seconds": NO_SECONDS}
NO_AGENT_SECONDS = {"count": 0, "avg": None, "p90": None, "max": None}


def agent(first: dict[str, object], next_: dict[str, object] | None = None) -> dict[str, object]:
    """One agent's figures in the report's JSON: first and next replies, and their seconds."""
    return {"first_replies": first["count"], "first_reply_seconds": first,
            "next_replies": (next_ or NO_AGENT_SECONDS)["count"], "next_reply_seconds": next_ or NO_AGENT_SECONDS}  # fmt: skip


#: c1's reply names agent "ann" (600 s); every other reply names none, so it is "unknown"'s.
ANN = agent({"count": 1, "avg": 600.0, "p90": 570.0, "max": 600.0})


def test_scenario_outcomes_are_tallied(scenario: report.Report) -> None:
    """Every line is accounted for: accepted, duplicate, invalid, late, after T or blank."""
    tally = scenario.tally
    assert (tally.accepted, tally.duplicate, tally.invalid, tally.late) == (23, 2, 9, 1)
    assert (tally.after_at, tally.blank) == (2, 1)


def test_scenario_invalid_lines_have_reasons_and_line_numbers(scenario: report.Report) -> None:
    """Each kind of invalid line is summarised with its reason and first line number."""
    lines = scenario.tally.first_lines
    assert lines["missing field conversation_id"] == [31]
    assert lines["channel 'Facebook' does not match [a-z0-9_-]{1,32}"] == [32]
    assert lines["created_at has no UTC offset"] == [33]
    assert lines["account 'acme corp' does not match [A-Za-z0-9_.@:-]{1,64}"] == [35]
    assert lines["not a JSON object, got list"] == [30]
    assert [n for r, ns in lines.items() if "ahead of the clock" in r for n in ns] == [34]
    assert sorted(n for r, ns in lines.items() if r.startswith("not valid JSON") for n in ns) == [
        29,
        38,
    ]


def test_scenario_series_are_sorted(scenario: report.Report) -> None:
    """Series come sorted by (account, channel); zeta/x, whose only event is a brand's reply, is none."""
    names = [(s.account, s.channel) for s in scenario.series]
    assert names == [("acme", "facebook"), ("acme", "instagram")]


def test_scenario_last_hour(scenario: report.Report) -> None:
    """1h holds c1 only: c12 opened exactly at T - 1h is outside; latency 600 s."""
    window = series(scenario, "acme", "facebook")["windows"]["1h"]  # type: ignore[index]
    assert window == {
        "inbound": 1, "responded": 1, "missed": 0, "pending": 0,
        "response_rate": 1.0, "response_rate_worst": 1.0,
        # one 600 s observation in (300, 600]: p50 = 300 + 300*0.5, p90 = 300 + 300*0.9
        "first_reply_seconds": {"count": 1, "avg": 600.0, "p50": 450.0, "p90": 570.0, "max": 600.0},
        "next_reply": NO_FOLLOW_UPS,
        "agents": {"ann": ANN},
    }  # fmt: skip


def test_scenario_last_day(scenario: report.Report) -> None:
    """24h: c1 600 s, c2 1200 s (reply before post), c3 300 s (duplicates), c4 3600 s
    (automated reply ignored), c9 pending (its reply is after T), c12 pending."""
    window = series(scenario, "acme", "facebook")["windows"]["24h"]  # type: ignore[index]
    assert window == {
        "inbound": 6, "responded": 4, "missed": 0, "pending": 2,
        "response_rate": 1.0, "response_rate_worst": 4 / 6,
        # buckets: 300 in (120,300], 600 in (300,600], 1200 in (900,1800], 3600 in (1800,3600]
        # p50 rank 2 ends (300,600] -> 600; p90 rank 3.6 -> 1800 + 1800*0.6 = 2880
        "first_reply_seconds": {"count": 4, "avg": 1425.0, "p50": 600.0, "p90": 2880.0, "max": 3600.0},
        "next_reply": NO_FOLLOW_UPS,
        # unknown: c2 1200 s, c3 300 s, c4 3600 s; p90 rank 2.7 in (1800, 3600]: 1800 + 1800 * 0.7
        "agents": {"ann": ANN, "unknown": agent({"count": 3, "avg": 1700.0, "p90": 3060.0, "max": 3600.0})},
    }  # fmt: skip


def test_scenario_last_week(scenario: report.Report) -> None:
    """7d adds c5 (brand-initiated, then unanswered: missed), c6 (late earlier post: 1800 s,
    then a follow-up answered in 3600 s) and c7 (exactly 24 h: responded); c8 opened exactly
    at T - 7d is outside."""
    body = series(scenario, "acme", "facebook")
    assert body["windows"]["7d"] == {  # type: ignore[index]
        "inbound": 9, "responded": 6, "missed": 1, "pending": 2,
        "response_rate": 6 / 7, "response_rate_worst": 6 / 9,
        # latencies 300, 600, 1200, 1800, 3600, 86400: sum 93900
        # p50 rank 3 in (900,1800] holding 2 after 2: 900 + 900*(1/2) = 1350
        # p90 rank 5.4 in (28800,86400] holding 1 after 5: 28800 + 57600*0.4 = 51840
        "first_reply_seconds": {
            "count": 6, "avg": 93900 / 6, "p50": 1350.0, "p90": pytest.approx(51840.0),
            "max": 86400.0,
        },
        # c6: posts 11:00 and 12:00, replies 11:30 and 13:00; the 12:00 post came after the
        # 11:30 answer, so it waits again until 13:00: one follow-up, 3600 s in (1800, 3600]
        "next_reply": {
            "inbound": 1, "responded": 1, "missed": 0, "pending": 0,
            "seconds": {"count": 1, "avg": 3600.0, "p50": 2700.0, "p90": 3420.0, "max": 3600.0},
        },
        # unknown adds c6 1800 s and c7 86400 s: p90 rank 4.5 in (28800, 86400]: 28800 + 57600 * 0.5;
        # and answered c6's follow-up
        "agents": {"ann": ANN, "unknown": agent({"count": 5, "avg": 93300 / 5, "p90": 57600.0, "max": 86400.0},
                                                {"count": 1, "avg": 3600.0, "p90": 3420.0, "max": 3600.0})},
    }  # fmt: skip
    # c5 opened 2026-01-06T09:00Z, 39 h before T, still without a counting reply
    assert body["oldest_unanswered_seconds"] == 39 * 3600.0
    # 6/7 < 90% and avg 15650 s > 900 s; largest k with 6/(7+k) >= 0.9 is -1
    rules = {"facebook_very_responsive": {"ok": False, "error_budget": -1, "rate_breach_in_seconds": None}}
    assert body["rules"] == rules


def test_scenario_other_series(scenario: report.Report) -> None:
    """A healthy series keeps its badge."""
    instagram = series(scenario, "acme", "instagram")
    # its one responded conversation leaves the window with nothing behind it: no breach ahead
    no_breach = {"ok": True, "error_budget": 0, "rate_breach_in_seconds": None}
    assert instagram["rules"] == {"facebook_very_responsive": no_breach}


@pytest.fixture(scope="module")
def undecided() -> report.Report:
    """One series whose only conversation is still pending at T."""
    post = Event("post", "p1", "c1", "zeta", "x", AT - 600 * MICROS)
    return report.build(iter([encode(post)]), AT, NOW, DEFAULT_RULES)


def test_a_series_with_no_decided_conversation_has_no_verdict(undecided: report.Report) -> None:
    """A pending conversation gives the series a row, but the rule no verdict and no budget."""
    zeta = series(undecided, "zeta", "x")
    no_verdict = {"ok": None, "error_budget": None, "rate_breach_in_seconds": None}
    assert zeta["rules"] == {"facebook_very_responsive": no_verdict}
    assert zeta["oldest_unanswered_seconds"] == 600.0


def test_rules_apply_only_to_their_scope() -> None:
    """A rule scoped to one channel judges only that channel's series."""
    rules = parse_rules(
        '[[rule]]\nname = "ig_fast"\nwindow = "1h"\nchannels = ["instagram"]\n'
        "max_avg_first_reply_seconds = 60\n"
    )
    with (DATA / "scenario.jsonl").open("rb") as stream:
        result = report.build(iter_lines(stream), AT, NOW, rules)
    verdicts = {(s.account, s.channel): s.verdicts for s in result.series}
    assert verdicts[("acme", "facebook")] == {}
    # one 120 s reply against a 60 s limit
    assert verdicts[("acme", "instagram")]["ig_fast"].ok is False


def test_default_time_is_the_latest_event(tmp_path: Path) -> None:
    """Without --at, T is the largest valid created_at in the file."""
    result = report_of(str(DATA / "scenario.jsonl"), None, DEFAULT_RULES, now_us=NOW)
    assert result.at == parse_time("2026-01-08T01:00:00Z")
    assert result.tally.after_at == 0


def test_json_document_shape(scenario: report.Report) -> None:
    """The JSON output carries `at` and the series in the report's shape
    (docs/semantics.md, "The offline report")."""
    body = orjson.loads(render.to_json(scenario))
    assert body["at"] == "2026-01-08T00:00:00Z"
    assert [s["account"] for s in body["series"]] == ["acme", "acme"]
    assert set(body["series"][0]["windows"]) == {"1h", "24h", "7d"}


def test_table_shows_verdicts(scenario: report.Report, undecided: report.Report) -> None:
    """The people's table names each series and its badge verdict, or that there is none yet."""
    table = render.to_table(scenario, DEFAULT_RULES)
    assert "facebook_very_responsive: LOST (rate 85.7% < 90.0%, avg 4.3h > 15.0m, budget -1)" in table
    assert "facebook_very_responsive: no verdict" in render.to_table(undecided, DEFAULT_RULES)


# --- properties: arrival order and redelivery do not change the report ---------------------

T0 = parse_time("2026-01-01T00:00:00Z")
events = st.builds(
    lambda kind, conv, minute, auto, channel: Event(
        kind, f"{kind[0]}{conv}-{minute}-{auto}", f"c{conv}", "acme", channel,
        T0 + minute * 60 * MICROS, auto and kind == "reply",
    ),
    st.sampled_from(["post", "reply"]),
    st.integers(0, 6),
    st.integers(-60 * 24, 60 * 24 * 9),
    st.booleans(),
    st.sampled_from(["facebook", "x"]),
)  # fmt: skip


def numbers(lines: list[bytes], at: int) -> bytes:
    result = report.build(iter(lines), at, NOW, DEFAULT_RULES)
    return render.to_json(result)


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=40), st.randoms(use_true_random=False), st.integers(0, 60 * 24 * 9))
def test_report_ignores_arrival_order_and_redelivery(
    items: list[Event], rng: random.Random, at_minute: int
) -> None:
    """Shuffling the events and redelivering some of them gives the same report."""
    lines = [encode(e) for e in items]
    redelivered = lines + [line for line in lines if rng.random() < 0.4]
    rng.shuffle(redelivered)
    at = T0 + at_minute * 60 * MICROS
    assert numbers(redelivered, at) == numbers(lines, at)


def _thread(*events: tuple[str, int]) -> list[bytes]:
    """Lines of one thread: (type, minutes after T0) each."""
    return [
        encode(Event(kind, f"{kind}{n}", "t", "acme", "x", T0 + minute * 60 * MICROS))
        for n, (kind, minute) in enumerate(events)
    ]


def test_a_thread_past_its_bound_is_invalid_with_its_line() -> None:
    """The event that finds its thread holding 1,000 times is counted invalid, never dropped silently."""
    lines = _thread(*((("post", "reply")[n % 2], n) for n in range(1_001)))
    result = report.build(iter(lines), T0 + 2_000 * 60 * MICROS, NOW, DEFAULT_RULES)
    assert (result.tally.accepted, result.tally.invalid) == (1_000, 1)
    assert result.tally.first_lines["thread too long"] == [1_001]


@pytest.mark.parametrize(
    ("silence", "conversations", "follow_ups"),
    [
        pytest.param(None, 1, 1, id="off: a follow-up"),
        pytest.param(24 * 3600 * MICROS, 2, 0, id="24h: a new conversation"),
    ],
)
def test_new_conversation_after_silence(silence: int | None, conversations: int, follow_ups: int) -> None:
    """A post a day after the thread went quiet is a follow-up, or with Facebook's 24h rule a conversation."""
    lines = _thread(("post", 0), ("reply", 10), ("post", 10 + 24 * 60), ("reply", 20 + 24 * 60))
    at = T0 + 3 * 24 * 3600 * MICROS
    result = report.build(
        iter(lines), at, NOW, DEFAULT_RULES, policy=Policy(new_conversation_after_us=silence)
    )
    week = result.series[0].stats.windows["7d"]
    assert week.next_reply is not None
    assert (week.inbound, week.next_reply.inbound) == (conversations, follow_ups)


CALENDAR_RULES = """
[[rule]]
name = "badge_in_business_hours"
window = "7d"
clock = "business"
min_response_rate = 0.9

[[calendar]]
name = "emea_care"
timezone = "Europe/London"
holidays = ["2026-03-27"]

[calendar.hours]
mon = ["09:00-17:30"]
thu = ["09:00-17:30"]
sat = ["10:00-14:00"]
"""


def test_business_view_counts_open_time_across_a_holiday_and_a_dst_change() -> None:
    """Thu 17:00 answered on Friday's holiday is 30 open minutes; Sat 13:30 answered Mon 09:30 BST is 60."""
    book = parse_book(CALENDAR_RULES)
    lines = [encode(Event(kind, f"{cid}-{kind}", cid, "acme", "x", parse_time(when))) for cid, kind, when in (
        ("holiday", "post", "2026-03-26T17:00:00Z"), ("holiday", "reply", "2026-03-27T10:00:00Z"),
        ("dst", "post", "2026-03-28T13:30:00Z"), ("dst", "reply", "2026-03-30T08:30:00Z"),
    )]  # fmt: skip
    at = parse_time("2026-03-31T12:00:00Z")
    (series,) = report.build(iter(lines), at, at, book.rules, calendars=book.calendars).series
    body = render.series_json(series, book.rules)
    assert body["calendar"] == "emea_care"
    assert body["windows"]["7d"]["first_reply_seconds"]["avg"] == (17 + 43) / 2 * 3600
    assert body["business"]["windows"]["7d"]["first_reply_seconds"]["avg"] == (1800 + 3600) / 2
    assert body["rules"]["badge_in_business_hours"]["ok"] is True
    table = render.to_table(report.build(iter(lines), at, at, book.rules, calendars=book.calendars))
    assert "7d emea_care" in table  # the business row under the wall row


def test_the_report_is_the_workers_stages_and_evaluation(scenario: report.Report) -> None:
    """The report equals stage 1's fold, turned into the outcomes the worker sends, applied by stage 2's
    Ledger.apply and evaluated by the collector's evaluate; the report module computes nothing of a series
    itself (no windows, verdicts or agents of its own)."""
    from socialsla.core import fold
    from socialsla.core.events import decode
    from socialsla.core.ledger import Ledger
    from socialsla.core.series import evaluate
    from socialsla.core.stats import LONGEST_US

    events = []
    for raw in (DATA / "scenario.jsonl").read_bytes().splitlines():
        try:
            event = decode(raw, NOW)
        except ValueError:
            continue
        if event.created_at <= AT:
            events.append(event)
    folded = fold.fold({}, events, AT - (LONGEST_US + report.DEFAULT_RESPONSE_WINDOW_US))
    ledger = Ledger(report.DEFAULT_RESPONSE_WINDOW_US, LONGEST_US)
    ledger.apply(0, folded.outcomes(), AT)
    direct = [evaluate(s, AT, DEFAULT_RULES, report.DEFAULT_MAX_AGENTS)
              for s in sorted(ledger, key=lambda s: (s.account, s.channel))]  # fmt: skip
    assert scenario.series == direct
    assert render.to_json(scenario, DEFAULT_RULES) == render.to_json(
        report.Report(AT, direct, scenario.tally), DEFAULT_RULES
    )
    for name in ("verdicts", "agents", "SeriesWindows", "judge", "conversation"):
        assert not hasattr(report, name), f"report.py computes {name} itself"


# --- which series exist: exactly those with a customer's post seen at T -----------------------

SCORECARD_RULES = parse_rules(
    '[[rule]]\nname = "scorecard"\nwindow = "7d"\nmin_response_rate = 0.9\nmin_resolution_rate = 0.8\n'
    "min_csat = 0.8\n"
)


def _line(
    kind: str, event_id: str, cid: str, account: str, channel: str, minute: int, **extra: object
) -> bytes:
    """An event `minute` minutes after T0."""
    return line(
        kind, cid, T0 + minute * 60 * MICROS, event_id=event_id, account=account, channel=channel, **extra
    )


def _series_names(lines: list[bytes], at_minute: int) -> list[tuple[str, str]]:
    built = report.build(iter(lines), T0 + at_minute * 60 * MICROS, NOW, SCORECARD_RULES, waiting=True)
    return [(s.account, s.channel) for s in built.series]


POSTED = [_line("post", "p1", "c1", "acme", "facebook", 0), _line("reply", "r1", "c1", "acme", "facebook", 5)]


@pytest.mark.parametrize(
    ("lines", "at_minute", "expected"),
    [
        pytest.param([*POSTED, _line("reply", "o1", "c2", "zeta", "x", 5)], 10, [("acme", "facebook")],
                     id="outreach-only thread in a series of its own"),
        pytest.param([*POSTED, _line("resolve", "z1", "c3", "omega", "x", 6)], 10, [("acme", "facebook")],
                     id="resolve-only thread"),
        pytest.param([*POSTED, _line("feedback", "f1", "c4", "omega", "x", 6, survey="csat", score=5)], 10,
                     [("acme", "facebook")], id="feedback-only thread"),
        pytest.param([_line("reply", "r1", "c1", "acme", "x", 5), _line("post", "p1", "c1", "acme", "x", 0)], 10,
                     [("acme", "x")], id="a reply read before its thread's post"),
        pytest.param([*POSTED, _line("post", "p9", "c9", "late", "x", 20)], 10, [("acme", "facebook")],
                     id="a post after T"),
        pytest.param([_line("reply", "o1", "c2", "zeta", "x", 5), _line("post", "p9", "c9", "zeta", "x", 20)], 30,
                     [("zeta", "x")], id="outreach, then a customer's post in another thread of its series"),
    ],
)  # fmt: skip
def test_the_series_are_those_with_a_post_seen_at_t(
    lines: list[bytes], at_minute: int, expected: list[tuple[str, str]]
) -> None:
    """A thread without a seen post belongs to no series: the report lists exactly the series with a post."""
    assert _series_names(lines, at_minute) == expected


def test_the_issues_example_lists_only_the_series_with_a_customer() -> None:
    """A post in acme/facebook, outreach in zeta/x and a resolve in omega/x: one series."""
    lines = [
        b'{"type":"post","event_id":"p1","conversation_id":"c1","account":"acme","channel":"facebook",'
        b'"created_at":"2026-11-20T10:00:00Z"}',
        b'{"type":"reply","event_id":"r1","conversation_id":"c2","account":"zeta","channel":"x",'
        b'"created_at":"2026-11-20T10:05:00Z"}',
        b'{"type":"resolve","event_id":"z1","conversation_id":"c3","account":"omega","channel":"x",'
        b'"created_at":"2026-11-20T10:06:00Z"}',
    ]
    at = parse_time("2026-11-20T10:06:00Z")
    body = orjson.loads(render.to_json(report.build(iter(lines), at, NOW, DEFAULT_RULES)))
    assert [(s["account"], s["channel"]) for s in body["series"]] == [("acme", "facebook")]


def test_a_reply_read_before_its_post_counts_once_the_post_is_there() -> None:
    """The series appears with the numbers the thread gives: a first reply 5 minutes after the post."""
    lines = [_line("reply", "r1", "c1", "acme", "x", 5), _line("post", "p1", "c1", "acme", "x", 0)]
    (series,) = report.build(iter(lines), T0 + 10 * 60 * MICROS, NOW, DEFAULT_RULES).series
    hour = series.stats.windows["1h"]
    assert (hour.inbound, hour.responded, hour.avg_seconds) == (1, 1, 300.0)


stray_threads = st.lists(
    st.builds(
        lambda kind, n, minute, account, channel: _line(
            kind, f"s{kind[0]}{n}", f"stray{n}", account, channel, minute,
            **({"survey": "csat", "score": 1} if kind == "feedback" else {}),
        ),
        st.sampled_from(["reply", "resolve", "feedback"]),
        st.integers(0, 4),
        st.integers(-60 * 24, 60 * 24 * 9),
        st.sampled_from(["acme", "zeta"]),
        st.sampled_from(["facebook", "x"]),
    ),
    max_size=12,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=30), stray_threads, st.integers(0, 60 * 24 * 9))
def test_threads_without_a_post_change_no_number(
    items: list[Event], strays: list[bytes], at_minute: int
) -> None:
    """Adding threads that hold no post (replies, resolves, feedback) leaves the whole report as it was."""
    lines = [encode(e) for e in items]
    at = T0 + at_minute * 60 * MICROS

    def whole(given_lines: list[bytes]) -> bytes:
        return render.to_json(
            report.build(iter(given_lines), at, NOW, SCORECARD_RULES, waiting=True), SCORECARD_RULES
        )

    assert whole(lines + strays) == whole(lines)
