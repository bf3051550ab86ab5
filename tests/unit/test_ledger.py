"""Stage 2's ledger: outcomes in, series per owned partition, expiry into totals."""

from __future__ import annotations

from socialsla.events import MICROS
from socialsla.ledger import Ledger, Totals, conversation_row, totals_row
from socialsla.outcome import Outcome

H = 3600 * MICROS
R = 24 * H
T0 = 1_767_225_600 * MICROS


def outcome(cid: str, opened: int | None, first: int | None, channel: str = "facebook") -> Outcome:
    return Outcome("acme", channel, cid, opened, first, opened or T0)


def test_outcomes_are_idempotent() -> None:
    """The same outcome applied twice changes the series once."""
    ledger = Ledger(R)
    assert ledger.apply(0, outcome("c1", T0, T0 + H))
    assert not ledger.apply(0, outcome("c1", T0, T0 + H))
    (series,) = list(ledger)
    assert len(series.windows) == 1


def test_dropping_a_partition_removes_its_series() -> None:
    """A revoked partition's series leave the ledger at once."""
    ledger = Ledger(R)
    ledger.apply(0, outcome("c1", T0, None))
    ledger.apply(1, outcome("c2", T0, None, channel="x"))
    ledger.drop(0)
    assert [(s.account, s.channel) for s in ledger] == [("acme", "x")]


def test_restore_rebuilds_from_table_rows() -> None:
    """Rows written for outcomes and totals rebuild the same series in another ledger."""
    source = Ledger(R)
    first, second = outcome("c1", T0, T0 + 60 * MICROS), outcome("c2", T0 + H, None)
    for item in (first, second):
        source.apply(3, item)
    (series,) = list(source)
    series.expired.responded = 5
    rows = [conversation_row(first), conversation_row(second), totals_row(series)]
    target = Ledger(R)
    for key, value in rows:
        target.restore(3, key, value)
    (copy,) = list(target)
    assert sorted(copy.windows.records()) == sorted(series.windows.records())
    assert copy.expired.responded == 5


def test_expiry_moves_contribution_into_totals() -> None:
    """Expired conversations leave the windows but stay in the lifetime counters."""
    ledger = Ledger(R)
    ledger.apply(0, outcome("old-answered", T0, T0 + 60 * MICROS))
    ledger.apply(0, outcome("old-missed", T0, None))
    ledger.apply(0, outcome("recent", T0 + 8 * 24 * H, None))
    (series,) = list(ledger)
    now = T0 + 9 * 24 * H
    before = series.lifetime(series.windows.evaluate(now, lifetime=True))
    dropped = ledger.expire(series, now)
    after = series.lifetime(series.windows.evaluate(now, lifetime=True))
    assert sorted(dropped) == ["old-answered", "old-missed"]
    assert after == before
    assert (series.expired.responded, series.expired.missed) == (1, 1)


def test_totals_round_trip() -> None:
    """Totals survive serialisation."""
    totals = Totals(1, 2, 3, 4, [5] * 13)
    assert Totals.from_bytes(totals.to_bytes()) == totals
