"""Coverage-guided fuzzing (atheris) of everything that reads bytes from Kafka.

Run: python tests/fuzz/fuzz_decode.py -atheris_runs=200000
tests/fuzz/test_fuzz.py runs a bounded session of it on every test run.
The property: bytes in, a value or the project's own rejection out, never another
exception (a worker would crash on it).
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from socialsla.cli.traffic import route
    from socialsla.core.events import InvalidEvent, decode
    from socialsla.core.wire import decode_outcomes
    from socialsla.stream.settings import Settings

NOW = 1_767_830_400_000_000
SETTINGS = Settings()


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(InvalidEvent):
        decode(data, NOW)
    with contextlib.suppress(ValueError):
        decode_outcomes(data)
    route(data, SETTINGS)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
