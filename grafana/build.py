"""Writes grafana/dashboards/socialsla-wall.json, the wall display of the care team's room.

Built with Grafana's own dashboard-as-code SDK (`grafana-foundation-sdk`), which
covers every panel here: stat tiles with per-query overrides, time series, a
table with transformations, query variables and rows.

Run `python grafana/build.py` after editing; tests/deploy/test_grafana.py regenerates
it and fails when the committed JSON differs, so the two never drift. Uids are
fixed, so links and kiosk URLs (`/d/socialsla-wall?kiosk`) stay stable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as board
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    FieldColorModeId,
    GridPos,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = DataSourceRef(type_val="prometheus", uid="socialsla-prometheus")
SELECT = 'account=~"$account", channel=~"$channel"'
OUT = Path(__file__).parent / "dashboards" / "socialsla-wall.json"
#: The breach forecast is shown on the badge tile in minutes while under this many.
FORECAST_MINUTES = 180
#: A series whose calendar is closed now (`socialsla_series_open` 0).
CLOSED = "on(account, channel) (socialsla_series_open == 0)"
GREY = "#8e8e8e"


def query(expr: str, legend: str, ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    built = prometheus.Dataquery().datasource(DATASOURCE).expr(expr).legend_format(legend).ref_id(ref)
    if instant:
        built = built.instant().format(PromQueryFormat.TABLE)
    return built


def thresholds(*steps: tuple[float | None, str]) -> board.ThresholdsConfig:
    return (
        board.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=colour) for value, colour in steps])
    )


def _mapping(words: dict[str, tuple[str, str | None]]) -> ValueMap:
    """Value -> (text, colour or None), in order."""
    return ValueMap(options={
        value: ValueMappingResult(text=text, color=colour, index=index)
        for index, (value, (text, colour)) in enumerate(words.items())
    })  # fmt: skip


BADGE_WORDS = {"1": ("OK", "green"), "0": ("LOST", "red")}


def tile(
    panel_id: int, title: str, expr: str, unit: str, steps: board.ThresholdsConfig, x: int,
    words: dict[str, tuple[str, str | None]] | None = None, description: str = "", w: int = 5,
    forecast: bool = False,
) -> stat.Panel:  # fmt: skip
    """A badge-wall stat tile whose series are grey while their calendar is closed."""
    panel = (
        stat.Panel().id(panel_id).title(title).datasource(DATASOURCE)
        .description(description + " Grey: the team's calendar is closed now.")
        .grid_pos(GridPos(h=8, w=w, x=x, y=1))
        .with_target(query(f"({expr}) unless {CLOSED}", "{{account}} / {{channel}}"))
        .unit(unit).thresholds(steps).color_scheme(board.FieldColor().mode(FieldColorModeId.THRESHOLDS))
        .mappings([_mapping(words)] if words else [])
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields(""))
        .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME).justify_mode(common.BigValueJustifyMode.CENTER)
        .orientation(common.VizOrientation.AUTO)
    )  # fmt: skip
    if forecast:
        panel = panel.with_target(query(
            f"ceil(socialsla_rule_rate_breach_in_seconds{{{SELECT}}} / 60) < {FORECAST_MINUTES}",
            "{{account}} / {{channel}}: badge lost in", "B",
        )).override_by_query("B", [
            DynamicConfigValue(id_val="unit", value="suffix:m unless answered"),
            DynamicConfigValue(id_val="decimals", value=0),
            DynamicConfigValue(id_val="mappings", value=[]),
            DynamicConfigValue(id_val="thresholds", value=thresholds((None, "red"), (60, "orange")).build()),
        ])  # fmt: skip
    # the same words (OK, LOST) without their colours: a mapping's colour would win over the grey
    colourless = [_mapping({value: (text, None) for value, (text, _) in words.items()})] if words else []
    return panel.with_target(
        query(f"({expr}) and {CLOSED}", "{{account}} / {{channel}} (closed)", "Z")
    ).override_by_query("Z", [
        DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": GREY}),
        DynamicConfigValue(id_val="mappings", value=colourless),
    ])  # fmt: skip


def score_tile(
    panel_id: int, title: str, expr: str, unit: str, steps: board.ThresholdsConfig, x: int, y: int, description: str,
) -> stat.Panel:  # fmt: skip
    """A scorecard tile: shown only for series that send resolve or feedback events."""
    return (
        stat.Panel().id(panel_id).title(title).datasource(DATASOURCE)
        .description(description + " No tile: the series sends no such events.")
        .grid_pos(GridPos(h=6, w=6, x=x, y=y))
        .with_target(query(expr, "{{account}} / {{channel}}"))
        .unit(unit).thresholds(steps).color_scheme(board.FieldColor().mode(FieldColorModeId.THRESHOLDS))
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields(""))
        .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME).justify_mode(common.BigValueJustifyMode.CENTER)
        .orientation(common.VizOrientation.AUTO)
    )  # fmt: skip


def trend(
    panel_id: int, title: str, targets: list[prometheus.Dataquery], unit: str, x: int, y: int, w: int = 8
) -> timeseries.Panel:
    return (
        timeseries.Panel().id(panel_id).title(title).datasource(DATASOURCE)
        .grid_pos(GridPos(h=8, w=w, x=x, y=y)).targets(targets).unit(unit).line_width(2)  # type: ignore[arg-type]
        .legend(common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM).show_legend(True))
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                 .sort(common.SortOrder.NONE))
    )  # fmt: skip


def agents_table(panel_id: int, y: int) -> table.Panel:
    """Agents: per agent, first replies, their average and p90, over 24h and 7d (wall clock)."""
    where = f'kind="first", window=~"24h|7d", {SELECT}'
    return (
        table.Panel().id(panel_id).title("Agents: first replies, 24 hours and 7 days").datasource(DATASOURCE)
        .description("Per agent: conversations whose first reply was theirs, its average and p90 time "
                     "(beyond SOCIALSLA_MAX_AGENTS, the quieter agents are pooled as `other`).")
        .grid_pos(GridPos(h=9, w=24, x=0, y=y))
        .targets([
            query(f"socialsla_agent_replies{{{where}}}", "", "A", instant=True),
            query(f'socialsla_agent_reply_seconds{{stat="avg", {where}}}', "", "B", instant=True),
            query(f'socialsla_agent_reply_seconds{{stat="p90", {where}}}', "", "C", instant=True),
        ])  # type: ignore[arg-type]
        .transformations([
            DataTransformerConfig(id_val="merge", options={}),
            DataTransformerConfig(id_val="organize", options={
                "excludeByName": {"Time": True, "kind": True, "stat": True, "__name__": True, "instance": True,
                                  "job": True},
                "renameByName": {"Value #A": "first replies", "Value #B": "avg", "Value #C": "p90"},
            }),
        ])
        .override_by_regexp("avg|p90", [DynamicConfigValue(id_val="unit", value="s")])
        .show_header(True)
    )  # fmt: skip


def waiting_table(panel_id: int, y: int) -> table.Panel:
    """Who is waiting: per series, the customer waiting longest and for how long, longest first."""
    return (
        table.Panel().id(panel_id).title("Customers waiting now").datasource(DATASOURCE)
        .description("Per account and channel, the customer to answer first: the conversation that has "
                     "waited longest without a first reply (7 days, wall clock). Every waiting customer, "
                     "with when each turns missed: GET /waiting on a worker.")
        .grid_pos(GridPos(h=9, w=12, x=0, y=y))
        .targets([query(f"sort_desc(socialsla_oldest_unanswered_conversation{{{SELECT}}})", "", "A",
                        instant=True)])  # type: ignore[arg-type]
        .transformations([
            DataTransformerConfig(id_val="organize", options={
                "excludeByName": {"Time": True, "__name__": True, "instance": True, "job": True},
                "renameByName": {"conversation_id": "conversation", "Value": "waited"},
                "indexByName": {"account": 0, "channel": 1, "conversation_id": 2, "Value": 3},
            }),
        ])
        .override_by_name("waited", [DynamicConfigValue(id_val="unit", value="s")])
        .show_header(True)
    )  # fmt: skip


def variable(name: str, expr: str, label: str) -> board.QueryVariable:
    return (
        board.QueryVariable(name).label(label).datasource(DATASOURCE)
        .query({"query": expr, "refId": f"{name}-values"})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).include_all(True).multi(True).all_value(".*")
        .sort(VariableSort.ALPHABETICAL_ASC)
    )  # fmt: skip


def dashboard() -> dict[str, Any]:
    wall = (
        board.Dashboard("socialsla: social care wall").uid("socialsla-wall")
        .description("Response rate, first-reply time and badge status per account and channel; "
                     "resolution and customer feedback where teams send them.")
        .tags(["socialsla"]).timezone("browser").readonly()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("10s").time("now-24h", "now")
        .with_variable(variable("account", "label_values(socialsla_conversations, account)", "Account"))
        .with_variable(variable(
            "channel", 'label_values(socialsla_conversations{account=~"$account"}, channel)', "Channel"))
        .with_row(board.Row("Badge wall (7 days)").id(100).grid_pos(GridPos(h=1, w=24, x=0, y=0)))
        .with_panel(tile(1, "Response rate, 7 days", f'socialsla_response_rate{{clock="wall", window="7d", {SELECT}}}',
                         "percentunit", thresholds((None, "red"), (0.9, "green")), 0,
                         description="responded / (responded + missed); the badge needs at least 90%."))
        .with_panel(tile(2, "Average first reply, 7 days",
                         f'socialsla_first_reply_seconds{{clock="wall", window="7d", stat="avg", {SELECT}}}', "s",
                         thresholds((None, "green"), (900.001, "red")), 5,
                         description="Mean first-reply time; the badge needs 15 minutes or less."))
        .with_panel(tile(3, "Badge", f"socialsla_rule_ok{{{SELECT}}}", "none",
                         thresholds((None, "red"), (1, "green")), 10, words=BADGE_WORDS, forecast=True,
                         description="Every rule's verdict: OK, or LOST. No tile means too few decided "
                         f"conversations. Under {FORECAST_MINUTES // 60} hours from losing it if nobody answers "
                         "(the breach forecast), a tile says when: badge lost in 42m unless answered."))
        .with_panel(tile(4, "Oldest waiting customer",
                         f'(max by (account, channel) (socialsla_oldest_unanswered_seconds{{clock="wall", {SELECT}}}) '
                         f'or max by (account, channel) (0 * socialsla_conversations{{clock="wall", window="7d", '
                         f'state="inbound", {SELECT}}}))', "s", thresholds((None, "green"), (900.001, "red")), 15,
                         description="How long the longest-waiting unanswered post has waited; red past 15 minutes."))
        .with_panel(tile(5, "Pending queue",
                         f'socialsla_conversations{{clock="wall", window="7d", state="pending", {SELECT}}}', "none",
                         thresholds((None, "green"), (20, "orange"), (50, "red")), 20, w=4,
                         description="Conversations opened and not yet answered (and not yet missed)."))
        .with_row(board.Row("Trends").id(101).grid_pos(GridPos(h=1, w=24, x=0, y=9)))
        .with_panel(trend(6, "Response rate by window", [query(f'socialsla_response_rate{{clock="wall", {SELECT}}}',
                          "{{account}} / {{channel}} {{window}}")], "percentunit", 0, 10))
        .with_panel(trend(7, "First reply p50 / p90, 24 hours", [query(
            f'socialsla_first_reply_seconds{{clock="wall", window="24h", stat=~"p50|p90", {SELECT}}}',
            "{{account}} / {{channel}} {{stat}}")], "s", 8, 10))
        .with_panel(trend(8, "Missed share of decided conversations, 1 hour", [query(
            f"socialsla:missed_ratio:rate1h{{{SELECT}}}", "{{account}} / {{channel}}")], "percentunit", 16, 10))
        .with_row(board.Row("Scorecard (7 days): resolution and customer feedback").id(104)
                  .grid_pos(GridPos(h=1, w=24, x=0, y=18)))
        .with_panel(score_tile(14, "Resolved in time, 7 days",
                               f'socialsla_resolution_rate{{clock="wall", window="7d", {SELECT}}}', "percentunit",
                               thresholds((None, "red"), (0.8, "orange"), (0.9, "green")), 0, 19,
                               "Resolved within the resolution window / (that + overdue)."))
        .with_panel(score_tile(15, "First-contact resolution, 7 days",
                               f'socialsla_first_contact_resolution_rate{{clock="wall", window="7d", {SELECT}}}',
                               "percentunit", thresholds((None, "orange"), (0.7, "green")), 6, 19,
                               "Resolved with one reply and not reopened / resolved."))
        .with_panel(score_tile(16, "CSAT, 7 days", f'socialsla_csat{{window="7d", {SELECT}}}', "percentunit",
                               thresholds((None, "red"), (0.8, "green")), 12, 19,
                               "Share of CSAT answers of 4 or 5 out of 5 (each customer's latest)."))
        .with_panel(score_tile(17, "NPS, 7 days", f'socialsla_nps{{window="7d", {SELECT}}}', "none",
                               thresholds((None, "red"), (0, "orange"), (30, "green")), 18, 19,
                               "Promoters (9-10) minus detractors (0-6), in % of answers, -100 to 100."))
        .with_panel(trend(18, "Resolution rate and first-contact rate, 24 hours", [
            query(f'socialsla_resolution_rate{{clock="wall", window="24h", {SELECT}}}',
                  "{{account}} / {{channel}} resolved in time"),
            query(f'socialsla_first_contact_resolution_rate{{clock="wall", window="24h", {SELECT}}}',
                  "{{account}} / {{channel}} first contact", "B"),
        ], "percentunit", 0, 25, 12))
        .with_panel(trend(19, "CSAT and answers, 24 hours", [
            query(f'socialsla_csat{{window="24h", {SELECT}}}', "{{account}} / {{channel}} CSAT"),
            query(f'socialsla_feedback_responses{{window="24h", {SELECT}}}',
                  "{{account}} / {{channel}} {{survey}} answers", "B"),
        ], "short", 12, 25, 12))
        .with_row(board.Row("Who is waiting").id(105).grid_pos(GridPos(h=1, w=24, x=0, y=33)))
        .with_panel(waiting_table(20, 34))
        .with_panel(trend(21, "When customers write: conversations per hour, 4 weeks", [query(
            f'sum by (account, channel) (socialsla_conversations{{clock="wall", window="1h", state="inbound", '
            f"{SELECT}}})", "{{account}} / {{channel}}")], "short", 12, 34, 12)
            .time_from("28d").interval("1h")
            .description("Conversations opened in each hour (the 1-hour window sampled hourly) over four "
                         "weeks: the weekly pattern to staff by."))
        .with_row(board.Row("Agents").id(103).grid_pos(GridPos(h=1, w=24, x=0, y=43)))
        .with_panel(agents_table(13, 44))
        .with_row(board.Row("Pipeline health").id(102).grid_pos(GridPos(h=1, w=24, x=0, y=53)))
        .with_panel(trend(9, "Events per second by outcome", [query("socialsla:events:rate5m", "{{type}} {{outcome}}")],
                          "ops", 0, 54, 6))
        .with_panel(trend(10, "Consumer lag", [query("sum by (topic) (socialsla_consumer_lag)", "{{topic}}")],
                          "short", 6, 54, 6))
        .with_panel(trend(11, "Dead letters per second", [query(
            "sum(rate(socialsla_deadletters_total[$__rate_interval]))", "dead letters")], "ops", 12, 54, 6))
        .with_panel(trend(12, "Workers up", [query('up{job="socialsla"}', "{{instance}}")], "short", 18, 54, 6))
        .with_panel(trend(22, "Webhook deliveries", [query(
            "sum by (platform, code) (rate(socialsla_ingest_deliveries_total[$__rate_interval]))",
            "{{platform}} {{code}}")], "reqps", 0, 62, 12)
            .description("Deliveries the webhook gateway (socialsla ingest) answered per second, by path and "
                         "HTTP status: 200 acknowledged by Kafka, 401 signature or token refused, 503 Kafka "
                         "did not acknowledge in time (the platform sends it again), 413 too large. "
                         "No data: no gateway is scraped."))
        .with_panel(trend(23, "Webhook items by outcome", [query(
            "sum by (platform, outcome) (rate(socialsla_ingest_items_total[$__rate_interval]))",
            "{{platform}} {{outcome}}")], "ops", 12, 62, 12)
            .description("Items of the acknowledged deliveries per second: produced as events, invalid "
                         "(dead-lettered with a reason), or ignored (a kind socialsla does not count)."))
    )  # fmt: skip
    built: dict[str, Any] = json.loads(json.dumps(wall.build(), cls=JSONEncoder))
    return built


def render() -> str:
    """The dashboard JSON exactly as committed."""
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
