"""The command line: exit codes, messages and help."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from socialsla.cli import main

DATA = Path(__file__).parent.parent / "data"


def test_report_json_on_stdout_and_summary_on_stderr(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """report --format json prints the document; the invalid-line summary goes to stderr."""
    code = main(["report", str(DATA / "scenario.jsonl"), "--at", "2026-01-08T00:00:00Z", "--format", "json"])
    out, err = capsysbinary.readouterr()
    assert code == 0
    assert orjson.loads(out)["at"] == "2026-01-08T00:00:00Z"
    assert b"9 invalid" in err
    assert b"(line 31)" in err


def test_report_accepts_epoch_at(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """--at also takes epoch seconds."""
    assert main(["report", str(DATA / "scenario.jsonl"), "--at", "1767830400", "--format", "json"]) == 0
    assert orjson.loads(capsysbinary.readouterr()[0])["at"] == "2026-01-08T00:00:00Z"


def test_missing_file_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing events file is a clear error, not a traceback."""
    assert main(["report", "/nonexistent.jsonl"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_bad_at_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A naive --at is refused by the argument parser."""
    with pytest.raises(SystemExit) as caught:
        main(["report", "x.jsonl", "--at", "2026-01-01T00:00:00"])
    assert caught.value.code == 2
    assert "no UTC offset" in capsys.readouterr().err


def test_rules_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """rules check lists good rules and exits 1 with the reason for a bad file."""
    good = tmp_path / "good.toml"
    good.write_text('[[rule]]\nname = "fast"\nwindow = "1h"\nmax_avg_first_reply_seconds = 60\n')
    assert main(["rules", "check", str(good)]) == 0
    assert "ok: fast (window 1h; every series)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "fast"\nwindow = "2h"\n')
    assert main(["rules", "check", str(bad)]) == 1
    assert "window must be one of 1h, 24h, 7d" in capsys.readouterr().err


def test_report_with_bad_rules_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """report refuses to run with an unusable rule file."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\n")
    assert main(["report", str(DATA / "scenario.jsonl"), "--rules", str(bad)]) == 1
    assert "name must match" in capsys.readouterr().err


def test_help_explains(capsys: pytest.CaptureFixture[str]) -> None:
    """--help of report describes T and the response window."""
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = capsys.readouterr().out
    assert "--at" in text
    assert "--response-window" in text
