"""The reporting gRPC servicer (hotline.proto.reporting.v1.Reporting): the
transport side of the reports.

Each RPC turns its request into a query of hotline.reporting.queries /
realtime (proto3's 0 meaning "the default"), which validate it
(InvalidArgument names the field; the shared interceptor maps it to
INVALID_ARGUMENT), read the roll-ups or today's events, and compute the
figures with hotline.reporting.formulas; this module only maps them to the
reply messages.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from hotline.common.errors import InvalidArgument, Unavailable
from hotline.common.grpc import require
from hotline.common.settings import ReportingSettings
from hotline.proto.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from hotline.reporting import export, formulas, metrics, pages, queries, realtime, staffing
from hotline.reporting.store import ReportStore

log = logging.getLogger(__name__)

DAY_US = 86_400 * formulas.US


def _threshold(requested: int, default_s: int) -> int:
    """service_level_threshold_s: 0 means the settings' default."""
    value = requested or default_s
    return formulas.check_threshold_s("service_level_threshold_s", value)


def _short_abandon(requested: int, default_s: int) -> int:
    """short_abandon_s: 0 means the settings' default, -1 no short abandons."""
    if requested == -1:
        return -1
    if requested < 0:
        raise InvalidArgument("short_abandon_s", "must be a multiple of 5 seconds up to 300, 0 (the default) "
                                                 "or -1 (no short abandons)")
    return requested or default_s


def _group_by(value: int) -> str:
    if not 0 <= value < len(queries.GROUP_BY):
        raise InvalidArgument("group_by", f"unknown value {value}: expected GROUP_BY_QUEUE, GROUP_BY_AGENT, "
                                          "GROUP_BY_SKILL, GROUP_BY_DNIS or GROUP_BY_NONE")
    return queries.GROUP_BY[value]


def interval_query(request: Any, settings: ReportingSettings) -> queries.IntervalQuery:
    """An IntervalReportRequest as a checked IntervalQuery."""
    return queries.check_interval_query(queries.IntervalQuery(
        from_us=request.from_us, to_us=request.to_us, interval_s=request.interval_s or queries.DEFAULT_INTERVAL_S,
        threshold_s=_threshold(request.service_level_threshold_s, settings.service_level_threshold_s),
        short_abandon_s=_short_abandon(request.short_abandon_s, settings.short_abandon_s),
        group_by=_group_by(request.group_by), member=request.queue))


def utc_day_start_us(now_us: int) -> int:
    return now_us - now_us % DAY_US


def interval_row(fig: formulas.IntervalFigures | queries.IntervalLine,
                 make: Callable[..., Any] = reporting_pb2.IntervalRow) -> Any:
    """The IntervalRow of one row's figures (a total's or a page row's: the same
    fields); ``make`` = a reply's ``rows.add`` builds it in place (no copy of a
    finished message into the reply)."""
    c = fig.counts
    return make(
        queue=fig.member, interval_start_us=fig.interval_start_us, offered=c.offered, answered=c.answered,
        abandoned=c.abandoned, answered_within_threshold=c.answered_within, asa_s=fig.asa_s, aht_s=fig.aht_s,
        service_level=fig.service_level, abandon_rate=fig.abandon_rate, talk_s=c.talk_us / formulas.US,
        hold_s=c.hold_us / formulas.US, wrap_up_s=c.wrap_up_us / formulas.US, short_abandoned=c.short_abandoned,
        abandoned_within_threshold=c.abandoned_within, flowed_out=c.flowed_out, callbacks=c.callbacks,
        rejected=c.rejected, failed=c.failed, handled=c.handled,
        service_level_abandons_ignored=fig.service_level_abandons_ignored,
        service_level_abandons_against=fig.service_level_abandons_against,
        service_level_abandons_for=fig.service_level_abandons_for,
        max_wait_s=fig.max_wait_s, avg_abandon_wait_s=fig.avg_abandon_wait_s)


def agent_row(fig: formulas.AgentFigures | queries.AgentLine, make: Callable[..., Any] = reporting_pb2.AgentRow) -> Any:
    """The AgentRow of one row's figures; ``make`` as in interval_row."""
    c, us = fig.counts, formulas.US
    return make(
        agent_id=fig.agent_id, interval_start_us=fig.interval_start_us, handled=c.handled, offers=c.offers,
        missed=c.missed, talk_s=c.talk_us / us, hold_s=c.hold_us / us, wrap_up_s=c.wrap_up_us / us,
        aht_s=fig.aht_s, logged_in_s=c.logged_in_us / us, ready_s=c.ready_us / us, reserved_s=c.reserved_us / us,
        on_call_s=c.on_call_us / us, wrap_up_state_s=c.wrap_up_state_us / us, not_ready_s=c.not_ready_us / us,
        not_ready_by_reason_s={reason: v / us for reason, v in c.not_ready_by_reason_us}, occupancy=fig.occupancy)


def _page_reply(reply: Any, page: queries.IntervalPage | queries.AgentPage,
                query: queries.IntervalQuery | queries.AgentQuery, row: Callable[..., Any]) -> Any:
    """Fill a report reply with one page: its rows built in place, the total
    (on the last page of the report) and the token of the next page."""
    add = reply.rows.add
    for fig in page.rows:
        row(fig, add)
    if page.total is not None:
        reply.total.CopyFrom(row(page.total))
    if page.next_after is not None:
        reply.next_page_token = pages.encode_token(query, page.next_after)
    return reply


def interval_reply(page: queries.IntervalPage, query: queries.IntervalQuery) -> reporting_pb2.IntervalReport:
    return _page_reply(reporting_pb2.IntervalReport(total_size=page.total_size), page, query, interval_row)


def agent_reply(page: queries.AgentPage, query: queries.AgentQuery) -> reporting_pb2.AgentReport:
    return _page_reply(reporting_pb2.AgentReport(), page, query, agent_row)


def ivr_reply(report: queries.IvrReport) -> reporting_pb2.IvrReport:
    nodes = [reporting_pb2.IvrNodeRow(
        flow=n.counts.flow, node=n.counts.node, node_type=n.counts.node_type, visits=n.counts.visits,
        calls=n.counts.calls, hangups=n.counts.hangups, queued=n.counts.queued, completed=n.counts.completed,
        errors=n.counts.errors, drop_off_rate=n.drop_off_rate, avg_time_s=n.avg_time_s) for n in report.nodes]
    flows = [reporting_pb2.IvrFlowRow(flow=f.flow, calls=f.calls, contained=f.contained, abandoned=f.abandoned,
                                      queued=f.queued, containment_rate=f.containment_rate) for f in report.flows]
    return reporting_pb2.IvrReport(nodes=nodes, flows=flows)


def realtime_reply(view: realtime.RealtimeView) -> reporting_pb2.Realtime:
    return reporting_pb2.Realtime(
        as_of_us=view.as_of_us, newest_event_us=view.newest_event_us,
        queues=[reporting_pb2.QueueRealtime(
            queue=q.queue, calls_waiting=q.calls_waiting, longest_wait_s=q.longest_wait_s,
            agents_by_state=q.agents_by_state, offered_today=q.offered_today, answered_today=q.answered_today,
            abandoned_today=q.abandoned_today, service_level_today=q.service_level_today,
            abandon_rate_today=q.abandon_rate_today, asa_today_s=q.asa_today_s) for q in view.queues],
        agents=[reporting_pb2.AgentRealtime(
            agent_id=a.agent_id, state=a.state, reason=a.reason, since_us=a.since_us,
            time_in_state_s=a.time_in_state_s, queue=a.queue, call_uuid=a.call_uuid, queues=list(a.queues))
            for a in view.agents])


class ReportingServicer(reporting_pb2_grpc.ReportingServicer):
    def __init__(self, store: ReportStore, settings: ReportingSettings, *,
                 ready: Callable[[], bool] = lambda: True, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.ready = ready
        self.clock = clock

    def _check_ready(self) -> None:
        if not self.ready():
            raise Unavailable("reporting is not serving: ClickHouse is unreachable or its schema is not "
                              "current (run `hotline migrate up`)")

    def _now_us(self) -> int:
        return int(self.clock() * formulas.US)

    def GetIntervalReport(self, request: Any, context: Any) -> reporting_pb2.IntervalReport:
        """One page of the report (AIP-158: page_size, page_token -> next_page_token)."""
        q = interval_query(request, self.settings)
        page = pages.page(q, request.page_size, request.page_token)
        self._check_ready()
        with metrics.QUERY_SECONDS.labels("GetIntervalReport").time():
            return interval_reply(queries.interval_page(self.store, q, page), q)

    def GetQueueStats(self, request: Any, context: Any) -> reporting_pb2.QueueStats:
        """One queue, today (00:00 UTC) so far, from today's roll-up buckets."""
        require(request, "queue")
        queries.check_name("queue", request.queue)
        threshold_s = _threshold(request.service_level_threshold_s, self.settings.service_level_threshold_s)
        self._check_ready()
        day = utc_day_start_us(self._now_us())
        with metrics.QUERY_SECONDS.labels("GetQueueStats").time():
            total = queries.interval_report(self.store, queries.IntervalQuery(
                from_us=day, to_us=day + DAY_US, interval_s=DAY_US // formulas.US, threshold_s=threshold_s,
                short_abandon_s=self.settings.short_abandon_s, member=request.queue)).total
        c = total.counts
        return reporting_pb2.QueueStats(queue=request.queue, offered=c.offered, answered=c.answered,
                                        abandoned=c.abandoned, service_level=total.service_level,
                                        asa_s=total.asa_s, abandon_rate=total.abandon_rate)

    def GetRealtime(self, request: Any, context: Any) -> reporting_pb2.Realtime:
        threshold_s = _threshold(request.service_level_threshold_s, self.settings.service_level_threshold_s)
        if request.day_start_us:
            queries.bucket_aligned("day_start_us", request.day_start_us)
        self._check_ready()
        with metrics.QUERY_SECONDS.labels("GetRealtime").time():
            view = realtime.realtime(self.store, now_us=self._now_us(), queues=list(request.queues),
                                     agents=list(request.agents), threshold_s=threshold_s,
                                     short_abandon_s=self.settings.short_abandon_s,
                                     day_start_us=request.day_start_us)
        return realtime_reply(view)

    def GetAgentReport(self, request: Any, context: Any) -> reporting_pb2.AgentReport:
        q = queries.check_agent_query(queries.AgentQuery(
            from_us=request.from_us, to_us=request.to_us,
            interval_s=request.interval_s or queries.DEFAULT_INTERVAL_S, agent_id=request.agent_id))
        page = pages.page(q, request.page_size, request.page_token)
        self._check_ready()
        with metrics.QUERY_SECONDS.labels("GetAgentReport").time():
            return agent_reply(queries.agent_page(self.store, q, page), q)

    def GetIvrReport(self, request: Any, context: Any) -> reporting_pb2.IvrReport:
        q = queries.check_ivr_query(queries.IvrQuery(from_us=request.from_us, to_us=request.to_us,
                                                     flow=request.flow))
        self._check_ready()
        with metrics.QUERY_SECONDS.labels("GetIvrReport").time():
            return ivr_reply(queries.ivr_report(self.store, q))

    # Staffing and the CDR export live in their own modules (staffing.py,
    # export.py): validation, queries and figures there, the RPC plumbing here.
    def GetStaffing(self, request: Any, context: Any) -> reporting_pb2.StaffingReport:
        query = staffing.validate_request(request, self.settings)
        self._check_ready()
        with metrics.QUERY_SECONDS.labels("GetStaffing").time():
            return staffing.staffing_report(self.store, query)

    def ExportCdrs(self, request: Any, context: Any) -> Any:
        query = export.validate_request(request)
        self._check_ready()
        yield from export.cdr_batches(self.store, query)
