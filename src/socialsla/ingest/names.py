"""The names file: which account name each platform account id is reported under.

Platforms know a brand by numbers (a Facebook Page id, an X user id, a
Chatwoot account and inbox); people read dashboards by names. The file is
TOML, one line per account id, for example:

    "meta:103149398319188" = "acme"
    "x:2244994945" = "acme"
    "chatwoot:3:12" = "acme"

An id the file does not name is reported under the id itself, so a missing
line loses nothing: the series merely carries a number.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from socialsla.core.events import ACCOUNT_PATTERN

_KEY_RE: Final = re.compile(r"meta:[0-9]+|x:[0-9]+|chatwoot:[0-9]+:[0-9]+")
_ACCOUNT_RE: Final = re.compile(ACCOUNT_PATTERN)
# A line that starts with a key (bare, "basic" or 'literal'), or a [table] named by one.
_KEY_LINE: Final = re.compile(r"""\s*\[?\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=\]]""")
_KEY_FORMS: Final = "meta:<page or Instagram account id>, x:<user id> or chatwoot:<account id>:<inbox id>"


class NamesError(ValueError):
    """A names file that cannot be used; the message lists every mistake, one per line."""


@dataclass(frozen=True, slots=True)
class Names:
    """Account names by platform account id (`meta:…`, `x:…`, `chatwoot:…:…`)."""

    by_id: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def account(self, platform: str, platform_id: str) -> str:
        """The account name of a platform's account id, or the id itself when the file has none."""
        return self.by_id.get(f"{platform}:{platform_id}", platform_id)


def _key_lines(text: str) -> dict[str, int]:
    """The 1-based line each top-level key is written on, for pointing at mistakes."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        try:
            # TOML itself unquotes the key, escapes included.
            (key,) = tomllib.loads(f"{match[1]} = 0")
        except (tomllib.TOMLDecodeError, ValueError):
            continue
        lines.setdefault(key, number)
    return lines


def _problem(key: str, value: object) -> str | None:
    if _KEY_RE.fullmatch(key) is None:
        return f"key {key!r} is not one of {_KEY_FORMS}"
    if not isinstance(value, str):
        return f"{key!r} must name an account with a string, got {type(value).__name__}"
    if _ACCOUNT_RE.fullmatch(value) is None:
        return f"{key!r}: account name {value!r} does not match {ACCOUNT_PATTERN}"
    return None


def parse_names(text: str, source: str = "<accounts>") -> Names:
    """Parse and check a names file's text; every mistake is reported at once as `FILE:LINE: what`."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NamesError(f"{source}: not valid TOML: {exc}") from None
    lines = _key_lines(text)
    problems = []
    for key, value in document.items():
        problem = _problem(key, value)
        if problem is not None:
            where = f"{source}:{lines[key]}" if key in lines else source
            problems.append(f"{where}: {problem}")
    if problems:
        raise NamesError("\n".join(problems))
    return Names(MappingProxyType(dict(document)))


def load_names(path: Path | None) -> Names:
    """The names file at `path`, or no names at all when there is none."""
    if path is None:
        return Names()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NamesError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise NamesError(f"{path}: not UTF-8 text") from None
    return parse_names(text, str(path))
