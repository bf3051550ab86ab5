"""The names file: platform account ids to account names."""

from __future__ import annotations

from pathlib import Path

import pytest

from socialsla.ingest.names import Names, NamesError, load_names, parse_names

GOOD = """\
# Acme's accounts
"meta:103149398319188" = "acme"
"meta:17841405309211844" = "acme"
'x:2244994945' = "acme.x"
"chatwoot:3:12" = "acme"
"""


def test_each_platform_id_maps_to_its_name() -> None:
    """Keys are platform:id; Chatwoot's id is account:inbox."""
    names = parse_names(GOOD)
    assert names.account("meta", "103149398319188") == "acme"
    assert names.account("x", "2244994945") == "acme.x"
    assert names.account("chatwoot", "3:12") == "acme"


def test_an_id_without_a_name_is_its_own_account() -> None:
    """Without an entry the account is the id as written, on the same or another platform."""
    names = parse_names(GOOD)
    assert names.account("meta", "999") == "999"
    assert names.account("x", "103149398319188") == "103149398319188"
    assert names.account("chatwoot", "3:13") == "3:13"
    assert Names().account("meta", "103149398319188") == "103149398319188"


def test_every_mistake_is_reported_at_once_with_its_line() -> None:
    """Bad keys and values are all listed, each as FILE:LINE: what."""
    text = """\
"meta:103149398319188" = "acme"
"facebook:1" = "acme"
"x:22x" = "acme"
"chatwoot:3" = "acme"
"x:1" = "Acme Corp"
"meta:2" = 5
[chatwoot]
"""
    with pytest.raises(NamesError) as caught:
        parse_names(text, "accounts.toml")
    forms = "meta:<page or Instagram account id>, x:<user id> or chatwoot:<account id>:<inbox id>"
    assert str(caught.value).splitlines() == [
        f"accounts.toml:2: key 'facebook:1' is not one of {forms}",
        f"accounts.toml:3: key 'x:22x' is not one of {forms}",
        f"accounts.toml:4: key 'chatwoot:3' is not one of {forms}",
        "accounts.toml:5: 'x:1': account name 'Acme Corp' does not match [A-Za-z0-9_.@:-]{1,64}",
        "accounts.toml:6: 'meta:2' must name an account with a string, got int",
        f"accounts.toml:7: key 'chatwoot' is not one of {forms}",
    ]


def test_a_file_that_is_not_toml_says_so() -> None:
    """TOML's own message (with its line) follows the file name."""
    with pytest.raises(NamesError, match=r"^accounts\.toml: not valid TOML: .*line 1"):
        parse_names('"meta:1" = acme', "accounts.toml")


def test_a_key_written_twice_is_not_toml() -> None:
    """Two names for one id is TOML's error, not a silent override."""
    with pytest.raises(NamesError, match="not valid TOML"):
        parse_names('"x:1" = "a"\n"x:1" = "b"\n')


def test_loading_a_file(tmp_path: Path) -> None:
    """A file is read as UTF-8; none means no names; errors name the path."""
    path = tmp_path / "accounts.toml"
    path.write_text(GOOD)
    assert load_names(path).account("x", "2244994945") == "acme.x"
    assert load_names(None) == Names()
    with pytest.raises(NamesError, match="cannot read"):
        load_names(tmp_path / "missing.toml")
    path.write_bytes(b'"x:1" = "\xff"')
    with pytest.raises(NamesError, match="not UTF-8"):
        load_names(path)
