"""Signature checks over raw bodies, for each platform and for our own bearer token."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from socialsla.core.events import MICROS
from socialsla.ingest.signatures import (
    check_bearer,
    check_chatwoot,
    check_meta,
    check_x,
    crc_response,
    header,
    meta_verify_token_matches,
)
from tests.unit.ingest.helpers import SAMPLES

# Secrets and signatures below were computed with the openssl command line, not with
# the code under test, over the sample files' bytes:
#   openssl dgst -sha256 -hmac SECRET FILE                  (hex)
#   openssl dgst -sha256 -hmac SECRET -binary FILE | base64 (base64)
META_SECRET = "8b4e0b1c2d9f4a7e9c3b5a6d7e8f9012"
META_BODY = (SAMPLES / "meta-messenger-message.json").read_bytes()
META_SIGNATURE = "sha256=0d9bb50b40571b03c18eb35c6c8585e136a841ec0dc376120668056cf6302300"
X_SECRET = "HqgK1NWA5ZnXeH0QoX2aV1MW3kBaZTXDRpl7uN0gK2w3pJ9c4E"
X_BODY = (SAMPLES / "x-dm.json").read_bytes()
X_SIGNATURE = "sha256=EsdZyOdRHmnnbI9bp0qW4r30c41u7o5e1U07Ohr8Cyg="
#: printf %s challenge_string | openssl dgst -sha256 -hmac X_SECRET -binary | base64
X_CRC = "sha256=dLKAwy8cujlIsBIx/W0pNZZdRlLz3oczu2qclPL0bUE="
CHATWOOT_SECRET = "cw_whsec_5f1c9e2a7b3d4e60"
CHATWOOT_BODY = (SAMPLES / "chatwoot-status-resolved.json").read_bytes()
CHATWOOT_TIMESTAMP = "1767606400"
#: (printf 1767606400.; cat FILE) | openssl dgst -sha256 -hmac CHATWOOT_SECRET
CHATWOOT_SIGNATURE = "sha256=ed580b78c0309af3c18efe21bf2855884440f736e5f7a39f444fbdeb31a9adf1"
CHATWOOT_NOW = int(CHATWOOT_TIMESTAMP) * MICROS


def chatwoot_headers(
    timestamp: str = CHATWOOT_TIMESTAMP, signature: str = CHATWOOT_SIGNATURE
) -> dict[str, str]:
    return {"X-Chatwoot-Timestamp": timestamp, "X-Chatwoot-Signature": signature}


# Meta


def test_meta_accepts_its_documented_signature() -> None:
    """sha256= and the lowercase hex HMAC of the raw body, keyed by the app secret."""
    assert check_meta({"X-Hub-Signature-256": META_SIGNATURE}, META_BODY, META_SECRET) is None


@pytest.mark.parametrize(
    ("headers", "body", "secret", "reason"),
    [
        pytest.param({}, META_BODY, META_SECRET, "missing X-Hub-Signature-256 header", id="missing"),
        pytest.param(
            {"X-Hub-Signature": "sha1=abc"},
            META_BODY,
            META_SECRET,
            "missing X-Hub-Signature-256 header",
            id="only-sha1",
        ),
        pytest.param(
            {"X-Hub-Signature-256": META_SIGNATURE[7:]},
            META_BODY,
            META_SECRET,
            "X-Hub-Signature-256 does not start with sha256=",
            id="no-prefix",
        ),
        pytest.param(
            {"X-Hub-Signature-256": "sha256=" + META_SIGNATURE[7:].upper()},
            META_BODY,
            META_SECRET,
            "signature does not match",
            id="uppercase-hex",
        ),
        pytest.param(
            {"X-Hub-Signature-256": META_SIGNATURE},
            META_BODY + b" ",
            META_SECRET,
            "signature does not match",
            id="body-changed",
        ),
        pytest.param(
            {"X-Hub-Signature-256": META_SIGNATURE},
            META_BODY,
            "another secret",
            "signature does not match",
            id="other-secret",
        ),
        pytest.param(
            {"X-Hub-Signature-256": "sha256=zz\u00e9"},
            META_BODY,
            META_SECRET,
            "signature does not match",
            id="non-ascii",
        ),
        pytest.param(
            {"X-Hub-Signature-256": META_SIGNATURE},
            META_BODY,
            "",
            "no app secret is configured",
            id="no-secret",
        ),
    ],
)
def test_meta_refuses_a_wrong_or_missing_signature(
    headers: dict[str, str], body: bytes, secret: str, reason: str
) -> None:
    """Each failure says which check failed."""
    assert check_meta(headers, body, secret) == reason


def test_header_names_match_in_any_case() -> None:
    """A plain dict with any casing is searched case-insensitively."""
    assert check_meta({"x-hub-signature-256": META_SIGNATURE}, META_BODY, META_SECRET) is None
    assert header({"X-TWITTER-WEBHOOKS-SIGNATURE": "v"}, "x-twitter-webhooks-signature") == "v"
    assert header({"Other": "v"}, "x-twitter-webhooks-signature") is None


# X


def test_x_accepts_its_documented_signature() -> None:
    """sha256= and the base64 HMAC of the raw body, keyed by the consumer secret."""
    assert check_x({"x-twitter-webhooks-signature": X_SIGNATURE}, X_BODY, X_SECRET) is None


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        pytest.param({}, X_BODY, "missing x-twitter-webhooks-signature header", id="missing"),
        pytest.param(
            {"x-twitter-webhooks-signature": X_SIGNATURE},
            X_BODY[:-1],
            "signature does not match",
            id="body-changed",
        ),
        pytest.param(
            {
                "x-twitter-webhooks-signature": "sha256="
                + hmac.new(X_SECRET.encode(), X_BODY, hashlib.sha256).hexdigest()
            },
            X_BODY,
            "signature does not match",
            id="hex-not-base64",
        ),
        pytest.param(
            {"x-twitter-webhooks-signature": X_SIGNATURE[7:]},
            X_BODY,
            "x-twitter-webhooks-signature does not start with sha256=",
            id="no-prefix",
        ),
    ],
)
def test_x_refuses_a_wrong_or_missing_signature(headers: dict[str, str], body: bytes, reason: str) -> None:
    """Each failure says which check failed."""
    assert check_x(headers, body, X_SECRET) == reason


def test_x_crc_response_matches_an_independent_computation() -> None:
    """The response token is sha256= and base64 of HMAC(consumer secret, crc_token)."""
    assert crc_response("challenge_string", X_SECRET) == {"response_token": X_CRC}
    token = "Zm9vYmFy\u00e9"
    expected = base64.b64encode(hmac.new(X_SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()
    assert crc_response(token, X_SECRET) == {"response_token": "sha256=" + expected}


# Chatwoot


def test_chatwoot_accepts_a_fresh_signed_delivery() -> None:
    """Hex HMAC of `timestamp.body`, keyed by the webhook secret, within 300 s either way."""
    for skew_s in (0, 300, -300):
        assert (
            check_chatwoot(chatwoot_headers(), CHATWOOT_BODY, CHATWOOT_SECRET, CHATWOOT_NOW + skew_s * MICROS)
            is None
        )


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        pytest.param(
            {"X-Chatwoot-Signature": CHATWOOT_SIGNATURE},
            CHATWOOT_BODY,
            "missing X-Chatwoot-Timestamp header",
            id="no-timestamp",
        ),
        pytest.param(
            {"X-Chatwoot-Timestamp": CHATWOOT_TIMESTAMP},
            CHATWOOT_BODY,
            "missing X-Chatwoot-Signature header",
            id="no-signature",
        ),
        pytest.param(
            chatwoot_headers(timestamp="1767606400.5"),
            CHATWOOT_BODY,
            "X-Chatwoot-Timestamp is not whole unix seconds",
            id="fraction",
        ),
        pytest.param(
            chatwoot_headers(timestamp="1767606401"),
            CHATWOOT_BODY,
            "signature does not match",
            id="timestamp-swapped",
        ),
        pytest.param(
            chatwoot_headers(),
            CHATWOOT_BODY.replace(b"resolved", b"open", 1),
            "signature does not match",
            id="body-changed",
        ),
        pytest.param(
            chatwoot_headers(
                signature="sha256="
                + hmac.new(CHATWOOT_SECRET.encode(), CHATWOOT_BODY, hashlib.sha256).hexdigest()
            ),
            CHATWOOT_BODY,
            "signature does not match",
            id="body-alone-signed",
        ),
    ],
)
def test_chatwoot_refuses_a_wrong_or_missing_signature(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    """Each failure says which check failed."""
    assert check_chatwoot(headers, body, CHATWOOT_SECRET, CHATWOOT_NOW) == reason


@pytest.mark.parametrize(
    ("skew_us", "reason"),
    [
        pytest.param(900 * MICROS, "timestamp 900 s from the gateway's clock (at most 300 s)", id="old"),
        pytest.param(-301 * MICROS, "timestamp 301 s from the gateway's clock (at most 300 s)", id="ahead"),
        pytest.param(
            300 * MICROS + 1, "timestamp 301 s from the gateway's clock (at most 300 s)", id="just-over"
        ),
    ],
)
def test_chatwoot_refuses_a_replayed_delivery(skew_us: int, reason: str) -> None:
    """A rightly signed delivery more than 300 s from the gateway's clock fails."""
    assert (
        check_chatwoot(chatwoot_headers(), CHATWOOT_BODY, CHATWOOT_SECRET, CHATWOOT_NOW + skew_us) == reason
    )


# Bearer token


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Bearer s3cr3t-t0ken", id="canonical"),
        pytest.param("bearer s3cr3t-t0ken", id="scheme-lowercase"),
    ],
)
def test_bearer_accepts_the_token(value: str) -> None:
    """Authorization: Bearer K, the scheme's name in any case."""
    assert check_bearer({"Authorization": value}, "s3cr3t-t0ken") is None


@pytest.mark.parametrize(
    ("headers", "token", "reason"),
    [
        pytest.param({}, "s3cr3t-t0ken", "missing Authorization header", id="missing"),
        pytest.param(
            {"Authorization": "Basic czNjcjN0"},
            "s3cr3t-t0ken",
            "Authorization is not a Bearer token",
            id="basic",
        ),
        pytest.param({"Authorization": "Bearer wrong"}, "s3cr3t-t0ken", "token does not match", id="wrong"),
        pytest.param(
            {"Authorization": "Bearer s3cr3t-t0ke"},
            "s3cr3t-t0ken",
            "token does not match",
            id="prefix-of-token",
        ),
        pytest.param(
            {"Authorization": "Bearer "}, "", "no token is configured", id="empty-token-never-matches"
        ),
        pytest.param(
            {"Authorization": "Bearer \u00e9"}, "s3cr3t-t0ken", "token does not match", id="non-ascii"
        ),
    ],
)
def test_bearer_refuses_a_wrong_or_missing_token(headers: dict[str, str], token: str, reason: str) -> None:
    """Each failure says which check failed."""
    assert check_bearer(headers, token) == reason


def test_no_reason_reveals_a_secret_or_the_expected_signature() -> None:
    """Reasons go back to the caller: they hold neither the secret nor what we expected."""
    expected_hex = META_SIGNATURE[7:]
    reasons = [
        check_meta({"X-Hub-Signature-256": "sha256=00"}, META_BODY, META_SECRET),
        check_x({"x-twitter-webhooks-signature": "sha256=00"}, X_BODY, X_SECRET),
        check_chatwoot(chatwoot_headers(signature="sha256=00"), CHATWOOT_BODY, CHATWOOT_SECRET, CHATWOOT_NOW),
        check_bearer({"Authorization": "Bearer x"}, "s3cr3t-t0ken"),
    ]
    for reason in reasons:
        assert reason is not None
        for secret in (META_SECRET, X_SECRET, CHATWOOT_SECRET, "s3cr3t-t0ken", expected_hex, X_SIGNATURE[7:]):
            assert secret not in reason


def test_metas_verify_token_matches_only_the_token_set() -> None:
    """The subscription handshake: the token set, nothing else, and nothing when none is set."""
    assert meta_verify_token_matches("verify-me", "verify-me")
    assert not meta_verify_token_matches("verify-m", "verify-me")
    assert not meta_verify_token_matches("vérify-me\udc80", "verify-me")  # no crash on odd text
    assert not meta_verify_token_matches("", "")
