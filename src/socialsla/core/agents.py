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
    """SPEC §10: one agent's answers in one window; `first` for conversations, `next` for follow-ups.

    Each is the `WindowStats` of the waits the agent answered: `latency_count`
    is the number of replies (first_replies / next_replies), the latency figures
    their seconds; the counts by state say nothing more (every one is answered).
    """

    first: WindowStats
    next: WindowStats


#: SPEC §10: the pool of agents beyond the cap, and of any agent literally named so.
OTHER_AGENTS: Final = "other"


def _copy(latencies: Accumulator) -> Accumulator:
    out = Accumulator()
    out.merge(latencies)
    return out


def agents(windows: SeriesWindows, at: int, max_agents: int) -> dict[str, dict[str, AgentStats]]:
    """SPEC §10 at time `at`: per window, per agent who answered there, their first and next replies.

    Wall clock only. The `max_agents` with the most first plus next replies in
    the 7d window are named (ties by name); the rest, and an agent literally
    named `other`, are pooled under `other`, so label cardinality stays bounded.
    """
    # Each answer is added once, to the shortest window holding it; the longer windows then take
    # in the shorter ones (1h inside 24h inside 7d), so a scrape walks each answer once.
    names = list(WINDOWS)  # shortest first
    edges = [at - WINDOWS[name] * MICROS for name in names]
    shortest: list[dict[str, tuple[Accumulator, Accumulator]]] = [{} for _ in names]
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
    found: dict[str, dict[str, tuple[Accumulator, Accumulator]]] = {}
    running: dict[str, tuple[Accumulator, Accumulator]] = {}
    for name, own in zip(names, shortest, strict=True):
        for who, (first, follow) in own.items():
            mine = running.get(who)
            if mine is None:
                mine = running[who] = (Accumulator(), Accumulator())
            mine[0].merge(first)
            mine[1].merge(follow)
        found[name] = {who: (_copy(first), _copy(follow)) for who, (first, follow) in running.items()}
    week = found["7d"]
    ranked = sorted(
        (n for n in week if n != OTHER_AGENTS), key=lambda n: (-(week[n][0].count + week[n][1].count), n)
    )
    named = set(ranked[:max_agents])
    out: dict[str, dict[str, AgentStats]] = {}
    for name, per_agent in found.items():
        listed: dict[str, tuple[Accumulator, Accumulator]] = {}
        for who, (first, follow) in per_agent.items():
            key = who if who in named else OTHER_AGENTS
            if key not in listed:
                listed[key] = (Accumulator(), Accumulator())
            listed[key][0].merge(first)
            listed[key][1].merge(follow)
        out[name] = {
            who: AgentStats(first.freeze(), follow.freeze())
            for who, (first, follow) in sorted(listed.items())
        }
    return out
