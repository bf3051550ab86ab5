"""The runbooks page every worker serves at /runbooks, which each alert's runbook_url points into."""

from __future__ import annotations

import re

import yaml

from socialsla.serve import runbooks
from tests.deploy.test_prometheus import REPO


def test_every_alert_anchor_is_an_id_on_the_page() -> None:
    """Each alert's runbook_url anchor names a heading of the served page, so the link lands on its runbook."""
    rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "rules" / "socialsla.rules.yml").read_text())
    anchors = {
        rule["annotations"]["runbook_url"].split("#")[1]
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    ids = set(re.findall(r' id="([^"]+)"', runbooks.page()))
    assert anchors
    assert anchors <= ids, anchors - ids


def test_the_page_escapes_text_and_renders_lists_and_code() -> None:
    """Markdown's lists, code spans and blocks become HTML; angle brackets in the text stay text."""
    page = runbooks.to_html(
        "# Title\n\nA <b> and `x > 1`.\n\n1. first\n   goes on\n2. second\n\n```\na < b\n```\n"
    )
    assert '<h1 id="title">Title</h1>' in page
    assert "<p>A &lt;b&gt; and <code>x &gt; 1</code>.</p>" in page
    assert "<ol>\n<li>first\n goes on\n<li>second\n</ol>" in page
    assert "<pre>a &lt; b</pre>" in page
    assert "<script" not in page
