"""What every command that needs Kafka or a port checks first, and says in one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from socialsla.cli.startup import settings_epilog
from socialsla.stream.settings import Settings
from tests.harness import closed_port, run_command
from tests.paths import DATA


@pytest.mark.parametrize("command", ["produce", "generate"])
def test_no_broker_is_one_line(command: str, tmp_path: Path) -> None:
    """With nothing listening at the bootstrap address, the traffic tools say so in one line, exit 1."""
    events = tmp_path / "e.jsonl"
    events.write_bytes((DATA / "scenario.jsonl").read_bytes())
    args = [command, str(events)] if command == "produce" else [command, "--duration", "1s"]
    done = run_command(*args, env={"SOCIALSLA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}"})
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
        done = run_command(
            command, env={"SOCIALSLA_WEB_PORT": str(port), "SOCIALSLA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
        )
    assert done.returncode == 1
    assert f"cannot serve /metrics on 127.0.0.1:{port}" in done.stderr
    assert "SOCIALSLA_WEB_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_worker_without_a_broker_says_it_waits_then_why_it_gives_up() -> None:
    """The worker announces its wait for a broker that may be starting, then exits 1 with what to do."""
    done = run_command("worker", env={"SOCIALSLA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}",
                              "SOCIALSLA_WEB_PORT": str(closed_port()), "SOCIALSLA_BROKER_WAIT": "6"})  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0].endswith("yet; trying for up to 6s")
    assert "(tried for 6s); last error: Unable connect to" in lines[1]
    assert lines[1].endswith("start one (deploy/kafka/kafka.sh start) or set SOCIALSLA_BOOTSTRAP_SERVERS")
    assert len(lines) == 2


def test_bad_settings_are_listed_together_before_anything_starts() -> None:
    """Every bad variable is named in one message, then exit 1: no traceback, no broker contacted."""
    done = run_command("worker", env={"SOCIALSLA_WEB_PORT": "http", "SOCIALSLA_PARTITIONS": "0"})
    assert done.returncode == 1
    assert done.stderr.startswith("socialsla: bad settings:\n")
    assert "SOCIALSLA_WEB_PORT" in done.stderr
    assert "SOCIALSLA_PARTITIONS" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_help_of_a_command_lists_every_setting_with_its_default() -> None:
    epilog = settings_epilog()
    for variable, value in Settings().describe():
        (line,) = [line for line in epilog.splitlines() if line.split()[:1] == [variable]]
        if value:
            assert f"[default: {value}]" in line
