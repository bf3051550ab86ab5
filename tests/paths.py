"""Where the tests find the repository's files, wherever in `tests/` a test module sits."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (the folder holding pyproject.toml).
REPO = Path(__file__).resolve().parents[1]
#: Test data: the scenario, the Twitter customer-support excerpt (sources in its README).
DATA = REPO / "tests" / "data"
#: The rules file shipped with the package's repository: Facebook's 2018 badge.
SHIPPED_RULES = REPO / "rules" / "facebook-2018.toml"
