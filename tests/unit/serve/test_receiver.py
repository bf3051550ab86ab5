"""The page receiver: Alertmanager's webhook in, one readable line per alert out."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from socialsla.serve.receiver import page_lines
from tests.harness import eventually, free_port

NOTIFICATION = {
    "version": "4",
    "status": "firing",
    "receiver": "care-emea-page",
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "SocialSlaBadgeLost", "account": "acme", "channel": "facebook", "severity": "critical"},
        "annotations": {"summary": "acme on facebook has lost facebook_very_responsive",
                        "description": "Rule facebook_very_responsive is lost for acme on facebook: response_rate 88.3% (threshold 90%);",
                        "runbook_url": "http://127.0.0.1:6066/runbooks#socialslabadgelost"},
        "startsAt": "2026-12-01T23:50:00.123Z",
    }],
}  # fmt: skip


def test_a_page_reads_as_one_line_with_its_condition_and_runbook() -> None:
    """Each alert is one line: when, receiver, status, severity, alert, series, summary, description, runbook."""
    (line,) = page_lines("care-emea-page", NOTIFICATION)
    assert line == (
        "2026-12-01T23:50:00Z care-emea-page FIRING critical SocialSlaBadgeLost acme/facebook: "
        "acme on facebook has lost facebook_very_responsive "
        "Rule facebook_very_responsive is lost for acme on facebook: response_rate 88.3% (threshold 90%); "
        "runbook: http://127.0.0.1:6066/runbooks#socialslabadgelost"
    )


@pytest.mark.parametrize(
    "body", [[], {"alerts": "x"}, {"alerts": [1]}], ids=["list", "alerts-not-a-list", "alert-not-an-object"]
)
def test_what_is_not_a_notification_is_refused(body: object) -> None:
    """A body that is not Alertmanager's is refused with the reason, never half-logged."""
    with pytest.raises(ValueError, match="not"):
        page_lines("r", body)


def test_the_command_logs_pages_refuses_garbage_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`socialsla receiver` appends each page to its log, answers garbage with 400, and ends on SIGTERM."""
    port, log = free_port(), tmp_path / "pages.log"
    process = subprocess.Popen([sys.executable, "-m", "socialsla.cli", "receiver", "--port", str(port), "--log", str(log)],
                               stderr=subprocess.PIPE)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/hooks/care-emea-page"

        def post(body: bytes) -> int:
            try:
                with urllib.request.urlopen(urllib.request.Request(url, body, method="POST"), timeout=3) as r:
                    return int(r.status)
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return 0

        eventually(lambda: post(json.dumps(NOTIFICATION).encode()), lambda status: status == 200, 30,
                   "the receiver to take a page")  # fmt: skip
        assert post(b"not json") == 400
        text = log.read_text()
        assert "care-emea-page FIRING critical SocialSlaBadgeLost acme/facebook:" in text
        assert "care-emea-page: refused a notification" in text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0  # a stop within its bound, exit 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
