"""Honest health: lag and staleness speak of the input topics, so a caught-up idle worker is `ok`."""

from __future__ import annotations

from pathlib import Path

from tests.harness import CATCH_UP_S, WORKER_READY_S, Samples, Stack, Worker, eventually, write_load

from .test_pipeline import LINES, SCENARIO

#: Seconds without progress before data is stale in these tests (the setting's minimum is 1).
STALE_AFTER = 2.0


def lags(samples: Samples) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["topic"], dict(labels)["partition"]): value
        for (name, labels), value in samples.items()
        if name == "socialsla_consumer_lag"
    }


def inputs(stack: Stack) -> set[str]:
    env = stack.env
    return {env["SOCIALSLA_TOPIC_POSTS"], env["SOCIALSLA_TOPIC_REPLIES"], env["SOCIALSLA_TOPIC_OUTCOMES"]}


def idle_and_ok(worker: Worker) -> dict[str, object]:
    """Wait until the worker has been idle for twice the stale limit, then return its health."""
    return eventually(
        worker.health,
        lambda h: float(h.get("seconds_since_progress", 0)) > 2 * STALE_AFTER,  # type: ignore[arg-type]
        CATCH_UP_S,
        f"the worker to be idle for {2 * STALE_AFTER:.0f}s",
    )


def assert_caught_up_and_ok(stack: Stack, worker: Worker) -> None:
    health = idle_and_ok(worker)
    assert health["status"] == "ok", health
    assert health["stale"] is False
    assert worker.metrics()[("socialsla_data_stale", ())] == 0.0
    # Lag is first measured at the first housekeeping round, which may come after the
    # restarted worker has been idle long enough (it has nothing to process).
    found = eventually(
        lambda: lags(worker.metrics()), lambda found: bool(found), WORKER_READY_S, "lag measured"
    )
    assert {topic for topic, _ in found} == inputs(stack), "lag covers exactly the input topics"
    assert set(found.values()) == {0.0}, found


def test_idle_after_catch_up_and_after_a_restart_with_a_kept_store(stack: Stack) -> None:
    """Caught up and idle past the stale limit is ok, before and after a restart that keeps RocksDB."""
    options = {"SOCIALSLA_STALE_AFTER": str(STALE_AFTER), "data_dir": "kept"}
    worker = stack.worker(**options)
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    stack.produce(SCENARIO)
    eventually(worker.consumed, lambda n: n == LINES, CATCH_UP_S, f"all {LINES} events counted")
    assert_caught_up_and_ok(stack, worker)

    worker.stop()
    again = stack.worker(**options)
    eventually(
        again.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the restarted worker to own 4 partitions"
    )
    assert_caught_up_and_ok(stack, again)


def test_a_real_backlog_shows_as_input_lag_until_caught_up(stack: Stack, tmp_path: Path) -> None:
    """Events produced while no worker runs show as lag on the input topics, which returns to 0."""
    load = tmp_path / "load.jsonl"
    total = write_load(load, seed=5, hours=2, rate=3.0)
    stack.produce(load)
    worker = stack.worker()
    behind = eventually(lambda: lags(worker.metrics()), lambda found: sum(found.values()) > 0, WORKER_READY_S,
                        "the backlog to show as lag")  # fmt: skip
    assert {topic for (topic, _), lag in behind.items() if lag > 0} <= inputs(stack)
    eventually(worker.consumed, lambda n: n == total, CATCH_UP_S * 3, f"all {total} events counted")
    eventually(lambda: lags(worker.metrics()), lambda found: found and set(found.values()) == {0.0}, CATCH_UP_S,
               "lag back to 0")  # fmt: skip
