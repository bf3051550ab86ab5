"""The runbooks page a worker serves at /runbooks, in a real browser: every alert's section, the gateway's
two alerts included, reachable by its anchor as the alerts' runbook_url links it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.harness import WORKER_READY_S, Stack, eventually
from tests.integration.conftest import ARTIFACTS

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules" / "socialsla.rules.yml"


def test_every_alert_has_its_section_on_the_runbooks_page(stack: Stack, browser: object) -> None:
    text = RULES.read_text()
    alerts = re.findall(r"^\s*- alert: (\S+)", text, re.M)
    anchors = re.findall(r"runbook_url: \S+/runbooks#(\S+)", text)
    assert {"SocialSlaWebhooksRefused", "SocialSlaWebhooksUnacknowledged"} <= set(alerts)
    assert len(anchors) == len(alerts)
    worker = stack.worker()
    eventually(lambda: worker.get("/runbooks"), bool, WORKER_READY_S, "the worker to serve /runbooks")
    page = browser.new_page(viewport={"width": 1280, "height": 1400})  # type: ignore[attr-defined]
    try:
        page.goto(f"http://127.0.0.1:{worker.port}/runbooks#socialslawebhooksrefused")
        for alert, anchor in zip(alerts, anchors, strict=True):  # each alert links its own section
            heading = page.locator(f"[id='{anchor}']")
            assert heading.count() == 1, anchor
            assert heading.inner_text().strip() in alert  # (the two burn-rate alerts share one section)
        top = page.evaluate(
            "() => document.getElementById('socialslawebhooksrefused').getBoundingClientRect().top"
        )
        assert -5 <= top < 100  # the browser scrolled to the section the alert links
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "runbooks-webhooks.png"))
    finally:
        page.close()
