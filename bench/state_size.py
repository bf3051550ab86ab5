"""Bytes per open conversation of the worker's state, for this checkout or another (`--source DIR`).

    python bench/state_size.py                       # this checkout
    python bench/state_size.py --source /tmp/baseline  # e.g. a git worktree of an earlier commit

Generates threads (a post and a reply each; with `--follow-ups`, every third
thread gets a second post and answer), folds them with `fold.fold` (stage 1)
and applies the outcomes to a `Ledger` (stage 2), then prints:

* stage 2's Python memory per open conversation (`tracemalloc` around `Ledger.apply`),
  which is what RSS grows by;
* stage 1's state bytes per thread (its RocksDB value and log frame) and the
  bytes of its outcomes per thread (what stage 2's log, `social.outcomes`, holds).

No timing is asserted anywhere; this prints figures to compare in one run.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, help="another checkout whose src/ to measure")
    parser.add_argument("--threads", type=int, default=200_000)
    parser.add_argument(
        "--follow-ups", action="store_true", help="every third thread writes again after the answer"
    )
    parser.add_argument(
        "--scorecard", action="store_true", help="every thread resolved, every third with a CSAT answer"
    )
    args = parser.parse_args()
    if args.source is not None:
        sys.path.insert(0, str(args.source.resolve() / "src"))
    try:
        from socialsla.core import fold
        from socialsla.core.events import MICROS, Event, parse_time
        from socialsla.core.ledger import Ledger
        from socialsla.core.wire import decode_outcomes, encode_outcomes
    except ImportError:  # a checkout from before the package was laid out by layer
        from socialsla.events import MICROS, Event, parse_time  # type: ignore[no-redef]
        from socialsla.series import Ledger  # type: ignore[no-redef]
        from socialsla.wire import decode_outcomes, encode_outcomes  # type: ignore[no-redef]

        from socialsla import stages as fold  # type: ignore[no-redef]

    now = parse_time("2026-01-08T00:00:00Z")
    events = []
    for n in range(args.threads):
        opened = now - (n % 86_400) * MICROS
        cid = f"c{n:08d}"
        events.append(Event("post", f"{cid}-p", cid, f"brand{n % 20}", "facebook", opened))
        events.append(Event("reply", f"{cid}-r", cid, f"brand{n % 20}", "facebook", opened + 300 * MICROS))
        if args.scorecard:
            events.append(
                Event("resolve", f"{cid}-d", cid, f"brand{n % 20}", "facebook", opened + 600 * MICROS)
            )
            if n % 3 == 0:
                events.append(Event("feedback", f"{cid}-s", cid, f"brand{n % 20}", "facebook",
                                    opened + 700 * MICROS, survey="csat", score=4))  # fmt: skip
        if args.follow_ups and n % 3 == 0:
            events.append(
                Event("post", f"{cid}-p2", cid, f"brand{n % 20}", "facebook", opened + 600 * MICROS)
            )
            events.append(
                Event("reply", f"{cid}-r2", cid, f"brand{n % 20}", "facebook", opened + 900 * MICROS)
            )
    folded = fold.fold({}, events, now - 9 * 86_400 * MICROS)
    stage1 = sum(len(state.to_bytes()) for state in folded.states.values())
    outcomes = folded.outcomes()
    messages = [encode_outcomes(outcomes[at : at + 500]) for at in range(0, len(outcomes), 500)]
    outcome_bytes = sum(len(message) for message in messages)
    del outcomes
    del events
    gc.collect()
    ledger = Ledger(86_400 * MICROS)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for message in messages:  # decoded here, as stage 2 does, so what it keeps of them is counted
        ledger.apply(0, decode_outcomes(message), now)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(json.dumps({
        "source": str(args.source or "this checkout"),
        "threads": args.threads,
        "follow_ups": args.follow_ups,
        "scorecard": args.scorecard,
        "stage2_python_bytes_per_thread": round((after - before) / args.threads, 1),
        "stage1_row_bytes_per_thread": round(stage1 / args.threads, 1),
        "outcome_bytes_per_thread": round(outcome_bytes / args.threads, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
