"""Contact-center figures from additive counts. Pure: no I/O, no engine.

docs/metrics.md is the authority for every definition here; keep the two in
step. The roll-ups (hotline.reporting.rollup) store additive counts, sums
of µs and wait histograms per 15-minute bucket; the reports
(hotline.reporting.queries) add them up over an interval in SQL and hand
them to this module, which does every division and every "within the
threshold" choice, so the arithmetic lives in one tested place.

In short (for one member — queue, agent, skill or DNIS — and one interval):

- offered: calls that entered a queue (the CDR names a queue and an enqueue
  time, and its disposition is not ENDED_IN_IVR); a callback's own CDR is
  not a new offered call.
- short abandon: an abandon whose queue wait is <= the short-abandon
  threshold (default 5 s); it is left out of the abandon rate and of the
  service level's offered calls.
- service level, Cisco ICM's three modes, with offered' = offered - short
  abandons and A_T = abandons after the short threshold and within T:
  ignored = answered_T / (offered' - A_T), against = answered_T / offered',
  for = (answered_T + A_T) / offered'.
- abandon rate = (abandoned - short) / (offered - short).
- ASA = answered wait / answered; AHT = (talk + wrap-up) / handled (talk
  already includes hold); occupancy = (reserved + on call + wrap-up) /
  (ready + reserved + on call + wrap-up).
- IVR: containment = completed / calls that entered the flow; drop-off of a
  node = hang-ups at the node / visits.
- A ratio whose denominator is 0 is 0.0.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

from hotline.common.errors import InvalidArgument

US = 1_000_000
BUCKET_S = 900                       # roll-up bucket: 15 minutes (migration 0003)
BUCKET_US = BUCKET_S * US
HIST_STEP_S = 5                      # wait histograms: 5-second slots ...
HIST_SLOTS = 62                      # slot 0 = 0 s, slot k = (5(k-1), 5k] s for k = 1..60, slot 61 = over 300 s
MAX_THRESHOLD_S = (HIST_SLOTS - 2) * HIST_STEP_S      # 300 s: the last threshold the histogram can answer
STANDARD_INTERVALS_S = (900, 1800, 3600, 86400)

ANSWERED = "DISPOSITION_ANSWERED"
ABANDONED = "DISPOSITION_ABANDONED"
ENDED_IN_IVR = "DISPOSITION_ENDED_IN_IVR"
FAILED = "DISPOSITION_FAILED"
OVERFLOWED = "DISPOSITION_OVERFLOWED"
CALLBACK = "DISPOSITION_CALLBACK"
REJECTED = "DISPOSITION_REJECTED"

# QUEUE_OFFER_FAILED causes that were not the agent's doing (routing's
# offer_failed(agent_missed=False)): another agent answered a ring-all first,
# the agent leg was gone at bridge time, the switch was unknown or unreachable,
# or a callback's customer did not answer (cause "CALLBACK_<cause>").
NOT_MISSED_CAUSES = ("LOSE_RACE", "AGENT_LEG_ENDED", "NODE_UNKNOWN", "SWITCH_UNREACHABLE")
NOT_MISSED_PREFIX = "CALLBACK_"

# Agent states (AgentState names) whose time counts as logged in / working.
LOGGED_OUT = "LOGGED_OUT"
AGENT_STATES = ("NOT_READY", "READY", "RESERVED", "ON_CALL", "WRAP_UP")


# --- buckets and histograms ----------------------------------------------------

def bucket_us(t_us: int) -> int:
    """Start of the 15-minute bucket holding ``t_us`` (UTC µs); the same as
    ClickHouse's ``intDiv(t, 900000000) * 900000000`` for t >= 0."""
    return t_us // BUCKET_US * BUCKET_US


def buckets_between(from_us: int, to_us: int) -> list[int]:
    """Every bucket the half-open interval [from_us, to_us) overlaps."""
    if to_us <= from_us:
        return []
    return list(range(bucket_us(from_us), bucket_us(to_us - 1) + BUCKET_US, BUCKET_US))


def wait_slot(wait_us: int) -> int:
    """The histogram slot of a queue wait: 0 for 0 s, k for 5(k-1) s < wait <= 5k s,
    61 for more than 300 s (the SQL in rollup.py computes the same)."""
    if wait_us <= 0:
        return 0
    step = HIST_STEP_S * US
    return min(HIST_SLOTS - 1, (wait_us + step - 1) // step)


def slots_upto(threshold_s: int) -> int:
    """How many leading histogram slots hold the waits <= threshold_s (0 for a negative threshold: none)."""
    return threshold_s // HIST_STEP_S + 1 if threshold_s >= 0 else 0


def within(hist: Sequence[int], threshold_s: int) -> int:
    """Calls in a wait histogram whose wait is <= threshold_s (a multiple of 5, <= 300):
    the sum of slots 0 .. threshold_s / 5 (the SQL does the same with arraySlice)."""
    return sum(hist[: slots_upto(threshold_s)])


# --- request checks (pure; InvalidArgument names the field) ------------------------

def check_threshold_s(field: str, value: int) -> int:
    """A wait threshold the histograms can answer exactly: a multiple of 5 s, 0..300."""
    if value < 0 or value > MAX_THRESHOLD_S or value % HIST_STEP_S:
        raise InvalidArgument(field, f"must be a multiple of {HIST_STEP_S} seconds between 0 and "
                                     f"{MAX_THRESHOLD_S} (the roll-ups keep waits in {HIST_STEP_S}-second slots)")
    return value


def check_range(from_us: int, to_us: int) -> None:
    """[from_us, to_us): from 0 or more, to after from."""
    if from_us < 0:
        raise InvalidArgument("from_us", "must be µs since the epoch (0 or more)")
    if to_us <= from_us:
        raise InvalidArgument("to_us", "must be after from_us (the range is [from_us, to_us))")


def check_aligned(from_us: int, to_us: int) -> None:
    """Both ends on 15-minute boundaries: the roll-ups' buckets cannot be split."""
    for field, value in (("from_us", from_us), ("to_us", to_us)):
        if value % BUCKET_US:
            raise InvalidArgument(field, "must be a multiple of 15 minutes (900 s): reports read 15-minute roll-ups")


def check_interval_s(interval_s: int, from_us: int, to_us: int, *, max_intervals: int = 100_000) -> int:
    """A positive multiple of 900 s (900, 1800, 3600, 86400, or to_us - from_us for one custom interval)."""
    if interval_s <= 0 or interval_s % BUCKET_S:
        raise InvalidArgument("interval_s", "must be a positive multiple of 900 seconds (900, 1800, 3600, 86400, "
                                            "or to_us - from_us for the whole range); 0 means 1800")
    if to_us > from_us and (to_us - from_us) // (interval_s * US) > max_intervals:
        raise InvalidArgument("interval_s", f"gives more than {max_intervals} intervals over [from_us, to_us): "
                                            "choose a longer interval or a shorter range")
    return interval_s


# --- interval figures ------------------------------------------------------------

def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, and 0.0 when there is nothing to divide by."""
    return numerator / denominator if denominator > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class IntervalCounts:
    """Additive totals of one member over one interval (or the total row).

    ``short_abandoned``, ``answered_within`` and ``abandoned_within`` are read
    from the wait histograms for the request's thresholds; ``abandoned_within``
    counts only abandons after the short-abandon threshold and within T.
    """

    offered: int = 0
    answered: int = 0
    handled: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_within: int = 0
    abandoned_within: int = 0
    flowed_out: int = 0
    callbacks: int = 0
    rejected: int = 0
    failed: int = 0
    answered_wait_us: int = 0
    max_answered_wait_us: int = 0
    abandoned_wait_us: int = 0
    talk_us: int = 0            # hold included
    hold_us: int = 0
    wrap_up_us: int = 0

    def __add__(self, other: "IntervalCounts") -> "IntervalCounts":
        summed = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)}
        summed["max_answered_wait_us"] = max(self.max_answered_wait_us, other.max_answered_wait_us)
        return IntervalCounts(**summed)


def interval_counts(*, answered_upto_t: int, abandoned_upto_t: int, abandoned_upto_short: int,
                    **sums: int) -> IntervalCounts:
    """Counts for one row from the summed roll-up columns.

    ``answered_upto_t`` / ``abandoned_upto_t``: answered / abandoned calls with
    a queue wait <= T; ``abandoned_upto_short``: abandons with a wait <= the
    short-abandon threshold (0 when there is none), all read from the wait
    histograms (:func:`within`). ``sums`` are the additive columns named as
    IntervalCounts' fields (offered, answered, ...)."""
    return IntervalCounts(short_abandoned=abandoned_upto_short, answered_within=answered_upto_t,
                          abandoned_within=max(0, abandoned_upto_t - abandoned_upto_short), **sums)


def sl_offered(c: IntervalCounts) -> int:
    """The offered calls service level and abandon rate are computed on: short abandons left out."""
    return c.offered - c.short_abandoned


def service_level_abandons_ignored(c: IntervalCounts) -> float:
    """answered within T / (offered' - abandoned within T): abandons within T are left out."""
    return ratio(c.answered_within, sl_offered(c) - c.abandoned_within)


def service_level_abandons_against(c: IntervalCounts) -> float:
    """answered within T / offered': every abandon counts as a call not answered in time."""
    return ratio(c.answered_within, sl_offered(c))


def service_level_abandons_for(c: IntervalCounts) -> float:
    """(answered within T + abandoned within T) / offered': an abandon within T counts as met."""
    return ratio(c.answered_within + c.abandoned_within, sl_offered(c))


def abandon_rate(c: IntervalCounts) -> float:
    """(abandoned - short abandons) / (offered - short abandons), 0..1."""
    return ratio(c.abandoned - c.short_abandoned, sl_offered(c))


def asa_s(answered_wait_us: int, answered: int) -> float:
    """Average speed of answer in seconds: queue wait of answered calls / answered."""
    return ratio(answered_wait_us, answered) / US


def aht_s(talk_us: int, wrap_up_us: int, handled: int) -> float:
    """Average handle time in seconds: (talk + hold + wrap-up) / handled, where
    ``talk_us`` is the connected time, hold already included (so hold is not added twice)."""
    return ratio(talk_us + wrap_up_us, handled) / US


@dataclasses.dataclass(frozen=True)
class IntervalFigures:
    """One row of an interval report (IntervalRow in reporting.proto)."""

    member: str
    interval_start_us: int
    counts: IntervalCounts
    asa_s: float
    aht_s: float
    service_level_abandons_ignored: float
    service_level_abandons_against: float
    service_level_abandons_for: float
    abandon_rate: float
    max_wait_s: float
    avg_abandon_wait_s: float

    @property
    def service_level(self) -> float:
        """The headline service level: abandons counted against."""
        return self.service_level_abandons_against


def interval_figures(member: str, start_us: int, c: IntervalCounts) -> IntervalFigures:
    return IntervalFigures(
        member=member, interval_start_us=start_us, counts=c,
        asa_s=asa_s(c.answered_wait_us, c.answered),
        aht_s=aht_s(c.talk_us, c.wrap_up_us, c.handled),
        service_level_abandons_ignored=service_level_abandons_ignored(c),
        service_level_abandons_against=service_level_abandons_against(c),
        service_level_abandons_for=service_level_abandons_for(c),
        abandon_rate=abandon_rate(c),
        max_wait_s=c.max_answered_wait_us / US,
        avg_abandon_wait_s=ratio(c.abandoned_wait_us, c.abandoned) / US,
    )


def total_counts(rows: Iterable[IntervalCounts]) -> IntervalCounts:
    """The total row's counts: the rows' counts added up (never their ratios averaged)."""
    total = IntervalCounts()
    for c in rows:
        total = total + c
    return total


# --- agent figures -------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AgentCounts:
    """Additive totals of one agent over one interval: calls (call_stats_15m,
    dimension agent) and time per state (agent_time_15m)."""

    handled: int = 0
    offers: int = 0
    missed: int = 0
    talk_us: int = 0
    hold_us: int = 0
    wrap_up_us: int = 0            # wrap-up after this agent's calls (attributed to the calls' enqueue time)
    logged_in_us: int = 0
    ready_us: int = 0
    reserved_us: int = 0
    on_call_us: int = 0
    wrap_up_state_us: int = 0      # time in the WRAP_UP state (attributed to when it was spent)
    not_ready_us: int = 0
    not_ready_by_reason_us: tuple[tuple[str, int], ...] = ()

    def __add__(self, other: "AgentCounts") -> "AgentCounts":
        summed = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)
                  if f.name != "not_ready_by_reason_us"}
        reasons = dict(self.not_ready_by_reason_us)
        for reason, us in other.not_ready_by_reason_us:
            reasons[reason] = reasons.get(reason, 0) + us
        return AgentCounts(**summed, not_ready_by_reason_us=tuple(sorted(reasons.items())))


def occupancy(c: AgentCounts) -> float:
    """(reserved + on call + wrap-up) / (ready + reserved + on call + wrap-up), 0..1:
    the share of the time available for calls that went to calls (not-ready time is out of both)."""
    busy = c.reserved_us + c.on_call_us + c.wrap_up_state_us
    return ratio(busy, c.ready_us + busy)


@dataclasses.dataclass(frozen=True)
class AgentFigures:
    agent_id: str
    interval_start_us: int
    counts: AgentCounts
    aht_s: float
    occupancy: float


def agent_figures(agent_id: str, start_us: int, c: AgentCounts) -> AgentFigures:
    return AgentFigures(agent_id=agent_id, interval_start_us=start_us, counts=c,
                        aht_s=aht_s(c.talk_us, c.wrap_up_us, c.handled), occupancy=occupancy(c))


# --- IVR figures -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class IvrNodeCounts:
    flow: str
    node: str
    node_type: str
    visits: int = 0
    calls: int = 0
    entries: int = 0               # visits with sequence 1: calls entering the flow at this node
    hangups: int = 0
    queued: int = 0
    completed: int = 0
    errors: int = 0
    time_us: int = 0


@dataclasses.dataclass(frozen=True)
class IvrNodeFigures:
    counts: IvrNodeCounts
    drop_off_rate: float
    avg_time_s: float


@dataclasses.dataclass(frozen=True)
class IvrFlowFigures:
    flow: str
    calls: int
    contained: int
    abandoned: int
    queued: int
    containment_rate: float


def ivr_node_figures(c: IvrNodeCounts) -> IvrNodeFigures:
    """Drop-off = hang-ups at the node / visits; average time at the node per visit."""
    return IvrNodeFigures(counts=c, drop_off_rate=ratio(c.hangups, c.visits), avg_time_s=ratio(c.time_us, c.visits) / US)


def ivr_flow_figures(nodes: Iterable[IvrNodeCounts]) -> list[IvrFlowFigures]:
    """Per flow, from its nodes: calls = entries (first nodes visited), contained =
    visits completed, abandoned = hang-ups, queued = handed to a queue;
    containment = contained / calls. Sorted by flow."""
    flows: dict[str, list[int]] = {}
    for n in nodes:
        acc = flows.setdefault(n.flow, [0, 0, 0, 0])
        acc[0] += n.entries
        acc[1] += n.completed
        acc[2] += n.hangups
        acc[3] += n.queued
    return [IvrFlowFigures(flow=flow, calls=calls, contained=contained, abandoned=abandoned, queued=queued,
                           containment_rate=ratio(contained, calls))
            for flow, (calls, contained, abandoned, queued) in sorted(flows.items())]


def interval_start_us(t_us: int, from_us: int, interval_us: int) -> int:
    """Start of the interval holding ``t_us``; intervals are laid from ``from_us``."""
    return from_us + (t_us - from_us) // interval_us * interval_us
