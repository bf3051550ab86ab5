"""Which series a rule or a calendar takes: a list left out takes every series, a list takes those it names."""

from __future__ import annotations

import pytest

from socialsla.core.rulebook import parse_book
from socialsla.core.selectors import selects
from tests import factories

ACME, X = frozenset({"acme"}), frozenset({"x"})


@pytest.mark.parametrize(
    ("accounts", "channels", "series", "taken"),
    [(None, None, ("globex", "facebook"), True), (ACME, None, ("acme", "x"), True), (ACME, None, ("globex", "x"), False),
     (None, X, ("acme", "x"), True), (None, X, ("acme", "facebook"), False), (ACME, X, ("acme", "x"), True),
     (ACME, X, ("acme", "facebook"), False), (ACME, X, ("globex", "x"), False)],
)  # fmt: skip
def test_a_series_is_taken_when_every_given_list_names_it(
    accounts: frozenset[str] | None, channels: frozenset[str] | None, series: tuple[str, str], taken: bool
) -> None:
    assert selects(accounts, channels, *series) is taken


def test_rules_and_calendars_take_the_same_series_by_the_same_lists() -> None:
    """A rule and a calendar with the same lists take the same series; one without lists takes every series."""
    book = parse_book(
        factories.rule("everywhere", min_response_rate=0.9)
        + factories.rule("acme_x", min_response_rate=0.9, accounts=["acme"], channels=["x"])
        + '[[calendar]]\nname = "acme_x"\ntimezone = "UTC"\naccounts = ["acme"]\nchannels = ["x"]\n'
        + '[calendar.hours]\nmon = ["09:00-17:00"]\n'
    )
    everywhere, acme_x = book.rules
    (calendar,) = book.calendars
    for series in [("acme", "x"), ("acme", "facebook"), ("globex", "x")]:
        assert everywhere.applies(*series)
        assert acme_x.applies(*series) == calendar.applies(*series) == (series == ("acme", "x"))
