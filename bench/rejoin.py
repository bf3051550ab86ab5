"""How long a worker killed with SIGKILL and started again takes to own all its partitions.

    KAFKA_PORT=9192 deploy/kafka/kafka.sh start
    python bench/rejoin.py --bootstrap 127.0.0.1:9192 --session-timeout 60 --session-timeout 10

For each session timeout (SOCIALSLA_SESSION_TIMEOUT), in a group of its own: start a
worker, wait until it owns every partition, SIGKILL it, start it again on the same data
directory and time until `/healthz` lists every partition as owned and rebuilt. The
dead member holds its partitions until its session runs out, so the restart waits about
that long. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from children import Child, wait_for

PARTITIONS = 4


def healthz(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return dict(json.loads(response.read()))
    except OSError:
        return {}


def owns_all(port: int) -> bool:
    health = healthz(port)
    every = list(range(PARTITIONS))
    return health.get("owned_partitions") == every and health.get("input_partitions_loaded") == every


def start(env: dict[str, str], log: Path) -> Child:
    command = [sys.executable, "-m", "socialsla.cli", "worker"]
    return Child.start(f"the worker on port {env['SOCIALSLA_WEB_PORT']}", command, log, env)


def own_all(worker: Child, port: int, limit: float) -> float:
    """Seconds until the worker owns every partition; ends early if it exits."""
    began = time.monotonic()
    wait_for(lambda: owns_all(port), worker, limit, "it to own every partition", 0.1)
    return time.monotonic() - began


def one(bootstrap: str, session_timeout: float, port: int, tmp: Path) -> float:
    tag = f"rejoin{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "SOCIALSLA_BOOTSTRAP_SERVERS": bootstrap, "SOCIALSLA_APP_ID": tag,
           "SOCIALSLA_TOPIC_POSTS": f"{tag}.posts", "SOCIALSLA_TOPIC_REPLIES": f"{tag}.replies",
           "SOCIALSLA_TOPIC_OUTCOMES": f"{tag}.outcomes", "SOCIALSLA_TOPIC_DEADLETTER": f"{tag}.deadletter",
           "SOCIALSLA_PARTITIONS": str(PARTITIONS), "SOCIALSLA_WEB_PORT": str(port),
           "SOCIALSLA_DATA_DIR": str(tmp / tag), "SOCIALSLA_REFRESH_INTERVAL": "0.5",
           "SOCIALSLA_SESSION_TIMEOUT": f"{session_timeout:g}"}  # fmt: skip
    log = tmp / f"{tag}.log"
    worker = start(env, log)
    try:
        own_all(worker, port, 120)
        worker.kill()
        worker = start(env, log)
        return own_all(worker, port, 4 * session_timeout + 60)
    finally:
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bootstrap", default="127.0.0.1:9092", help="the Kafka broker (default: %(default)s)"
    )
    parser.add_argument(
        "--session-timeout", type=float, action="append",
        help="SOCIALSLA_SESSION_TIMEOUT in seconds; repeat to compare (default: 10)",
    )  # fmt: skip
    parser.add_argument("--port", type=int, default=7077, help="the worker's web port (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds over every session timeout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for session_timeout in args.session_timeout or [10.0]:
                took = one(args.bootstrap, session_timeout, args.port, Path(tmp))
                figures = {"session_timeout_s": session_timeout, "restart_to_all_owned_s": round(took, 1)}
                print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
