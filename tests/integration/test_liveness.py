"""No stalls: a starved pipeline whose broker freezes for 20 s resumes soon after, and loses nothing.

Busy loops keep both cores oversubscribed beside the worker (as other
processes do on a loaded machine) while a replay runs at full speed, so the
worker holds a backlog and commits take seconds; the broker is then SIGSTOPped
for 20 s (its connections stay open, its answers stop) and SIGCONTed. The worker
must resume counting within a bounded time after the fault ends, read no
partition again (a commit under way once looked like a hole to the commit
guard, and every slow commit re-read all input partitions), and finish with
exactly the report's numbers: nothing lost, nothing double-counted. The
figures of each run are printed (`-s`) for docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import CATCH_UP_S, WORKER_READY_S, Stack, eventually, producing, settles, write_load
from tests.integration.expected import from_report, sla_gauges
from tests.integration.test_outage import Broker
from tests.integration.test_pipeline import AT, offline

#: How long the broker is frozen.
FREEZE_S = 20.0
#: The bound on resuming after the broker is back: a reconnect and a retried request, with room for
#: the starved machine. A stall like the 88 s one (a request waiting out Faust's 90 s timeout) breaks it.
RESUME_S = 45.0
#: Replay rate (0: as fast as the producer goes), and how long into it the broker freezes.
RATE = 0.0
FREEZE_AFTER_S = 5.0
#: Busy loops per core.
HOGS_PER_CORE = 2


@pytest.fixture
def hog() -> Iterator[None]:
    """Busy loops on every core, at the worker's priority: CPU starvation, as on a loaded machine."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(HOGS_PER_CORE * (os.cpu_count() or 2))
    ]
    yield
    for spinner in spinners:
        spinner.kill()
        spinner.wait()


@pytest.fixture
def frozen_broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "kafka")
    broker.run("start")
    yield broker
    pid = int((tmp_path / "kafka" / "kafka.pid").read_text())
    os.kill(pid, signal.SIGCONT)  # whatever happened, never leave it stopped
    broker.run("stop")


def test_starved_pipeline_resumes_after_the_broker_freezes(
    frozen_broker: Broker, hog: None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Under CPU starvation, 20 s of a frozen broker stall the worker no longer than a bounded time after."""
    stack = Stack.create(tmp_path)
    stack.env["SOCIALSLA_BOOTSTRAP_SERVERS"] = frozen_broker.address
    load = tmp_path / "load.jsonl"
    total = write_load(load, seed=11, hours=3, rate=2.0)
    worker = stack.worker()
    request.addfinalizer(worker.stop)
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    producer = producing(stack, load, RATE)
    time.sleep(FREEZE_AFTER_S)
    broker_pid = int((Path(frozen_broker.env["KAFKA_HOME"]) / "kafka.pid").read_text())
    before = worker.consumed()
    os.kill(broker_pid, signal.SIGSTOP)
    time.sleep(FREEZE_S)
    during = worker.consumed()
    os.kill(broker_pid, signal.SIGCONT)
    back = time.monotonic()
    eventually(worker.consumed, lambda n: n > during, RESUME_S, "the worker to count events again")
    resumed = time.monotonic() - back
    assert producer.wait(timeout=CATCH_UP_S * 4) == 0, producer.stderr.read() if producer.stderr else ""
    eventually(worker.consumed, lambda n: n >= total, CATCH_UP_S * 4, f"all {total} events counted")
    settles(lambda: sla_gauges(worker.metrics()), from_report(offline(AT, load.read_bytes().splitlines())),
            CATCH_UP_S, "gauges = report after the freeze")  # fmt: skip
    rereads = worker.metrics()[("socialsla_partition_rereads_total", ())]
    print(
        f"\nliveness: broker frozen {FREEZE_S:.0f}s, {HOGS_PER_CORE * (os.cpu_count() or 2)} busy loops on "
        f"{os.cpu_count()} cores; counted {before:.0f} before, {during - before:.0f} during, resumed "
        f"{resumed:.1f}s after SIGCONT; {total} sent, {worker.consumed():.0f} counted, {rereads:.0f} re-reads"
    )
    assert rereads == 0, (
        "a partition was read again: no hole was left, so a commit under way was taken for one"
    )
