"""Expected wait time, hermetic: a fake clock, hand-computed cases, properties,
and one small seeded simulation against a naive baseline."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.common.errors import InvalidArgument
from hotline.routing.ewt import US, EwtEstimator, mean_residual_s
from hotline.routing.ewt_sim import Scenario, format_results, main, run, simulate

from fake_clock import Clock


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ewt(clock):
    estimator = EwtEstimator(clock, half_life_s=60, min_samples=3)
    estimator.add_queue("support")
    return estimator


def handled(ewt, *handle_s, queue="support", waited_s=None):
    for h in handle_s:
        ewt.call_answered(queue, h, waited_s=waited_s)


# -- the formula, by hand ------------------------------------------------------

def test_single_agent_waits_one_aht_per_position(ewt):
    handled(ewt, 100, 200, 300)                      # same instant: AHT = 200
    assert ewt.estimate("support", 1, 1).seconds == pytest.approx(200)
    assert ewt.estimate("support", 3, 1).seconds == pytest.approx(600)


def test_c_agents_share_the_queue(ewt):
    handled(ewt, 100, 200, 300)
    estimate = ewt.estimate("support", 6, 4)         # 6 × 200 / 4
    assert estimate.seconds == pytest.approx(300)
    assert estimate.known
    assert "AHT 200.0 s from 3 calls" in estimate.basis


def test_free_agents_answer_the_first_callers_at_once(ewt, clock):
    handled(ewt, 300, 300, 300)                      # constant handle times: residual = 300 − elapsed
    busy = [clock.now - 100 * US, clock.now - 200 * US]
    free = ewt.estimate("support", 2, 4, busy)
    assert (free.seconds, free.known) == (0.0, True)
    # Position 3 needs the first answer of the two busy agents: rates 1/200 + 1/100.
    assert ewt.estimate("support", 3, 4, busy).seconds == pytest.approx(1 / (1 / 200 + 1 / 100))


def test_residual_handle_times_of_busy_agents(ewt, clock):
    handled(ewt, 300, 300, 300)
    busy = [clock.now - 100 * US, clock.now - 200 * US]
    first = 1 / (1 / 200 + 1 / 100)                  # 66.7 s
    assert ewt.estimate("support", 1, 2, busy).seconds == pytest.approx(first)
    assert ewt.estimate("support", 2, 2, busy).seconds == pytest.approx(first + 300 / 2)
    assert ewt.estimate("support", 4, 2, busy).seconds == pytest.approx(first + 3 * 300 / 2)
    # Without the call starts the first answer is one gap away: the textbook k·AHT/c.
    assert ewt.estimate("support", 4, 2).seconds == pytest.approx(4 * 300 / 2)
    # A call start in the future (clock skew between nodes) counts as a call just begun.
    assert ewt.estimate("support", 1, 1, [clock.now + 5 * US]).seconds == pytest.approx(300)


def test_mean_residual_of_a_lognormal_matches_numeric_integration():
    mean, variance = 300.0, 300.0 ** 2               # cv 1
    sigma2 = math.log(2.0)
    mu = math.log(mean) - sigma2 / 2

    def survival(x):
        return 0.5 * math.erfc((math.log(x) - mu) / math.sqrt(2 * sigma2))

    for elapsed in (30.0, 300.0, 1200.0):
        step, upper = 0.5, elapsed + 40_000
        xs = [elapsed + step * (i + 0.5) for i in range(int((upper - elapsed) / step))]
        expected = sum(survival(x) for x in xs) * step / survival(elapsed)
        assert mean_residual_s(elapsed, mean, variance) == pytest.approx(expected, rel=2e-3)
    assert mean_residual_s(0.0, mean, variance) == mean
    assert mean_residual_s(100.0, 300.0, 0.0) == 200.0        # constant handle times
    assert mean_residual_s(400.0, 300.0, 0.0) == 0.0


def test_abandonment_shortens_the_wait(ewt):
    handled(ewt, 120, 120, 120, waited_s=50)         # exposure 150 s
    ewt.call_abandoned("support", 50)                # exposure 200 s, one abandon: θ = 1/200
    assert ewt.abandon_hazard("support") == pytest.approx(0.005)
    h, theta, k = 120 / 2, 0.005, 3
    m1 = (k - 1) * math.exp(-theta * h)              # 1.48 still ahead after the first answer
    w = h + math.log(1 + theta * h * m1) / theta     # 133.6 s if the caller never hangs up
    assert w == pytest.approx(133.55, abs=0.01)
    assert w < k * h
    estimate = ewt.estimate("support", k, 2)
    assert estimate.seconds == pytest.approx(w / (1 + theta * w / k))     # 109.2 s for those answered
    assert "abandon hazard 18.0/h" in estimate.basis


def test_whole_wait_without_the_answered_only_correction(clock):
    ewt = EwtEstimator(clock, min_samples=1, answered_only=False, queues=["support"])
    handled(ewt, 120, waited_s=150)
    ewt.call_abandoned("support", 50)
    h, theta = 120.0, 1 / 200
    assert ewt.estimate("support", 2, 1).seconds == pytest.approx(
        h + math.log(1 + theta * h * math.exp(-theta * h)) / theta)


def test_abandonment_is_off_while_answered_waits_are_not_reported(ewt):
    handled(ewt, 120, 120, 120)                      # no waited_s
    ewt.call_abandoned("support", 50)
    assert ewt.abandon_hazard("support") == 0.0
    assert ewt.estimate("support", 3, 2).seconds == pytest.approx(3 * 120 / 2)


def test_old_handle_times_decay_with_the_half_life(ewt, clock):
    ewt.call_answered("support", 100)
    clock.advance(60)                                # one half-life: weight 0.5
    ewt.call_answered("support", 400)
    aht, _, seen = ewt.handle_time("support")
    assert aht == pytest.approx((0.5 * 100 + 400) / 1.5)       # 300, not the plain mean 250
    assert seen == 2
    clock.advance(120)                               # a quiet spell: the mean keeps its value
    ewt.call_answered("support", 300)
    assert ewt.handle_time("support")[0] == pytest.approx((0.125 * 100 + 0.25 * 400 + 300) / 1.375)


def test_cold_start_is_unknown_without_a_default(ewt):
    estimate = ewt.estimate("support", 2, 3)
    assert math.isnan(estimate.seconds)
    assert not estimate.known
    assert "no handle time" in estimate.basis
    # A free agent needs no history.
    assert ewt.estimate("support", 1, 3, []).seconds == 0.0


def test_cold_start_uses_the_queue_default_until_enough_calls(ewt):
    ewt.add_queue("support", default_handle_s=240)
    estimate = ewt.estimate("support", 2, 2)
    assert (estimate.seconds, estimate.known) == (pytest.approx(240), False)
    assert "cold start" in estimate.basis
    handled(ewt, 180, 180)
    warming = ewt.estimate("support", 2, 2)
    assert (warming.seconds, warming.known) == (pytest.approx(180), False)
    handled(ewt, 180)                                # min_samples = 3 reached
    assert ewt.estimate("support", 2, 2).known


def test_no_agent_serving_the_queue_means_no_answer(ewt):
    handled(ewt, 100, 100, 100)
    estimate = ewt.estimate("support", 1, 0)
    assert estimate.seconds == math.inf and not estimate.known


def test_staffing_changes_stand_in_for_servers(ewt, clock):
    handled(ewt, 300, 300, 300)
    ewt.staffing_changed("support", 3, [clock.now - 100 * US])
    assert ewt.estimate("support", 2).seconds == 0.0
    assert ewt.estimate("support", 3).seconds == pytest.approx(200)
    assert ewt.estimate("support", 3, busy_since_us=[clock.now - 250 * US]).seconds == pytest.approx(50)


def test_queues_are_separate(ewt):
    ewt.add_queue("sales")
    handled(ewt, 100, 100, 100)
    handled(ewt, 500, 500, 500, queue="sales")
    assert ewt.estimate("support", 1, 1).seconds == pytest.approx(100)
    assert ewt.estimate("sales", 1, 1).seconds == pytest.approx(500)
    ewt.add_queue("sales")                           # idempotent: history kept
    assert ewt.estimate("sales", 1, 1).seconds == pytest.approx(500)


# -- bad input: a clear error naming the argument, nothing stored --------------

@pytest.mark.parametrize(("call", "field"), [
    (lambda e: e.call_answered("support", -1.0), "handle_s"),
    (lambda e: e.call_answered("support", math.nan), "handle_s"),
    (lambda e: e.call_answered("support", "300"), "handle_s"),
    (lambda e: e.call_answered("support", 300, waited_s=-2), "waited_s"),
    (lambda e: e.call_abandoned("support", -0.5), "waited_s"),
    (lambda e: e.call_abandoned("support", math.inf), "waited_s"),
    (lambda e: e.call_answered("nowhere", 300), "queue"),
    (lambda e: e.call_abandoned("nowhere", 3), "queue"),
    (lambda e: e.estimate("nowhere", 1, 1), "queue"),
    (lambda e: e.estimate("support", 0, 1), "position"),
    (lambda e: e.estimate("support", True, 1), "position"),
    (lambda e: e.estimate("support", 1.5, 1), "position"),
    (lambda e: e.estimate("support", 1, -1), "servers"),
    (lambda e: e.estimate("support", 1), "servers"),
    (lambda e: e.estimate("support", 1, 1, [0, 0]), "busy_since_us"),
    (lambda e: e.estimate("support", 1, 2, [1.5]), "busy_since_us"),
    (lambda e: e.staffing_changed("support", -1), "servers"),
    (lambda e: e.staffing_changed("support", 1, [0, 0]), "busy_since_us"),
    (lambda e: e.add_queue(""), "queue"),
    (lambda e: e.add_queue("support", default_handle_s=0), "default_handle_s"),
])
def test_bad_input_is_rejected_and_nothing_is_stored(ewt, call, field):
    handled(ewt, 200, 200, 200, waited_s=10)
    before = (ewt.handle_time("support"), ewt.abandon_hazard("support"), vars(ewt._queues["support"]).copy())
    with pytest.raises(ValueError, match=field) as raised:
        call(ewt)
    assert isinstance(raised.value, InvalidArgument) and raised.value.field == field
    assert (ewt.handle_time("support"), ewt.abandon_hazard("support"), vars(ewt._queues["support"])) == before
    assert set(ewt._queues) == {"support"}


def test_bad_settings_are_rejected(clock):
    with pytest.raises(ValueError, match="half_life_s"):
        EwtEstimator(clock, half_life_s=0)
    with pytest.raises(ValueError, match="min_samples"):
        EwtEstimator(clock, min_samples=0)


# -- properties ---------------------------------------------------------------------

histories = st.lists(st.tuples(st.floats(1, 3600), st.floats(0, 600), st.booleans(), st.floats(0, 120)),
                     min_size=1, max_size=12)


def _fed(history):
    clock = Clock()
    ewt = EwtEstimator(clock, half_life_s=600, min_samples=1, queues=["q"])
    for handle_s, waited_s, abandoned, gap_s in history:
        clock.advance(gap_s)
        if abandoned:
            ewt.call_abandoned("q", waited_s)
        ewt.call_answered("q", handle_s, waited_s=waited_s)
    return clock, ewt


@settings(max_examples=150, deadline=None)
@given(history=histories, position=st.integers(1, 60), servers=st.integers(1, 60),
       ages_s=st.lists(st.floats(0, 7200), max_size=60), with_starts=st.booleans())
def test_ewt_never_falls_with_position_nor_rises_with_servers(history, position, servers, ages_s, with_starts):
    clock, ewt = _fed(history)
    busy = [clock.now - int(a * US) for a in ages_s[:servers]] if with_starts else None
    here = ewt.estimate("q", position, servers, busy).seconds
    assert here >= 0 and math.isfinite(here)
    assert ewt.estimate("q", position + 1, servers, busy).seconds >= here * (1 - 1e-12)
    assert ewt.estimate("q", position, servers + 1, busy).seconds <= here * (1 + 1e-12)


# -- measured against a simulated queue ----------------------------------------------

SMALL = Scenario("c=5 heavy, abandons", 5, 0.95, calls=2500, patience_s=600.0, seed=7)


def test_simulation_is_deterministic():
    assert run(SMALL) == run(SMALL)


def test_estimator_beats_the_naive_baseline_on_a_small_simulated_queue():
    samples, answered, abandoned = run(SMALL)
    queued = [s for s in samples if s.behind > 0]
    assert answered + abandoned == SMALL.calls and abandoned > 0 and len(queued) > 200

    def median_error(field):
        errors = sorted(abs(getattr(s, field) - s.wait_s) for s in queued)
        return errors[len(errors) // 2]

    assert median_error("ewt_s") < 0.5 * median_error("naive_s")           # position × AHT
    assert median_error("ewt_s") <= median_error("textbook_s")              # position × AHT / c
    mean_wait = sum(s.wait_s for s in queued) / len(queued)
    assert median_error("ewt_s") < 0.5 * mean_wait


def test_results_print_as_a_table(capsys):
    result = simulate(Scenario("tiny", 2, 0.9, calls=300))
    table = format_results([result])
    assert "tiny" in table and "median err" in table
    assert result.estimated <= result.served == 300
    assert main(["--calls", "200"]) == 0
    assert "c=50 heavy" in capsys.readouterr().out
