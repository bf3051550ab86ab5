"""The per-series metric families, declared once: what a scrape exports is what they declare, and the
metrics reference documents each one."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from socialsla.core import fold
from socialsla.core.events import InvalidEvent, decode, parse_time
from socialsla.core.ledger import Ledger
from socialsla.core.rulebook import parse_rules
from socialsla.core.rules import DEFAULT_RULES
from socialsla.serve.collector import SlaCollector
from socialsla.serve.families import FAMILIES
from tests import factories
from tests.paths import DATA, REPO

AT = parse_time("2026-01-08T00:00:00Z")
R = 24 * 3600 * 1_000_000
RULES = (*DEFAULT_RULES, *parse_rules(factories.rule("scorecard", min_resolution_rate=0.8, min_csat=0.8)))


class Clock:
    def now_us(self) -> int:
        return AT


def _scrape() -> str:
    events = []
    for raw in (DATA / "scenario.jsonl").read_bytes().splitlines():
        try:
            events.append(decode(raw, AT))
        except InvalidEvent:
            continue  # the scenario holds invalid lines on purpose
    ledger = Ledger(R)
    ledger.apply(0, fold.fold({}, events, 0).outcomes(), AT)
    registry = CollectorRegistry()
    registry.register(SlaCollector(ledger, RULES, Clock()))
    return generate_latest(registry).decode()


def test_names_are_unique_and_in_the_socialsla_namespace() -> None:
    names = [family.name for family in FAMILIES]
    assert len(names) == len(set(names))
    assert all(name.startswith("socialsla_") for name in names)


def test_a_scrape_exports_the_declared_families_with_their_declared_labels() -> None:
    declared = {family.name: family for family in FAMILIES}
    exported = {family.name: family for family in text_string_to_metric_families(_scrape())}
    assert len(exported) >= len(FAMILIES) // 2, sorted(exported)  # the scenario fills most of them
    for name, family in exported.items():
        assert name in declared, f"{name} is exported but declared nowhere"
        assert family.type == declared[name].kind
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == set(declared[name].labels), (name, sample.labels)


def test_the_metrics_reference_documents_every_family() -> None:
    reference = (REPO / "docs" / "metrics.md").read_text()
    assert [family.name for family in FAMILIES if family.name not in reference] == []
