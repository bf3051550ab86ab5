"""The runbooks as a web page, served by every worker at `/runbooks`.

Each alert's `runbook_url` points at this page's anchor for it, so the link in a
page opens on the phone that received it, with no wiki to set up. The text is
`runbooks.md` beside this module; only the little Markdown it uses is rendered
(headings, paragraphs, numbered and bulleted lists, code spans and blocks), and
everything is escaped: the page runs no script and loads nothing from elsewhere.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Final

SOURCE: Final = Path(__file__).with_name("runbooks.md")
_ITEM: Final = re.compile(r"^(\d+\.|[-*])\s+(.*)$")
_STYLE: Final = (
    "body{font:17px/1.5 system-ui,sans-serif;max-width:46em;margin:1em auto;padding:0 1em;"
    "color:#111;background:#fff}code,pre{background:#eee;font-size:90%}pre{padding:.6em;overflow:auto}"
    "h2{border-top:2px solid #333;padding-top:.6em}"
)


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    parts = text.split("`")
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def to_html(markdown: str) -> str:
    """A whole HTML page of the runbooks' Markdown; each `## Heading` gets the id `heading` (lower case)."""
    out = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>socialsla runbooks</title><style>{_STYLE}</style></head><body>"
    ]
    paragraph: list[str] = []
    lists: list[str] = []  # open list tags, innermost last
    code: list[str] | None = None

    def close_paragraph() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    def close_lists() -> None:
        while lists:
            out.append(f"</{lists.pop()}>")

    for line in markdown.splitlines():
        if code is not None:
            if line.startswith("```"):
                out.append(f"<pre>{html.escape(chr(10).join(code))}</pre>")
                code = None
            else:
                code.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith("```"):
            close_paragraph()
            close_lists()
            code = []
        elif stripped.startswith("#"):
            close_paragraph()
            close_lists()
            level = len(stripped) - len(stripped.lstrip("#"))
            title = stripped[level:].strip()
            anchor = re.sub(r"[^a-z0-9_-]", "", title.lower().replace(" ", "-"))
            out.append(f'<h{level} id="{anchor}">{_inline(title)}</h{level}>')
        elif not stripped:
            close_paragraph()
        elif (item := _ITEM.match(stripped)) is not None and not line.startswith("    "):
            close_paragraph()
            tag = "ol" if item.group(1)[0].isdigit() else "ul"
            if not lists or lists[-1] != tag:
                close_lists()
                out.append(f"<{tag}>")
                lists.append(tag)
            out.append(f"<li>{_inline(item.group(2))}")
        elif lists and line.startswith(" "):
            out.append(" " + _inline(stripped))  # the list item goes on
        else:
            close_lists()
            paragraph.append(stripped)
    close_paragraph()
    close_lists()
    out.append("</body></html>")
    return "\n".join(out)


@cache
def page() -> str:
    """The rendered page, read once."""
    return to_html(SOURCE.read_text())
