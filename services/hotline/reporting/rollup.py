"""The 15-minute roll-ups every historical report reads, recomputed from the
deduplicated raw rows (the ClickHouse side of reporting's aggregation).

Why: a month's interval report over 10 M CDRs deduplicated with GROUP BY
event_id took 18 s on the ClickHouse 18.16 server; the roll-ups hold tens of
thousands of rows a month and answer in milliseconds.

How they stay exact under at-least-once delivery: a bucket is never
incremented. It is recomputed completely from the raw rows of that bucket,
deduplicated by event_id, with one ``INSERT ... SELECT`` per roll-up table
(server-side: no row passes through Python), under a new ``version`` (µs,
strictly increasing); then a marker (table, bucket, version) in
``rollup_versions`` makes those rows current. Readers keep only the rows of
each bucket's newest marker (:func:`current_rows`), so recomputing a bucket
twice, or after a replay stored every event twice, changes nothing; a key
the new computation no longer has (a corrected CDR moved its call to another
queue) simply has no current row; and a reader never sees half a recompute
(the marker comes after the rows). This keeps reads cheap: no per-key
deduplication, one small integer set per query. ReplacingMergeTree(version)
drops superseded rows in background merges; nothing relies on that.

Which buckets a batch touches (Refresher.after_batch):

- cdrs: the bucket of the CDR's enqueue_us (call_stats_15m, every dimension).
- queue-events QUEUE_OFFERED / QUEUE_OFFER_FAILED (offers and misses) and
  agent-events leaving WRAP_UP (wrap-up after a call): counted in the bucket
  of their call's CDR enqueue_us, which the event does not carry exactly
  (a queue event's timestamp - wait_us is the enqueue into the *current*
  queue, not the first). So the bucket is looked up from the call's stored
  CDR (one query per batch, bounded by CALL_SPAN_US before the events). A
  call whose CDR is not stored yet needs nothing: its CDR, when it arrives,
  recomputes its bucket with every event stored by then. A wrap-up event's
  own call_enqueue_us bucket is refreshed as well.
- agent-events: every bucket the interval [previous_state_since_us,
  timestamp_us) in previous_state overlaps (agent_time_15m), unless the
  previous state was LOGGED_OUT (which no figure counts).
- ivr-events: the bucket of entered_us (ivr_stats_15m).

Bounds (documented in docs/metrics.md): an offer or a wrap-up counts for its
call only if it happened less than CALL_SPAN_US (8 h) after the call entered
the queue; a state interval longer than MAX_STATE_US (7 days) is not split
into buckets before its last 7 days. Both keep the recompute of one bucket
from scanning whole tables.

An agent's current state (its latest event) is an interval still open: the
roll-ups count it once it ends; the real-time view (hotline.reporting.realtime)
counts it up to now.

All SQL runs unchanged on ClickHouse 18.16 and chdb's 26.x engine.
"""
from __future__ import annotations

import datetime
import itertools
import logging
import operator
import time
from typing import Callable, Iterable, Sequence

from google.protobuf.message import Message

from hotline.common import topics
from hotline.common.bus import Record
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import formulas, sql
from hotline.reporting.formulas import BUCKET_US, HIST_SLOTS, HIST_STEP_S, US
from hotline.reporting.store import ReportStore

log = logging.getLogger(__name__)

IVR_EVENTS = topics.IVR_EVENTS
_TOUCHING = frozenset({topics.CDRS, topics.QUEUE_EVENTS, topics.AGENT_EVENTS, IVR_EVENTS})
CALL_SPAN_US = 8 * 3600 * US          # offers and wrap-ups count within 8 h of the call's enqueue
MAX_STATE_US = 7 * 86_400 * US        # longest agent state interval split into buckets
MAX_BUCKETS_PER_STATEMENT = 96 * 7    # a statement recomputes at most a week of buckets (rebuild chunks)
DAY_US = 86_400 * US

CALL_STATS_COLUMNS = (
    "dimension", "member", "bucket_us", "offered", "answered", "handled", "abandoned", "flowed_out", "callbacks",
    "rejected", "failed", "offers", "missed", "answered_wait_us", "max_answered_wait_us", "abandoned_wait_us",
    "talk_us", "hold_us", "wrap_up_us", "answer_wait_hist", "abandon_wait_hist", "version")
AGENT_TIME_COLUMNS = (
    "agent_id", "bucket_us", "logged_in_us", "ready_us", "reserved_us", "on_call_us", "wrap_up_us",
    "not_ready_us", "not_ready_reasons", "not_ready_reason_us", "version")
IVR_STATS_COLUMNS = (
    "flow", "node", "node_type", "bucket_us", "visits", "calls", "entries", "hangups", "queued", "completed",
    "errors", "time_us", "version")



# --- the SQL ------------------------------------------------------------------------

def _bucket_expr(column: str) -> str:
    return f"intDiv({column}, {BUCKET_US}) * {BUCKET_US}"


def _span(buckets: Sequence[int]) -> tuple[int, int]:
    """[first bucket start, last bucket end)."""
    return min(buckets), max(buckets) + BUCKET_US


def _days(from_us: int, to_us: int) -> str:
    """``day`` (a raw table's partition column, the UTC date of its time
    column) within [from_us, to_us): lets ClickHouse skip whole months."""
    first, last = (datetime.datetime.fromtimestamp(max(t, 0) / US, datetime.timezone.utc).date()
                   for t in (from_us, max(from_us, to_us - 1)))
    return f"day >= {sql.literal(first)} AND day <= {sql.literal(last)}"


def _bucket_filter(column: str, buckets: Sequence[int]) -> str:
    """``column`` within the buckets: a range (index-friendly) and, when the
    buckets are not contiguous, the exact list as well."""
    lo, hi = _span(buckets)
    text = sql.render(f"{column} >= {{lo}} AND {column} < {{hi}}", lo=lo, hi=hi)
    if len(set(buckets)) != (hi - lo) // BUCKET_US:
        text += f" AND {_bucket_expr(column)} IN {sql.in_list(sorted(set(buckets)))}"
    return text


def _slot_expr(wait: str) -> str:
    """formulas.wait_slot in SQL: 0 for 0 s, k for (5(k-1), 5k] s, 61 above 300 s."""
    step = HIST_STEP_S * US
    return f"toInt8(least({HIST_SLOTS - 1}, intDiv(greatest({wait}, 0) + {step - 1}, {step})))"


def _not_missed() -> str:
    causes = sql.in_list(formulas.NOT_MISSED_CAUSES)
    return f"(reason IN {causes} OR startsWith(reason, {sql.literal(formulas.NOT_MISSED_PREFIX)}))"


def _member(dimension: str, member: str, weight: int, offers: str, missed: str, wrap: str) -> str:
    """One (dimension, member) a call counts for, with the call-side weight
    (1: the call's own figures count; 0: only this member's offers, misses, wrap-up)."""
    return (f"tuple(toString({sql.literal(dimension)}), toString({member}), toUInt8({weight}), "
            f"toUInt64({offers}), toUInt64({missed}), toInt64({wrap}))")


CENTER_MEMBER = "all"
CENTER_MEMBER_SQL = f"if(c_queue = '', '', {sql.literal(CENTER_MEMBER)})"


def _call_members() -> str:
    whole_call = ("e_offers", "e_missed", "e_wrap")
    return ("arrayFilter(t -> tupleElement(t, 2) != '', arrayConcat(["
            f"{_member('queue', 'c_queue', 1, *whole_call)}, "
            # The whole center: the calls that had a queue (what the queue rows add up to),
            # kept once per bucket so a center report reads 96 rows a day, not one per queue.
            f"{_member('center', CENTER_MEMBER_SQL, 1, *whole_call)}, "
            f"{_member('dnis', 'c_dnis', 1, *whole_call)}, "
            f"{_member('agent', 'c_agent', 1, '0', '0', '0')}], "
            f"arrayMap(s -> {_member('skill', 's', 1, *whole_call)}, c_skills), "
            f"arrayMap((a, o, x, w) -> {_member('agent', 'a', 0, 'o', 'x', 'w')}, "
            "e_agents, e_agent_offers, e_agent_missed, e_agent_wrap)))")


def _dense_hist(slot_map: str) -> str:
    """A ``sumMap([slot], [count])`` result as the 62-slot Array(UInt64) the tables keep.

    Keys and values go into the lambda as arguments, not captured: ClickHouse
    18.16 loses a column (or an aggregate) read only inside a lambda."""
    keys, values = f"tupleElement({slot_map}, 1)", f"tupleElement({slot_map}, 2)"
    return (f"arrayMap((i, ks, vs) -> toUInt64(arrayElement(vs, indexOf(ks, toInt8(i)))), range({HIST_SLOTS}), "
            f"arrayResize([{keys}], {HIST_SLOTS}, {keys}), arrayResize([{values}], {HIST_SLOTS}, {values}))")


def call_stats_sql(buckets: Sequence[int], version: int) -> str:
    """One INSERT ... SELECT recomputing call_stats_15m for the buckets (of the CDRs' enqueue_us).

    Per deduplicated CDR (GROUP BY event_id): its own figures (offered,
    answered, waits, talk, ...) and, joined by call_uuid, its offers, misses
    and wrap-ups per agent (queue_events and agent_states of the time window,
    each event counted once by event_id). Each call then fans out to its
    members — queue, DNIS, every skill, the answering agent, and every agent
    rung or wrapping up for it — which are summed per bucket; the wait
    histograms are summed as sumMap([slot], [1]) and made dense.

    Kept shallow on purpose: ClickHouse 18.16 analyses nested subqueries
    again at every level, so each level of nesting costs time on every
    refresh whatever the data (a deeper version of this query took 0.4 s on
    an empty range)."""
    cdr_filter = "queue != '' AND enqueue_us > 0 AND " + _bucket_filter("enqueue_us", buckets)
    lo, hi = _span(buckets)
    events_window = (sql.render("timestamp_us >= {lo} AND timestamp_us < {hi}", lo=lo, hi=hi + CALL_SPAN_US)
                     + " AND " + _days(lo, hi + CALL_SPAN_US))
    lit = sql.literal
    disposition = "argMax(disposition, ingested_us)"
    inbound = "argMax(callback_for, ingested_us) = ''"
    is_offered = f"({inbound} AND {disposition} != {lit(formulas.ENDED_IN_IVR)})"
    is_answered = f"({is_offered} AND {disposition} = {lit(formulas.ANSWERED)})"
    is_handled = f"({is_answered} OR (NOT {inbound} AND {disposition} = {lit(formulas.ANSWERED)}))"

    def offered_as(name: str) -> str:
        return f"toUInt64({is_offered} AND {disposition} = {lit(name)})"

    wait = "argMax(queue_wait_us, ingested_us)"
    answer_wait = (f"if({is_answered}, if({wait} > 0, {wait}, greatest(argMax(connect_us, ingested_us) - "
                   "argMax(enqueue_us, ingested_us), toInt64(0))), toInt64(0))")
    abandoned = f"({is_offered} AND {disposition} = {lit(formulas.ABANDONED)})"
    return f"""
INSERT INTO call_stats_15m ({', '.join(CALL_STATS_COLUMNS)})
SELECT s_dimension, s_member, c_bucket,
       sum(s_weight * c_offered), sum(s_weight * c_answered), sum(s_weight * c_handled),
       sum(s_weight * c_abandoned), sum(s_weight * c_flowed), sum(s_weight * c_callback),
       sum(s_weight * c_rejected), sum(s_weight * c_failed), sum(s_offers), sum(s_missed),
       sum(s_weight * c_answer_wait), max(s_weight * c_answer_wait), sum(s_weight * c_abandon_wait),
       sum(s_weight * c_talk), sum(s_weight * c_hold), sum(s_wrap),
       {_dense_hist('sumMap([c_answer_slot], [toUInt64(s_weight * c_answered)])')},
       {_dense_hist('sumMap([c_abandon_slot], [toUInt64(s_weight * c_abandoned)])')},
       toUInt64({int(version)})
FROM (
    SELECT c_bucket, arrayJoin({_call_members()}) AS s_m,
           tupleElement(s_m, 1) AS s_dimension, tupleElement(s_m, 2) AS s_member,
           tupleElement(s_m, 3) AS s_weight, tupleElement(s_m, 4) AS s_offers,
           tupleElement(s_m, 5) AS s_missed, tupleElement(s_m, 6) AS s_wrap,
           c_offered, c_answered, c_handled, c_abandoned, c_flowed, c_callback, c_rejected, c_failed,
           c_answer_wait, c_abandon_wait, c_talk, c_hold, c_answer_slot, c_abandon_slot
    FROM (
        SELECT argMax(call_uuid, ingested_us) AS call_key,
               {_bucket_expr('argMax(enqueue_us, ingested_us)')} AS c_bucket,
               argMax(queue, ingested_us) AS c_queue, argMax(dnis, ingested_us) AS c_dnis,
               argMax(agent_id, ingested_us) AS c_agent, argMax(skills, ingested_us) AS c_skills,
               toUInt64({is_offered}) AS c_offered, toUInt64({is_answered}) AS c_answered,
               toUInt64({is_handled}) AS c_handled, toUInt64({abandoned}) AS c_abandoned,
               {offered_as(formulas.OVERFLOWED)} AS c_flowed, {offered_as(formulas.CALLBACK)} AS c_callback,
               {offered_as(formulas.REJECTED)} AS c_rejected, {offered_as(formulas.FAILED)} AS c_failed,
               {answer_wait} AS c_answer_wait,
               if({abandoned}, greatest({wait}, toInt64(0)), toInt64(0)) AS c_abandon_wait,
               if({is_handled}, greatest(argMax(talk_us, ingested_us), toInt64(0)), toInt64(0)) AS c_talk,
               if({is_handled}, greatest(argMax(hold_us, ingested_us), toInt64(0)), toInt64(0)) AS c_hold,
               if({is_answered}, {_slot_expr('c_answer_wait')}, toInt8(-1)) AS c_answer_slot,
               if({abandoned}, {_slot_expr('c_abandon_wait')}, toInt8(-1)) AS c_abandon_slot
        FROM cdrs
        WHERE {cdr_filter}
        GROUP BY event_id
    ) AS calls
    ANY LEFT JOIN (
        SELECT call_key, sum(e_o) AS e_offers, sum(e_x) AS e_missed, sum(e_w) AS e_wrap,
               groupArray(e_agent) AS e_agents, groupArray(e_o) AS e_agent_offers,
               groupArray(e_x) AS e_agent_missed, groupArray(e_w) AS e_agent_wrap
        FROM (
            SELECT call_key, e_agent, toUInt64(uniqExactIf(e_id, e_kind = 1)) AS e_o,
                   toUInt64(uniqExactIf(e_id, e_kind = 2)) AS e_x,
                   toInt64(arraySum(arrayMap(t -> tupleElement(t, 2),
                                             groupUniqArrayIf(tuple(e_id, e_duration), e_kind = 3)))) AS e_w
            FROM (
                SELECT call_uuid AS call_key, agent_id AS e_agent, event_id AS e_id,
                       toUInt8(multiIf(type = 'QUEUE_OFFERED', 1,
                                       agent_id != '' AND NOT {_not_missed()}, 2, 0)) AS e_kind,
                       toInt64(0) AS e_duration
                FROM queue_events
                WHERE type IN ('QUEUE_OFFERED', 'QUEUE_OFFER_FAILED') AND {events_window}
                UNION ALL
                SELECT call_uuid AS call_key, agent_id AS e_agent, event_id AS e_id, toUInt8(3) AS e_kind,
                       toInt64(timestamp_us - previous_state_since_us) AS e_duration
                FROM agent_states
                WHERE previous_state = 'WRAP_UP' AND previous_state_since_us > 0 AND call_uuid != ''
                  AND {events_window}
            )
            GROUP BY call_key, e_agent
        )
        GROUP BY call_key
    ) AS call_events USING call_key
)
GROUP BY s_dimension, s_member, c_bucket"""


def agent_time_sql(buckets: Sequence[int], version: int) -> str:
    """One INSERT ... SELECT recomputing agent_time_15m for the buckets.

    Every deduplicated AgentStateEvent is the interval [previous_state_since_us,
    timestamp_us) spent in previous_state; it is split exactly at the bucket
    edges (arrayJoin over the buckets it overlaps). A NOT_READY interval's
    reason is on the event that began it (same agent, timestamp_us =
    previous_state_since_us, state NOT_READY): the one JOIN."""
    lo, hi = _span(buckets)
    states = sql.in_list(formulas.AGENT_STATES)
    first = f"greatest({_bucket_expr('i_from')}, {lo})"
    last = f"least({_bucket_expr('i_to - 1')}, {hi - BUCKET_US})"
    count = f"toUInt64(greatest(intDiv({last} - {first}, {BUCKET_US}) + 1, 0))"
    keep = "" if len(set(buckets)) == (hi - lo) // BUCKET_US else \
        f"WHERE t_bucket IN {sql.in_list(sorted(set(buckets)))}"
    return f"""
INSERT INTO agent_time_15m ({', '.join(AGENT_TIME_COLUMNS)})
SELECT t_agent, t_bucket,
       sum(t_us), sumIf(t_us, t_state = 'READY'), sumIf(t_us, t_state = 'RESERVED'),
       sumIf(t_us, t_state = 'ON_CALL'), sumIf(t_us, t_state = 'WRAP_UP'), sumIf(t_us, t_state = 'NOT_READY'),
       groupArrayIf(t_reason, t_state = 'NOT_READY'), groupArrayIf(t_us, t_state = 'NOT_READY'),
       toUInt64({int(version)})
FROM (
    SELECT t_agent, t_bucket, t_state, t_reason, sum(t_part) AS t_us
    FROM (
        SELECT i_agent AS t_agent, i_state AS t_state, if(i_state = 'NOT_READY', i_reason, '') AS t_reason,
               arrayJoin(arrayMap(k -> {first} + toInt64(k) * {BUCKET_US}, range({count}))) AS t_bucket,
               toInt64(least(i_to, t_bucket + {BUCKET_US}) - greatest(i_from, t_bucket)) AS t_part
        FROM (
            SELECT argMax(agent_id, ingested_us) AS i_agent,
                   argMax(previous_state, ingested_us) AS i_state,
                   argMax(previous_state_since_us, ingested_us) AS i_from,
                   argMax(timestamp_us, ingested_us) AS i_to
            FROM agent_states
            WHERE previous_state IN {states} AND previous_state_since_us > 0
              AND previous_state_since_us < {hi} AND timestamp_us > {lo} AND timestamp_us < {hi + MAX_STATE_US}
              AND {_days(lo, hi + MAX_STATE_US)}
            GROUP BY event_id
        ) AS intervals
        ANY LEFT JOIN (
            SELECT agent_id AS i_agent, timestamp_us AS i_from, argMax(reason, ingested_us) AS i_reason
            FROM agent_states
            WHERE state = 'NOT_READY' AND timestamp_us >= {lo - MAX_STATE_US} AND timestamp_us < {hi}
              AND {_days(lo - MAX_STATE_US, hi)}
            GROUP BY agent_id, timestamp_us
        ) AS reasons USING (i_agent, i_from)
        WHERE i_to > i_from
    )
    {keep}
    GROUP BY t_agent, t_bucket, t_state, t_reason
)
GROUP BY t_agent, t_bucket"""


def ivr_stats_sql(buckets: Sequence[int], version: int) -> str:
    """One INSERT ... SELECT recomputing ivr_stats_15m for the buckets (of entered_us):
    per (flow, node) the deduplicated visits, distinct calls, entries (sequence 1),
    outcomes and time at the node. node_type is the latest visit's."""
    return f"""
INSERT INTO ivr_stats_15m ({', '.join(IVR_STATS_COLUMNS)})
SELECT v_flow, v_node, argMax(v_type, v_entered), v_bucket,
       count(), uniqExact(v_call), countIf(v_sequence = 1), countIf(v_outcome = 'hangup'),
       countIf(v_outcome = 'queued'), countIf(v_outcome = 'completed'), countIf(v_outcome = 'error'),
       sum(greatest(v_left - v_entered, toInt64(0))), toUInt64({int(version)})
FROM (
    SELECT v_flow, v_node, v_type, v_call, v_sequence, v_outcome, v_entered, v_left,
           {_bucket_expr('v_entered')} AS v_bucket
    FROM (
        SELECT argMax(flow, ingested_us) AS v_flow, argMax(node, ingested_us) AS v_node,
               argMax(node_type, ingested_us) AS v_type, argMax(call_uuid, ingested_us) AS v_call,
               argMax(sequence, ingested_us) AS v_sequence, argMax(outcome, ingested_us) AS v_outcome,
               argMax(entered_us, ingested_us) AS v_entered, argMax(left_us, ingested_us) AS v_left
        FROM ivr_visits
        WHERE {_bucket_filter('entered_us', buckets)} AND {_days(*_span(buckets))}
        GROUP BY event_id
    )
)
GROUP BY v_flow, v_node, v_bucket"""


_RECOMPUTE: dict[str, Callable[[Sequence[int], int], str]] = {
    "call_stats_15m": call_stats_sql, "agent_time_15m": agent_time_sql, "ivr_stats_15m": ivr_stats_sql}
ROLLUP_TABLES = tuple(_RECOMPUTE)


VERSIONS_TABLE = "rollup_versions"


def recompute(store: ReportStore, table: str, buckets: Iterable[int], version: int) -> None:
    """Recompute ``table`` for the buckets, in statements of nearby buckets:
    the rows under ``version`` first, then the markers that make them current."""
    for group in clusters(buckets):
        # Never re-sent by the store: a recompute that may have run must not run
        # twice under one version (readers sum its rows); the batch's retry
        # recomputes under a new version instead.
        store.execute(_RECOMPUTE[table](group, version), repeatable=False)
        mark_current(store, table, group, version)


def mark_current(store: ReportStore, table: str, buckets: Iterable[int], version: int) -> None:
    """Make ``version`` the current rows of the buckets of ``table`` (readers
    take each bucket's newest marker; see current_rows)."""
    store.insert(VERSIONS_TABLE, ("table_name", "bucket_us", "version"),
                 [(table, int(b), int(version)) for b in buckets])


def current_rows(table: str, from_us: int, to_us: int) -> str:
    """The WHERE condition that keeps only the current rows of ``table``'s
    buckets in [from_us, to_us): those of each bucket's newest version marker.
    No per-key deduplication: the set has one entry per bucket (2,880 a month)
    and both of its columns are integers."""
    return sql.render(
        "(bucket_us, version) IN (SELECT bucket_us, max(version) FROM rollup_versions "
        "WHERE table_name = {table} AND bucket_us >= {lo} AND bucket_us < {hi} GROUP BY bucket_us)",
        table=table, lo=int(from_us), hi=int(to_us))


def clusters(buckets: Iterable[int], *, max_gap_us: int = DAY_US,
             max_buckets: int = MAX_BUCKETS_PER_STATEMENT) -> list[list[int]]:
    """Sorted buckets grouped so that one statement never spans a large gap
    (a replay touching last month and today is two statements, each scanning
    only its own time range) nor more than ``max_buckets`` buckets."""
    out: list[list[int]] = []
    for b in sorted(set(buckets)):
        if out and b - out[-1][-1] <= max_gap_us and b - out[-1][0] < max_buckets * BUCKET_US:
            out[-1].append(b)
        else:
            out.append([b])
    return out


# --- which buckets a batch touched ------------------------------------------------------

_TOPIC = operator.attrgetter("topic")
_VALUE = operator.attrgetter("value")
_CDR_FIELDS = operator.attrgetter("queue", "enqueue_us")
_OFFER_FIELDS = operator.attrgetter("type", "call_uuid", "timestamp_us")
_OFFER_TYPES = (ev.QUEUE_OFFERED, ev.QUEUE_OFFER_FAILED)
_AGENT_FIELDS = operator.attrgetter("previous_state", "previous_state_since_us", "timestamp_us", "call_uuid",
                                    "call_enqueue_us")
_COUNTED_STATES = frozenset(ev.AgentState.Value(name) for name in formulas.AGENT_STATES)
_ENTERED = operator.attrgetter("entered_us")


class Touched:
    """The buckets (and calls whose bucket is to be looked up) a batch touched. Pure.

    Fed a topic's messages at a time (:meth:`add_messages`, the ingest path:
    each message's few fields are read with one C-level ``attrgetter`` call
    and the buckets computed inline) or a record at a time (:meth:`add`)."""

    def __init__(self) -> None:
        self.call_buckets: set[int] = set()
        self.agent_buckets: set[int] = set()
        self.ivr_buckets: set[int] = set()
        self.lookup_calls: set[str] = set()
        self.lookup_from_us = 0
        self.lookup_to_us = 0

    @classmethod
    def of_batch(cls, batch: Sequence[Record]) -> "Touched":
        """What a batch touched, before the CDR lookup."""
        touched = cls()
        # A batch holds each partition's records in a run (the source polls
        # partition by partition): one add_messages per run.
        for topic, records in itertools.groupby(batch, _TOPIC):
            if topic in _TOUCHING:
                touched.add_messages(topic, list(map(_VALUE, records)))
        return touched

    def add(self, record: Record) -> None:
        self.add_messages(record.topic, (record.value,))

    def add_messages(self, topic: str, messages: Sequence[Message]) -> None:
        """The buckets ``messages`` (all of ``topic``) touch; a topic no roll-up reads touches nothing."""
        B = BUCKET_US
        if topic == topics.CDRS:
            # formulas.bucket_us(t) is t - t % B (Python's % is never negative for B > 0).
            self.call_buckets.update(t - t % B for queue, t in map(_CDR_FIELDS, messages) if queue and t > 0)
        elif topic == topics.QUEUE_EVENTS:
            offers = [(call, t) for type_, call, t in map(_OFFER_FIELDS, messages)
                      if call and type_ in _OFFER_TYPES]
            if offers:
                calls, times = zip(*offers)
                self._lookup(calls, times)
        elif topic == topics.AGENT_EVENTS:
            self._agent_events(messages)
        elif topic == IVR_EVENTS:
            self.ivr_buckets.update(t - t % B for t in map(_ENTERED, messages) if t > 0)

    def _agent_events(self, events: Sequence[ev.AgentStateEvent]) -> None:
        B = BUCKET_US
        agent_buckets, call_buckets = self.agent_buckets, self.call_buckets
        calls: list[str] = []
        times: list[int] = []
        for previous, since, until, call, enqueue_us in map(_AGENT_FIELDS, events):
            # The interval [since, until) spent in ``previous`` (LOGGED_OUT and
            # unknown states count for nothing), its last MAX_STATE_US at most:
            # formulas.buckets_between, with the usual single bucket inline.
            if previous in _COUNTED_STATES and since > 0 and until > since:
                first = max(since, until - MAX_STATE_US)
                first -= first % B
                last = until - 1 - (until - 1) % B
                if first == last:
                    agent_buckets.add(first)
                else:
                    agent_buckets.update(range(first, last + B, B))
            if previous == ev.WRAP_UP and call:
                calls.append(call)
                times.append(until)
                if enqueue_us > 0:
                    call_buckets.add(enqueue_us - enqueue_us % B)
        if calls:
            self._lookup(calls, times)

    def _lookup(self, calls: Iterable[str], times: Sequence[int]) -> None:
        self.lookup_calls.update(calls)
        earliest = min(times)
        self.lookup_from_us = min(self.lookup_from_us or earliest, earliest)
        self.lookup_to_us = max(self.lookup_to_us, max(times))

    def lookup_sql(self) -> str:
        """The enqueue buckets of the stored CDRs of the calls whose events do not carry it."""
        return sql.render(
            f"SELECT DISTINCT {_bucket_expr('enqueue_us')} FROM cdrs WHERE queue != '' AND enqueue_us > {{lo}} "
            "AND enqueue_us <= {hi} AND call_uuid IN {calls}",
            lo=self.lookup_from_us - CALL_SPAN_US, hi=self.lookup_to_us, calls=sql.Sql(sql.in_list(
                sorted(self.lookup_calls))))


class Refresher:
    """Keeps the roll-ups current as events are ingested: after each batch is
    stored (and before its offsets are committed), the buckets it touched are
    recomputed, so a crash between the two only repeats a recompute."""

    def __init__(self, store: ReportStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._last_version = 0

    def next_version(self) -> int:
        """Now in µs, strictly above every version this refresher wrote before."""
        self._last_version = max(int(self.clock() * US), self._last_version + 1)
        return self._last_version

    def touched(self, batch: Sequence[Record]) -> Touched:
        touched = Touched.of_batch(batch)
        if touched.lookup_calls:
            for (bucket,) in self.store.query(touched.lookup_sql()):
                touched.call_buckets.add(int(bucket))
        return touched

    def after_batch(self, batch: list[Record]) -> None:
        touched = self.touched(batch)
        self.refresh(call_buckets=touched.call_buckets, agent_buckets=touched.agent_buckets,
                     ivr_buckets=touched.ivr_buckets)

    def refresh(self, *, call_buckets: Iterable[int] = (), agent_buckets: Iterable[int] = (),
                ivr_buckets: Iterable[int] = ()) -> int:
        """Recompute the given buckets of each roll-up; returns the version written."""
        version = self.next_version()
        work = (("call_stats_15m", set(call_buckets)), ("agent_time_15m", set(agent_buckets)),
                ("ivr_stats_15m", set(ivr_buckets)))
        for table, buckets in work:
            if buckets:
                started = time.perf_counter()
                recompute(self.store, table, buckets, version)
                log.debug("recomputed %d bucket(s) of %s in %.3f s", len(buckets), table,
                          time.perf_counter() - started)
        return version


def rebuild(store: ReportStore, from_us: int, to_us: int, *, chunk_s: int = 3 * 3600,
            clock: Callable[[], float] = time.time,
            on_chunk: Callable[[int, int], None] | None = None) -> int:
    """Recompute every bucket of [from_us, to_us) of every roll-up, one
    INSERT ... SELECT per table per chunk (3 hours, 12 buckets, by default:
    a day of a 10-million-call month needs more than the 4 GB a query may use):
    for backfills, after a bulk load, or to repair. Idempotent like every
    recompute. ``from_us`` is rounded down and ``to_us`` up to whole buckets.
    Returns the number of buckets recomputed."""
    if to_us <= from_us:
        raise ValueError("rebuild: to_us must be after from_us")
    if chunk_s <= 0 or chunk_s % formulas.BUCKET_S:
        raise ValueError("rebuild: chunk_s must be a positive multiple of 900")
    refresher = Refresher(store, clock)
    start, end = formulas.bucket_us(from_us), formulas.bucket_us(to_us - 1) + BUCKET_US
    chunk_us = chunk_s * US
    for lo in range(start, end, chunk_us):
        hi = min(lo + chunk_us, end)
        buckets = range(lo, hi, BUCKET_US)
        refresher.refresh(call_buckets=buckets, agent_buckets=buckets, ivr_buckets=buckets)
        if on_chunk:
            on_chunk(lo, hi)
    return (end - start) // BUCKET_US
