"""Loading owned partitions from the stage-2 table."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from socialsla import rows
from socialsla.conversation import Wait
from socialsla.ledger import Ledger
from socialsla.ownership import Ownership

R = 24 * 3600 * 1_000_000


class Table(dict[bytes, bytes]):
    name = "series"


def test_load_takes_the_rows_of_its_partitions_only() -> None:
    """Rows of other partitions stay out of the ledger; a partition's own come in."""
    table = Table({
        rows.series_key(1, "acme", "x", "c1"): rows.record_value((Wait(5, None, True),)),
        rows.series_key(11, "acme", "y", "c2"): rows.record_value((Wait(6, None, True),)),
    })  # fmt: skip
    ledger = Ledger(R)
    Ownership(None, "outcomes", table, ledger).load({1})
    assert [(s.account, s.channel) for s in ledger] == [("acme", "x")]


def test_rows_of_the_old_key_format_are_ignored_and_said(caplog: pytest.LogCaptureFixture) -> None:
    """Keys without an input partition (before 0.2) and one-conversation rows (before 0.3) do not crash
    the load; the log says what to do."""
    table: Any = Table({
        b"acme|x|c1": rows.record_value((Wait(5, None, True),)),
        b"acme|x": b"[0,0,0,0,[]]",
        rows.series_key(0, "acme", "x", "c2"): b"[5,null]",
    })  # fmt: skip
    ownership = Ownership(None, "outcomes", table, Ledger(R))
    with caplog.at_level(logging.ERROR, logger="socialsla"):
        ownership.load({0})
    assert ownership.loaded == {0}
    assert "3 rows of table series" in caplog.text
    assert "SOCIALSLA_APP_ID" in caplog.text
