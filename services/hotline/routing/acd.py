"""The ACD's decisions, free of I/O: queues, agents, waiting calls, and who
answers what. The switch side (switch.py) carries out what is decided here
(``self.actions``: hold music, announcements, transfers, hang-ups, prompts)
and reports back what the switch did; the gRPC side (api.py) changes
configuration and agent states. Every state change is recorded as an event
in ``self.outbox`` for the service to publish.

Where does a call get its agent? :meth:`Acd.next_assignments`: waiting calls
across all queues in order of priority (higher first) then time in queue
(longest first); for each, the READY agent who meets the queue's skill
requirements (relaxed by how long the call has waited), is in a tier the
call has reached, and has not yet been tried for this call, chosen by the
queue's strategy (hotline.routing.selection); ring-all rings every such
agent. So when an agent frees up, the call they get is the highest-priority,
then longest-waiting call they are eligible for, whatever its queue.
A tick visits only the waiting calls that may have an agent (the index in
_WaitingCalls), so with thousands of calls waiting it costs what it can do,
not O(calls waiting).

Where does a call go when it is not answered? Before it waits: routing rules
(DNIS/ANI, number lists) may change its queue or priority, reject it or send
it elsewhere; a closed queue (its calendar) sends it to its closed
destination; a full queue (max_length) overflows it. While it waits: after
max_wait_s it overflows. Overflow goes to another queue (the call keeps its
priority; its wait there starts anew), to voicemail or to an IVR flow. A
caller may leave a number instead of waiting (callback in queue): the call
keeps its place, and when its turn comes the agent is rung first and the
number dialled once the agent answers.

Every call ends answered, abandoned, overflowed (to voicemail/IVR), rejected
or called back (or its callback failed after every attempt); every
reservation expires (ring timeout + 15 s) and every agent whose call is gone
is released, so no state sticks.
"""
from __future__ import annotations

import bisect
import dataclasses
import enum
import hashlib
import heapq
import itertools
import logging
import math
import operator
import re
import uuid
from typing import Any, Callable, Iterable, Sequence

from hotline.common.errors import Conflict, InvalidArgument, NotFound
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing.calendar import Calendar
from hotline.routing.ewt import EwtEstimator
from hotline.routing.rules import NumberList, RoutingRule, RuleSet, normalize_number, parse_destination
from hotline.routing.selection import (AgentSelector, Relaxation, Requirement, check_strategy, relaxation_drop, relaxed,
                                       relaxed_by, validate_rules)

log = logging.getLogger(__name__)

AgentState = ev.AgentState
SETTABLE_STATES = (ev.LOGGED_OUT, ev.NOT_READY, ev.READY)
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
LOGGED_IN = (ev.NOT_READY, ev.READY, ev.RESERVED, ev.ON_CALL, ev.WRAP_UP)
STAFFED = (ev.READY, ev.RESERVED, ev.ON_CALL, ev.WRAP_UP)     # serving calls (for the expected wait)
US = 1_000_000
MAX_OVERFLOW_HOPS = 4
RING_ALL_MAX_LEGS = 30
_NO_TIERS: list[tuple[int, set[str]]] = [(1, set())]
# Hang-up causes of an agent's leg that are not the agent's doing.
NOT_A_MISS = frozenset({"LOSE_RACE", "ORIGINATOR_CANCEL", "NORMAL_TEMPORARY_FAILURE", "SWITCH_CONGESTION"})
CALLBACK_COLLECT_S = 20
# The longest a callback's customer rings after the agent answered (the
# switch's callback_ring_timeout_s is at most 120 s, its reply 15 s later).
CALLBACK_DIAL_MAX_S = 120 + 15
DEFAULT_ANNOUNCEMENT = "You are caller number {position}. Your expected wait is about {minutes} minutes."
# Agent legs get names derived from the call, the offer and the agent, so a
# restarted routing service can find (and hang up) legs it rang before.
# The outbox's field order for each event (Acd._transition, Acd._queue_event).
_AGENT_EVENT_FIELDS = ("agent_id", "state", "previous_state", "reason", "timestamp_us", "previous_state_since_us",
                       "call_uuid", "queue", "call_enqueue_us", "queues")
_QUEUE_EVENT_FIELDS = ("call_uuid", "queue", "type", "timestamp_us", "agent_id", "ani", "dnis", "position",
                       "wait_us", "node_id", "reason", "caller_name", "destination", "priority",
                       "callback_number", "ewt_s", "attempt")
LEG_NAMESPACE = uuid.UUID("6f1f6a52-3b6c-4d0e-9a51-6c1f0e6b2a10")


_LEG_NAMESPACE_BYTES = LEG_NAMESPACE.bytes
_VARIANT = {f"{n:x}": f"{n & 3 | 8:x}" for n in range(16)}     # RFC 4122 variant bits on a hex digit


def _name_uuid(name: str) -> str:
    """uuid.uuid5(LEG_NAMESPACE, name) as a string, without building UUID objects
    (it is on the routing decision's path)."""
    h = hashlib.sha1(_LEG_NAMESPACE_BYTES + name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def agent_leg_uuid(call_uuid: str, offer: int, agent_id: str) -> str:
    return _name_uuid(f"{call_uuid}/{offer}/{agent_id}")


def customer_leg_uuid(call_uuid: str, attempt: int) -> str:
    """The leg a callback dials on its attempt-th try."""
    return _name_uuid(f"{call_uuid}/callback/{attempt}")


class CallState(enum.Enum):
    WAITING = "waiting"          # in queue: hold music (or a callback waiting for its turn)
    OFFERING = "offering"        # agent phones are ringing
    CONNECTED = "connected"      # bridged to the agent
    ENDED = "ended"              # answered-and-done or abandoned
    OVERFLOWED = "overflowed"    # sent to voicemail or an IVR flow
    REJECTED = "rejected"        # refused by a routing rule


@dataclasses.dataclass
class QueueConfig:
    name: str
    skill: str
    service_level_threshold_s: int = 20
    wrap_up_s: int = 0
    hold_music: str = "local_stream://moh"
    ring_timeout_s: int = 15
    strategy: str = "longest-idle"
    # Skills a call needs, with minimum levels; empty: the queue's skill at level 1.
    requirements: tuple[Requirement, ...] = ()
    relaxation: tuple[Relaxation, ...] = ()
    max_wait_s: int = 0                  # 0: no limit
    max_length: int = 0                  # 0: no limit
    overflow: str = ""                   # queue:<name> | voicemail:<box> | ivr:<flow>
    calendar: str = ""                   # empty: always open
    closed_destination: str = ""         # empty: overflow
    announce_every_s: int = 0            # 0: no position/EWT announcements
    announcement: str = DEFAULT_ANNOUNCEMENT
    callback_key: str = ""               # DTMF digit offering a callback; empty: none
    callback_dial: str = ""              # dial string with {number}
    callback_attempts: int = 3
    callback_retry_s: int = 120
    tier_wait_s: int = 0                 # tier n joins after (n-1) x this; 0: tiers in order, no wait

    def rules(self) -> tuple[Requirement, ...]:
        return self.requirements or (Requirement(self.skill, 1),)

    def validate(self) -> None:
        if not QUEUE_NAME.fullmatch(self.name):
            raise InvalidArgument("name", "must be 1 to 64 ASCII letters, digits, '-' or '_'")
        if not self.skill:
            raise InvalidArgument("skill", "is required")
        if not 0 < self.service_level_threshold_s <= 3600:
            raise InvalidArgument("service_level_threshold_s", "must be between 1 and 3600")
        if not 0 <= self.wrap_up_s <= 3600:
            raise InvalidArgument("wrap_up_s", "must be between 0 and 3600")
        if not 5 <= self.ring_timeout_s <= 120:
            raise InvalidArgument("ring_timeout_s", "must be between 5 and 120")
        check_strategy(self.strategy)
        validate_rules(self.rules(), self.relaxation)
        if self.requirements and self.requirements[0].skill != self.skill:
            raise InvalidArgument("requirements[0]", f"the first required skill must be the queue's skill {self.skill!r}")
        if not 0 <= self.max_wait_s <= 86_400:
            raise InvalidArgument("max_wait_s", "must be between 0 (no limit) and 86400")
        if not 0 <= self.max_length <= 100_000:
            raise InvalidArgument("max_length", "must be between 0 (no limit) and 100000")
        for field in ("overflow", "closed_destination"):
            value = getattr(self, field)
            if value:
                kind, target = parse_destination(value, field)
                if kind == "queue" and target == self.name:
                    raise InvalidArgument(field, "a queue cannot overflow into itself")
        if (self.max_wait_s or self.max_length) and not self.overflow:
            raise InvalidArgument("overflow", "is required with max_wait_s or max_length")
        if self.calendar and not (self.closed_destination or self.overflow):
            raise InvalidArgument("closed_destination", "is required with a calendar (or set overflow)")
        if self.announce_every_s and not 15 <= self.announce_every_s <= 3600:
            raise InvalidArgument("announce_every_s", "must be 0 (none) or between 15 and 3600")
        if self.announce_every_s:
            try:
                self.announcement.format(position=1, minutes=1)
            except (KeyError, IndexError, ValueError) as exc:
                raise InvalidArgument("announcement", f"only {{position}} and {{minutes}} may be used ({exc})") from None
            if not self.announcement.strip() or len(self.announcement) > 500:
                raise InvalidArgument("announcement", "must be 1 to 500 characters")
        if self.callback_key:
            if len(self.callback_key) != 1 or self.callback_key not in "0123456789*#":
                raise InvalidArgument("callback_key", "must be one DTMF digit: 0-9, * or #")
            if self.callback_key in "*#":
                raise InvalidArgument("callback_key", "* and # end or cancel the number entry; use 0-9")
            if "{number}" not in self.callback_dial:
                raise InvalidArgument("callback_dial", "is required with callback_key and must contain {number}")
        if not 1 <= self.callback_attempts <= 10:
            raise InvalidArgument("callback_attempts", "must be between 1 and 10")
        if not 10 <= self.callback_retry_s <= 86_400:
            raise InvalidArgument("callback_retry_s", "must be between 10 and 86400")
        if not 0 <= self.tier_wait_s <= 3600:
            raise InvalidArgument("tier_wait_s", "must be between 0 and 3600")

    def destinations(self) -> Iterable[tuple[str, str]]:
        for field in ("overflow", "closed_destination"):
            if getattr(self, field):
                yield field, getattr(self, field)


@dataclasses.dataclass
class Agent:
    agent_id: str
    name: str
    contact: str                         # dial string: user/1001@default
    skills: dict[str, int]
    tiers: dict[str, int] = dataclasses.field(default_factory=dict)   # queue -> tier 1..9
    dnd: bool = False                    # do not disturb: never offered a call
    state: int = ev.LOGGED_OUT
    reason: str = ""
    state_since_us: int = 0
    idle_since_us: int = 0               # when the agent last became free
    call_uuid: str = ""
    queue: str = ""
    call_enqueue_us: int = 0             # the call's first enqueue time (reporting attributes talk/wrap-up by it)
    missed_offers: int = 0               # consecutive offers not answered

    def serves(self, queue: QueueConfig) -> bool:
        """Could take this queue's calls once its requirements have fully relaxed."""
        lowest = relaxed(queue.rules(), queue.relaxation, float("inf"))
        return all(self.skills.get(r.skill, 0) >= r.min_level for r in lowest)


@dataclasses.dataclass
class QueuedCall:
    call_uuid: str
    queue: str
    ani: str
    dnis: str
    caller_name: str
    node_id: str
    priority: int
    enqueued_us: int                      # entered its current queue
    answered_us: int = 0
    menu_choice: str = ""
    seq: int = 0                          # tie-break: arrival order
    state: CallState = CallState.WAITING
    agent_id: str = ""                    # OFFERING: the first agent rung; CONNECTED: the agent
    agent_leg_uuid: str = ""
    ringing: dict[str, str] = dataclasses.field(default_factory=dict)   # agent id -> leg uuid
    offered_us: int = 0
    first_offered_us: int = 0             # the first agent phone rang (the CDR's ring_us)
    skills: tuple[str, ...] = ()          # the skills its queue requires (the CDR's, for reports by skill)
    connected_us: int = 0
    offers: int = 0
    tried: set[str] = dataclasses.field(default_factory=set)
    first_enqueued_us: int = 0            # entered the first queue (overflow keeps it)
    destination: str = ""                 # OVERFLOWED: where it went
    reject_cause: str = ""
    next_announce_us: int = 0
    # Callback in queue.
    collecting: str | None = None         # digits typed so far while leaving a number
    collect_until_us: int = 0
    callback_number: str = ""
    caller_gone: bool = False             # the caller hung up after leaving a number
    callback_attempts: int = 0
    not_before_us: int = 0                # a failed callback waits until then
    customer_leg_uuid: str = ""           # the callback's dialled leg
    dialing_agent: str = ""               # OFFERING: the agent who answered while the customer is dialled
    dialing_agent_gone: bool = False      # ... and whose leg ended meanwhile: the dial's outcome settles it
    # Where the ACD's index of waiting calls holds it (_WaitingCalls); None: not indexed.
    _slot: _Slot | None = dataclasses.field(default=None, init=False, repr=False, compare=False)
    _pos: int = dataclasses.field(default=0, init=False, repr=False, compare=False)   # its place in Acd.calls

    @property
    def order(self) -> tuple[int, int, int]:
        """Who is served first: higher priority, then longer in queue, then arrival."""
        return -self.priority, self.enqueued_us, self.seq

    @property
    def is_callback(self) -> bool:
        return bool(self.callback_number)

    def live_leg(self) -> str | None:
        """The channel whose existence keeps this call alive, if any."""
        if self.is_callback and self.caller_gone:
            return self.customer_leg_uuid or None
        return self.call_uuid


def tier_reached(queue: QueueConfig, waited_s: float) -> int:
    """The last tier (1-9) a call of the queue has reached after waiting
    waited_s: tier n joins after (n-1) x tier_wait_s; all at once without it."""
    if not queue.tier_wait_s:
        return 9
    return min(9, 1 + int(waited_s // queue.tier_wait_s))


_WAITING = CallState.WAITING
_POS = operator.attrgetter("_pos")


class _Bucket:
    """A queue's waiting calls that have relaxed `drop` levels and reached
    tier `reached`, in the order they are served (entries: (order, n, call))."""

    __slots__ = ("queue", "drop", "reached", "entries", "dead")

    def __init__(self, queue: str, drop: int, reached: int) -> None:
        self.queue, self.drop, self.reached = queue, drop, reached
        self.entries: list[tuple[tuple[int, int, int], int, QueuedCall]] = []
        self.dead = False             # no READY agent may take its calls (until one who may is ready)


class _Slot:
    """Where a waiting call is indexed: its bucket (None: parked, not offerable
    now) and entry, and when its bucket changes next (relaxation, tier, a
    callback's retry time; None: never by itself)."""

    __slots__ = ("bucket", "entry", "due")

    def __init__(self, bucket: _Bucket | None, entry: tuple[tuple[int, int, int], int, QueuedCall],
                 due: int | None) -> None:
        self.bucket, self.entry, self.due = bucket, entry, due


class _WaitingCalls:
    """The WAITING calls, indexed so that a routing tick visits only the calls
    it may serve, in the order it serves them.

    A call's eligible agents depend on its queue, how many levels its
    requirements have relaxed and which tier it has reached (both from how
    long it has waited), and on who is READY. So the calls are kept in
    buckets per (queue, levels dropped, tier reached), each in serving order
    (priority, then time in queue, then arrival). A bucket in which the first
    offerable call found nobody is dead: every call in it would find nobody
    too, and since a tick only takes agents, for the rest of the tick; it
    stays dead until an agent who may take its calls becomes READY
    (AgentSelector.on_ready) or its queue changes. A call moves to its next
    bucket when its next relaxation step or tier falls due (a timer set when
    it is indexed, since the steps are known then). A callback is parked
    (in no bucket) until its caller is gone and its retry time has come.

    It also keeps Acd.tick's timers (rearm): when a waiting call's number
    entry may time out, it may overflow after max_wait_s or an announcement
    may be due, so a tick looks at those calls only.

    Kept in step by the ACD: every insertion into and removal from Acd.calls
    (also from outside, e.g. rebuild.restore), and update() at every change
    of a waiting call's state, priority, queue, times or callback fields
    (Acd.call_changed for changes made from outside)."""

    def __init__(self, acd: Acd) -> None:
        self._acd = acd
        self._buckets: dict[tuple[str, int, int], _Bucket] = {}
        self._by_queue: dict[str, list[_Bucket]] = {}
        self._active: set[_Bucket] = set()                 # not empty, not dead
        self._dead: dict[str, set[_Bucket]] = {}           # queue -> its dead buckets that hold calls
        self._timers: list[tuple[int, int, _Slot]] = []    # (due, n, slot): heap
        self._tick_timers: list[tuple[int, int, _Slot]] = []   # the same for Acd.tick (rearm)
        self._n = itertools.count()
        self._latest = -math.inf                           # the latest time a call was placed at
        self._placed = 0                                   # calls indexed

    # -- keeping in step ---------------------------------------------------
    def update(self, call: QueuedCall) -> None:
        """(Re)index a call from its current fields."""
        if call._slot is not None:
            self.discard(call)
        if call.state is _WAITING and self._acd.calls.get(call.call_uuid) is call:
            self._place(call, self._acd.clock_us())

    def discard(self, call: QueuedCall) -> None:
        slot = call._slot
        if slot is None:
            return
        call._slot = None
        self._placed -= 1
        bucket = slot.bucket
        if bucket is not None:
            entries = bucket.entries
            del entries[bisect.bisect_left(entries, slot.entry)]
            if not entries:
                self._active.discard(bucket)
                if bucket.dead:
                    bucket.dead = False
                    self._dead[bucket.queue].discard(bucket)

    def _place(self, call: QueuedCall, now: int) -> None:
        acd = self._acd
        entry = (call.order, next(self._n), call)
        bucket, due = None, None
        queue = acd.queues.get(call.queue)
        if queue is None:
            pass                                        # offered once its queue exists again (requeue)
        elif call.is_callback and (not call.caller_gone or now < call.not_before_us):
            due = call.not_before_us if call.caller_gone else None
        else:
            enqueued_us = call.enqueued_us
            waited_s = (now - enqueued_us) / US
            # As Acd.choose_agents computes them (_rules_after, _tier_exclusions).
            drop = relaxation_drop(queue.relaxation, waited_s)
            for step in queue.relaxation:
                if waited_s < step.after_s:
                    due = enqueued_us + math.ceil(step.after_s * US)
                    break
            reached = tier_reached(queue, waited_s)
            if reached < 9:                             # the next tier joins then
                tier_due = enqueued_us + reached * queue.tier_wait_s * US
                due = tier_due if due is None else min(due, tier_due)
            key = (queue.name, drop, reached)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(queue.name, drop, reached)
                self._by_queue.setdefault(queue.name, []).append(bucket)
            bisect.insort(bucket.entries, entry)
            if not bucket.dead:
                self._active.add(bucket)
        slot = call._slot = _Slot(bucket, entry, due)
        self._placed += 1
        if now > self._latest:
            self._latest = now
        if due is not None:
            heapq.heappush(self._timers, (max(due, now + 1), entry[1], slot))
            if len(self._timers) > 64 + 2 * self._placed:
                self._timers = [t for t in self._timers if t[2].entry[2]._slot is t[2]]
                heapq.heapify(self._timers)
        if queue is not None:
            self.rearm(call)

    # -- Acd.tick's timers ---------------------------------------------------
    def rearm(self, call: QueuedCall) -> None:
        """When Acd.tick may next have to act on this waiting call: its number
        entry times out, it overflows after max_wait_s, an announcement is due
        (a call woken early is left as it is, so the earliest time will do)."""
        slot, queue = call._slot, self._acd.queues.get(call.queue)
        if slot is None or queue is None:
            return
        due = call.collect_until_us if call.collecting is not None else None
        if not call.is_callback:
            if queue.max_wait_s and queue.overflow:
                at = call.enqueued_us + math.floor(queue.max_wait_s * US)
                due = at if due is None else min(due, at)
            if queue.announce_every_s and call.next_announce_us and call.collecting is None:
                due = call.next_announce_us if due is None else min(due, call.next_announce_us)
        if due is not None:
            heapq.heappush(self._tick_timers, (due, next(self._n), slot))
            if len(self._tick_timers) > 64 + 2 * self._placed:
                self._tick_timers = [t for t in self._tick_timers if t[2].entry[2]._slot is t[2]]
                heapq.heapify(self._tick_timers)

    def due(self, now: int) -> list[QueuedCall]:
        """The waiting calls whose tick timer has come, in Acd.calls' order."""
        timers, found = self._tick_timers, []
        while timers and timers[0][0] <= now:
            slot = heapq.heappop(timers)[2]
            call = slot.entry[2]
            if call._slot is slot:
                found.append(call)
        if len(found) > 1:                         # a slot may have been armed more than once
            found = sorted({id(call): call for call in found}.values(), key=_POS)
        return found

    def requeue(self, queue_name: str) -> None:
        """The queue was (re)configured: its calls are placed anew."""
        for bucket in self._by_queue.pop(queue_name, ()):
            del self._buckets[(bucket.queue, bucket.drop, bucket.reached)]
            self._active.discard(bucket)
            bucket.dead = False                     # out of the index: its calls are placed anew below
        self._dead.pop(queue_name, None)
        for call in list(self._acd.calls.values()):
            if call.queue == queue_name:
                self.update(call)

    def rebuild(self) -> None:
        """Everything placed anew (the clock went back)."""
        calls = list(self._acd.calls.values())
        for call in calls:
            call._slot = None
        self._buckets, self._by_queue, self._active, self._dead = {}, {}, set(), {}
        self._timers, self._tick_timers, self._placed, self._latest = [], [], 0, -math.inf
        for call in calls:
            self.update(call)

    def agent_ready(self, agent_id: str) -> None:
        """An agent became READY: the dead buckets whose calls it may take live again."""
        dead = self._dead
        if not dead:
            return
        acd = self._acd
        queues = acd._agent_queues.get(agent_id, ())
        names = [q for q in dead if q in queues] if len(dead) < len(queues) else [q for q in queues if q in dead]
        if not names:
            return
        selector, active = acd.selector, self._active
        if agent_id not in selector.agents:
            return
        for name in names:
            queue = acd.queues.get(name)
            buckets = dead[name]
            tier = acd._tiers.get(name, {}).get(agent_id)
            for bucket in [b for b in buckets
                           if (tier is None or tier <= b.reached) and queue is not None
                           and selector.meets(agent_id, acd._rules_dropped(queue, b.drop))]:
                bucket.dead = False
                buckets.discard(bucket)
                active.add(bucket)
            if not buckets:
                del dead[name]

    # -- the tick ----------------------------------------------------------
    def advance(self, now: int) -> None:
        """Move the calls whose relaxation step, tier or retry time has come."""
        if now < self._latest:
            self.rebuild()
            return
        timers = self._timers
        while timers and timers[0][0] <= now:
            slot = heapq.heappop(timers)[2]
            call = slot.entry[2]
            if call._slot is slot:
                self.discard(call)
                self._place(call, now)

    def heads(self) -> list[tuple[tuple[tuple[int, int, int], int, QueuedCall], _Bucket]]:
        """(first entry, bucket) of every bucket that may have an agent: a heap."""
        heads = [(b.entries[0], b) for b in self._active]
        heapq.heapify(heads)
        return heads

    def bury(self, bucket: _Bucket) -> None:
        """Nobody READY may take this bucket's calls."""
        bucket.dead = True
        self._active.discard(bucket)
        self._dead.setdefault(bucket.queue, set()).add(bucket)

    def bury_all(self) -> None:
        """Nobody is READY: no bucket has an agent (each wakes when one who may take its calls is)."""
        dead = self._dead
        for bucket in self._active:
            bucket.dead = True
            queue_dead = dead.get(bucket.queue)
            if queue_dead is None:
                queue_dead = dead[bucket.queue] = set()
            queue_dead.add(bucket)
        self._active = set()

    def check(self) -> None:
        """Assert that the index agrees with the calls (for tests)."""
        acd = self._acd
        for queue_name in {c.queue for c in acd.calls.values()} | set(acd.calls._by_queue):
            assert list(acd.calls.in_queue(queue_name)) == [c for c in acd.calls.values() if c.queue == queue_name]
        waiting = {c.call_uuid for c in acd.calls.values() if c.state is _WAITING}
        indexed = {c.call_uuid for c in acd.calls.values() if c._slot is not None}
        assert waiting == indexed, (waiting ^ indexed)
        assert self._placed == len(indexed)
        for call in acd.calls.values():
            slot = call._slot
            if slot is None:
                continue
            assert slot.entry[0] == call.order and slot.entry[2] is call, call
            if slot.bucket is not None:
                assert slot.bucket.queue == call.queue and slot.entry in slot.bucket.entries, call
                assert self._buckets[(slot.bucket.queue, slot.bucket.drop, slot.bucket.reached)] is slot.bucket
        for bucket in self._buckets.values():
            assert bucket.entries == sorted(bucket.entries)
            assert (bucket in self._active) == (bool(bucket.entries) and not bucket.dead), bucket.queue
            assert bucket.dead == (bucket in self._dead.get(bucket.queue, ())), bucket.queue
            if bucket.dead:
                assert bucket.entries


class _Calls(dict):
    """Acd.calls: the calls by UUID. Insertions and removals, also from
    outside the ACD (rebuild.restore), keep the index of waiting calls in step,
    and the calls of each queue (a call changes queue only by leaving and
    coming back, as _overflow does)."""

    __slots__ = ("_waiting", "_positions", "_queue_of", "_by_queue")

    def __init__(self, waiting: _WaitingCalls) -> None:
        super().__init__()
        self._waiting = waiting
        self._positions = itertools.count(1)
        self._queue_of: dict[str, str] = {}                        # call uuid -> its queue when put in
        self._by_queue: dict[str, dict[str, QueuedCall]] = {}      # queue -> its calls

    def in_queue(self, queue_name: str) -> Iterable[QueuedCall]:
        """The calls of one queue (any state), in the order they were put in."""
        return self._by_queue.get(queue_name, {}).values()

    def __setitem__(self, call_uuid: str, call: QueuedCall) -> None:
        old = self.get(call_uuid)
        if old is None:
            call._pos = next(self._positions)         # a new key goes last, as in a dict
        else:
            self._leave_queue(call_uuid)
            if old is not call:
                call._pos = old._pos                  # a replaced value keeps its key's place
                self._waiting.discard(old)
        dict.__setitem__(self, call_uuid, call)
        self._queue_of[call_uuid] = call.queue
        self._by_queue.setdefault(call.queue, {})[call_uuid] = call
        self._waiting.update(call)

    def _leave_queue(self, call_uuid: str) -> None:
        queue_name = self._queue_of.pop(call_uuid)
        calls = self._by_queue[queue_name]
        del calls[call_uuid]
        if not calls:
            del self._by_queue[queue_name]

    def __delitem__(self, call_uuid: str) -> None:
        call = self[call_uuid]
        dict.__delitem__(self, call_uuid)
        self._leave_queue(call_uuid)
        self._waiting.discard(call)

    def pop(self, call_uuid: str, *default: Any) -> Any:
        if call_uuid not in self:
            return dict.pop(self, call_uuid, *default)
        call = dict.pop(self, call_uuid)
        self._leave_queue(call_uuid)
        self._waiting.discard(call)
        return call

    def popitem(self) -> tuple[str, QueuedCall]:
        call_uuid, call = dict.popitem(self)
        self._leave_queue(call_uuid)
        self._waiting.discard(call)
        return call_uuid, call

    def clear(self) -> None:
        for call in self.values():
            self._waiting.discard(call)
        dict.clear(self)
        self._queue_of.clear()
        self._by_queue.clear()

    def setdefault(self, call_uuid: str, call: QueuedCall) -> QueuedCall:  # type: ignore[override]
        if call_uuid not in self:
            self[call_uuid] = call
        return self[call_uuid]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for call_uuid, call in dict(*args, **kwargs).items():
            self[call_uuid] = call


@dataclasses.dataclass(frozen=True)
class Assignment:
    call: QueuedCall
    legs: tuple[tuple[Agent, str], ...]   # (agent, agent leg uuid); several for ring-all

    @property
    def agent(self) -> Agent:
        return self.legs[0][0]

    @property
    def agent_leg_uuid(self) -> str:
        return self.legs[0][1]


@dataclasses.dataclass(frozen=True)
class EnqueueResult:
    outcome: str                          # enqueued | overflowed | rejected
    queue: str
    position: int = 0
    destination: str = ""
    reject_cause: str = ""
    ewt_s: int = -1
    priority: int = 0


@dataclasses.dataclass(frozen=True)
class Action:
    """Something the switch side must do to a caller's channel.

    kinds: music (start hold music), announce (arg: the text; then music again),
    prompt (arg: callback_number | callback_invalid; then music again),
    callback_confirm (arg: the number; then hang up), transfer (arg: the
    destination), hangup (arg: the cause)."""

    kind: str
    call_uuid: str
    node_id: str
    queue: str
    arg: str = ""


class Acd:
    """The ACD's state and rules. Not thread-safe: one greenlet drives it."""

    def __init__(self, clock_us: Callable[[], int], *, max_missed_offers: int = 3,
                 new_uuid: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.clock_us = clock_us
        self.max_missed_offers = max_missed_offers
        self.new_uuid = new_uuid
        self.queues: dict[str, QueueConfig] = {}
        self.agents: dict[str, Agent] = {}
        self.calendars: dict[str, Calendar] = {}
        self.lists: dict[str, NumberList] = {}
        self.rules: tuple[RoutingRule, ...] = ()
        self._ruleset: RuleSet | None = None
        self._waiting = _WaitingCalls(self)
        self.calls: _Calls = _Calls(self._waiting)
        # Calls that left the ACD (overflowed, rejected, or the caller left a
        # number) while the caller's channel lives on: for the caller's CDR.
        self.departed: dict[str, QueuedCall] = {}
        # ("agent"|"queue", message class, field names, field values): the
        # messages are built when drained, off the decision's path.
        self.outbox: list[tuple[str, type, tuple[str, ...], tuple[object, ...]]] = []
        self.actions: list[Action] = []
        self._seq = itertools.count(1)
        self._tiers: dict[str, dict[str, int]] = {}     # queue -> agent id -> tier (agents with a tier > 1)
        self.selector = AgentSelector()
        self.selector.on_ready = self._waiting.agent_ready
        self.ewt = EwtEstimator(clock_us)
        self._members: dict[str, set[str]] = {}          # queue -> agents who serve it
        self._agent_queue_names: dict[str, tuple[str, ...]] = {}   # agent -> sorted queues it serves (cache)
        self._agent_queues: dict[str, set[str]] = {}     # agent id -> queues it serves
        # queue -> (its requirements, skill, relaxation, {levels dropped: relaxed rules}): built
        # once per step, rebuilt when the queue's rules are replaced
        self._relaxed: dict[str, tuple[tuple[Requirement, ...], str, tuple[Relaxation, ...],
                                       dict[int, tuple[Requirement, ...]]]] = {}

    # -- configuration -------------------------------------------------
    def upsert_queue(self, queue: QueueConfig) -> QueueConfig:
        queue.validate()
        if queue.calendar and queue.calendar not in self.calendars:
            raise InvalidArgument("calendar", f"no calendar named {queue.calendar!r}")
        for field, destination in queue.destinations():
            kind, target = parse_destination(destination, field)
            if kind == "queue" and target not in self.queues:
                raise InvalidArgument(field, f"no queue named {target!r}")
        self.queues[queue.name] = queue
        self._relaxed.pop(queue.name, None)
        self.selector.set_queue(queue.name, queue.skill, queue.strategy, (r.skill for r in queue.rules()))
        self.ewt.add_queue(queue.name)
        self._restaff_queue(queue)
        self._waiting.requeue(queue.name)            # its calls' relaxation and tiers may have changed
        return queue

    def delete_queue(self, name: str) -> None:
        if name not in self.queues:
            raise NotFound(f"queue {name!r} does not exist", queue=name)
        if any(c.queue == name for c in self.calls.values()):
            raise Conflict(f"queue {name!r} has calls; wait until they are served", queue=name)
        for other in self.queues.values():
            if any(parse_destination(d)[1] == name and parse_destination(d)[0] == "queue"
                   for _, d in other.destinations()):
                raise Conflict(f"queue {other.name!r} overflows into {name!r}", queue=name)
        for rule in self.rules:
            if rule.queue == name or rule.overflow == f"queue:{name}":
                raise Conflict(f"routing rule {rule.name!r} sends calls to {name!r}", queue=name)
        del self.queues[name]
        self._relaxed.pop(name, None)
        self._waiting.requeue(name)
        self.selector.remove_queue(name)
        self.ewt.remove_queue(name)
        self._tiers.pop(name, None)
        self._members.pop(name, None)
        for queues in self._agent_queues.values():
            queues.discard(name)
        self._agent_queue_names.clear()
        for agent in self.agents.values():          # tiers name existing queues only
            if agent.tiers.pop(name, None) is not None:
                self.selector.stats(agent.agent_id).tiers.pop(name, None)

    def upsert_calendar(self, calendar: Calendar) -> Calendar:
        calendar.validate()
        self.calendars[calendar.name] = calendar
        return calendar

    def delete_calendar(self, name: str) -> None:
        if name not in self.calendars:
            raise NotFound(f"calendar {name!r} does not exist", calendar=name)
        users = [q.name for q in self.queues.values() if q.calendar == name]
        if users:
            raise Conflict(f"calendar {name!r} is used by queue(s) {', '.join(users)}", calendar=name)
        del self.calendars[name]

    def upsert_list(self, numbers: NumberList) -> NumberList:
        numbers.validate()
        lists = dict(self.lists, **{numbers.name: numbers})
        ruleset = RuleSet(self.rules, lists) if self.rules else None
        self.lists, self._ruleset = lists, ruleset
        return numbers

    def delete_list(self, name: str) -> None:
        if name not in self.lists:
            raise NotFound(f"number list {name!r} does not exist", list=name)
        users = [r.name for r in self.rules if name in (r.ani_list, r.ani_not_list)]
        if users:
            raise Conflict(f"number list {name!r} is used by routing rule(s) {', '.join(users)}", list=name)
        del self.lists[name]

    def set_rules(self, rules: Sequence[RoutingRule]) -> tuple[RoutingRule, ...]:
        ruleset = RuleSet(rules, self.lists)          # validates, names rules[i].<field>
        for i, rule in enumerate(rules):
            if rule.queue and rule.queue not in self.queues:
                raise InvalidArgument(f"rules[{i}].queue", f"no queue named {rule.queue!r}")
            if rule.overflow:
                kind, target = parse_destination(rule.overflow, f"rules[{i}].overflow")
                if kind == "queue" and target not in self.queues:
                    raise InvalidArgument(f"rules[{i}].overflow", f"no queue named {target!r}")
        self.rules = tuple(rules)
        self._ruleset = ruleset if rules else None
        return self.rules

    def upsert_agent(self, agent_id: str, name: str, contact: str, skills: dict[str, int],
                     tiers: dict[str, int] | None = None) -> Agent:
        if not agent_id:
            raise InvalidArgument("agent_id", "is required")
        if not contact or "/" not in contact:
            raise InvalidArgument("contact", "must be a FreeSWITCH dial string such as user/1001@default")
        for skill, level in skills.items():
            if not skill:
                raise InvalidArgument("skills", "a skill name is empty")
            if not 1 <= level <= 10:
                raise InvalidArgument(f"skills[{skill}]", "proficiency must be between 1 and 10")
        for queue_name, tier in (tiers or {}).items():
            if queue_name not in self.queues:
                raise InvalidArgument(f"tiers[{queue_name}]", f"no queue named {queue_name!r}")
            if not 1 <= tier <= 9:
                raise InvalidArgument(f"tiers[{queue_name}]", "tier must be between 1 and 9")
        agent = self.agents.get(agent_id)
        if agent is None:
            now = self.clock_us()
            agent = Agent(agent_id, name, contact, dict(skills), state_since_us=now, idle_since_us=now)
            self.agents[agent_id] = agent
        else:
            agent.name, agent.contact, agent.skills = name, contact, dict(skills)
        if tiers is not None:
            agent.tiers = dict(tiers)
        for members in self._tiers.values():
            members.pop(agent_id, None)
        for queue_name, tier in agent.tiers.items():
            if tier > 1:
                self._tiers.setdefault(queue_name, {})[agent_id] = tier
        stats = self.selector.stats(agent_id, agent.skills)
        stats.tiers = {q: (t, 0) for q, t in agent.tiers.items()}
        self._restaff_agent(agent)
        if self.selector.is_ready(agent_id):
            self.selector.set_ready(agent_id)          # re-indexed under the new tiers
        return agent

    def delete_agent(self, agent_id: str) -> None:
        agent = self.agent(agent_id)
        if agent.state in (ev.RESERVED, ev.ON_CALL):
            raise Conflict(f"agent {agent_id} is on a call", agent_id=agent_id)
        self._transition(agent, ev.LOGGED_OUT, "deleted")
        self._agent_queue_names.pop(agent_id, None)
        for queue_name in self._agent_queues.pop(agent_id, ()):
            self._members.get(queue_name, set()).discard(agent_id)
        for members in self._tiers.values():
            members.pop(agent_id, None)
        del self.agents[agent_id]
        self.selector.forget(agent_id)

    def agent(self, agent_id: str) -> Agent:
        if not agent_id:
            raise InvalidArgument("agent_id", "is required")
        try:
            return self.agents[agent_id]
        except KeyError:
            raise NotFound(f"agent {agent_id!r} does not exist", agent_id=agent_id) from None

    def is_open(self, queue: QueueConfig) -> bool:
        calendar = self.calendars.get(queue.calendar) if queue.calendar else None
        return calendar is None or calendar.is_open(self.clock_us())

    # -- agent states --------------------------------------------------
    def set_agent_state(self, agent_id: str, state: int, reason: str = "") -> Agent:
        """An agent's (or supervisor's) request: log in/out, ready, not ready."""
        agent = self.agent(agent_id)
        if state not in SETTABLE_STATES:
            raise InvalidArgument("state", "must be LOGGED_OUT, NOT_READY or READY")
        if state == ev.READY and agent.dnd:
            raise Conflict(f"agent {agent_id} is in do-not-disturb; turn it off first", agent_id=agent_id)
        if agent.state in (ev.RESERVED, ev.ON_CALL):
            if state == ev.READY:
                raise Conflict(f"agent {agent_id} is on a call", agent_id=agent_id)
            # Not ready / log out during a call takes effect when the call ends.
            agent.reason = f"pending:{ev.AgentState.Name(state)}:{reason}"
            return agent
        if state == ev.READY:
            agent.missed_offers = 0
        self._transition(agent, state, reason)
        return agent

    def set_dnd(self, agent_id: str, on: bool) -> Agent:
        """Do not disturb: a READY agent goes NOT_READY "dnd" (after the call,
        if on one) and cannot be made READY until it is off; turning it off
        makes an agent in "dnd" READY again."""
        agent = self.agent(agent_id)
        if agent.dnd == on:
            return agent
        agent.dnd = on
        if on and agent.state == ev.READY:
            self._transition(agent, ev.NOT_READY, "dnd")
        elif not on and agent.state == ev.NOT_READY and agent.reason == "dnd":
            agent.missed_offers = 0
            self._transition(agent, ev.READY)
        return agent

    def _transition(self, agent: Agent, state: int, reason: str = "", *, call_uuid: str = "",
                    queue: str = "") -> None:
        now = self.clock_us()
        previous, previous_since = agent.state, agent.state_since_us
        leaving_call, leaving_queue, leaving_enqueue_us = agent.call_uuid, agent.queue, agent.call_enqueue_us
        if previous == state and agent.reason == reason and agent.call_uuid == call_uuid:
            return
        agent.state, agent.reason, agent.state_since_us = state, reason, now
        agent.call_uuid, agent.queue = call_uuid, queue
        if call_uuid != leaving_call:
            call = self.calls.get(call_uuid) if call_uuid else None
            agent.call_enqueue_us = (call.first_enqueued_us or call.enqueued_us) if call is not None else 0
        if state == ev.READY and previous != ev.RESERVED:
            agent.idle_since_us = now
        if state == ev.READY:
            self.selector.stats(agent.agent_id).idle_since_us = agent.idle_since_us
            self.selector.set_ready(agent.agent_id)
        else:
            self.selector.set_busy(agent.agent_id)
        self.outbox.append(("agent", ev.AgentStateEvent, _AGENT_EVENT_FIELDS, (
            agent.agent_id, state, previous, reason, now, previous_since,
            call_uuid or leaving_call, queue or leaving_queue,
            agent.call_enqueue_us if call_uuid else leaving_enqueue_us,
            self._queue_names(agent.agent_id))))

    def _queue_names(self, agent_id: str) -> tuple[str, ...]:
        """The queues the agent serves, sorted (cached until its membership changes)."""
        names = self._agent_queue_names.get(agent_id)
        if names is None:
            names = self._agent_queue_names[agent_id] = tuple(sorted(self._agent_queues.get(agent_id, ())))
        return names

    def _after_call(self, agent: Agent, queue: QueueConfig | None, call_uuid: str) -> None:
        """The agent's call ended: wrap-up, then whatever was asked meanwhile."""
        if queue is not None and queue.wrap_up_s > 0:
            self._transition(agent, ev.WRAP_UP, call_uuid=call_uuid, queue=queue.name)
        else:
            self._release(agent)

    def _release(self, agent: Agent) -> None:
        pending = agent.reason
        if pending.startswith("pending:"):
            _, state_name, reason = pending.split(":", 2)
            self._transition(agent, ev.AgentState.Value(state_name), reason)
        elif agent.dnd:
            self._transition(agent, ev.NOT_READY, "dnd")
        else:
            self._transition(agent, ev.READY)

    # -- calls arriving --------------------------------------------------
    def enqueue(self, call_uuid: str, queue_name: str, *, ani: str = "", dnis: str = "", caller_name: str = "",
                node_id: str = "", priority: int = 0, answered_us: int = 0, menu_choice: str = "") -> EnqueueResult:
        if not call_uuid:
            raise InvalidArgument("call_uuid", "is required")
        if not queue_name:
            raise InvalidArgument("queue", "is required")
        if not -100 <= priority <= 100:
            raise InvalidArgument("priority", "must be between -100 and 100")
        existing = self.calls.get(call_uuid)
        if existing is not None:
            if existing.queue != queue_name:
                raise Conflict(f"call {call_uuid} is already queued in {existing.queue}")
            return self._result(existing)
        first_enqueued_us = 0
        gone = self.departed.get(call_uuid)
        if gone is not None:
            # A caller a queue sent to an IVR flow (overflow or closed) may come
            # back through that flow's queue node: a new stay, same call and CDR.
            if gone.state is not CallState.OVERFLOWED or not gone.destination.startswith("ivr:"):
                raise Conflict(f"call {call_uuid} already left the queues ({gone.state.value})")
            del self.departed[call_uuid]
            first_enqueued_us = gone.first_enqueued_us
        decision = self._ruleset.evaluate(ani, dnis, queue_name) if self._ruleset is not None else None
        if decision is not None:
            queue_name = decision.queue
            priority = max(-100, min(100, priority + decision.priority_delta))
        if queue_name not in self.queues:
            raise InvalidArgument("queue", f"no queue named {queue_name!r}")
        now = self.clock_us()
        call = QueuedCall(call_uuid, queue_name, ani, dnis, caller_name, node_id, priority, now,
                          answered_us=answered_us, menu_choice=menu_choice, seq=next(self._seq),
                          first_enqueued_us=first_enqueued_us or now, skills=self._skill_names(queue_name))
        if decision is not None and decision.reject_cause:
            call.state, call.reject_cause = CallState.REJECTED, decision.reject_cause
            self.departed[call_uuid] = call
            self._queue_event(call, ev.QUEUE_REJECTED, reason=decision.reject_cause)
            self.actions.append(Action("hangup", call_uuid, node_id, queue_name, decision.reject_cause))
            return EnqueueResult("rejected", queue_name, reject_cause=decision.reject_cause, priority=priority)
        if decision is not None and decision.overflow:
            return self._overflow(call, decision.overflow, "rule", 0)
        return self._admit(call, 0)

    def _admit(self, call: QueuedCall, hops: int) -> EnqueueResult:
        queue = self.queues[call.queue]
        if hops < MAX_OVERFLOW_HOPS:
            if not self.is_open(queue):
                return self._overflow(call, queue.closed_destination or queue.overflow, "closed", hops)
            if queue.max_length and len(self.calls.in_queue(queue.name)) >= queue.max_length:
                return self._overflow(call, queue.overflow, "max_length", hops)
        else:
            log.warning("call %s overflowed %d times; it waits in %s", call.call_uuid, hops, call.queue)
        self.calls[call.call_uuid] = call
        if queue.announce_every_s:
            call.next_announce_us = call.enqueued_us + queue.announce_every_s * US
            self._waiting.rearm(call)
        result = self._result(call)
        self._queue_event(call, ev.QUEUE_ENQUEUED, position=result.position, ewt_s=result.ewt_s)
        self.actions.append(Action("music", call.call_uuid, call.node_id, call.queue))
        return result

    def _result(self, call: QueuedCall) -> EnqueueResult:
        position = self.position(call)
        return EnqueueResult("enqueued", call.queue, position=position, ewt_s=self.ewt_s(call.queue, position),
                             priority=call.priority)

    def _skill_names(self, queue_name: str) -> tuple[str, ...]:
        queue = self.queues.get(queue_name)
        return tuple(sorted({r.skill for r in queue.rules()})) if queue is not None else ()

    def _overflow(self, call: QueuedCall, destination: str, reason: str, hops: int) -> EnqueueResult:
        kind, target = parse_destination(destination)
        self._queue_event(call, ev.QUEUE_OVERFLOWED, reason=reason, destination=destination)
        self.calls.pop(call.call_uuid, None)
        if kind == "queue":
            call.queue, call.enqueued_us, call.tried = target, self.clock_us(), set()
            call.skills = self._skill_names(target)
            call.state, call.seq = CallState.WAITING, next(self._seq)
            return self._admit(call, hops + 1)
        call.state, call.destination = CallState.OVERFLOWED, destination
        self.departed[call.call_uuid] = call
        self.actions.append(Action("transfer", call.call_uuid, call.node_id, call.queue, destination))
        return EnqueueResult("overflowed", call.queue, destination=destination, priority=call.priority)

    def set_priority(self, call_uuid: str, priority: int) -> QueuedCall:
        call = self.waiting_call(call_uuid)
        if not -100 <= priority <= 100:
            raise InvalidArgument("priority", "must be between -100 and 100")
        if call.priority != priority:
            call.priority = priority
            self._waiting.update(call)
            self._queue_event(call, ev.QUEUE_PRIORITY_CHANGED, position=self.position(call))
        return call

    def call_changed(self, call_uuid: str) -> None:
        """A queued call's priority, times, queue or callback fields were
        changed directly (tests, benchmarks, tools): re-index it."""
        call = self.calls.get(call_uuid)
        if call is not None:
            self._waiting.update(call)

    def waiting_call(self, call_uuid: str) -> QueuedCall:
        if not call_uuid:
            raise InvalidArgument("call_uuid", "is required")
        call = self.calls.get(call_uuid)
        if call is None:
            raise NotFound(f"call {call_uuid} is not waiting in a queue", call_uuid=call_uuid)
        return call

    # -- who waits, in what order ----------------------------------------
    def waiting(self, queue_name: str | None = None) -> list[QueuedCall]:
        calls = [c for c in (self.calls.values() if queue_name is None else self.calls.in_queue(queue_name))
                 if c.state in (CallState.WAITING, CallState.OFFERING) and (queue_name is None or c.queue == queue_name)]
        return sorted(calls, key=lambda c: c.order)

    def position(self, call: QueuedCall) -> int:
        """1 + the calls of its queue served before it (O(calls in its queue))."""
        mine = call.order
        return 1 + sum(1 for c in self.calls.in_queue(call.queue)
                       if c is not call and c.queue == call.queue
                       and c.state in (CallState.WAITING, CallState.OFFERING) and c.order < mine)

    # -- staffing (for the expected wait) -----------------------------------
    # Which agents serve which queue changes only with skills or a queue's
    # requirements, so it is kept as sets; who of them is busy is read when
    # an estimate is needed (never on the routing decision's path).
    def _restaff_agent(self, agent: Agent) -> None:
        self._agent_queue_names.pop(agent.agent_id, None)
        for queue_name in self._agent_queues.pop(agent.agent_id, set()):
            self._members.get(queue_name, set()).discard(agent.agent_id)
        mine = {q.name for q in self.queues.values() if agent.serves(q)}
        self._agent_queues[agent.agent_id] = mine
        for queue_name in mine:
            self._members.setdefault(queue_name, set()).add(agent.agent_id)

    def _restaff_queue(self, queue: QueueConfig) -> None:
        members = {a.agent_id for a in self.agents.values() if a.serves(queue)}
        self._agent_queue_names.clear()
        for agent_id, queues in self._agent_queues.items():
            if agent_id in members:
                queues.add(queue.name)
            else:
                queues.discard(queue.name)
        self._members[queue.name] = members

    def members(self, queue_name: str) -> list[Agent]:
        """The agents who serve the queue (have its skills once fully relaxed), in any state."""
        return [self.agents[agent_id] for agent_id in self._members.get(queue_name, ())]

    def servers(self, queue_name: str) -> tuple[int, tuple[int, ...]]:
        """Agents staffing the queue (ready, or busy with a call or its
        wrap-up), and when the busy ones' current state began."""
        servers, busy = 0, []
        for agent in self.members(queue_name):
            if agent.state in STAFFED:
                servers += 1
                if agent.state != ev.READY:
                    busy.append(agent.state_since_us)
        return servers, tuple(busy)

    def ewt_s(self, queue_name: str, position: int) -> int:
        """Expected wait in whole seconds for the caller at `position`; -1 unknown."""
        queue = self.queues[queue_name]
        if position <= 1 and self.selector.choose(queue_name, relaxed(queue.rules(), queue.relaxation, math.inf)):
            return 0                                      # an agent is free for this caller
        servers, busy = self.servers(queue_name)
        estimate = self.ewt.estimate(queue_name, max(position, 1), servers, busy)
        if math.isnan(estimate.seconds) or math.isinf(estimate.seconds):
            return -1
        return int(round(estimate.seconds))

    def _queue_event(self, call: QueuedCall, type_: int, *, agent_id: str = "", position: int = 0,
                     reason: str = "", destination: str = "", ewt_s: int = 0, attempt: int = 0) -> None:
        now = self.clock_us()
        self.outbox.append(("queue", ev.QueueEvent, _QUEUE_EVENT_FIELDS, (
            call.call_uuid, call.queue, type_, now, agent_id, call.ani, call.dnis, position,
            now - call.enqueued_us, call.node_id, reason, call.caller_name, destination, call.priority,
            call.callback_number, ewt_s, attempt)))

    # -- offering ----------------------------------------------------------
    def next_assignments(self, can_offer: Callable[[QueuedCall], bool] | None = None) -> list[Assignment]:
        """Pair waiting calls with free agents; reserves both. Calls for which
        can_offer(call) is False (their switch is unreachable) wait.

        The calls are taken in serving order across all queues, but only from
        the buckets of the index (_WaitingCalls) that may have an agent: a
        tick costs O(buckets woken + calls offered, x log), not O(calls
        waiting)."""
        assignments: list[Assignment] = []
        selector = self.selector
        if not selector.ready_count():
            return assignments
        now = self.clock_us()
        waiting = self._waiting
        waiting.advance(now)
        heads = waiting.heads()
        queues = self.queues
        while heads:
            entry, bucket = heads[0]
            call = entry[2]
            if can_offer is None or can_offer(call):
                agents = self.choose_agents(queues[call.queue], call, now)
                if not agents:
                    waiting.bury(bucket)          # nobody for any of its calls, this tick and until woken
                    heapq.heappop(heads)
                    continue
                self._offer(call, agents, now, assignments)
                if not selector.ready_count():
                    waiting.bury_all()            # nobody READY: nobody for any call until someone is
                    break
            entries = bucket.entries
            i = bisect.bisect_right(entries, entry)
            if i < len(entries):
                heapq.heapreplace(heads, (entries[i], bucket))
            else:
                heapq.heappop(heads)
        return assignments

    def _offer(self, call: QueuedCall, agents: list[Agent], now: int, assignments: list[Assignment]) -> None:
        """Ring `agents` for the call: both are reserved."""
        call.offers += 1
        call_uuid, offers, queue_name = call.call_uuid, call.offers, call.queue
        if len(agents) == 1:
            agent = agents[0]
            leg = agent_leg_uuid(call_uuid, offers, agent.agent_id)
            legs: tuple[tuple[Agent, str], ...] = ((agent, leg),)
            call.ringing = {agent.agent_id: leg}
        else:
            legs = tuple([(agent, agent_leg_uuid(call_uuid, offers, agent.agent_id)) for agent in agents])
            call.ringing = {agent.agent_id: leg for agent, leg in legs}
        call.state, call.offered_us = CallState.OFFERING, now
        self._waiting.discard(call)
        call.first_offered_us = call.first_offered_us or now
        call.agent_id, call.agent_leg_uuid = legs[0][0].agent_id, legs[0][1]
        stats = self.selector.agents
        for agent, _ in legs:
            agent_id = agent.agent_id
            call.tried.add(agent_id)
            stats[agent_id].last_offer_us[queue_name] = now
            self._transition(agent, ev.RESERVED, call_uuid=call_uuid, queue=queue_name)
            self._queue_event(call, ev.QUEUE_OFFERED, agent_id=agent_id, attempt=offers)
        assignments.append(Assignment(call, legs))

    def _tier_exclusions(self, queue: QueueConfig, waited_s: float) -> list[tuple[int, set[str]]]:
        """(tier, agents to leave out) for each tier the call may use now, first tier first."""
        members = self._tiers.get(queue.name)
        if not members:
            return _NO_TIERS
        reached = tier_reached(queue, waited_s)
        out = [(1, set(members))]
        for tier in sorted({t for t in members.values() if t <= reached}):
            out.append((tier, {a for a, t in members.items() if t != tier}))
        return out

    def _rules_after(self, queue: QueueConfig, waited_s: float) -> tuple[Requirement, ...]:
        """relaxed(queue.rules(), queue.relaxation, waited_s), built once per queue and step."""
        return self._rules_dropped(queue, relaxation_drop(queue.relaxation, waited_s))

    def _rules_dropped(self, queue: QueueConfig, drop: int) -> tuple[Requirement, ...]:
        """relaxed_by(queue.rules(), drop), built once per queue and step."""
        cached = self._relaxed.get(queue.name)
        if cached is None or cached[0] is not queue.requirements or cached[1] != queue.skill \
                or cached[2] is not queue.relaxation:
            cached = self._relaxed[queue.name] = (queue.requirements, queue.skill, queue.relaxation, {})
        by_drop = cached[3]
        found = by_drop.get(drop)
        if found is None:
            found = by_drop[drop] = relaxed_by(queue.rules(), drop)
        return found

    def choose_agents(self, queue: QueueConfig, call: QueuedCall, now: int | None = None) -> list[Agent]:
        """The agent(s) to ring: the one the queue's strategy picks (all of
        them for ring-all) among the READY agents who meet the call's
        (relaxed) requirements, in a tier it has reached, and were not yet
        tried for it. When every eligible agent has been tried, the round
        starts again."""
        waited_s = ((self.clock_us() if now is None else now) - call.enqueued_us) / US
        rules = self._rules_after(queue, waited_s)
        tiers = self._tier_exclusions(queue, waited_s)
        if tiers is _NO_TIERS and queue.strategy != "ring-all":
            # The usual case, the loop below without tiers: one agent, the
            # untried first, then a new round.
            one = self.selector.choose(queue.name, rules, call.tried)
            if one is None and call.tried:
                one = self.selector.choose(queue.name, rules)
                if one is not None:
                    call.tried.clear()
            return [] if one is None else [self.agents[one]]
        for new_round in (False, True):
            if new_round and not call.tried:
                break
            tried: set[str] = set() if new_round else call.tried
            for _, excluded in tiers:
                leave_out = (excluded | tried) if excluded else tried
                if queue.strategy == "ring-all":
                    ids = self.selector.eligible(queue.name, rules, leave_out)[:RING_ALL_MAX_LEGS]
                else:
                    one = self.selector.choose(queue.name, rules, leave_out)
                    ids = [one] if one is not None else []
                if ids:
                    if new_round:
                        call.tried.clear()
                    return [self.agents[a] for a in ids]
        return []

    def _call_for_offer(self, call_uuid: str, agent_id: str) -> QueuedCall | None:
        call = self.calls.get(call_uuid)
        if call is None or call.state is not CallState.OFFERING or agent_id not in call.ringing:
            return None
        return call

    def offer_failed(self, call_uuid: str, agent_id: str, cause: str, *, agent_missed: bool = True) -> None:
        """An agent's phone did not answer (or the leg failed). agent_missed=False
        when it was not the agent's doing (the switch connection was lost, or
        another agent answered a ring-all first). The call waits again once
        none of its legs rings any more."""
        agent = self.agents.get(agent_id)
        call = self._call_for_offer(call_uuid, agent_id)
        if call is not None:
            del call.ringing[agent_id]
            if agent_id == call.dialing_agent:
                call.dialing_agent, call.dialing_agent_gone = "", False
            if agent_missed:
                self._queue_event(call, ev.QUEUE_OFFER_FAILED, agent_id=agent_id, reason=cause, attempt=call.offers)
            if not call.ringing:
                if not agent_missed:
                    self._queue_event(call, ev.QUEUE_OFFER_FAILED, agent_id=agent_id, reason=cause,
                                      attempt=call.offers)
                call.state, call.agent_id, call.agent_leg_uuid = CallState.WAITING, "", ""
                self._waiting.update(call)
        if agent is not None and agent.state == ev.RESERVED and agent.call_uuid == call_uuid:
            agent.missed_offers += 1 if agent_missed else 0
            if agent.missed_offers >= self.max_missed_offers:
                agent.reason = ""
                self._transition(agent, ev.NOT_READY, "no answer")
            else:
                self._release(agent)

    def connected(self, call_uuid: str, agent_id: str) -> bool:
        """Caller (or a callback's customer) and this agent are bridged; any
        other agent still rung for the call (ring-all) is released."""
        call = self._call_for_offer(call_uuid, agent_id)
        agent = self.agents.get(agent_id)
        if call is None or agent is None:
            return False
        if call.dialing_agent == agent_id and call.dialing_agent_gone:
            # Bridged to a leg that was already gone: no connection.
            self.offer_failed(call_uuid, agent_id, "AGENT_LEG_ENDED", agent_missed=False)
            return False
        call.dialing_agent = ""
        for other in [a for a in call.ringing if a != agent_id]:
            self.offer_failed(call_uuid, other, "LOSE_RACE", agent_missed=False)
        call.state, call.connected_us = CallState.CONNECTED, self.clock_us()
        call.agent_id, call.agent_leg_uuid = agent_id, call.ringing.get(agent_id, call.agent_leg_uuid)
        call.ringing = {}
        agent.missed_offers = 0
        self._transition(agent, ev.ON_CALL, agent.reason if agent.reason.startswith("pending:") else "",
                         call_uuid=call_uuid, queue=call.queue)
        self._queue_event(call, ev.QUEUE_CONNECTED, agent_id=agent_id, attempt=call.offers)
        return True

    # -- callbacks in queue ------------------------------------------------
    def dtmf(self, call_uuid: str, digit: str) -> None:
        """A digit from a waiting caller: the queue's callback key starts
        leaving a number; then digits, # to finish (# alone: the caller's own
        number), * to cancel."""
        call = self.calls.get(call_uuid)
        if call is None or call.state is not CallState.WAITING or call.is_callback:
            return
        queue = self.queues.get(call.queue)
        if queue is None or not queue.callback_key:
            return
        if call.collecting is None:
            if digit == queue.callback_key:
                call.collecting, call.collect_until_us = "", self.clock_us() + CALLBACK_COLLECT_S * US
                self._waiting.rearm(call)                     # the entry times out
                self.actions.append(Action("prompt", call.call_uuid, call.node_id, call.queue, "callback_number"))
            return
        if digit == "*":
            call.collecting = None
            self.actions.append(Action("music", call.call_uuid, call.node_id, call.queue))
        elif digit == "#":
            typed, call.collecting = call.collecting, None
            try:
                self.request_callback(call_uuid, typed)
            except InvalidArgument:
                self.actions.append(Action("prompt", call.call_uuid, call.node_id, call.queue, "callback_invalid"))
        elif digit.isdigit() and len(call.collecting) < 20:
            call.collecting += digit
            call.collect_until_us = self.clock_us() + CALLBACK_COLLECT_S * US
        self._waiting.rearm(call)                             # an announcement held back may be due

    def request_callback(self, call_uuid: str, number: str = "") -> QueuedCall:
        """The caller leaves `number` (default: their own) and will hang up;
        the call keeps its place and is dialled back when its turn comes."""
        call = self.waiting_call(call_uuid)
        queue = self.queues[call.queue]
        if not queue.callback_dial:
            raise Conflict(f"queue {queue.name!r} does not offer callbacks", call_uuid=call_uuid)
        if call.is_callback:
            return call
        if call.state is not CallState.WAITING:
            raise Conflict(f"call {call_uuid} is being offered to an agent", call_uuid=call_uuid)
        call.callback_number = normalize_number(number or call.ani, "number")
        call.collecting = None
        self._waiting.update(call)                    # parked until the caller hangs up
        self._queue_event(call, ev.QUEUE_CALLBACK_REQUESTED, position=self.position(call))
        self.actions.append(Action("callback_confirm", call.call_uuid, call.node_id, call.queue, call.callback_number))
        return call

    def callback_dialing(self, call_uuid: str, agent_id: str) -> str:
        """The agent answered a callback; the customer's number is dialled now
        on the leg returned ("" when the offer is no longer current)."""
        call = self._call_for_offer(call_uuid, agent_id)
        if call is None or not call.is_callback:
            return ""
        call.callback_attempts += 1
        call.customer_leg_uuid = customer_leg_uuid(call_uuid, call.callback_attempts)
        call.dialing_agent, call.dialing_agent_gone = agent_id, False
        self._queue_event(call, ev.QUEUE_CALLBACK_DIALING, agent_id=agent_id, attempt=call.callback_attempts)
        return call.customer_leg_uuid

    def callback_failed(self, call_uuid: str, agent_id: str, cause: str) -> QueuedCall | None:
        """The customer did not answer. The agent is released (not their
        miss); the call waits callback_retry_s and is tried again, or after
        the last attempt it ends. Returns the call when it ended (for its CDR)."""
        call = self._call_for_offer(call_uuid, agent_id)
        if call is None:
            return None
        queue = self.queues.get(call.queue)
        self.offer_failed(call_uuid, agent_id, "CALLBACK_" + cause, agent_missed=False)
        self._queue_event(call, ev.QUEUE_CALLBACK_FAILED, agent_id=agent_id, reason=cause,
                          attempt=call.callback_attempts)
        call.customer_leg_uuid = ""
        if queue is not None and call.callback_attempts < queue.callback_attempts:
            call.not_before_us = self.clock_us() + queue.callback_retry_s * US
            call.tried = set()
            self._waiting.update(call)                # parked until then
            return None
        self.calls.pop(call_uuid, None)
        call.state = CallState.ENDED
        return call

    # -- calls leaving -------------------------------------------------------
    def call_ended(self, call_uuid: str) -> QueuedCall | None:
        """The caller's channel is gone. Returns the call (for the CDR); a
        caller who left a number keeps their place, and the call returned
        (a copy) says so (is_callback)."""
        departed = self.departed.pop(call_uuid, None)
        if departed is not None:
            return departed
        call = self.calls.get(call_uuid)
        if call is None:
            return None
        if call.is_callback:
            call.caller_gone = True
            self._waiting.update(call)                # may be called back now
            return dataclasses.replace(call)          # the caller's CDR; the call stays queued
        return self._end(call)

    def customer_ended(self, call_uuid: str) -> QueuedCall | None:
        """A connected callback's customer leg is gone: the call ends."""
        call = self.calls.get(call_uuid)
        if call is None or not call.is_callback or call.state is not CallState.CONNECTED:
            return None
        return self._end(call)

    def _end(self, call: QueuedCall) -> QueuedCall:
        call_uuid = call.call_uuid
        del self.calls[call_uuid]
        agent = self.agents.get(call.agent_id) if call.agent_id else None
        now = self.clock_us()
        if call.state is CallState.CONNECTED:
            self._queue_event(call, ev.QUEUE_CALL_ENDED, agent_id=call.agent_id)
            queue = self.queues.get(call.queue)
            talk_us = max(0, now - call.connected_us)
            if agent is not None:
                stats = self.selector.stats(agent.agent_id)     # least-calls, least-talk-time
                stats.calls += 1
                stats.talk_us += talk_us
            if queue is not None:
                # max(0, ...): the wall clock may have been stepped back meanwhile
                self.ewt.call_answered(queue.name, talk_us / US + queue.wrap_up_s,
                                       max(0, call.connected_us - call.enqueued_us) / US)
            if agent is not None and agent.call_uuid == call_uuid:
                self._after_call(agent, queue, call_uuid)
        else:
            self._queue_event(call, ev.QUEUE_ABANDONED, agent_id=call.agent_id)
            if call.queue in self.queues:
                self.ewt.call_abandoned(call.queue, max(0, now - call.enqueued_us) / US)
            for agent_id in list(call.ringing):
                ringing = self.agents.get(agent_id)
                if ringing is not None and ringing.state == ev.RESERVED and ringing.call_uuid == call_uuid:
                    self._release(ringing)
        call.state = CallState.ENDED
        return call

    def agent_leg_ended(self, call_uuid: str, agent_id: str, leg_uuid: str = "", cause: str = "") -> None:
        """The agent's leg is gone. If the call was connected, the caller's
        leg ends with it (the switch hangs it up); the agent goes to wrap-up
        when the caller's hang-up arrives. If it was still offering, the offer
        failed, unless the leg is an earlier offer's (an orphan hung up late);
        while a callback's customer is being dialled, the answering agent's
        leg ending is settled by the dial's outcome.
        A ring-all leg cancelled because another agent answered first
        (LOSE_RACE) is no miss."""
        call = self.calls.get(call_uuid)
        if call is not None and call.state is CallState.OFFERING and agent_id in call.ringing \
                and (not leg_uuid or call.ringing[agent_id] == leg_uuid):
            if agent_id == call.dialing_agent:
                # The switch still reports how the customer's dial ends (callback_failed, or
                # BRIDGE_FAILED/connected); failing the offer now would dial the customer twice.
                call.dialing_agent_gone = True
                return
            self.offer_failed(call_uuid, agent_id, cause or "AGENT_LEG_ENDED",
                              agent_missed=cause not in NOT_A_MISS)

    # -- time ----------------------------------------------------------------
    def tick(self) -> None:
        """Time-driven transitions: wrap-up ends, stuck reservations expire,
        calls overflow after max wait, announcements fall due, an abandoned
        number entry times out."""
        now = self.clock_us()
        self._tick_agents(now)
        # Only the waiting calls whose number entry, max wait or announcement may
        # be due (_WaitingCalls.rearm), in the order of Acd.calls: not O(calls).
        due = self._waiting.due(now)
        for call in due:
            self._tick_call(call, now)
        for call in due:
            self._waiting.rearm(call)

    def _tick_agents(self, now: int) -> None:
        for agent in list(self.agents.values()):
            if agent.state == ev.WRAP_UP:
                queue = self.queues.get(agent.queue)
                wrap_us = (queue.wrap_up_s if queue else 0) * US
                if now - agent.state_since_us >= wrap_us:
                    self._release(agent)
            elif agent.state in (ev.RESERVED, ev.ON_CALL) and agent.call_uuid not in self.calls:
                # The call this agent was serving is gone: never leave the agent stuck.
                self._release(agent)
            elif agent.state == ev.RESERVED:
                call = self.calls.get(agent.call_uuid)
                queue = self.queues.get(agent.queue)
                limit = ((queue.ring_timeout_s if queue else 15) + 15) * US
                if call is not None and call.dialing_agent == agent.agent_id:
                    limit += CALLBACK_DIAL_MAX_S * US      # answered; the customer is being dialled
                if call is not None and agent.agent_id not in call.ringing:
                    self._release(agent)               # reserved for a call that no longer rings it
                elif call is not None and now - call.offered_us > limit:
                    self.offer_failed(call.call_uuid, agent.agent_id, "RESERVATION_EXPIRED")

    def _tick_call(self, call: QueuedCall, now: int) -> None:
        """A waiting call's number entry times out, it overflows after its
        max wait, or its announcement is due (nothing when none is)."""
        if call.state is not CallState.WAITING:
            return
        queue = self.queues.get(call.queue)
        if queue is None:
            return
        if call.collecting is not None and now >= call.collect_until_us:
            call.collecting = None
            self.actions.append(Action("music", call.call_uuid, call.node_id, call.queue))
        if call.is_callback:
            return
        if queue.max_wait_s and now - call.enqueued_us >= queue.max_wait_s * US and queue.overflow:
            self._overflow(call, queue.overflow, "max_wait", 0)
            return
        if queue.announce_every_s and call.next_announce_us and now >= call.next_announce_us \
                and call.collecting is None:
            call.next_announce_us = now + queue.announce_every_s * US
            position = self.position(call)
            ewt = self.ewt_s(queue.name, position)
            minutes = max(1, (ewt + 59) // 60) if ewt >= 0 else 0
            if ewt >= 0:
                text = queue.announcement.format(position=position, minutes=minutes)
            else:
                text = queue.announcement.split(".")[0].format(position=position, minutes="") + "."
            self._queue_event(call, ev.QUEUE_ANNOUNCED, position=position, ewt_s=ewt)
            self.actions.append(Action("announce", call.call_uuid, call.node_id, call.queue, text))

    def reconcile(self, live_uuids: set[str],
                  on_switch: Callable[[QueuedCall], bool] | None = None) -> list[QueuedCall]:
        """Drop calls whose channels no longer exist on the switch (after a
        reconnect, a switch restart or a routing restart); with several
        switches, only the calls for which on_switch(call) is True are
        checked. A callback whose caller is gone has no channel to check
        until it is dialled. Returns the calls that ended."""
        ended = []
        for call_uuid, call in list(self.calls.items()):
            leg = call.live_leg()
            if leg is None or leg in live_uuids or (on_switch is not None and not on_switch(call)):
                continue
            if call.is_callback and call.caller_gone:
                if call.state is not CallState.CONNECTED:
                    continue                                # being dialled: the offer settles it
                done = self.customer_ended(call_uuid)
            else:
                done = self.call_ended(call_uuid)
            if done is not None:
                ended.append(done)
        for call_uuid, call in list(self.departed.items()):
            if call_uuid not in live_uuids and (on_switch is None or on_switch(call)):
                del self.departed[call_uuid]
                ended.append(call)
        self.tick()
        return ended

    def drain(self) -> list[tuple[str, Any]]:
        """The events decided since the last drain, in order, as ("agent"|"queue", message)."""
        out, self.outbox = self.outbox, []
        return [(kind, cls(event_id=self.new_uuid(), **dict(zip(names, values)))) for kind, cls, names, values in out]

    def take_actions(self) -> list[Action]:
        out, self.actions = self.actions, []
        return out
