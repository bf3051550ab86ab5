"""Signature checks over a delivery's raw bytes, before anything of it is parsed.

Each check answers None when the delivery is genuine, or a short reason that
says which check failed. A reason never holds a secret or the signature we
expected: it is sent back to whoever made the request, who may be an attacker
probing for either. Every comparison runs in constant time, so that the time
an answer takes does not tell how many leading characters of a forgery were
right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Final

from socialsla.core.events import MICROS

#: How far Chatwoot's signed timestamp may be from our clock, either way: further
#: off, the delivery is taken for a recording replayed by someone else.
CHATWOOT_TOLERANCE_S: Final = 300
_PREFIX: Final = "sha256="
_SECONDS: Final = re.compile(r"[0-9]{1,12}")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, its name matched without regard to case.

    A case-insensitive mapping (aiohttp's) answers at once; a plain dict is
    searched, so tests and other servers may pass headers as they came.
    """
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _same(received: str, expected: str) -> bool:
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters,
    # which a forged header may well carry.
    return hmac.compare_digest(received.encode("utf-8", "surrogatepass"), expected.encode())


def _signed(headers: Mapping[str, str], name: str, expected: str) -> str | None:
    """Check a `sha256=<digest>` header against the digest we computed."""
    value = header(headers, name)
    if value is None:
        return f"missing {name} header"
    if not value.startswith(_PREFIX):
        return f"{name} does not start with {_PREFIX}"
    if not _same(value[len(_PREFIX) :], expected):
        return "signature does not match"
    return None


def check_meta(headers: Mapping[str, str], body: bytes, app_secret: str) -> str | None:
    """Meta: `X-Hub-Signature-256: sha256=` + hex HMAC-SHA256 of the body, keyed by the app secret."""
    if not app_secret:
        return "no app secret is configured"
    return _signed(headers, "X-Hub-Signature-256", _hmac(app_secret, body).hex())


def check_x(headers: Mapping[str, str], body: bytes, consumer_secret: str) -> str | None:
    """X: `x-twitter-webhooks-signature: sha256=` + base64 HMAC-SHA256 of the body (consumer secret)."""
    if not consumer_secret:
        return "no consumer secret is configured"
    expected = base64.b64encode(_hmac(consumer_secret, body)).decode()
    return _signed(headers, "x-twitter-webhooks-signature", expected)


def meta_verify_token_matches(given: str, verify_token: str) -> bool:
    """Meta's subscription handshake: the verify token typed in Meta's settings, compared in constant
    time; an unset token matches nothing."""
    return bool(verify_token) and _same(given, verify_token)


def crc_response(crc_token: str, consumer_secret: str) -> dict[str, str]:
    """X's challenge-response check: the JSON object that proves we hold the consumer secret."""
    digest = _hmac(consumer_secret, crc_token.encode("utf-8", "surrogatepass"))
    return {"response_token": _PREFIX + base64.b64encode(digest).decode()}


def check_chatwoot(headers: Mapping[str, str], body: bytes, secret: str, now_us: int) -> str | None:
    """Chatwoot: hex HMAC-SHA256 of `timestamp.body`, the timestamp within 300 s of `now_us`.

    The timestamp is inside the signed bytes, so a replayed delivery cannot be
    given a fresh one; its distance from our clock is judged only once the
    signature holds, so that a forged header learns nothing about our clock.
    """
    if not secret:
        return "no webhook secret is configured"
    stamp = header(headers, "X-Chatwoot-Timestamp")
    if stamp is None:
        return "missing X-Chatwoot-Timestamp header"
    if _SECONDS.fullmatch(stamp) is None:
        return "X-Chatwoot-Timestamp is not whole unix seconds"
    expected = _hmac(secret, stamp.encode() + b"." + body).hex()
    failure = _signed(headers, "X-Chatwoot-Signature", expected)
    if failure is not None:
        return failure
    off_us = abs(int(stamp) * MICROS - now_us)
    if off_us > CHATWOOT_TOLERANCE_S * MICROS:
        off_s = -(-off_us // MICROS)
        return f"timestamp {off_s} s from the gateway's clock (at most {CHATWOOT_TOLERANCE_S} s)"
    return None


def check_bearer(headers: Mapping[str, str], token: str) -> str | None:
    """Our own `/events`: `Authorization: Bearer <token>`, the scheme's name in any case."""
    if not token:
        return "no token is configured"
    value = header(headers, "Authorization")
    if value is None:
        return "missing Authorization header"
    scheme, _, given = value.partition(" ")
    if scheme.lower() != "bearer":
        return "Authorization is not a Bearer token"
    if not _same(given.strip(" "), token):
        return "token does not match"
    return None


def signed_meta(body: bytes, app_secret: str) -> dict[str, str]:
    """The header Meta signs a delivery with (for the demo's traffic and the bench: a sender's side)."""
    return {"X-Hub-Signature-256": _PREFIX + _hmac(app_secret, body).hex()}


def signed_x(body: bytes, consumer_secret: str) -> dict[str, str]:
    """The header X signs a delivery with."""
    return {"x-twitter-webhooks-signature": _PREFIX + base64.b64encode(_hmac(consumer_secret, body)).decode()}


def signed_chatwoot(body: bytes, secret: str, at_s: int) -> dict[str, str]:
    """The headers Chatwoot signs a delivery with, sent at unix second `at_s`."""
    stamp = str(at_s)
    return {
        "X-Chatwoot-Timestamp": stamp,
        "X-Chatwoot-Signature": _PREFIX + _hmac(secret, stamp.encode() + b"." + body).hex(),
    }
