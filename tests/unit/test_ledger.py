"""Stage 2's ledger: outcomes in, series per owned partition and the table rows to write, expiry into totals."""

from __future__ import annotations

from socialsla import rows
from socialsla.conversation import Wait
from socialsla.events import MICROS
from socialsla.ledger import Ledger, Totals
from socialsla.outcome import Outcome

H = 3600 * MICROS
R = 24 * H
T0 = 1_767_225_600 * MICROS
DAY = 24 * H


def outcome(cid: str, opened: int | None, first: int | None, channel: str = "facebook") -> Outcome:
    waits = () if opened is None else (Wait(opened, first, True),)
    return Outcome("acme", channel, cid, waits, opened or T0)


def test_outcomes_are_idempotent() -> None:
    """The same outcome applied twice keeps one record, written both times (a changelog may need it)."""
    ledger = Ledger(R)
    first = ledger.apply(0, [outcome("c1", T0, T0 + H)], T0)
    again = ledger.apply(0, [outcome("c1", T0, T0 + H)], T0)
    (series,) = list(ledger)
    assert len(series.windows) == 1
    record = rows.series_key(0, "acme", "facebook", "c1")
    assert first.puts[record] == again.puts[record] == rows.record_value((Wait(T0, T0 + H, True),))


def test_a_new_series_gets_its_totals_row_at_first_sight() -> None:
    """A series seen first by a reply alone (no opened conversation) still gets a row, so a handover keeps it."""
    writes = Ledger(R).apply(2, [outcome("c1", None, T0)], T0)
    assert writes.puts == {rows.series_key(2, "acme", "facebook"): Totals().to_bytes()}


def test_dropping_a_partition_removes_its_series() -> None:
    """A revoked partition's series leave the ledger at once."""
    ledger = Ledger(R)
    ledger.apply(0, [outcome("c1", T0, None)], T0)
    ledger.apply(1, [outcome("c2", T0, None, channel="x")], T0)
    ledger.drop(0)
    assert [(s.account, s.channel) for s in ledger] == [("acme", "x")]


def test_restore_rebuilds_from_the_rows_apply_wrote() -> None:
    """The rows apply asks to write rebuild the same series, with their totals, in another ledger."""
    source = Ledger(R)
    table: dict[bytes, bytes] = {}
    table.update(source.apply(3, [outcome("c1", T0, T0 + 60 * MICROS), outcome("c2", T0 + H, None)], T0).puts)
    (series,) = list(source)
    series.expired.responded = 5
    table[series.totals_key(3)] = series.expired.to_bytes()
    target = Ledger(R)
    for key, value in table.items():
        target.restore(key, value)
    (copy,) = list(target)
    assert sorted(copy.windows.threads()) == sorted(series.windows.threads())
    assert copy.expired.responded == 5
    assert list(target.partitions) == [3]


def test_expiry_moves_contribution_into_totals() -> None:
    """Expired conversations leave the windows but stay in the lifetime counters."""
    ledger = Ledger(R)
    ledger.apply(0, [outcome("old-answered", T0, T0 + 60 * MICROS), outcome("old-missed", T0, None),
                     outcome("recent", T0 + 8 * DAY, None)], T0)  # fmt: skip
    (series,) = list(ledger)
    now = T0 + 9 * DAY
    before = series.lifetime(series.windows.evaluate(now, lifetime=True))
    dropped = ledger.expire(series, now)
    after = series.lifetime(series.windows.evaluate(now, lifetime=True))
    assert sorted(dropped) == ["old-answered", "old-missed"]
    assert after == before
    assert (series.expired.responded, series.expired.missed) == (1, 1)


def test_apply_deletes_the_rows_of_what_expired_and_rewrites_the_totals() -> None:
    """Expiry during apply deletes the expired records' rows and puts the new totals row."""
    ledger = Ledger(R, expire_every_us=H)
    ledger.apply(0, [outcome("old", T0, T0 + 60 * MICROS)], T0)
    writes = ledger.apply(0, [outcome("new", T0 + 9 * DAY, None)], T0 + 9 * DAY)
    assert writes.deletes == {rows.series_key(0, "acme", "facebook", "old")}
    assert writes.expired == 1
    (series,) = list(ledger)
    assert writes.puts[series.totals_key(0)] == series.expired.to_bytes()
    assert Totals.from_bytes(writes.puts[series.totals_key(0)]).responded == 1


def test_expiry_runs_at_most_once_per_interval_of_the_clock() -> None:
    """Within expire_every_us of the last expiry, nothing is expired even when due."""
    ledger = Ledger(R, expire_every_us=10 * DAY)
    ledger.apply(0, [outcome("old", T0, None)], T0)  # the first sight expires (nothing yet)
    early = ledger.apply(
        0, [outcome("x", T0 + 9 * DAY, None)], T0 + 9 * DAY
    )  # "old" is due, the interval not
    due = ledger.apply(0, [outcome("y", T0 + 9 * DAY, None)], T0 + 10 * DAY)
    assert (early.expired, due.expired) == (0, 1)


def test_totals_round_trip() -> None:
    """Totals survive serialisation."""
    totals = Totals(1, 2, 3, 4, [5] * 13)
    assert Totals.from_bytes(totals.to_bytes()) == totals


def test_a_replaced_thread_leaves_no_stale_row_or_record() -> None:
    """A late event that merges two conversations (a reply breaking the silence) replaces the thread whole."""
    ledger = Ledger(R)
    two = (Wait(T0, T0 + H, True), Wait(T0 + 2 * DAY, T0 + 2 * DAY + H, True))
    ledger.apply(0, [Outcome("acme", "facebook", "c1", two, T0)], T0 + 3 * DAY)
    merged = (Wait(T0, T0 + H, True), Wait(T0 + 2 * DAY, T0 + 2 * DAY + H, False))
    writes = ledger.apply(0, [Outcome("acme", "facebook", "c1", merged, T0 + DAY)], T0 + 3 * DAY)
    (series,) = list(ledger)
    assert list(series.windows.threads()) == [("c1", merged)]
    week = series.windows.evaluate(T0 + 3 * DAY).windows["7d"]
    assert week.next_reply is not None
    assert (week.inbound, week.next_reply.inbound) == (1, 1)
    assert writes.puts[rows.series_key(0, "acme", "facebook", "c1")] == rows.record_value(merged)


def test_a_long_thread_keeps_its_newer_waits_when_old_ones_expire() -> None:
    """Expiry drops a thread's waits past the horizon, rewrites its row with the rest, and never takes them back."""
    ledger = Ledger(R, expire_every_us=H)
    old, new = Wait(T0, T0 + H, True), Wait(T0 + 9 * DAY, None, False)
    ledger.apply(0, [Outcome("acme", "facebook", "c1", (old,), T0)], T0)
    writes = ledger.apply(0, [Outcome("acme", "facebook", "c1", (old, new), T0 + 9 * DAY)], T0 + 9 * DAY)
    key = rows.series_key(0, "acme", "facebook", "c1")
    assert writes.puts[key] == rows.record_value((new,))
    (series,) = list(ledger)
    assert series.expired.responded == 1
    # stage 1 re-sends the whole thread later: the expired wait is not counted again
    ledger.apply(0, [Outcome("acme", "facebook", "c1", (old, new), T0 + 9 * DAY)], T0 + 9 * DAY + 1)
    life = series.lifetime(series.windows.evaluate(T0 + 9 * DAY + 1, lifetime=True))
    assert life.responded == 1
