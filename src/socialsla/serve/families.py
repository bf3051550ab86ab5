"""Every per-series metric family a worker exports, declared once: name, type, help text and labels.

The collector (`collector.py`) makes and fills them at each scrape, in this
order; the demo's screen (`cli/screen.py`) reads a scrape back by the same
names. A metric's name and labels are written here and nowhere else in the
package; docs/metrics.md explains each one for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

_SERIES: Final = ("account", "channel")
_WINDOW: Final = (*_SERIES, "window")


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: what Prometheus is told of it."""

    name: str
    kind: Literal["gauge", "counter", "histogram"]
    help: str
    labels: tuple[str, ...]


CONVERSATIONS: Final = Family(
    "socialsla_conversations", "gauge",
    "Conversations opened in the window, by state at evaluation time.", (*_WINDOW, "state", "clock"),
)  # fmt: skip
RESPONSE_RATE: Final = Family(
    "socialsla_response_rate", "gauge",
    "responded / (responded + missed) of conversations opened in the window.", (*_WINDOW, "clock"),
)  # fmt: skip
RESPONSE_RATE_WORST: Final = Family(
    "socialsla_response_rate_worst", "gauge",
    "responded / inbound: pending conversations counted as missed.", (*_WINDOW, "clock"),
)  # fmt: skip
FIRST_REPLY_SECONDS: Final = Family(
    "socialsla_first_reply_seconds", "gauge",
    "First-reply latency of conversations opened in the window.", (*_WINDOW, "stat", "clock"),
)  # fmt: skip
OLDEST_UNANSWERED_SECONDS: Final = Family(
    "socialsla_oldest_unanswered_seconds", "gauge",
    "How long the longest-waiting customer of the last 7 days has waited.", (*_SERIES, "clock"),
)  # fmt: skip
OLDEST_UNANSWERED_CONVERSATION: Final = Family(
    "socialsla_oldest_unanswered_conversation", "gauge",
    "socialsla_oldest_unanswered_seconds on the wall clock, labelled with the conversation that has "
    "waited that long: the customer to answer first.",
    (*_SERIES, "conversation_id"),
)  # fmt: skip
SERIES_OPEN: Final = Family(
    "socialsla_series_open", "gauge",
    "1 while the team's calendar says it is open, 0 while closed; absent without a calendar "
    "(docs/metrics.md).",
    _SERIES,
)  # fmt: skip
FOLLOW_UPS: Final = Family(
    "socialsla_follow_ups", "gauge",
    "Follow-up waits (a customer writing again after the brand's answer) started in the window, "
    "by state now (docs/metrics.md).",
    (*_WINDOW, "state", "clock"),
)  # fmt: skip
NEXT_REPLY_SECONDS: Final = Family(
    "socialsla_next_reply_seconds", "gauge",
    "Reply time of follow-up waits started in the window (docs/metrics.md).", (*_WINDOW, "stat", "clock"),
)  # fmt: skip
AGENT_REPLIES: Final = Family(
    "socialsla_agent_replies", "gauge",
    "Waits the agent answered, started in the window: first replies to conversations, next to "
    "follow-ups (wall clock; past SOCIALSLA_MAX_AGENTS agents pooled as other; docs/metrics.md).",
    (*_WINDOW, "agent", "kind"),
)  # fmt: skip
AGENT_REPLY_SECONDS: Final = Family(
    "socialsla_agent_reply_seconds", "gauge",
    "Reply time of the agent's answers to waits started in the window (wall clock; docs/metrics.md).",
    (*_WINDOW, "agent", "kind", "stat"),
)  # fmt: skip
RULE_OK: Final = Family(
    "socialsla_rule_ok", "gauge",
    "1 when the rule holds, 0 when breached; absent without a verdict.", (*_SERIES, "rule"),
)  # fmt: skip
RULE_ERROR_BUDGET: Final = Family(
    "socialsla_rule_error_budget", "gauge",
    "Further missed conversations the rule's response rate can absorb.", (*_SERIES, "rule"),
)  # fmt: skip
RULE_FAILED: Final = Family(
    "socialsla_rule_failed", "gauge",
    "For each condition that makes the rule fail, its statistic now (a rate, or seconds); "
    "absent while the condition holds. Thresholds: socialsla_rule_threshold.",
    (*_SERIES, "rule", "condition"),
)  # fmt: skip
RULE_THRESHOLD: Final = Family(
    "socialsla_rule_threshold", "gauge",
    "The threshold of each condition of each rule this worker judges (a rate, or seconds).",
    ("rule", "condition"),
)  # fmt: skip
RULE_RATE_BREACH_IN_SECONDS: Final = Family(
    "socialsla_rule_rate_breach_in_seconds", "gauge",
    "Seconds until the rule's response rate drops below its threshold if nobody answers "
    "(docs/metrics.md).",
    (*_SERIES, "rule"),
)  # fmt: skip
FIRST_REPLY_LATENCY_SECONDS: Final = Family(
    "socialsla_first_reply_latency_seconds", "histogram",
    "First-reply latency of every conversation this series has seen answered.", _SERIES,
)  # fmt: skip
CONVERSATIONS_DECIDED: Final = Family(
    "socialsla_conversations_decided", "counter",
    "Conversations decided (responded within R, or missed).", (*_SERIES, "result"),
)  # fmt: skip
RESOLUTIONS: Final = Family(
    "socialsla_resolutions", "gauge",
    "Conversations opened in the window, resolved, resolved in time (within S), overdue, "
    "reopened after their resolution, resolved at first contact.",
    (*_WINDOW, "state", "clock"),
)  # fmt: skip
RESOLUTION_RATE: Final = Family(
    "socialsla_resolution_rate", "gauge",
    "Resolved in time / (resolved in time + overdue), of the conversations opened in the window.",
    (*_WINDOW, "clock"),
)  # fmt: skip
FIRST_CONTACT_RESOLUTION_RATE: Final = Family(
    "socialsla_first_contact_resolution_rate", "gauge",
    "Resolved with one reply and not reopened / resolved, of the conversations opened in the window.",
    (*_WINDOW, "clock"),
)  # fmt: skip
RESOLUTION_SECONDS: Final = Family(
    "socialsla_resolution_seconds", "gauge",
    "Resolution time (post to first resolve) of the conversations opened in the window and resolved.",
    (*_WINDOW, "stat", "clock"),
)  # fmt: skip
FEEDBACK_RESPONSES: Final = Family(
    "socialsla_feedback_responses", "gauge",
    "Counted survey answers given in the window (a customer's latest per conversation and survey).",
    (*_WINDOW, "survey"),
)  # fmt: skip
FEEDBACK_SCORE_AVG: Final = Family(
    "socialsla_feedback_score_avg", "gauge",
    "Average score of the counted answers given in the window.", (*_WINDOW, "survey"),
)  # fmt: skip
CSAT: Final = Family(
    "socialsla_csat", "gauge", "Share of CSAT answers of 4 or 5 in the window (0-1).", _WINDOW,
)  # fmt: skip
NPS: Final = Family(
    "socialsla_nps", "gauge",
    "Net promoter score in the window: 100 x (promoters - detractors) / answers (-100-100).", _WINDOW,
)  # fmt: skip
CES_EASY_RATE: Final = Family(
    "socialsla_ces_easy_rate", "gauge", "Share of CES answers of 5 to 7 in the window (0-1).", _WINDOW,
)  # fmt: skip

#: Every family, in the order a scrape lists them.
FAMILIES: Final = (
    CONVERSATIONS, RESPONSE_RATE, RESPONSE_RATE_WORST, FIRST_REPLY_SECONDS, OLDEST_UNANSWERED_SECONDS,
    OLDEST_UNANSWERED_CONVERSATION, SERIES_OPEN, FOLLOW_UPS, NEXT_REPLY_SECONDS, AGENT_REPLIES,
    AGENT_REPLY_SECONDS, RULE_OK, RULE_ERROR_BUDGET, RULE_FAILED, RULE_THRESHOLD, RULE_RATE_BREACH_IN_SECONDS,
    FIRST_REPLY_LATENCY_SECONDS, CONVERSATIONS_DECIDED, RESOLUTIONS, RESOLUTION_RATE,
    FIRST_CONTACT_RESOLUTION_RATE, RESOLUTION_SECONDS, FEEDBACK_RESPONSES, FEEDBACK_SCORE_AVG, CSAT, NPS,
    CES_EASY_RATE,
)  # fmt: skip
#: The surveys' headline figures: CSAT's share satisfied, NPS, CES's share easy.
SURVEY_HEADLINES: Final = {"csat": CSAT, "nps": NPS, "ces": CES_EASY_RATE}
