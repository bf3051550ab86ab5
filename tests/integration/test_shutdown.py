"""A worker ends when asked, broker or no broker, and a restarted one gets its partitions back at once."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.harness import WORKER_READY_S, Stack, bindable, eventually
from tests.integration.test_outage import Broker

#: The shutdown timeout these tests give their workers (SOCIALSLA_SHUTDOWN_TIMEOUT).
SHUTDOWN_S = 5
#: What a busy machine may add to it: starting the deadline's thread, exiting the interpreter.
MARGIN_S = 10.0
#: The default session timeout (SOCIALSLA_SESSION_TIMEOUT), and Faust's own, which a restart waited out.
SESSION_S = 10.0
FAUST_SESSION_S = 60.0
#: A housekeeping round (every SOCIALSLA_REFRESH_INTERVAL, 5 s by default) finds the broker gone.
NOTICE_S = 30.0


def ended_within(process: subprocess.Popen[bytes], seconds: float) -> float:
    """Seconds the process took to end; fails past `seconds`."""
    began = time.monotonic()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"the worker (pid {process.pid}) still ran {seconds:.0f}s after the signal"
        ) from None
    return time.monotonic() - began


def test_sigterm_ends_a_worker_whose_broker_is_gone(tmp_path: Path) -> None:
    """With its broker stopped first (as a closed demo left it), SIGTERM ends the worker within its
    shutdown timeout, its port free, and its log says so."""
    broker = Broker(tmp_path / "kafka")
    broker.run("start")
    try:
        stack = Stack.create(tmp_path)
        stack.env["SOCIALSLA_BOOTSTRAP_SERVERS"] = broker.address
        worker = stack.worker(SOCIALSLA_SHUTDOWN_TIMEOUT=str(SHUTDOWN_S))
        eventually(
            worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions"
        )
    finally:
        broker.run("stop")
    # the worker notices, as a closed demo leaves it: its housekeeping finds no broker to connect to
    eventually(
        worker.metrics,
        lambda samples: samples.get(("socialsla_broker_reachable", ())) == 0,
        NOTICE_S,
        "the worker to report its broker unreachable",
    )
    assert worker.process is not None
    worker.process.send_signal(signal.SIGTERM)
    ended_within(worker.process, SHUTDOWN_S + MARGIN_S)
    assert bindable(worker.port)
    assert f"socialsla worker: stopping; exiting within {SHUTDOWN_S} s" in worker.log.read_text()


def test_sighup_stops_a_worker_as_sigterm_does(stack: Stack) -> None:
    """A closed terminal or lost SSH session (SIGHUP) stops the worker cleanly, not at once without its commit."""
    worker = stack.worker()
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    assert worker.process is not None
    worker.process.send_signal(signal.SIGHUP)
    ended_within(worker.process, SESSION_S + MARGIN_S)
    assert worker.process.returncode == 0
    log = worker.log.read_text()
    assert "socialsla worker: stopping; exiting within 20 s" in log
    assert "socialsla worker: stopped (" in log


def test_a_worker_killed_and_started_again_owns_its_partitions_within_its_session_timeout(
    stack: Stack,
) -> None:
    """After SIGKILL (Kubernetes, the OOM killer) a worker started again on the same data owns every
    partition once the dead member's session has run out, not after Faust's 60 s."""
    worker = stack.worker("data")
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    worker.stop(signal.SIGKILL)
    restarted = stack.worker("data")
    began = time.monotonic()
    eventually(
        restarted.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the restarted worker's partitions"
    )
    took = time.monotonic() - began
    assert took < FAUST_SESSION_S - MARGIN_S, f"took {took:.1f}s: the dead member's session was waited out"
