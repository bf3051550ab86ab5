"""Per-agent figures: each care agent's first and next replies in every window, on the wall clock.

The agent of a wait is the one whose reply answered it. The busiest agents over
7 days are named; the rest, and an agent literally named `other`, are pooled
under `other`, so label cardinality stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from socialsla.core.accumulators import Accumulator
from socialsla.core.events import MICROS
from socialsla.core.stats import WINDOWS, WindowStats
from socialsla.core.windows import SeriesWindows


@dataclass(frozen=True, slots=True)
class AgentStats:
    """One agent's answers in one window; `first` for conversations, `next` for follow-ups.

    Each is the `WindowStats` of the waits the agent answered: `latency_count`
    is the number of replies (first_replies / next_replies), the latency figures
    their seconds; the counts by state say nothing more (every one is answered).
    """

    first: WindowStats
    next: WindowStats


#: The pool of agents beyond the cap, and of any agent literally named so.
OTHER_AGENTS: Final = "other"


def _copy(latencies: Accumulator) -> Accumulator:
    out = Accumulator()
    out.merge(latencies)
    return out


def agents(windows: SeriesWindows, at: int, max_agents: int) -> dict[str, dict[str, AgentStats]]:
    """Per-agent figures at `at`: per window, per agent who answered there, their first and next replies.

    Wall clock only. The `max_agents` with the most first plus next replies in
    the 7d window are named (ties by name); the rest, and an agent literally
    named `other`, are pooled under `other`, so label cardinality stays bounded.
    The full rule: docs/semantics.md, "Agents".
    """
    found = _cumulative(_shortest_windows(windows, at))
    week = found["7d"]
    ranked = sorted(
        (n for n in week if n != OTHER_AGENTS), key=lambda n: (-(week[n][0].count + week[n][1].count), n)
    )
    named = set(ranked[:max_agents])
    out: dict[str, dict[str, AgentStats]] = {}
    for name, per_agent in found.items():
        listed: dict[str, _Pair] = {}
        for who, (first, follow) in per_agent.items():
            _merged_into(listed, who if who in named else OTHER_AGENTS, first, follow)
        out[name] = {
            who: AgentStats(first.freeze(), follow.freeze())
            for who, (first, follow) in sorted(listed.items())
        }
    return out


#: An agent's answers to conversations, and to follow-ups.
_Pair = tuple[Accumulator, Accumulator]


def _shortest_windows(windows: SeriesWindows, at: int) -> list[dict[str, _Pair]]:
    """Per window, shortest first, each agent's answers to waits in it and in no shorter one.

    Each answer is added once, to the shortest window holding it; the longer
    windows then take in the shorter ones (`_cumulative`: 1h inside 24h inside
    7d), so a scrape walks each answer once.
    """
    edges = [at - seconds * MICROS for seconds in WINDOWS.values()]  # shortest first
    shortest: list[dict[str, _Pair]] = [{} for _ in edges]
    for wait in windows.answered_since(edges[-1], at):
        assert wait.answer is not None  # answered_since yields answered waits only
        start = wait.start
        index = next(i for i, edge in enumerate(edges) if start > edge)
        who = wait.agent if wait.agent is not None else "unknown"
        pair = shortest[index].get(who)
        if pair is None:
            pair = shortest[index][who] = (Accumulator(), Accumulator())
        # answered by `at`: the sum's latency figures are the agent's reply times
        pair[0 if wait.conversation else 1].add(start, wait.answer, at, windows.wall)
    return shortest


def _cumulative(shortest: list[dict[str, _Pair]]) -> dict[str, dict[str, _Pair]]:
    """Per window by name, each agent's answers to every wait in it."""
    found: dict[str, dict[str, _Pair]] = {}
    running: dict[str, _Pair] = {}
    for name, own in zip(WINDOWS, shortest, strict=True):
        for who, (first, follow) in own.items():
            _merged_into(running, who, first, follow)
        found[name] = {who: (_copy(first), _copy(follow)) for who, (first, follow) in running.items()}
    return found


def _merged_into(pairs: dict[str, _Pair], who: str, first: Accumulator, follow: Accumulator) -> None:
    """Add an agent's answers to those `pairs` holds under `who`."""
    mine = pairs.get(who)
    if mine is None:
        mine = pairs[who] = (Accumulator(), Accumulator())
    mine[0].merge(first)
    mine[1].merge(follow)
