"""A thread id that returns after its thread was purged (Messenger keeps one per customer and page)."""

from __future__ import annotations

from pathlib import Path

from socialsla.core import report
from socialsla.core.events import MICROS, format_time, parse_time
from socialsla.core.rules import DEFAULT_RULES
from tests.factories import line
from tests.harness import CATCH_UP_S, WORKER_READY_S, Samples, Stack, eventually, settles

from .expected import from_report, key, sla_gauges

T0 = parse_time("2026-01-08T00:00:00Z")  # the stack's clock
M, D = 60 * MICROS, 86_400 * MICROS
LATER = T0 + 9 * D


THREAD = "t-customer-42"


def responded(samples: Samples) -> float | None:
    return samples.get(key("socialsla_conversations_decided_total", account="acme", channel="facebook",
                           result="responded"))  # fmt: skip


def test_a_thread_id_used_again_9_days_later_never_lowers_the_decided_counter(
    stack: Stack, tmp_path: Path
) -> None:
    """The first conversation stays counted when its thread id returns 9 days on in a quiet series: the
    decided counter never decreases, and the window gauges equal the report at each step."""
    worker = stack.worker(SOCIALSLA_PURGE_INTERVAL="0.5")
    eventually(worker.owned, lambda owned: len(owned) == 4, WORKER_READY_S, "the worker to own 4 partitions")
    first = [line("post", THREAD, n=0, at=T0 - 60 * M), line("reply", THREAD, n=1, at=T0 - 50 * M)]
    path = tmp_path / "first.jsonl"
    path.write_bytes(b"\n".join(first) + b"\n")
    stack.produce(path)
    expected = from_report(report.build(iter(first), T0, T0, DEFAULT_RULES))
    seen = [
        responded(
            settles(lambda: sla_gauges(worker.metrics()), expected, CATCH_UP_S, "the first conversation")
        )
    ]
    seen.append(responded(worker.metrics()))
    assert seen[-1] == 1

    # 9 days on: other series' traffic on every partition lets stage 1 purge the old thread; acme stays quiet.
    stack.set_clock(format_time(LATER))
    filler = [line("post", f"f{n}", n=n, at=LATER - 5 * M, account="filler") for n in range(64)]
    path = tmp_path / "filler.jsonl"
    path.write_bytes(b"\n".join(filler) + b"\n")
    stack.produce(path)
    purged = key("socialsla_conversations_expired_total", stage="conversations")
    eventually(worker.metrics, lambda s: s.get(purged, 0) >= 1, CATCH_UP_S, "stage 1 to purge the old thread")

    # The customer writes again in the same thread: a new conversation, pending at first.
    again = [line("post", THREAD, n=2, at=LATER - 10 * M)]
    answer = [line("reply", THREAD, n=3, at=LATER - 5 * M)]
    for step, lines in (("post", again), ("reply", answer)):
        path = tmp_path / f"{step}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        stack.produce(path)
        everything = first + filler + again + (answer if step == "reply" else [])
        expected = {k: v for k, v in from_report(report.build(iter(everything), LATER, LATER, DEFAULT_RULES)).items()
                    if dict(k[1]).get("account") == "acme"}  # fmt: skip

        def acme() -> Samples:
            samples = worker.metrics()
            seen.append(responded(samples))
            return {k: v for k, v in sla_gauges(samples).items() if dict(k[1]).get("account") == "acme"}

        settles(acme, expected, CATCH_UP_S, f"the gauges after the {step} in the reused thread")
    seen.append(responded(worker.metrics()))
    values = [v for v in seen if v is not None]
    assert values == sorted(values), f"the decided counter went down: {values}"
    assert values[-1] == 2
