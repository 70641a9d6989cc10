"""No dashboard panel can ship broken.

Every Grafana dashboard in deploy/grafana/dashboards is loaded and:

- every ClickHouse panel query runs on both engines (ClickHouse 18.16 server
  and chdb 26.x) against the migrated schema holding a few rows, with the
  dashboard's variables substituted (a fixed time range, the queues/agents/
  flows its variable queries return, every option of each custom variable),
  returns rows and exactly the columns the panel shows (its byName
  overrides, plus ``time`` for a time series);
- every read of a roll-up keeps only the current rows (each bucket's newest
  marker in rollup_versions, rollup.current_rows), never argMax per key;
- the figures of the main panels match numbers computed by hand here, and
  agree with the gRPC reports both on hand-written roll-up rows and on
  roll-ups recomputed from raw events by rollup.Refresher / rollup.rebuild;
- every Prometheus expression parses (promtool, when installed) and names
  only metrics Hotline's code registers, with labels those metrics have;
- every data source uid is provisioned, every $variable is defined, and the
  committed JSON is what deploy/grafana/generate.py writes.

A failure names the dashboard, the panel and the engine's error.
"""
from __future__ import annotations

import datetime
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import Any, Iterator

import pytest
from hotline.common import topics
from hotline.common.errors import HotlineError
from hotline.common.metrics import hotline_metrics
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import migrations, rollup

ROOT = pathlib.Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
BOARDS = [json.loads(p.read_text()) for p in DASHBOARD_FILES]

# The fixed time range every query runs with: one UTC day; "now" is its end.
FROM_MS = int(datetime.datetime(2026, 3, 2, tzinfo=datetime.timezone.utc).timestamp() * 1000)
TO_MS = FROM_MS + 86_400_000
FROM_US, NOW_US = FROM_MS * 1000, TO_MS * 1000
S = 1_000_000
MIN15 = 900 * S
B0 = FROM_US + 9 * 3600 * S          # 09:00, 09:15, 09:30, 10:00 UTC
B1, B2, B3 = B0 + MIN15, B0 + 2 * MIN15, B0 + 4 * MIN15

# Grafana's own variables, as the browser fills them in.
BUILTIN = {"__from": str(FROM_MS), "__to": str(TO_MS), "__rate_interval": "1m", "__interval": "15s",
           "__range": "24h"}
VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)\]\]")


def load_generator():
    name = "hotline_grafana_generate"
    if name not in sys.modules:          # dataclasses look their module up in sys.modules
        spec = importlib.util.spec_from_file_location(name, GRAFANA / "generate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# --- walking the dashboards --------------------------------------------------------

def targets(board: dict) -> Iterator[tuple[dict, dict]]:
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel, target


def clickhouse_targets(board: dict) -> Iterator[tuple[dict, dict]]:
    return ((p, t) for p, t in targets(board) if "rawSql" in t)


def prometheus_targets(board: dict) -> Iterator[tuple[dict, dict]]:
    return ((p, t) for p, t in targets(board) if "expr" in t)


def variables(board: dict) -> dict[str, dict]:
    return {v["name"]: v for v in board.get("templating", {}).get("list", [])}


def expected_columns(panel: dict, target: dict) -> set[str]:
    """The columns a panel shows: one byName override per column (plus the
    time column of a time series)."""
    names = {o["matcher"]["options"] for o in panel["fieldConfig"]["overrides"] if o["matcher"]["id"] == "byName"}
    return names | ({"time"} if target.get("format") == 0 else set())


def where(board: dict, panel: dict | None = None) -> str:
    return f"{board['title']!r}" + (f" / panel {panel['title']!r}" if panel else "")


def substitute(text: str, values: dict[str, Any]) -> str:
    """Fill in Grafana variables the way Grafana does for the formats these
    dashboards use: ${v} (one value), ${v:singlequote} ('a','b'),
    ${v:regex} ((a|b)). Anything else is an error, never left in the text."""
    def fill(match: re.Match) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        fmt = match.group(2)
        if name not in values:
            raise KeyError(f"${name} is not defined")
        chosen = values[name]
        many = chosen if isinstance(chosen, list) else [chosen]
        if fmt is None:
            if len(many) != 1:
                raise ValueError(f"${name} has several values: give it a format (singlequote, regex)")
            return str(many[0])
        if fmt == "singlequote":
            return ",".join("'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'" for v in many)
        if fmt == "regex":
            escaped = [re.escape(str(v)) for v in many]
            return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
        raise ValueError(f"${{{name}:{fmt}}}: format {fmt!r} is not one these dashboards use")

    return VARIABLE.sub(fill, text)


def used_variables(text: str) -> set[str]:
    return {m.group(1) or m.group(3) or m.group(4) for m in VARIABLE.finditer(text)}


def combinations(board: dict, sql: str, query_values: dict[str, list[str]]) -> Iterator[dict[str, Any]]:
    """Values to run one query with: every option of each custom variable it
    uses at least once, and each query variable with all its values and with
    only its first one."""
    used = used_variables(sql)
    custom = [v for name, v in variables(board).items() if name in used and v["type"] == "custom"]
    rounds = max([len(v["options"]) for v in custom] + [2])
    for i in range(rounds):
        values: dict[str, Any] = dict(BUILTIN)
        for v in custom:
            values[v["name"]] = v["options"][i % len(v["options"])]["value"]
        for name, all_values in query_values.items():
            values[name] = all_values if i % 2 == 0 else all_values[:1]
        yield values


# --- test data: a few rows, with hand-computed figures ---------------------------------

def hist(**slots: int) -> list[int]:
    """A 62-slot wait histogram: hist(s0=1, s3=2) = one wait of 0 s, two in (10, 15] s."""
    out = [0] * migrations.HIST_SLOTS
    for key, count in slots.items():
        out[int(key[1:])] = count
    return out


CALL_COLUMNS = ("dimension", "member", "bucket_us", "offered", "answered", "handled", "abandoned", "flowed_out",
                "callbacks", "rejected", "failed", "offers", "missed", "answered_wait_us", "max_answered_wait_us",
                "abandoned_wait_us", "talk_us", "hold_us", "wrap_up_us", "answer_wait_hist", "abandon_wait_hist",
                "version")


def call_row(dimension: str, member: str, bucket_us: int, version: int, **f: Any) -> tuple:
    f.setdefault("answer_wait_hist", hist())
    f.setdefault("abandon_wait_hist", hist())
    return (dimension, member, bucket_us) + tuple(f.get(c, 0) for c in CALL_COLUMNS[3:-1]) + (version,)


CALL_STATS = [
    # support 09:00. Answered waits 0, 4, 4, 12, 12, 25, 40 s (sum 97 s); abandoned
    # after 3 s (a short abandon), 18 s and 70 s (sum 91 s).
    call_row("queue", "support", B0, 2, offered=10, answered=7, handled=7, abandoned=3,
             answered_wait_us=97 * S, max_answered_wait_us=40 * S, abandoned_wait_us=91 * S,
             talk_us=700 * S, hold_us=50 * S, wrap_up_us=140 * S,
             answer_wait_hist=hist(s0=1, s1=2, s3=2, s5=1, s8=1), abandon_wait_hist=hist(s1=1, s4=1, s14=1)),
    # The bucket's older recompute (version 1): superseded, must not count; nor
    # may a key only it had (billing, or a1's old figures).
    call_row("queue", "support", B0, 1, offered=100, answered=90, handled=90, abandoned=10,
             answered_wait_us=900 * S, talk_us=9000 * S, answer_wait_hist=hist(s0=90), abandon_wait_hist=hist(s0=10)),
    call_row("queue", "billing", B0, 1, offered=7, answered=7, handled=7),
    call_row("agent", "a1", B0, 1, handled=40, offers=50, talk_us=4000 * S),
    # support 09:15. Answered waits 5, 20, 21 s (sum 46 s); one flowed out; one
    # abandoned after 2 s (short).
    call_row("queue", "support", B1, 1, offered=5, answered=3, handled=3, abandoned=1, flowed_out=1,
             answered_wait_us=46 * S, max_answered_wait_us=21 * S, abandoned_wait_us=2 * S,
             talk_us=300 * S, wrap_up_us=30 * S,
             answer_wait_hist=hist(s1=1, s4=1, s5=1), abandon_wait_hist=hist(s1=1)),
    # sales 10:00: answered after 10 and 30 s.
    call_row("queue", "sales", B3, 1, offered=2, answered=2, handled=2, answered_wait_us=40 * S,
             max_answered_wait_us=30 * S, talk_us=120 * S, answer_wait_hist=hist(s2=1, s6=1)),
    # Agents: a1 took 4 of 5 offers at 09:00 and 3 at 09:15, a2 3 at 09:00.
    call_row("agent", "a1", B0, 2, handled=4, offers=5, missed=1, talk_us=400 * S, hold_us=20 * S, wrap_up_us=80 * S),
    call_row("agent", "a1", B1, 1, handled=3, offers=3, talk_us=300 * S, wrap_up_us=30 * S),
    call_row("agent", "a2", B0, 2, handled=3, offers=3, talk_us=300 * S, hold_us=30 * S, wrap_up_us=60 * S),
    # A recompute of 09:15 in flight (its rows written, its marker not yet): invisible.
    call_row("queue", "support", B1, 3, offered=1000, answered=1000, handled=1000, answered_wait_us=1000 * S),
    call_row("queue", "billing", B1, 3, offered=50),
    call_row("agent", "a1", B1, 3, handled=300, offers=300),
]
# (bucket, version) markers in rollup_versions: the newest of a bucket is current.
CALL_MARKERS = [(B0, 1), (B0, 2), (B1, 1), (B3, 1)]
# support, T = 20 s, short abandons <= 5 s, over 09:00 + 09:15:
#   offered 15, answered 10, abandoned 4, short abandons 2 (3 s, 2 s)
#   answered within 20 s: 0, 4, 4, 12, 12 | 5, 20 = 7; abandoned within 20 s: 3, 18 | 2 = 3
SUPPORT = {
    "offered": 15, "answered": 10, "abandoned": 4, "short_abandoned": 2, "flowed_out": 1, "answered_within": 7,
    "sl_ignored": 7 / (15 - 3),           # answered within T / (offered - abandoned within T)
    "sl_against": 7 / (15 - 2),           # answered within T / (offered - short)
    "sl_for": (7 + 3 - 2) / (15 - 2),     # (answered + abandoned within T, short taken out) / (offered - short)
    "abandon_rate": (4 - 2) / (15 - 2),
    "asa_s": (97 + 46) / 10,
    "aht_s": (700 + 300 + 140 + 30) / 10,  # (talk, hold included, + wrap-up) / handled
    "max_wait_s": 40.0,
    "avg_abandon_wait_s": (91 + 2) / 4,
}

TIME_COLUMNS = ("agent_id", "bucket_us", "logged_in_us", "ready_us", "reserved_us", "on_call_us", "wrap_up_us",
                "not_ready_us", "not_ready_reasons", "not_ready_reason_us", "version")
AGENT_TIME = [
    ("a1", B0, 900 * S, 300 * S, 30 * S, 400 * S, 80 * S, 90 * S, ["break", "lunch"], [60 * S, 30 * S], 2),
    ("a1", B0, 900 * S, 900 * S, 0, 0, 0, 0, [], [], 1),          # superseded
    ("a3", B0, 900 * S, 0, 0, 0, 0, 900 * S, ["lunch"], [900 * S], 1),     # only in the superseded recompute
    ("a1", B1, 900 * S, 400 * S, 20 * S, 300 * S, 30 * S, 150 * S, ["break"], [150 * S], 1),
    ("a2", B0, 900 * S, 500 * S, 10 * S, 300 * S, 60 * S, 30 * S, ["break"], [30 * S], 2),
    ("a1", B1, 900 * S, 0, 0, 0, 0, 900 * S, ["lunch"], [900 * S], 4),      # no marker: invisible
    ("a9", B1, 900 * S, 900 * S, 0, 0, 0, 0, [], [], 4),                    # no marker: invisible
]
TIME_MARKERS = [(B0, 1), (B0, 2), (B1, 1)]
# a1: busy = ringing 50 + on call 700 + wrap-up 110 = 860 s; ready 700 s.
A1 = {"handled": 7, "offers": 8, "missed": 1, "talk_s": 700.0, "hold_s": 20.0, "wrap_up_s": 110.0,
      "aht_s": (700 + 110) / 7, "logged_in_s": 1800.0, "ready_s": 700.0, "reserved_s": 50.0, "on_call_s": 700.0,
      "wrap_up_state_s": 110.0, "not_ready_s": 240.0, "occupancy": 860 / (700 + 860)}

IVR_COLUMNS = ("flow", "node", "node_type", "bucket_us", "visits", "calls", "entries", "hangups", "queued",
               "completed", "errors", "time_us", "version")
IVR_STATS = [
    ("main", "greeting", "play", B0, 10, 10, 10, 1, 0, 0, 0, 50 * S, 1),
    ("main", "menu", "menu", B0, 12, 9, 0, 2, 0, 0, 1, 120 * S, 1),
    ("main", "menu", "menu", B0, 99, 99, 0, 99, 0, 0, 0, 0, 0),    # superseded
    ("main", "goodbye", "play", B0, 3, 3, 0, 0, 0, 3, 0, 9 * S, 1),
    ("main", "queue", "queue", B0, 4, 4, 0, 0, 4, 0, 0, 1 * S, 1),
    ("billing", "greeting", "play", B1, 2, 2, 2, 0, 0, 2, 0, 6 * S, 1),
    ("survey", "greeting", "play", B1, 5, 5, 5, 5, 0, 0, 0, 5 * S, 2),     # no marker: invisible
    ("main", "menu", "menu", B1, 40, 40, 0, 40, 0, 0, 0, 0, 2),            # no marker: invisible
]
IVR_MARKERS = [(B0, 0), (B0, 1), (B1, 1)]
# main: 10 calls entered, 3 completed in the IVR: containment 0.3; menu drop-off 2/12.

QUEUE_EVENT_COLUMNS = ("event_id", "call_uuid", "queue", "type", "timestamp_us", "wait_us", "ingested_us")
QUEUE_EVENTS = [
    ("q1", "c1", "support", "QUEUE_ENQUEUED", NOW_US - 90 * S, 0),             # waiting 90 s
    ("q2", "c1", "support", "QUEUE_ANNOUNCED", NOW_US - 60 * S, 30 * S),
    ("q3", "c2", "support", "QUEUE_ENQUEUED", NOW_US - 300 * S, 0),            # answered
    ("q4", "c2", "support", "QUEUE_OFFERED", NOW_US - 290 * S, 10 * S),
    ("q5", "c2", "support", "QUEUE_CONNECTED", NOW_US - 280 * S, 20 * S),
    ("q6", "c3", "sales", "QUEUE_ENQUEUED", NOW_US - 30 * S, 0),               # waiting 30 s (stored twice)
    ("q6", "c3", "sales", "QUEUE_ENQUEUED", NOW_US - 30 * S, 0),
    ("q7", "c4", "support", "QUEUE_ENQUEUED", NOW_US - 200 * S, 0),            # abandoned
    ("q8", "c4", "support", "QUEUE_ABANDONED", NOW_US - 100 * S, 100 * S),
    # Overflowed from support to sales in the same µs: waiting 100 s in sales.
    ("q9", "c5", "support", "QUEUE_ENQUEUED", NOW_US - 400 * S, 0),
    ("q10", "c5", "sales", "QUEUE_ENQUEUED", NOW_US - 100 * S, 0),
    ("q11", "c5", "support", "QUEUE_OVERFLOWED", NOW_US - 100 * S, 300 * S),
    ("q12", "c6", "support", "QUEUE_ENQUEUED", NOW_US - 7 * 3600 * S, 0),     # older than the 6 h window
]

AGENT_STATE_COLUMNS = ("event_id", "agent_id", "state", "previous_state", "reason", "timestamp_us",
                       "previous_state_since_us", "call_uuid", "queue", "queues", "ingested_us")
AGENT_STATES = [
    ("s1", "a1", "NOT_READY", "READY", "break", NOW_US - 600 * S, NOW_US - 900 * S, "", "", ["support", "sales"]),
    ("s2", "a1", "READY", "NOT_READY", "", NOW_US - 120 * S, NOW_US - 600 * S, "", "", ["support", "sales"]),
    ("s3", "a2", "ON_CALL", "RESERVED", "", NOW_US - 45 * S, NOW_US - 50 * S, "c2", "support", ["support"]),
    ("s4", "a3", "LOGGED_OUT", "READY", "", NOW_US - 50 * S, NOW_US - 700 * S, "", "", ["support"]),
    ("s5", "a4", "NOT_READY", "READY", "lunch", NOW_US - 500 * S, NOW_US - 800 * S, "", "", ["sales"]),
]


def insert_apart(store, table: str, columns: tuple[str, ...], rows: list[tuple], key: tuple[str, ...]) -> None:
    """Each version of a key in its own insert: chdb keeps only the newest
    version of a key (the table's ORDER BY columns) within one insert."""
    batches: list[tuple[set[tuple], list[tuple]]] = []
    for row in rows:
        k = tuple(row[columns.index(c)] for c in key)
        keys, batch = next(((ks, b) for ks, b in batches if k not in ks), (set(), []))
        if not batch:
            batches.append((keys, batch))
        keys.add(k)
        batch.append(row)
    for _, batch in batches:
        store.insert(table, columns, batch)


def mark(store, table: str, markers: list[tuple[int, int]]) -> None:
    """The markers, one insert per version (a bucket's older markers stay)."""
    for version in sorted({v for _, v in markers}):
        rollup.mark_current(store, table, [b for b, v in markers if v == version], version)


def seed_raw(store) -> None:
    """The raw queue and agent events the "now" panels read."""
    store.insert("queue_events", QUEUE_EVENT_COLUMNS, [r + (i + 1,) for i, r in enumerate(QUEUE_EVENTS)])
    store.insert("agent_states", AGENT_STATE_COLUMNS, [r + (i + 1,) for i, r in enumerate(AGENT_STATES)])


def seed(store) -> None:
    """Roll-up rows written by hand, with their markers (merges stopped, so the
    superseded and unmarked rows stay for the panels to leave out)."""
    migrations.up(store)
    for table in (*rollup.ROLLUP_TABLES, rollup.VERSIONS_TABLE):
        store.execute(f"SYSTEM STOP MERGES {table}")
    insert_apart(store, "call_stats_15m", CALL_COLUMNS, CALL_STATS, ("dimension", "member", "bucket_us"))
    insert_apart(store, "agent_time_15m", TIME_COLUMNS, AGENT_TIME, ("agent_id", "bucket_us"))
    insert_apart(store, "ivr_stats_15m", IVR_COLUMNS, IVR_STATS, ("flow", "node", "bucket_us"))
    mark(store, "call_stats_15m", CALL_MARKERS)
    mark(store, "agent_time_15m", TIME_MARKERS)
    mark(store, "ivr_stats_15m", IVR_MARKERS)
    mark(store, "agent_time_15m", [(B3, 7)])       # a marker without rows: nothing to show
    seed_raw(store)


@pytest.fixture
def seeded(store):
    seed(store)
    return store


# --- test data: roll-ups recomputed from raw events, as reporting does ------------------------

def _at(offset_s: int) -> int:
    return B0 + offset_s * S


def _cdr(uuid: str, disposition: int, enqueue_s: int, *, wait_s: int, queue: str, talk_s: int = 0,
         hold_s: int = 0, agent: str = "") -> ev.Cdr:
    enq = _at(enqueue_s)
    c = ev.Cdr(event_id=f"cdr:{uuid}", call_uuid=uuid, node_id="fs1", ani="+4930", dnis="800", queue=queue,
               disposition=disposition, start_us=enq - 20 * S, answer_us=enq - 19 * S, enqueue_us=enq,
               queue_wait_us=wait_s * S, hold_us=hold_s * S, skills=["en"])
    if disposition == ev.DISPOSITION_ANSWERED:
        c.agent_id, c.connect_us, c.talk_us = agent, enq + wait_s * S, talk_s * S
        c.end_us = c.connect_us + c.talk_us
    else:
        c.end_us = enq + wait_s * S
    return c


def _offer(uuid: str, agent: str, at_s: int, queue: str, failed: str = "") -> ev.QueueEvent:
    kind = ev.QUEUE_OFFER_FAILED if failed else ev.QUEUE_OFFERED
    return ev.QueueEvent(event_id=f"q:{uuid}:{agent}:{at_s}", call_uuid=uuid, queue=queue, type=kind,
                         agent_id=agent, timestamp_us=_at(at_s), reason=failed)


def _agent(event_id: str, agent: str, at_s: int, state: int, previous: int, since_s: int, *, reason: str = "",
           call: str = "", enqueue_s: int = 0) -> ev.AgentStateEvent:
    return ev.AgentStateEvent(event_id=event_id, agent_id=agent, state=state, previous_state=previous,
                              reason=reason, timestamp_us=_at(at_s), previous_state_since_us=_at(since_s),
                              call_uuid=call, call_enqueue_us=_at(enqueue_s) if call else 0, queues=["support"])


def _visit(uuid: str, seq: int, node: str, node_type: str, outcome: str, entered_s: int,
           left_s: int) -> ev.IvrNodeVisit:
    return ev.IvrNodeVisit(event_id=f"ivr:{uuid}:{seq}", call_uuid=uuid, flow="main", node=node,
                           node_type=node_type, sequence=seq, entered_us=_at(entered_s), left_us=_at(left_s),
                           outcome=outcome)


ANSWERED, ABANDONED = ev.DISPOSITION_ANSWERED, ev.DISPOSITION_ABANDONED
RAW_EVENTS = [
    # support 09:00: r1 answered after 4 s (talk 100, wrap-up 20), r2 after 30 s (talk 200, wrap-up 30),
    # r3 abandoned after 3 s (short); 09:15: r4 abandoned after 50 s. sales 10:00: r5 answered after 10 s.
    (topics.CDRS, _cdr("r1", ANSWERED, 10, wait_s=4, queue="support", talk_s=100, hold_s=10, agent="a1")),
    (topics.CDRS, _cdr("r2", ANSWERED, 100, wait_s=30, queue="support", talk_s=200, agent="a2")),
    (topics.CDRS, _cdr("r3", ABANDONED, 200, wait_s=3, queue="support")),
    (topics.CDRS, _cdr("r4", ABANDONED, 910, wait_s=50, queue="support")),
    (topics.CDRS, _cdr("r5", ANSWERED, 3605, wait_s=10, queue="sales", talk_s=60, agent="a1")),
    (topics.QUEUE_EVENTS, _offer("r1", "a1", 12, "support")),
    (topics.QUEUE_EVENTS, _offer("r2", "a1", 105, "support")),
    (topics.QUEUE_EVENTS, _offer("r2", "a1", 115, "support", failed="NO_ANSWER")),
    (topics.QUEUE_EVENTS, _offer("r2", "a2", 120, "support")),
    (topics.QUEUE_EVENTS, _offer("r5", "a1", 3610, "sales")),
    (topics.AGENT_EVENTS, _agent("w1", "a1", 134, ev.READY, ev.WRAP_UP, 114, call="r1", enqueue_s=10)),
    (topics.AGENT_EVENTS, _agent("w2", "a2", 360, ev.READY, ev.WRAP_UP, 330, call="r2", enqueue_s=100)),
    # a1: ready from 08:58:20, not ready (break) 09:05-09:10.
    (topics.AGENT_EVENTS, _agent("n1", "a1", 300, ev.NOT_READY, ev.READY, -100, reason="break")),
    (topics.AGENT_EVENTS, _agent("n2", "a1", 600, ev.READY, ev.NOT_READY, 300)),
    # main: two calls entered, one completed in the IVR (containment 0.5), one hung up.
    (topics.IVR_EVENTS, _visit("v1", 1, "greeting", "play", "next", 0, 3)),
    (topics.IVR_EVENTS, _visit("v1", 2, "goodbye", "play", "completed", 3, 6)),
    (topics.IVR_EVENTS, _visit("v2", 1, "greeting", "play", "hangup", 100, 102)),
]
# support, T = 20 s, short abandons <= 5 s: offered 4, answered 2 (4 s within T), abandoned 2 (1 short).
REBUILT_SUPPORT = {"offered": 4, "answered": 2, "abandoned": 2, "short_abandoned": 1, "answered_within": 1,
                   "sl_against": 1 / (4 - 1), "asa_s": (4 + 30) / 2, "aht_s": (100 + 200 + 20 + 30) / 2,
                   "max_wait_s": 30.0}


def build_from_raw(store) -> None:
    """The roll-ups as reporting writes them: the raw events ingested, the
    touched buckets recomputed after the batch (Refresher), then the whole day
    recomputed (rebuild); merges stopped, so every superseded version stays."""
    from hotline.common.bus import Record
    from hotline.reporting.ingest import Ingester

    migrations.up(store)
    for table in (*rollup.ROLLUP_TABLES, rollup.VERSIONS_TABLE):
        store.execute(f"SYSTEM STOP MERGES {table}")
    seed_raw(store)
    Ingester(store, after_insert=rollup.Refresher(store).after_batch)(
        [Record(topic, 0, i, "k", message, 0) for i, (topic, message) in enumerate(RAW_EVENTS)])
    rollup.rebuild(store, FROM_US, NOW_US)


@pytest.fixture
def rebuilt(store):
    build_from_raw(store)
    return store


@pytest.fixture(params=["seeded", "rebuilt"])
def either(request, store):
    """Hand-written roll-up rows, or roll-ups recomputed from raw events."""
    (seed if request.param == "seeded" else build_from_raw)(store)
    return store


# --- the panels run on both engines ------------------------------------------------------

def engine_error(exc: HotlineError) -> str:
    """The engine's own message: the store keeps only its first line, and the
    server's first line is just the error code."""
    text = str(exc.__cause__ or exc).strip().split("Stack trace:")[0]
    return " ".join(text.split())[:600]


def variable_values(store, board: dict, failures: list[str]) -> dict[str, list[str]]:
    """Run the dashboard's query variables: their values are what the panels get."""
    out: dict[str, list[str]] = {}
    for name, var in variables(board).items():
        if var["type"] != "query":
            continue
        try:
            rows = store.query(substitute(var["query"], BUILTIN))
        except HotlineError as exc:
            failures.append(f"{where(board)} variable ${name} [{store.backend}]: {engine_error(exc)}")
            continue
        values = [str(r[0]) for r in rows]
        if not values:
            failures.append(f"{where(board)} variable ${name} [{store.backend}]: no values from the test data")
        out[name] = values
    return out


def check_target(store, board: dict, panel: dict, target: dict, query_values: dict[str, list[str]]) -> list[str]:
    failures = []
    expected = expected_columns(panel, target)
    for number, values in enumerate(combinations(board, target["rawSql"], query_values)):
        chosen = {k: v for k, v in values.items() if not k.startswith("__") and k in used_variables(target["rawSql"])}
        label = f"{where(board, panel)} [{store.backend}] with {chosen}"
        try:
            sql = substitute(target["rawSql"], values)
        except (KeyError, ValueError) as exc:
            failures.append(f"{label}: {exc.args[0]}")
            break
        try:
            rows = store.query(sql)
            described = store.query(f"DESCRIBE TABLE ({sql})") if number == 0 else None
        except HotlineError as exc:
            failures.append(f"{label}: {engine_error(exc)}")
            break                        # the first error is the one to fix
        if not rows:
            failures.append(f"{label}: no rows from the test data")
        if described is not None:
            names = [r[0] for r in described]
            if set(names) != expected:
                failures.append(f"{label}: returns {names}, the panel shows {sorted(expected)}")
            if target.get("format") == 0 and (names[:1] != ["time"] or not described[0][1].startswith("DateTime")):
                failures.append(f"{label}: a time series needs a DateTime column 'time' first, got {described[:1]}")
    return failures


def test_every_clickhouse_panel_runs_and_returns_the_columns_it_shows(seeded):
    failures: list[str] = []
    ran = 0
    for board in BOARDS:
        query_values = variable_values(seeded, board, failures)
        for panel, target in clickhouse_targets(board):
            failures += check_target(seeded, board, panel, target, query_values)
            ran += 1
    assert ran >= 20, f"only {ran} ClickHouse panels found"
    assert not failures, "\n\n".join(failures)


def test_the_variable_queries_list_what_the_data_holds(seeded):
    failures: list[str] = []
    found = {}
    for board in BOARDS:
        found.update(variable_values(seeded, board, failures))
    assert not failures, failures
    assert found == {"queue": ["sales", "support"], "agent": ["a1", "a2"], "flow": ["billing", "main"]}


# --- the figures match hand-computed ones ---------------------------------------------------

def panel_rows(store, uid: str, title: str, **chosen: Any) -> list[dict[str, Any]]:
    board = next(b for b in BOARDS if b["uid"] == uid)
    panel = next(p for p in board["panels"] if p["title"] == title)
    sql = panel["targets"][0]["rawSql"]
    values = {**BUILTIN, **chosen}
    names = [r[0] for r in store.query(f"DESCRIBE TABLE ({substitute(sql, values)})")]
    return [dict(zip(names, row)) for row in store.query(substitute(sql, values))]


def assert_figures(row: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, abs=1e-9), (name, row[name], value)


QUEUES = ["sales", "support"]


def test_queue_figures_follow_the_standard_formulas(seeded):
    (support,) = [r for r in panel_rows(seeded, "hotline-queues", "By queue, whole range", queue=QUEUES,
                                        sl_threshold="20", short_abandon="5") if r["queue"] == "support"]
    assert_figures(support, SUPPORT)

    (total,) = panel_rows(seeded, "hotline-queues", "Selected queues, whole range", queue=["support"],
                          sl_threshold="20", short_abandon="5")
    assert_figures(total, {k: SUPPORT[k] for k in ("offered", "answered", "abandoned", "sl_against",
                                                   "abandon_rate", "asa_s", "aht_s")})
    # No short-abandon rule: every abandon counts.
    (total,) = panel_rows(seeded, "hotline-queues", "Selected queues, whole range", queue=["support"],
                          sl_threshold="20", short_abandon="-1")
    assert_figures(total, {"sl_against": 7 / 15, "abandon_rate": 4 / 15})
    # T = 10 s: answered within 0, 4, 4 | 5 = 4; abandoned within 3 | 2 = 2 (both short).
    (support,) = [r for r in panel_rows(seeded, "hotline-queues", "By queue, whole range", queue=QUEUES,
                                        sl_threshold="10", short_abandon="5") if r["queue"] == "support"]
    assert_figures(support, {"answered_within": 4, "sl_ignored": 4 / 13, "sl_against": 4 / 13, "sl_for": 4 / 13})


def test_interval_rows_add_up_the_15_minute_buckets(seeded):
    rows = panel_rows(seeded, "hotline-queues", "Interval report", queue=["support"], interval="1800",
                      sl_threshold="20", short_abandon="5")
    # 09:00 and 09:15 fall in the 09:00-09:30 interval: one row with both.
    assert [(r["interval_start"].hour, r["interval_start"].minute) for r in _as_datetimes(rows)] == [(9, 0)]
    assert_figures(rows[0], {"offered": 15, "answered": 10, "asa_s": 14.3})
    rows = panel_rows(seeded, "hotline-queues", "Interval report", queue=["support"], interval="900",
                      sl_threshold="20", short_abandon="5")
    assert [r["offered"] for r in rows] == [10, 5]


def _as_datetimes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """chdb returns DateTime as text, the server as datetime: read both."""
    out = []
    for r in rows:
        value = r["interval_start"]
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        out.append({**r, "interval_start": value})
    return out


def test_wallboard_now_panels_read_the_latest_events(seeded):
    rows = {r["queue"]: r for r in panel_rows(seeded, "hotline-wallboard", "Queues now", queue=QUEUES)}
    assert_figures(rows["support"], {"calls_waiting": 1, "longest_wait_s": 90.0, "ready": 1, "on_call": 1,
                                     "not_ready": 0, "reserved": 0, "wrap_up": 0})
    assert_figures(rows["sales"], {"calls_waiting": 2, "longest_wait_s": 100.0, "ready": 1, "not_ready": 1})

    agents = {r["agent_id"]: r for r in panel_rows(seeded, "hotline-wallboard", "Agents now", queue=QUEUES)}
    assert set(agents) == {"a1", "a2", "a4"}           # a3 logged out
    assert (agents["a1"]["state"], agents["a1"]["time_in_state_s"]) == ("READY", 120.0)
    assert (agents["a2"]["state"], agents["a2"]["queue"]) == ("ON_CALL", "support")
    assert (agents["a4"]["state"], agents["a4"]["reason"]) == ("NOT_READY", "lunch")
    only_support = panel_rows(seeded, "hotline-wallboard", "Agents now", queue=["support"])
    assert sorted(r["agent_id"] for r in only_support) == ["a1", "a2"]


def test_agent_figures_and_not_ready_reasons(seeded):
    rows = {r["agent"]: r for r in panel_rows(seeded, "hotline-agents", "Agents", agent=["a1", "a2"])}
    assert_figures(rows["a1"], A1)
    reasons = {r["reason"]: r["not_ready_s"]
               for r in panel_rows(seeded, "hotline-agents", "Not ready by reason", agent=["a1"])}
    assert reasons == {"break": 210.0, "lunch": 30.0}


def test_ivr_containment_and_drop_off(seeded):
    flows = {r["flow"]: r for r in panel_rows(seeded, "hotline-ivr", "Flows", flow=["billing", "main"])}
    assert_figures(flows["main"], {"entries": 10, "completed": 3, "queued": 4, "hangups": 3, "containment": 0.3})
    assert_figures(flows["billing"], {"containment": 1.0})
    nodes = {(r["flow"], r["node"]): r for r in panel_rows(seeded, "hotline-ivr", "Nodes", flow=["main"])}
    assert_figures(nodes[("main", "menu")], {"visits": 12, "hangups": 2, "drop_off": 2 / 12, "avg_time_s": 10.0})
    assert nodes[("main", "menu")]["node_type"] == "menu"


def test_panels_agree_with_the_reporting_api(either):
    """The dashboards and the gRPC reports (hotline.reporting.queries and
    realtime) compute the same figures from the same rows: hand-written
    roll-up rows, and roll-ups recomputed from raw events."""
    from hotline.reporting import queries, realtime

    seeded = either
    report = queries.interval_report(seeded, from_us=FROM_US, to_us=NOW_US, interval_s=86400, threshold_s=20,
                                     short_abandon_s=5)
    panel = {r["queue"]: r for r in panel_rows(seeded, "hotline-queues", "By queue, whole range", queue=QUEUES,
                                               sl_threshold="20", short_abandon="5")}
    assert sorted(panel) == sorted(r.member for r in report.rows) == QUEUES
    for row in report.rows:
        c = row.counts
        assert_figures(panel[row.member], {
            "offered": c.offered, "answered": c.answered, "abandoned": c.abandoned,
            "short_abandoned": c.short_abandoned, "flowed_out": c.flowed_out, "answered_within": c.answered_within,
            "sl_ignored": row.service_level_abandons_ignored, "sl_against": row.service_level_abandons_against,
            "sl_for": row.service_level_abandons_for, "abandon_rate": row.abandon_rate, "asa_s": row.asa_s,
            "aht_s": row.aht_s, "max_wait_s": row.max_wait_s, "avg_abandon_wait_s": row.avg_abandon_wait_s})

    agents = queries.agent_report(seeded, from_us=FROM_US, to_us=NOW_US, interval_s=86400)
    ids = sorted({row.agent_id for row in agents.rows})
    assert {"a1", "a2"} <= set(ids)
    panel = {r["agent"]: r for r in panel_rows(seeded, "hotline-agents", "Agents", agent=ids)}
    assert sorted(panel) == ids
    for row in agents.rows:
        assert_figures(panel[row.agent_id], {"handled": row.counts.handled, "aht_s": row.aht_s,
                                             "occupancy": row.occupancy,
                                             "not_ready_s": row.counts.not_ready_us / S})

    ivr = queries.ivr_report(seeded, from_us=FROM_US, to_us=NOW_US)
    names = sorted({f.flow for f in ivr.flows})
    assert "main" in names
    flows = {r["flow"]: r for r in panel_rows(seeded, "hotline-ivr", "Flows", flow=names)}
    assert {f.flow: f.containment_rate for f in ivr.flows} == {k: v["containment"] for k, v in flows.items()}
    nodes = {(r["flow"], r["node"]): r for r in panel_rows(seeded, "hotline-ivr", "Nodes", flow=names)}
    assert {(n.counts.flow, n.counts.node): n.drop_off_rate for n in ivr.nodes} == \
        {k: v["drop_off"] for k, v in nodes.items()}

    now = realtime.realtime(seeded, now_us=NOW_US, queues=QUEUES)
    panel = {r["queue"]: r for r in panel_rows(seeded, "hotline-wallboard", "Queues now", queue=QUEUES)}
    for q in now.queues:
        assert (panel[q.queue]["calls_waiting"], panel[q.queue]["longest_wait_s"]) == \
            (q.calls_waiting, q.longest_wait_s), q
        shown = {s: panel[q.queue][s.lower()] for s in ("READY", "RESERVED", "ON_CALL", "WRAP_UP", "NOT_READY")}
        assert {k: v for k, v in shown.items() if v} == q.agents_by_state, q
    panel = {r["agent_id"]: r for r in panel_rows(seeded, "hotline-wallboard", "Agents now", queue=QUEUES)}
    assert {a.agent_id: (a.state, a.reason, a.queue, a.time_in_state_s) for a in now.agents} == \
        {k: (v["state"], v["reason"], v["queue"], v["time_in_state_s"]) for k, v in panel.items()}


def test_rebuilt_rollups_show_each_bucket_once(rebuilt):
    """Recomputed twice (after the batch, then rebuild) with merges stopped,
    every bucket holds two versions: the panels count only the current one,
    and one more rebuild changes nothing."""
    def shown():
        support = [r for r in panel_rows(rebuilt, "hotline-queues", "By queue, whole range", queue=QUEUES,
                                         sl_threshold="20", short_abandon="5") if r["queue"] == "support"]
        agents = panel_rows(rebuilt, "hotline-agents", "Agents", agent=["a1", "a2"])
        flows = panel_rows(rebuilt, "hotline-ivr", "Flows", flow=["main"])
        return support, agents, flows

    (support,), agents, (main,) = before = shown()
    assert_figures(support, REBUILT_SUPPORT)
    assert_figures(next(r for r in agents if r["agent"] == "a1"), {"handled": 2, "offers": 3})
    assert_figures(main, {"entries": 2, "completed": 1, "hangups": 1, "containment": 0.5})
    rollup.rebuild(rebuilt, FROM_US, NOW_US)
    assert shown() == before


# --- the roll-ups are read through their markers (no engine needed) ------------------------

def test_the_generator_reads_current_rows_as_the_reports_do():
    generator = load_generator()
    for table in rollup.ROLLUP_TABLES:
        assert generator.current_rows(table, str(FROM_US), str(NOW_US)) == \
            rollup.current_rows(table, FROM_US, NOW_US)


def test_every_rollup_read_keeps_only_current_rows():
    """Each FROM <roll-up> in a panel or variable query comes with that
    table's current-rows condition; no roll-up is deduplicated per key."""
    failures = []
    for board in BOARDS:
        texts = [(where(board, p), t["rawSql"]) for p, t in clickhouse_targets(board)]
        texts += [(f"{where(board)} variable ${n}", v["query"]) for n, v in variables(board).items()
                  if v["type"] == "query"]
        for label, text in texts:
            for table in rollup.ROLLUP_TABLES:
                reads = len(re.findall(rf"\bFROM {table}\b", text))
                marked = text.count(f"FROM rollup_versions WHERE table_name = '{table}'")
                if reads != marked:
                    failures.append(f"{label}: {reads} read(s) of {table}, {marked} with its current-rows condition")
            if re.search(r"argMax\([^()]*(\([^()]*\))?[^()]*,\s*version\)", text):
                failures.append(f"{label}: argMax(..., version): read the current rows instead")
    assert not failures, "\n".join(failures)


# --- Prometheus, data sources, variables, freshness (no engine needed) ----------------------

def registered_series() -> dict[str, tuple[str, ...]]:
    """Every series name Hotline's services export -> the metric's label names."""
    return {series: m.labels for m in hotline_metrics().values() for series in m.series}


def expr_metrics_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """Metric names and label names an expression reads (for these simple
    expressions: selectors, by (...), and label matchers)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    metrics_used = set(re.findall(r"\bhotline_[a-z0-9_]+", bare))
    labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", bare))
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", bare):
        labels |= {g.strip() for g in group.split(",") if g.strip()}
    return metrics_used, labels


def test_every_prometheus_metric_and_label_is_registered_by_hotline():
    series = registered_series()
    failures = []
    for board in BOARDS:
        for panel, target in prometheus_targets(board):
            expr = target["expr"]
            names, labels = expr_metrics_and_labels(expr)
            if not names:
                failures.append(f"{where(board, panel)}: no hotline_ metric in {expr}")
            unknown = sorted(n for n in names if n not in series)
            if unknown:
                failures.append(f"{where(board, panel)}: {unknown} not registered by Hotline's code")
                continue
            known = {"le", "job", "instance"}.union(*(series[n] for n in names))
            legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
            missing = sorted((labels | legend) - known)
            if missing:
                failures.append(f"{where(board, panel)}: labels {missing} are not labels of {sorted(names)}")
    assert not failures, "\n".join(failures)


def test_every_prometheus_expression_parses_with_promtool(tmp_path):
    promtool = os.environ.get("HOTLINE_TEST_PROMTOOL") or shutil.which("promtool")
    if not promtool:
        # deploy/test.sh installs it (deploy/promtool.sh): missing in CI is a failure.
        message = "promtool is not installed (deploy/promtool.sh install): PromQL syntax not checked"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    rules, owners = [], []
    for board in BOARDS:
        for panel, target in prometheus_targets(board):
            values = dict(BUILTIN)
            values.update({name: ["support", "sales"] for name in variables(board)})
            rules.append(f"      - record: hotline_dashboard:expr_{len(rules)}\n"
                         f"        expr: {json.dumps(substitute(target['expr'], values))}\n")
            owners.append(where(board, panel))
    path = tmp_path / "dashboards.rules.yml"
    path.write_text("groups:\n  - name: hotline-dashboards\n    rules:\n" + "".join(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    named = [f"{owners[int(n)]}: {line.strip()}" for line in output.splitlines()
             for n in re.findall(r'"hotline_dashboard:expr_(\d+)"', line)]
    assert result.returncode == 0, "\n".join(named) or output


def provisioned_datasources() -> dict[str, str]:
    """uid -> type, from the provisioning YAML (each list item's uid: and type: lines)."""
    out = {}
    for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.yaml")):
        for item in re.split(r"\n\s*- ", path.read_text())[1:]:
            uid = re.search(r"^\s*uid:\s*(\S+)", item, re.M)
            kind = re.search(r"^\s*type:\s*(\S+)", item, re.M)
            if uid and kind:
                out[uid.group(1)] = kind.group(1)
    return out


def datasources_in(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            yield node["datasource"]
        for value in node.values():
            yield from datasources_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from datasources_in(value)


def test_every_datasource_uid_is_provisioned():
    provisioned = provisioned_datasources()
    assert provisioned == {"clickhouse": "grafana-clickhouse-datasource", "prometheus": "prometheus"}
    for board in BOARDS:
        for ds in datasources_in(board):
            assert provisioned.get(ds.get("uid")) == ds.get("type"), (where(board), ds)


def test_every_variable_used_is_defined():
    failures = []
    for board in BOARDS:
        defined = set(variables(board)) | set(BUILTIN)
        texts = [(where(board, p), t.get("rawSql") or t.get("expr", "")) for p, t in targets(board)]
        texts += [(f"{where(board)} variable ${n}", v.get("query", "")) for n, v in variables(board).items()]
        for label, text in texts:
            undefined = used_variables(text) - defined
            if undefined:
                failures.append(f"{label}: {sorted(undefined)} not defined")
            if "$__" in re.sub(r"\$\{__\w+\}|\$__rate_interval", "", text):
                failures.append(f"{label}: a plugin macro ($__...) the test cannot substitute")
    assert not failures, "\n".join(failures)


def test_dashboards_are_well_formed():
    assert {b["uid"] for b in BOARDS} >= {"hotline-wallboard", "hotline-queues", "hotline-agents", "hotline-ivr"}
    assert len({b["uid"] for b in BOARDS}) == len(BOARDS)
    for board in BOARDS:
        assert board["schemaVersion"] >= 36 and board["title"] and board["panels"], where(board)
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), where(board)
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and panel["targets"], where(board, panel)
            assert all(t["refId"] for t in panel["targets"]), where(board, panel)


def test_committed_dashboards_are_what_the_generator_writes():
    generator = load_generator()
    stale = generator.stale(generator.render())
    assert not stale, f"stale: {[str(p.relative_to(ROOT)) for p in stale]}: run .venv/bin/python deploy/grafana/generate.py"
