"""A slow-reply scenario pages through real Prometheus and Alertmanager, and replying resolves it."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import EndToEnd
from tests.factories import event, write_lines
from tests.harness import CATCH_UP_S, eventually

#: Prometheus waits `for: 1m`, then Alertmanager groups for 1 s: allow for both and the scrapes.
PAGE_S = 150.0


def test_waiting_customers_page_the_team_and_replies_resolve_it(e2e: EndToEnd, tmp_path: Path) -> None:
    """Two posts unanswered for 20 minutes page acme's team, naming the first to answer; replies resolve it."""
    # The worker's clock is 2026-01-08T00:00Z: these posts have waited 20 and 18 minutes.
    e2e.stack.produce(
        write_lines(
            tmp_path / "slow.jsonl",
            event("post", "slow-1", "2026-01-07T23:40:00Z"),
            event("post", "slow-2", "2026-01-07T23:42:00Z"),
            event("post", "quick-1", "2026-01-07T23:50:00Z", channel="instagram"),
            event("reply", "quick-1", "2026-01-07T23:52:00Z", channel="instagram"),
            {**event("post", "bad", "2026-01-07T23:50:00Z"), "channel": "Facebook"},  # invalid: dead-lettered
        )
    )
    fired = eventually(
        lambda: e2e.webhook.alerts("SocialSlaCustomerWaiting", "firing"),
        bool,
        PAGE_S,
        "the SocialSlaCustomerWaiting page",
    )
    path, alert = fired[0]
    assert path == "/hooks/care-emea-page"  # acme belongs to care-emea; critical pages
    labels = alert["labels"]
    assert {k: labels[k] for k in ("account", "channel", "severity", "component")} == {
        "account": "acme",
        "channel": "facebook",
        "severity": "critical",
        "component": "sla",
    }
    # the page says whom to answer: the customer waiting longest
    assert alert["annotations"]["description"] == (
        "The oldest unanswered post of acme on facebook has waited 20m 0s. Answer conversation slow-1 first."
    )
    assert alert["annotations"]["conversation_id"] == "slow-1"
    assert alert["annotations"]["runbook_url"] == "http://127.0.0.1:6066/runbooks#socialslacustomerwaiting"
    # the answered instagram conversation never pages
    assert all(a["labels"]["channel"] == "facebook" for _, a in fired)

    e2e.stack.produce(
        write_lines(
            tmp_path / "answers.jsonl",
            event("reply", "slow-1", "2026-01-07T23:59:00Z"),
            event("reply", "slow-2", "2026-01-07T23:59:30Z"),
        )
    )
    eventually(
        lambda: e2e.webhook.alerts("SocialSlaCustomerWaiting", "resolved"),
        bool,
        CATCH_UP_S,
        "the page to resolve after the replies",
    )
