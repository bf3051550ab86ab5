"""The offline commands, `report` and `rules check`: exit codes, messages, formats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from socialsla.cli.main import main
from tests.paths import DATA, REPO, SHIPPED_RULES


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


def test_rules_check_lists_calendars_and_warns_about_uncovered_business_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A calendar is listed; a business-clock rule over series no calendar covers is a warning, not an error."""
    book = tmp_path / "book.toml"
    book.write_text(
        '[[rule]]\nname = "office"\nwindow = "7d"\nclock = "business"\nmin_response_rate = 0.9\n'
        '[[calendar]]\nname = "emea"\ntimezone = "Europe/London"\naccounts = ["acme"]\n'
        '[calendar.hours]\nmon = ["09:00-17:00"]\n'
    )
    assert main(["rules", "check", str(book)]) == 0
    out, err = capsys.readouterr()
    assert "ok: office (window 7d; business clock; every series)" in out
    assert "ok: calendar emea (Europe/London, open 1 day a week, 0 holidays; accounts acme)" in out
    assert "warning: rule 'office' uses the business clock but no calendar covers every other account" in err


def test_the_shipped_rules_files_check(capsys: pytest.CaptureFixture[str]) -> None:
    """Every file of rules/ and the demo's rules are valid and raise no warning."""
    root = REPO
    for path in (*sorted((root / "rules").glob("*.toml")), root / "src" / "socialsla" / "cli" / "demo.toml"):
        assert main(["rules", "check", str(path)]) == 0
        assert "warning" not in capsys.readouterr().err


def test_report_with_bad_rules_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """report refuses to run with an unusable rule file."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\n")
    assert main(["report", str(DATA / "scenario.jsonl"), "--rules", str(bad)]) == 1
    assert "name must match" in capsys.readouterr().err


def test_every_invalid_reason_on_request(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """--all-reasons lists each of the scenario's 9 reasons instead of '... and 4 more'."""
    assert main(["report", str(DATA / "scenario.jsonl"), "--all-reasons"]) == 0
    err = capsysbinary.readouterr()[1].decode()
    assert "more reasons" not in err
    assert len([line for line in err.splitlines() if line.startswith("  1 x ")]) == 9
    assert main(["report", str(DATA / "scenario.jsonl")]) == 0
    assert "... and 4 more reasons (--all-reasons lists them)" in capsysbinary.readouterr()[1].decode()


def test_report_of_nothing_usable_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file whose every line is invalid is an error (exit 1), not an empty report that exits 0."""
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("garbage\n{}\n")
    assert main(["report", str(garbage)]) == 1
    err = capsys.readouterr().err
    assert "2 invalid" in err
    assert "no usable event in" in err


def test_a_rule_that_matches_no_series_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Facebook's rules on X's data give '-' everywhere: the report says why instead of staying silent."""
    events = tmp_path / "x.jsonl"
    events.write_text(
        '{"type": "post", "event_id": "p", "conversation_id": "c", "account": "acme", "channel": "x", '
        '"created_at": "2026-01-07T23:00:00Z"}\n'
    )
    rules = SHIPPED_RULES
    assert main(["report", str(events), "--rules", str(rules)]) == 0
    assert (
        "warning: rule 'facebook_very_responsive_2018' (channels facebook) matches no series"
        in capsys.readouterr().err
    )
    assert main(["report", str(events)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_rules_check_lists_every_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """rules check names each bad table of a file with its line, not only the first."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "a"\nwindow = "2h"\n\n[[rule]]\nname = "b"\nwindow = "7d"\n')
    assert main(["rules", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:1: rule 'a': window must be one of" in err
    assert f"{bad}:5: rule 'b': names no condition" in err


def test_report_loads_no_kafka_prometheus_or_faust_client() -> None:
    """`socialsla report` is offline: it imports none of the worker's clients (they are slow to load)."""
    probe = (
        "import sys\n"
        "from socialsla.cli.main import main\n"
        f"code = main(['report', '--at', '2026-01-08T00:00:00Z', {str(DATA / 'scenario.jsonl')!r}])\n"
        "loaded = [m for m in ('aiokafka', 'prometheus_client', 'faust', 'mode', 'aiohttp', 'rocksdict')"
        " if m in sys.modules]\n"
        "print(code, loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stderr.splitlines()[-1] == "0 []", done.stderr


def test_report_waiting_lists_who_waits_in_json_and_as_a_table(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """`report --waiting`: per series every unanswered customer, oldest first, and the one to answer first."""
    args = ["report", str(DATA / "scenario.jsonl"), "--at", "2026-01-08T00:00:00Z", "--waiting"]
    assert main([*args, "--format", "json"]) == 0
    body = orjson.loads(capsysbinary.readouterr().out)
    acme = body["series"][0]
    assert (acme["account"], acme["channel"]) == ("acme", "facebook")
    assert [(w["conversation_id"], w["state"]) for w in acme["waiting"]] == [
        ("c5", "missed"), ("c9", "pending"), ("c12", "pending"),
    ]  # fmt: skip
    assert acme["waiting"][1] == {
        "conversation_id": "c9", "kind": "conversation", "since": "2026-01-07T20:00:00Z",
        "waited_seconds": 14400.0, "state": "pending", "due_in_seconds": 72000.0, "at_risk": [],
    }  # fmt: skip
    assert acme["oldest_unanswered_conversation"] == "c5"
    assert acme["oldest_unanswered_seconds"] == acme["waiting"][0]["waited_seconds"]
    assert all(s["waiting"] == [] and s["oldest_unanswered_conversation"] is None for s in body["series"][1:])
    assert main(args) == 0
    table = capsysbinary.readouterr().out.decode()
    assert "waiting at 2026-01-08T00:00:00Z: 3 unanswered (oldest first)" in table
    assert "c5            conversation  2026-01-06T09:00:00Z   39.0h  missed  -" in table
    assert main([*args[:-1], "--format", "json"]) == 0
    assert "waiting" not in orjson.loads(capsysbinary.readouterr().out)["series"][0]
