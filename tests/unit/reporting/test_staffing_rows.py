"""Staffing's pure parts: request checks, the report's rows, AHT, patience,
shrinkage, and the table the CLI prints. No ClickHouse here (see
tests/reporting/test_staffing.py for the SQL on both engines)."""
import math

import pytest

from hotline.common.errors import InvalidArgument
from hotline.common.settings import ReportingSettings
from hotline.proto.reporting.v1 import reporting_pb2 as rp
from hotline.reporting import erlang, rollup, staffing
from hotline.reporting.staffing import History

S = 1_000_000
MIDNIGHT = 1_709_251_200 * S          # 2024-03-01 00:00 UTC
DAY = 86_400 * S
SETTINGS = ReportingSettings(service_level_threshold_s=20)


def request(**fields):
    base = dict(from_us=MIDNIGHT, to_us=MIDNIGHT + DAY)
    base.update(fields)
    return rp.StaffingRequest(**base)


def test_defaults_fill_in():
    q = staffing.validate_request(request(queue="sales"), SETTINGS)
    assert q == staffing.StaffingQuery("sales", MIDNIGHT, MIDNIGHT + DAY, 1800, 0.8, 20, 0.85, 0.0, 0.0,
                                       rp.ERLANG_C, False)
    q = staffing.validate_request(request(interval_s=900, target_service_level=0.9, service_level_threshold_s=30,
                                          max_occupancy=1, shrinkage=0.3, patience_s=90, model=rp.ERLANG_A,
                                          by_time_of_day=True), SETTINGS)
    assert (q.interval_s, q.target_service_level, q.threshold_s, q.max_occupancy, q.shrinkage, q.patience_s,
            q.model, q.by_time_of_day) == (900, 0.9, 30, 1.0, 0.3, 90.0, rp.ERLANG_A, True)


@pytest.mark.parametrize("fields, field", [
    (dict(queue="q" * 257), "queue"),
    (dict(from_us=-DAY), "from_us"),
    (dict(to_us=MIDNIGHT), "to_us"),
    (dict(from_us=MIDNIGHT + S), "from_us"),                        # not on a 15-minute boundary
    (dict(to_us=MIDNIGHT + DAY - 60 * S), "to_us"),
    (dict(interval_s=600), "interval_s"),                           # not a multiple of 900
    (dict(interval_s=-1800), "interval_s"),
    (dict(to_us=MIDNIGHT + 2700 * S, interval_s=1800), "interval_s"),  # 45 minutes: not whole intervals
    (dict(to_us=MIDNIGHT + 5 * DAY, interval_s=36_000, by_time_of_day=True), "interval_s"),  # does not divide a day
    (dict(to_us=MIDNIGHT + 40 * DAY, interval_s=900), "interval_s"),  # 3840 rows
    (dict(target_service_level=1.0), "target_service_level"),
    (dict(target_service_level=-0.2), "target_service_level"),
    (dict(target_service_level=math.nan), "target_service_level"),
    (dict(service_level_threshold_s=-5), "service_level_threshold_s"),
    (dict(service_level_threshold_s=3601), "service_level_threshold_s"),
    (dict(max_occupancy=1.2), "max_occupancy"),
    (dict(max_occupancy=-0.5), "max_occupancy"),
    (dict(shrinkage=1.0), "shrinkage"),
    (dict(shrinkage=-0.1), "shrinkage"),
    (dict(patience_s=-30), "patience_s"),
    (dict(patience_s=math.inf), "patience_s"),
    (dict(patience_s=math.nan), "patience_s"),
    (dict(model=7), "model"),
])
def test_bad_requests_name_the_field(fields, field):
    with pytest.raises(InvalidArgument) as caught:
        staffing.validate_request(request(**fields), SETTINGS)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")


def test_by_time_of_day_accepts_long_ranges():
    q = staffing.validate_request(request(to_us=MIDNIGHT + 90 * DAY, interval_s=900, by_time_of_day=True), SETTINGS)
    assert len(staffing.slots(q)) == 96


def test_slots_per_interval_and_by_time_of_day():
    q = staffing.validate_request(request(to_us=MIDNIGHT + 2 * 3600 * S, interval_s=1800), SETTINGS)
    assert staffing.slots(q) == [staffing.Slot(k, MIDNIGHT + k * 1800 * S, 1) for k in range(4)]
    # A day and a half by the hour: the first 12 hours of the day occur twice, the rest once.
    q = staffing.validate_request(request(to_us=MIDNIGHT + DAY + DAY // 2, interval_s=3600, by_time_of_day=True),
                                  SETTINGS)
    got = staffing.slots(q)
    assert [s.key for s in got] == list(range(24))
    assert [s.occurrences for s in got] == [2] * 12 + [1] * 12
    assert got[9].start_us == 9 * 3600 * S
    # Less than a day: only the hours covered are rows.
    q = staffing.validate_request(request(to_us=MIDNIGHT + 3 * 3600 * S, interval_s=3600, by_time_of_day=True),
                                  SETTINGS)
    assert [(s.key, s.occurrences) for s in staffing.slots(q)] == [(0, 1), (1, 1), (2, 1)]


def test_history_reads_only_current_rollup_rows_and_sums_them():
    q = staffing.validate_request(request(queue="sales"), SETTINGS)
    for text, table in ((staffing.call_history_sql(q), "call_stats_15m"),
                        (staffing.agent_history_sql(q), "agent_time_15m")):
        assert rollup.current_rows(table, MIDNIGHT, MIDNIGHT + DAY) in text      # each bucket's newest marker
        assert "argMax" not in text                                              # no per-key deduplication


def test_patience_estimate_is_abandons_over_waiting_time():
    # 10 abandons; answered callers waited 1000 s in all, abandoned ones 500 s: 150 s of waiting per abandon.
    assert staffing.estimate_patience_s(10, 1000 * S, 500 * S) == 150.0
    assert staffing.estimate_patience_s(0, 1000 * S, 0) == math.inf
    assert staffing.estimate_patience_s(1, 10 * staffing.MAX_PATIENCE_S * S, 0) == math.inf


def test_shrinkage_rounds_up_without_float_noise():
    assert staffing.scheduled(7, 0.3) == 10             # 7 / 0.7 is 10.000000000000002 in floating point
    assert staffing.scheduled(7, 0.0) == 7
    assert staffing.scheduled(14, 0.25) == 19           # 18.67
    assert staffing.scheduled(0, 0.5) == 0


def test_rows_from_history_per_interval():
    q = staffing.validate_request(request(to_us=MIDNIGHT + 3 * 1800 * S, shrinkage=0.3), SETTINGS)
    history = {
        # 100 calls of 150 s talk + 30 s wrap-up in 30 minutes: 10 Erlangs; 2.5 agents logged in on average.
        0: History(offered=100, handled=100, talk_us=100 * 150 * S, wrap_up_us=100 * 30 * S,
                   logged_in_us=4500 * S),
        # 20 calls of which none was handled: the range's AHT (180 s) stands in.
        1: History(offered=20, abandoned=20, abandoned_wait_us=20 * 40 * S),
    }
    rows = staffing.staffing_rows(q, history, 0.0)
    assert [r.interval_start_us for r in rows] == [MIDNIGHT, MIDNIGHT + 1800 * S, MIDNIGHT + 3600 * S]
    first, second, empty = rows
    assert (first.offered, first.aht_s, first.traffic_erlangs) == (100.0, 180.0, 10.0)
    assert (first.agents_needed, round(first.service_level, 4), round(first.asa_s, 2)) == (14, 0.8884, 7.84)
    assert first.occupancy == pytest.approx(10 / 14)
    assert (first.agents_scheduled, first.agents_staffed, first.abandon_rate) == (20, 2.5, 0.0)
    assert (second.offered, second.aht_s, second.traffic_erlangs) == (20.0, 180.0, 2.0)
    assert second.agents_needed == erlang.erlang_c_agents(20, 180, 1800, target_service_level=0.8,
                                                          threshold_s=20, max_occupancy=0.85).agents
    assert (empty.offered, empty.agents_needed, empty.service_level, empty.agents_staffed) == (0.0, 0, 0.0, 0.0)


def test_rows_by_time_of_day_average_over_the_days():
    q = staffing.validate_request(request(to_us=MIDNIGHT + 2 * DAY, interval_s=1800, by_time_of_day=True,
                                          model=rp.ERLANG_A), SETTINGS)
    history = {18: History(offered=150, handled=150, talk_us=150 * 180 * S, logged_in_us=2 * 1800 * S * 12)}
    rows = staffing.staffing_rows(q, history, 150.0)
    assert len(rows) == 48
    nine = rows[18]
    assert nine.interval_start_us == 9 * 3600 * S
    assert (nine.offered, nine.aht_s, nine.traffic_erlangs, nine.agents_staffed) == (75.0, 180.0, 7.5, 12.0)
    expected = erlang.erlang_a_agents(75, 180, 1800, target_service_level=0.8, threshold_s=20, patience_s=150.0,
                                      max_occupancy=0.85)
    assert (nine.agents_needed, nine.service_level, nine.abandon_rate) == (
        expected.agents, expected.service_level, expected.abandon_rate)
    assert nine.abandon_rate > 0


def test_patience_for_prefers_the_request():
    hist = [History(abandoned=10, answered_wait_us=1000 * S, abandoned_wait_us=500 * S),
            History(abandoned=5, answered_wait_us=500 * S, abandoned_wait_us=250 * S)]
    q = staffing.validate_request(request(model=rp.ERLANG_A), SETTINGS)
    assert staffing.patience_for(q, hist) == 150.0               # pooled over the range: 2250 s / 15
    q = staffing.validate_request(request(model=rp.ERLANG_A, patience_s=45), SETTINGS)
    assert staffing.patience_for(q, hist) == 45.0


def test_the_table_reads_well():
    report = rp.StaffingReport(model=rp.ERLANG_A, patience_s=150.0, rows=[
        rp.StaffingRow(interval_start_us=MIDNIGHT + 9 * 3600 * S, offered=100, aht_s=180, traffic_erlangs=10,
                       agents_needed=12, service_level=0.8256, asa_s=6.33, occupancy=0.782, abandon_rate=0.0616,
                       agents_scheduled=15, agents_staffed=11.5)])
    text = staffing.format_report(report, by_time_of_day=False)
    lines = text.splitlines()
    assert lines[0] == "model: Erlang A, mean patience 150.0 s"
    assert lines[1].split() == ["interval", "offered", "AHT", "s", "Erlangs", "needed", "scheduled", "staffed", "SL",
                                "ASA", "s", "occupancy", "abandon"]
    assert lines[2].split() == ["2024-03-01", "09:00", "100.0", "180.0", "10.00", "12", "15", "11.5", "82.6%",
                                "6.3", "78.2%", "6.2%"]
    tod = staffing.format_report(rp.StaffingReport(rows=[rp.StaffingRow(interval_start_us=9 * 3600 * S)]),
                                 by_time_of_day=True)
    assert tod.splitlines()[0] == "model: Erlang C (callers never abandon)"
    assert tod.splitlines()[2].split()[0] == "09:00"
    none = rp.StaffingReport(model=rp.ERLANG_A, patience_s=math.inf)
    assert "none abandoned" in staffing.format_report(none, by_time_of_day=False)
