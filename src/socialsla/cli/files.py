"""The files a person names on the command line, checked before use so errors say what to do.

`report`, `import twcs` and `produce` read whole files in one streaming pass;
a directory, a missing file or a compressed one would otherwise surface as a
traceback or as thousands of "not valid JSON" lines.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

#: Leading bytes of compressed files people commonly hand over, and what to run instead.
_COMPRESSED = {
    b"\x1f\x8b": "gzip-compressed: decompress it first (gunzip -k FILE), or pipe it in: zcat FILE | ... -",
    b"BZh": "bzip2-compressed: decompress it first (bunzip2 -k FILE)",
    b"\xfd7zXZ": "xz-compressed: decompress it first (unxz -k FILE)",
    b"PK\x03\x04": "a zip archive: unzip it first",
    b"\x28\xb5\x2f\xfd": "zstd-compressed: decompress it first (unzstd FILE)",
}


class InputFileError(Exception):
    """A named input file cannot be read as text; the message says why and what to do."""


#: How much of a file is looked at to tell text from binary data.
_SNIFF_BYTES = 65_536
#: The header of the public "Customer Support on Twitter" CSV.
_TWCS_HEADER = b"tweet_id,author_id,inbound"


#: Above this share of undecodable bytes and control characters, a file is not text. A few bad
#: lines are the report's to count and name (hostile input), not a reason to refuse the file.
_BINARY_SHARE = 0.1


def _binary_share(head: bytes) -> float:
    """The share of a chunk that no text file holds: bytes that are not UTF-8, and control characters."""
    if not head:
        return 0.0
    text = head.decode("utf-8", errors="replace")
    odd = sum(1 for c in text if c == "\ufffd" or (c < " " and c not in "\t\n\r"))
    return odd / len(text)


def check_input(name: str, events: bool = True) -> None:
    """Raise InputFileError unless `name` is '-' (stdin) or a readable, uncompressed text file.

    With `events`, a file that is the twcs CSV is refused too, with the command that
    converts it: every one of its lines would be "not valid JSON".
    """
    if name == "-":
        return
    path = Path(name)
    if path.is_dir():
        raise InputFileError(f"{name}: is a directory; give a file")
    if not path.exists():
        raise InputFileError(f"{name}: no such file")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{name}: permission denied")
    with open(path, "rb") as stream:
        head = stream.read(_SNIFF_BYTES)
    for magic, advice in _COMPRESSED.items():
        if head.startswith(magic):
            raise InputFileError(f"{name}: {advice}")
    what = "JSON Lines events" if events else 'the "Customer Support on Twitter" CSV'
    if _binary_share(head) > _BINARY_SHARE:
        raise InputFileError(f"{name}: binary data, not text: give {what}")
    if events and head.startswith(_TWCS_HEADER):
        raise InputFileError(
            f"{name}: this is the twcs CSV, not events; convert it first: "
            f"socialsla import twcs {name} > events.jsonl"
        )


def iter_lines(stream: IO[bytes], progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Lines of a binary stream without their line ends, reporting bytes read now and then."""
    done, next_report = 0, 64 << 20
    for line in stream:
        done += len(line)
        if progress is not None and done >= next_report:
            progress(done)
            next_report = done + (64 << 20)
        yield line.rstrip(b"\r\n")


class read_input:
    """Open a path, or stdin; spool stdin to disk when it must be read twice."""

    def __init__(self, source: str, seekable: bool) -> None:
        self.source, self.seekable = source, seekable
        self.stream: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if self.source != "-":
            self.stream = open(self.source, "rb")
        elif self.seekable:
            self.stream = tempfile.TemporaryFile()
            shutil.copyfileobj(sys.stdin.buffer, self.stream, 1 << 20)
            self.stream.seek(0)
        else:
            return sys.stdin.buffer
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None:
            self.stream.close()
