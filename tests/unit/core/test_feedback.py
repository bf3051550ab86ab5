"""A series' counted survey answers: tallied per bucket, against the oracle's count per window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from socialsla.core.events import MICROS
from socialsla.core.feedback import Answer, Surveys
from tests.oracle import naive_surveys

H = 3600 * MICROS
T0 = 1_767_225_600 * MICROS
SURVEYS = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}

instants = st.integers(min_value=-9 * 24, max_value=24).map(lambda h: T0 + h * H) | st.integers(
    min_value=T0 - 9 * 24 * H, max_value=T0 + 24 * H
)
answers = st.sampled_from(sorted(SURVEYS)).flatmap(
    lambda survey: st.tuples(instants, st.just(survey), st.integers(*SURVEYS[survey]))
)
# A thread: its answers (the first feedback no later than any of them), or none at all.
threads = st.lists(st.lists(answers, max_size=3), max_size=8)


def put(surveys: Surveys, current: dict[str, list[tuple[int, str, int]]], key: str, said: list) -> None:
    if said:
        first = min(at for at, _, _ in said) - 1
        surveys.set(key, first, tuple(sorted(Answer(*a) for a in said)))
        current[key] = said
    else:
        surveys.set(key, None, ())
        current.pop(key, None)


def got(surveys: Surveys, at: int) -> dict[str, dict[str, tuple[int, int]]]:
    return {
        name: {survey: (s.responses, s.score_sum) for survey, s in per_survey.items()}
        for name, per_survey in surveys.windows(at).items()
    }


@settings(max_examples=200, deadline=None)
@given(
    threads, threads, st.lists(instants, min_size=1, max_size=4), st.sampled_from([60 * MICROS, 900 * MICROS])
)
def test_answers_per_window_equal_naive_with_threads_replaced_between_reads(
    first: list[list[tuple[int, str, int]]],
    second: list[list[tuple[int, str, int]]],
    times: list[int],
    bucket_us: int,
) -> None:
    surveys = Surveys(bucket_us)
    current: dict[str, list[tuple[int, str, int]]] = {}
    for batch in (first, second):
        for key, said in enumerate(batch):
            put(surveys, current, str(key), said)
        for at in sorted(times) + times:
            assert got(surveys, at) == naive_surveys([a for said in current.values() for a in said], at)
        firsts = [min(at for at, _, _ in said) - 1 for said in current.values()]
        assert surveys.first() == min(firsts, default=None)


@settings(max_examples=100, deadline=None)
@given(threads, instants, instants)
def test_expiry_forgets_only_threads_wholly_before_the_horizon(
    batch: list[list[tuple[int, str, int]]], horizon: int, at: int
) -> None:
    surveys = Surveys(900 * MICROS)
    current: dict[str, list[tuple[int, str, int]]] = {}
    for key, said in enumerate(batch):
        put(surveys, current, str(key), said)
    surveys.expire(horizon)
    kept = {key: said for key, said in current.items() if max(a for a, _, _ in said) >= horizon}
    assert got(surveys, at) == naive_surveys([a for said in kept.values() for a in said], at)
    assert surveys.first() == min((min(a for a, _, _ in said) - 1 for said in kept.values()), default=None)


def test_nps_counts_promoters_passives_and_detractors() -> None:
    surveys = Surveys(900 * MICROS)
    for key, score in enumerate((10, 9, 8, 6, 0)):
        surveys.set(str(key), T0, (Answer(T0, "nps", score),))
    nps = surveys.windows(T0)["1h"]["nps"]
    assert (nps.responses, nps.good, nps.passives, nps.detractors, nps.score_sum) == (5, 2, 1, 2, 33)
