"""The reporting gRPC servicer (hotline.proto.reporting.v1.Reporting).

Validates requests (InvalidArgument names the field; the shared interceptor
maps it to INVALID_ARGUMENT), reads per-call facts from ClickHouse
(hotline.reporting.queries) and computes the figures with
hotline.reporting.formulas.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable

from hotline.common.errors import InvalidArgument, Unavailable
from hotline.common.grpc import require
from hotline.common.settings import ReportingSettings
from hotline.proto.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from hotline.reporting import formulas, metrics, queries
from hotline.reporting.store import ReportStore

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 1800
DAY_US = 86_400 * formulas.US
MAX_QUEUE_NAME = 256


@dataclasses.dataclass(frozen=True)
class IntervalQuery:
    queue: str
    from_us: int
    to_us: int
    interval_s: int
    threshold_s: int


def validate_interval_request(request: Any, default_threshold_s: int) -> IntervalQuery:
    """Check an IntervalReportRequest; defaults for 0 (proto3's unset)."""
    if len(request.queue) > MAX_QUEUE_NAME:
        raise InvalidArgument("queue", f"is longer than {MAX_QUEUE_NAME} characters")
    if request.from_us < 0:
        raise InvalidArgument("from_us", "must be µs since the epoch (0 or more)")
    if request.to_us <= request.from_us:
        raise InvalidArgument("to_us", "must be after from_us (the range is [from_us, to_us))")
    interval_s = request.interval_s or DEFAULT_INTERVAL_S
    if interval_s < 0 or interval_s % 60:
        raise InvalidArgument("interval_s", "must be a positive multiple of 60 seconds "
                                            "(e.g. 900, 1800, 3600, 86400); 0 means 1800")
    threshold_s = _threshold(request.service_level_threshold_s, default_threshold_s)
    return IntervalQuery(request.queue, request.from_us, request.to_us, interval_s, threshold_s)


def _threshold(requested: int, default_s: int) -> int:
    if requested < 0:
        raise InvalidArgument("service_level_threshold_s", "must be 0 (the default) or a positive number of seconds")
    return requested or default_s


def utc_day_start_us(now_us: int) -> int:
    return now_us - now_us % DAY_US


def _row(fig: formulas.IntervalFigures) -> reporting_pb2.IntervalRow:
    return reporting_pb2.IntervalRow(
        queue=fig.queue, interval_start_us=fig.interval_start_us, offered=fig.offered,
        answered=fig.answered, abandoned=fig.abandoned, answered_within_threshold=fig.answered_within_threshold,
        asa_s=fig.asa_s, aht_s=fig.aht_s, service_level=fig.service_level, abandon_rate=fig.abandon_rate,
        talk_s=fig.talk_s, hold_s=fig.hold_s, wrap_up_s=fig.wrap_up_s)


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

    def GetIntervalReport(self, request: Any, context: Any) -> reporting_pb2.IntervalReport:
        q = validate_interval_request(request, self.settings.service_level_threshold_s)
        self._check_ready()
        with metrics.QUERY_SECONDS.labels("GetIntervalReport").time():
            calls = queries.fetch_call_facts(self.store, q.from_us, q.to_us, q.queue)
            rows, total = formulas.assemble(calls, from_us=q.from_us, to_us=q.to_us, interval_s=q.interval_s,
                                            threshold_s=q.threshold_s, total_queue=q.queue)
        return reporting_pb2.IntervalReport(rows=[_row(r) for r in rows], total=_row(total))

    def GetQueueStats(self, request: Any, context: Any) -> reporting_pb2.QueueStats:
        require(request, "queue")
        if len(request.queue) > MAX_QUEUE_NAME:
            raise InvalidArgument("queue", f"is longer than {MAX_QUEUE_NAME} characters")
        threshold_s = _threshold(request.service_level_threshold_s, self.settings.service_level_threshold_s)
        self._check_ready()
        now_us = int(self.clock() * formulas.US)
        from_us = utc_day_start_us(now_us)
        to_us = now_us + 1                    # "so far": up to and including now
        with metrics.QUERY_SECONDS.labels("GetQueueStats").time():
            calls = queries.fetch_call_facts(self.store, from_us, to_us, request.queue)
            _, total = formulas.assemble(calls, from_us=from_us, to_us=to_us, interval_s=86_400,
                                         threshold_s=threshold_s, total_queue=request.queue)
        return reporting_pb2.QueueStats(queue=request.queue, offered=total.offered, answered=total.answered,
                                        abandoned=total.abandoned, service_level=total.service_level,
                                        asa_s=total.asa_s, abandon_rate=total.abandon_rate)

    # Staffing and the CDR export live in their own modules (staffing.py,
    # export.py): validation, queries and figures there, the RPC plumbing here.
    def GetStaffing(self, request: Any, context: Any) -> reporting_pb2.StaffingReport:
        from hotline.reporting import staffing

        query = staffing.validate_request(request, self.settings)
        self._check_ready()
        with metrics.QUERY_SECONDS.labels("GetStaffing").time():
            return staffing.staffing_report(self.store, query)

    def ExportCdrs(self, request: Any, context: Any) -> Any:
        from hotline.reporting import export

        query = export.validate_request(request)
        self._check_ready()
        yield from export.cdr_batches(self.store, query)
