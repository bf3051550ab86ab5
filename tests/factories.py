"""Events and rules as tests write them: one way to build each, shared by every test folder.

An event is a dict in the input format (`event`), or its JSON line (`line`);
its instant is microseconds since the epoch or an RFC 3339 string. Its id is
`<thread>-<kind>`, or `<thread>-<kind>-<n>` when a thread holds several events
of one kind. A rule is a `[[rule]]` table of a rules file (`rule`).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from socialsla.core.events import format_time


def event(
    kind: str,
    thread: str,
    at: int | str,
    n: int | None = None,
    *,
    event_id: str | None = None,
    account: str = "acme",
    channel: str = "facebook",
    **extra: object,
) -> dict[str, object]:
    """An input event of `kind` in `thread` at `at`; `extra` adds fields (automated, survey, score, …)."""
    if event_id is None:
        event_id = f"{thread}-{kind}" if n is None else f"{thread}-{kind}-{n}"
    created = at if isinstance(at, str) else format_time(at)
    return {"type": kind, "event_id": event_id, "conversation_id": thread, "account": account,
            "channel": channel, "created_at": created, **extra}  # fmt: skip


def line(kind: str, thread: str, at: int | str, n: int | None = None, **fields: object) -> bytes:
    """The JSON line of `event(kind, thread, at, n, **fields)`, as a producer sends it."""
    return orjson.dumps(event(kind, thread, at, n, **fields))  # type: ignore[arg-type]


def write_lines(path: Path, *items: dict[str, object] | bytes) -> Path:
    """A JSON-lines input file of these events (dicts or lines), for the report or `send`."""
    path.write_bytes(
        b"".join((item if isinstance(item, bytes) else orjson.dumps(item)) + b"\n" for item in items)
    )
    return path


def rule(name: str = "r", window: str = "7d", body: str = "", **fields: object) -> str:
    """A `[[rule]]` table: `fields` written as TOML writes them, then `body` as given (raw TOML, for
    the tests of what a rules file may not say)."""
    given = "".join(f"{key} = {_toml(value)}\n" for key, value in fields.items())
    return f'[[rule]]\nname = "{name}"\nwindow = "{window}"\n{given}{body}\n'


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return repr(value)
