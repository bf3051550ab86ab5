"""The project's broker script: a port in use is named before anything starts."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.harness import free_port

KAFKA = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka.sh"


@pytest.mark.parametrize(
    ("taken", "named"),
    [
        ("KAFKA_PORT", "client port (KAFKA_PORT)"),
        ("KAFKA_CONTROLLER_PORT", "controller port (KAFKA_CONTROLLER_PORT)"),
    ],
    ids=["client", "controller"],
)
def test_a_port_in_use_is_named(taken: str, named: str, tmp_path: Path) -> None:
    """With one of its ports held by another program, the broker does not start and says which port."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**os.environ, "KAFKA_PORT": str(free_port()), "KAFKA_CONTROLLER_PORT": str(free_port()),
               "KAFKA_HOME": str(tmp_path / "kafka"), taken: str(port)}  # fmt: skip
        done = subprocess.run(
            ["bash", str(KAFKA), "start"], env=env, capture_output=True, text=True, check=False
        )
    assert done.returncode == 1
    assert f"cannot start: 127.0.0.1:{port}, the broker's {named}, is already in use" in done.stderr
    assert not (tmp_path / "kafka" / "kafka.pid").exists()
