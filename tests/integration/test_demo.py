"""The main command as a newcomer runs it: `deploy/run demo` from a wiped broker, again, Ctrl-C and SIGHUP.

The broker here is the demo's own (deploy/run starts it in an empty KAFKA_HOME
on free ports and stops it at the end), so the test starts exactly where a
fresh clone does: no topics, no group, no store.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.harness import Samples, as_a_terminal_job, bindable, eventually, free_port, parse_metrics
from tests.integration.conftest import ARTIFACTS

REPO = Path(__file__).resolve().parents[2]
#: The demo's first screen with every series: a broker from scratch, Faust's start, the backfill.
DEMO_READY_S = 180.0
STOP_S = 90.0
#: What `socialsla demo` generates by default: 3 accounts x 3 channels.
SERIES = {(a, c) for a in ("acme", "globex", "initech") for c in ("facebook", "instagram", "x")}


@dataclass
class Demo:
    """One `deploy/run demo` process group, with its ports and broker home."""

    process: subprocess.Popen[bytes]
    output: Path
    ports: dict[str, int]
    kafka_home: Path

    def metrics(self) -> Samples:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['web']}/metrics", timeout=3) as r:
                return parse_metrics(r.read().decode())
        except OSError:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the demo exited ({self.process.returncode}):\n{self.text()[-3000:]}"
                ) from None
            return {}

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def interrupt(self) -> int:
        """Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=STOP_S)


def board_series(page: str) -> set[tuple[str, str]]:
    """The series the on-call page at `page` would show (its `board` JSON)."""
    try:
        with urllib.request.urlopen(f"{page}board", timeout=3) as r:
            return {(c["account"], c["channel"]) for c in orjson.loads(r.read())["series"]}
    except OSError:
        return set()


def inbound(samples: Samples) -> dict[tuple[str, str], float]:
    """7-day inbound conversations per (account, channel)."""
    out = {}
    for (name, labels), value in samples.items():
        found = dict(labels)
        if name == "socialsla_conversations" and found["state"] == "inbound" and found["window"] == "7d":
            out[(found["account"], found["channel"])] = value
    return out


@pytest.fixture
def demo_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, int], Path]]:
    ports = {"kafka": free_port(), "controller": free_port(), "web": free_port(), "ingest": free_port()}
    home = tmp_path / "kafka"
    # Nothing of the test run's own broker or settings leaks in: the demo runs on its embedded defaults.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCIALSLA_", "KAFKA_"))}
    env |= {"KAFKA_PORT": str(ports["kafka"]), "KAFKA_CONTROLLER_PORT": str(ports["controller"]),
            "KAFKA_HOME": str(home), "SOCIALSLA_WEB_PORT": str(ports["web"]),
            "SOCIALSLA_INGEST_PORT": str(ports["ingest"])}  # fmt: skip
    yield env, ports, home
    # Whatever happened, leave no broker behind.
    subprocess.run(["bash", str(REPO / "deploy" / "kafka" / "kafka.sh"), "stop"], env=env, check=False,
                   capture_output=True)  # fmt: skip


def start_demo(
    env: dict[str, str],
    ports: dict[str, int],
    home: Path,
    output: Path,
    request: pytest.FixtureRequest,
    *first: str,
) -> Demo:
    log_dir = output.parent / "demo"
    process = subprocess.Popen(
        ["bash", str(REPO / "deploy" / "run"), "demo", *first, "--log-dir", str(log_dir)],
        cwd=REPO,
        env=env,
        stdout=open(output, "wb"),  # noqa: SIM115 - the child holds it
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=as_a_terminal_job,
    )
    request.addfinalizer(lambda: kill_demo(process, output))
    return Demo(process, output, ports, home)


def worker_pid(output: Path, child: str = "worker") -> int | None:
    found = re.search(child + r" started \(pid (\d+)\)", output.read_text(errors="replace"))
    return int(found.group(1)) if found else None


def kill_demo(process: subprocess.Popen[bytes], output: Path) -> None:
    """After the test, pass or fail, nothing of the demo outlives it: its group, and its worker's session."""
    for group in (process.pid, worker_pid(output), worker_pid(output, "gateway")):
        if group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    process.wait()


def gone(pid: int) -> bool:
    """Whether a process has ended (a zombie awaiting its reaper counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def answering(samples: Samples) -> set[tuple[str, str]]:
    """The series with conversations answered in the last 24 hours."""
    return {
        (dict(labels)["account"], dict(labels)["channel"])
        for (name, labels), value in samples.items()
        if name == "socialsla_conversations"
        and value > 0
        and dict(labels).get("state") == "responded"
        and dict(labels).get("window") == "24h"
    }


def scorecards(samples: Samples) -> dict[str, set[tuple[str, str]]]:
    """The series with a 24-hour resolution rate, and those with a 24-hour CSAT."""
    found: dict[str, set[tuple[str, str]]] = {"socialsla_resolution_rate": set(), "socialsla_csat": set()}
    for (name, labels), _ in samples.items():
        tags = dict(labels)
        if name in found and tags.get("window") == "24h" and tags.get("clock", "wall") == "wall":
            found[name].add((tags["account"], tags["channel"]))
    return found


def carried(samples: Samples) -> bool:
    """What each network can say reached /metrics: initech answers in Chatwoot, which carries resolutions
    and CSAT; Meta's feedback cards carry acme's and globex's CSAT; neither Meta nor X knows resolutions."""
    found, answers = scorecards(samples), answering(samples)
    chatwoot = {s for s in answers if s[0] == "initech"}
    meta = {s for s in answers if s[0] != "initech" and s[1] != "x"}
    return (
        bool(chatwoot and meta)
        and chatwoot <= found["socialsla_resolution_rate"] & found["socialsla_csat"]
        and meta <= found["socialsla_csat"]
        and not {s for s in found["socialsla_resolution_rate"] if s[0] != "initech"}
    )


def deliveries(port: int) -> dict[str, float]:
    """The demo gateway's deliveries answered 200, per platform."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
            samples = parse_metrics(r.read().decode())
    except OSError:
        return {}
    return {dict(labels)["platform"]: value for (name, labels), value in samples.items()
            if name == "socialsla_ingest_deliveries_total" and dict(labels)["code"] == "200"}  # fmt: skip


def accepted(samples: Samples) -> float:
    return sum(v for (name, labels), v in samples.items()
               if name == "socialsla_events_total" and dict(labels)["outcome"] == "accepted")  # fmt: skip


def lag(samples: Samples) -> float:
    found = [v for (name, _), v in samples.items() if name == "socialsla_consumer_lag"]
    return sum(found) if found else float("inf")


def events_sent(text: str) -> int:
    """The generator's count on the demo's latest screen."""
    counts = re.findall(r"([\d,]+) events sent", text)
    return int(counts[-1].replace(",", "")) if counts else 0


def look_at_the_wall(browser: Any, url: str) -> None:
    """The demo's page as a wall shows it: every series' summary row within 1920x1080, nothing to scroll to;
    in each series, the customers to answer now above the missed ones. Screenshots at the wall's size and a
    laptop's are kept."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1920, 1080), (1366, 768)):
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url)
        page.wait_for_function(f"document.querySelectorAll('#wall-rows tr').length === {len(SERIES)}",
                               timeout=30_000)  # fmt: skip
        rows = page.locator("#wall-rows tr")
        for index in range(rows.count()):
            box = rows.nth(index).bounding_box()
            assert box is not None, f"row {index} is hidden at {width}x{height}"
            assert box["y"] + box["height"] <= height, f"row {index} is below the fold at {width}x{height}"
        assert page.locator("#pager").inner_text() == ""  # one page: no rotation needed for nine
        for section in page.locator("section.series-card").all():
            act, backlog = section.locator(".act").bounding_box(), section.locator(".backlog").bounding_box()
            assert act is not None
            assert backlog is not None
            assert act["y"] < backlog["y"]
        page.screenshot(path=str(ARTIFACTS / f"board-demo-{width}x{height}.png"), full_page=width < 1920)
        page.close()


def test_demo_from_a_wiped_broker_twice_then_ctrl_c(
    demo_env: tuple[dict[str, str], dict[str, int], Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    browser: Any,
) -> None:
    """deploy/run demo on an empty broker shows every generated series; Ctrl-C exits 0 and leaves no
    process and no bound port; a second run starts clean again, counting none of the first run's events."""
    env, ports, home = demo_env
    first = start_demo(env, ports, home, tmp_path / "first.out", request)
    eventually(first.metrics, lambda s: set(inbound(s)) == SERIES and min(inbound(s).values()) > 0
               and accepted(s) > 1000, DEMO_READY_S, "every generated series with inbound > 0 on /metrics")  # fmt: skip
    # the traffic came through the demo's gateway, as each network's signed webhooks
    eventually(lambda: deliveries(first.ports["ingest"]), lambda d: min(d.get(p, 0) for p in ("meta", "x", "chatwoot")) > 0,
               DEMO_READY_S, "Meta, X and Chatwoot deliveries answered 200 by the demo's gateway")  # fmt: skip
    # every series whose team has answered also hears from its customers, and initech's (in Chatwoot) resolves,
    # on /metrics and on the screen (a team whose calendar is closed all the backfill has answered nobody yet)
    eventually(first.metrics, carried, DEMO_READY_S, "the scorecard figures each network carries")  # fmt: skip
    eventually(first.text, lambda text: "scorecard" in text and "CSAT" in text, DEMO_READY_S,
               "the screen's scorecard lines")  # fmt: skip
    # the on-call page's address is printed, and its board lists every series, shared through Kafka
    page = re.search(r"on-call page \(who is waiting\): (http://\S+)", first.text())
    assert page is not None, first.text()[-3000:]
    assert page.group(1) == f"http://127.0.0.1:{first.ports['web']}/"
    eventually(lambda: board_series(page.group(1)), lambda found: found == SERIES, DEMO_READY_S,
               "every series on the on-call board")  # fmt: skip
    look_at_the_wall(browser, page.group(1))
    worker, gateway = worker_pid(first.output), worker_pid(first.output, "gateway")
    assert worker is not None
    assert gateway is not None
    broker_pid = int((home / "kafka.pid").read_text())
    assert first.interrupt() == 0, first.text()[-3000:]
    assert "stopped: generator, gateway and worker" in first.text()
    assert gone(worker)
    assert gone(gateway)
    assert gone(broker_pid)
    assert all(bindable(port) for port in ports.values()), ports

    second = start_demo(env, ports, home, tmp_path / "second.out", request)
    again = eventually(second.metrics, lambda s: set(inbound(s)) == SERIES and accepted(s) > 1000 and lag(s) <= 50,
                       DEMO_READY_S, "the second run's series, caught up")  # fmt: skip
    # Caught up with the first run's events still in the topics, it would have accepted more than this run sent.
    # (the screen, refreshed every 2 s, may not show the count the worker has seen yet: allow it 30 s)
    eventually(lambda: events_sent(second.text()), lambda sent: sent + 100 >= accepted(again), 30,
               f"this run's sent count to reach the {accepted(again):.0f} events the worker accepted")  # fmt: skip
    assert "starting clean" in second.text()
    assert "starting from empty topics" in second.text()
    assert second.interrupt() == 0, second.text()[-3000:]
    assert all(bindable(port) for port in ports.values()), ports


def test_demo_continue_says_so_and_a_closed_terminal_leaves_nothing_behind(
    demo_env: tuple[dict[str, str], dict[str, int], Path], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """deploy/run demo --continue says how many earlier events it continues; SIGHUP to its session (a closed
    terminal, a lost SSH session) stops the demo, its worker and its broker, and frees every port."""
    env, ports, home = demo_env
    first = start_demo(env, ports, home, tmp_path / "first.out", request)
    eventually(first.metrics, lambda s: accepted(s) > 1000, DEMO_READY_S, "the first run's events")
    assert first.interrupt() == 0, first.text()[-3000:]

    second = start_demo(env, ports, home, tmp_path / "second.out", request, "--continue")
    eventually(second.text, lambda text: "continuing earlier data: the topics already hold" in text, DEMO_READY_S,
               "the demo to say it continues earlier data")  # fmt: skip
    eventually(second.metrics, lambda s: accepted(s) > 1000, DEMO_READY_S, "the second run's worker counting")
    worker = worker_pid(second.output)
    assert worker is not None
    broker_pid = int((home / "kafka.pid").read_text())
    os.killpg(second.process.pid, signal.SIGHUP)
    assert second.process.wait(timeout=STOP_S) == 0, second.text()[-3000:]
    assert gone(worker)
    assert gone(broker_pid)
    assert all(bindable(port) for port in ports.values()), ports


def test_demo_exits_1_with_the_reason_when_its_worker_dies(
    broker: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """When the worker dies under it, the demo stops, says so with the worker's last log lines, exits 1."""
    from tests.harness import Stack

    stack = Stack.create(tmp_path)
    env = {**stack.env, "SOCIALSLA_WEB_PORT": str(free_port()), "SOCIALSLA_INGEST_PORT": str(free_port()),
           "SOCIALSLA_CLOCK": "system"}  # fmt: skip
    output = tmp_path / "demo.out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "socialsla.cli",
            "demo",
            "--log-dir",
            str(tmp_path / "demo"),
            "--refresh",
            "0.5",
        ],
        env=env,
        stdout=open(output, "wb"),  # noqa: SIM115 - the child holds it
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    request.addfinalizer(lambda: kill_demo(process, output))
    pid = eventually(lambda: worker_pid(output), bool, 60, "the demo to start its worker")
    assert pid is not None
    # the demo runs: its screen counts the generator's events (the kill is the point, not its timing)
    eventually(lambda: events_sent(output.read_text(errors="replace")), lambda sent: sent > 0, DEMO_READY_S,
               "the demo's screen to count events sent")  # fmt: skip
    os.kill(pid, signal.SIGKILL)
    assert process.wait(timeout=STOP_S) == 1
    text = output.read_text()
    assert "socialsla demo: the worker exited (-9); last lines of" in text
