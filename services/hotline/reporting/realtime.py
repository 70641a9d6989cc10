"""The real-time view: what is happening now, per queue and per agent (the
ClickHouse side of GetRealtime, the wallboard and the benchmark's
freshness figure).

Sources, each bounded in time so the queries stay fast on months of data:

- calls waiting and the longest wait: the queue events of the last
  WAITING_WINDOW_US. Per call the latest event decides (ties broken so that
  a move to another queue — OVERFLOWED then ENQUEUED at the same µs — and
  an end win); the call is waiting while that event is ENQUEUED, OFFERED,
  OFFER_FAILED, PRIORITY_CHANGED, ANNOUNCED, CALLBACK_REQUESTED or
  CALLBACK_DIALING, in that event's queue. It has waited since the
  event's timestamp_us - wait_us (its enqueue into that queue).
- agents: the latest AgentStateEvent of each agent within AGENT_WINDOW_US;
  an agent whose latest state is LOGGED_OUT is omitted. Its queues array
  gives the per-queue agents by state; time in state runs up to now (the
  still-open interval the roll-ups do not count yet).
- today's offered/answered/abandoned, service level (abandons against),
  abandon rate and ASA: the roll-ups' buckets of [day_start, day_start +
  24 h), through hotline.reporting.queries (the same arithmetic as every
  interval report).
- newest_event_us: the newest queue or agent event stored, so freshness
  (as_of - newest) can be measured.

Raw queue and agent events are read without GROUP BY event_id: copies of an
event are identical, so they cannot change the latest event of a call or
an agent.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Sequence

from hotline.reporting import formulas, queries, sql
from hotline.reporting.formulas import US
from hotline.reporting.store import ReportStore

WAITING_WINDOW_US = 6 * 3600 * US       # a call with no queue event for 6 h is not shown waiting
AGENT_WINDOW_US = 24 * 3600 * US        # an agent with no state change for 24 h is not shown
DAY_US = 86_400 * US

WAITING_TYPES = ("QUEUE_ENQUEUED", "QUEUE_OFFERED", "QUEUE_OFFER_FAILED", "QUEUE_PRIORITY_CHANGED",
                 "QUEUE_ANNOUNCED", "QUEUE_CALLBACK_REQUESTED", "QUEUE_CALLBACK_DIALING")
CALL_STATES = ("RESERVED", "ON_CALL", "WRAP_UP")        # states in which an agent's queue and call are shown


@dataclasses.dataclass(frozen=True)
class QueueNow:
    queue: str
    calls_waiting: int = 0
    longest_wait_s: float = 0.0
    agents_by_state: dict[str, int] = dataclasses.field(default_factory=dict)
    offered_today: int = 0
    answered_today: int = 0
    abandoned_today: int = 0
    service_level_today: float = 0.0
    abandon_rate_today: float = 0.0
    asa_today_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class AgentNow:
    agent_id: str
    state: str
    reason: str
    since_us: int
    time_in_state_s: float
    queue: str
    call_uuid: str
    queues: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class RealtimeView:
    as_of_us: int
    newest_event_us: int
    queues: list[QueueNow]
    agents: list[AgentNow]


def _day(t_us: int) -> str:
    """A ``day`` bound for partition pruning (the tables' day is the UTC date of their time column)."""
    return sql.literal(datetime.datetime.fromtimestamp(max(t_us, 0) / US, datetime.timezone.utc).date())


def waiting_sql(now_us: int) -> str:
    lo = now_us - WAITING_WINDOW_US
    rank = ("multiIf(type = 'QUEUE_OVERFLOWED', 0, type = 'QUEUE_ENQUEUED', 1, type IN "
            f"{sql.in_list(WAITING_TYPES)}, 2, 3)")
    return f"""
SELECT w_queue, count(), min(w_since)
FROM (
    SELECT argMax(queue, w_order) AS w_queue, argMax(type, w_order) AS w_type,
           argMax(timestamp_us - wait_us, w_order) AS w_since
    FROM (
        SELECT call_uuid, queue, type, timestamp_us, wait_us, timestamp_us * 4 + {rank} AS w_order
        FROM queue_events
        WHERE day >= {_day(lo)} AND timestamp_us >= {int(lo)} AND timestamp_us <= {int(now_us)}
    )
    GROUP BY call_uuid
)
WHERE w_type IN {sql.in_list(WAITING_TYPES)}
GROUP BY w_queue"""


def agents_sql(now_us: int) -> str:
    lo = now_us - AGENT_WINDOW_US
    latest = ", ".join(f"argMax({c}, timestamp_us) AS a_{c}" for c in ("state", "reason", "queue", "call_uuid",
                                                                        "queues"))
    return f"""
SELECT agent_id, a_state, a_reason, a_since, a_queue, a_call_uuid, a_queues
FROM (
    SELECT agent_id, {latest}, max(timestamp_us) AS a_since
    FROM agent_states
    WHERE day >= {_day(lo)} AND timestamp_us >= {int(lo)} AND timestamp_us <= {int(now_us)}
    GROUP BY agent_id
)
WHERE a_state != {sql.literal(formulas.LOGGED_OUT)}
ORDER BY agent_id"""


def newest_sql(now_us: int) -> str:
    lo = now_us - AGENT_WINDOW_US
    bounds = f"day >= {_day(lo)} AND timestamp_us >= {int(lo)}"
    return (f"SELECT (SELECT max(timestamp_us) FROM queue_events WHERE {bounds}), "
            f"(SELECT max(timestamp_us) FROM agent_states WHERE {bounds})")


def _agent(row: Sequence[Any], now_us: int) -> AgentNow:
    agent_id, state, reason, since, queue, call_uuid, queues = row
    on_call = str(state) in CALL_STATES
    return AgentNow(agent_id=str(agent_id), state=str(state), reason=str(reason) if state == "NOT_READY" else "",
                    since_us=int(since), time_in_state_s=max(0, now_us - int(since)) / US,
                    queue=str(queue) if on_call else "", call_uuid=str(call_uuid) if on_call else "",
                    queues=tuple(str(q) for q in queues))


def realtime(store: ReportStore, *, now_us: int, queues: Sequence[str] = (), agents: Sequence[str] = (),
             threshold_s: int = queries.DEFAULT_THRESHOLD_S, short_abandon_s: int = queries.DEFAULT_SHORT_ABANDON_S,
             day_start_us: int = 0) -> RealtimeView:
    """The view at ``now_us``. ``queues``/``agents`` filter what is listed
    (empty: every queue with activity today or agents now / every agent not
    logged out); ``day_start_us`` (a local midnight, a multiple of 15 min;
    0: 00:00 UTC of now) starts "today"."""
    for name in queues:
        queries.check_name("queues", name)
    for name in agents:
        queries.check_name("agents", name)
    formulas.check_threshold_s("service_level_threshold_s", threshold_s)
    if short_abandon_s != -1:
        formulas.check_threshold_s("short_abandon_s", short_abandon_s)
    if day_start_us:
        queries.bucket_aligned("day_start_us", day_start_us)
    else:
        day_start_us = now_us - now_us % DAY_US

    waiting = {str(q): (int(n), max(0, now_us - int(since)) / US) for q, n, since in store.query(waiting_sql(now_us))}
    all_agents = [_agent(r, now_us) for r in store.query(agents_sql(now_us))]
    today = queries.interval_report(store, queries.IntervalQuery(
        from_us=day_start_us, to_us=day_start_us + DAY_US, interval_s=DAY_US // US, threshold_s=threshold_s,
        short_abandon_s=short_abandon_s))
    stats = {r.member: r for r in today.rows}
    newest = max((int(v or 0) for v in store.query(newest_sql(now_us))[0]), default=0)

    by_state: dict[str, dict[str, int]] = {}
    for agent in all_agents:
        for q in agent.queues:
            counts = by_state.setdefault(q, {})
            counts[agent.state] = counts.get(agent.state, 0) + 1
    names = list(dict.fromkeys(queues)) if queues else sorted(set(waiting) | set(by_state) | set(stats))
    listed = [_queue_now(q, waiting.get(q), by_state.get(q, {}), stats.get(q)) for q in names]
    wanted = set(agents)
    return RealtimeView(as_of_us=now_us, newest_event_us=newest, queues=listed,
                        agents=[a for a in all_agents if not wanted or a.agent_id in wanted])


def _queue_now(queue: str, waiting: tuple[int, float] | None, by_state: dict[str, int],
               today: formulas.IntervalFigures | None) -> QueueNow:
    calls, longest = waiting or (0, 0.0)
    if today is None:
        return QueueNow(queue=queue, calls_waiting=calls, longest_wait_s=longest, agents_by_state=dict(by_state))
    c = today.counts
    return QueueNow(queue=queue, calls_waiting=calls, longest_wait_s=longest, agents_by_state=dict(by_state),
                    offered_today=c.offered, answered_today=c.answered, abandoned_today=c.abandoned,
                    service_level_today=today.service_level, abandon_rate_today=today.abandon_rate,
                    asa_today_s=today.asa_s)
