"""A brute-force oracle, written from the metric contract, independently of the package: the windows'
statistics, follow-ups, the fastest-share average, resolution, feedback and the waiting list, recomputed
from every wait and every event."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from fractions import Fraction

from socialsla.core import histogram
from socialsla.core.events import MICROS, Event
from socialsla.core.stats import WINDOWS, SeriesStats, WindowStats
from socialsla.core.thread import Wait

Span = Callable[[int, int], int]


def _wall(a: int, b: int) -> int:
    return b - a


def _window(
    inside: list[tuple[int, int | None]], at: int, response_window_us: int, span: Span
) -> WindowStats:
    seen = [(o, f) for o, f in inside if f is not None and f <= at]
    latencies = [span(o, f) for o, f in seen]
    responded = sum(1 for latency in latencies if latency <= response_window_us)
    missed = sum(
        1
        for o, f in inside
        if not (f is not None and f <= at and span(o, f) <= response_window_us)
        and span(o, at) >= response_window_us
    )
    counts = [0] * histogram.SIZE
    for latency in latencies:
        counts[histogram.bucket_of(latency)] += 1
    return WindowStats(
        len(inside),
        responded,
        missed,
        len(latencies),
        sum(latencies),
        max(latencies) if latencies else None,
        tuple(counts),
    )


def naive_stats(waits: Iterable[Wait], at: int, response_window_us: int, span: Span = _wall) -> SeriesStats:
    """The statistics by brute force, straight from their definitions
    (docs/semantics.md, "Windows at time T").

    `span(a, b)` measures every duration: wall-clock time by default, or a
    calendar's open time for the business view.
    """
    waits = list(waits)
    windows: dict[str, WindowStats] = {}
    oldest: int | None = None
    for name, seconds in WINDOWS.items():
        edge = at - seconds * MICROS
        inside = [(w.start, w.answer) for w in waits if w.conversation and edge < w.start <= at]
        follow = [(w.start, w.answer) for w in waits if not w.conversation and edge < w.start <= at]
        conversations = _window(inside, at, response_window_us, span)
        windows[name] = WindowStats(*[getattr(conversations, f) for f in (
            "inbound", "responded", "missed", "latency_count", "latency_sum_us", "latency_max_us",
            "latency_buckets")], _window(follow, at, response_window_us, span))  # fmt: skip
        if name == "7d":
            waiting = [o for o, f in inside if f is None or f > at]
            oldest = max(span(o, at) for o in waiting) if waiting else None
    return SeriesStats(at, windows, oldest)


def naive_fastest_average(waits: Iterable[Wait], at: int, window: str, fraction: Fraction) -> Fraction | None:
    """`avg_of_fastest`: the mean of the `ceil(fraction * count)` fastest latencies, by sorting every
    answered conversation of the window (answers after R included)."""
    edge = at - WINDOWS[window] * MICROS
    latencies = sorted(w.answer - w.start for w in waits
                       if w.conversation and edge < w.start <= at and w.answer is not None and w.answer <= at)  # fmt: skip
    if not latencies:
        return None
    take = math.ceil(fraction * len(latencies))
    return Fraction(sum(latencies[:take]), take)


def naive_scorecard(
    events: Iterable[Event], at: int, not_before: int, count_automated: bool, silence_us: int | None
) -> tuple[list[tuple[int, int | None, bool, bool]], list[tuple[int, str, int]]]:
    """A thread's conversations, their resolution and its counted feedback, each straight from its definition
    (docs/semantics.md, "Resolution" and "Customer feedback"), for one thread's events in arrival order.

    Returns each conversation's (opened, resolved_at, reopened, first_contact),
    and the counted feedback as (created_at, survey, score), sorted.
    """
    seen: dict[tuple[str, str], Event] = {}
    for event in events:  # duplicates (same type and event_id) are ignored after the first
        if event.created_at < not_before or event.created_at > at:
            continue  # late, or not seen at T
        seen.setdefault((event.kind, event.event_id), event)
    kept = list(seen.values())
    posts = sorted(e.created_at for e in kept if e.kind == "post")
    if not posts:
        return [], []
    counting = sorted(
        e.created_at for e in kept if e.kind == "reply" and (count_automated or not e.automated)
    )
    messages = sorted(e.created_at for e in kept if e.kind in ("post", "reply"))
    opens: list[int] = []
    start: int | None = posts[0]
    while start is not None:
        if not opens:
            opens.append(start)
        else:
            previous = max(t for t in messages if t < start)
            if silence_us is not None and start - previous >= silence_us:
                opens.append(start)
        answers = [q for q in counting if q >= start]
        if not answers:
            break
        later = [p for p in posts if p > answers[0]]
        start = later[0] if later else None
    resolves = [e.created_at for e in kept if e.kind == "resolve"]
    conversations = []
    for index, opened in enumerate(opens):
        end = opens[index + 1] if index + 1 < len(opens) else math.inf
        inside = [r for r in resolves if opened <= r < end]
        if not inside:
            conversations.append((opened, None, False, False))
            continue
        resolved_at = min(inside)
        reopened = any(resolved_at < p < end for p in posts)
        answers_in = [q for q in counting if opened <= q <= resolved_at]
        conversations.append((opened, resolved_at, reopened, not reopened and len(answers_in) == 1))
    latest: dict[tuple[int, str], Event] = {}
    for event in kept:
        if event.kind != "feedback" or event.created_at < posts[0]:
            continue
        owner = max(i for i, opened in enumerate(opens) if opened <= event.created_at)
        assert event.survey is not None
        best = latest.get((owner, event.survey))
        if best is None or (event.created_at, event.event_id) > (best.created_at, best.event_id):
            latest[owner, event.survey] = event
    feedback = sorted((e.created_at, e.survey or "", e.score or 0) for e in latest.values())
    return conversations, feedback


def naive_resolution_windows(
    conversations: Iterable[tuple[int, int | None, bool, bool]], at: int, window_us: int, span: Span = _wall
) -> dict[str, tuple[int, int, int, int, int, int, int | None]]:
    """Resolution per window, straight from its definition (docs/semantics.md, "Resolution"), from
    (opened, resolved_at, reopened, first_contact).

    Returns resolved, in_time, overdue, reopened, first_contact, the sum and the
    max of the resolution times, per window.
    """
    out = {}
    for name, seconds in WINDOWS.items():
        edge = at - seconds * MICROS
        inside = [c for c in conversations if edge < c[0] <= at]
        resolved = [c for c in inside if c[1] is not None and c[1] <= at]  # a resolve after T is not seen
        took = [span(c[0], c[1]) for c in resolved if c[1] is not None]

        def in_time(c: tuple[int, int | None, bool, bool]) -> bool:
            return c[1] is not None and c[1] <= at and span(c[0], c[1]) <= window_us

        overdue = sum(1 for c in inside if not in_time(c) and span(c[0], at) >= window_us)
        out[name] = (len(resolved), sum(1 for c in inside if in_time(c)), overdue, sum(1 for c in resolved if c[2]),
                     sum(1 for c in resolved if c[3]), sum(took), max(took, default=None))  # fmt: skip
    return out


def naive_surveys(answers: Iterable[tuple[int, str, int]], at: int) -> dict[str, dict[str, tuple[int, int]]]:
    """Counted feedback per window and survey, each answer in the window of its own time: (responses, sum of
    scores) of the answers inside."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for name, seconds in WINDOWS.items():
        edge = at - seconds * MICROS
        out[name] = {}
        for survey in ("csat", "nps", "ces"):
            scores = [score for when, said, score in answers if said == survey and edge < when <= at]
            out[name][survey] = (len(scores), sum(scores))
    return out


def naive_waiting(
    threads: dict[str, tuple[Wait, ...]],
    at: int,
    response_window_us: int,
    span: Span | None = None,
    business_window_us: int | None = None,
) -> list[dict[str, object]]:
    """The waiting list straight from its definition (docs/semantics.md, "Who is waiting"), without `at_risk`
    and the business deadline.

    Every wait with `T - 7d < s <= T` and no answer at or before T, oldest first, ties by
    id; waited and due-in on the wall clock; with `span`, the open time waited and
    whether the business view still has it pending.
    """
    out: list[tuple[int, str, dict[str, object]]] = []
    for key, waits in threads.items():
        for wait in waits:
            if not (at - 7 * 86_400 * MICROS < wait.start <= at) or (
                wait.answer is not None and wait.answer <= at
            ):
                continue
            pending = at < wait.start + response_window_us
            entry: dict[str, object] = {
                "conversation_id": key,
                "conversation": wait.conversation,
                "since": wait.start,
                "waited_us": at - wait.start,
                "pending": pending,
                "due_in_us": wait.start + response_window_us - at if pending else None,
            }
            if span is not None:
                assert business_window_us is not None
                entry["business_waited_us"] = span(wait.start, at)
                entry["business_pending"] = span(wait.start, at) < business_window_us
            out.append((wait.start, key, entry))
    return [entry for _, _, entry in sorted(out, key=lambda item: (item[0], item[1]))]
