"""Per-agent figures: each care agent's first and next replies in every window, on the wall clock.

The agent of a wait is the one whose reply answered it. The busiest agents over
7 days are named; the rest, and an agent literally named `other`, are pooled
under `other`, so label cardinality stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from socialsla.core.accumulators import AnswerAccumulator
from socialsla.core.stats import WindowStats
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


def agents(windows: SeriesWindows, at: int, max_agents: int) -> dict[str, dict[str, AgentStats]]:
    """Per-agent figures at `at`: per window, per agent who answered there, their first and next replies.

    Wall clock only. The `max_agents` with the most first plus next replies in
    the 7d window are named (ties by name); the rest, and an agent literally
    named `other`, are pooled under `other`, so label cardinality stays bounded.
    The full rule: docs/semantics.md, "Agents".
    """
    found = {name: total.agents for name, total in windows.answers(at).items()}
    week = found["7d"]
    ranked = sorted(
        (n for n in week if n != OTHER_AGENTS), key=lambda n: (-(week[n][0].count + week[n][1].count), n)
    )
    named = set(ranked[:max_agents])
    out: dict[str, dict[str, AgentStats]] = {}
    for name, per_agent in found.items():
        listed = AnswerAccumulator()
        for who, pair in per_agent.items():
            pooled = AnswerAccumulator()
            pooled.agents[who if who in named else OTHER_AGENTS] = pair
            listed.merge(pooled)
        out[name] = {
            who: AgentStats(first.freeze(), follow.freeze())
            for who, (first, follow) in sorted(listed.agents.items())
        }
    return out
