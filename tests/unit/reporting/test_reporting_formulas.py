"""The contact-center figures, on hand-computed examples (hermetic)."""
import pytest
from hypothesis import given, strategies as st

from hotline.reporting import formulas as f
from hotline.reporting.formulas import CallFacts, IntervalCounts

S = 1_000_000
T0 = 1_709_283_600 * S          # 2024-03-01 09:00:00 UTC


def answered(queue, enqueue_s, wait_s, talk_s, hold_s=0, wrap_s=0):
    enq = T0 + enqueue_s * S
    return CallFacts(queue, f.ANSWERED, enq, connect_us=enq + wait_s * S, queue_wait_us=wait_s * S,
                     talk_us=talk_s * S, hold_us=hold_s * S, wrap_up_us=wrap_s * S)


def abandoned(queue, enqueue_s, wait_s):
    return CallFacts(queue, f.ABANDONED, T0 + enqueue_s * S, queue_wait_us=wait_s * S)


def test_ratios_and_averages():
    assert f.asa_s(35 * S, 2) == 17.5
    assert f.aht_s(300 * S, 60 * S, 2) == 180.0        # (talk incl. hold + wrap-up) / handled
    assert f.service_level(1, 3) == pytest.approx(1 / 3)
    assert f.abandon_rate(1, 4) == 0.25
    # Nothing to divide by: 0, not an error.
    assert f.asa_s(0, 0) == f.aht_s(0, 0, 0) == f.service_level(0, 0) == f.abandon_rate(0, 0) == 0.0


def test_what_counts_as_offered():
    assert f.is_offered(answered("sales", 0, 5, 10))
    assert f.is_offered(abandoned("sales", 0, 5))
    assert f.is_offered(CallFacts("sales", f.FAILED, T0))                # queued, then failed: offered
    assert not f.is_offered(CallFacts("sales", f.ENDED_IN_IVR, T0))      # never reached the queue
    assert not f.is_offered(CallFacts("", f.ABANDONED, T0))              # no queue
    assert not f.is_offered(CallFacts("sales", f.ABANDONED, 0))          # never enqueued


def test_count_call():
    threshold = 20 * S
    assert f.count_call(answered("q", 0, 20, 100, hold_s=10, wrap_s=5), threshold) == IntervalCounts(
        offered=1, answered=1, handled=1, answered_within_threshold=1, answered_wait_us=20 * S,
        talk_us=100 * S, hold_us=10 * S, wrap_up_us=5 * S)                # 20 s <= 20 s: within
    assert f.count_call(answered("q", 0, 21, 100), threshold).answered_within_threshold == 0
    assert f.count_call(abandoned("q", 0, 3), threshold) == IntervalCounts(offered=1, abandoned=1)
    assert f.count_call(CallFacts("q", f.FAILED, T0), threshold) == IntervalCounts(offered=1)
    assert f.count_call(CallFacts("q", f.ENDED_IN_IVR, T0), threshold) == IntervalCounts()


def test_answer_wait_falls_back_to_connect_minus_enqueue():
    call = CallFacts("q", f.ANSWERED, T0, connect_us=T0 + 7 * S)
    assert f.answer_wait_us(call) == 7 * S


def test_interval_start_is_laid_from_the_range_start():
    assert f.interval_start_us(T0, T0, 1800 * S) == T0
    assert f.interval_start_us(T0 + 1799 * S, T0, 1800 * S) == T0
    assert f.interval_start_us(T0 + 1800 * S, T0, 1800 * S) == T0 + 1800 * S
    # A range starting at 09:10 lays intervals at 09:10, 09:40, ...
    start = T0 + 600 * S
    assert f.interval_start_us(T0 + 2500 * S, start, 1800 * S) == start + 1800 * S


def test_assemble_hand_computed_report():
    calls = [
        # sales, 09:00-09:30
        answered("sales", 10, wait_s=5, talk_s=100, hold_s=10, wrap_s=20),
        answered("sales", 100, wait_s=30, talk_s=200, wrap_s=40),
        abandoned("sales", 200, wait_s=12),
        CallFacts("sales", f.ENDED_IN_IVR, T0 + 50 * S),               # not offered
        # sales, 09:30-10:00
        answered("sales", 1900, wait_s=20, talk_s=60),
        # support, 09:00-09:30
        answered("support", 300, wait_s=45, talk_s=300, hold_s=30, wrap_s=15),
        abandoned("support", 400, wait_s=3),
        # outside [09:00, 10:00)
        answered("sales", -10, wait_s=8, talk_s=50),
        abandoned("sales", 3600, wait_s=2),
    ]
    rows, total = f.assemble(calls, from_us=T0, to_us=T0 + 3600 * S, interval_s=1800, threshold_s=20)
    assert [(r.queue, r.interval_start_us) for r in rows] == [
        ("sales", T0), ("sales", T0 + 1800 * S), ("support", T0)]
    sales1, sales2, support = rows

    assert (sales1.offered, sales1.answered, sales1.abandoned, sales1.answered_within_threshold) == (3, 2, 1, 1)
    assert sales1.asa_s == 17.5                           # (5 + 30) / 2
    assert sales1.aht_s == 180.0                          # (100 + 20 + 200 + 40) / 2
    assert sales1.service_level == pytest.approx(1 / 3)   # 1 within 20 s / 3 offered
    assert sales1.abandon_rate == pytest.approx(1 / 3)
    assert (sales1.talk_s, sales1.hold_s, sales1.wrap_up_s) == (300.0, 10.0, 60.0)

    assert (sales2.offered, sales2.answered, sales2.abandoned, sales2.answered_within_threshold) == (1, 1, 0, 1)
    assert (sales2.asa_s, sales2.aht_s, sales2.service_level, sales2.abandon_rate) == (20.0, 60.0, 1.0, 0.0)

    assert (support.offered, support.answered, support.abandoned, support.answered_within_threshold) == (2, 1, 1, 0)
    assert (support.asa_s, support.aht_s, support.service_level, support.abandon_rate) == (45.0, 315.0, 0.0, 0.5)

    assert (total.queue, total.interval_start_us) == ("", T0)
    assert (total.offered, total.answered, total.abandoned, total.answered_within_threshold) == (6, 4, 2, 2)
    assert total.asa_s == 25.0                            # (5 + 30 + 20 + 45) / 4
    assert total.aht_s == 183.75                          # (120 + 240 + 60 + 315) / 4
    assert total.service_level == pytest.approx(2 / 6)
    assert total.abandon_rate == pytest.approx(2 / 6)
    assert (total.talk_s, total.hold_s, total.wrap_up_s) == (660.0, 40.0, 75.0)


def test_assemble_empty_range_gives_a_zero_total():
    rows, total = f.assemble([], from_us=T0, to_us=T0 + 1, interval_s=900, threshold_s=20, total_queue="sales")
    assert rows == []
    assert total == f.figures("sales", T0, IntervalCounts())
    assert (total.offered, total.service_level, total.asa_s) == (0, 0.0, 0.0)


def test_assemble_refuses_a_bad_range():
    with pytest.raises(ValueError):
        f.assemble([], from_us=T0, to_us=T0, interval_s=900, threshold_s=20)
    with pytest.raises(ValueError):
        f.assemble([], from_us=T0, to_us=T0 + 1, interval_s=0, threshold_s=20)


calls_strategy = st.lists(st.builds(
    CallFacts,
    queue=st.sampled_from(["a", "b", ""]),
    disposition=st.sampled_from([f.ANSWERED, f.ABANDONED, f.FAILED, f.ENDED_IN_IVR, "DISPOSITION_UNSPECIFIED"]),
    enqueue_us=st.integers(0, 7200 * S).map(lambda x: T0 + x - 600 * S),
    queue_wait_us=st.integers(0, 120 * S), talk_us=st.integers(0, 900 * S), hold_us=st.integers(0, 60 * S),
    wrap_up_us=st.integers(0, 120 * S)), max_size=60)


@given(calls_strategy, st.sampled_from([60, 900, 1800, 3600, 86400]))
def test_the_total_is_the_sum_of_the_rows(calls, interval_s):
    rows, total = f.assemble(calls, from_us=T0, to_us=T0 + 3600 * S, interval_s=interval_s, threshold_s=20)
    assert total.offered == sum(r.offered for r in rows)
    assert total.answered == sum(r.answered for r in rows)
    assert total.abandoned == sum(r.abandoned for r in rows)
    assert total.answered_within_threshold == sum(r.answered_within_threshold for r in rows)
    assert total.talk_s == pytest.approx(sum(r.talk_s for r in rows))
    for r in [*rows, total]:
        assert r.answered + r.abandoned <= r.offered
        assert r.answered_within_threshold <= r.answered
        assert 0.0 <= r.service_level <= 1.0 and 0.0 <= r.abandon_rate <= 1.0
        assert r.offered > 0 or r is total
    for r in rows:
        assert T0 <= r.interval_start_us < T0 + 3600 * S
        assert (r.interval_start_us - T0) % (interval_s * S) == 0
