"""The historical reports, read from the 15-minute roll-ups only (the
ClickHouse side of the interval, agent and IVR reports).

Each report is one query over the current roll-up rows of the range (each
bucket's newest recompute, by its marker in rollup_versions:
rollup.current_rows, docs/metrics.md "Roll-ups"), summed per member and
interval in SQL: no per-key deduplication. Every division and every threshold choice is
made by hotline.reporting.formulas from those sums; the total row adds up
the rows' counts, never their ratios.

Plain functions — :func:`interval_report`, :func:`agent_report`,
:func:`ivr_report` — so the gRPC API, the benchmark and tests share them.
Arguments are checked first and a bad one raises InvalidArgument naming
the field. The SQL runs unchanged on ClickHouse 18.16 and chdb's 26.x
engine (no CTEs, one JOIN at most — none here —, values through
hotline.reporting.sql, no aggregate aliased to a column it reads).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from hotline.common.errors import InvalidArgument
from hotline.reporting import formulas, rollup, sql
from hotline.reporting.formulas import BUCKET_US, US
from hotline.reporting.store import ReportStore

GROUP_BY = ("queue", "agent", "skill", "dnis", "none")   # reporting.proto's GroupBy, in enum order
DEFAULT_INTERVAL_S = 1800
DEFAULT_THRESHOLD_S = 20
DEFAULT_SHORT_ABANDON_S = 5
MAX_NAME = 256


# --- the interval report ----------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class IntervalQuery:
    from_us: int
    to_us: int
    interval_s: int = DEFAULT_INTERVAL_S
    threshold_s: int = DEFAULT_THRESHOLD_S
    short_abandon_s: int = DEFAULT_SHORT_ABANDON_S     # -1: no short abandons
    group_by: str = "queue"
    member: str = ""                                    # "": every member


def check_name(field: str, value: str) -> str:
    if len(value) > MAX_NAME:
        raise InvalidArgument(field, f"is longer than {MAX_NAME} characters")
    return value


def check_interval_query(q: IntervalQuery) -> IntervalQuery:
    """Raise InvalidArgument naming the first bad field; each field's own checks
    come before the range's 15-minute alignment."""
    check_name("queue", q.member)
    formulas.check_range(q.from_us, q.to_us)
    formulas.check_interval_s(q.interval_s, q.from_us, q.to_us)
    formulas.check_threshold_s("service_level_threshold_s", q.threshold_s)
    if q.short_abandon_s != -1:
        formulas.check_threshold_s("short_abandon_s", q.short_abandon_s)
    if q.group_by not in GROUP_BY:
        raise InvalidArgument("group_by", f"must be one of {', '.join(GROUP_BY)}, not {q.group_by!r}")
    formulas.check_aligned(q.from_us, q.to_us)
    return q


@dataclasses.dataclass(frozen=True)
class IntervalReport:
    rows: list[formulas.IntervalFigures]
    total: formulas.IntervalFigures


# Summed roll-up columns -> IntervalCounts fields (in the SELECT's order).
_INTERVAL_SUMS = (
    ("offered", "offered"), ("answered", "answered"), ("handled", "handled"), ("abandoned", "abandoned"),
    ("flowed_out", "flowed_out"), ("callbacks", "callbacks"), ("rejected", "rejected"), ("failed", "failed"),
    ("answered_wait_us", "answered_wait_us"), ("abandoned_wait_us", "abandoned_wait_us"),
    ("talk_us", "talk_us"), ("hold_us", "hold_us"), ("wrap_up_us", "wrap_up_us"))


_SUM_FIELDS = tuple(field for _, field in _INTERVAL_SUMS)


def _interval_start(from_us: int, interval_us: int) -> str:
    return f"{int(from_us)} + intDiv(bucket_us - {int(from_us)}, {int(interval_us)}) * {int(interval_us)}"


def interval_sql(q: IntervalQuery) -> str:
    """Per (member, interval): the summed roll-up columns, the longest wait, and
    the calls answered / abandoned within T and abandoned within S. The
    thresholds are read from each bucket's histograms before summing (a
    scalar per row: no 62-slot array is carried through the aggregation).
    group_by "none" sums every queue into one row per interval (member "")."""
    member_filter = sql.render(" AND member = {m}", m=q.member) if q.member else ""
    sums = ", ".join(f"sum({column})" for column, _ in _INTERVAL_SUMS)

    def upto(hist: str, slots: int) -> str:
        return f"sum(arraySum(arraySlice({hist}, 1, {slots})))"

    answered_t = formulas.slots_upto(q.threshold_s)
    short = formulas.slots_upto(q.short_abandon_s)
    dimension, member = ("queue", "''") if q.group_by == "none" else (q.group_by, "member")
    return f"""
SELECT {member} AS b_member, {_interval_start(q.from_us, q.interval_s * US)} AS b_start, {sums},
       max(max_answered_wait_us), {upto('answer_wait_hist', answered_t)}, {upto('abandon_wait_hist', answered_t)},
       {upto('abandon_wait_hist', short)}
FROM call_stats_15m
WHERE dimension = {sql.literal(dimension)} AND bucket_us >= {int(q.from_us)} AND bucket_us < {int(q.to_us)}
      {member_filter} AND {rollup.current_rows('call_stats_15m', q.from_us, q.to_us)}
GROUP BY b_member, b_start
HAVING sum(offered) + sum(handled) > 0
ORDER BY b_member, b_start"""


def _interval_row(row: Sequence[Any]) -> tuple[str, int, formulas.IntervalCounts]:
    # The store returns integers as int (both engines), so no conversion here: a month of
    # 30-minute rows for every queue is ~10^5 rows.
    n = len(_INTERVAL_SUMS)
    sums = dict(zip(_SUM_FIELDS, row[2:2 + n]))
    max_wait, answered_t, abandoned_t, short = row[2 + n:6 + n]
    counts = formulas.interval_counts(answered_upto_t=answered_t, abandoned_upto_t=abandoned_t,
                                      abandoned_upto_short=short, max_answered_wait_us=max_wait, **sums)
    return row[0], row[1], counts


def _interval_total(rows: Sequence[Sequence[Any]]) -> formulas.IntervalCounts:
    """The total row's counts: the SQL rows' columns added up (the longest wait: their max)."""
    if not rows:
        return formulas.IntervalCounts()
    columns = list(zip(*(r[2:] for r in rows)))
    n = len(_INTERVAL_SUMS)
    summed = [sum(col) for col in columns]
    summed[n] = max(columns[n])
    return _interval_row(["", 0, *summed])[2]


def interval_report(store: ReportStore, query: IntervalQuery | None = None, **fields: Any) -> IntervalReport:
    """Per (member, interval) figures and the total row over [from_us, to_us).

    ``interval_report(store, from_us=..., to_us=..., interval_s=1800)`` or with
    an IntervalQuery. Rows are listed for members and intervals with at least
    one offered or handled call, sorted by member then time; the total row
    (member = the filter, start = from_us) is the sum of the rows' counts."""
    q = check_interval_query(query or IntervalQuery(**fields))
    raw = store.query(interval_sql(q))
    rows = [formulas.interval_figures(*_interval_row(r)) for r in raw]
    return IntervalReport(rows=rows, total=formulas.interval_figures(q.member, q.from_us, _interval_total(raw)))


# --- the agent report ----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AgentQuery:
    from_us: int
    to_us: int
    interval_s: int = DEFAULT_INTERVAL_S
    agent_id: str = ""                                  # "": every agent


def check_agent_query(q: AgentQuery) -> AgentQuery:
    check_name("agent_id", q.agent_id)
    formulas.check_range(q.from_us, q.to_us)
    formulas.check_interval_s(q.interval_s, q.from_us, q.to_us)
    formulas.check_aligned(q.from_us, q.to_us)
    return q


@dataclasses.dataclass(frozen=True)
class AgentReport:
    rows: list[formulas.AgentFigures]
    total: formulas.AgentFigures


_CALL_SIDE = (("handled", "handled"), ("offers", "offers"), ("missed", "missed"), ("talk_us", "talk_us"),
              ("hold_us", "hold_us"), ("wrap_up_us", "wrap_up_us"))
_TIME_SIDE = (("logged_in_us", "logged_in_us"), ("ready_us", "ready_us"), ("reserved_us", "reserved_us"),
              ("on_call_us", "on_call_us"), ("wrap_up_us", "wrap_up_state_us"), ("not_ready_us", "not_ready_us"))


def agent_sql(q: AgentQuery) -> str:
    """Calls (call_stats_15m, dimension agent) and time per state (agent_time_15m)
    in one query: the current rows of the two roll-ups as one UNION ALL, not-ready
    reasons unrolled with LEFT ARRAY JOIN (each bucket's other figures kept on
    its first reason only), summed per (agent, interval, reason), then per
    (agent, interval) with the reasons gathered into two parallel arrays."""
    interval_us = q.interval_s * US
    rng = f"bucket_us >= {int(q.from_us)} AND bucket_us < {int(q.to_us)}"
    start = _interval_start(q.from_us, interval_us)
    names = [f for _, f in _CALL_SIDE] + [f for _, f in _TIME_SIDE]
    call_cols = ", ".join([f"toInt64({c}) AS u_{f}" for c, f in _CALL_SIDE]
                          + [f"toInt64(0) AS u_{f}" for _, f in _TIME_SIDE])
    time_inner = ", ".join(f"{c} AS t_{f}" for c, f in _TIME_SIDE)
    time_cols = ", ".join([f"toInt64(0) AS u_{f}" for _, f in _CALL_SIDE]
                          + [f"toInt64(if(t_idx <= 1, t_{f}, 0)) AS u_{f}" for _, f in _TIME_SIDE])
    agent_filter = sql.render(" AND member = {a}", a=q.agent_id) if q.agent_id else ""
    agent_filter_t = sql.render(" AND agent_id = {a}", a=q.agent_id) if q.agent_id else ""
    return f"""
SELECT w_agent, w_start, {', '.join(f'sum(w_{f})' for f in names)}, groupArray(w_reason), groupArray(w_reason_us)
FROM (
    SELECT u_agent AS w_agent, u_start AS w_start, u_reason AS w_reason, sum(u_reason_us) AS w_reason_us,
           {', '.join(f'sum(u_{f}) AS w_{f}' for f in names)}
    FROM (
        SELECT member AS u_agent, {start} AS u_start, '' AS u_reason, toInt64(0) AS u_reason_us, {call_cols}
        FROM call_stats_15m
        WHERE dimension = 'agent' AND {rng}{agent_filter}
              AND {rollup.current_rows('call_stats_15m', q.from_us, q.to_us)}
        UNION ALL
        SELECT t_agent AS u_agent, t_start AS u_start, t_reason AS u_reason, toInt64(t_one_reason_us) AS u_reason_us,
               {time_cols}
        FROM (
            SELECT agent_id AS t_agent, {start} AS t_start, {time_inner},
                   not_ready_reasons AS t_reasons, not_ready_reason_us AS t_reason_us
            FROM agent_time_15m
            WHERE {rng}{agent_filter_t} AND {rollup.current_rows('agent_time_15m', q.from_us, q.to_us)}
        )
        LEFT ARRAY JOIN t_reasons AS t_reason, t_reason_us AS t_one_reason_us, arrayEnumerate(t_reasons) AS t_idx
    )
    GROUP BY u_agent, u_start, u_reason
)
GROUP BY w_agent, w_start
ORDER BY w_agent, w_start"""


_AGENT_FIELDS = [f for _, f in _CALL_SIDE] + [f for _, f in _TIME_SIDE]


def _agent_row(row: Sequence[Any]) -> tuple[str, int, formulas.AgentCounts]:
    agent, start = str(row[0]), int(row[1])
    n = len(_AGENT_FIELDS)
    values = {f: int(v) for f, v in zip(_AGENT_FIELDS, row[2:2 + n])}
    by_reason = tuple(sorted((str(r), int(us)) for r, us in zip(row[2 + n], row[3 + n]) if r != "" or int(us)))
    return agent, start, formulas.AgentCounts(**values, not_ready_by_reason_us=by_reason)


def _agent_total(rows: Sequence[tuple[str, int, formulas.AgentCounts]]) -> formulas.AgentCounts:
    """The rows' counts added up, field by field, reasons merged."""
    sums = {f: sum(getattr(c, f) for _, _, c in rows) for f in _AGENT_FIELDS}
    reasons: dict[str, int] = {}
    for _, _, c in rows:
        for reason, us in c.not_ready_by_reason_us:
            reasons[reason] = reasons.get(reason, 0) + us
    return formulas.AgentCounts(**sums, not_ready_by_reason_us=tuple(sorted(reasons.items())))


def agent_report(store: ReportStore, query: AgentQuery | None = None, **fields: Any) -> AgentReport:
    """Per (agent, interval): handled, offers, missed, talk/hold/wrap-up, AHT,
    time per state, not-ready time by reason, occupancy; and the total row.
    An agent and interval without any call or state time (only zeroed roll-up
    rows) has no row."""
    q = check_agent_query(query or AgentQuery(**fields))
    n = len(_AGENT_FIELDS)
    rows = [_agent_row(r) for r in store.query(agent_sql(q)) if any(int(v) for v in r[2:2 + n])]
    return AgentReport(rows=[formulas.agent_figures(a, s, c) for a, s, c in rows],
                       total=formulas.agent_figures(q.agent_id, q.from_us, _agent_total(rows)))


# --- the IVR report --------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class IvrQuery:
    from_us: int
    to_us: int
    flow: str = ""                                      # "": every flow


def check_ivr_query(q: IvrQuery) -> IvrQuery:
    check_name("flow", q.flow)
    formulas.check_range(q.from_us, q.to_us)
    formulas.check_aligned(q.from_us, q.to_us)
    return q


@dataclasses.dataclass(frozen=True)
class IvrReport:
    nodes: list[formulas.IvrNodeFigures]
    flows: list[formulas.IvrFlowFigures]


_IVR_SUMS = ("visits", "calls", "entries", "hangups", "queued", "completed", "errors", "time_us")


def ivr_sql(q: IvrQuery) -> str:
    flow_filter = sql.render(" AND flow = {f}", f=q.flow) if q.flow else ""
    return f"""
SELECT flow, node, argMax(node_type, bucket_us), {', '.join(f'sum({c})' for c in _IVR_SUMS)}
FROM ivr_stats_15m
WHERE bucket_us >= {int(q.from_us)} AND bucket_us < {int(q.to_us)}{flow_filter} AND visits > 0
      AND {rollup.current_rows('ivr_stats_15m', q.from_us, q.to_us)}
GROUP BY flow, node
ORDER BY flow, node"""


def ivr_report(store: ReportStore, query: IvrQuery | None = None, **fields: Any) -> IvrReport:
    """Per (flow, node): visits, distinct calls, hang-ups (drop-off), queued,
    completed, errors, average time; per flow: calls entering it, contained,
    abandoned, queued and the containment rate."""
    q = check_ivr_query(query or IvrQuery(**fields))
    nodes = [formulas.IvrNodeCounts(str(f), str(n), str(t), *(int(v) for v in rest))
             for f, n, t, *rest in store.query(ivr_sql(q))]
    return IvrReport(nodes=[formulas.ivr_node_figures(n) for n in nodes], flows=formulas.ivr_flow_figures(nodes))


def day_range(day_start_us: int) -> tuple[int, int]:
    """[day_start, day_start + 24 h): "today" for the real-time figures."""
    return day_start_us, day_start_us + 86_400 * US


def bucket_aligned(field: str, value: int) -> int:
    if value < 0 or value % BUCKET_US:
        raise InvalidArgument(field, "must be a multiple of 15 minutes (900 s) in µs since the epoch")
    return value
