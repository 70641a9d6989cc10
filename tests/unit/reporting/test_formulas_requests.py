"""Report requests (proto) to checked queries: proto3's 0 means the default,
a bad field raises InvalidArgument naming it (hermetic)."""
import pytest

from hotline.common.errors import InvalidArgument
from hotline.common.settings import ReportingSettings
from hotline.proto.reporting.v1 import reporting_pb2 as rp
from hotline.reporting import api, queries

S = 1_000_000
T0 = 1_709_283_600 * S
SETTINGS = ReportingSettings(service_level_threshold_s=25, short_abandon_s=10)


def req(**kw):
    base = dict(from_us=T0, to_us=T0 + 3600 * S)
    base.update(kw)
    return rp.IntervalReportRequest(**base)


def test_defaults_come_from_the_settings():
    q = api.interval_query(req(), SETTINGS)
    assert q == queries.IntervalQuery(from_us=T0, to_us=T0 + 3600 * S, interval_s=1800, threshold_s=25,
                                      short_abandon_s=10, group_by="queue", member="")
    q = api.interval_query(req(queue="sales", interval_s=3600, service_level_threshold_s=30, short_abandon_s=-1,
                               group_by=rp.GROUP_BY_DNIS), SETTINGS)
    assert (q.member, q.interval_s, q.threshold_s, q.short_abandon_s, q.group_by) == ("sales", 3600, 30, -1, "dnis")
    for value, name in ((rp.GROUP_BY_QUEUE, "queue"), (rp.GROUP_BY_AGENT, "agent"), (rp.GROUP_BY_SKILL, "skill"),
                        (rp.GROUP_BY_NONE, "none")):
        assert api.interval_query(req(group_by=value), SETTINGS).group_by == name
    assert api.interval_query(req(interval_s=3600 * 1), SETTINGS).interval_s == 3600    # custom = the whole range


@pytest.mark.parametrize("kw, field", [
    (dict(from_us=-1), "from_us"),
    (dict(to_us=T0), "to_us"),
    (dict(interval_s=-900), "interval_s"),
    (dict(interval_s=60), "interval_s"),
    (dict(service_level_threshold_s=-1), "service_level_threshold_s"),
    (dict(service_level_threshold_s=22), "service_level_threshold_s"),
    (dict(short_abandon_s=-3), "short_abandon_s"),
    (dict(short_abandon_s=400), "short_abandon_s"),
    (dict(group_by=5), "group_by"),
    (dict(queue="q" * 300), "queue"),
    (dict(from_us=T0 + 60 * S), "from_us"),
    (dict(to_us=T0 + 3601 * S), "to_us"),
])
def test_bad_fields_are_named(kw, field):
    with pytest.raises(InvalidArgument) as caught:
        api.interval_query(req(**kw), SETTINGS)
    assert caught.value.field == field
    assert caught.value.message.startswith(field + ":")


def test_each_field_is_checked_before_the_alignment_of_the_range():
    # An unaligned range and a bad interval: the interval is named (its own check comes first).
    with pytest.raises(InvalidArgument) as caught:
        api.interval_query(req(to_us=T0 + S, interval_s=90), SETTINGS)
    assert caught.value.field == "interval_s"


def test_utc_day_start():
    t = T0 + 123                                  # 2024-03-01 09:00:00.000123 UTC
    assert api.utc_day_start_us(t) == 1_709_251_200 * S


def test_settings_refuse_thresholds_the_histograms_cannot_answer():
    from hotline.common.errors import ConfigError

    assert ReportingSettings(short_abandon_s=-1).short_abandon_s == -1
    for kw in (dict(short_abandon_s=7), dict(service_level_threshold_s=301), dict(service_level_threshold_s=-5)):
        with pytest.raises(ConfigError, match="multiple of 5"):
            ReportingSettings(**kw)
