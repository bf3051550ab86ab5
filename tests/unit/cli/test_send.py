"""The traffic commands, `produce` and `generate`: their flags."""

from __future__ import annotations

import pytest

from socialsla.cli.main import parser


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--rate", "0"], "0 must be more than 0"),
        (["generate", "--rate", "-1"], "-1 must be more than 0"),
        (["generate", "--rate", "fast"], "'fast' is not a number"),
        (["generate", "--unanswered", "1.5"], "1.5 must be at least 0 and at most 1"),
        (["generate", "--backfill", "soon"], "is not a duration like 90s, 15m, 24h, 1h30m or 7d, or 0"),
        (["produce", "x.jsonl", "--events-per-second", "-5"], "-5 must be at least 0"),
        (["demo", "--refresh", "0"], "0 must be more than 0"),
    ],
    ids=[
        "rate-zero",
        "rate-negative",
        "rate-word",
        "share-above-one",
        "backfill-word",
        "produce-negative",
        "refresh-zero",
    ],
)
def test_bad_traffic_flags_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Out-of-range traffic flags exit 2 with the reason, before anything connects."""
    with pytest.raises(SystemExit) as caught:
        parser().parse_args(args)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "0s"], ids=["zero", "zero-seconds"])
def test_backfill_zero_means_none(value: str) -> None:
    """--backfill 0 is accepted, as its help says: no history."""
    assert parser().parse_args(["generate", "--backfill", value, "--duration", value]).backfill == 0.0
