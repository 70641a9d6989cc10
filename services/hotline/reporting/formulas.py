"""Contact-center figures from per-call facts. Pure: no I/O, no engine.

Every definition here is written out in docs/metrics.md; keep the two in
step. In short, for one queue and one interval:

- offered: calls that entered the queue (a queue name and an enqueue time)
  in the interval, whatever became of them, except ``DISPOSITION_ENDED_IN_IVR``
  (those never reached a queue). Failed calls that had been queued count.
- answered: offered calls connected to an agent (``DISPOSITION_ANSWERED``).
  Every answered call is a handled call.
- abandoned: offered calls whose caller hung up while queued
  (``DISPOSITION_ABANDONED``), however short the wait (no short-abandon rule).
- answered within T: answered calls whose queue wait is <= T.
- service level = answered within T / offered: abandons (and failed calls)
  count against it, at any wait.
- abandon rate = abandoned / offered.
- ASA = sum of queue waits of answered calls / answered.
- AHT = (talk + hold + wrap-up) / handled. A CDR's ``talk_us`` is already
  end - connect with hold included, so handle time = talk_us + wrap-up; hold
  is not added a second time.
- A ratio whose denominator is 0 is 0.0 (offered = 0 tells "no calls").

A call belongs to the interval (and queue) in which it entered the queue,
and so do its wait, talk, hold and wrap-up.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

US = 1_000_000

ANSWERED = "DISPOSITION_ANSWERED"
ABANDONED = "DISPOSITION_ABANDONED"
ENDED_IN_IVR = "DISPOSITION_ENDED_IN_IVR"
FAILED = "DISPOSITION_FAILED"

STANDARD_INTERVALS_S = (900, 1800, 3600, 86400)


@dataclasses.dataclass(frozen=True)
class CallFacts:
    """What reporting needs to know of one call (from its CDR and wrap-up)."""

    queue: str
    disposition: str            # a Disposition name, e.g. "DISPOSITION_ANSWERED"
    enqueue_us: int
    connect_us: int = 0
    queue_wait_us: int = 0      # connect (answered) or end (abandoned) minus enqueue
    talk_us: int = 0            # end minus connect, hold included
    hold_us: int = 0
    wrap_up_us: int = 0         # the agents' wrap-up after this call, summed


@dataclasses.dataclass(frozen=True)
class IntervalCounts:
    """Additive totals: counts and sums of µs. Two of them add up to one."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_within_threshold: int = 0
    handled: int = 0
    answered_wait_us: int = 0   # sum of queue waits of answered calls
    talk_us: int = 0            # hold included
    hold_us: int = 0
    wrap_up_us: int = 0

    def __add__(self, other: "IntervalCounts") -> "IntervalCounts":
        return IntervalCounts(*(getattr(self, f.name) + getattr(other, f.name)
                                for f in dataclasses.fields(self)))


@dataclasses.dataclass(frozen=True)
class IntervalFigures:
    """One row of an interval report (IntervalRow in reporting.proto)."""

    queue: str
    interval_start_us: int
    offered: int
    answered: int
    abandoned: int
    answered_within_threshold: int
    asa_s: float
    aht_s: float
    service_level: float
    abandon_rate: float
    talk_s: float
    hold_s: float
    wrap_up_s: float


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, and 0.0 when there is nothing to divide by."""
    return numerator / denominator if denominator else 0.0


def asa_s(answered_wait_us: int, answered: int) -> float:
    """Average speed of answer in seconds: queue wait of answered calls / answered."""
    return ratio(answered_wait_us, answered) / US


def aht_s(talk_us: int, wrap_up_us: int, handled: int) -> float:
    """Average handle time in seconds: (talk + hold + wrap-up) / handled, where
    ``talk_us`` is the CDR's connected time, hold already included."""
    return ratio(talk_us + wrap_up_us, handled) / US


def service_level(answered_within_threshold: int, offered: int) -> float:
    """Answered within the threshold / offered (abandons count against), 0..1."""
    return ratio(answered_within_threshold, offered)


def abandon_rate(abandoned: int, offered: int) -> float:
    """Abandoned / offered, 0..1."""
    return ratio(abandoned, offered)


def is_offered(call: CallFacts) -> bool:
    """Did the call reach a queue? (queue named, enqueued, not ended in the IVR)"""
    return bool(call.queue) and call.enqueue_us > 0 and call.disposition != ENDED_IN_IVR


def answer_wait_us(call: CallFacts) -> int:
    """The queue wait of an answered call (the CDR's, or connect - enqueue if it has none)."""
    if call.queue_wait_us > 0:
        return call.queue_wait_us
    if call.connect_us and call.enqueue_us:
        return max(0, call.connect_us - call.enqueue_us)
    return 0


def count_call(call: CallFacts, threshold_us: int) -> IntervalCounts:
    """The contribution of one call to its queue's interval."""
    if not is_offered(call):
        return IntervalCounts()
    if call.disposition == ANSWERED:
        wait = answer_wait_us(call)
        return IntervalCounts(offered=1, answered=1, handled=1,
                              answered_within_threshold=int(wait <= threshold_us),
                              answered_wait_us=wait, talk_us=max(0, call.talk_us),
                              hold_us=max(0, call.hold_us), wrap_up_us=max(0, call.wrap_up_us))
    if call.disposition == ABANDONED:
        return IntervalCounts(offered=1, abandoned=1)
    return IntervalCounts(offered=1)


def interval_start_us(enqueue_us: int, from_us: int, interval_us: int) -> int:
    """Start of the interval holding ``enqueue_us``; intervals are laid from ``from_us``."""
    return from_us + (enqueue_us - from_us) // interval_us * interval_us


def figures(queue: str, start_us: int, counts: IntervalCounts) -> IntervalFigures:
    return IntervalFigures(
        queue=queue, interval_start_us=start_us,
        offered=counts.offered, answered=counts.answered, abandoned=counts.abandoned,
        answered_within_threshold=counts.answered_within_threshold,
        asa_s=asa_s(counts.answered_wait_us, counts.answered),
        aht_s=aht_s(counts.talk_us, counts.wrap_up_us, counts.handled),
        service_level=service_level(counts.answered_within_threshold, counts.offered),
        abandon_rate=abandon_rate(counts.abandoned, counts.offered),
        talk_s=counts.talk_us / US, hold_s=counts.hold_us / US, wrap_up_s=counts.wrap_up_us / US,
    )


def assemble(calls: Iterable[CallFacts], *, from_us: int, to_us: int, interval_s: int,
             threshold_s: int, total_queue: str = "") -> tuple[list[IntervalFigures], IntervalFigures]:
    """Per (queue, interval) rows, sorted by queue then time, and the total row.

    Only calls offered in [from_us, to_us) count. Intervals are laid from
    ``from_us`` in steps of ``interval_s``; an interval with no offered call
    has no row. The total row covers the whole range and every listed queue
    (its ``queue`` is ``total_queue``, its start ``from_us``); its ratios come
    from the summed counts, never from averaging the rows.
    """
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    if to_us <= from_us:
        raise ValueError("to_us must be after from_us")
    interval_us = interval_s * US
    threshold_us = threshold_s * US
    buckets: dict[tuple[str, int], IntervalCounts] = {}
    total = IntervalCounts()
    for call in calls:
        if not (from_us <= call.enqueue_us < to_us) or not is_offered(call):
            continue
        counts = count_call(call, threshold_us)
        key = (call.queue, interval_start_us(call.enqueue_us, from_us, interval_us))
        buckets[key] = buckets.get(key, IntervalCounts()) + counts
        total = total + counts
    rows = [figures(queue, start, counts) for (queue, start), counts in sorted(buckets.items())]
    return rows, figures(total_queue, from_us, total)
