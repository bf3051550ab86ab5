"""The command line: exit codes, messages and help."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from socialsla.cli.main import main, parser

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
    root = Path(__file__).resolve().parents[2]
    for path in (*sorted((root / "rules").glob("*.toml")), root / "src" / "socialsla" / "cli" / "demo.toml"):
        assert main(["rules", "check", str(path)]) == 0
        assert "warning" not in capsys.readouterr().err


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


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real console command in a child process, as a person at a terminal runs it."""
    return subprocess.run([sys.executable, "-m", "socialsla.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60, check=False)  # fmt: skip


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


def test_directory_is_refused_by_every_file_command(tmp_path: Path) -> None:
    """report, import twcs and produce name a directory as one, in one line, exit 1."""
    for args in (["report", str(tmp_path)], ["import", "twcs", str(tmp_path)], ["produce", str(tmp_path)]):
        done = run(*args)
        assert done.returncode == 1, args
        assert done.stderr.strip().endswith(f"{tmp_path}: is a directory; give a file"), done.stderr
        assert "Traceback" not in done.stderr


def test_compressed_file_is_named(tmp_path: Path) -> None:
    """A gzip file is called compressed, with what to do, not thousands of invalid lines."""
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress((DATA / "scenario.jsonl").read_bytes()))
    done = run("report", str(packed))
    assert done.returncode == 1
    assert "gzip-compressed: decompress it first" in done.stderr


def test_every_invalid_reason_on_request(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """--all-reasons lists each of the scenario's 9 reasons instead of '... and 4 more'."""
    assert main(["report", str(DATA / "scenario.jsonl"), "--all-reasons"]) == 0
    err = capsysbinary.readouterr()[1].decode()
    assert "more reasons" not in err
    assert len([line for line in err.splitlines() if line.startswith("  1 x ")]) == 9
    assert main(["report", str(DATA / "scenario.jsonl")]) == 0
    assert "... and 4 more reasons (--all-reasons lists them)" in capsysbinary.readouterr()[1].decode()


@pytest.mark.parametrize("command", ["produce", "generate"])
def test_no_broker_is_one_line(command: str, tmp_path: Path) -> None:
    """With nothing listening at the bootstrap address, the traffic tools say so in one line, exit 1."""
    events = tmp_path / "e.jsonl"
    events.write_bytes((DATA / "scenario.jsonl").read_bytes())
    args = [command, str(events)] if command == "produce" else [command, "--duration", "1s"]
    done = run(*args, env={"SOCIALSLA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}"})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"socialsla {command}: no Kafka broker answers at 127.0.0.1:" in done.stderr


@pytest.mark.parametrize("command", ["worker", "demo"])
def test_metrics_port_in_use_is_one_line(command: str) -> None:
    """A worker or demo whose /metrics port is taken says which port, before touching Kafka."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run(
            command, env={"SOCIALSLA_WEB_PORT": str(port), "SOCIALSLA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
        )
    assert done.returncode == 1
    assert f"cannot serve /metrics on 127.0.0.1:{port}" in done.stderr
    assert "SOCIALSLA_WEB_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_has_no_formatting_glitches(capsys: pytest.CaptureFixture[str]) -> None:
    """Top-level help reads '90%' (not '90%%'); the rules file shows one default, not two."""
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "90% answered" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    rules_line = next(line for line in capsys.readouterr().out.splitlines() if "SOCIALSLA_RULES_FILE" in line)
    assert rules_line.count("default") == 1


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_worker_without_a_broker_says_it_waits_then_why_it_gives_up() -> None:
    """The worker announces its wait for a broker that may be starting, then exits 1 with what to do."""
    done = run("worker", env={"SOCIALSLA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}",
                              "SOCIALSLA_WEB_PORT": str(closed_port()), "SOCIALSLA_BROKER_WAIT": "6"})  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0].endswith("yet; trying for up to 6s")
    assert "(tried for 6s); last error: Unable connect to" in lines[1]
    assert lines[1].endswith("start one (deploy/kafka/kafka.sh start) or set SOCIALSLA_BOOTSTRAP_SERVERS")
    assert len(lines) == 2


def test_version_and_a_bare_command(capsys: pytest.CaptureFixture[str]) -> None:
    """--version says the installed version; a bare `socialsla` prints its help (with every command) and exits 0."""
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("socialsla 0.")
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("report", "worker", "demo", "receiver", "generate", "produce"):
        assert command in out


def test_a_usage_error_is_one_line_with_a_pointer_to_help(capsys: pytest.CaptureFixture[str]) -> None:
    """A date-only --at says what to write instead, in one line, without the whole usage first."""
    with pytest.raises(SystemExit) as caught:
        main(["report", "x.jsonl", "--at", "2017-10-12"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "write 2017-10-12T00:00:00Z" in err
    assert "(see socialsla report --help)" in err
    assert "usage:" not in err


def test_report_of_nothing_usable_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file whose every line is invalid is an error (exit 1), not an empty report that exits 0."""
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("garbage\n{}\n")
    assert main(["report", str(garbage)]) == 1
    err = capsys.readouterr().err
    assert "2 invalid" in err
    assert "no usable event in" in err


@pytest.mark.parametrize(
    ("content", "command", "expected"),
    [
        (
            (DATA / "twcs-sample.csv").read_bytes(),
            "report",
            "this is the twcs CSV, not events; convert it first: socialsla import twcs",
        ),
        (b"\x00\x01binary", "report", "binary data, not text: give JSON Lines events"),
        (
            b"\xf8\xf9abc" * 10,
            "import",
            'binary data, not text: give the "Customer Support on Twitter" CSV',
        ),
    ],
    ids=["csv-to-report", "binary-to-report", "binary-to-import"],
)
def test_the_wrong_kind_of_file_gets_a_hint(
    content: bytes, command: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twcs CSV handed to report says to import it; binary data says it is not text; both exit 1."""
    path = tmp_path / "input"
    path.write_bytes(content)
    argv = ["report", str(path)] if command == "report" else ["import", "twcs", str(path)]
    assert main(argv) == 1
    assert expected in capsys.readouterr().err


def test_a_rule_that_matches_no_series_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Facebook's rules on X's data give '-' everywhere: the report says why instead of staying silent."""
    events = tmp_path / "x.jsonl"
    events.write_text(
        '{"type": "post", "event_id": "p", "conversation_id": "c", "account": "acme", "channel": "x", '
        '"created_at": "2026-01-07T23:00:00Z"}\n'
    )
    rules = Path(__file__).parents[2] / "rules" / "facebook-2018.toml"
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
