"""The platforms a gateway serves, from its settings: for each path, how a delivery is checked and read.

A platform is served only when its secret is set (Meta's app secret, X's
consumer secret, Chatwoot's webhook secret, the token of `/events`): an
unconfigured path answers 404, so nobody can feed events through a check that
was never set up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from socialsla.ingest.chatwoot import map_chatwoot
from socialsla.ingest.delivery import Delivery, InvalidItem, load_json, rejected
from socialsla.ingest.jsonlines import map_events
from socialsla.ingest.meta import map_meta
from socialsla.ingest.names import Names
from socialsla.ingest.signatures import check_bearer, check_chatwoot, check_meta, check_x
from socialsla.ingest.x import map_x
from socialsla.stream.settings import Settings

#: (headers, raw body, now in microseconds) -> None when genuine, else which check failed.
Check = Callable[[Mapping[str, str], bytes, int], str | None]
#: (raw body, now in microseconds) -> what the delivery yields.
Read = Callable[[bytes, int], Delivery]


@dataclass(frozen=True, slots=True)
class Platform:
    """One served path: its name (`meta`, `x`, `chatwoot`, `events`), its check and its reading."""

    name: str
    check: Check
    read: Read


def platforms(settings: Settings, names: Names) -> dict[str, Platform]:
    """The platforms these settings configure, by name; the others are not served."""
    apps = settings.automated_app_ids
    served = {}
    if settings.meta_app_secret:
        secret = settings.meta_app_secret
        served["meta"] = Platform(
            "meta",
            lambda headers, body, now_us: check_meta(headers, body, secret),
            _json(lambda body, now_us: map_meta(body, names, apps["meta"], now_us)),
        )
    if settings.x_consumer_secret:
        consumer = settings.x_consumer_secret
        served["x"] = Platform(
            "x",
            lambda headers, body, now_us: check_x(headers, body, consumer),
            _json(lambda body, now_us: map_x(body, names, apps["x"], now_us)),
        )
    if settings.chatwoot_secret:
        served["chatwoot"] = Platform(
            "chatwoot",
            partial(_check_chatwoot, settings.chatwoot_secret),
            _json(lambda body, now_us: map_chatwoot(body, names, now_us)),
        )
    if settings.ingest_token:
        token = settings.ingest_token
        served["events"] = Platform(
            "events", lambda headers, body, now_us: check_bearer(headers, token), map_events
        )
    return served


def _check_chatwoot(secret: str, headers: Mapping[str, str], body: bytes, now_us: int) -> str | None:
    return check_chatwoot(headers, body, secret, now_us)


def _json(mapping: Callable[[object, int], Delivery]) -> Read:
    """A reading of a JSON body: a body that is not JSON is one dead letter, its raw bytes kept."""

    def read(raw: bytes, now_us: int) -> Delivery:
        try:
            body = load_json(raw)
        except InvalidItem as exc:
            return rejected(raw, exc.reason)
        return mapping(body, now_us)

    return read
