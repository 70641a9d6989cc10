"""Reading reports' inputs from ClickHouse: one row of facts per call.

The SQL is the same for ClickHouse 18.16 and chdb's 26.x engine: no CTEs,
one JOIN (ANY LEFT JOIN ... USING on aliased subqueries), no query
parameters (values go through hotline.reporting.sql), and no aggregate
aliased to its own source column's name. The figures themselves are
computed by hotline.reporting.formulas.

Deduplication: rows are grouped by event_id and every column taken with
argMax(column, ingested_us) (the newest copy), so a replayed event counts
once whether or not ClickHouse has merged the copies yet.
"""
from __future__ import annotations

from hotline.reporting import formulas, sql
from hotline.reporting.store import ReportStore

_CALL_FACTS = """
SELECT c_queue, c_disposition, c_enqueue_us, c_connect_us, c_queue_wait_us, c_talk_us, c_hold_us, w_wrap_up_us
FROM (
    SELECT argMax(call_uuid, ingested_us) AS call_key,
           argMax(queue, ingested_us) AS c_queue,
           argMax(disposition, ingested_us) AS c_disposition,
           argMax(enqueue_us, ingested_us) AS c_enqueue_us,
           argMax(connect_us, ingested_us) AS c_connect_us,
           argMax(queue_wait_us, ingested_us) AS c_queue_wait_us,
           argMax(talk_us, ingested_us) AS c_talk_us,
           argMax(hold_us, ingested_us) AS c_hold_us
    FROM cdrs
    WHERE {calls_filter}
    GROUP BY event_id
) AS calls
ANY LEFT JOIN (
    SELECT call_key, sum(w_duration_us) AS w_wrap_up_us
    FROM (
        SELECT argMax(call_uuid, ingested_us) AS call_key,
               argMax(timestamp_us - previous_state_since_us, ingested_us) AS w_duration_us
        FROM agent_states
        WHERE previous_state = 'WRAP_UP' AND previous_state_since_us > 0
          AND call_uuid != '' AND call_uuid IN (SELECT call_uuid FROM cdrs WHERE {calls_filter})
        GROUP BY event_id
    ) AS wrap_up_events
    GROUP BY call_key
) AS wrap_ups USING call_key
"""


def calls_filter(from_us: int, to_us: int, queue: str = "") -> str:
    """Calls that entered the queue in [from_us, to_us) (of one queue if named)."""
    text = sql.render("enqueue_us >= {from_us} AND enqueue_us < {to_us} AND disposition != {ivr}",
                      from_us=int(from_us), to_us=int(to_us), ivr=formulas.ENDED_IN_IVR)
    if queue:
        text += sql.render(" AND queue = {queue}", queue=queue)
    else:
        text += " AND queue != ''"
    return text


def call_facts_sql(from_us: int, to_us: int, queue: str = "") -> str:
    return _CALL_FACTS.format(calls_filter=calls_filter(from_us, to_us, queue))


def fetch_call_facts(store: ReportStore, from_us: int, to_us: int, queue: str = "") -> list[formulas.CallFacts]:
    """One CallFacts per distinct CDR of calls enqueued in [from_us, to_us),
    with the wrap-up that ended those calls (summed over agents).

    A wrap-up is an AgentStateEvent leaving WRAP_UP: timestamp_us -
    previous_state_since_us, joined to its call by call_uuid, so it lands in
    the interval in which the call entered the queue.
    """
    rows = store.query(call_facts_sql(from_us, to_us, queue))
    return [formulas.CallFacts(queue=str(q), disposition=str(d), enqueue_us=int(e), connect_us=int(c),
                               queue_wait_us=int(w), talk_us=int(t), hold_us=int(h), wrap_up_us=int(wr or 0))
            for q, d, e, c, w, t, h, wr in rows]
