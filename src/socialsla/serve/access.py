"""Who may read the on-call page: an optional token that protects who is waiting.

Once the gateway feeds a worker, a conversation id carries the customer's
page-scoped or X user id: personal data. With `SOCIALSLA_PAGE_TOKEN` set, the
page at `/`, `/board` and `/waiting` answer only a request that carries the
token, as `Authorization: Bearer <token>` (scripts, a proxy) or as the password
of HTTP basic auth with any user name (a wall browser can hold it in its URL:
`http://wall:<token>@host:6066/`). `/metrics`, `/healthz` and `/runbooks` stay
open for Prometheus, probes and the people paged.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import Final

#: The paths the token protects: everything that names a customer.
PROTECTED: Final = frozenset({"/", "/board", "/waiting"})
#: Asks a browser for the basic-auth password; the realm names what it protects.
CHALLENGE: Final = {"WWW-Authenticate": 'Basic realm="socialsla on-call page", charset="UTF-8"'}


def credential_fails(headers: Mapping[str, str], token: str) -> str | None:
    """Why a request's `Authorization` does not carry `token` (None: it does), for the log only.

    Compared in constant time, as bytes: a forged header may hold any character.
    """
    value = headers.get("Authorization")
    if value is None:
        return "no Authorization header"
    scheme, _, given = value.strip().partition(" ")
    given = given.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(given, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, a non-ASCII value, or bytes that are not UTF-8
            return "basic credentials are not base64 of UTF-8"
        given = decoded.partition(":")[2]
    elif scheme.lower() != "bearer":
        return f"scheme {scheme[:20]!r} is neither Bearer nor Basic"
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode()):
        return "the token does not match"
    return None
