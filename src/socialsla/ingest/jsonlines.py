"""Events already in our own shape, from any source the platform mappings do not cover.

The body is JSON Lines, one event per line, or one JSON array of events (what
most HTTP clients find easier to send). Each event is judged on its own, by the
same decoder the workers use: a bad line is dead-lettered with the decoder's
reason and the rest are produced.
"""

from __future__ import annotations

import orjson

from socialsla.core.events import InvalidEvent, decode
from socialsla.ingest.delivery import Delivery, Intake, item_bytes


def map_events(raw: bytes, now_us: int) -> Delivery:
    """Judge each event of a JSON Lines body, or of a body that is one JSON array of events."""
    try:
        whole = orjson.loads(raw)
    except orjson.JSONDecodeError:
        items = [line.strip() for line in raw.split(b"\n")]
    else:
        # One JSON value: an array of events, or a single event (maybe written over several lines).
        items = [item_bytes(item) for item in whole] if isinstance(whole, list) else [raw.strip()]
    intake = Intake(now_us)
    for item in items:
        if not item:
            continue  # blank lines separate nothing
        try:
            intake.delivery.produced.append((decode(item, now_us), item))
        except InvalidEvent as exc:
            intake.reject(item, exc.reason)
    return intake.delivery
