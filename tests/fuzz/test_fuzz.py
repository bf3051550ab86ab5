"""A bounded atheris session, run by every test run (marker `fuzz`; `-m "not fuzz"` leaves it out)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Inputs tried per run: about 20 s here, enough to reach every decoder branch from the seed.
RUNS = 30_000


def test_atheris_fuzz_session() -> None:
    """A bounded atheris session over the decoders finds no crash."""
    script = Path(__file__).resolve().parent / "fuzz_decode.py"
    done = subprocess.run([sys.executable, str(script), f"-atheris_runs={RUNS}", "-max_len=4096", "-seed=1"],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Done {RUNS} in" in done.stderr
