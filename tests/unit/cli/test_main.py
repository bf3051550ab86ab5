"""The command line as a whole: help, version, usage errors."""

from __future__ import annotations

import pytest

from socialsla.cli.main import main


def test_help_explains(capsys: pytest.CaptureFixture[str]) -> None:
    """--help of report describes T and the response window."""
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = capsys.readouterr().out
    assert "--at" in text
    assert "--response-window" in text


def test_help_has_no_formatting_glitches(capsys: pytest.CaptureFixture[str]) -> None:
    """Top-level help reads '90%' (not '90%%'); the rules file shows one default, not two."""
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "90% answered" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    rules_line = next(line for line in capsys.readouterr().out.splitlines() if "SOCIALSLA_RULES_FILE" in line)
    assert rules_line.count("default") == 1


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
