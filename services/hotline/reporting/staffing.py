"""Staffing from interval history: agents needed for a target service level
(Erlang C, or Erlang A with abandonment), per interval or per time of day.

What it reads (the 15-minute roll-ups, docs/metrics.md "Roll-ups"):
- call_stats_15m, dimension 'queue' (one queue, or all queues summed):
  offered, handled, talk + wrap-up (for AHT), abandoned and the waits of
  answered and abandoned calls (for the callers' patience);
- agent_time_15m: logged-in time, for the agents actually staffed.

Only the current rows of each bucket are added up: those of the bucket's
newest marker in ``rollup_versions`` (:func:`hotline.reporting.rollup.current_rows`).
A recomputed bucket therefore counts once, with its newest rows, whether or
not ClickHouse has merged its older versions away yet; rows of a recompute
whose marker is not written yet count nowhere. No per-key deduplication: the
rows are simply summed.

The arithmetic is in :mod:`hotline.reporting.erlang`; the definitions and
assumptions (Poisson arrivals, exponential handle times and patience, the
patience estimator) in docs/staffing.md.
"""
from __future__ import annotations

import dataclasses
import datetime
import math
import sys
from typing import Any, Iterable, Sequence

from hotline.common.errors import InvalidArgument
from hotline.common.settings import ReportingSettings
from hotline.proto.reporting.v1 import reporting_pb2
from hotline.reporting import erlang, formulas, rollup, sql
from hotline.reporting.store import ReportStore

US = formulas.US
DAY_S = 86_400
DAY_US = DAY_S * US

DEFAULT_INTERVAL_S = 1800
DEFAULT_TARGET_SERVICE_LEVEL = 0.8
DEFAULT_MAX_OCCUPANCY = 0.85
MAX_THRESHOLD_S = 3600
MAX_ROWS = 3000                    # per-interval rows in one report: a month of 15-minute intervals
MAX_PATIENCE_S = 86_400.0          # patience beyond a day is "never abandons" (Erlang C): see docs/staffing.md
MAX_QUEUE_NAME = 256

ERLANG_C = reporting_pb2.ERLANG_C
ERLANG_A = reporting_pb2.ERLANG_A


@dataclasses.dataclass(frozen=True)
class StaffingQuery:
    """A validated StaffingRequest with every default filled in."""

    queue: str
    from_us: int
    to_us: int
    interval_s: int
    target_service_level: float
    threshold_s: int
    max_occupancy: float
    shrinkage: float
    patience_s: float              # 0: estimate from the history
    model: int                     # reporting_pb2.StaffingModel
    by_time_of_day: bool


def validate_request(request: Any, settings: ReportingSettings) -> StaffingQuery:
    """Check a StaffingRequest (InvalidArgument names the field); 0 means the default."""
    if len(request.queue) > MAX_QUEUE_NAME:
        raise InvalidArgument("queue", f"is longer than {MAX_QUEUE_NAME} characters")
    formulas.check_range(request.from_us, request.to_us)
    formulas.check_aligned(request.from_us, request.to_us)
    interval_s = _check_interval(request.interval_s or DEFAULT_INTERVAL_S, request.from_us, request.to_us,
                                 request.by_time_of_day)
    target = request.target_service_level or DEFAULT_TARGET_SERVICE_LEVEL
    if not 0.0 < target < 1.0:
        raise InvalidArgument("target_service_level", "must be between 0 and 1, both excluded (0 means 0.8)")
    threshold_s = request.service_level_threshold_s or settings.service_level_threshold_s
    if not 0 < threshold_s <= MAX_THRESHOLD_S:
        raise InvalidArgument("service_level_threshold_s",
                              f"must be 1 to {MAX_THRESHOLD_S} seconds (0 means the setting, "
                              f"{settings.service_level_threshold_s} s)")
    max_occupancy = request.max_occupancy or DEFAULT_MAX_OCCUPANCY
    if not 0.0 < max_occupancy <= 1.0:
        raise InvalidArgument("max_occupancy", "must be above 0 and at most 1 (1: no cap; 0 means 0.85)")
    if not 0.0 <= request.shrinkage < 1.0:
        raise InvalidArgument("shrinkage", "must be at least 0 and below 1 (the share of paid time agents "
                                           "are not available for calls)")
    patience_s = request.patience_s
    if not (patience_s == 0.0 or 0.0 < patience_s <= MAX_PATIENCE_S):
        raise InvalidArgument("patience_s", f"must be 0 (estimated from the history) or a mean patience of "
                                            f"at most {MAX_PATIENCE_S:.0f} seconds")
    if request.model not in (ERLANG_C, ERLANG_A):
        raise InvalidArgument("model", "must be ERLANG_C or ERLANG_A")
    return StaffingQuery(request.queue, request.from_us, request.to_us, interval_s, target, threshold_s,
                         max_occupancy, request.shrinkage, patience_s, request.model, request.by_time_of_day)


def _check_interval(interval_s: int, from_us: int, to_us: int, by_time_of_day: bool) -> int:
    """The report checks (formulas.check_interval_s), and whole intervals: of the
    range, and of a day when by time of day."""
    # By time of day the rows are at most a day's intervals however long the range.
    formulas.check_interval_s(interval_s, from_us, to_us, max_intervals=sys.maxsize if by_time_of_day else MAX_ROWS)
    if (to_us - from_us) % (interval_s * US):
        raise InvalidArgument("interval_s", "must divide the range [from_us, to_us) into whole intervals")
    if by_time_of_day and DAY_S % interval_s:
        raise InvalidArgument("interval_s", "must divide a day (86400 s) into whole intervals when by_time_of_day")
    return interval_s


# --- the history (ClickHouse side) ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class History:
    """Additive totals of one row's buckets (all its days, when by time of day)."""

    offered: int = 0
    handled: int = 0
    talk_us: int = 0               # hold included
    wrap_up_us: int = 0
    abandoned: int = 0
    answered_wait_us: int = 0
    abandoned_wait_us: int = 0
    logged_in_us: int = 0          # agents' logged-in time (for agents staffed)

    def __add__(self, other: "History") -> "History":
        return History(*(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)))


_CALL_HISTORY = """
SELECT {row_key} AS row_key, sum(offered), sum(handled), sum(talk_us), sum(wrap_up_us), sum(abandoned),
       sum(answered_wait_us), sum(abandoned_wait_us)
FROM call_stats_15m
WHERE dimension = 'queue' AND bucket_us >= {from_us} AND bucket_us < {to_us}{member_filter}
  AND {current}
GROUP BY row_key
ORDER BY row_key
"""

_AGENT_HISTORY = """
SELECT {row_key} AS row_key, sum(logged_in_us)
FROM agent_time_15m
WHERE bucket_us >= {from_us} AND bucket_us < {to_us}{agent_filter}
  AND {current}
GROUP BY row_key
ORDER BY row_key
"""

# The agents who serve a queue: those whose state events in the range list it
# among their queues or carry one of its calls.
_QUEUE_AGENTS = (" AND agent_id IN (SELECT agent_id FROM agent_states WHERE timestamp_us >= {from_us} "
                 "AND timestamp_us < {to_us} AND (has(queues, {queue}) OR queue = {queue}))")


def row_key_sql(q: StaffingQuery) -> str:
    """The report row a bucket belongs to: its interval, or its interval of the day
    (time of day counted from from_us's, so pass a local midnight as from_us)."""
    offset = sql.render("(bucket_us - {from_us})", from_us=q.from_us)
    if q.by_time_of_day:
        offset = sql.render("modulo(" + offset + ", {day_us})", day_us=DAY_US)
    return sql.render("intDiv(" + offset + ", {interval_us})", interval_us=q.interval_s * US)


def call_history_sql(q: StaffingQuery) -> str:
    member = sql.render(" AND member = {queue}", queue=q.queue) if q.queue else ""
    return sql.render(_CALL_HISTORY, row_key=sql.Sql(row_key_sql(q)), member_filter=sql.Sql(member),
                      current=sql.Sql(rollup.current_rows("call_stats_15m", q.from_us, q.to_us)),
                      from_us=q.from_us, to_us=q.to_us)


def agent_history_sql(q: StaffingQuery) -> str:
    agents = sql.render(_QUEUE_AGENTS, from_us=q.from_us, to_us=q.to_us, queue=q.queue) if q.queue else ""
    return sql.render(_AGENT_HISTORY, row_key=sql.Sql(row_key_sql(q)), agent_filter=sql.Sql(agents),
                      current=sql.Sql(rollup.current_rows("agent_time_15m", q.from_us, q.to_us)),
                      from_us=q.from_us, to_us=q.to_us)


def fetch_history(store: ReportStore, q: StaffingQuery) -> dict[int, History]:
    """Per row key, the calls and the agents' logged-in time of the range."""
    out: dict[int, History] = {}
    for key, *counts in store.query(call_history_sql(q)):
        out[int(key)] = History(*(int(c) for c in counts))
    for key, logged_in_us in store.query(agent_history_sql(q)):
        out[int(key)] = out.get(int(key), History()) + History(logged_in_us=int(logged_in_us))
    return out


# --- the figures (pure) ----------------------------------------------------------------------

def estimate_patience_s(abandoned: int, answered_wait_us: int, abandoned_wait_us: int) -> float:
    """Mean patience by maximum likelihood for exponential patience with censoring:
    abandons / total waiting time (an answered caller's wait is a patience
    that was at least that long). math.inf when nobody abandoned, or when the
    estimate exceeds MAX_PATIENCE_S (callers who practically never abandon)."""
    exposure_s = (answered_wait_us + abandoned_wait_us) / US
    if abandoned <= 0:
        return math.inf
    patience_s = exposure_s / abandoned
    return patience_s if patience_s <= MAX_PATIENCE_S else math.inf


@dataclasses.dataclass(frozen=True)
class Slot:
    """One report row: its history key, its start, and how many times it occurs in the range."""

    key: int
    start_us: int                  # absolute; by time of day: µs since from_us's time of day
    occurrences: int


def slots(q: StaffingQuery) -> list[Slot]:
    """Every row of the report: each interval of the range, or each interval of the
    day that the range covers at least once (with the number of days it covers it)."""
    interval_us = q.interval_s * US
    span_us = q.to_us - q.from_us
    if not q.by_time_of_day:
        return [Slot(k, q.from_us + k * interval_us, 1) for k in range(span_us // interval_us)]
    out = []
    for k in range(DAY_US // interval_us):
        offset_us = k * interval_us
        days = -(-(span_us - offset_us) // DAY_US) if span_us > offset_us else 0
        if days:
            out.append(Slot(k, offset_us, days))
    return out


def scheduled(agents_needed: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents_needed`` are on the phones: needed / (1 - shrinkage), rounded up."""
    return math.ceil(agents_needed / (1.0 - shrinkage) - 1e-9)


def staffing_rows(q: StaffingQuery, history: dict[int, History], patience_s: float) -> list[reporting_pb2.StaffingRow]:
    """One StaffingRow per slot. AHT is the slot's own (talk + wrap-up) / handled, or
    the whole range's when the slot handled no call."""
    everything = sum(history.values(), History())
    range_aht_s = formulas.aht_s(everything.talk_us, everything.wrap_up_us, everything.handled)
    return [_row(q, slot, history.get(slot.key, History()), range_aht_s, patience_s) for slot in slots(q)]


def _row(q: StaffingQuery, slot: Slot, h: History, range_aht_s: float,
         patience_s: float) -> reporting_pb2.StaffingRow:
    calls = h.offered / slot.occurrences
    aht_s = formulas.aht_s(h.talk_us, h.wrap_up_us, h.handled) if h.handled else range_aht_s
    kwargs = dict(target_service_level=q.target_service_level, threshold_s=q.threshold_s,
                  max_occupancy=q.max_occupancy)
    if q.model == ERLANG_A:
        p = erlang.erlang_a_agents(calls, aht_s, q.interval_s, patience_s=patience_s, **kwargs)
    else:
        p = erlang.erlang_c_agents(calls, aht_s, q.interval_s, **kwargs)
    staffed = h.logged_in_us / (slot.occurrences * q.interval_s * US)
    return reporting_pb2.StaffingRow(
        interval_start_us=slot.start_us, offered=calls, aht_s=aht_s, traffic_erlangs=p.traffic_erlangs,
        agents_needed=p.agents, service_level=p.service_level, asa_s=p.asa_s, occupancy=p.occupancy,
        abandon_rate=p.abandon_rate, agents_scheduled=scheduled(p.agents, q.shrinkage), agents_staffed=staffed)


def patience_for(q: StaffingQuery, history: Iterable[History]) -> float:
    """The mean patience Erlang A uses: the request's, or the history's estimate."""
    if q.patience_s:
        return q.patience_s
    total = sum(history, History())
    return estimate_patience_s(total.abandoned, total.answered_wait_us, total.abandoned_wait_us)


def staffing_report(store: ReportStore, q: StaffingQuery) -> reporting_pb2.StaffingReport:
    """GetStaffing: the history from ClickHouse, the figures from the model."""
    history = fetch_history(store, q)
    patience_s = patience_for(q, history.values()) if q.model == ERLANG_A else 0.0
    return reporting_pb2.StaffingReport(rows=staffing_rows(q, history, patience_s), model=q.model,
                                        patience_s=patience_s)


# --- reading it (the CLI's table) -----------------------------------------------------------

_HEADER = ("interval", "offered", "AHT s", "Erlangs", "needed", "scheduled", "staffed", "SL", "ASA s",
           "occupancy", "abandon")


def format_report(report: reporting_pb2.StaffingReport, *, by_time_of_day: bool) -> str:
    """The staffing table as text, one line per row, for `hotline staffing`."""
    lines = [_model_line(report)]
    table = [_HEADER] + [_cells(row, by_time_of_day) for row in report.rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(_HEADER))]
    for r in table:
        lines.append("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths))))
    return "\n".join(lines) + "\n"


def _model_line(report: reporting_pb2.StaffingReport) -> str:
    if report.model != ERLANG_A:
        return "model: Erlang C (callers never abandon)"
    if math.isinf(report.patience_s):
        return "model: Erlang A, patience: none abandoned (the same as Erlang C)"
    return f"model: Erlang A, mean patience {report.patience_s:.1f} s"


def _cells(row: reporting_pb2.StaffingRow, by_time_of_day: bool) -> Sequence[str]:
    return (_when(row.interval_start_us, by_time_of_day), f"{row.offered:.1f}", f"{row.aht_s:.1f}",
            f"{row.traffic_erlangs:.2f}", str(row.agents_needed), str(row.agents_scheduled),
            f"{row.agents_staffed:.1f}", f"{row.service_level:.1%}", f"{row.asa_s:.1f}",
            f"{row.occupancy:.1%}", f"{row.abandon_rate:.1%}")


def _when(start_us: int, by_time_of_day: bool) -> str:
    if by_time_of_day:
        minutes = start_us // (60 * US)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return datetime.datetime.fromtimestamp(start_us / US, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
