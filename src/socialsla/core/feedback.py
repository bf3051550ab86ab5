"""Customer feedback: which survey answers count, and the CSAT, NPS and CES of a window.

Each feedback event belongs to the conversation whose span (resolution.py)
holds its time; one before the thread's first post belongs to none. Per
conversation and survey only the latest answer counts (the largest time; at one
instant, the larger event_id): a customer may change an answer. A counted
answer is placed in windows by its own time, not its conversation's. The full
rules: docs/semantics.md, "Customer feedback".
"""

from __future__ import annotations

import bisect
from fractions import Fraction
from typing import Final, NamedTuple

from socialsla.core.accumulators import sum_windows
from socialsla.core.events import MICROS, SURVEYS
from socialsla.core.resolution import opens
from socialsla.core.stats import WINDOWS
from socialsla.core.thread import DEFAULT_POLICY, FEEDBACK, Policy, Thread, Wait


class Answer(NamedTuple):
    """A counted answer: when, to which survey, the score."""

    at: int
    survey: str
    score: int


def counted(
    state: Thread, policy: Policy = DEFAULT_POLICY, found: tuple[Wait, ...] | None = None
) -> tuple[Answer, ...]:
    """The thread's counted answers, by time; `found`: its waits, when known."""
    starts = opens(state, policy, found)
    if not starts:
        return ()
    latest: dict[tuple[int, str], tuple[int, str, int]] = {}
    for at, kind, event_id, _, detail in state.events:
        if kind != FEEDBACK or at < starts[0] or detail is None:
            continue
        survey, _, score = detail.partition(":")
        key = (bisect.bisect_right(starts, at) - 1, survey)
        current = latest.get(key)
        if current is None or (at, event_id) > current[:2]:
            latest[key] = (at, event_id, int(score))
    return tuple(sorted(Answer(at, survey, score) for (_, survey), (at, _, score) in latest.items()))


class SurveyStats(NamedTuple):
    """One survey's answers in a window: how many, their scores' sum, and the count of each score."""

    responses: int
    score_sum: int
    #: csat: satisfied (4-5); nps: promoters (9-10); ces: easy (5-7).
    good: int
    #: nps only: detractors (0-6); passives are the rest.
    detractors: int = 0

    @property
    def score_avg(self) -> Fraction | None:
        return Fraction(self.score_sum, self.responses) if self.responses else None

    @property
    def passives(self) -> int:
        return self.responses - self.good - self.detractors


#: Per survey, the lowest good score (csat satisfied, nps promoter, ces easy), and nps' highest detractor.
_GOOD: Final = {"csat": 4, "nps": 9, "ces": 5}
_DETRACTOR: Final = 6
_INDEX: Final = {survey: index for index, survey in enumerate(SURVEYS)}


def _stats(survey: str, counts: list[int]) -> SurveyStats:
    """A survey's stats from how many answers gave each score (index: the score)."""
    good = sum(counts[_GOOD[survey] :])
    detractors = sum(counts[: _DETRACTOR + 1]) if survey == "nps" else 0
    return SurveyStats(sum(counts), sum(score * n for score, n in enumerate(counts)), good, detractors)


def score(stats: SurveyStats, survey: str) -> Fraction | None:
    """The survey's number: csat and ces a share in 0..1, nps in -100..100; None without answers."""
    if not stats.responses:
        return None
    if survey == "nps":
        return Fraction(100 * (stats.good - stats.detractors), stats.responses)
    return Fraction(stats.good, stats.responses)


def _pack(answer: Answer) -> int:
    """An answer in one integer: its time, its survey, its score (at most 10: four bits)."""
    return answer.at << 6 | _INDEX[answer.survey] << 4 | answer.score


class Surveys:
    """A series' counted answers: by thread, and tallied per bucket of their own time.

    A thread's answers are replaced whole, as its waits are (an outcome is its
    whole summary). Reading a window at T adds whole buckets' tallies of scores
    and walks answers only in the buckets a window's edge cuts, so a scrape
    costs a step per bucket, not per answer. An answer is one integer (`_pack`).
    """

    def __init__(self, bucket_us: int) -> None:
        self.bucket_us = bucket_us
        #: Per thread: its first feedback event's time, then its counted answers, packed.
        self._threads: dict[str, tuple[int, ...]] = {}
        #: Per bucket of answer time: each packed answer, and how many threads gave it.
        self._buckets: dict[int, dict[int, int]] = {}
        #: Per bucket, cached: how many answers per (survey index, score), at `index << 4 | score`.
        self._tallies: dict[int, list[int]] = {}
        #: Per bucket, cached: the latest answer time it holds (`sum_windows`' `newest`).
        self._latest: dict[int, int] = {}
        #: No thread's newest time (answer or first feedback) is older: expiry walks the threads only past it.
        self._newest_floor: int | None = None
        #: `first()`, once asked: (None,) without threads; dropped when the thread holding it goes.
        self._first: tuple[int | None] | None = None

    def set(self, key: str, first_feedback_at: int | None, answers: tuple[Answer, ...]) -> None:
        """A thread's current feedback: its first feedback event (None: none) and counted answers."""
        old = self._threads.pop(key, None)
        if old is not None:
            for packed in old[1:]:
                self._change(packed, -1)
            if self._first is not None and self._first[0] == old[0]:
                self._first = None
        if first_feedback_at is None:
            return
        if self._first is not None and (self._first[0] is None or first_feedback_at < self._first[0]):
            self._first = (first_feedback_at,)
        packed_answers = tuple(_pack(answer) for answer in answers)
        self._threads[key] = (first_feedback_at, *packed_answers)
        for packed in packed_answers:
            self._change(packed, 1)
        newest = max((first_feedback_at, *(answer.at for answer in answers)))
        if self._newest_floor is None or newest < self._newest_floor:
            self._newest_floor = newest

    def _change(self, packed: int, by: int) -> None:
        number = (packed >> 6) // self.bucket_us
        bucket = self._buckets.setdefault(number, {})
        count = bucket.get(packed, 0) + by
        if count:
            bucket[packed] = count
        else:
            del bucket[packed]
            if not bucket:
                del self._buckets[number]
        self._tallies.pop(number, None)
        self._latest.pop(number, None)

    def first(self) -> int | None:
        """The earliest first feedback of a kept thread: the series tracks feedback from then on.

        Cached: a scrape asks it of every series, and it would walk every thread.
        """
        if self._first is None:
            self._first = (min((entry[0] for entry in self._threads.values()), default=None),)
        return self._first[0]

    def expire(self, before: int) -> None:
        """Forget threads whose answers and first feedback are all before `before` (in no window any more)."""
        if self._newest_floor is None or self._newest_floor >= before:
            return
        newest: dict[str, int] = {
            key: max((entry[0], *(p >> 6 for p in entry[1:]))) for key, entry in self._threads.items()
        }
        for key, at in newest.items():
            if at < before:
                self.set(key, None, ())
        self._newest_floor = min((at for at in newest.values() if at >= before), default=None)

    def windows(self, at: int) -> dict[str, dict[str, SurveyStats]]:
        """Per window (`T - W < answered <= T`, the answer's own time), each survey's stats."""
        spans = [(name, at - seconds * MICROS) for name, seconds in WINDOWS.items()]

        def walk(bucket: dict[int, int], into: _Counts, edge: int) -> None:
            for packed, n in bucket.items():
                if edge < packed >> 6 <= at:
                    into.counts[packed & 63] += n

        sums = sum_windows(self._buckets, self.bucket_us, at, spans, _Counts, self._tally, walk, self._newest)
        return {
            name: {survey: _stats(survey, total.counts[16 * i : 16 * i + 16]) for survey, i in _INDEX.items()}
            for name, total in sums.items()
        }

    def _newest(self, bucket: dict[int, int]) -> int:
        """The latest answer time a bucket holds; cached until the bucket changes."""
        number = (next(iter(bucket)) >> 6) // self.bucket_us
        found = self._latest.get(number)
        if found is None:
            found = self._latest[number] = max(bucket) >> 6
        return found

    def _tally(self, bucket: dict[int, int]) -> list[int]:
        """A bucket's answers per (survey index, score); cached until the bucket changes."""
        number = (next(iter(bucket)) >> 6) // self.bucket_us
        found = self._tallies.get(number)
        if found is None:
            found = self._tallies[number] = [0] * (16 * len(SURVEYS))
            for packed, n in bucket.items():
                found[packed & 63] += n
        return found


class _Counts:
    """Answers per (survey index, score) at `index << 4 | score`, summed over buckets."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0] * (16 * len(SURVEYS))

    def merge(self, other: list[int]) -> None:
        mine = self.counts
        for index, n in enumerate(other):
            if n:
                mine[index] += n
