"""How far off is the EWT? A deterministic discrete-event simulation of one
queue (M/G/c with abandonment): Poisson arrivals, lognormal or gamma handle
times, c agents, exponential patience, first come first served.

At each arrival the caller asks the estimator (hotline.routing.ewt) for its
EWT, with its position and the agents' call starts taken from the simulation,
and history fed only from calls that have ended so far. For callers who are
answered, |EWT − actual wait| is recorded; callers who hang up are counted
apart. Two baselines get the same inputs: "naive" = position × AHT and
"textbook" = position × AHT / c (both 0 when an agent is free, as for EWT).

Reproduce the figures in docs/metrics.md with
``.venv/bin/python -m hotline.routing.ewt_sim`` (seeded: same table every run).
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import heapq
import math
import random
from typing import Callable, Iterable, Sequence

from hotline.routing.ewt import US, EwtEstimator

QUEUE = "sim"


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    agents: int                          # c
    load: float                          # offered load per agent: λ·AHT / c
    calls: int = 20_000                  # arrivals simulated
    aht_s: float = 300.0                 # mean handle time (talk + wrap-up)
    handle_cv: float = 1.0               # coefficient of variation of handle times
    handle_dist: str = "lognormal"       # or "gamma"
    patience_s: float | None = None      # mean patience (exponential); None: nobody abandons
    seed: int = 1


@dataclasses.dataclass(frozen=True)
class Sample:
    """One answered caller whose EWT was known at arrival."""

    behind: int                          # answers needed before its own, its own included (0: an agent was free)
    ewt_s: float
    naive_s: float
    textbook_s: float
    wait_s: float                        # actual


@dataclasses.dataclass(frozen=True)
class Result:
    scenario: Scenario
    served: int                          # answered callers
    estimated: int                       # of them, with a known EWT at arrival (the sample)
    abandoned: int
    queued_share: float                  # share of the sample that found no agent free
    mean_wait_s: float                   # mean actual wait of the sample
    median_abs_error_s: float
    p90_abs_error_s: float
    naive_median_abs_error_s: float      # position × AHT
    textbook_median_abs_error_s: float   # position × AHT / c
    # The same for the callers who found no agent free (the ones an EWT is announced to)
    queued_mean_wait_s: float
    queued_median_abs_error_s: float
    queued_p90_abs_error_s: float
    queued_naive_median_abs_error_s: float
    queued_textbook_median_abs_error_s: float

    @property
    def relative_error(self) -> float:
        """Median absolute error as a fraction of the mean wait."""
        return self.median_abs_error_s / self.mean_wait_s if self.mean_wait_s > 0 else math.nan

    @property
    def queued_relative_error(self) -> float:
        return (self.queued_median_abs_error_s / self.queued_mean_wait_s if self.queued_mean_wait_s > 0
                else math.nan)


DEFAULT_SCENARIOS = (
    Scenario("c=5 light", 5, 0.70),
    Scenario("c=5 heavy", 5, 0.95),
    Scenario("c=5 heavy, abandons", 5, 0.95, patience_s=300.0),
    Scenario("c=5 heavy, gamma", 5, 0.95, handle_dist="gamma"),
    Scenario("c=50 light", 50, 0.70),
    Scenario("c=50 heavy", 50, 0.95),
    Scenario("c=50 heavy, abandons", 50, 0.95, patience_s=120.0),
    Scenario("c=50 overload, abandons", 50, 1.10, patience_s=120.0),
)


def _handle_sampler(scenario: Scenario, rng: random.Random) -> Callable[[], float]:
    mean, cv = scenario.aht_s, scenario.handle_cv
    if scenario.handle_dist == "lognormal":
        sigma = math.sqrt(math.log1p(cv * cv))
        mu = math.log(mean) - sigma * sigma / 2
        return lambda: rng.lognormvariate(mu, sigma)
    if scenario.handle_dist == "gamma":
        shape = 1.0 / (cv * cv)
        return lambda: rng.gammavariate(shape, mean / shape)
    raise ValueError(f"handle_dist: must be 'lognormal' or 'gamma', not {scenario.handle_dist!r}")


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = q * (len(sorted_values) - 1)
    low = math.floor(index)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (index - low)


def run(scenario: Scenario, *, make_estimator: Callable[[Callable[[], int]], EwtEstimator] | None = None
        ) -> tuple[list[Sample], int, int]:
    """One seeded run: (samples, answered callers, abandoned callers).
    make_estimator(clock_us) builds the estimator under test (default:
    EwtEstimator with its defaults)."""
    rng = random.Random(scenario.seed)
    handle = _handle_sampler(scenario, rng)
    c = scenario.agents
    arrival_rate = scenario.load * c / scenario.aht_s
    now = 0.0

    def clock_us() -> int:
        return int(now * US)

    estimator = (make_estimator or EwtEstimator)(clock_us)
    estimator.add_queue(QUEUE)

    # events: (time, seq, kind, payload); kinds: 0 arrival, 1 end of a call (agent), 2 patience over (caller)
    events: list[tuple[float, int, int, int]] = []
    seq = 0

    def schedule(at: float, kind: int, payload: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, payload))

    busy_since: dict[int, float] = {}            # agent -> start of its current call (s)
    call_wait: dict[int, float] = {}             # agent -> wait of its current call (s)
    free_agents = list(range(c))
    waiting: collections.OrderedDict[int, float] = collections.OrderedDict()   # caller -> arrival (s)
    predicted: dict[int, tuple[int, float, float, float]] = {}   # caller -> (behind, ewt, naive, textbook)
    samples: list[Sample] = []
    served = abandoned = 0

    def answer(caller: int, arrived: float) -> None:
        nonlocal served
        agent = free_agents.pop()
        wait = now - arrived
        busy_since[agent], call_wait[agent] = now, wait
        schedule(now + handle(), 1, agent)
        served += 1
        guess = predicted.pop(caller, None)
        if guess is not None:
            samples.append(Sample(*guess, wait))

    schedule(rng.expovariate(arrival_rate), 0, 0)
    arrivals = 0
    while events:
        now, _, kind, payload = heapq.heappop(events)
        if kind == 0:                                             # a caller arrives
            caller = arrivals
            arrivals += 1
            if arrivals < scenario.calls:
                schedule(now + rng.expovariate(arrival_rate), 0, 0)
            position = len(waiting) + 1
            starts = [int(t * US) for t in busy_since.values()]
            estimate = estimator.estimate(QUEUE, position, c, starts)
            if estimate.known:
                free = c - len(starts)
                figures = estimator.handle_time(QUEUE)
                aht = figures[0] if figures else 0.0
                behind = max(position - free, 0)
                predicted[caller] = (behind, estimate.seconds, behind * aht, behind * aht / c)
            if free_agents and not waiting:
                answer(caller, now)
            else:
                waiting[caller] = now
                if scenario.patience_s is not None:
                    schedule(now + rng.expovariate(1.0 / scenario.patience_s), 2, caller)
        elif kind == 1:                                           # an agent's call (and wrap-up) ends
            agent = payload
            estimator.call_answered(QUEUE, now - busy_since.pop(agent), waited_s=call_wait.pop(agent))
            free_agents.append(agent)
            if waiting:
                caller, arrived = waiting.popitem(last=False)
                answer(caller, arrived)
        else:                                                     # a caller's patience runs out
            arrived = waiting.pop(payload, None)
            if arrived is not None:
                abandoned += 1
                predicted.pop(payload, None)
                estimator.call_abandoned(QUEUE, now - arrived)

    return samples, served, abandoned


def simulate(scenario: Scenario, *, make_estimator: Callable[[Callable[[], int]], EwtEstimator] | None = None
             ) -> Result:
    samples, served, abandoned = run(scenario, make_estimator=make_estimator)
    queued = [s for s in samples if s.behind > 0]

    def errors(of: list[Sample], field: str) -> list[float]:
        return sorted(abs(getattr(s, field) - s.wait_s) for s in of)

    def mean_wait(of: list[Sample]) -> float:
        return sum(s.wait_s for s in of) / len(of) if of else math.nan

    ewt_errors, queued_errors = errors(samples, "ewt_s"), errors(queued, "ewt_s")
    return Result(
        scenario=scenario, served=served, estimated=len(samples), abandoned=abandoned,
        queued_share=len(queued) / len(samples) if samples else math.nan,
        mean_wait_s=mean_wait(samples),
        median_abs_error_s=_quantile(ewt_errors, 0.5), p90_abs_error_s=_quantile(ewt_errors, 0.9),
        naive_median_abs_error_s=_quantile(errors(samples, "naive_s"), 0.5),
        textbook_median_abs_error_s=_quantile(errors(samples, "textbook_s"), 0.5),
        queued_mean_wait_s=mean_wait(queued),
        queued_median_abs_error_s=_quantile(queued_errors, 0.5),
        queued_p90_abs_error_s=_quantile(queued_errors, 0.9),
        queued_naive_median_abs_error_s=_quantile(errors(queued, "naive_s"), 0.5),
        queued_textbook_median_abs_error_s=_quantile(errors(queued, "textbook_s"), 0.5))


def evaluate(scenarios: Iterable[Scenario] = DEFAULT_SCENARIOS, *,
             make_estimator: Callable[[Callable[[], int]], EwtEstimator] | None = None) -> list[Result]:
    return [simulate(s, make_estimator=make_estimator) for s in scenarios]


def _ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0%}"


def format_results(results: Iterable[Result]) -> str:
    """Two blocks of columns: all answered callers with a known EWT, then the
    queued ones among them (no agent free at arrival). Errors are absolute
    (|EWT − actual wait|), in seconds."""
    header = ("scenario", "load", "answered", "estimated", "abandoned", "mean wait", "median err", "p90 err",
              "err/wait", "naive", "textbook", "| queued", "mean wait", "median err", "p90 err", "err/wait",
              "naive", "textbook")
    rows = [header]
    for r in results:
        rows.append((r.scenario.name, f"{r.scenario.load:.2f}", str(r.served), str(r.estimated), str(r.abandoned),
                     f"{r.mean_wait_s:.1f}", f"{r.median_abs_error_s:.1f}", f"{r.p90_abs_error_s:.1f}",
                     _ratio(r.relative_error), f"{r.naive_median_abs_error_s:.1f}",
                     f"{r.textbook_median_abs_error_s:.1f}", f"| {_ratio(r.queued_share)}",
                     f"{r.queued_mean_wait_s:.1f}", f"{r.queued_median_abs_error_s:.1f}",
                     f"{r.queued_p90_abs_error_s:.1f}", _ratio(r.queued_relative_error),
                     f"{r.queued_naive_median_abs_error_s:.1f}",
                     f"{r.queued_textbook_median_abs_error_s:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hotline bench ewt",
        description="Measure the expected-wait-time estimator against a simulated queue (seeded).")
    parser.add_argument("--calls", type=int, default=None, help="arrivals per scenario (default: each scenario's)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: each scenario's)")
    args = parser.parse_args(argv)
    scenarios = [dataclasses.replace(s, **{k: v for k, v in (("calls", args.calls), ("seed", args.seed))
                                          if v is not None})
                 for s in DEFAULT_SCENARIOS]
    print(format_results(evaluate(scenarios)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
