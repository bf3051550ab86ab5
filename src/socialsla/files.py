"""The files a person names on the command line, checked before use so errors say what to do.

`report`, `import twcs` and `produce` read whole files in one streaming pass;
a directory, a missing file or a compressed one would otherwise surface as a
traceback or as thousands of "not valid JSON" lines.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def check_input(name: str) -> None:
    """Raise InputFileError unless `name` is '-' (stdin) or a readable, uncompressed file."""
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
        head = stream.read(4)
    for magic, advice in _COMPRESSED.items():
        if head.startswith(magic):
            raise InputFileError(f"{name}: {advice}")
