"""The page token: Bearer or any user's basic-auth password, compared whole; anything else refused with why."""

from __future__ import annotations

import base64

import pytest

from socialsla.serve.access import credential_fails

TOKEN = "wall-token-0123456789abcdef"


def _basic(user_and_password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user_and_password.encode()).decode()}


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {TOKEN}"},
        {"Authorization": f"bearer {TOKEN}"},
        {"Authorization": f"  Bearer   {TOKEN}  "},
        _basic(f"wall:{TOKEN}"),
        _basic(f":{TOKEN}"),
        _basic(f"anyone at all:{TOKEN}"),
    ],
)
def test_the_token_as_bearer_or_as_any_users_basic_password_is_accepted(headers: dict[str, str]) -> None:
    assert credential_fails(headers, TOKEN) is None


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "no Authorization header"),
        ({"Authorization": ""}, "neither Bearer nor Basic"),
        ({"Authorization": f"Digest {TOKEN}"}, "neither Bearer nor Basic"),
        ({"Authorization": TOKEN}, "neither Bearer nor Basic"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "does not match"),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "does not match"),
        ({"Authorization": "Bearer"}, "does not match"),
        ({"Authorization": "Bearer é☃\udcff"}, "does not match"),
        (_basic(f"{TOKEN}:"), "does not match"),  # the token as the user name is not the password
        (_basic(TOKEN), "does not match"),  # no colon: no password
        ({"Authorization": "Basic ###"}, "not base64"),
        ({"Authorization": "Basic " + base64.b64encode(b"wall:\xff\xfe").decode()}, "not base64 of UTF-8"),
        ({"Authorization": "Basic é"}, "not base64"),
        ({"Authorization": "Basic d2FsbDo=\udcff"}, "not base64"),
    ],
)
def test_anything_else_is_refused_with_the_reason_for_the_log(headers: dict[str, str], why: str) -> None:
    found = credential_fails(headers, TOKEN)
    assert found is not None
    assert why in found
