"""Staffing read from hand-made roll-up rows on both engines (ClickHouse 18.16
and chdb), and GetStaffing over real gRPC on loopback.

The roll-up rows are written the way a recompute writes them: rows under a
version, then a marker in rollup_versions that makes that version its
bucket's current rows. They include a superseded recompute of a bucket (an
older version, marked before the newer one), a recompute whose marker is not
written yet, a bucket with no marker at all and a key only the superseded
recompute had: only each bucket's newest marked version may count.

The unmarked rows use keys no marked row of their bucket has: the tables are
ReplacingMergeTree(version), so a merge (on chdb already the insert, with
optimize_on_insert) may replace a marked row by a newer unmarked row of the
same key, which is not what these tests are about."""
import contextlib
import math

import grpc
import pytest

from hotline.common.grpc import GrpcServer
from hotline.common.settings import ReportingSettings
from hotline.proto.reporting.v1 import reporting_pb2 as rp, reporting_pb2_grpc
from hotline.reporting import erlang, migrations, rollup, staffing
from hotline.reporting.api import ReportingServicer

S = 1_000_000
MIDNIGHT = 1_709_251_200 * S          # 2024-03-01 00:00 UTC
DAY = 86_400 * S
NINE = MIDNIGHT + 9 * 3600 * S
Q15 = 900 * S
HALF_PAST = NINE + 2 * Q15           # 09:30: its rows have no call_stats_15m marker
SETTINGS = ReportingSettings(service_level_threshold_s=20)

CALL_COLUMNS = ("dimension", "member", "bucket_us", "offered", "answered", "handled", "abandoned",
                "answered_wait_us", "abandoned_wait_us", "talk_us", "wrap_up_us", "version")
AGENT_COLUMNS = ("agent_id", "bucket_us", "logged_in_us", "ready_us", "version")


def calls(member, bucket, offered, handled, abandoned=0, answered_wait_s=0, abandoned_wait_s=0, version=2,
          dimension="queue"):
    """A call_stats_15m row: every handled call talked 150 s and wrapped up 30 s (AHT 180 s)."""
    return (dimension, member, bucket, offered, handled, handled, abandoned, answered_wait_s * S,
            abandoned_wait_s * S, handled * 150 * S, handled * 30 * S, version)


HISTORY = [
    # Day 1, 09:00-09:30, sales: 60 + 40 calls, 10 abandons (answered waited 1000 s, abandoned 500 s).
    calls("sales", NINE, 999, 999, abandoned=99, version=1),      # superseded: version 2 is marked after it
    calls("moved", NINE, 70, 70, version=1),                      # a queue only version 1 had (a corrected CDR)
    calls("sales", NINE, 60, 50, abandoned=10, answered_wait_s=1000, abandoned_wait_s=500),
    calls("sales", NINE + Q15, 40, 40),
    calls("late", NINE + Q15, 700, 700, abandoned=70, version=3),   # a recompute whose marker is not written yet
    calls("sales", HALF_PAST, 300, 300, abandoned=30),            # a bucket without a marker
    # Day 2, 09:00: 50 calls, 5 abandons (500 s and 250 s of waiting).
    calls("sales", DAY + NINE, 50, 45, abandoned=5, answered_wait_s=500, abandoned_wait_s=250),
    # Support, day 1 09:00: 30 calls; other dimensions must not be read as queues.
    calls("support", NINE, 30, 30),
    calls("sales", NINE, 500, 500, dimension="skill"),
    calls("1001", NINE, 500, 500, dimension="agent"),
    # Outside the range (the day before).
    calls("sales", NINE - DAY, 400, 400),
]
# (bucket, version) markers in the order the recomputes wrote them.
CALL_MARKERS = [(NINE, 1), (NINE, 2), (NINE + Q15, 2), (DAY + NINE, 2), (NINE - DAY, 2)]

AGENT_TIME = [
    # a1 and a2 serve sales and are logged in all of 09:00-09:30 on day 1; a3 (support) for 450 s.
    ("a1", NINE, 700 * S, 0, 1),                                  # superseded version
    ("a1", NINE, 900 * S, 300 * S, 2),
    ("a1", NINE + Q15, 900 * S, 0, 2),
    ("a3", NINE + Q15, 100 * S, 0, 3),                            # not marked yet
    ("a2", NINE, 900 * S, 0, 2),
    ("a2", NINE + Q15, 900 * S, 0, 2),
    ("a3", NINE, 450 * S, 0, 2),
    ("a1", HALF_PAST, 900 * S, 0, 2),                             # 09:30: marked for agent_time_15m only
    ("a2", HALF_PAST + Q15, 900 * S, 0, 2),                       # 09:45: no marker at all
]
AGENT_MARKERS = [(NINE, 1), (NINE, 2), (NINE + Q15, 2), (HALF_PAST, 2)]

AGENT_STATES = [
    # The queues each agent serves, as their state events say.
    ("as:a1", "a1", "READY", NINE, ["sales"], ""),
    ("as:a2", "a2", "ON_CALL", NINE + 60 * S, [], "sales"),       # carried a sales call
    ("as:a3", "a3", "READY", NINE, ["support"], ""),
]


def mark(store, table, markers):
    """The markers one recompute at a time, as rollup.recompute writes them."""
    for bucket, version in markers:
        rollup.mark_current(store, table, [bucket], version)


@pytest.fixture
def history(store):
    migrations.up(store)
    store.insert("call_stats_15m", CALL_COLUMNS, HISTORY)
    store.insert("agent_time_15m", AGENT_COLUMNS, AGENT_TIME)
    mark(store, "call_stats_15m", CALL_MARKERS)
    mark(store, "agent_time_15m", AGENT_MARKERS)
    store.insert("agent_states", ("event_id", "agent_id", "state", "timestamp_us", "queues", "queue", "ingested_us"),
                 [row + (1,) for row in AGENT_STATES])
    return store


def query(**fields):
    base = dict(from_us=MIDNIGHT, to_us=MIDNIGHT + 2 * DAY)
    base.update(fields)
    return staffing.validate_request(rp.StaffingRequest(**base), SETTINGS)


def row_at(report, start_us):
    (found,) = [r for r in report.rows if r.interval_start_us == start_us]
    return found


def test_per_interval_from_the_rollups(history):
    report = staffing.staffing_report(history, query(queue="sales"))
    assert (report.model, report.patience_s) == (rp.ERLANG_C, 0.0)
    assert len(report.rows) == 96                                  # every half hour of the two days
    nine = row_at(report, NINE)
    # 100 calls of 180 s in 30 minutes: 10 Erlangs, 14 agents for 80 % in 20 s (the textbook example).
    assert (nine.offered, nine.aht_s, nine.traffic_erlangs, nine.agents_needed) == (100.0, 180.0, 10.0, 14)
    assert round(nine.service_level, 4) == 0.8884
    assert nine.agents_staffed == 2.0                              # a1 and a2; a3 serves support only
    day2 = row_at(report, DAY + NINE)
    assert (day2.offered, day2.aht_s, day2.traffic_erlangs, day2.agents_staffed) == (50.0, 180.0, 5.0, 0.0)
    assert day2.agents_needed == erlang.erlang_c_agents(50, 180, 1800, target_service_level=0.8, threshold_s=20,
                                                        max_occupancy=0.85).agents
    quiet = row_at(report, MIDNIGHT)
    assert (quiet.offered, quiet.agents_needed, quiet.agents_staffed) == (0.0, 0, 0.0)


def test_every_queue_together(history):
    nine = row_at(staffing.staffing_report(history, query()), NINE)
    assert (nine.offered, nine.aht_s, nine.traffic_erlangs) == (130.0, 180.0, 13.0)
    assert nine.agents_staffed == 2.25                             # (900 + 900 + 900 + 900 + 450) s / 1800 s


def test_by_time_of_day_with_erlang_a_and_the_estimated_patience(history):
    q = query(queue="sales", by_time_of_day=True, model=rp.ERLANG_A, shrinkage=0.25)
    report = staffing.staffing_report(history, q)
    # Patience: 15 abandons over 1000 + 500 + 500 + 250 s of waiting = 150 s.
    assert (report.model, report.patience_s) == (rp.ERLANG_A, 150.0)
    assert len(report.rows) == 48
    nine = row_at(report, 9 * 3600 * S)
    # (100 + 50) calls over 2 days: 75 a day at 09:00-09:30, AHT (95 × 180 s) / 95 handled.
    assert (nine.offered, nine.aht_s, nine.traffic_erlangs, nine.agents_staffed) == (75.0, 180.0, 7.5, 1.0)
    expected = erlang.erlang_a_agents(75, 180, 1800, target_service_level=0.8, threshold_s=20, patience_s=150.0,
                                      max_occupancy=0.85)
    assert (nine.agents_needed, nine.service_level, nine.abandon_rate) == (
        expected.agents, expected.service_level, expected.abandon_rate)
    assert nine.agents_scheduled == staffing.scheduled(expected.agents, 0.25) > nine.agents_needed
    # A patience given in the request wins over the estimate.
    given = staffing.staffing_report(history, query(queue="sales", model=rp.ERLANG_A, patience_s=30))
    assert given.patience_s == 30.0


def test_no_abandons_means_erlang_a_is_erlang_c(history):
    report = staffing.staffing_report(history, query(queue="support", model=rp.ERLANG_A))
    assert math.isinf(report.patience_s)
    c = staffing.staffing_report(history, query(queue="support"))
    assert [r.agents_needed for r in report.rows] == [r.agents_needed for r in c.rows]
    assert row_at(report, NINE).agents_needed == erlang.erlang_c_agents(
        30, 180, 1800, target_service_level=0.8, threshold_s=20, max_occupancy=0.85).agents


def test_a_queue_with_no_history_is_all_zeros(history):
    report = staffing.staffing_report(history, query(queue="nobody 'here'"))
    assert {(r.offered, r.agents_needed, r.agents_staffed) for r in report.rows} == {(0.0, 0, 0.0)}


def test_only_each_buckets_newest_marked_version_counts(history):
    report = staffing.staffing_report(history, query(queue="sales", interval_s=900))
    # 09:00: version 2 only (not the superseded 999 calls of version 1); 09:30: its call rows have no
    # call_stats_15m marker.
    assert [row_at(report, NINE + k * Q15).offered for k in range(3)] == [60.0, 40.0, 0.0]
    # Agents: 09:00 counts a1's version 2 (900 s, not also the 700 s of version 1); 09:30 is marked for
    # agent_time_15m (a1 counts); 09:45 has no marker (a2 does not).
    assert [row_at(report, NINE + k * Q15).agents_staffed for k in range(4)] == [2.0, 2.0, 1.0, 0.0]
    everything = staffing.staffing_report(history, query(interval_s=900))
    # A queue only the superseded recompute had ("moved") is gone with it; one only the unmarked
    # recompute has ("late") is not there yet; a3's unmarked 100 s at 09:15 neither.
    assert row_at(everything, NINE).offered == 90.0                # sales 60 + support 30
    nine15 = row_at(everything, NINE + Q15)
    assert (nine15.offered, nine15.agents_staffed) == (40.0, 2.0)
    for queue in ("moved", "late"):
        assert {r.offered for r in staffing.staffing_report(history, query(queue=queue)).rows} == {0.0}


def test_a_recompute_counts_once_its_marker_is_written(history):
    # Bucket 09:00 recomputed under version 4: sales now has 80 calls, a new queue 25, support none.
    history.insert("call_stats_15m", CALL_COLUMNS, [calls("sales", NINE, 80, 80, version=4),
                                                    calls("new", NINE, 25, 25, version=4)])
    assert row_at(staffing.staffing_report(history, query(queue="new")), NINE).offered == 0.0
    rollup.mark_current(history, "call_stats_15m", [NINE], 4)
    assert row_at(staffing.staffing_report(history, query(queue="new")), NINE).offered == 25.0
    assert row_at(staffing.staffing_report(history, query(queue="sales")), NINE).offered == 120.0  # 80 + 40
    assert row_at(staffing.staffing_report(history, query()), NINE).offered == 145.0              # support gone
    # The newest version is current, not the marker written last.
    rollup.mark_current(history, "call_stats_15m", [NINE], 1)
    rollup.mark_current(history, "agent_time_15m", [NINE], 1)
    nine = row_at(staffing.staffing_report(history, query(queue="sales")), NINE)
    assert (nine.offered, nine.agents_staffed) == (120.0, 2.0)


@contextlib.contextmanager
def served(store):
    server = GrpcServer("127.0.0.1:0")
    server.add(reporting_pb2_grpc.add_ReportingServicer_to_server, ReportingServicer(store, SETTINGS), "reporting")
    port = server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield reporting_pb2_grpc.ReportingStub(channel)
    finally:
        channel.close()
        server.stop()


def test_get_staffing_over_grpc(history):
    with served(history) as stub:
        report = stub.GetStaffing(rp.StaffingRequest(queue="sales", from_us=MIDNIGHT, to_us=MIDNIGHT + 2 * DAY,
                                                     model=rp.ERLANG_A), timeout=30)
        assert report.patience_s == 150.0
        assert row_at(report, NINE).traffic_erlangs == 10.0
        for fields, field in ((dict(from_us=MIDNIGHT, to_us=MIDNIGHT + S), "to_us"),
                              (dict(from_us=MIDNIGHT, to_us=MIDNIGHT + DAY, target_service_level=1.5),
                               "target_service_level")):
            with pytest.raises(grpc.RpcError) as caught:
                stub.GetStaffing(rp.StaffingRequest(**fields), timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert caught.value.details().startswith(field + ":")
