"""The reports over real gRPC on loopback (ReportingServicer in the shared
GrpcServer with its error interceptor), on both engines: every IntervalRow
field of the hand-computed interval report (test_reports.py), the agent and
IVR reports, GetQueueStats and GetRealtime (test_realtime.py's data), and
INVALID_ARGUMENT naming the field."""
import grpc
import pytest

import test_realtime as rt
import test_reports as hc
from hotline.common import topics
from hotline.common.bus import Record
from hotline.common.grpc import GrpcServer
from hotline.common.settings import ReportingSettings
from hotline.proto.reporting.v1 import reporting_pb2 as rp, reporting_pb2_grpc
from hotline.reporting import migrations, rollup
from hotline.reporting.api import ReportingServicer
from hotline.reporting.ingest import Ingester

S = 1_000_000
SETTINGS = ReportingSettings(service_level_threshold_s=20, short_abandon_s=5)


def serve(store, now_us):
    server = GrpcServer("127.0.0.1:0")
    server.add(reporting_pb2_grpc.add_ReportingServicer_to_server,
               ReportingServicer(store, SETTINGS, clock=lambda: now_us / S), "reporting")
    port = server.start()
    return server, grpc.insecure_channel(f"127.0.0.1:{port}")


@pytest.fixture
def stub(store):
    """The hand-computed history loaded, served with the clock at 11:00 that day."""
    hc.load(store)
    server, channel = serve(store, hc.T0 + 2 * 3600 * S)
    yield reporting_pb2_grpc.ReportingStub(channel)
    channel.close()
    server.stop()


@pytest.fixture
def bare_stub(store):
    """An empty, migrated store served: enough to check request validation."""
    migrations.up(store)
    server, channel = serve(store, hc.T0)
    yield reporting_pb2_grpc.ReportingStub(channel)
    channel.close()
    server.stop()


def as_figures(row):
    """An IntervalRow in test_reports.figures' terms."""
    return dict(member=row.queue, start=row.interval_start_us, offered=row.offered, answered=row.answered,
                handled=row.handled, abandoned=row.abandoned, short=row.short_abandoned,
                within=row.answered_within_threshold, ab_within=row.abandoned_within_threshold,
                flowed=row.flowed_out, callbacks=row.callbacks, rejected=row.rejected, failed=row.failed,
                sl_ignored=round(row.service_level_abandons_ignored, 9),
                sl_against=round(row.service_level_abandons_against, 9),
                sl_for=round(row.service_level_abandons_for, 9), abandon_rate=round(row.abandon_rate, 9),
                asa=round(row.asa_s, 9), aht=round(row.aht_s, 9), max_wait=row.max_wait_s,
                avg_abandon_wait=round(row.avg_abandon_wait_s, 9), talk=row.talk_s, hold=row.hold_s,
                wrap=row.wrap_up_s)


def test_interval_report_over_grpc(stub):
    report = stub.GetIntervalReport(rp.IntervalReportRequest(from_us=hc.T0, to_us=hc.T0 + hc.HOUR), timeout=30)
    # Defaults: interval 1800 s, threshold 20 s and short abandons 5 s from the settings.
    assert [as_figures(r) for r in report.rows] == [hc.SALES_1, hc.SALES_2, hc.SUPPORT_1]
    assert as_figures(report.total) == hc.TOTAL
    assert all(r.service_level == r.service_level_abandons_against for r in [*report.rows, report.total])

    none = stub.GetIntervalReport(rp.IntervalReportRequest(
        queue="sales", from_us=hc.T0, to_us=hc.T0 + hc.HOUR, interval_s=3600, short_abandon_s=-1,
        service_level_threshold_s=25), timeout=30)
    (row,) = none.rows                           # 13 offered, no short abandons; a1 a2 a3 a5 within 25 s
    assert (row.offered, row.short_abandoned, row.answered_within_threshold) == (13, 0, 4)
    assert row.abandon_rate == pytest.approx(4 / 13)

    by_agent = stub.GetIntervalReport(rp.IntervalReportRequest(
        from_us=hc.T0, to_us=hc.T0 + hc.HOUR, interval_s=3600, group_by=rp.GROUP_BY_AGENT), timeout=30)
    assert [(r.queue, r.handled) for r in by_agent.rows] == [("1001", 3), ("1002", 3), ("1003", 1)]


def test_agent_and_ivr_reports_over_grpc(stub):
    agents = stub.GetAgentReport(rp.AgentReportRequest(agent_id="2001", from_us=hc.T0, to_us=hc.T0 + hc.HOUR),
                                 timeout=30)
    first, second = agents.rows
    assert (first.agent_id, first.interval_start_us, first.logged_in_s, first.ready_s, first.reserved_s,
            first.on_call_s, first.not_ready_s) == ("2001", hc.T0, 1800.0, 600.0, 10.0, 290.0, 900.0)
    assert dict(first.not_ready_by_reason_s) == {"break": 900.0}
    assert first.occupancy == pytest.approx(1 / 3)
    assert (second.wrap_up_state_s, dict(second.not_ready_by_reason_s)) == (60.0, {"training": 340.0})
    assert agents.total.logged_in_s == 2400.0

    calls = stub.GetAgentReport(rp.AgentReportRequest(agent_id="1001", from_us=hc.T0, to_us=hc.T0 + hc.HOUR,
                                                      interval_s=3600), timeout=30)
    (row,) = calls.rows
    assert (row.handled, row.offers, row.missed, row.talk_s, row.hold_s, row.wrap_up_s) == (3, 4, 1, 210.0, 10.0, 20.0)
    assert row.aht_s == pytest.approx(230 / 3)

    ivr = stub.GetIvrReport(rp.IvrReportRequest(from_us=hc.T0, to_us=hc.T0 + hc.HOUR, flow="main"), timeout=30)
    assert [(n.node, n.visits, n.hangups) for n in ivr.nodes] == [
        ("goodbye", 1, 0), ("greeting", 5, 1), ("menu", 4, 1), ("queue", 1, 0)]
    (flow,) = ivr.flows
    assert (flow.flow, flow.calls, flow.contained, flow.abandoned, flow.queued) == ("main", 5, 1, 2, 1)
    assert flow.containment_rate == pytest.approx(0.2)


def test_queue_stats_today_over_grpc(stub):
    # The clock says 11:00: today so far is every sales call of the day (a0 at 08:59:50 and a9 at 10:00 too):
    # offered 12 + 1 + a0 + a9 = 15, short 2; within 20 s: a1 a2 a5 a0 a9 = 5.
    stats = stub.GetQueueStats(rp.QueueStatsRequest(queue="sales"), timeout=30)
    assert (stats.queue, stats.offered, stats.answered, stats.abandoned) == ("sales", 15, 7, 4)
    assert stats.service_level == pytest.approx(5 / 13)
    assert stats.abandon_rate == pytest.approx(2 / 13)
    assert stats.asa_s == pytest.approx((355 + 5 + 8 + 1) / 7)
    nobody = stub.GetQueueStats(rp.QueueStatsRequest(queue="nobody"), timeout=30)
    assert (nobody.offered, nobody.service_level) == (0, 0.0)


def test_realtime_over_grpc(store):
    _load_realtime(store)
    server, channel = serve(store, rt.NOW)
    try:
        stub = reporting_pb2_grpc.ReportingStub(channel)
        view = stub.GetRealtime(rp.RealtimeRequest(), timeout=30)
        assert (view.as_of_us, view.newest_event_us) == (rt.NOW, rt.NOW - 5 * S)
        queues = {q.queue: q for q in view.queues}
        sales = queues["sales"]
        assert (sales.calls_waiting, sales.longest_wait_s, dict(sales.agents_by_state)) == (
            2, 120.0, {"READY": 1, "RESERVED": 1, "NOT_READY": 1})
        assert (sales.offered_today, sales.answered_today, sales.abandoned_today, sales.asa_today_s) == (4, 2, 2, 20.0)
        assert sales.service_level_today == pytest.approx(1 / 3)
        assert [(a.agent_id, a.state) for a in view.agents] == [
            ("1001", "READY"), ("1002", "RESERVED"), ("1003", "NOT_READY"), ("1005", "WRAP_UP")]
        ringing = view.agents[1]
        assert (ringing.queue, ringing.call_uuid, ringing.time_in_state_s) == ("sales", "w2", 10.0)

        one = stub.GetRealtime(rp.RealtimeRequest(queues=["support"], agents=["1005"]), timeout=30)
        assert [(q.queue, q.calls_waiting, q.longest_wait_s) for q in one.queues] == [("support", 2, 700.0)]
        assert [a.agent_id for a in one.agents] == ["1005"]
    finally:
        channel.close()
        server.stop()


def _load_realtime(store):
    """test_realtime's events, ingested once and rolled up."""
    migrations.up(store)
    messages = ([(topics.QUEUE_EVENTS, m) for m in rt.QUEUE_EVENTS]
                + [(topics.AGENT_EVENTS, m) for m in rt.AGENT_EVENTS] + [(topics.CDRS, m) for m in rt.CDRS])
    Ingester(store, after_insert=rollup.Refresher(store).after_batch)(
        [Record(t, 0, i, "k", m, 0) for i, (t, m) in enumerate(messages)])


T0, HOUR = hc.T0, hc.HOUR


@pytest.mark.parametrize("rpc, request_message, field", [
    ("GetIntervalReport", rp.IntervalReportRequest(from_us=T0 + S, to_us=T0 + HOUR), "from_us"),
    ("GetIntervalReport", rp.IntervalReportRequest(from_us=T0, to_us=T0 + HOUR + 60 * S), "to_us"),
    ("GetIntervalReport", rp.IntervalReportRequest(from_us=T0, to_us=T0), "to_us"),
    ("GetIntervalReport", rp.IntervalReportRequest(from_us=T0, to_us=T0 + HOUR, interval_s=600), "interval_s"),
    ("GetIntervalReport", rp.IntervalReportRequest(from_us=T0, to_us=T0 + HOUR, service_level_threshold_s=21),
     "service_level_threshold_s"),
    ("GetIntervalReport", rp.IntervalReportRequest(from_us=T0, to_us=T0 + HOUR, short_abandon_s=-2),
     "short_abandon_s"),
    ("GetIntervalReport", rp.IntervalReportRequest(from_us=T0, to_us=T0 + HOUR, group_by=9), "group_by"),
    ("GetQueueStats", rp.QueueStatsRequest(), "queue"),
    ("GetQueueStats", rp.QueueStatsRequest(queue="sales", service_level_threshold_s=301),
     "service_level_threshold_s"),
    ("GetRealtime", rp.RealtimeRequest(service_level_threshold_s=3), "service_level_threshold_s"),
    ("GetRealtime", rp.RealtimeRequest(day_start_us=T0 + S), "day_start_us"),
    ("GetAgentReport", rp.AgentReportRequest(from_us=T0, to_us=T0 + HOUR, interval_s=100), "interval_s"),
    ("GetAgentReport", rp.AgentReportRequest(from_us=T0, to_us=T0 + S), "to_us"),
    ("GetIvrReport", rp.IvrReportRequest(from_us=T0 - 1, to_us=T0 + HOUR), "from_us"),
])
def test_invalid_requests_name_the_field(bare_stub, rpc, request_message, field):
    with pytest.raises(grpc.RpcError) as caught:
        getattr(bare_stub, rpc)(request_message, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(field + ":")
