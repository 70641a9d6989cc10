"""The contact-center formulas on hand-computed examples (hermetic)."""
import pytest
from hypothesis import given, strategies as st

from hotline.common.errors import InvalidArgument
from hotline.reporting import formulas as f, migrations
from hotline.reporting.formulas import AgentCounts, IntervalCounts, IvrNodeCounts

S = 1_000_000
T0 = 1_709_283_600 * S          # 2024-03-01 09:00:00 UTC, on a bucket edge


def test_the_constants_match_the_schema():
    assert (f.BUCKET_S, f.HIST_SLOTS, f.HIST_STEP_S) == (migrations.BUCKET_S, migrations.HIST_SLOTS,
                                                        migrations.HIST_STEP_S)
    assert f.MAX_THRESHOLD_S == 300


def test_buckets():
    assert f.bucket_us(T0) == T0
    assert f.bucket_us(T0 + 899 * S + 999_999) == T0
    assert f.bucket_us(T0 + 900 * S) == T0 + 900 * S
    assert f.buckets_between(T0 - S, T0 + S) == [T0 - 900 * S, T0]
    assert f.buckets_between(T0, T0 + 900 * S) == [T0]                 # half-open: the edge is not in it
    assert f.buckets_between(T0 + 10 * S, T0 + 10 * S) == []
    assert len(f.buckets_between(T0, T0 + 86_400 * S)) == 96


@pytest.mark.parametrize("wait_s, slot", [
    (0, 0), (0.000001, 1), (5, 1), (5.000001, 2), (20, 4), (25, 5), (299.5, 60), (300, 60), (300.000001, 61),
    (3600, 61), (-1, 0)])
def test_wait_slots(wait_s, slot):
    assert f.wait_slot(round(wait_s * S)) == slot


def test_within_sums_the_leading_slots():
    hist = [1, 2, 3] + [0] * 58 + [7]
    assert f.within(hist, 0) == 1                 # waits of exactly 0
    assert f.within(hist, 5) == 3
    assert f.within(hist, 10) == 6
    assert f.within(hist, 300) == 6               # slot 61 (over 300 s) is never within
    assert f.within(hist, -1) == 0                # no threshold (no short abandons)
    assert (f.slots_upto(20), f.slots_upto(0), f.slots_upto(-1)) == (5, 1, 0)


@given(st.lists(st.integers(0, 400 * S), max_size=40), st.integers(0, 60).map(lambda k: 5 * k))
def test_the_histogram_answers_every_threshold_exactly(waits, threshold_s):
    hist = [0] * f.HIST_SLOTS
    for wait in waits:
        hist[f.wait_slot(wait)] += 1
    assert f.within(hist, threshold_s) == sum(1 for w in waits if w <= threshold_s * S)


def counts(**kw):
    return IntervalCounts(**kw)


def test_the_three_service_level_modes_and_the_abandon_rate():
    # 12 offered, 2 short abandons (offered' 10), 2 answered within T, 1 abandon after the short
    # threshold and within T, 4 abandons in all.
    c = f.interval_counts(answered_upto_t=2, abandoned_upto_t=3, abandoned_upto_short=2, offered=12, answered=4,
                          abandoned=4)
    assert (c.short_abandoned, c.answered_within, c.abandoned_within) == (2, 2, 1)
    assert f.sl_offered(c) == 10
    assert f.service_level_abandons_ignored(c) == pytest.approx(2 / 9)     # 2 / (10 - 1)
    assert f.service_level_abandons_against(c) == pytest.approx(2 / 10)
    assert f.service_level_abandons_for(c) == pytest.approx(3 / 10)        # (2 + 1) / 10
    assert f.abandon_rate(c) == pytest.approx(2 / 10)                      # (4 - 2) / (12 - 2)
    # A short threshold above T: no abandon counts within T after the short ones.
    c = f.interval_counts(answered_upto_t=2, abandoned_upto_t=1, abandoned_upto_short=3, offered=12, abandoned=4)
    assert c.abandoned_within == 0


def test_ratios_and_averages():
    assert f.asa_s(35 * S, 2) == 17.5
    assert f.aht_s(300 * S, 60 * S, 2) == 180.0        # (talk incl. hold + wrap-up) / handled
    # Nothing to divide by: 0.0, not an error, in every figure.
    empty = f.interval_figures("q", T0, IntervalCounts())
    assert (empty.asa_s, empty.aht_s, empty.service_level, empty.service_level_abandons_ignored,
            empty.service_level_abandons_for, empty.abandon_rate, empty.avg_abandon_wait_s) == (0.0,) * 7
    # Every offered call a short abandon: offered' = 0.
    only_short = f.interval_counts(answered_upto_t=0, abandoned_upto_t=2, abandoned_upto_short=2, offered=2,
                                   abandoned=2)
    assert (f.abandon_rate(only_short), f.service_level_abandons_against(only_short)) == (0.0, 0.0)


def test_interval_figures():
    c = counts(offered=4, answered=3, handled=4, abandoned=1, answered_within=2, answered_wait_us=30 * S,
               max_answered_wait_us=20 * S, abandoned_wait_us=12 * S, talk_us=400 * S, hold_us=20 * S,
               wrap_up_us=40 * S)
    fig = f.interval_figures("sales", T0, c)
    assert (fig.member, fig.interval_start_us, fig.counts) == ("sales", T0, c)
    assert fig.asa_s == 10.0                           # 30 / 3 answered
    assert fig.aht_s == 110.0                          # (400 + 40) / 4 handled (a callback among them)
    assert (fig.max_wait_s, fig.avg_abandon_wait_s) == (20.0, 12.0)
    assert fig.service_level == fig.service_level_abandons_against == 0.5


def test_counts_add_up_and_the_longest_wait_is_the_max():
    a = counts(offered=2, answered=1, answered_wait_us=5 * S, max_answered_wait_us=5 * S, short_abandoned=1)
    b = counts(offered=3, answered=2, answered_wait_us=40 * S, max_answered_wait_us=30 * S)
    total = f.total_counts([a, b])
    assert (total.offered, total.answered, total.answered_wait_us, total.short_abandoned) == (5, 3, 45 * S, 1)
    assert total.max_answered_wait_us == 30 * S
    assert f.total_counts([]) == IntervalCounts()


def test_occupancy_and_agent_counts():
    c = AgentCounts(ready_us=600 * S, reserved_us=10 * S, on_call_us=290 * S, not_ready_us=900 * S,
                    not_ready_by_reason_us=(("break", 900 * S),))
    assert f.occupancy(c) == pytest.approx(300 / 900)  # not-ready time is in neither part
    assert f.occupancy(AgentCounts(not_ready_us=S)) == 0.0
    more = AgentCounts(handled=2, talk_us=100 * S, wrap_up_us=20 * S, wrap_up_state_us=60 * S,
                       not_ready_by_reason_us=(("break", 100 * S), ("training", 340 * S)))
    total = c + more
    assert total.not_ready_by_reason_us == (("break", 1000 * S), ("training", 340 * S))
    assert (total.handled, total.ready_us, total.wrap_up_state_us) == (2, 600 * S, 60 * S)
    fig = f.agent_figures("1001", T0, total)
    assert fig.aht_s == 60.0                           # (100 + 20) / 2
    assert fig.occupancy == pytest.approx((10 + 290 + 60) / (600 + 10 + 290 + 60))


def test_ivr_figures():
    nodes = [IvrNodeCounts("main", "greeting", "play", visits=5, calls=5, entries=5, hangups=1, time_us=13 * S),
             IvrNodeCounts("main", "menu", "menu", visits=4, calls=4, hangups=1, errors=1, time_us=20 * S),
             IvrNodeCounts("main", "goodbye", "play", visits=1, calls=1, completed=1),
             IvrNodeCounts("main", "queue", "queue", visits=1, calls=1, queued=1),
             IvrNodeCounts("other", "greeting", "play")]
    greeting = f.ivr_node_figures(nodes[0])
    assert (greeting.drop_off_rate, greeting.avg_time_s) == (0.2, 2.6)
    assert f.ivr_node_figures(nodes[4]).drop_off_rate == 0.0
    main, other = f.ivr_flow_figures(nodes)
    assert (main.flow, main.calls, main.contained, main.abandoned, main.queued) == ("main", 5, 1, 2, 1)
    assert main.containment_rate == pytest.approx(0.2)
    assert (other.flow, other.calls, other.containment_rate) == ("other", 0, 0.0)


@pytest.mark.parametrize("value", [1, 21, 305, -5, 1000])
def test_thresholds_are_multiples_of_5_up_to_300(value):
    with pytest.raises(InvalidArgument) as caught:
        f.check_threshold_s("service_level_threshold_s", value)
    assert caught.value.field == "service_level_threshold_s"
    assert "multiple of 5" in caught.value.message


def test_range_and_interval_checks_name_the_field():
    for args, field in (((-1, T0), "from_us"), ((T0, T0), "to_us"), ((T0, T0 - 1), "to_us")):
        with pytest.raises(InvalidArgument) as caught:
            f.check_range(*args)
        assert caught.value.field == field
    for args, field in (((T0 + 1, T0 + 900 * S), "from_us"), ((T0, T0 + 901 * S), "to_us")):
        with pytest.raises(InvalidArgument) as caught:
            f.check_aligned(*args)
        assert caught.value.field == field
    f.check_aligned(T0, T0 + 900 * S)
    for interval_s in (900, 1800, 3600, 86400, 7 * 86400):
        assert f.check_interval_s(interval_s, T0, T0 + 86400 * S) == interval_s
    for interval_s in (0, -900, 60, 1000):
        with pytest.raises(InvalidArgument) as caught:
            f.check_interval_s(interval_s, T0, T0 + 86400 * S)
        assert caught.value.field == "interval_s"
    with pytest.raises(InvalidArgument, match="more than"):
        f.check_interval_s(900, 0, 10 * 365 * 86400 * S)
