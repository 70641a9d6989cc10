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
import datetime
from typing import Any, Callable, NamedTuple, Sequence

from hotline.common.errors import InvalidArgument
from hotline.reporting import formulas, pages, rollup, sql
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


def _after(key: str, after: tuple[str, int] | None, interval_us: int) -> str:
    """Bucket rows of the report rows after ``after`` (member, interval start) in
    the report's order; "" for the first page. A bucket is in a later interval
    exactly when it starts at or after the end of ``after``'s interval."""
    if after is None:
        return ""
    if after[1] < 0:                      # past every row of the member (an agent window's end)
        return sql.render(f"{key} > {{m}}", m=after[0])
    return sql.render(f"({key} > {{m}} OR ({key} = {{m}} AND bucket_us >= {{s}}))",
                      m=after[0], s=int(after[1]) + int(interval_us))


def _days(from_us: int, to_us: int) -> str:
    """``day`` (the roll-ups' partition column: the UTC date of bucket_us) within
    [from_us, to_us): ClickHouse then skips the partitions (months) and parts
    of other days; bucket_us alone cannot, the tables being ordered by member
    first."""
    first, last = (datetime.datetime.fromtimestamp(max(t, 0) / US, datetime.timezone.utc).date()
                   for t in (from_us, max(from_us, to_us - 1)))
    return f"day >= {sql.literal(first)} AND day <= {sql.literal(last)}"


def _dimension(q: IntervalQuery) -> tuple[str, str]:
    """The roll-up dimension read and the SQL of a row's member."""
    if q.group_by == "none":
        # The center's own roll-up rows (one per bucket), not every queue's added
        # up; with a queue named, that queue's rows.
        return ("queue" if q.member else "center", "''")
    return (q.group_by, "member")


def _interval_where(q: IntervalQuery, *conditions: str) -> str:
    member_filter = sql.render(" AND member = {m}", m=q.member) if q.member else ""
    extra = "".join(f" AND {c}" for c in conditions if c)
    return (f"dimension = {sql.literal(_dimension(q)[0])} AND bucket_us >= {int(q.from_us)} "
            f"AND bucket_us < {int(q.to_us)} AND {_days(q.from_us, q.to_us)}{member_filter}{extra} "
            f"AND {rollup.current_rows('call_stats_15m', q.from_us, q.to_us)}")


# A bucket row with an offered or handled call puts its (member, interval) in the
# report; sums of UInt64 columns, so a row is listed exactly when one of its buckets is.
_LISTED_BUCKET = "offered + handled > 0"


def _interval_sums(q: IntervalQuery) -> str:
    """The aggregates of a row: the summed columns, the longest wait, and the
    calls answered / abandoned within T and abandoned within S, read from each
    bucket's histograms before summing (a scalar per bucket: no 62-slot array
    is carried through the aggregation)."""
    def upto(hist: str, slots: int) -> str:
        # The leading slots' elements added up: ~15 % faster on 18.16 than
        # arraySum(arraySlice(...)), which builds an array per row.
        return f"sum({' + '.join(f'{hist}[{i}]' for i in range(1, slots + 1)) or 'toUInt64(0)'})"

    answered_t = formulas.slots_upto(q.threshold_s)
    short = formulas.slots_upto(q.short_abandon_s)
    return (", ".join(f"sum({column})" for column, _ in _INTERVAL_SUMS)
            + f", max(max_answered_wait_us), {upto('answer_wait_hist', answered_t)}, "
              f"{upto('abandon_wait_hist', answered_t)}, {upto('abandon_wait_hist', short)}")


def interval_sql(q: IntervalQuery, *conditions: str, limit: int = 0) -> str:
    """Per (member, interval): the summed roll-up columns, the longest wait, and
    the calls answered / abandoned within T and abandoned within S.
    group_by "none" sums every queue into one row per interval (member "").
    ``conditions`` narrow the bucket rows read (a page's window), ``limit``
    keeps the first rows."""
    _, member = _dimension(q)
    return f"""
SELECT {member} AS b_member, {_interval_start(q.from_us, q.interval_s * US)} AS b_start, {_interval_sums(q)}
FROM call_stats_15m
WHERE {_interval_where(q, *conditions)}
GROUP BY b_member, b_start
HAVING sum(offered) + sum(handled) > 0
ORDER BY b_member, b_start{f' LIMIT {int(limit)}' if limit else ''}"""


def _one_member(q: IntervalQuery) -> bool:
    """A report whose rows all have one member: one queue (or agent, ...), or the whole center."""
    return q.group_by == "none" or bool(q.member)


def interval_index_sql(q: IntervalQuery, after: tuple[str, int] | None = None) -> str:
    """Where a page's rows are, from light columns only (no histogram is read).

    One member: the start of every listed interval, in order. Several: per
    member, in order, its rows in the report and its rows after ``after``."""
    start = _interval_start(q.from_us, q.interval_s * US)
    if _one_member(q):
        return f"""
SELECT {start} AS x_start FROM call_stats_15m WHERE {_interval_where(q, _LISTED_BUCKET)}
GROUP BY x_start ORDER BY x_start"""
    return f"""
SELECT member, uniqExact({start}), uniqExactIf({start}, {_after('member', after, q.interval_s * US) or '1'})
FROM call_stats_15m WHERE {_interval_where(q, _LISTED_BUCKET)}
GROUP BY member ORDER BY member"""


def interval_total_sql(q: IntervalQuery) -> str:
    """The total row's aggregates in one row: every bucket row of a listed
    (member, interval), i.e. the sum of the report's rows without listing them."""
    _, member = _dimension(q)
    start = _interval_start(q.from_us, q.interval_s * US)
    keys = start if member == "''" else f"{member}, {start}"
    return f"""
SELECT {_interval_sums(q)}
FROM call_stats_15m
WHERE {_interval_where(q)}
      AND ({_LISTED_BUCKET} OR ({keys}) IN (SELECT {keys} FROM call_stats_15m WHERE {_interval_where(q, _LISTED_BUCKET)}))"""


def _interval_figures(raw: Sequence[Sequence[Any]]) -> list[formulas.IntervalFigures]:
    """The figures of each SQL row (member, start, the aggregates of _interval_sums)."""
    n = len(_INTERVAL_SUMS)
    counts, figures, fields = formulas.interval_counts, formulas.interval_figures, _SUM_FIELDS
    return [figures(row[0], row[1], counts(
        answered_upto_t=row[n + 3], abandoned_upto_t=row[n + 4], abandoned_upto_short=row[n + 5],
        max_answered_wait_us=row[n + 2], **dict(zip(fields, row[2:2 + n])))) for row in raw]


def _interval_row(row: Sequence[Any]) -> tuple[str, int, formulas.IntervalCounts]:
    # The store returns integers as int (both engines), so no conversion here.
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
    """Per (member, interval) figures and the total row over [from_us, to_us), every row at once.

    ``interval_report(store, from_us=..., to_us=..., interval_s=1800)`` or with
    an IntervalQuery. Rows are listed for members and intervals with at least
    one offered or handled call, sorted by member then time; the total row
    (member = the filter, start = from_us) is the sum of the rows' counts.
    Long reports are read a page at a time: :func:`interval_page`."""
    q = check_interval_query(query or IntervalQuery(**fields))
    raw = store.query(interval_sql(q))
    return IntervalReport(rows=_interval_figures(raw),
                          total=formulas.interval_figures(q.member, q.from_us, _interval_total(raw)))


# --- a page's rows, cheaply ------------------------------------------------------------
# A page of 10,000 rows spent most of its Python time constructing two frozen
# dataclasses per row (IntervalCounts, IntervalFigures: ~5 µs each). A page's
# rows are these tuples instead: the same fields, in the same order, the same
# values computed by the same functions of hotline.reporting.formulas (the
# counts are handed to them as they are: they only read attributes).
# tests/unit/reporting/test_report_lines.py checks that every field equals
# formulas.interval_counts / interval_figures' on random rows.

class LineCounts(NamedTuple):
    """formulas.IntervalCounts' fields, in its order."""
    offered: int
    answered: int
    handled: int
    abandoned: int
    short_abandoned: int
    answered_within: int
    abandoned_within: int
    flowed_out: int
    callbacks: int
    rejected: int
    failed: int
    answered_wait_us: int
    max_answered_wait_us: int
    abandoned_wait_us: int
    talk_us: int
    hold_us: int
    wrap_up_us: int


class IntervalLine(NamedTuple):
    """formulas.IntervalFigures' fields, in its order: one row of a page."""
    member: str
    interval_start_us: int
    counts: LineCounts
    asa_s: float
    aht_s: float
    service_level_abandons_ignored: float
    service_level_abandons_against: float
    service_level_abandons_for: float
    abandon_rate: float
    max_wait_s: float
    avg_abandon_wait_s: float

    @property
    def service_level(self) -> float:
        return self.service_level_abandons_against


def _interval_lines(raw: Sequence[Sequence[Any]]) -> list[IntervalLine]:
    """The rows of interval_sql as IntervalLines: formulas.interval_counts (the
    histogram reads to short / within-T counts) and formulas.interval_figures
    (every ratio), without their dataclasses."""
    f = formulas
    asa, aht, ratio = f.asa_s, f.aht_s, f.ratio
    ignored, against, for_, abandon_rate = (f.service_level_abandons_ignored, f.service_level_abandons_against,
                                            f.service_level_abandons_for, f.abandon_rate)
    out = []
    append = out.append
    for (member, start, offered, answered, handled, abandoned, flowed_out, callbacks, rejected, failed,
         answered_wait_us, abandoned_wait_us, talk_us, hold_us, wrap_up_us, max_wait, answered_t, abandoned_t,
         short) in raw:
        c = LineCounts(offered, answered, handled, abandoned, short, answered_t, max(0, abandoned_t - short),
                       flowed_out, callbacks, rejected, failed, answered_wait_us, max_wait, abandoned_wait_us,
                       talk_us, hold_us, wrap_up_us)
        append(IntervalLine(member, start, c, asa(answered_wait_us, answered), aht(talk_us, wrap_up_us, handled),
                            ignored(c), against(c), for_(c), abandon_rate(c), max_wait / US,
                            ratio(abandoned_wait_us, abandoned) / US))
    return out


@dataclasses.dataclass(frozen=True)
class IntervalPage:
    rows: list[IntervalLine]
    total: formulas.IntervalFigures | None     # the last page only: the whole report's total row
    total_size: int                            # rows in the whole report
    next_after: tuple[str, int] | None         # the page's last row (member, start) when rows follow


def _window(index: Sequence[tuple[Any, int]], size: int) -> tuple[Any, Any, int]:
    """The keys a page reads: from the first key with rows after the cursor to
    the one that completes ``size`` rows; and how many rows follow the cursor.
    ``index``: (key, rows after the cursor) in the report's order."""
    first = last = None
    taken = remaining = 0
    for key, rows in index:
        if rows <= 0:
            continue
        remaining += rows
        if taken < size:
            first = key if first is None else first
            last = key
            taken += rows
    return first, last, remaining


def interval_page(store: ReportStore, query: IntervalQuery, page: pages.Page) -> IntervalPage:
    """One page of the interval report: its rows in the report's order after
    ``page.after`` (at most ``page.size``), and the total row on the last page.

    Two queries, neither listing more than the page: the index (where the
    page's rows are, from light columns only) and the page's rows (the bucket
    rows of its members, or of its intervals, only). The total row of a
    report of several pages is a third, on its last page: it reads every
    bucket's histograms (as long as the whole center's report over the
    range), which the first page — what a supervisor waits for — does not."""
    q = check_interval_query(query)
    interval_us = q.interval_s * US
    if _one_member(q) and page.first and -(-(q.to_us - q.from_us) // interval_us) <= page.size:
        # One member, no more intervals than the page holds: the whole report at once, as interval_report.
        raw = store.query(interval_sql(q))
        return IntervalPage(rows=_interval_lines(raw), total_size=len(raw), next_after=None,
                            total=formulas.interval_figures(q.member, q.from_us, _interval_total(raw)))
    index = store.query(interval_index_sql(q, page.after))
    if _one_member(q):
        starts = [int(start) for (start,) in index]
        total_size = len(starts)
        following = [(s, 1) for s in starts if page.after is None or s > page.after[1]]
        lo, hi, remaining = _window(following, page.size)
        conditions = [f"bucket_us >= {lo}", f"bucket_us < {hi + interval_us}"] if remaining else []
    else:
        total_size = sum(int(rows) for _, rows, _ in index)
        lo, hi, remaining = _window([(m, int(after)) for m, _, after in index], page.size)
        conditions = [sql.render("member >= {lo} AND member <= {hi}", lo=lo, hi=hi),
                      _after("member", page.after, interval_us)] if remaining else []
    raw = store.query(interval_sql(q, *conditions, limit=page.size)) if remaining else []
    rows = _interval_lines(raw)
    more = bool(rows) and remaining > len(rows)
    total = None
    if not more:
        if page.first:                    # the whole report in one page: its rows added up
            counts = _interval_total(raw)
        else:                             # the last of several: every page's rows, added up in ClickHouse
            (sums,) = store.query(interval_total_sql(q))
            counts = _interval_row(["", 0, *sums])[2]
        total = formulas.interval_figures(q.member, q.from_us, counts)
    return IntervalPage(rows=rows, total=total, total_size=total_size,
                        next_after=(rows[-1].member, rows[-1].interval_start_us) if more else None)


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
_AGENT_FIELDS = [f for _, f in _CALL_SIDE] + [f for _, f in _TIME_SIDE]

KeyConditions = Callable[[str], Sequence[str]]


def _agent_where(q: AgentQuery, table: str, key: str, key_conditions: KeyConditions | None) -> str:
    """Bucket rows of ``table`` (its agent column ``key``) in the range, for the
    agent filter and a page's window."""
    conditions = [f"bucket_us >= {int(q.from_us)} AND bucket_us < {int(q.to_us)}", _days(q.from_us, q.to_us)]
    if table == "call_stats_15m":
        conditions.insert(0, "dimension = 'agent'")
    if q.agent_id:
        conditions.append(sql.render(f"{key} = {{a}}", a=q.agent_id))
    conditions.extend(c for c in (key_conditions(key) if key_conditions else ()) if c)
    conditions.append(rollup.current_rows(table, q.from_us, q.to_us))
    return " AND ".join(conditions)


def _agent_numbers(q: AgentQuery, key_conditions: KeyConditions | None = None, *, reasons: bool = False) -> str:
    """Both roll-ups' bucket rows as one UNION ALL of (u_agent, u_start, u_<figure>...):
    the call side's figures and zeros for the time side's, and the other way round;
    with ``reasons``, u_reasons too: a bucket's not-ready (reason, µs) pairs."""
    start = _interval_start(q.from_us, q.interval_s * US)
    call_cols = ", ".join([f"toInt64({c}) AS u_{f}" for c, f in _CALL_SIDE]
                          + [f"toInt64(0) AS u_{f}" for _, f in _TIME_SIDE])
    time_cols = ", ".join([f"toInt64(0) AS u_{f}" for _, f in _CALL_SIDE]
                          + [f"toInt64({c}) AS u_{f}" for c, f in _TIME_SIDE])
    if reasons:
        call_cols += ", CAST([] AS Array(Tuple(String, Int64))) AS u_reasons"
        time_cols += (", arrayMap((r, us) -> tuple(r, toInt64(us)), not_ready_reasons, not_ready_reason_us)"
                      " AS u_reasons")
    return f"""
        SELECT member AS u_agent, {start} AS u_start, {call_cols}
        FROM call_stats_15m WHERE {_agent_where(q, 'call_stats_15m', 'member', key_conditions)}
        UNION ALL
        SELECT agent_id AS u_agent, {start} AS u_start, {time_cols}
        FROM agent_time_15m WHERE {_agent_where(q, 'agent_time_15m', 'agent_id', key_conditions)}"""


def _agent_listed(prefix: str) -> str:
    """An (agent, interval) is a row of the report when one of its sums is not 0."""
    return " OR ".join(f"sum({prefix}{f}) != 0" for f in _AGENT_FIELDS)


def agent_sql(q: AgentQuery, key_conditions: KeyConditions | None = None, *, limit: int = 0) -> str:
    """Calls (call_stats_15m, dimension agent) and time per state (agent_time_15m)
    in one query of two levels: the current rows of the two roll-ups as one
    UNION ALL (_agent_numbers, the time side with its not-ready reasons as
    (reason, µs) pairs), summed per (agent, interval), the pairs gathered into
    one array (added up per reason in Python: ClickHouse 18.16's sumMap takes
    numeric keys only). Flat on purpose: 18.16 analyses every level of
    nesting again, which cost a page ~0.3 s with five levels.
    ``key_conditions(agent column)`` narrows the bucket rows read (a page's
    window), ``limit`` keeps the first rows."""
    return f"""
SELECT u_agent, u_start, {', '.join(f'sum(u_{f})' for f in _AGENT_FIELDS)}, groupArrayArray(u_reasons)
FROM ({_agent_numbers(q, key_conditions, reasons=True)})
GROUP BY u_agent, u_start
HAVING {_agent_listed('u_')}
ORDER BY u_agent, u_start{f' LIMIT {int(limit)}' if limit else ''}"""


def agent_index_sql(q: AgentQuery, from_agent: str = "") -> str:
    """Per agent from ``from_agent`` on, in order: the intervals of the range in
    which it has time per state. Only sizes a page's window of agents (an agent with calls but
    no state time is in some window all the same: windows are ranges of
    names and cover every name); reads two light columns of agent_time_15m,
    where a query per (agent, interval) over both roll-ups would read ten of
    each (agent_time_15m is ordered by agent, so "today for every agent"
    reads the month's rows either way)."""
    return f"""
SELECT agent_id, uniqExact({_interval_start(q.from_us, q.interval_s * US)}) FROM agent_time_15m
WHERE bucket_us >= {int(q.from_us)} AND bucket_us < {int(q.to_us)} AND {_days(q.from_us, q.to_us)}
      {sql.render("AND agent_id >= {a}", a=from_agent) if from_agent else ""}
GROUP BY agent_id ORDER BY agent_id"""


def agent_total_sql(q: AgentQuery) -> str:
    """The total row's numbers: every bucket row added up. An (agent, interval)
    left out of the report has every sum 0, so it adds nothing."""
    return f"SELECT {', '.join(f'sum(u_{f})' for f in _AGENT_FIELDS)} FROM ({_agent_numbers(q)})"


def agent_total_reasons_sql(q: AgentQuery) -> str:
    """The total row's not-ready time per reason. Every bucket's reasons: a
    reason is in a bucket only with time (the roll-up lists the NOT_READY
    parts it sums into not_ready_us), so a bucket with reasons is in a row
    of the report."""
    return f"""
SELECT t_reason, sum(t_one_reason_us) FROM (
    SELECT not_ready_reasons AS t_reasons, not_ready_reason_us AS t_reason_us
    FROM agent_time_15m
    WHERE {_agent_where(q, 'agent_time_15m', 'agent_id', None)}
)
ARRAY JOIN t_reasons AS t_reason, t_reason_us AS t_one_reason_us
GROUP BY t_reason"""


def _by_reason(pairs: Sequence[Sequence[Any]]) -> tuple[tuple[str, int], ...]:
    """A row's not-ready (reason, µs) pairs added up per reason, sorted; a reason
    "" without time is no reason."""
    if not pairs:
        return ()
    summed: dict[str, int] = {}
    for reason, us in pairs:
        summed[str(reason)] = summed.get(str(reason), 0) + int(us)
    return tuple(sorted((r, us) for r, us in summed.items() if r != "" or us))


def _agent_row(row: Sequence[Any]) -> tuple[str, int, formulas.AgentCounts]:
    agent, start = str(row[0]), int(row[1])
    n = len(_AGENT_FIELDS)
    values = {f: int(v) for f, v in zip(_AGENT_FIELDS, row[2:2 + n])}
    return agent, start, formulas.AgentCounts(**values, not_ready_by_reason_us=_by_reason(row[2 + n]))


def _agent_total(rows: Sequence[tuple[str, int, formulas.AgentCounts]]) -> formulas.AgentCounts:
    """The rows' counts added up, field by field, reasons merged."""
    sums = {f: sum(getattr(c, f) for _, _, c in rows) for f in _AGENT_FIELDS}
    reasons: dict[str, int] = {}
    for _, _, c in rows:
        for reason, us in c.not_ready_by_reason_us:
            reasons[reason] = reasons.get(reason, 0) + us
    return formulas.AgentCounts(**sums, not_ready_by_reason_us=tuple(sorted(reasons.items())))


def _agent_figures(raw: Sequence[Sequence[Any]]) -> list[tuple[str, int, formulas.AgentCounts]]:
    n = len(_AGENT_FIELDS)
    return [_agent_row(r) for r in raw if any(int(v) for v in r[2:2 + n])]


def agent_report(store: ReportStore, query: AgentQuery | None = None, **fields: Any) -> AgentReport:
    """Per (agent, interval): handled, offers, missed, talk/hold/wrap-up, AHT,
    time per state, not-ready time by reason, occupancy; and the total row;
    every row at once (long reports are read a page at a time: :func:`agent_page`).
    An agent and interval without any call or state time (only zeroed roll-up
    rows) has no row."""
    q = check_agent_query(query or AgentQuery(**fields))
    rows = _agent_figures(store.query(agent_sql(q)))
    return AgentReport(rows=[formulas.agent_figures(a, s, c) for a, s, c in rows],
                       total=formulas.agent_figures(q.agent_id, q.from_us, _agent_total(rows)))


class AgentLineCounts(NamedTuple):
    """formulas.AgentCounts' fields, in its order."""
    handled: int
    offers: int
    missed: int
    talk_us: int
    hold_us: int
    wrap_up_us: int
    logged_in_us: int
    ready_us: int
    reserved_us: int
    on_call_us: int
    wrap_up_state_us: int
    not_ready_us: int
    not_ready_by_reason_us: tuple[tuple[str, int], ...]


class AgentLine(NamedTuple):
    """formulas.AgentFigures' fields, in its order: one row of a page."""
    agent_id: str
    interval_start_us: int
    counts: AgentLineCounts
    aht_s: float
    occupancy: float


def _agent_lines(raw: Sequence[Sequence[Any]]) -> list[AgentLine]:
    """The rows of agent_sql as AgentLines (the figures of formulas.agent_figures,
    without its dataclasses); a row whose numbers are all 0 is not one."""
    aht, occupancy = formulas.aht_s, formulas.occupancy
    out = []
    append = out.append
    by_reason = _by_reason
    for (agent, start, handled, offers, missed, talk_us, hold_us, wrap_up_us, logged_in_us, ready_us, reserved_us,
         on_call_us, wrap_up_state_us, not_ready_us, reasons) in raw:
        if not (handled or offers or missed or talk_us or hold_us or wrap_up_us or logged_in_us or ready_us
                or reserved_us or on_call_us or wrap_up_state_us or not_ready_us):
            continue
        c = AgentLineCounts(handled, offers, missed, talk_us, hold_us, wrap_up_us, logged_in_us, ready_us,
                            reserved_us, on_call_us, wrap_up_state_us, not_ready_us, by_reason(reasons))
        append(AgentLine(agent, start, c, aht(talk_us, wrap_up_us, handled), occupancy(c)))
    return out


@dataclasses.dataclass(frozen=True)
class AgentPage:
    rows: list[AgentLine]
    total: formulas.AgentFigures | None        # the last page only: the whole report's total row
    next_after: tuple[str, int] | None         # the page's last row (agent, start) when rows follow


def agent_page(store: ReportStore, query: AgentQuery, page: pages.Page) -> AgentPage:
    """One page of the agent report: its rows after ``page.after`` (at most
    ``page.size``), the total row on the last page.

    The page's rows are read from a window of agents (a range of names: the
    roll-ups are ordered by agent, so only those agents' rows are read); the
    index (per agent, its intervals with state time) sizes the window. It
    is an estimate, so a window is read one row past what the page needs,
    and when it holds too few rows the next window is read as well; the
    last window is open-ended, so no agent is ever left out."""
    q = check_agent_query(query)
    interval_us = q.interval_s * US
    index: list[tuple[str, int]] = [] if q.agent_id else [
        (str(a), int(n)) for a, n in store.query(agent_index_sql(q, page.after[0] if page.after else ""))]
    after = page.after
    rows: list[AgentLine] = []
    while True:
        need = page.size - len(rows) + 1          # one more: whether rows follow
        hi, estimated = None, 0
        for i, (agent, n) in enumerate(index):
            estimated += n
            if estimated >= need and i + 1 < len(index):
                hi, index = agent, index[i + 1:]
                break

        def window(key: str) -> list[str]:
            bounds = [_after(key, after, interval_us)]
            if hi is not None:
                bounds.append(sql.render(f"{key} <= {{hi}}", hi=hi))
            return bounds
        rows += _agent_lines(store.query(agent_sql(q, window, limit=need)))
        if len(rows) > page.size or hi is None:
            break
        after = (hi, -1)                          # the next window: agents after hi
    more = len(rows) > page.size
    rows = rows[:page.size]
    total = None
    if not more:
        if page.first:                    # the whole report in one page: its rows added up
            counts = _agent_total([(line.agent_id, line.interval_start_us, line.counts) for line in rows])
        else:                             # the last of several: every page's rows, added up in ClickHouse
            (sums,) = store.query(agent_total_sql(q))
            reasons = tuple(sorted((str(r), int(us)) for r, us in store.query(agent_total_reasons_sql(q))
                                   if r != "" or int(us)))
            counts = formulas.AgentCounts(**{f: int(v) for f, v in zip(_AGENT_FIELDS, sums)},
                                          not_ready_by_reason_us=reasons)
        total = formulas.agent_figures(q.agent_id, q.from_us, counts)
    return AgentPage(rows=rows, total=total,
                     next_after=(rows[-1].agent_id, rows[-1].interval_start_us) if more else None)


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
