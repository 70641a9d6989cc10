"""The reporting service end to end: hand-made events published to the real
Kafka broker, ingested into ClickHouse (the real 18.16 server, and chdb),
and read back over real gRPC on loopback as hand-computed figures."""
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hotline.common import topics
from hotline.common.settings import GrpcEndpoints, ReportingSettings, Settings
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.reporting.v1 import reporting_pb2 as rp, reporting_pb2_grpc
from hotline.reporting import migrations
from hotline.reporting.app import SERVICE_NAME, ReportingService

pytestmark = pytest.mark.kafka

S = 1_000_000
T0 = 1_709_283_600 * S            # 2024-03-01 09:00:00 UTC
SALES = "sales 'east'"            # a quote in a queue name goes all the way through
SUPPORT = "support"


def cdr(uuid, queue, disposition, enqueue_s, wait_s=0, talk_s=0, hold_s=0, agent="1001"):
    enq = T0 + enqueue_s * S
    c = ev.Cdr(event_id=f"cdr:{uuid}", call_uuid=uuid, node_id="fs1", ani="+4930123", dnis="100",
               queue=queue, disposition=disposition, start_us=enq - 30 * S, answer_us=enq - 29 * S,
               enqueue_us=enq if queue else 0, hold_us=hold_s * S, offers=1)
    if disposition == ev.DISPOSITION_ANSWERED:
        c.agent_id = agent
        c.connect_us = enq + wait_s * S
        c.queue_wait_us = wait_s * S
        c.talk_us = talk_s * S
        c.end_us = c.connect_us + c.talk_us
    else:
        c.queue_wait_us = wait_s * S if queue else 0
        c.end_us = enq + wait_s * S
    return c


def wrap_up(c, wrap_s, agent="1001"):
    """The two agent events around a wrap-up: entering it (ignored) and leaving it (counted)."""
    enter = ev.AgentStateEvent(event_id=f"as:{c.call_uuid}:wrap", agent_id=agent, state=ev.WRAP_UP,
                               previous_state=ev.ON_CALL, timestamp_us=c.end_us,
                               previous_state_since_us=c.connect_us, call_uuid=c.call_uuid, queue=c.queue)
    leave = ev.AgentStateEvent(event_id=f"as:{c.call_uuid}:ready", agent_id=agent, state=ev.READY,
                               previous_state=ev.WRAP_UP, timestamp_us=c.end_us + wrap_s * S,
                               previous_state_since_us=c.end_us, call_uuid=c.call_uuid, queue=c.queue)
    return [enter, leave]


def scenario():
    """(topic, key, message) for the hand-computed report (see the expectations below)."""
    calls = {
        "c1": cdr("c1", SALES, ev.DISPOSITION_ANSWERED, 10, wait_s=5, talk_s=100, hold_s=10),
        "c2": cdr("c2", SALES, ev.DISPOSITION_ANSWERED, 100, wait_s=30, talk_s=200),
        "c3": cdr("c3", SALES, ev.DISPOSITION_ABANDONED, 200, wait_s=12),
        "c5": cdr("c5", SALES, ev.DISPOSITION_ENDED_IN_IVR, 50),            # not offered
        "c0": cdr("c0", "", ev.DISPOSITION_ENDED_IN_IVR, 60),               # never queued
        "c4": cdr("c4", SALES, ev.DISPOSITION_ANSWERED, 1900, wait_s=20, talk_s=60),
        "s1": cdr("s1", SUPPORT, ev.DISPOSITION_ANSWERED, 300, wait_s=45, talk_s=300, hold_s=30, agent="1002"),
        "s2": cdr("s2", SUPPORT, ev.DISPOSITION_ABANDONED, 400, wait_s=3),          # a short abandon (<= 5 s)
        "c6": cdr("c6", SALES, ev.DISPOSITION_ANSWERED, -10, wait_s=8, talk_s=50),   # before the range
        "c7": cdr("c7", SALES, ev.DISPOSITION_ABANDONED, 3600, wait_s=2),            # at to_us: after it; short
    }
    out = [(topics.CDRS, uuid, c) for uuid, c in calls.items()]
    for uuid, wrap_s, agent in (("c1", 20, "1001"), ("c2", 40, "1001"), ("s1", 15, "1002"), ("c6", 99, "1001")):
        out += [(topics.AGENT_EVENTS, agent, e) for e in wrap_up(calls[uuid], wrap_s, agent)]
    c1 = calls["c1"]
    out += [
        (topics.CALL_EVENTS, "c1", ev.CallEvent(event_id="core:1", node_id="fs1", call_uuid="c1", leg_uuid="c1",
                                                leg=ev.LEG_CALLER, type=ev.CALL_ANSWERED,
                                                timestamp_us=c1.answer_us)),
        (topics.QUEUE_EVENTS, "c1", ev.QueueEvent(event_id="q:c1:1", call_uuid="c1", queue=SALES,
                                                  type=ev.QUEUE_ENQUEUED, timestamp_us=c1.enqueue_us, position=1)),
        (topics.RECORDINGS, "c1", ev.RecordingSaved(event_id="rec:c1", call_uuid="c1", path="/rec/c1.wav",
                                                    channels=2, sample_rate=8000, started_us=c1.connect_us,
                                                    stopped_us=c1.end_us, agent_id="1001", queue=SALES)),
    ]
    return out


def publish(bus, messages):
    for topic, key, message in messages:
        bus.publish(topic, key, message)
    bus.flush()


def wait_for(what, predicate, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def settings_for(ch_settings):
    return Settings(clickhouse=ch_settings, grpc=GrpcEndpoints(reporting="127.0.0.1:0"),
                    reporting=ReportingSettings(service_level_threshold_s=20, batch_size=50, batch_timeout_s=0.1))


@pytest.fixture
def running(reporting_bus, store, ch_settings):
    """A migrated store, a started ReportingService whose clock says 11:00 that day, and a stub."""
    migrations.up(store)
    service = ReportingService(settings_for(ch_settings), reporting_bus, store, check_interval_s=0.2,
                               clock=lambda: (T0 + 2 * 3600 * S) / S)
    service.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}")
    yield service, reporting_pb2_grpc.ReportingStub(channel)
    channel.close()
    service.stop()


def processed(service):
    return service.consumer.processed if service.consumer else 0


def figures(row):
    return (row.queue, row.interval_start_us, row.offered, row.answered, row.abandoned,
            row.answered_within_threshold, round(row.asa_s, 6), round(row.aht_s, 6),
            round(row.service_level, 6), round(row.abandon_rate, 6), row.talk_s, row.hold_s, row.wrap_up_s)


# Service level (abandons counted against) and abandon rate leave short abandons
# (<= 5 s, the default) out of the offered calls: s2 (3 s) in support.
EXPECTED_ROWS = [
    # queue, start, offered, answered, abandoned, within 20 s, ASA, AHT, SL, abandon rate, talk, hold, wrap-up
    (SALES, T0, 3, 2, 1, 1, 17.5, 180.0, round(1 / 3, 6), round(1 / 3, 6), 300.0, 10.0, 60.0),
    (SALES, T0 + 1800 * S, 1, 1, 0, 1, 20.0, 60.0, 1.0, 0.0, 60.0, 0.0, 0.0),
    (SUPPORT, T0, 2, 1, 1, 0, 45.0, 315.0, 0.0, 0.0, 300.0, 30.0, 15.0),
]
EXPECTED_TOTAL = ("", T0, 6, 4, 2, 2, 25.0, 183.75, round(2 / 5, 6), round(1 / 5, 6), 660.0, 40.0, 75.0)


def report(stub, **kw):
    request = dict(from_us=T0, to_us=T0 + 3600 * S)
    request.update(kw)
    return stub.GetIntervalReport(rp.IntervalReportRequest(**request), timeout=30)


def test_interval_report_from_ingested_events_and_replays_change_nothing(running, kafka_bus, store):
    service, stub = running
    messages = scenario()
    publish(kafka_bus, messages)
    wait_for("the first copy to be ingested", lambda: processed(service) >= len(messages))

    got = report(stub, interval_s=1800, service_level_threshold_s=20)
    assert [figures(r) for r in got.rows] == EXPECTED_ROWS
    assert figures(got.total) == EXPECTED_TOTAL

    # The other tables got their rows too.
    for table, count in (("call_events", 1), ("queue_events", 1), ("recordings", 1), ("agent_states", 8)):
        assert store.query(f"SELECT uniqExact(event_id) FROM {table}") == [(count,)]

    # At-least-once: the same messages again must not double any figure.
    publish(kafka_bus, messages)
    wait_for("the replay to be ingested", lambda: processed(service) >= 2 * len(messages))
    again = report(stub, interval_s=1800, service_level_threshold_s=20)
    assert [figures(r) for r in again.rows] == EXPECTED_ROWS
    assert figures(again.total) == EXPECTED_TOTAL

    # One queue (the one with a quote in its name), the default interval (1800 s) and threshold (20 s).
    sales = report(stub, queue=SALES)
    assert [figures(r) for r in sales.rows] == EXPECTED_ROWS[:2]
    assert figures(sales.total) == (SALES, T0, 4, 3, 1, 2, round((5 + 30 + 20) / 3, 6),
                                    round((120 + 240 + 60) / 3, 6), 0.5, 0.25, 360.0, 10.0, 60.0)

    # One hourly interval and a 30 s threshold: c2 (30 s) is now within it.
    hourly = report(stub, interval_s=3600, service_level_threshold_s=30)
    assert [(r.queue, r.interval_start_us, r.offered, r.answered_within_threshold) for r in hourly.rows] == [
        (SALES, T0, 4, 3), (SUPPORT, T0, 2, 0)]

    # Today so far (the clock says 11:00): c6 (08:59:50) and c7 (10:00, a short abandon) count now.
    stats = stub.GetQueueStats(rp.QueueStatsRequest(queue=SALES), timeout=30)
    assert (stats.queue, stats.offered, stats.answered, stats.abandoned) == (SALES, 6, 4, 2)
    assert stats.service_level == pytest.approx(3 / 5)          # c1 5 s, c4 20 s, c6 8 s within 20 s; c7 left out
    assert stats.asa_s == pytest.approx((5 + 30 + 20 + 8) / 4)
    assert stats.abandon_rate == pytest.approx(1 / 5)           # c3 of the 5 offered that were not short abandons
    stats = stub.GetQueueStats(rp.QueueStatsRequest(queue=SALES, service_level_threshold_s=5), timeout=30)
    assert stats.service_level == pytest.approx(1 / 5)
    nobody = stub.GetQueueStats(rp.QueueStatsRequest(queue="nobody"), timeout=30)
    assert (nobody.offered, nobody.service_level, nobody.asa_s) == (0, 0.0, 0.0)


def test_a_malformed_payload_is_dead_lettered_and_ingest_goes_on(running, kafka_bus, store):
    service, stub = running
    kafka_bus.publish_raw(topics.CDRS, b"k", b"garbage")
    after = cdr("after", SUPPORT, ev.DISPOSITION_ANSWERED, 60, wait_s=4, talk_s=30)
    kafka_bus.publish(topics.CDRS, "k", after)           # same key: same partition, after the garbage
    kafka_bus.flush()

    wait_for("the dead letter to be stored",
             lambda: store.query("SELECT count() FROM dead_letters") != [(0,)])
    ((source, payload_hex, key_hex, error, group),) = store.query(
        "SELECT source_topic, payload_hex, key_hex, error, consumer_group FROM dead_letters")
    assert (source, bytes.fromhex(payload_hex), bytes.fromhex(key_hex), group) == ("cdrs", b"garbage", b"k",
                                                                                   "reporting")
    assert "hotline.proto.events.v1.Cdr" in error

    wait_for("the CDR after the garbage", lambda: report(stub, queue=SUPPORT).total.offered == 1)
    total = report(stub, queue=SUPPORT).total
    assert (total.offered, total.answered, total.asa_s, total.aht_s) == (1, 1, 4.0, 30.0)


@pytest.mark.parametrize("request_fields, field", [
    (dict(from_us=-1, to_us=T0), "from_us"),
    (dict(from_us=T0, to_us=T0), "to_us"),
    (dict(from_us=T0), "to_us"),
    (dict(from_us=T0, to_us=T0 + S, interval_s=90), "interval_s"),
    (dict(from_us=T0, to_us=T0 + S, interval_s=-1800), "interval_s"),
    (dict(from_us=T0, to_us=T0 + S, service_level_threshold_s=-5), "service_level_threshold_s"),
])
def test_invalid_interval_requests_name_the_field(running, request_fields, field):
    _, stub = running
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetIntervalReport(rp.IntervalReportRequest(**request_fields), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(field + ":")


def test_queue_stats_needs_a_queue(running):
    _, stub = running
    for request in (rp.QueueStatsRequest(), rp.QueueStatsRequest(queue="sales", service_level_threshold_s=-1)):
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetQueueStats(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("service_level_threshold_s:")
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetQueueStats(rp.QueueStatsRequest(), timeout=10)
    assert caught.value.details().startswith("queue:")


def test_not_serving_until_the_schema_is_migrated(reporting_bus, store, ch_settings, caplog):
    service = ReportingService(settings_for(ch_settings), reporting_bus, store, check_interval_s=0.2)
    service.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}")
    health = health_pb2_grpc.HealthStub(channel)
    stub = reporting_pb2_grpc.ReportingStub(channel)

    def status(name):
        return health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status

    try:
        assert status(SERVICE_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert status("") == health_pb2.HealthCheckResponse.NOT_SERVING
        assert service.consumer is None                       # nothing consumed that could not be stored
        assert any("0001_initial" in r.getMessage() and "pending; run `hotline migrate up`" in r.getMessage()
                   for r in caplog.records)
        with pytest.raises(grpc.RpcError) as caught:
            report(stub)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "hotline migrate up" in caught.value.details()

        migrations.up(store)                                  # by the operator, never by the service
        wait_for("SERVING", lambda: status(SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING, 10)
        assert status("") == health_pb2.HealthCheckResponse.SERVING
        assert service.consumer is not None
        assert report(stub).total.offered == 0
    finally:
        channel.close()
        service.stop()
