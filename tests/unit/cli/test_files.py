"""Input files, as every file command reads them: directories, compressed files, the wrong kind."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from socialsla.cli.main import main
from tests.harness import run_command
from tests.paths import DATA


def test_directory_is_refused_by_every_file_command(tmp_path: Path) -> None:
    """report, import twcs and produce name a directory as one, in one line, exit 1."""
    for args in (["report", str(tmp_path)], ["import", "twcs", str(tmp_path)], ["produce", str(tmp_path)]):
        done = run_command(*args)
        assert done.returncode == 1, args
        assert done.stderr.strip().endswith(f"{tmp_path}: is a directory; give a file"), done.stderr
        assert "Traceback" not in done.stderr


def test_compressed_file_is_named(tmp_path: Path) -> None:
    """A gzip file is called compressed, with what to do, not thousands of invalid lines."""
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress((DATA / "scenario.jsonl").read_bytes()))
    done = run_command("report", str(packed))
    assert done.returncode == 1
    assert "gzip-compressed: decompress it first" in done.stderr


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
