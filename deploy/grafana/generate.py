"""Hotline's Grafana dashboards, written from one place.

    .venv/bin/python deploy/grafana/generate.py           # (re)write the dashboard JSON files
    .venv/bin/python deploy/grafana/generate.py --check   # exit 1 when a committed file is stale

Why generated: every panel reads the same roll-up tables the same way
(each bucket's current rows, by its newest marker in rollup_versions, as
hotline.reporting.rollup.current_rows; then sums) and computes the same figures
(service level, ASA, AHT, occupancy, containment); written out by hand those
formulas would be copied into dozens of panels and drift apart. Here each
formula is written once (FIGURES, AGENT_FIGURES, IVR_FIGURES), following
docs/metrics.md. The JSON is what Grafana provisions, committed in
deploy/grafana/dashboards/ and, for the Helm chart's ConfigMap, in
charts/hotline/dashboards/; tests/reporting/test_dashboards.py runs every
panel against ClickHouse 18.16 and chdb and fails when the files are stale.

SQL rules (docs/dashboards.md): it runs unchanged on ClickHouse 18.16 and
26.x, so no toStartOfInterval, window functions, CTEs, query parameters or
more than one JOIN (these panels use UNION ALL instead); times are Int64 µs
columns bucketed with intDiv; an aggregate is never aliased to the name of a
column it reads. The only Grafana syntax in the SQL is template variables
(`${queue:singlequote}`, `${interval}`, ...) and Grafana's global
`${__from}` / `${__to}` (ms since the epoch); no plugin macro is used, because
the plugin's time macros produce DateTime values and our columns are µs.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import re
import sys
from typing import Any, Iterable

from hotline.reporting import formulas, realtime

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUT_DIRS = (ROOT / "deploy" / "grafana" / "dashboards", ROOT / "charts" / "hotline" / "dashboards")

CLICKHOUSE = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
SCHEMA_VERSION = 39
TAGS = ["hotline"]

# --- Grafana variables as they appear in SQL and PromQL ----------------------
FROM_US = "${__from} * 1000"          # the dashboard's time range in µs (Grafana gives ms)
TO_US = "${__to} * 1000"
QUEUES = "${queue:singlequote}"       # 'support','sales'
QUEUE_REGEX = "${queue:regex}"        # (support|sales), for PromQL
AGENTS = "${agent:singlequote}"
FLOWS = "${flow:singlequote}"
INTERVAL = "${interval}"              # seconds: 900, 1800, 3600, 86400
SL_THRESHOLD = "${sl_threshold}"      # seconds, a multiple of 5 up to 300
SHORT_ABANDON = "${short_abandon}"    # seconds, a multiple of 5 <= every SL threshold offered; -1: none
RATE = "$__rate_interval"

# Real-time panels read what GetRealtime reads (hotline.reporting.realtime):
# the raw queue events of the last 6 h and agent events of the last 24 h
# before ${__to}, with the same rules.
WAITING_WINDOW_MS = realtime.WAITING_WINDOW_US // 1000
AGENT_WINDOW_MS = realtime.AGENT_WINDOW_US // 1000
AGENT_STATES = ("READY", "RESERVED", "ON_CALL", "WRAP_UP", "NOT_READY")
assert set(AGENT_STATES) == set(formulas.AGENT_STATES), "agent states changed: review the wallboard's columns"

HIST_STEP_S = formulas.HIST_STEP_S


def ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator, 0 when the denominator is 0 (docs/metrics.md)."""
    return f"if(({denominator}) = 0, 0, ({numerator}) / ({denominator}))"


def within(hist: str, seconds: str) -> str:
    """Calls of a wait histogram with wait <= seconds (a multiple of 5): slots
    0 .. seconds/5; none for -1 (as formulas.slots_upto)."""
    return f"arraySum(arraySlice({hist}, 1, intDiv({seconds} + {HIST_STEP_S}, {HIST_STEP_S})))"


def time_bucket(column: str = "bucket_us") -> str:
    """The start of the ${interval} holding a µs time, as a DateTime (UTC)."""
    return f"toDateTime(intDiv({column}, {INTERVAL} * 1000000) * {INTERVAL}, 'UTC')"


def indent(text: str, spaces: int = 4) -> str:
    return "\n".join(" " * spaces + line if line else line for line in text.splitlines())


def select_list(items: Iterable[tuple[str, str]]) -> str:
    return ",\n       ".join(expr if expr == alias else f"{expr} AS {alias}" for alias, expr in items)


# --- the roll-ups, current rows only ------------------------------------------------
# A recompute writes a bucket's rows under a new version, then a marker
# (table_name, bucket_us, version) in rollup_versions; a bucket's current rows
# are those of its newest marker, and rows without a marker are invisible
# (hotline.reporting.rollup). The inner queries below return those rows with
# v_* columns (no per-key deduplication, no GROUP BY), which the panels sum.


def current_rows(table: str, lo: str | None = FROM_US, hi: str | None = TO_US) -> str:
    """rollup.current_rows(table, lo, hi) with Grafana's time range (lo, hi:
    SQL expressions in µs); without bounds, every bucket's current rows (the
    variables, which list members whatever the range)."""
    bounds = "" if lo is None and hi is None else f" AND bucket_us >= {lo} AND bucket_us < {hi}"
    return ("(bucket_us, version) IN (SELECT bucket_us, max(version) FROM rollup_versions "
            f"WHERE table_name = '{table}'{bounds} GROUP BY bucket_us)")


CALL_MEASURES = {
    "v_offered": "offered", "v_answered": "answered", "v_handled": "handled", "v_abandoned": "abandoned",
    "v_flowed_out": "flowed_out", "v_callbacks": "callbacks", "v_offers": "offers", "v_missed": "missed",
    "v_answered_wait_us": "answered_wait_us", "v_max_answered_wait_us": "max_answered_wait_us",
    "v_abandoned_wait_us": "abandoned_wait_us", "v_talk_us": "talk_us", "v_hold_us": "hold_us",
    "v_wrap_up_us": "wrap_up_us",
    "v_answered_within": within("answer_wait_hist", SL_THRESHOLD),
    "v_abandoned_within": within("abandon_wait_hist", SL_THRESHOLD),
    "v_short_abandoned": within("abandon_wait_hist", SHORT_ABANDON),
}

AGENT_TIME_MEASURES = {
    "v_logged_in_us": "logged_in_us", "v_ready_us": "ready_us", "v_reserved_us": "reserved_us",
    "v_on_call_us": "on_call_us", "v_wrap_up_state_us": "wrap_up_us", "v_not_ready_us": "not_ready_us",
}

IVR_MEASURES = {
    "v_visits": "visits", "v_calls": "calls", "v_entries": "entries", "v_hangups": "hangups",
    "v_queued": "queued", "v_completed": "completed", "v_errors": "errors", "v_time_us": "time_us",
}


def _measures_used(text: str, measures: dict[str, str]) -> list[str]:
    """The v_* measures a query's outer text reads: the inner query computes only those."""
    used = sorted(set(re.findall(r"\bv_\w+", text)) & set(measures))
    if not used:
        raise ValueError(f"no measure of {sorted(measures)} in: {text}")
    return used


def _current(table: str, keys: str, where: str, measures: dict[str, str], used: list[str],
             extra: Iterable[tuple[str, str]] = ()) -> str:
    columns = [(m, f"toInt64({measures[m]})") for m in used] + list(extra)
    return (f"SELECT {keys},\n       {select_list(columns)}\n"
            f"FROM {table}\nWHERE {where}\n  AND bucket_us >= {FROM_US} AND bucket_us < {TO_US}\n"
            f"  AND {current_rows(table)}")


def call_stats(dimension: str, members: str, outer: str) -> str:
    """The current call_stats_15m rows of one dimension's members in the
    time range, with the v_* measures ``outer`` uses."""
    used = _measures_used(outer, CALL_MEASURES)
    return _current("call_stats_15m", "dimension, member, bucket_us",
                    f"dimension = '{dimension}' AND member IN ({members})", CALL_MEASURES, used)


def agent_time(outer: str) -> str:
    """The current agent_time_15m rows of the selected agents; with the
    not-ready reason arrays (v_reasons, v_reason_us) when ``outer`` reads them."""
    reasons = re.search(r"\bv_reason(s|_us)\b", outer) is not None
    used = [] if reasons else _measures_used(outer, AGENT_TIME_MEASURES)
    extra = [("v_reasons", "not_ready_reasons"), ("v_reason_us", "not_ready_reason_us")] if reasons else []
    return _current("agent_time_15m", "agent_id, bucket_us", f"agent_id IN ({AGENTS})",
                    AGENT_TIME_MEASURES, used, extra)


def ivr_stats(outer: str) -> str:
    """The current ivr_stats_15m rows of the selected flows."""
    used = _measures_used(outer, IVR_MEASURES)
    return _current("ivr_stats_15m", "flow, node, bucket_us", f"flow IN ({FLOWS})", IVR_MEASURES, used,
                    [("v_node_type", "node_type")])


def query(select: str, source: str, *, alias: str, where: str = "", group_by: str = "", order_by: str = "") -> str:
    """SELECT ... FROM (source) AS alias [WHERE] [GROUP BY] [ORDER BY]."""
    text = f"SELECT {select}\nFROM (\n{indent(source)}\n) AS {alias}"
    for clause, value in (("WHERE", where), ("GROUP BY", group_by), ("ORDER BY", order_by)):
        if value:
            text += f"\n{clause} {value}"
    return text


# --- figures (docs/metrics.md): expressions over sums of the v_* measures --------
SHORT = "sum(v_short_abandoned)"
FIGURES = {
    "offered": "sum(v_offered)",
    "answered": "sum(v_answered)",
    "abandoned": "sum(v_abandoned)",
    "short_abandoned": SHORT,
    "flowed_out": "sum(v_flowed_out)",
    "callbacks": "sum(v_callbacks)",
    "answered_within": "sum(v_answered_within)",
    # Cisco ICM's three modes, short abandons taken out of offered (and of the
    # abandons within T, as T >= the short-abandon threshold).
    "sl_ignored": ratio("sum(v_answered_within)", "sum(v_offered) - sum(v_abandoned_within)"),
    "sl_against": ratio("sum(v_answered_within)", f"sum(v_offered) - {SHORT}"),
    "sl_for": ratio(f"sum(v_answered_within) + sum(v_abandoned_within) - {SHORT}", f"sum(v_offered) - {SHORT}"),
    "abandon_rate": ratio(f"sum(v_abandoned) - {SHORT}", f"sum(v_offered) - {SHORT}"),
    "asa_s": ratio("sum(v_answered_wait_us)", "sum(v_answered)") + " / 1000000",
    "aht_s": ratio("sum(v_talk_us) + sum(v_wrap_up_us)", "sum(v_handled)") + " / 1000000",
    "max_wait_s": "max(v_max_answered_wait_us) / 1000000",
    "avg_abandon_wait_s": ratio("sum(v_abandoned_wait_us)", "sum(v_abandoned)") + " / 1000000",
    "handled": "sum(v_handled)",
    "offers": "sum(v_offers)",
    "missed": "sum(v_missed)",
    "talk_s": "sum(v_talk_us) / 1000000",
    "hold_s": "sum(v_hold_us) / 1000000",
    "wrap_up_s": "sum(v_wrap_up_us) / 1000000",
}

_BUSY = "sum(v_reserved_us) + sum(v_on_call_us) + sum(v_wrap_up_state_us)"
AGENT_FIGURES = {
    "logged_in_s": "sum(v_logged_in_us) / 1000000",
    "ready_s": "sum(v_ready_us) / 1000000",
    "reserved_s": "sum(v_reserved_us) / 1000000",
    "on_call_s": "sum(v_on_call_us) / 1000000",
    "wrap_up_state_s": "sum(v_wrap_up_state_us) / 1000000",
    "not_ready_s": "sum(v_not_ready_us) / 1000000",
    "occupancy": ratio(_BUSY, f"sum(v_ready_us) + {_BUSY}"),
}

IVR_FIGURES = {
    "visits": "sum(v_visits)",
    "calls": "sum(v_calls)",
    "entries": "sum(v_entries)",
    "hangups": "sum(v_hangups)",
    "queued": "sum(v_queued)",
    "completed": "sum(v_completed)",
    "errors": "sum(v_errors)",
    "containment": ratio("sum(v_completed)", "sum(v_entries)"),
    "drop_off": ratio("sum(v_hangups)", "sum(v_visits)"),
    "avg_time_s": ratio("sum(v_time_us)", "sum(v_visits)") + " / 1000000",
}


def figures(table: dict[str, str], names: Iterable[str]) -> list[tuple[str, str]]:
    return [(n, table[n]) for n in names]


# --- columns: how a panel shows each one (every column a panel expects is here) --
PERCENT, SECONDS, COUNT = "percentunit", "s", "none"
COLUMNS: dict[str, tuple[str, str | None]] = {
    "queue": ("Queue", None), "agent": ("Agent", None), "agent_id": ("Agent", None), "state": ("State", None),
    "reason": ("Reason", None), "since": ("In state since", None), "interval_start": ("Interval", None),
    "flow": ("Flow", None), "node": ("Node", None), "node_type": ("Node type", None),
    "flow_node": ("Flow / node", None),
    "offered": ("Offered", COUNT), "answered": ("Answered", COUNT), "abandoned": ("Abandoned", COUNT),
    "short_abandoned": ("Short abandons", COUNT), "flowed_out": ("Flowed out", COUNT),
    "callbacks": ("Callbacks", COUNT), "answered_within": ("Answered within T", COUNT),
    "sl_ignored": ("SL, abandons ignored", PERCENT), "sl_against": ("SL, abandons against", PERCENT),
    "sl_for": ("SL, abandons for", PERCENT), "abandon_rate": ("Abandon rate", PERCENT),
    "asa_s": ("ASA", SECONDS), "aht_s": ("AHT", SECONDS), "max_wait_s": ("Longest answered wait", SECONDS),
    "avg_abandon_wait_s": ("Avg wait before abandon", SECONDS),
    "calls_waiting": ("Calls waiting", COUNT), "longest_wait_s": ("Longest wait", SECONDS),
    "ready": ("Ready", COUNT), "reserved": ("Ringing", COUNT), "on_call": ("On call", COUNT),
    "wrap_up": ("Wrap-up", COUNT), "not_ready": ("Not ready", COUNT),
    "time_in_state_s": ("Time in state", SECONDS),
    "handled": ("Handled", COUNT), "offers": ("Offers (rung)", COUNT), "missed": ("Missed offers", COUNT),
    "talk_s": ("Talk (hold incl.)", SECONDS), "hold_s": ("Hold", SECONDS),
    "wrap_up_s": ("Wrap-up after calls", SECONDS),
    "logged_in_s": ("Logged in", SECONDS), "ready_s": ("Ready", SECONDS), "reserved_s": ("Ringing", SECONDS),
    "on_call_s": ("On call", SECONDS), "wrap_up_state_s": ("Wrap-up", SECONDS),
    "not_ready_s": ("Not ready", SECONDS), "occupancy": ("Occupancy", PERCENT),
    "visits": ("Visits", COUNT), "calls": ("Calls", COUNT), "entries": ("Entered the flow", COUNT),
    "hangups": ("Hung up (drop-off)", COUNT), "queued": ("Sent to a queue", COUNT),
    "completed": ("Completed (contained)", COUNT), "errors": ("Errors", COUNT),
    "containment": ("Containment", PERCENT), "drop_off": ("Drop-off", PERCENT),
    "avg_time_s": ("Avg time in node", SECONDS),
}


def overrides(columns: Iterable[str]) -> list[dict[str, Any]]:
    """A display name (and unit) per column: also the list of columns the
    panel expects its query to return (the dashboards test checks it)."""
    out = []
    for name in columns:
        title, unit = COLUMNS[name]
        props: list[dict[str, Any]] = [{"id": "displayName", "value": title}]
        if unit:
            props.append({"id": "unit", "value": unit})
        out.append({"matcher": {"id": "byName", "options": name}, "properties": props})
    return out


# --- panels --------------------------------------------------------------------

@dataclasses.dataclass
class Panel:
    title: str
    kind: str                    # stat, timeseries, table, bargauge
    width: int
    height: int
    description: str = ""
    sql: str = ""                # one ClickHouse query, or
    columns: tuple[str, ...] = ()
    series: bool = False         # ClickHouse time series (first column "time")
    exprs: tuple[tuple[str, str], ...] = ()   # Prometheus (expr, legend)
    unit: str = ""
    instant: bool = False
    stacked: bool = False
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    min_max: tuple[float, float] | None = None

    def targets(self) -> list[dict[str, Any]]:
        if self.sql:
            return [{"refId": "A", "datasource": CLICKHOUSE, "editorType": "sql",
                     "queryType": "timeSeries" if self.series else "table", "format": 0 if self.series else 1,
                     "rawSql": self.sql}]
        out = []
        for index, (expr, legend) in enumerate(self.exprs):
            target: dict[str, Any] = {"refId": chr(ord("A") + index), "datasource": PROMETHEUS, "editorMode": "code",
                                      "expr": expr, "legendFormat": legend}
            target.update({"instant": True, "range": False} if self.instant else {"instant": False, "range": True})
            out.append(target)
        return out

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if self.unit:
            defaults["unit"] = self.unit
        if self.min_max:
            defaults["min"], defaults["max"] = self.min_max
        if self.kind == "timeseries":
            defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if self.stacked else 10,
                                  "showPoints": "auto", "spanNulls": False,
                                  "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"}}
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "datasource": CLICKHOUSE if self.sql else PROMETHEUS,
            "targets": self.targets(),
            "fieldConfig": {"defaults": defaults, "overrides": overrides(self.columns)},
            "options": {**_OPTIONS[self.kind], **self.options},
        }


_OPTIONS: dict[str, dict[str, Any]] = {
    "stat": {"reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": ""},
             "orientation": "auto", "textMode": "value_and_name", "colorMode": "value", "graphMode": "none",
             "justifyMode": "auto"},
    "timeseries": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                   "tooltip": {"mode": "multi", "sort": "none"}},
    "table": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
    "bargauge": {"reduceOptions": {"values": True, "calcs": ["lastNotNull"], "fields": ""},
                 "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                 "valueMode": "color", "namePlacement": "auto", "sizing": "auto"},
}


def layout(panels: list[Panel]) -> list[dict[str, Any]]:
    """Panels left to right, a new row when the 24 columns are full."""
    out, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        out.append(panel.to_json(panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return out


# --- variables -----------------------------------------------------------------

def query_variable(name: str, label: str, sql: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": CLICKHOUSE, "query": sql,
            "definition": sql, "refresh": 2, "multi": True, "includeAll": True, "sort": 1, "regex": "",
            "hide": 0, "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "options": []}


def custom_variable(name: str, label: str, options: list[tuple[str, str]], default: str,
                    description: str) -> dict[str, Any]:
    chosen = next(text for text, value in options if value == default)
    return {"name": name, "label": label, "type": "custom", "description": description,
            "query": ",".join(f"{text} : {value}" for text, value in options),
            "multi": False, "includeAll": False, "hide": 0,
            "current": {"selected": True, "text": chosen, "value": default},
            "options": [{"selected": value == default, "text": text, "value": value} for text, value in options]}


QUEUE_VAR = query_variable("queue", "Queue", (
    "SELECT DISTINCT q FROM (\n"
    "    SELECT member AS q FROM call_stats_15m\n"
    f"    WHERE dimension = 'queue' AND {current_rows('call_stats_15m', None, None)}\n"
    "    UNION ALL\n"
    "    SELECT queue AS q FROM queue_events\n"
    f"    WHERE timestamp_us >= (${{__to}} - {WAITING_WINDOW_MS}) * 1000 AND queue != ''\n"
    ") AS queues\nORDER BY q"))
AGENT_VAR = query_variable("agent", "Agent", (
    f"SELECT DISTINCT agent_id FROM agent_time_15m\nWHERE {current_rows('agent_time_15m', None, None)}\n"
    "ORDER BY agent_id"))
FLOW_VAR = query_variable("flow", "IVR flow", (
    f"SELECT DISTINCT flow FROM ivr_stats_15m\nWHERE {current_rows('ivr_stats_15m', None, None)}\nORDER BY flow"))
INTERVAL_VAR = custom_variable(
    "interval", "Interval",
    [("15 min", "900"), ("30 min", "1800"), ("1 hour", "3600"), ("1 day (UTC)", "86400")],
    "1800", "Report interval: 15-minute roll-up buckets added up into 15, 30, 60 minutes or a UTC day")
SL_VAR = custom_variable(
    "sl_threshold", "Service level within",
    [(f"{s} s", str(s)) for s in (10, 15, 20, 30, 45, 60, 90, 120, 180, 300)], "20",
    "Service level threshold T in seconds (a multiple of 5 up to 300: the wait histograms' resolution)")
SHORT_VAR = custom_variable(
    "short_abandon", "Short abandon within",
    [("none", "-1"), ("5 s", "5"), ("10 s", "10")], "5",
    "Callers who hung up within this wait are short abandons: left out of offered for service level "
    "and abandon rate")


# --- SQL of the panels -------------------------------------------------------------

def _raw_window(window_ms: int) -> str:
    """Raw rows of the window_ms before ${__to} (timestamp_us), partitions pruned by day."""
    return (f"timestamp_us >= (${{__to}} - {window_ms}) * 1000 AND timestamp_us <= {TO_US}\n"
            f"      AND day >= toDate(toDateTime(intDiv(${{__to}} - {window_ms}, 1000), 'UTC'))")


def _in(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def queue_figures_sql(names: list[str], *, by: str = "", series: bool = False) -> str:
    """Call figures of the selected queues in the time range: one row, per
    queue (by="queue"), per interval (series) or per interval and queue."""
    keys: list[tuple[str, str]] = []
    if series:
        keys.append(("time" if not by else "interval_start", time_bucket()))
    if by:
        keys.append((by, "member"))
    select = select_list(keys + figures(FIGURES, names))
    group = ", ".join(alias for alias, _ in keys)
    return query(select, call_stats("queue", QUEUES, select), alias="stats", group_by=group, order_by=group)


def queues_now_sql() -> str:
    """Per queue now: calls waiting and the longest wait, agents serving it by
    state; the rules of hotline.reporting.realtime. A call's latest queue
    event decides (a move to another queue, OVERFLOWED then ENQUEUED at the
    same µs, and an end win ties); it waits since that event's timestamp -
    wait_us. An agent's latest state event counts in each queue of its queues
    array. UNION ALL of the two, so a queue shows with waiting calls and no
    agent, or agents and no call."""
    rank = (f"multiIf(type = 'QUEUE_OVERFLOWED', 0, type = 'QUEUE_ENQUEUED', 1, "
            f"type IN ({_in(realtime.WAITING_TYPES)}), 2, 3)")
    events = (f"SELECT call_uuid, queue, type, timestamp_us, wait_us, timestamp_us * 4 + {rank} AS w_order\n"
              f"FROM queue_events\n"
              f"WHERE {_raw_window(WAITING_WINDOW_MS)}")
    calls = (f"SELECT argMax(queue, w_order) AS w_queue, argMax(type, w_order) AS w_type,\n"
             f"       argMax(timestamp_us - wait_us, w_order) AS w_since\n"
             f"FROM (\n{indent(events)}\n) AS events\n"
             f"GROUP BY call_uuid")
    zero_agents = ", ".join(f"toUInt64(0) AS a_{s.lower()}" for s in AGENT_STATES)
    waiting = (f"SELECT w_queue AS queue, toUInt64(count()) AS w_waiting,\n"
               f"       toFloat64(max({TO_US} - w_since)) / 1000000 AS w_longest_s,\n"
               f"       {zero_agents}\n"
               f"FROM (\n{indent(calls)}\n) AS calls\n"
               f"WHERE w_type IN ({_in(realtime.WAITING_TYPES)}) AND w_queue IN ({QUEUES})\n"
               f"GROUP BY w_queue")
    latest = (f"SELECT agent_id, argMax(state, timestamp_us) AS a_state, argMax(queues, timestamp_us) AS a_queues\n"
              f"FROM agent_states\n"
              f"WHERE {_raw_window(AGENT_WINDOW_MS)}\n"
              f"GROUP BY agent_id")
    by_state = ", ".join(f"toUInt64(countIf(a_state = '{s}'))" for s in AGENT_STATES)
    agents = (f"SELECT queue, toUInt64(0), toFloat64(0),\n       {by_state}\n"
              f"FROM (\n{indent(latest)}\n) AS agents\n"
              f"ARRAY JOIN a_queues AS queue\n"
              f"WHERE a_state != '{formulas.LOGGED_OUT}' AND queue IN ({QUEUES})\n"
              f"GROUP BY queue")
    select = select_list([("queue", "queue"), ("calls_waiting", "sum(w_waiting)"),
                          ("longest_wait_s", "max(w_longest_s)")]
                         + [(s.lower(), f"sum(a_{s.lower()})") for s in AGENT_STATES])
    return query(select, f"{waiting}\nUNION ALL\n{agents}", alias="now", group_by="queue", order_by="queue")


def agents_now_sql() -> str:
    """Each agent serving a selected queue, as GetRealtime shows it: the latest
    state event (last 24 h), the reason while NOT_READY, the call's queue
    while ringing, on a call or in wrap-up, time in state up to now."""
    latest = (f"SELECT agent_id, argMax(state, timestamp_us) AS a_state, argMax(reason, timestamp_us) AS a_reason,\n"
              f"       argMax(queue, timestamp_us) AS a_queue, argMax(queues, timestamp_us) AS a_queues,\n"
              f"       max(timestamp_us) AS a_since_us\n"
              f"FROM agent_states\n"
              f"WHERE {_raw_window(AGENT_WINDOW_MS)}\n"
              f"GROUP BY agent_id")
    select = select_list([("agent_id", "agent_id"), ("state", "a_state"),
                          ("reason", "if(a_state = 'NOT_READY', a_reason, '')"),
                          ("queue", f"if(a_state IN ({_in(realtime.CALL_STATES)}), a_queue, '')"),
                          ("since", "toDateTime(intDiv(a_since_us, 1000000), 'UTC')"),
                          ("time_in_state_s", f"greatest(0, {TO_US} - a_since_us) / 1000000")])
    return query(select, latest, alias="agents",
                 where=f"a_state != '{formulas.LOGGED_OUT}' AND hasAny(a_queues, [{QUEUES}])",
                 order_by="state, time_in_state_s DESC")


_AGENT_CALL_MEASURES = ("v_handled", "v_offers", "v_missed", "v_talk_us", "v_hold_us", "v_wrap_up_us")


def agents_table_sql() -> str:
    """Per agent: calls (call_stats_15m, dimension agent) and time in state
    (agent_time_15m), UNION ALL so an agent with time and no call shows too."""
    zeros_time = [(m, "toInt64(0)") for m in AGENT_TIME_MEASURES]
    zeros_calls = [(m, "toInt64(0)") for m in _AGENT_CALL_MEASURES]
    calls_inner = call_stats("agent", AGENTS, " ".join(_AGENT_CALL_MEASURES))
    calls = query(select_list([("agent", "member")] + [(m, m) for m in _AGENT_CALL_MEASURES] + zeros_time),
                  calls_inner, alias="calls")
    time_inner = agent_time(" ".join(AGENT_TIME_MEASURES))
    times = query(select_list([("agent", "agent_id")] + zeros_calls + [(m, m) for m in AGENT_TIME_MEASURES]),
                  time_inner, alias="times")
    names = ["handled", "offers", "missed", "talk_s", "hold_s", "wrap_up_s", "aht_s"]
    select = select_list([("agent", "agent")] + figures(FIGURES, names)
                         + figures(AGENT_FIGURES, ["logged_in_s", "ready_s", "reserved_s", "on_call_s",
                                                   "wrap_up_state_s", "not_ready_s", "occupancy"]))
    return query(select, f"{calls}\nUNION ALL\n{times}", alias="per_agent", group_by="agent", order_by="agent")


def agent_time_sql(names: list[str], *, per_agent: bool) -> str:
    keys = [("time", time_bucket())] + ([("agent", "agent_id")] if per_agent else [])
    select = select_list(keys + figures(AGENT_FIGURES, names))
    group = ", ".join(alias for alias, _ in keys)
    return query(select, agent_time(select), alias="times", group_by=group, order_by=group)


def agent_calls_series_sql() -> str:
    select = select_list([("time", time_bucket())] + figures(FIGURES, ["handled", "aht_s"]))
    return query(select, call_stats("agent", AGENTS, select), alias="stats", group_by="time", order_by="time")


def not_ready_reasons_sql() -> str:
    source = agent_time("v_reasons v_reason_us")
    return (f"SELECT reason, sum(reason_us) / 1000000 AS not_ready_s\n"
            f"FROM (\n{indent(source)}\n) AS times\n"
            f"ARRAY JOIN v_reasons AS reason, v_reason_us AS reason_us\n"
            f"GROUP BY reason\nORDER BY not_ready_s DESC")


def ivr_sql(names: list[str], keys: list[tuple[str, str]]) -> str:
    select = select_list(keys + figures(IVR_FIGURES, names))
    group = ", ".join(alias for alias, _ in keys)
    return query(select, ivr_stats(select), alias="nodes", group_by=group, order_by=group)


def ivr_nodes_sql() -> str:
    names = ["visits", "calls", "hangups", "drop_off", "queued", "completed", "errors", "avg_time_s"]
    select = select_list([("flow", "flow"), ("node", "node"), ("node_type", "argMax(v_node_type, bucket_us)")]
                         + figures(IVR_FIGURES, names))
    return query(select, ivr_stats(select), alias="nodes", group_by="flow, node", order_by="flow, node")


def ivr_drop_off_sql() -> str:
    select = select_list([("flow_node", "concat(flow, ' / ', node)")] + figures(IVR_FIGURES, ["drop_off"]))
    return query(select, ivr_stats(select), alias="nodes", group_by="flow, node",
                 order_by="drop_off DESC, flow_node")


# --- the dashboards -----------------------------------------------------------------

TODAY_FIGURES = ["offered", "answered", "abandoned", "short_abandoned", "sl_against", "abandon_rate", "asa_s",
                 "aht_s", "max_wait_s"]
REPORT_FIGURES = ["offered", "answered", "abandoned", "short_abandoned", "flowed_out", "callbacks",
                  "answered_within", "sl_ignored", "sl_against", "sl_for", "abandon_rate", "asa_s", "aht_s",
                  "max_wait_s", "avg_abandon_wait_s"]


def wallboard() -> dict[str, Any]:
    live = "Live from routing (Prometheus), refreshed every second by the ACD."
    today = ("Today so far: the dashboard's range (Today so far by default) over the 15-minute roll-ups, "
             "refreshed after every ingested batch.")
    sl_columns = ["offered", "answered", "sl_against", "abandon_rate", "asa_s"]
    panels = [
        Panel("Calls waiting", "stat", 4, 4, live, unit=COUNT, instant=True,
              exprs=((f'sum(hotline_routing_calls_waiting{{queue=~"{QUEUE_REGEX}"}})', "waiting"),)),
        Panel("Longest wait", "stat", 4, 4, live, unit=SECONDS, instant=True,
              exprs=((f'max(hotline_routing_longest_wait_seconds{{queue=~"{QUEUE_REGEX}"}})', "longest"),)),
        Panel("Agents by state", "bargauge", 6, 4, live + " Every agent, whatever the queue.", unit=COUNT,
              instant=True, exprs=(('sum by (state) (hotline_routing_agents{state!="LOGGED_OUT"})', "{{state}}"),)),
        Panel("Today, selected queues", "stat", 10, 4, today + " SL counts abandons against; short abandons "
              "are left out of SL and abandon rate.",
              sql=queue_figures_sql(sl_columns), columns=tuple(sl_columns)),
        Panel("Calls waiting per queue", "timeseries", 12, 8, live, unit=COUNT,
              exprs=((f'sum by (queue) (hotline_routing_calls_waiting{{queue=~"{QUEUE_REGEX}"}})', "{{queue}}"),)),
        Panel("Agents by state per queue", "bargauge", 12, 8, live + " An agent serving two queues counts in both.",
              unit=COUNT, instant=True,
              exprs=((f'sum by (queue, state) (hotline_routing_queue_agents{{queue=~"{QUEUE_REGEX}", '
                      f'state!="LOGGED_OUT"}})', "{{queue}} {{state}}"),)),
        Panel("Queues now", "table", 12, 8,
              "From ClickHouse, as GetRealtime: each call's latest queue event (last 6 h) and each agent's latest "
              "state (last 24 h); the live panels' figures seconds later, also without Prometheus.",
              sql=queues_now_sql(),
              columns=("queue", "calls_waiting", "longest_wait_s", *(s.lower() for s in AGENT_STATES))),
        Panel("Agents now", "table", 12, 8,
              "From ClickHouse: agents serving the selected queues, their latest state (last 24 h), the call's "
              "queue while ringing, on a call or in wrap-up, and time in state.",
              sql=agents_now_sql(), columns=("agent_id", "state", "reason", "queue", "since", "time_in_state_s")),
        Panel("Today by queue", "table", 24, 8, today, sql=queue_figures_sql(TODAY_FIGURES, by="queue"),
              columns=("queue", *TODAY_FIGURES)),
    ]
    return dashboard("hotline-wallboard", "Hotline: wallboard",
                     "Real time per queue: calls waiting, longest wait, agents by state, and today's "
                     "service level and abandon rate.",
                     panels, [QUEUE_VAR, SL_VAR, SHORT_VAR], time=("now/d", "now"), refresh="5s")


def queue_performance() -> dict[str, Any]:
    about = "Calls count in the interval in which they entered the queue (docs/metrics.md)."
    totals = ["offered", "answered", "abandoned", "sl_against", "abandon_rate", "asa_s", "aht_s"]
    panels = [
        Panel("Selected queues, whole range", "stat", 24, 4, about, sql=queue_figures_sql(totals),
              columns=tuple(totals)),
        Panel("Calls per interval", "timeseries", 12, 8, about,
              sql=queue_figures_sql(["offered", "answered", "abandoned", "flowed_out"], series=True), series=True,
              columns=("offered", "answered", "abandoned", "flowed_out"), unit=COUNT),
        Panel("Service level per interval", "timeseries", 12, 8,
              "Answered within T; abandons ignored, counted against, counted for (Cisco ICM's three modes); "
              "short abandons left out.",
              sql=queue_figures_sql(["sl_ignored", "sl_against", "sl_for"], series=True), series=True,
              columns=("sl_ignored", "sl_against", "sl_for"), unit=PERCENT, min_max=(0, 1)),
        Panel("ASA and AHT per interval", "timeseries", 12, 8,
              "ASA = queue wait of answered calls / answered; AHT = (talk, hold included, + wrap-up) / handled.",
              sql=queue_figures_sql(["asa_s", "aht_s"], series=True), series=True, columns=("asa_s", "aht_s"),
              unit=SECONDS),
        Panel("Abandon rate per interval", "timeseries", 12, 8,
              "(abandoned - short abandons) / (offered - short abandons).",
              sql=queue_figures_sql(["abandon_rate"], series=True), series=True, columns=("abandon_rate",),
              unit=PERCENT, min_max=(0, 1)),
        Panel("Interval report", "table", 24, 10, about,
              sql=queue_figures_sql(REPORT_FIGURES, by="queue", series=True),
              columns=("interval_start", "queue", *REPORT_FIGURES)),
        Panel("By queue, whole range", "table", 24, 8, about, sql=queue_figures_sql(REPORT_FIGURES, by="queue"),
              columns=("queue", *REPORT_FIGURES)),
    ]
    return dashboard("hotline-queues", "Hotline: queue performance",
                     "Interval report by queue: offered, answered, abandoned, service level, ASA, AHT.",
                     panels, [QUEUE_VAR, INTERVAL_VAR, SL_VAR, SHORT_VAR], time=("now-24h", "now"), refresh="1m")


def agent_performance() -> dict[str, Any]:
    states = ["ready_s", "reserved_s", "on_call_s", "wrap_up_state_s", "not_ready_s"]
    panels = [
        Panel("Agents", "table", 24, 9,
              "Calls by the interval they entered the queue; time in state split at interval edges. "
              "Occupancy = (ringing + on call + wrap-up) / (ready + ringing + on call + wrap-up).",
              sql=agents_table_sql(),
              columns=("agent", "handled", "offers", "missed", "talk_s", "hold_s", "wrap_up_s", "aht_s",
                       "logged_in_s", "ready_s", "reserved_s", "on_call_s", "wrap_up_state_s", "not_ready_s",
                       "occupancy")),
        Panel("Occupancy per interval", "timeseries", 12, 8, "Per agent.",
              sql=agent_time_sql(["occupancy"], per_agent=True), series=True, columns=("agent", "occupancy"),
              unit=PERCENT, min_max=(0, 1)),
        Panel("Time in state per interval", "timeseries", 12, 8, "Selected agents together.",
              sql=agent_time_sql(states, per_agent=False), series=True, columns=tuple(states), unit=SECONDS,
              stacked=True),
        Panel("Handled and AHT per interval", "timeseries", 12, 8, "Selected agents together.",
              sql=agent_calls_series_sql(), series=True, columns=("handled", "aht_s")),
        Panel("Not ready by reason", "bargauge", 12, 8, "Time in NOT_READY by reason code, selected agents.",
              sql=not_ready_reasons_sql(), columns=("reason", "not_ready_s"), unit=SECONDS),
    ]
    return dashboard("hotline-agents", "Hotline: agent performance",
                     "Per agent: handled calls, AHT, time in each state, occupancy, not-ready time by reason.",
                     panels, [AGENT_VAR, INTERVAL_VAR], time=("now-24h", "now"), refresh="1m")


def ivr_funnel() -> dict[str, Any]:
    flow_columns = ["entries", "completed", "queued", "hangups", "errors", "containment"]
    panels = [
        Panel("Flows", "table", 12, 8,
              "Containment = calls completed in the IVR / calls that entered the flow.",
              sql=ivr_sql(flow_columns, [("flow", "flow")]), columns=("flow", *flow_columns)),
        Panel("Drop-off per node", "bargauge", 12, 8, "Visits that ended with the caller hanging up / visits.",
              sql=ivr_drop_off_sql(), columns=("flow_node", "drop_off"), unit=PERCENT, min_max=(0, 1)),
        Panel("Nodes", "table", 24, 9, "Per node: visits, drop-off, where callers went, time spent.",
              sql=ivr_nodes_sql(),
              columns=("flow", "node", "node_type", "visits", "calls", "hangups", "drop_off", "queued",
                       "completed", "errors", "avg_time_s")),
        Panel("Containment per interval", "timeseries", 12, 8, "Per flow.",
              sql=ivr_sql(["containment"], [("time", time_bucket()), ("flow", "flow")]), series=True,
              columns=("flow", "containment"), unit=PERCENT, min_max=(0, 1)),
        Panel("Calls through the IVR per interval", "timeseries", 12, 8, "Selected flows together.",
              sql=ivr_sql(["entries", "completed", "queued", "hangups"], [("time", time_bucket())]), series=True,
              columns=("entries", "completed", "queued", "hangups"), unit=COUNT),
    ]
    return dashboard("hotline-ivr", "Hotline: IVR funnel",
                     "Per flow and node: visits, drop-off, containment.",
                     panels, [FLOW_VAR, INTERVAL_VAR], time=("now-24h", "now"), refresh="1m")


def operations() -> dict[str, Any]:
    panels = [
        Panel("Events ingested per topic", "timeseries", 12, 8, "Reporting: events written to ClickHouse.",
              unit="ops", exprs=((f"sum by (topic) (rate(hotline_reporting_events_ingested_total[{RATE}]))",
                                  "{{topic}}"),)),
        Panel("Consumer lag", "timeseries", 12, 8,
              "Records not yet handled and committed, per consumer group and topic (every service).",
              unit=COUNT, exprs=(("sum by (group, topic) (hotline_bus_consumer_lag_records)", "{{group}} {{topic}}"),)),
        Panel("Insert time p95 per table", "timeseries", 12, 8, "Reporting: one batch into one table.",
              unit=SECONDS, exprs=((f"histogram_quantile(0.95, sum by (le, table) "
                                    f"(rate(hotline_reporting_insert_seconds_bucket[{RATE}])))", "{{table}}"),)),
        Panel("Report query time p95", "timeseries", 12, 8, "Reporting API: one report request.",
              unit=SECONDS, exprs=((f"histogram_quantile(0.95, sum by (le, method) "
                                    f"(rate(hotline_reporting_query_seconds_bucket[{RATE}])))", "{{method}}"),)),
        Panel("Dead letters", "timeseries", 12, 8, "Messages no consumer could decode, by the topic they came from.",
              unit="ops", exprs=(
                  (f"sum by (source_topic) (rate(hotline_reporting_dead_letters_total[{RATE}]))",
                   "stored {{source_topic}}"),
                  (f"sum by (group, topic) (rate(hotline_bus_records_dead_lettered_total[{RATE}]))",
                   "sent by {{group}} {{topic}}"))),
        Panel("Records consumed", "timeseries", 12, 8, "Per consumer group and topic.", unit="ops",
              exprs=((f"sum by (group, topic) (rate(hotline_bus_records_consumed_total[{RATE}]))",
                      "{{group}} {{topic}}"),)),
        Panel("Connections", "stat", 12, 4, "1 = up.", instant=True, exprs=(
            ("min(hotline_reporting_ready)", "reporting ready"),
            ("min by (node) (hotline_esl_connected)", "ESL {{node}}"),
            ("min by (node) (hotline_routing_switch_connected)", "routing to {{node}}"))),
        Panel("CTI requests", "timeseries", 12, 4, "By status code.", unit="reqps",
              exprs=((f"sum by (code) (rate(hotline_cti_requests_total[{RATE}]))", "{{code}}"),)),
    ]
    return dashboard("hotline-operations", "Hotline: operations",
                     "Ingestion, consumer lag, report latency, dead letters, connections.",
                     panels, [], time=("now-6h", "now"), refresh="30s")


def dashboard(uid: str, title: str, description: str, panels: list[Panel], variables: list[dict[str, Any]], *,
              time: tuple[str, str], refresh: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description + " Generated by deploy/grafana/generate.py: edit there, not in Grafana.",
        "tags": TAGS,
        "editable": False,
        "graphTooltip": 1,
        "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": refresh,
        "time": {"from": time[0], "to": time[1]},
        "timepicker": {},
        "links": [{"title": "Hotline", "type": "dashboards", "tags": TAGS, "asDropdown": True,
                   "includeVars": False, "keepTime": True}],
        "templating": {"list": variables},
        "panels": layout(panels),
    }


DASHBOARDS = (wallboard, queue_performance, agent_performance, ivr_funnel, operations)


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    out = {}
    for build in DASHBOARDS:
        board = build()
        out[f"{board['uid']}.json"] = json.dumps(board, indent=2, ensure_ascii=False) + "\n"
    return out


def stale(files: dict[str, str]) -> list[pathlib.Path]:
    """Committed files that differ from what this script writes (or are extra)."""
    out = []
    for directory in OUTPUT_DIRS:
        present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
        for name in sorted(present | set(files)):
            path = directory / name
            if name not in files or not path.is_file() or path.read_text() != files[name]:
                out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed dashboard is stale")
    args = parser.parse_args(argv)
    files = render()
    if args.check:
        bad = stale(files)
        for path in bad:
            print(f"stale: {path.relative_to(ROOT)} (run deploy/grafana/generate.py)", file=sys.stderr)
        return 1 if bad else 0
    for directory in OUTPUT_DIRS:
        directory.mkdir(parents=True, exist_ok=True)
        for path in directory.glob("*.json"):
            if path.name not in files:
                path.unlink()
        for name, text in files.items():
            (directory / name).write_text(text)
    print(f"wrote {len(files)} dashboards to " + ", ".join(str(d.relative_to(ROOT)) for d in OUTPUT_DIRS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
