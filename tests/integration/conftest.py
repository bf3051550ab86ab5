"""Fixtures of the integration tests: a real browser for the pages the workers serve."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SOCIALSLA_CHROMIUM", "/usr/bin/chromium")
#: Screenshots of the pages tests look at, kept as the run's artifacts.
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
#: The flags the machine's Chromium needs headless as root, without a network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium, or a skip (a failure where CI requires the broker) without one."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (deploy/run test installs it)"
        if os.environ.get("TESTS_REQUIRE_BROKER"):
            pytest.fail(reason)
        pytest.skip(reason)
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (deploy/run test installs Debian's chromium)"
        if os.environ.get("TESTS_REQUIRE_BROKER"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()
