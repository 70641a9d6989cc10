"""The ACD's invariants under random traffic, hermetic: a fake clock and a
model of the switch, no I/O.

A hypothesis state machine drives arrivals, answers, no-answers, failing
legs, hang-ups on every side, blind transfers, agent state changes, priority
changes, callbacks, routing restarts (a fresh Acd rebuilt with
rebuild.restore from every event the old one published, then settled and
reconciled with the switch) and switch restarts. The model of the switch
does what switch.SwitchSide does, in the same order: an offer is one
originate (one leg per agent; ring-all rings several and the switch cancels
the losers when one answers), answered legs are bridged to the caller (or,
for a callback, the customer is dialled first), a channel's hang-up is
reported to the ACD as SwitchSide.on_event reports it, and an offer whose
reply was lost is settled against the switch's channels on reconnect.

After every step (see RoutingModel.check):

1. no agent is READY while a call rings it or is connected with it; an
   ON_CALL agent has exactly one CONNECTED call; a RESERVED agent is in the
   `ringing` of exactly one OFFERING call, and every agent rung is RESERVED
   for that call; the selector's ready set is the READY agents;
2. after a routing tick no call waits while an agent who is eligible for it
   (computed here by brute force, not with the selector) is READY;
3. every call that reached routing ends exactly once (answered, abandoned,
   overflowed out of the queues, rejected, or called back / callback given
   up), checked on the event stream after everyone hung up and the
   callbacks were served, and that end is the call's last event; no
   reservation outlives ring timeout + 15 s across a tick (plus the longest
   dial of a callback's customer once the agent answered);
4. the switch carries no conversation the ACD does not know about, and an
   agent off-hook for an offer (bridge pending, customer being dialled) is
   RESERVED for it; no queued caller's channel is gone; positions in each
   queue are 1..n.

Regressions for what it found are plain tests at the end.
"""
from __future__ import annotations

import dataclasses
import functools
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hotline.common.errors import Conflict, InvalidArgument
from hotline.common.settings import RoutingSettings
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing import rebuild
from hotline.routing.acd import CALLBACK_DIAL_MAX_S, Acd, CallState, QueueConfig
from hotline.routing.rules import NumberList, RoutingRule, parse_destination
from hotline.routing.selection import Relaxation, Requirement

from fake_clock import Clock

US = 1_000_000
CALLBACK_RING_TIMEOUT_S = RoutingSettings().callback_ring_timeout_s
NODE = "fs1"
DNIS = "18005550100"

VIP_NUMBERS = ("+1 555 0001", "15550002")
BLOCKED_NUMBERS = ("15559999",)
ANIS = ("15550001", "15550002", "15559999", "15551234", "4930123456", "442079460000", "anonymous")


def queues() -> list[QueueConfig]:
    """Every strategy, skills with relaxation, overflow to a queue and to
    voicemail, callbacks, wrap-up, tiers. Overflow targets come first."""
    return [
        QueueConfig("general", "support", strategy="longest-idle", wrap_up_s=5, ring_timeout_s=15,
                    requirements=(Requirement("support", 6),),
                    relaxation=(Relaxation(20, 2), Relaxation(40, 5))),
        QueueConfig("billing", "billing", strategy="round-robin", ring_timeout_s=10,
                    requirements=(Requirement("billing", 5), Requirement("support", 3)),
                    relaxation=(Relaxation(15, 2),), max_wait_s=45, overflow="queue:general"),
        QueueConfig("vip", "support", strategy="ring-all", ring_timeout_s=20,
                    requirements=(Requirement("support", 4),), max_wait_s=30, overflow="voicemail:100"),
        QueueConfig("sales", "sales", strategy="top-down", ring_timeout_s=12, tier_wait_s=10),
        QueueConfig("callback", "sales", strategy="least-calls", ring_timeout_s=15,
                    requirements=(Requirement("sales", 4),), relaxation=(Relaxation(60, 3),),
                    callback_key="1", callback_dial="sofia/gateway/out/{number}",
                    callback_attempts=2, callback_retry_s=20),
    ]


AGENTS = {                          # agent id -> (skills, tiers)
    "a1": ({"support": 8, "billing": 6}, {}),
    "a2": ({"support": 4, "billing": 3}, {}),
    "a3": ({"sales": 7, "support": 2}, {"sales": 1}),
    "a4": ({"billing": 9, "sales": 3, "support": 5}, {}),
    "a5": ({"sales": 5, "support": 6}, {"sales": 2}),
    "a6": ({"sales": 4, "billing": 2, "support": 3}, {"sales": 3}),
}
RING_LIMIT_S = max(q.ring_timeout_s for q in queues()) + 15


def configure(acd: Acd) -> None:
    """What config.rebuild gives a restarted routing: the same configuration."""
    for queue in queues():
        acd.upsert_queue(queue)
    for agent_id, (skills, tiers) in AGENTS.items():
        acd.upsert_agent(agent_id, agent_id, f"user/{agent_id}@default", skills, tiers)
    acd.upsert_list(NumberList.of("vip", VIP_NUMBERS))
    acd.upsert_list(NumberList.of("blocked", BLOCKED_NUMBERS))
    acd.set_rules([RoutingRule("blacklist", ani_list="blocked", reject=True),
                   RoutingRule("vip-first", ani_list="vip", priority=20)])


# -- the model of the switch -------------------------------------------------------
@dataclasses.dataclass
class AgentLeg:
    uuid: str
    call_uuid: str
    agent_id: str
    job: Job
    answered: bool = False


@dataclasses.dataclass
class CustomerLeg:
    uuid: str
    call_uuid: str
    job: Job
    answered: bool = False


@dataclasses.dataclass
class Job:
    """One offer on the switch: SwitchSide._offer's originate and what follows it."""

    call_uuid: str
    legs: dict[str, str]              # agent id -> agent leg uuid
    is_callback: bool
    deadline_us: int                  # the switch gives up ringing (originate_timeout)
    generation: int                   # the routing process whose greenlet waits for the reply
    phase: str = "ringing"            # ringing | bridging (bridged, reply not yet read) | dialing | done
    winner: str = ""
    customer_leg: str = ""


def step(fn):
    """Marks the machine unclean while a step runs, so teardown only drains
    a machine whose last step and invariants completed."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        self.clean = False
        fn(self, *args, **kwargs)
        self.clean = True
    return wrapper


class RoutingModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.acd = self._new_acd()
        self.generation = 0
        self.callers: dict[str, str] = {}         # live caller channel -> queue | voicemail | leaving
        self.agent_legs: dict[str, AgentLeg] = {}
        self.customer_legs: dict[str, CustomerLeg] = {}
        self.bridges: dict[str, str] = {}         # both directions
        self.jobs: list[Job] = []
        self.unsettled: dict[str, list[tuple[str, str]]] = {}   # SwitchSide._unsettled
        self.agent_log: list[ev.AgentStateEvent] = []
        self.queue_log: list[ev.QueueEvent] = []
        self.arrived: list[str] = []
        self.after_routing_tick = False
        self.clean = True
        self.calls_made = 0

    def _new_acd(self) -> Acd:
        acd = Acd(self.clock)
        configure(acd)
        assert acd.drain() == []
        return acd

    # -- plumbing ------------------------------------------------------------
    def publish(self) -> None:
        """SwitchSide/RoutingCore: publish the outbox and carry out the ACD's actions."""
        for kind, message in self.acd.drain():
            (self.agent_log if kind == "agent" else self.queue_log).append(message)
        for action in self.acd.take_actions():
            if action.call_uuid not in self.callers:
                continue
            if action.kind == "hangup":                      # a rejected caller
                self.hangup(action.call_uuid, action.arg)
            elif action.kind == "transfer":                  # overflow to voicemail: the channel lives on
                self.callers[action.call_uuid] = "voicemail"
            elif action.kind == "callback_confirm":          # the caller hangs up after the confirmation
                self.callers[action.call_uuid] = "leaving"
        for kind, message in self.acd.drain():
            (self.agent_log if kind == "agent" else self.queue_log).append(message)

    def live(self) -> set[str]:
        return set(self.callers) | set(self.agent_legs) | set(self.customer_legs)

    def pairs(self) -> set[frozenset[str]]:
        return {frozenset(pair) for pair in self.bridges.items()}

    def tick(self) -> None:
        self.acd.tick()
        self.check_reservations()

    def jobs_in(self, *phases: str) -> list[Job]:
        return [j for j in self.jobs if j.generation == self.generation and j.phase in phases]

    def ringing_jobs(self) -> list[Job]:
        return [j for j in self.jobs_in("ringing") if self.ringing_legs(j)]

    def ringing_legs(self, job: Job) -> list[str]:
        return [a for a, leg in job.legs.items() if leg in self.agent_legs and not self.agent_legs[leg].answered]

    # -- channels ending, as SwitchSide.on_event reports them --------------------
    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        partner = self.bridges.pop(uuid, None)
        if partner is not None:
            self.bridges.pop(partner, None)
        if uuid in self.callers:
            del self.callers[uuid]
            self.caller_hung_up(uuid)
        elif uuid in self.agent_legs:
            leg = self.agent_legs.pop(uuid)
            self.acd.agent_leg_ended(leg.call_uuid, leg.agent_id, uuid, cause)
            job = leg.job
            if job.phase == "ringing" and not any(lg in self.agent_legs for lg in job.legs.values()):
                self.originate_failed(job, cause)       # the last leg gone: originate returns -ERR
        elif uuid in self.customer_legs:
            customer = self.customer_legs.pop(uuid)
            call = self.acd.calls.get(customer.call_uuid)
            if call is not None and call.state is CallState.CONNECTED and call.customer_leg_uuid == uuid:
                self.acd.customer_ended(call.call_uuid)
            job = customer.job
            if job.phase == "dialing" and job.customer_leg == uuid:
                self.customer_failed(job, cause, kill_event_first=True)
        if partner is not None and partner in self.live():
            self.hangup(partner, "NORMAL_CLEARING")    # a bridged channel goes with its partner

    def caller_hung_up(self, uuid: str) -> None:
        call = self.acd.calls.get(uuid)
        kill = []
        if call is not None and call.state is CallState.OFFERING and not call.is_callback:
            kill = list(call.ringing.values())
        self.acd.call_ended(uuid)
        for leg in kill:                                  # spawned: after call_ended
            if leg in self.agent_legs:
                self.hangup(leg, "ORIGINATOR_CANCEL")

    # -- an offer's reply, as SwitchSide._offer handles it ---------------------------
    def originate_failed(self, job: Job, cause: str) -> None:
        job.phase = "done"
        if job.generation != self.generation:
            return                                        # that greenlet died with its process
        for agent_id in job.legs:
            self.acd.offer_failed(job.call_uuid, agent_id, cause)

    def originate_answered(self, job: Job, agent_id: str, defer_bridge: bool) -> None:
        job.winner = agent_id
        leg = job.legs[agent_id]
        if self.acd._call_for_offer(job.call_uuid, agent_id) is None:
            job.phase = "done"
            self.hangup(leg, "ORIGINATOR_CANCEL")
            return
        if job.is_callback:
            customer = self.acd.callback_dialing(job.call_uuid, agent_id)
            if not customer:
                job.phase = "done"
                self.hangup(leg)
                return
            self.customer_legs[customer] = CustomerLeg(customer, job.call_uuid, job)
            job.customer_leg, job.phase = customer, "dialing"
            job.deadline_us = self.clock.now + CALLBACK_RING_TIMEOUT_S * US
            return
        self.bridge(job, job.call_uuid, defer_bridge)

    def bridge(self, job: Job, other: str, defer: bool) -> None:
        leg = job.legs[job.winner]
        if other in self.live() and leg in self.agent_legs:
            assert other not in self.bridges, f"{other} is bridged to {self.bridges[other]} and to {leg}"
            assert leg not in self.bridges
            self.bridges[other], self.bridges[leg] = leg, other
            job.phase = "bridging"
            if not defer:
                self.bridge_replied(job)
            return
        job.phase = "done"                                # uuid_bridge failed
        if leg in self.agent_legs:
            self.hangup(leg)
        if job.is_callback and other in self.live():
            self.hangup(other)
        self.acd.offer_failed(job.call_uuid, job.winner, "BRIDGE_FAILED")

    def bridge_replied(self, job: Job) -> None:
        job.phase = "done"
        if job.generation != self.generation:
            return
        ok = self.acd.connected(job.call_uuid, job.winner)
        leg = job.legs[job.winner]
        assert ok or leg not in self.bridges, (
            f"the switch bridged {self.bridges.get(leg)} with agent {job.winner} but the ACD refused: "
            f"call {self.acd.calls.get(job.call_uuid)}, agent {self.acd.agents[job.winner]}")

    def customer_failed(self, job: Job, cause: str, kill_event_first: bool) -> None:
        """SwitchSide._dial_customer after the customer did not answer."""
        job.phase = "done"
        if job.generation != self.generation:
            return
        leg = job.legs[job.winner]
        if kill_event_first and leg in self.agent_legs:
            self.hangup(leg)
        self.acd.callback_failed(job.call_uuid, job.winner, cause)
        if leg in self.agent_legs:
            self.hangup(leg)

    def settle_all(self) -> None:
        """SwitchSide._settle_all with the switch's channels and bridges."""
        live, pairs = self.live(), self.pairs()
        for call_uuid, legs in list(self.unsettled.items()):
            del self.unsettled[call_uuid]
            call = self.acd.calls.get(call_uuid)
            other = call.customer_leg_uuid if call is not None and call.is_callback else call_uuid
            bridged = next(((a, leg) for a, leg in legs if frozenset((other, leg)) in pairs), None)
            if bridged is not None:
                if self.acd._call_for_offer(call_uuid, bridged[0]) is not None:
                    self.acd.connected(call_uuid, bridged[0])
                continue
            for agent_id, leg in legs:
                if self.acd._call_for_offer(call_uuid, agent_id) is not None:
                    self.acd.offer_failed(call_uuid, agent_id, "SWITCH_UNREACHABLE", agent_missed=False)
                if leg in live and leg in self.agent_legs:
                    self.hangup(leg, "ORIGINATOR_CANCEL")
            if call is not None and call.is_callback and call.customer_leg_uuid in live:
                if call.customer_leg_uuid in self.customer_legs:
                    self.hangup(call.customer_leg_uuid, "ORIGINATOR_CANCEL")
                call.customer_leg_uuid = ""

    def reconnect(self) -> None:
        """SwitchSide.reconcile after the ESL connection (re)opens."""
        self.settle_all()
        self.acd.reconcile(self.live())
        self.check_reservations()

    def connection_lost(self) -> None:
        """The replies of this process's offers in flight are lost (EslError)."""
        for job in self.jobs_in("ringing"):
            job.phase = "done"                            # _unsure about the originate
            self.unsettled[job.call_uuid] = list(job.legs.items())
        for job in self.jobs_in("bridging"):
            job.phase = "done"                            # _unsure about the uuid_bridge
            self.unsettled[job.call_uuid] = [(job.winner, job.legs[job.winner])]
        for job in self.jobs_in("dialing"):
            job.phase = "done"                            # _dial_customer: -ERR, uuid_kill fails
            self.acd.callback_failed(job.call_uuid, job.winner, "DESTINATION_OUT_OF_ORDER")

    # -- steps -------------------------------------------------------------------------
    @initialize(ready=st.sets(st.sampled_from(sorted(AGENTS)), min_size=3))
    @step
    def log_in(self, ready):
        for agent_id in sorted(ready):
            self.acd.set_agent_state(agent_id, ev.READY)
        self.publish()

    @rule(queue=st.sampled_from([q.name for q in queues()]), ani=st.sampled_from(ANIS),
          priority=st.sampled_from([0, 0, 0, 5, -5]))
    @step
    def call_arrives(self, queue, ani, priority):
        self.calls_made += 1
        call_uuid = f"call-{self.calls_made}"
        self.callers[call_uuid] = "queue"
        self.arrived.append(call_uuid)
        result = self.acd.enqueue(call_uuid, queue, ani=ani, dnis=DNIS, node_id=NODE, priority=priority)
        assert result.outcome in ("enqueued", "overflowed", "rejected")
        assert (result.outcome == "rejected") == (ani in BLOCKED_NUMBERS)
        if result.outcome == "enqueued":
            assert result.priority == priority + (20 if ani in ("15550001", "15550002") else 0)
        self.publish()

    @rule(ani=st.sampled_from(ANIS), number=st.sampled_from(["", "", "+49 30 555 0100"]))
    @step
    def callback_caller_arrives(self, ani, number):
        """The usual callback: a caller reaches the callback queue, leaves a
        number at once and hangs up after the confirmation."""
        self.call_arrives.__wrapped__(self, "callback", ani, 0)
        call_uuid = self.arrived[-1]
        if call_uuid in self.acd.calls:
            try:
                self.acd.request_callback(call_uuid, number)
            except InvalidArgument:
                pass                                      # "anonymous" has no number to call back
            self.publish()
        if self.callers.get(call_uuid) == "leaving":
            self.hangup(call_uuid)
            self.publish()

    @rule(seconds=st.sampled_from([1, 1, 2, 3, 5, 8, 13, 21, 34]))
    @step
    def time_passes(self, seconds):
        """The clock moves on; the switch's ring timeouts fire when due, each
        after the ACD's periodic tick of that moment."""
        for job in self.jobs_in("bridging"):
            self.bridge_replied(job)                      # a bridge reply takes milliseconds
        target = self.clock.now + seconds * US
        while True:
            due = sorted((j for j in self.jobs if j.phase in ("ringing", "dialing") and j.deadline_us <= target),
                         key=lambda j: j.deadline_us)
            if not due:
                break
            job = due[0]
            self.clock.now = max(self.clock.now, job.deadline_us)
            self.tick()
            self.publish()
            if job.phase == "ringing":
                legs = [lg for lg in job.legs.values() if lg in self.agent_legs and not self.agent_legs[lg].answered]
                for leg in legs:
                    self.hangup(leg, "NO_ANSWER")
                job.phase = "done" if job.phase == "ringing" else job.phase
            elif job.customer_leg in self.customer_legs:
                self.hangup(job.customer_leg, "NO_ANSWER")
            else:
                job.phase = "done"
            self.publish()
        self.clock.now = target
        self.tick()
        self.publish()

    def can_assign(self) -> bool:
        return bool(self.waiting_calls()) and self.acd.selector.ready_count() > 0

    @precondition(can_assign)
    @rule()
    @step
    def routing_tick(self):
        """SwitchSide._dispatch_loop: tick, then the assignments, each one an originate."""
        self.tick()
        for assignment in self.acd.next_assignments():
            call = assignment.call
            queue = self.acd.queues[call.queue]
            job = Job(call.call_uuid, {agent.agent_id: leg for agent, leg in assignment.legs}, call.is_callback,
                      self.clock.now + queue.ring_timeout_s * US, self.generation)
            for agent, leg in assignment.legs:
                assert leg not in self.agent_legs, f"leg {leg} offered twice"
                self.agent_legs[leg] = AgentLeg(leg, call.call_uuid, agent.agent_id, job)
            self.jobs.append(job)
        self.publish()
        self.after_routing_tick = True

    @precondition(lambda self: self.ringing_jobs())
    @rule(i=st.integers(0, 99), pick=st.integers(0, 99), losers_first=st.booleans(), defer_bridge=st.booleans())
    @step
    def agent_answers(self, i, pick, losers_first, defer_bridge):
        """An agent picks up; the switch cancels the other legs of a ring-all
        (their hang-up events may come before or after the originate's reply)."""
        job = self.ringing_jobs()[i % len(self.ringing_jobs())]
        ringing = self.ringing_legs(job)
        winner = ringing[pick % len(ringing)]
        self.agent_legs[job.legs[winner]].answered = True
        losers = [job.legs[a] for a in ringing if a != winner]
        if losers_first:
            for leg in losers:
                self.hangup(leg, "LOSE_RACE")
        self.originate_answered(job, winner, defer_bridge)
        if not losers_first:
            for leg in losers:
                if leg in self.agent_legs:
                    self.hangup(leg, "LOSE_RACE")
        self.publish()

    @precondition(lambda self: self.ringing_jobs())
    @rule()
    @step
    def every_offer_answered(self):
        """A busy moment: every agent rung picks up (the first of a ring-all wins)."""
        for job in self.ringing_jobs():
            ringing = self.ringing_legs(job)
            self.agent_legs[job.legs[ringing[0]]].answered = True
            for leg in [job.legs[a] for a in ringing[1:]]:
                self.hangup(leg, "LOSE_RACE")
            self.originate_answered(job, ringing[0], defer_bridge=False)
        self.publish()

    @precondition(lambda self: self.jobs_in("bridging"))
    @rule(i=st.integers(0, 99))
    @step
    def bridge_reply_arrives(self, i):
        jobs = self.jobs_in("bridging")
        self.bridge_replied(jobs[i % len(jobs)])
        self.publish()

    @precondition(lambda self: self.ringing_jobs())
    @rule(i=st.integers(0, 99), cause=st.sampled_from(["NO_ANSWER", "USER_BUSY", "CALL_REJECTED"]),
          reply_first=st.booleans())
    @step
    def nobody_answers(self, i, cause, reply_first):
        """Every leg of an offer ends unanswered; the originate's -ERR reply
        may be read before or after the legs' hang-up events."""
        job = self.ringing_jobs()[i % len(self.ringing_jobs())]
        legs = [job.legs[a] for a in self.ringing_legs(job)]
        if reply_first:
            self.originate_failed(job, cause)
        for leg in legs:
            if leg in self.agent_legs:
                self.hangup(leg, cause)
        self.publish()

    @precondition(lambda self: self.ringing_jobs())
    @rule(i=st.integers(0, 99), pick=st.integers(0, 99),
          cause=st.sampled_from(["USER_BUSY", "USER_NOT_REGISTERED", "CALL_REJECTED"]))
    @step
    def agent_leg_fails(self, i, pick, cause):
        """One leg of an offer fails (the others of a ring-all ring on)."""
        job = self.ringing_jobs()[i % len(self.ringing_jobs())]
        ringing = self.ringing_legs(job)
        self.hangup(job.legs[ringing[pick % len(ringing)]], cause)
        self.publish()

    @precondition(lambda self: self.jobs_in("dialing"))
    @rule(i=st.integers(0, 99), defer_bridge=st.booleans())
    @step
    def customer_answers(self, i, defer_bridge):
        job = self.jobs_in("dialing")[i % len(self.jobs_in("dialing"))]
        self.customer_legs[job.customer_leg].answered = True
        self.bridge(job, job.customer_leg, defer_bridge)
        self.publish()

    @precondition(lambda self: self.jobs_in("dialing"))
    @rule(i=st.integers(0, 99), cause=st.sampled_from(["NO_ANSWER", "USER_BUSY", "UNALLOCATED_NUMBER"]),
          kill_event_first=st.booleans())
    @step
    def customer_does_not_answer(self, i, cause, kill_event_first):
        job = self.jobs_in("dialing")[i % len(self.jobs_in("dialing"))]
        self.customer_legs.pop(job.customer_leg)          # its hang-up event: not connected, ignored
        self.customer_failed(job, cause, kill_event_first)
        self.publish()

    @precondition(lambda self: self.callers)
    @rule(i=st.integers(0, 99))
    @step
    def caller_hangs_up(self, i):
        """Waiting, rung for, talking, in voicemail or after leaving a number."""
        callers = sorted(self.callers)
        self.hangup(callers[i % len(callers)])
        self.publish()

    @precondition(lambda self: any(s == "leaving" for s in self.callers.values()))
    @rule()
    @step
    def callback_confirmations_end(self):
        for uuid in sorted(u for u, s in self.callers.items() if s == "leaving"):
            if uuid in self.callers:
                self.hangup(uuid)
        self.publish()

    def answered_agent_legs(self) -> list[str]:
        return sorted(u for u, leg in self.agent_legs.items() if leg.answered)

    @precondition(lambda self: self.answered_agent_legs())
    @rule(i=st.integers(0, 99))
    @step
    def agent_hangs_up(self, i):
        """Mid-conversation (the switch then hangs up the caller or customer),
        or while a callback's customer is being dialled."""
        legs = self.answered_agent_legs()
        self.hangup(legs[i % len(legs)])
        self.publish()

    def talking_customers(self) -> list[str]:
        return sorted(u for u in self.customer_legs if u in self.bridges)

    @precondition(lambda self: self.talking_customers())
    @rule(i=st.integers(0, 99))
    @step
    def customer_hangs_up(self, i):
        customers = self.talking_customers()
        self.hangup(customers[i % len(customers)])
        self.publish()

    def talking_callers(self) -> list[str]:
        return sorted(u for u in self.callers if u in self.bridges)

    @precondition(lambda self: self.talking_callers())
    @rule(i=st.integers(0, 99), agent_leg_first=st.booleans())
    @step
    def agent_transfers_caller_away(self, i, agent_leg_first):
        """A blind transfer out of the ACD: to routing the caller is gone
        (call_ended) and the agent's leg ends."""
        caller = self.talking_callers()[i % len(self.talking_callers())]
        leg = self.bridges.pop(caller)
        self.bridges.pop(leg)
        if agent_leg_first:
            self.hangup(leg)
        del self.callers[caller]
        self.caller_hung_up(caller)
        if leg in self.agent_legs:
            self.hangup(leg)
        self.publish()

    @rule(agent_id=st.sampled_from(sorted(AGENTS)),
          change=st.sampled_from(["ready", "ready", "ready", "not_ready", "logged_out", "dnd_on", "dnd_off"]))
    @step
    def agent_changes_state(self, agent_id, change):
        try:
            if change == "ready":
                self.acd.set_agent_state(agent_id, ev.READY)
            elif change == "not_ready":
                self.acd.set_agent_state(agent_id, ev.NOT_READY, "break")
            elif change == "logged_out":
                self.acd.set_agent_state(agent_id, ev.LOGGED_OUT)
            else:
                self.acd.set_dnd(agent_id, change == "dnd_on")
        except Conflict:
            agent = self.acd.agents[agent_id]
            assert change == "ready" and (agent.dnd or agent.state in (ev.RESERVED, ev.ON_CALL))
        self.publish()

    def waiting_calls(self, queue: str = "") -> list[str]:
        return sorted(u for u, c in self.acd.calls.items()
                      if c.state is CallState.WAITING and c.queue == (queue or c.queue))

    @precondition(lambda self: self.waiting_calls())
    @rule(i=st.integers(0, 99), priority=st.integers(-100, 100))
    @step
    def priority_changes(self, i, priority):
        calls = self.waiting_calls()
        self.acd.set_priority(calls[i % len(calls)], priority)
        self.publish()

    @precondition(lambda self: self.waiting_calls())
    @rule(i=st.integers(0, 99), number=st.sampled_from(["", "", "+49 30 555 0100", "12"]), hang_up=st.booleans(),
          any_queue=st.booleans())
    @step
    def caller_asks_for_callback(self, i, number, hang_up, any_queue):
        calls = self.waiting_calls() if any_queue else (self.waiting_calls("callback") or self.waiting_calls())
        call_uuid = calls[i % len(calls)]
        try:
            self.acd.request_callback(call_uuid, number)
        except (Conflict, InvalidArgument):
            pass
        self.publish()
        if hang_up and self.callers.get(call_uuid) == "leaving":
            self.hangup(call_uuid)
            self.publish()

    @precondition(lambda self: self.waiting_calls("callback"))
    @rule(i=st.integers(0, 99), digits=st.sampled_from(["1#", "1555 0100#", "1*", "1", "15#", "#"]))
    @step
    def caller_presses_keys(self, i, digits):
        call_uuid = self.waiting_calls("callback")[i % len(self.waiting_calls("callback"))]
        for digit in digits.replace(" ", ""):
            self.acd.dtmf(call_uuid, digit)
        self.publish()

    @precondition(lambda self: self.acd.calls)
    @rule(what=st.sampled_from(["routing", "switch", "connection"]))
    @step
    def restart(self, what):
        """routing: a fresh Acd, rebuilt from every event the old ones
        published; the offers it restores as ringing are settled with the
        switch on connect. switch: every channel vanishes without an event;
        on reconnect the offers in flight are settled and the ACD reconciled
        with an empty switch. connection: the ESL connection drops and comes
        back; the channels live on."""
        if what == "routing":
            for job in self.jobs_in("bridging"):
                job.phase = "done"                        # bridged; its reply is never read
            self.generation += 1                          # the old greenlets are gone
            self.unsettled = {}
            self.acd = self._new_acd()
            restored = rebuild.restore(self.acd, list(self.agent_log), list(self.queue_log))
            for call in restored.offering:
                self.unsettled[call.call_uuid] = list(call.ringing.items())
        else:
            self.connection_lost()
            self.publish()
        if what == "switch":
            self.callers.clear()
            self.agent_legs.clear()
            self.customer_legs.clear()
            self.bridges.clear()
            for job in self.jobs:
                job.phase = "done"
        self.reconnect()
        self.publish()

    # -- invariants --------------------------------------------------------------------
    def check_reservations(self) -> None:
        """Every reservation expires: none outlives ring timeout + 15 s across a tick."""
        now = self.clock.now
        for agent in self.acd.agents.values():
            if agent.state == ev.RESERVED:
                call = self.acd.calls[agent.call_uuid]
                limit = (self.acd.queues[call.queue].ring_timeout_s + 15) * US
                if call.dialing_agent == agent.agent_id:
                    limit += CALLBACK_DIAL_MAX_S * US     # answered; the customer is being dialled
                assert now - call.offered_us <= limit, f"{agent.agent_id} reserved for {call} since {call.offered_us}"

    @invariant()
    def check(self):
        self.clean = False
        acd = self.acd
        ringing_by_agent: Counter[str] = Counter()
        connected_by_agent: dict[str, list[str]] = {}
        for call in acd.calls.values():
            assert call.state in (CallState.WAITING, CallState.OFFERING, CallState.CONNECTED), call
            assert (call.state is CallState.OFFERING) == bool(call.ringing), call
            for agent_id in call.ringing:
                ringing_by_agent[agent_id] += 1
                agent = acd.agents[agent_id]
                assert agent.state == ev.RESERVED and agent.call_uuid == call.call_uuid, (
                    f"{agent_id} is rung for {call.call_uuid} but is {ev.AgentState.Name(agent.state)} "
                    f"for {agent.call_uuid!r}")
            if call.state is CallState.CONNECTED:
                connected_by_agent.setdefault(call.agent_id, []).append(call.call_uuid)
                assert acd.agents[call.agent_id].state != ev.READY, call
            if not call.is_callback:
                assert call.call_uuid in self.callers, f"{call.call_uuid} queued but its caller is gone"
            elif call.state is CallState.CONNECTED:
                assert call.customer_leg_uuid in self.customer_legs, f"{call.call_uuid}: customer gone"
        for agent in acd.agents.values():
            state = ev.AgentState.Name(agent.state)
            assert acd.selector.is_ready(agent.agent_id) == (agent.state == ev.READY), agent
            if agent.state == ev.READY:
                assert not agent.dnd and ringing_by_agent[agent.agent_id] == 0, agent
                assert agent.agent_id not in connected_by_agent, agent
            if agent.state == ev.ON_CALL:
                assert connected_by_agent.get(agent.agent_id) == [agent.call_uuid], (
                    f"{agent.agent_id} ON_CALL for {agent.call_uuid!r}; connected: {connected_by_agent}")
            else:
                assert agent.agent_id not in connected_by_agent, f"{agent.agent_id} {state} while connected"
            if agent.state == ev.RESERVED:
                assert ringing_by_agent[agent.agent_id] == 1, f"{agent.agent_id} reserved, rung by " \
                    f"{ringing_by_agent[agent.agent_id]} calls"
                assert agent.agent_id in acd.calls[agent.call_uuid].ringing, agent
            else:
                assert ringing_by_agent[agent.agent_id] == 0, f"{agent.agent_id} {state} but rung"
        # Positions are 1..n per queue.
        for name in acd.queues:
            waiting = acd.waiting(name)
            assert sorted(acd.position(c) for c in waiting) == list(range(1, len(waiting) + 1)), name
        # The switch carries no conversation the ACD does not know about.
        for one, other in self.bridges.items():
            leg = self.agent_legs.get(one)
            if leg is None or leg.job.phase == "bridging":
                continue
            call = acd.calls.get(leg.call_uuid)
            assert call is not None and call.state is CallState.CONNECTED and call.agent_id == leg.agent_id, (
                f"agent {leg.agent_id} talks to {other} on the switch; the ACD has {call}")
        for job in self.jobs_in("bridging", "dialing"):
            leg = job.legs[job.winner]
            if leg in self.agent_legs:
                agent = acd.agents[job.winner]
                assert agent.state == ev.RESERVED and agent.call_uuid == job.call_uuid, (
                    f"agent {job.winner} is off-hook for {job.call_uuid} ({job.phase}) but "
                    f"{ev.AgentState.Name(agent.state)} for {agent.call_uuid!r}")
        acd._waiting.check()                              # the index of waiting calls agrees with the calls
        if self.after_routing_tick:
            self.after_routing_tick = False
            self.check_no_eligible_agent_idles()
        self.clean = True

    def check_no_eligible_agent_idles(self) -> None:
        acd, now = self.acd, self.clock.now
        ready = [a for a in acd.agents.values() if a.state == ev.READY]
        for call in acd.calls.values():
            if call.state is not CallState.WAITING:
                continue
            if call.is_callback and (not call.caller_gone or now < call.not_before_us):
                continue
            for agent in ready:
                assert not eligible(acd.queues[call.queue], agent, (now - call.enqueued_us) / US), (
                    f"{call.call_uuid} waits in {call.queue} while {agent.agent_id} is READY for it")

    # -- teardown: everyone hangs up, the callbacks are served -------------------------
    def teardown(self):
        if not self.clean:
            return                                        # a step failed: report that, not this
        for job in self.jobs_in("bridging"):
            self.bridge_replied(job)
        for uuid in sorted(self.live()):
            if uuid in self.live():
                self.hangup(uuid)
        for job in self.jobs:
            job.phase = "done"
        self.publish()
        for _ in range(200):
            if not self.acd.calls:
                break
            for agent_id in AGENTS:
                self.acd.set_dnd(agent_id, False)
                try:
                    self.acd.set_agent_state(agent_id, ev.READY)
                except Conflict:
                    pass
            self.clock.now += 25 * US                     # past the callbacks' retry time
            self.routing_tick()
            self.after_routing_tick = False
            for job in self.ringing_jobs():
                ringing = self.ringing_legs(job)
                self.agent_legs[job.legs[ringing[0]]].answered = True
                for other in ringing[1:]:
                    self.hangup(job.legs[other], "LOSE_RACE")
                self.originate_answered(job, ringing[0], defer_bridge=False)
                if job.phase == "dialing":
                    # Some customers never answer, some answer the second call, the others the first.
                    n = int(job.call_uuid.split("-")[1])
                    if n % 3 == 0 or (n % 3 == 1 and self.acd.calls[job.call_uuid].callback_attempts == 1):
                        self.hangup(job.customer_leg, "NO_ANSWER")
                    else:
                        self.customer_legs[job.customer_leg].answered = True
                        self.bridge(job, job.customer_leg, defer=False)
                        self.hangup(job.customer_leg)
                self.publish()
        assert not self.acd.calls, f"calls never served: {self.acd.calls}"
        self.clock.now += 10 * US
        self.tick()
        self.publish()
        for agent in self.acd.agents.values():
            assert agent.state not in (ev.RESERVED, ev.ON_CALL, ev.WRAP_UP), agent
        check_every_call_ends_once(self.arrived, self.queue_log, {q.name: q for q in queues()})


def eligible(queue: QueueConfig, agent, waited_s: float) -> bool:
    """Whether `agent` may take a call that waited `waited_s` in `queue`,
    worked out from the configuration alone."""
    if agent.dnd:
        return False
    drop = max((step.drop for step in queue.relaxation if waited_s >= step.after_s), default=0)
    requirements = queue.requirements or (Requirement(queue.skill, 1),)
    if any(agent.skills.get(r.skill, 0) < max(1, r.min_level - drop) for r in requirements):
        return False
    tier = agent.tiers.get(queue.name, 1)
    reached = 9 if not queue.tier_wait_s else 1 + int(waited_s // queue.tier_wait_s)
    return tier <= reached


def check_every_call_ends_once(arrived: list[str], events: list[ev.QueueEvent],
                               queue_configs: dict[str, QueueConfig]) -> None:
    by_call: dict[str, list[ev.QueueEvent]] = {}
    for event in events:
        by_call.setdefault(event.call_uuid, []).append(event)
    for call_uuid in arrived:
        history = by_call.get(call_uuid, [])
        assert history, f"{call_uuid} reached routing but left no event"
        ends = [i for i, e in enumerate(history) if is_terminal(e, queue_configs)]
        names = [ev.QueueEventType.Name(e.type) for e in history]
        assert len(ends) == 1, f"{call_uuid} ended {len(ends)} times: {names}"
        assert ends[0] == len(history) - 1, f"{call_uuid} has events after its end: {names}"
        if history[-1].type == ev.QUEUE_CALLBACK_FAILED:
            assert ev.QUEUE_CALLBACK_REQUESTED in [e.type for e in history], names


def is_terminal(event: ev.QueueEvent, queue_configs: dict[str, QueueConfig]) -> bool:
    if event.type in (ev.QUEUE_CALL_ENDED, ev.QUEUE_ABANDONED, ev.QUEUE_REJECTED):
        return True
    if event.type == ev.QUEUE_OVERFLOWED:
        return parse_destination(event.destination)[0] != "queue"
    if event.type == ev.QUEUE_CALLBACK_FAILED:
        return event.attempt >= queue_configs[event.queue].callback_attempts
    return False


RoutingModel.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
TestAcdInvariants = RoutingModel.TestCase


# -- regressions found by the state machine ------------------------------------------
def callback_being_dialled() -> tuple[Acd, Clock, str]:
    """A callback whose caller hung up, offered to a3, who answered: the
    customer's number is being dialled on the returned leg."""
    clock = Clock()
    acd = Acd(clock)
    configure(acd)
    acd.set_agent_state("a3", ev.READY)
    acd.enqueue("cb", "callback", ani="15551234", dnis=DNIS, node_id=NODE)
    acd.request_callback("cb")
    acd.call_ended("cb")
    (offer,) = acd.next_assignments()
    assert offer.agent.agent_id == "a3"
    clock.now += 5 * US                                   # a3 picks up after 5 s
    customer = acd.callback_dialing("cb", "a3")
    assert customer
    acd.drain()
    return acd, clock, offer.agent_leg_uuid


def test_reservation_lasts_while_a_callbacks_customer_is_dialled():
    # The customer rings up to callback_ring_timeout_s (30 s by default) after
    # the agent answered: the reservation (ring timeout + 15 s from the offer)
    # expired meanwhile, a3 went READY while on the phone, and the call waited
    # to be offered again.
    acd, clock, _ = callback_being_dialled()
    clock.now += 27 * US                                  # 32 s since the offer, 27 s of the customer ringing
    acd.tick()
    assert acd.agents["a3"].state == ev.RESERVED
    assert acd.calls["cb"].state is CallState.OFFERING
    assert acd.callback_failed("cb", "a3", "NO_ANSWER") is None
    assert acd.calls["cb"].state is CallState.WAITING and acd.agents["a3"].state == ev.READY


def test_reservation_of_a_callback_still_expires_when_the_dial_is_never_reported():
    acd, clock, _ = callback_being_dialled()
    clock.now += (15 + 15 + CALLBACK_DIAL_MAX_S) * US
    acd.tick()
    assert acd.agents["a3"].state == ev.READY
    assert acd.calls["cb"].state is CallState.WAITING


def test_agent_hanging_up_while_the_customer_rings_does_not_dial_the_customer_twice():
    # The offer used to fail at once: the callback was offered again (to a3,
    # the only agent) and the customer dialled a second time while the first
    # dial still rang; that dial's failure then cancelled the second offer.
    acd, clock, leg = callback_being_dialled()
    acd.agent_leg_ended("cb", "a3", leg, "NORMAL_CLEARING")
    assert acd.calls["cb"].state is CallState.OFFERING
    assert acd.next_assignments() == []
    assert acd.callback_failed("cb", "a3", "NO_ANSWER") is None   # the first dial's outcome
    types = [e.type for kind, e in acd.drain() if kind == "queue"]
    assert types == [ev.QUEUE_OFFER_FAILED, ev.QUEUE_CALLBACK_FAILED]
    call = acd.calls["cb"]
    assert call.state is CallState.WAITING and call.not_before_us > clock.now
    assert acd.agents["a3"].state == ev.READY and acd.agents["a3"].missed_offers == 0


def test_customer_answering_after_the_agent_hung_up_is_no_connection():
    # Both legs gone before the uuid_bridge reply was read: the call must not
    # be CONNECTED to channels that no longer exist.
    acd, clock, leg = callback_being_dialled()
    acd.agent_leg_ended("cb", "a3", leg, "NORMAL_CLEARING")
    assert not acd.connected("cb", "a3")
    assert acd.calls["cb"].state is CallState.WAITING
    assert acd.agents["a3"].state == ev.READY and acd.agents["a3"].missed_offers == 0


def test_bridge_failing_after_the_agent_hung_up_puts_the_callback_back():
    acd, clock, leg = callback_being_dialled()
    acd.agent_leg_ended("cb", "a3", leg, "NORMAL_CLEARING")
    acd.offer_failed("cb", "a3", "BRIDGE_FAILED")
    call = acd.calls["cb"]
    assert call.state is CallState.WAITING and not call.dialing_agent and not call.dialing_agent_gone
    assert acd.agents["a3"].state == ev.READY
    # A later offer's ringing leg failing is an ordinary failed offer again.
    (offer,) = acd.next_assignments()
    acd.agent_leg_ended("cb", "a3", offer.agent_leg_uuid, "USER_BUSY")
    assert acd.calls["cb"].state is CallState.WAITING


def test_switch_killing_the_agent_leg_before_reporting_the_failed_dial():
    # SwitchSide._dial_customer hangs up the agent's leg, then calls
    # callback_failed; the leg's hang-up event may be handled in between. It
    # used to fail the offer as the agent's miss, so callback_failed found no
    # offer: no QUEUE_CALLBACK_FAILED, no retry delay, and the last attempt
    # never ended the call.
    acd, clock, leg = callback_being_dialled()
    acd.calls["cb"].callback_attempts = acd.queues["callback"].callback_attempts     # the last attempt
    acd.agent_leg_ended("cb", "a3", leg, "NORMAL_CLEARING")
    ended = acd.callback_failed("cb", "a3", "NO_ANSWER")
    assert ended is not None and "cb" not in acd.calls
    assert acd.agents["a3"].missed_offers == 0


def test_a_final_callback_failure_is_the_calls_last_event():
    acd, clock, _ = callback_being_dialled()
    acd.calls["cb"].callback_attempts = acd.queues["callback"].callback_attempts
    assert acd.callback_failed("cb", "a3", "NO_ANSWER") is not None
    events = [e for kind, e in acd.drain() if kind == "queue"]
    assert [e.type for e in events] == [ev.QUEUE_OFFER_FAILED, ev.QUEUE_CALLBACK_FAILED]
    assert is_terminal(events[-1], {q.name: q for q in queues()})



def test_rebuild_of_a_ring_all_call_whose_first_agent_failed_while_the_other_rang():
    """Found by the state machine: ring-all offered a2 then a1; a1 failed and
    was offered again, then a2 failed: the call's agent must move to a1, the
    one still ringing (rebuild raised KeyError 'a2' on the next offer)."""
    clock = Clock()
    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("vip", "vip", strategy="ring-all"))
    for agent_id in ("a1", "a2"):
        acd.upsert_agent(agent_id, agent_id, f"user/{agent_id}@default", {"vip": 5})
    t = clock.now

    def q(kind: int, agent_id: str = "", attempt: int = 0) -> ev.QueueEvent:
        return ev.QueueEvent(type=kind, call_uuid="call-2", queue="vip", agent_id=agent_id, attempt=attempt,
                             timestamp_us=t, ani="15550001")

    events = [q(ev.QUEUE_ENQUEUED), q(ev.QUEUE_OFFERED, "a2", 1), q(ev.QUEUE_OFFERED, "a1", 1),
              q(ev.QUEUE_OFFER_FAILED, "a1", 1), q(ev.QUEUE_OFFERED, "a1", 2), q(ev.QUEUE_OFFERED, "a2", 2),
              q(ev.QUEUE_OFFER_FAILED, "a2", 2)]
    restored = rebuild.restore(acd, [], events)
    call = acd.calls["call-2"]
    assert call.state is CallState.OFFERING and call.agent_id == "a1" and set(call.ringing) == {"a1"}
    assert call.agent_leg_uuid == call.ringing["a1"]
    assert restored.offering == [call]
    rebuild.restore(Acd(clock), [], events + [q(ev.QUEUE_OFFERED, "a1", 3), q(ev.QUEUE_OFFERED, "a2", 3)])
