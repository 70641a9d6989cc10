"""Queueing models for staffing: Erlang B, Erlang C (M/M/N) and Erlang A
(M/M/N+M, Palm's model with exponential patience). Pure math: no I/O.

Notation (docs/staffing.md spells it out): calls arrive at rate λ (Poisson),
handle times are exponential with mean AHT = 1/μ, N agents, offered traffic
A = λ/μ Erlangs; Erlang A adds exponential patience with mean 1/θ.

Sources:
- A. K. Erlang (1917); the stable Erlang B recursion
  B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1)) and Erlang C from it,
  C = N·B / (N - A·(1 - B)): G. Koole, *Call Center Optimization* (2013), ch. 5;
  Gans, Koole, Mandelbaum, "Telephone call centers: tutorial, review and
  research prospects", MSOM 5(2), 2003, section 4.
- Erlang A: O. Garnett, A. Mandelbaum, M. Reiman, "Designing a call center with
  impatient customers", MSOM 4(3), 2002; A. Mandelbaum, S. Zeltyn, "The
  Palm/Erlang-A queue, with applications to call centers" (2004/2007 note).
  P(wait > 0) = A(x, y)·B / (1 + (A(x, y) - 1)·B) with x = Nμ/θ, y = λ/θ and
  A(x, y) = Σ_j y^j / ((x+1)…(x+j)) (their incomplete-gamma function), is
  what :func:`erlang_a` computes. Its service level and ASA come from the
  density of the offered wait V (the wait of a caller with infinite
  patience), derived in docs/staffing.md:
  f_V(v) = π_N·Nμ·exp(-Nμ·v + y·(1 - e^(-θv))) for v > 0, and a caller is
  answered when its own patience outlasts V, so
  P(answered within t) = P(V = 0) + ∫_0^t f_V(v)·e^(-θv) dv.
  With u = e^(-θv) these integrals are lower incomplete gamma functions,
  evaluated here by their series of positive terms in log space, so they
  neither cancel nor overflow (γ(a, z) = z^a·e^-z·Σ_k z^k / (a(a+1)…(a+k)),
  Abramowitz & Stegun 6.5.29).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

# Series stop once a term adds less than this to the sum (relative).
_EPS = 1e-17
_MAX_TERMS = 10_000_000
# Erlang A switches to its fluid limit when (λ - Nμ)/θ, the mean queue in
# overload, exceeds this (the series would need about that many terms).
FLUID_QUEUE = 100_000.0
# Agents are searched up to this many (a guard against absurd inputs, not a limit anyone meets).
MAX_AGENTS = 1_000_000


@dataclasses.dataclass(frozen=True)
class Prediction:
    """What a model predicts for N agents (all ratios 0..1, times in seconds)."""

    agents: int
    traffic_erlangs: float
    prob_wait: float            # P(a caller waits at all)
    service_level: float        # P(answered within the threshold), over all callers (abandons count against)
    asa_s: float                # mean wait of answered callers (math.inf when the queue is unstable)
    occupancy: float            # busy agents / agents
    abandon_rate: float = 0.0   # Erlang A: P(a caller abandons); Erlang C: 0


def traffic_erlangs(calls: float, aht_s: float, interval_s: float) -> float:
    """Offered traffic A = calls × AHT / interval (e.g. 100 calls in 1800 s of 180 s each: 10 Erlangs)."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    return calls * aht_s / interval_s


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of M/M/N/N by the recursion B(n) = A·B(n-1)/(n + A·B(n-1)).

    Every step stays in [0, 1], so it neither overflows (as A^N/N! does) nor
    loses precision; it may underflow to 0.0 when blocking is negligible."""
    _check(agents, traffic)
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """P(wait > 0) in M/M/N: C = N·B / (N - A·(1 - B)); 1.0 when N <= A (the queue grows without bound)."""
    _check(agents, traffic)
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1.0 - b))


def erlang_c_prediction(agents: int, traffic: float, aht_s: float, threshold_s: float) -> Prediction:
    """Erlang C's figures for N agents: P(wait), service level
    1 - C·e^(-(N-A)·t/AHT), ASA = C·AHT/(N-A), occupancy A/N.
    With N <= A nobody is answered in time: SL 0, ASA infinite, occupancy 1.
    No traffic: every figure 0 (a ratio over no callers is 0.0, as in docs/metrics.md)."""
    _check(agents, traffic)
    if traffic == 0:
        return Prediction(agents, 0.0, 0.0, 0.0, 0.0, 0.0)
    if agents <= traffic:
        return Prediction(agents, traffic, 1.0, 0.0, math.inf, 1.0)
    c = erlang_c(agents, traffic)
    sl = 1.0 - c * math.exp(-(agents - traffic) * threshold_s / aht_s) if aht_s > 0 else 1.0
    asa = c * aht_s / (agents - traffic)
    return Prediction(agents, traffic, c, _unit(sl), asa, traffic / agents)


def erlang_a_prediction(agents: int, traffic: float, aht_s: float, threshold_s: float,
                        patience_s: float) -> Prediction:
    """Erlang A (M/M/N+M) figures for N agents with mean patience ``patience_s``
    (math.inf: nobody abandons, which is Erlang C).

    Stationary probabilities relative to π_N (N callers in the system):
    P(n < N) = π_N·(1/B - 1) with B = Erlang B(N, A); P(n >= N) = π_N·Q with
    Q = 1 + y·S(x+1, y), where S(a, z) = Σ_k z^k / (a(a+1)…(a+k)).
    Answered from the queue: π_N·x·S(x+1, y) in all, and within t
    π_N·x·[S(x+1, y) - c^(x+1)·e^(y(1-c))·S(x+1, y·c)] with c = e^(-θt).
    The wait of answered callers: π_N·(x/θ)·Σ_k term_k·H_k, with H_k =
    Σ_{i<=k} 1/(x+1+i) (the derivative of S in a); see docs/staffing.md.
    """
    _check(agents, traffic)
    if patience_s <= 0 or math.isnan(patience_s):
        raise ValueError("patience_s must be positive (math.inf for callers who never abandon)")
    if math.isinf(patience_s) or traffic == 0:
        return erlang_c_prediction(agents, traffic, aht_s, threshold_s)
    if aht_s <= 0:
        raise ValueError("aht_s must be positive when there is traffic")
    mu, theta = 1.0 / aht_s, 1.0 / patience_s
    lam = traffic * mu
    x, y = agents * mu / theta, lam / theta
    if y == 0.0:
        # Traffic so small that λ/θ underflows: no caller ever waits long
        # enough to abandon, which is Erlang C's answer too.
        return erlang_c_prediction(agents, traffic, aht_s, threshold_s)
    if agents == 0:
        return Prediction(0, traffic, 1.0, 0.0, math.inf, 0.0, 1.0)
    if y - x > FLUID_QUEUE:
        return _fluid_overload(agents, traffic, patience_s)
    b = erlang_b(agents, traffic)
    if b == 0.0:
        # Blocking below 1e-308: nobody waits.
        return Prediction(agents, traffic, 0.0, 1.0, 0.0, traffic / agents, 0.0)
    log_s1, log_h1 = _log_series(x + 1.0, y, with_harmonic=True)
    log_idle = math.log(1.0 / b - 1.0)                       # log of P(n < N) / π_N
    log_queue = _log_add(0.0, math.log(y) + log_s1)          # log Q
    log_pi_n = -_log_add(log_idle, log_queue)
    p_no_wait = math.exp(log_pi_n + log_idle)
    served_queue = math.exp(log_pi_n + math.log(x) + log_s1)
    served_within = math.exp(log_pi_n + math.log(x) + _log_series_from(x + 1.0, y, theta * threshold_s, log_s1))
    p_served = min(1.0, p_no_wait + served_queue)
    wait_served = math.exp(log_pi_n + math.log(x) - math.log(theta) + log_h1)  # E[W; answered]
    asa = wait_served / p_served if p_served > 0 else math.inf
    return Prediction(agents, traffic, _unit(math.exp(log_pi_n + log_queue)), _unit(p_no_wait + served_within),
                      asa, _unit(traffic * p_served / agents), _unit(1.0 - p_served))


def _fluid_overload(agents: int, traffic: float, patience_s: float) -> Prediction:
    """Erlang A far beyond capacity (more than FLUID_QUEUE callers queued on
    average), where the series would need that many terms: the fluid limit
    (Whitt, "Fluid models for multiserver queues with abandonments", OR 54(1),
    2006). Everyone waits, agents are always busy, a fraction 1 - N/A abandons,
    and the answered callers are those whose patience outlasts the wait w
    with e^(-w/patience) = N/A, i.e. w = patience·ln(A/N)."""
    ratio = agents / traffic
    return Prediction(agents, traffic, 1.0, 0.0, patience_s * math.log(1.0 / ratio), 1.0, _unit(1.0 - ratio))


def _log_series(a: float, z: float, *, with_harmonic: bool = False) -> tuple[float, float]:
    """log S(a, z) = log Σ_k z^k / (a(a+1)…(a+k)) and, if asked, log Σ_k term_k·H_k
    with H_k = Σ_{i<=k} 1/(a+i). Positive terms, summed in log space (terms
    grow while z > a+k, which overflows doubles when callers pile up)."""
    if z == 0.0:
        return -math.log(a), (-2.0 * math.log(a) if with_harmonic else -math.inf)
    log_z = math.log(z)
    log_term = -math.log(a)
    harmonic = 1.0 / a
    top = log_term                      # running maximum, for scaling
    total = 1.0                         # Σ exp(log_term - top)
    total_h = harmonic                  # Σ exp(log_term - top)·H_k
    k = 0
    while k < _MAX_TERMS:
        k += 1
        log_term += log_z - math.log(a + k)
        harmonic += 1.0 / (a + k)
        if log_term > top:
            scale = math.exp(top - log_term)
            total, total_h, top = total * scale, total_h * scale, log_term
        share = math.exp(log_term - top)
        total += share
        total_h += share * harmonic
        ratio = z / (a + k + 1)        # the next term over this one; it only falls from here
        if ratio < 1.0:                # the rest is below a geometric series: stop once it no longer counts
            tail = share * ratio / (1.0 - ratio)
            if tail < _EPS * total and tail * (harmonic + 1.0 / ((1.0 - ratio) * (a + k))) < _EPS * total_h:
                break
    return top + math.log(total), (top + math.log(total_h) if with_harmonic else -math.inf)


def _log_series_from(a: float, z: float, theta_t: float, log_s1: float) -> float:
    """log of S(a, z) - c^a·e^(z(1-c))·S(a, z·c) with c = e^(-θt): the part of
    the answered-from-queue series that waited at most t (see erlang_a_prediction)."""
    if math.isinf(theta_t):
        return log_s1
    if theta_t <= 0.0:
        return -math.inf
    c = math.exp(-theta_t)
    log_sc, _ = _log_series(a, z * c)
    log_tail = -a * theta_t + z * (-math.expm1(-theta_t)) + log_sc
    gap = log_tail - log_s1
    if gap >= 0.0:                      # rounding: nothing measurable waited less than t
        return -math.inf
    return log_s1 + math.log(-math.expm1(gap))


def _log_add(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top))


def _unit(p: float) -> float:
    """A probability computed in floating point, kept within [0, 1]."""
    return min(1.0, max(0.0, p))


def _check(agents: int, traffic: float) -> None:
    if agents < 0:
        raise ValueError("agents must be 0 or more")
    if traffic < 0 or math.isnan(traffic) or math.isinf(traffic):
        raise ValueError("traffic must be a finite number of Erlangs, 0 or more")


Model = Callable[[int], Prediction]


def _check_targets(target_service_level: float, max_occupancy: float) -> None:
    if not 0.0 < target_service_level < 1.0:
        raise ValueError("target_service_level must be in (0, 1)")
    if not 0.0 < max_occupancy <= 1.0:
        raise ValueError("max_occupancy must be in (0, 1]")


def agents_needed(model: Model, traffic: float, *, target_service_level: float,
                  max_occupancy: float = 1.0, lower_bound: int = 1) -> Prediction:
    """The smallest N whose prediction meets the service-level target and the occupancy cap.

    Both figures move one way as agents are added (more agents never lower
    the service level nor raise occupancy; tested), so the search gallops up
    from ``lower_bound`` (which the model must guarantee: no fewer agents can
    meet the target) and then bisects: O(log N) model evaluations.
    """
    _check_targets(target_service_level, max_occupancy)
    if traffic == 0:
        return model(0)

    def meets(p: Prediction) -> bool:
        return p.service_level >= target_service_level and p.occupancy <= max_occupancy

    low = max(1, lower_bound)
    first = model(low)
    if meets(first):
        return first
    step, failing = 1, low            # invariant: model(failing) does not meet the target
    while True:
        high = failing + step
        if high > MAX_AGENTS:
            raise ValueError(f"no staffing up to {MAX_AGENTS} agents meets the target")
        found = model(high)
        if meets(found):
            break
        failing, step = high, step * 2
    while high - failing > 1:         # bisect (failing, high]
        middle = (failing + high) // 2
        trial = model(middle)
        if meets(trial):
            high, found = middle, trial
        else:
            failing = middle
    return found


def erlang_c_agents(calls: float, aht_s: float, interval_s: float, *, target_service_level: float,
                    threshold_s: float, max_occupancy: float = 1.0) -> Prediction:
    """Erlang C: the fewest agents answering ``target_service_level`` of the calls within
    ``threshold_s`` with occupancy at most ``max_occupancy``.

    Lower bound: N > A (a stable queue) and N >= A / cap (occupancy is A/N)."""
    _check_targets(target_service_level, max_occupancy)
    traffic = traffic_erlangs(calls, aht_s, interval_s)
    return agents_needed(lambda n: erlang_c_prediction(n, traffic, aht_s, threshold_s), traffic,
                         target_service_level=target_service_level, max_occupancy=max_occupancy,
                         lower_bound=max(math.floor(traffic) + 1, math.ceil(traffic / max_occupancy - 1e-9)))


def erlang_a_agents(calls: float, aht_s: float, interval_s: float, *, target_service_level: float,
                    threshold_s: float, patience_s: float, max_occupancy: float = 1.0) -> Prediction:
    """Erlang A: as :func:`erlang_c_agents` with callers who abandon after a mean ``patience_s``.

    Lower bound: N >= A × target, since at most N/A of the callers can be
    answered (answered calls/s <= N·μ). The occupancy cap gives none here:
    abandons lower the carried load below A."""
    if math.isinf(patience_s):
        return erlang_c_agents(calls, aht_s, interval_s, target_service_level=target_service_level,
                               threshold_s=threshold_s, max_occupancy=max_occupancy)
    traffic = traffic_erlangs(calls, aht_s, interval_s)
    return agents_needed(lambda n: erlang_a_prediction(n, traffic, aht_s, threshold_s, patience_s), traffic,
                         target_service_level=target_service_level, max_occupancy=max_occupancy,
                         lower_bound=math.ceil(traffic * target_service_level - 1e-9))
