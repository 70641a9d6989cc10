"""Expected wait time (EWT) per queue: pure, no I/O, O(servers) per estimate.

The routing service feeds it events (a call answered with its handle time, a
call abandoned after waiting, optionally the queue's staffing) and asks it,
for a caller at a given position, how long until an agent answers. The clock
is passed in (µs), as for the ACD. docs/metrics.md, "Expected wait time (EWT)",
has the same formula with the measured accuracy.

Inputs, per queue
-----------------
- AHT and its variance: exponentially decayed (time-based, half-life
  ``half_life_s``) mean and second moment of handle times (talk + wrap-up).
  A handle time seen ``half_life_s`` ago weighs half as much as one seen now.
- θ, the abandon hazard (1/s): decayed abandons ÷ decayed seconds callers
  spent waiting (answered and abandoned calls). Exponential patience makes this
  the maximum-likelihood estimate. It needs the waits of answered calls
  (``call_answered(..., waited_s=...)``): while more than 1 % of the (decayed)
  answered calls came without one, θ = 0 and the adjustment is off.
- c, the servers: agents serving the queue who are ready or busy (not those
  logged out or not ready), and when known the start times of the busy agents'
  current calls (``busy_since_us``); i = c − busy of them are free.
- k, the caller's position: 1 + the calls ahead of it with equal or higher
  priority.

Formula
-------
If k ≤ i (an agent is free for the caller): EWT = 0. Without busy_since_us
all c agents count as busy (i = 0). Otherwise k' = k − i answers must happen,
this caller's included, and with h = AHT / c (the mean gap between answers
while all c agents are busy):

    T1  = time to the first answer:
          h                                 without busy_since_us
          1 / Σ_j 1/r_j                     with the busy agents' call starts:
                                            r_j = E[H − a_j | H > a_j] is the mean
                                            residual handle time of busy agent j,
                                            whose call has lasted a_j, for H
                                            lognormal with the decayed mean and
                                            variance; the agents' answer rates
                                            1/r_j add up
    m1  = (k' − 1)·e^(−θ·T1)                the callers ahead still waiting then
    W   = T1 + ln(1 + θ·h·m1) / θ           the wait of a caller who never hangs up:
                                            after T1, a fluid queue of m1 callers
                                            drains at 1/h answers plus θ·m hang-ups
                                            per second (= T1 + m1·h when θ = 0)
    EWT = W / (1 + θ·W / k')                the mean wait of the callers at this
                                            position who are answered

The last step (``answered_only=True``, the default) matches what ASA
measures: callers who would wait longer hang up more often, so those who are
answered waited less than W. For a wait ≈ Gamma(shape k', mean W) and
exponential patience, E[wait | answered] = W / (1 + θ·W/k') exactly. With
θ = 0 and no call starts all of this is the textbook EWT = k'·AHT / c.
EWT never decreases with the position and never increases with the servers.

Cold start and confidence
-------------------------
With no handle time yet the queue's ``default_handle_s`` stands in (basis
"cold start", with the variance of exponential handle times, AHT²); without
one the estimate is NaN. ``known`` is True only when
the queue has at least ``min_samples`` handle times (and c > 0), or when an
agent is free (EWT 0 is then known without history). With c = 0 the wait is
infinite and not known.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterable, Sequence

from hotline.common.errors import InvalidArgument

US = 1_000_000
_SQRT2 = math.sqrt(2.0)


class InvalidEwtInput(InvalidArgument, ValueError):
    """Rejected input (a ``ValueError`` too); ``field`` names the argument."""


@dataclasses.dataclass(frozen=True)
class Estimate:
    seconds: float          # NaN when unknown, inf when no agent serves the queue
    known: bool             # enough history to announce it
    basis: str              # how it was computed, for logs and supervisors


@dataclasses.dataclass
class _QueueStats:
    """Decayed sums, all as of ``at_us``."""

    default_handle_s: float | None = None
    at_us: int | None = None
    handled: int = 0                     # handle times accepted (not decayed)
    weight: float = 0.0                  # Σ w
    handle_sum: float = 0.0              # Σ w·h
    handle_squares: float = 0.0          # Σ w·h²
    answered: float = 0.0                # Σ w over answered calls
    unreported_waits: float = 0.0        # Σ w over answered calls without waited_s
    abandoned: float = 0.0               # Σ w over abandoned calls
    exposure_s: float = 0.0              # Σ w·waited_s over answered and abandoned calls
    servers: int | None = None           # last staffing_changed()
    busy_since_us: tuple[int, ...] | None = None


def _positive_number(field: str, value: object, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEwtInput(field, f"must be a number of seconds, not {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InvalidEwtInput(field, f"must be a finite number {'>=' if allow_zero else '>'} 0, not {value!r}")
    return value


def _count(field: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEwtInput(field, f"must be an integer, not {value!r}")
    if value < minimum:
        raise InvalidEwtInput(field, f"must be >= {minimum}, not {value}")
    return value


def _upper_tail(x: float) -> float:
    """P(Z > x) for a standard normal Z, accurate far into the tail."""
    return 0.5 * math.erfc(x / _SQRT2)


def mean_residual_s(elapsed_s: float, mean_s: float, variance: float) -> float:
    """E[H − a | H > a] for H lognormal with the given mean and variance,
    a = elapsed_s: how much longer a call that has lasted a will take."""
    if mean_s <= 0:
        return 0.0
    if elapsed_s <= 0:
        return mean_s
    sigma2 = math.log1p(max(variance, 0.0) / (mean_s * mean_s))
    if sigma2 < 1e-9:                                   # (nearly) constant handle times
        return max(mean_s - elapsed_s, 0.0)
    sigma = math.sqrt(sigma2)
    mu = math.log(mean_s) - sigma2 / 2
    z = (math.log(elapsed_s) - mu) / sigma
    survival = _upper_tail(z)
    if survival < 1e-300:                               # far tail: E ~ σ²·a / (ln a − μ)
        return sigma2 * elapsed_s / max(math.log(elapsed_s) - mu, 1e-9)
    partial_mean = mean_s * _upper_tail(z - sigma)      # E[H; H > a]
    return max(partial_mean / survival - elapsed_s, 0.0)


class EwtEstimator:
    """Expected wait per queue from decayed history. Not thread-safe: one
    greenlet drives it, like the ACD."""

    def __init__(self, clock_us: Callable[[], int], *, half_life_s: float = 1800.0, min_samples: int = 5,
                 queues: Iterable[str] = (), default_handle_s: float | None = None,
                 answered_only: bool = True) -> None:
        self.clock_us = clock_us
        self.answered_only = answered_only
        self.half_life_s = _positive_number("half_life_s", half_life_s, allow_zero=False)
        self.min_samples = _count("min_samples", min_samples, 1)
        self.default_handle_s = (None if default_handle_s is None
                                 else _positive_number("default_handle_s", default_handle_s, allow_zero=False))
        self._queues: dict[str, _QueueStats] = {}
        for queue in queues:
            self.add_queue(queue)

    # -- queues ----------------------------------------------------------
    def add_queue(self, queue: str, *, default_handle_s: float | None = None) -> None:
        """Start estimating for a queue. Adding it again keeps its history and
        sets its default anew. default_handle_s: the handle time assumed until
        the queue's first handled call (None: the estimator's default)."""
        if not isinstance(queue, str) or not queue:
            raise InvalidEwtInput("queue", f"must be a non-empty name, not {queue!r}")
        default = (self.default_handle_s if default_handle_s is None
                   else _positive_number("default_handle_s", default_handle_s, allow_zero=False))
        self._queues.setdefault(queue, _QueueStats()).default_handle_s = default

    def remove_queue(self, queue: str) -> None:
        self._queues.pop(queue, None)

    def _stats(self, queue: str) -> _QueueStats:
        stats = self._queues.get(queue) if isinstance(queue, str) else None
        if stats is None:
            raise InvalidEwtInput("queue", f"no queue named {queue!r} (add_queue first)")
        return stats

    def _decay_to_now(self, stats: _QueueStats) -> None:
        now = self.clock_us()
        if stats.at_us is not None and now > stats.at_us:
            factor = 0.5 ** ((now - stats.at_us) / (self.half_life_s * US))
            stats.weight *= factor
            stats.handle_sum *= factor
            stats.handle_squares *= factor
            stats.answered *= factor
            stats.unreported_waits *= factor
            stats.abandoned *= factor
            stats.exposure_s *= factor
        if stats.at_us is None or now > stats.at_us:
            stats.at_us = now

    # -- events ------------------------------------------------------------
    def call_answered(self, queue: str, handle_s: float, waited_s: float | None = None) -> None:
        """A call of the queue was handled: handle_s = talk + wrap-up; waited_s =
        its time in queue before the answer (None: not reported)."""
        stats = self._stats(queue)
        # Below a millisecond a handle time is noise (and its square underflows).
        handle_s = max(_positive_number("handle_s", handle_s), 1e-3)
        if waited_s is not None:
            waited_s = _positive_number("waited_s", waited_s)
        self._decay_to_now(stats)
        stats.handled += 1
        stats.weight += 1.0
        stats.handle_sum += handle_s
        stats.handle_squares += handle_s * handle_s
        stats.answered += 1.0
        if waited_s is None:
            stats.unreported_waits += 1.0
        else:
            stats.exposure_s += waited_s

    def call_abandoned(self, queue: str, waited_s: float) -> None:
        """A caller of the queue hung up after waiting waited_s."""
        stats = self._stats(queue)
        waited_s = max(_positive_number("waited_s", waited_s), 1e-3)    # as handle times: no sub-ms noise
        self._decay_to_now(stats)
        stats.abandoned += 1.0
        stats.exposure_s += waited_s

    def staffing_changed(self, queue: str, servers: int, busy_since_us: Sequence[int] | None = None) -> None:
        """The agents serving the queue changed: servers = ready + busy agents,
        busy_since_us = the busy agents' current call starts (None: unknown).
        estimate() uses them when it is not given its own."""
        stats = self._stats(queue)
        servers = _count("servers", servers, 0)
        busy = self._busy("busy_since_us", busy_since_us, servers)
        stats.servers, stats.busy_since_us = servers, busy

    @staticmethod
    def _busy(field: str, busy_since_us: Sequence[int] | None, servers: int) -> tuple[int, ...] | None:
        if busy_since_us is None:
            return None
        busy = tuple(busy_since_us)
        if len(busy) > servers:
            raise InvalidEwtInput(field, f"{len(busy)} busy agents but only {servers} servers")
        for start in busy:
            if isinstance(start, bool) or not isinstance(start, int):
                raise InvalidEwtInput(field, f"call starts must be integers (µs), not {start!r}")
        return busy

    # -- figures -----------------------------------------------------------
    def handle_time(self, queue: str) -> tuple[float, float, int] | None:
        """(AHT s, variance s², handle times seen), or None before the first."""
        stats = self._stats(queue)
        if stats.weight <= 0:
            return None
        mean = stats.handle_sum / stats.weight
        variance = max(stats.handle_squares / stats.weight - mean * mean, 0.0)
        return mean, variance, stats.handled

    def abandon_hazard(self, queue: str) -> float:
        """θ (1/s): decayed abandons ÷ decayed seconds waited; 0 when unknown."""
        stats = self._stats(queue)
        if stats.abandoned <= 0 or stats.exposure_s <= 0:
            return 0.0
        if stats.unreported_waits > 0.01 * stats.answered:
            return 0.0
        return stats.abandoned / stats.exposure_s

    def estimate(self, queue: str, position: int, servers: int | None = None,
                 busy_since_us: Sequence[int] | None = None) -> Estimate:
        """EWT of the caller at ``position`` (1-based among calls ahead with equal
        or higher priority) with ``servers`` agents serving the queue (ready or
        busy); busy_since_us: the busy agents' call starts (µs). Without servers,
        the last staffing_changed() applies."""
        stats = self._stats(queue)
        position = _count("position", position, 1)
        if servers is None:
            if stats.servers is None:
                raise InvalidEwtInput("servers", "not given and no staffing_changed() for the queue")
            servers = stats.servers
            busy = (stats.busy_since_us if busy_since_us is None
                    else self._busy("busy_since_us", busy_since_us, servers))
        else:
            servers = _count("servers", servers, 0)
            busy = self._busy("busy_since_us", busy_since_us, servers)

        if servers == 0:
            return Estimate(math.inf, False, "no agent serves the queue")
        free = 0 if busy is None else servers - len(busy)
        if position <= free:
            return Estimate(0.0, True, f"an agent is free ({free} of {servers})")

        figures = self.handle_time(queue)
        if figures is None:
            if stats.default_handle_s is None:
                return Estimate(math.nan, False, "unknown: no handle time yet for the queue")
            aht, variance, seen = stats.default_handle_s, stats.default_handle_s ** 2, 0
            basis = f"cold start: default AHT {aht:g} s"
        else:
            aht, variance, seen = figures
            basis = f"AHT {aht:.1f} s from {seen} calls"
        theta = self.abandon_hazard(queue)
        ahead = position - free                          # k': answers needed, this caller's included
        gap = aht / servers                              # h
        if busy:
            now = self.clock_us()
            rate = 0.0
            for start in busy:
                residual = mean_residual_s(max(now - start, 0) / US, aht, variance)
                rate += 1.0 / max(residual, 1e-3)
            first = 1.0 / rate
            basis += f", next answer in {first:.1f} s from {len(busy)} busy agents"
        else:
            first = gap
        still_ahead = (ahead - 1) * math.exp(-theta * first)     # m1
        drain = math.log1p(theta * still_ahead * gap) / theta if theta > 0 else still_ahead * gap
        seconds = first + drain                                   # W
        if theta > 0 and self.answered_only:
            seconds /= 1.0 + theta * seconds / ahead
        basis += f", position {position}, {servers} servers"
        if theta > 0:
            basis += f", abandon hazard {theta * 3600:.1f}/h"
        return Estimate(seconds, seen >= self.min_samples, basis)
