"""Stage 1's fold, the function the offline report and the live agent share."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core import fold
from socialsla.core.events import MICROS, Event, InvalidEvent, decode, parse_time
from socialsla.core.fold import ThreadKey
from socialsla.core.thread import Thread, waits
from tests.paths import DATA

NOW = parse_time("2026-01-08T00:00:00Z")
HORIZON = NOW - 8 * 24 * 3600 * MICROS


def scenario_events() -> list[Event]:
    events = []
    for raw in (DATA / "scenario.jsonl").read_bytes().splitlines():
        try:
            events.append(decode(raw, NOW))
        except InvalidEvent:
            continue
    return events


EVENTS = scenario_events()


def test_fold_counts_accepted_duplicate_and_late_by_type() -> None:
    """Each event is counted once, under its type and what became of it."""
    folded = fold.fold({}, EVENTS, HORIZON)
    assert sum(folded.tally.values()) == len(EVENTS)
    assert {outcome for _, outcome in folded.tally} == {"accepted", "duplicate", "late"}
    assert folded.tally["post", "late"] + folded.tally["reply", "late"] == 1


def test_fold_leaves_the_states_it_reads_unchanged() -> None:
    """The states passed in are read, never written: the caller decides what to store."""
    key = fold.key_of(EVENTS[0])
    before = {key: Thread()}
    fold.fold(before, EVENTS, HORIZON)
    assert before == {key: Thread()}


def test_outcomes_are_the_touched_conversations_with_their_last_event_time() -> None:
    """One whole summary per touched conversation, stamped with the created_at of its last event folded."""
    folded = fold.fold({}, EVENTS, HORIZON)
    outcomes = folded.outcomes()
    assert len(outcomes) == len(folded.states)
    for outcome in outcomes:
        key = ThreadKey(outcome.account, outcome.channel, outcome.conversation_id)
        state = folded.states[key]
        assert outcome.waits == waits(state)
        folded_times = [e.created_at for e in EVENTS if fold.key_of(e) == key and e.created_at >= HORIZON]
        assert outcome.event_at == folded_times[-1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(EVENTS)), max_size=8))
def test_batches_fold_to_the_same_states_as_one_pass(cuts: list[int]) -> None:
    """Folding in batches, each reading what the last wrote (the agent), ends where one pass ends (the report)."""
    whole = fold.fold({}, EVENTS, HORIZON)
    stored: dict[ThreadKey, Thread] = {}
    tally: dict[tuple[str, str], int] = {}
    bounds = [0, *sorted(set(cuts)), len(EVENTS)]
    for start, end in itertools.pairwise(bounds):
        part = fold.fold(stored, EVENTS[start:end], HORIZON)
        stored.update(part.states)
        for key, count in part.tally.items():
            tally[key] = tally.get(key, 0) + count
    assert stored == whole.states
    assert tally == dict(whole.tally)
