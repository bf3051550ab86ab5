"""The scrape-time collector on a fresh registry: metric names, labels and null handling."""

from __future__ import annotations

import importlib.metadata

from prometheus_client import CollectorRegistry, generate_latest

from socialsla.core.calendars import parse_calendars
from socialsla.core.events import MICROS, parse_time
from socialsla.core.ledger import Ledger
from socialsla.core.rules import DEFAULT_RULES
from socialsla.core.thread import Wait
from socialsla.core.wire import Outcome
from socialsla.serve.collector import SlaCollector
from socialsla.stream.counters import PipelineMetrics

H = 3600 * MICROS
R = 24 * H
T0 = 1_767_225_600 * MICROS


class FixedClock:
    def __init__(self, at: int) -> None:
        self.at = at

    def now_us(self) -> int:
        return self.at


def conv(account: str, channel: str, cid: str, opened: int, first: int | None) -> Outcome:
    """The outcome of a thread of one conversation."""
    return Outcome(account, channel, cid, (Wait(opened, first, True),), T0)


def registry_with(*outcomes: Outcome, at: int = T0) -> tuple[CollectorRegistry, FixedClock, Ledger]:
    ledger = Ledger(R)
    ledger.apply(0, outcomes, at)
    registry = CollectorRegistry()
    clock = FixedClock(at)
    registry.register(SlaCollector(ledger, DEFAULT_RULES, clock))
    return registry, clock, ledger


def test_gauges_carry_the_window_numbers() -> None:
    """One answered and one waiting conversation give the per-series gauges with their labels."""
    registry, _, _ = registry_with(
        conv("acme", "facebook", "a", T0 - 30 * 60 * MICROS, T0 - 20 * 60 * MICROS),
        conv("acme", "facebook", "b", T0 - 10 * 60 * MICROS, None),
    )
    who = {"account": "acme", "channel": "facebook"}
    wall = {**who, "clock": "wall"}
    get = registry.get_sample_value
    assert get("socialsla_conversations", {**wall, "window": "1h", "state": "inbound"}) == 2
    assert get("socialsla_conversations", {**wall, "window": "1h", "state": "pending"}) == 1
    assert get("socialsla_response_rate", {**wall, "window": "1h"}) == 1.0
    assert get("socialsla_response_rate_worst", {**wall, "window": "1h"}) == 0.5
    assert get("socialsla_first_reply_seconds", {**wall, "window": "1h", "stat": "avg"}) == 600.0
    assert get("socialsla_oldest_unanswered_seconds", wall) == 600.0
    assert get("socialsla_series_open", who) is None  # no calendar, no business clock
    assert get("socialsla_rule_ok", {**who, "rule": "facebook_very_responsive"}) == 1.0
    assert get("socialsla_rule_error_budget", {**who, "rule": "facebook_very_responsive"}) == 0.0
    assert get("socialsla_first_reply_latency_seconds_bucket", {**who, "le": "600.0"}) == 1.0
    assert get("socialsla_first_reply_latency_seconds_count", who) == 1.0
    assert get("socialsla_conversations_decided_total", {**who, "result": "responded"}) == 1.0
    # b turns missed at its deadline, 24 h after it opened: 1 / 2 is below 90%
    assert (
        get("socialsla_rule_rate_breach_in_seconds", {**who, "rule": "facebook_very_responsive"})
        == 86_400 - 600
    )


def test_follow_ups_have_their_own_gauges() -> None:
    """A customer writing again after the answer is a follow-up: counted and timed apart, on the wall clock."""
    waits = (
        Wait(T0 - 50 * 60 * MICROS, T0 - 40 * 60 * MICROS, True),
        Wait(T0 - 30 * 60 * MICROS, T0 - 25 * 60 * MICROS, False),
    )
    registry, _, _ = registry_with(Outcome("acme", "x", "t", waits, T0))
    get = registry.get_sample_value
    who = {"account": "acme", "channel": "x", "window": "1h", "clock": "wall"}
    assert get("socialsla_follow_ups", {**who, "state": "inbound"}) == 1
    assert get("socialsla_follow_ups", {**who, "state": "responded"}) == 1
    assert get("socialsla_next_reply_seconds", {**who, "stat": "avg"}) == 300.0
    assert (
        get(
            "socialsla_conversations",
            {"account": "acme", "channel": "x", "window": "1h", "state": "inbound", "clock": "wall"},
        )
        == 1
    )
    assert (
        get(
            "socialsla_first_reply_seconds",
            {"account": "acme", "channel": "x", "window": "1h", "stat": "avg", "clock": "wall"},
        )
        == 600.0
    )


def test_null_statistics_are_not_exported() -> None:
    """A series with nothing decided exports counts but no rate, latency or verdict."""
    registry, _, _ = registry_with(conv("acme", "x", "b", T0 - 60 * MICROS, None))
    text = generate_latest(registry).decode()
    assert (
        'socialsla_conversations{account="acme",channel="x",clock="wall",state="pending",window="1h"} 1.0'
        in text
    )
    assert "socialsla_response_rate{" not in text
    assert "socialsla_first_reply_seconds{" not in text
    assert "socialsla_rule_ok{" not in text


def test_scrape_time_evaluation_moves_with_the_clock() -> None:
    """With no new outcome, a later scrape sees the conversation missed."""
    registry, clock, _ = registry_with(conv("acme", "x", "b", T0, None))
    labels = {"account": "acme", "channel": "x", "window": "7d", "state": "missed", "clock": "wall"}
    assert registry.get_sample_value("socialsla_conversations", labels) == 0
    clock.at = T0 + R
    assert registry.get_sample_value("socialsla_conversations", labels) == 1
    assert (
        registry.get_sample_value(
            "socialsla_rule_ok", {"account": "acme", "channel": "x", "rule": "facebook_very_responsive"}
        )
        == 0
    )


def test_dropped_partition_disappears_from_the_scrape() -> None:
    """After a revoke, the series is absent from the next scrape."""
    registry, _, ledger = registry_with(conv("acme", "x", "b", T0, None))
    ledger.drop(0)
    assert b'account="acme"' not in generate_latest(registry)


def test_pipeline_counters_start_at_zero() -> None:
    """Every (type, outcome) pair of the events counter exists from the start, for rate()."""
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    assert registry.get_sample_value("socialsla_events_total", {"type": "post", "outcome": "late"}) == 0
    assert registry.get_sample_value("socialsla_events_total", {"type": "unknown", "outcome": "invalid"}) == 0


def test_counters_have_no_created_series_and_known_labels_start_at_zero() -> None:
    """No `_created` family, and the skipped-input and expiry counters exist at 0 for their known labels."""
    registry, _, _ = registry_with(conv("acme", "x", "a", T0 - 60 * MICROS, T0))
    PipelineMetrics(registry, ("in.posts", "in.replies"))
    text = generate_latest(registry).decode()
    assert "_created" not in text
    get = registry.get_sample_value
    assert get("socialsla_input_skipped_total", {"topic": "in.replies"}) == 0
    assert get("socialsla_conversations_expired_total", {"stage": "series"}) == 0
    assert (
        get(
            "socialsla_conversations_decided_total",
            {"account": "acme", "channel": "x", "result": "responded"},
        )
        == 1
    )


def test_help_texts_stand_alone() -> None:
    """No help text sends a reader to a document they do not have (the internal contract); each is
    a sentence."""
    registry, _, _ = registry_with(conv("acme", "x", "a", T0 - 60 * MICROS, T0))
    PipelineMetrics(registry)
    helps = [
        line
        for line in generate_latest(registry).decode().splitlines()
        if line.startswith("# HELP socialsla")
    ]
    assert len(helps) > 20
    for line in helps:
        assert "SPEC" not in line, line


def test_build_info_and_process_metrics() -> None:
    """The version a worker runs, and the process' own CPU and memory, as an SRE expects of any exporter."""
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    labels = {"version": importlib.metadata.version("socialsla"), "faust": importlib.metadata.version("faust-streaming"),
              "aiokafka": importlib.metadata.version("aiokafka")}  # fmt: skip
    assert registry.get_sample_value("socialsla_build_info", labels) == 1
    assert registry.get_sample_value("process_resident_memory_bytes") > 0
    assert registry.get_sample_value("process_cpu_seconds_total") is not None


def test_a_series_with_a_calendar_exports_both_clocks_and_whether_it_is_open() -> None:
    """Business hours: the five window gauges twice, `clock` wall and business, and `socialsla_series_open` 0
    while closed."""
    (team,) = parse_calendars([{"name": "emea", "timezone": "UTC", "hours": {"sat": ["09:00-17:00"]}}])
    ledger = Ledger(R, calendars=(team,))
    saturday_noon = parse_time("2026-01-10T12:00:00Z")
    # posted Friday 12:00, answered Saturday 10:00: 22 h on the wall, 1 h of Saturday's open time
    friday_noon = saturday_noon - 24 * 3600 * MICROS
    ledger.apply(0, [conv("acme", "x", "a", friday_noon, friday_noon + 22 * 3600 * MICROS)], saturday_noon)
    registry = CollectorRegistry()
    clock = FixedClock(saturday_noon)
    registry.register(SlaCollector(ledger, DEFAULT_RULES, clock))
    get = registry.get_sample_value
    who = {"account": "acme", "channel": "x"}
    for view, seconds in (("wall", 22 * 3600.0), ("business", 3600.0)):
        assert (
            get("socialsla_first_reply_seconds", {**who, "window": "7d", "stat": "avg", "clock": view})
            == seconds
        )
    assert get("socialsla_series_open", who) == 1.0
    clock.at = saturday_noon + 6 * 3600 * MICROS
    assert get("socialsla_series_open", who) == 0.0


def test_agents_have_their_reply_counts_and_times() -> None:
    """Agents on /metrics: replies per agent and kind, and their seconds, per window."""
    waits = (Wait(T0 - 50 * 60 * MICROS, T0 - 40 * 60 * MICROS, True, "ana"),
             Wait(T0 - 30 * 60 * MICROS, T0 - 25 * 60 * MICROS, False, "ben"))  # fmt: skip
    registry, _, _ = registry_with(Outcome("acme", "x", "t", waits, T0))
    get = registry.get_sample_value
    who = {"account": "acme", "channel": "x", "window": "1h"}
    assert get("socialsla_agent_replies", {**who, "agent": "ana", "kind": "first"}) == 1
    assert get("socialsla_agent_replies", {**who, "agent": "ben", "kind": "next"}) == 1
    assert get("socialsla_agent_replies", {**who, "agent": "ben", "kind": "first"}) == 0
    assert (
        get("socialsla_agent_reply_seconds", {**who, "agent": "ana", "kind": "first", "stat": "avg"}) == 600.0
    )
    assert (
        get("socialsla_agent_reply_seconds", {**who, "agent": "ben", "kind": "first", "stat": "avg"}) is None
    )


def test_resolution_and_feedback_gauges_equal_the_report_and_only_where_tracked() -> None:
    """A series with resolve and feedback events exports the resolution and feedback families, equal to the
    report's JSON; a series with neither exports none of them."""
    import orjson

    from socialsla.cli import render
    from socialsla.core import report
    from socialsla.core.events import Event, encode

    events = [
        Event("post", "p1", "c1", "acme", "x", T0 - 30 * H),
        Event("reply", "r1", "c1", "acme", "x", T0 - 29 * H),
        Event("resolve", "d1", "c1", "acme", "x", T0 - 28 * H),
        Event("feedback", "f1", "c1", "acme", "x", T0 - 27 * H, survey="nps", score=9),
        Event("feedback", "f2", "c1", "acme", "x", T0 - 27 * H, survey="csat", score=3),
        Event("post", "p2", "c2", "acme", "x", T0 - 26 * H),  # unresolved past S: overdue
        Event("post", "p3", "c3", "zeta", "x", T0 - 2 * H),
    ]
    built = report.build(iter([encode(e) for e in events]), T0, T0, DEFAULT_RULES)
    ledger = Ledger(R)
    from socialsla.core import fold

    ledger.apply(0, fold.fold({}, events, 0).outcomes(), T0)
    registry = CollectorRegistry()
    registry.register(SlaCollector(ledger, DEFAULT_RULES, FixedClock(T0)))
    get = registry.get_sample_value
    week = orjson.loads(render.to_json(built))["series"][0]["windows"]["7d"]
    acme = {"account": "acme", "channel": "x", "window": "7d"}
    for state in ("resolved", "in_time", "overdue", "reopened", "first_contact"):
        assert (
            get("socialsla_resolutions", {**acme, "state": state, "clock": "wall"})
            == week["resolution"][state]
        )
    assert (
        get("socialsla_resolution_rate", {**acme, "clock": "wall"})
        == week["resolution"]["resolution_rate"]
        == 0.5
    )
    assert get("socialsla_resolution_seconds", {**acme, "stat": "max", "clock": "wall"}) == 2 * 3600
    assert get("socialsla_feedback_responses", {**acme, "survey": "nps"}) == 1
    assert get("socialsla_nps", acme) == week["feedback"]["nps"]["nps"] == 100
    assert get("socialsla_csat", acme) == week["feedback"]["csat"]["csat"] == 0
    assert get("socialsla_ces_easy_rate", acme) is None  # no CES answer: null, not exported
    assert get("socialsla_feedback_responses", {**acme, "survey": "ces"}) == 0
    zeta = {"account": "zeta", "channel": "x", "window": "7d"}
    assert get("socialsla_resolutions", {**zeta, "state": "resolved", "clock": "wall"}) is None
    assert get("socialsla_feedback_responses", {**zeta, "survey": "csat"}) is None


def test_the_oldest_unanswered_conversation_names_the_customer_to_answer_first() -> None:
    """One sample per series, the wall-clock oldest wait labelled with its conversation; the smaller id of a tie."""
    registry, clock, _ = registry_with(
        conv("acme", "facebook", "b", T0 - H, None),
        conv("acme", "facebook", "a", T0 - H, None),
        conv("acme", "facebook", "c", T0 - 2 * H, T0 - 2 * H + 60 * MICROS),
        conv("acme", "x", "done", T0 - H, T0 - H + 60 * MICROS),
    )
    text = generate_latest(registry).decode()
    lines = [
        line for line in text.splitlines() if line.startswith("socialsla_oldest_unanswered_conversation{")
    ]
    assert lines == [
        'socialsla_oldest_unanswered_conversation{account="acme",channel="facebook",conversation_id="a"} 3600.0'
    ]
    clock.at = T0 - H - 1  # before anyone wrote: no oldest wait, no sample
    assert "socialsla_oldest_unanswered_conversation{" not in generate_latest(registry).decode()


def test_only_series_with_a_post_seen_now_are_exported_and_on_the_demo_screen() -> None:
    """Outreach in a series of its own, and a post ahead of the clock, give no sample and no screen row."""
    from socialsla.cli import screen

    outreach = Outcome("zeta", "x", "o1", (), T0)  # stage 1's outcome of a thread with replies only
    ahead = conv("future", "x", "f1", T0 + 60 * MICROS, None)
    registry, clock, _ = registry_with(conv("acme", "facebook", "a", T0 - H, None), outreach, ahead)
    scraped = {
        (s.labels["account"], s.labels["channel"])
        for family in registry.collect()
        for s in family.samples
        if "account" in s.labels
    }
    assert scraped == {("acme", "facebook")}
    assert set(screen.read_scrape(generate_latest(registry).decode()).rows) == {("acme", "facebook")}
    clock.at = T0 + 60 * MICROS
    assert set(screen.read_scrape(generate_latest(registry).decode()).rows) == {
        ("acme", "facebook"),
        ("future", "x"),
    }
