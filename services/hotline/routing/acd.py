"""The ACD's decisions, free of I/O: queues, agents, waiting calls, and who
answers what. The switch side (switch.py) acts on the decisions; the gRPC
side (api.py) changes configuration and agent states. Every state change
is recorded as an event in ``self.outbox`` for the service to publish.

Where does a call get its agent? :meth:`Acd.next_assignments`: waiting calls
across all queues in order of priority (higher first) then time in queue
(longest first); for each, the READY agent who meets the queue's skill
requirements (relaxed by how long the call has waited) and has not yet been
tried for this call, chosen by the queue's strategy (hotline.routing.selection).
So when an agent frees up, the call they get is the highest-priority,
then longest-waiting call they are eligible for, whatever its queue.
"""
from __future__ import annotations

import dataclasses
import enum
import itertools
import uuid
from typing import Callable

from hotline.common.errors import Conflict, InvalidArgument, NotFound
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing.selection import AgentSelector, Relaxation, Requirement, check_strategy, relaxed, validate_rules

AgentState = ev.AgentState
SETTABLE_STATES = (ev.LOGGED_OUT, ev.NOT_READY, ev.READY)


class CallState(enum.Enum):
    WAITING = "waiting"          # in queue, hearing hold music
    OFFERING = "offering"        # an agent's phone is ringing
    CONNECTED = "connected"      # bridged to the agent
    ENDED = "ended"


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

    def rules(self) -> tuple[Requirement, ...]:
        return self.requirements or (Requirement(self.skill, 1),)

    def validate(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise InvalidArgument("name", "must be letters, digits, '-' or '_'")
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


@dataclasses.dataclass
class Agent:
    agent_id: str
    name: str
    contact: str                         # dial string: user/1001@default
    skills: dict[str, int]
    state: int = ev.LOGGED_OUT
    reason: str = ""
    state_since_us: int = 0
    idle_since_us: int = 0               # when the agent last became free
    call_uuid: str = ""
    queue: str = ""
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
    enqueued_us: int
    answered_us: int = 0
    menu_choice: str = ""
    seq: int = 0                          # tie-break: arrival order
    state: CallState = CallState.WAITING
    agent_id: str = ""
    agent_leg_uuid: str = ""
    offered_us: int = 0
    connected_us: int = 0
    offers: int = 0
    tried: set[str] = dataclasses.field(default_factory=set)


@dataclasses.dataclass(frozen=True)
class Assignment:
    call: QueuedCall
    agent: Agent
    agent_leg_uuid: str


class Acd:
    """The ACD's state and rules. Not thread-safe: one greenlet drives it."""

    def __init__(self, clock_us: Callable[[], int], *, max_missed_offers: int = 3,
                 new_uuid: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.clock_us = clock_us
        self.max_missed_offers = max_missed_offers
        self.new_uuid = new_uuid
        self.queues: dict[str, QueueConfig] = {}
        self.agents: dict[str, Agent] = {}
        self.calls: dict[str, QueuedCall] = {}
        self.outbox: list[tuple[str, object]] = []     # ("agent"|"queue", message)
        self._seq = itertools.count(1)
        self.selector = AgentSelector()

    # -- configuration -------------------------------------------------
    def upsert_queue(self, queue: QueueConfig) -> QueueConfig:
        queue.validate()
        self.queues[queue.name] = queue
        self.selector.set_queue(queue.name, queue.skill, queue.strategy, (r.skill for r in queue.rules()))
        return queue

    def upsert_agent(self, agent_id: str, name: str, contact: str, skills: dict[str, int]) -> Agent:
        if not agent_id:
            raise InvalidArgument("agent_id", "is required")
        if not contact or "/" not in contact:
            raise InvalidArgument("contact", "must be a FreeSWITCH dial string such as user/1001@default")
        for skill, level in skills.items():
            if not skill:
                raise InvalidArgument("skills", "a skill name is empty")
            if not 1 <= level <= 10:
                raise InvalidArgument(f"skills[{skill}]", "proficiency must be between 1 and 10")
        agent = self.agents.get(agent_id)
        if agent is None:
            now = self.clock_us()
            agent = Agent(agent_id, name, contact, dict(skills), state_since_us=now, idle_since_us=now)
            self.agents[agent_id] = agent
        else:
            agent.name, agent.contact, agent.skills = name, contact, dict(skills)
        self.selector.stats(agent_id, agent.skills)
        return agent

    def agent(self, agent_id: str) -> Agent:
        if not agent_id:
            raise InvalidArgument("agent_id", "is required")
        try:
            return self.agents[agent_id]
        except KeyError:
            raise NotFound(f"agent {agent_id!r} does not exist", agent_id=agent_id) from None

    # -- agent states --------------------------------------------------
    def set_agent_state(self, agent_id: str, state: int, reason: str = "") -> Agent:
        """An agent's (or supervisor's) request: log in/out, ready, not ready."""
        agent = self.agent(agent_id)
        if state not in SETTABLE_STATES:
            raise InvalidArgument("state", "must be LOGGED_OUT, NOT_READY or READY")
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

    def _transition(self, agent: Agent, state: int, reason: str = "", *, call_uuid: str = "",
                    queue: str = "") -> None:
        now = self.clock_us()
        previous, previous_since = agent.state, agent.state_since_us
        leaving_call, leaving_queue = agent.call_uuid, agent.queue
        if previous == state and agent.reason == reason and agent.call_uuid == call_uuid:
            return
        agent.state, agent.reason, agent.state_since_us = state, reason, now
        agent.call_uuid, agent.queue = call_uuid, queue
        if state == ev.READY and previous != ev.RESERVED:
            agent.idle_since_us = now
        if state == ev.READY:
            self.selector.stats(agent.agent_id).idle_since_us = agent.idle_since_us
            self.selector.set_ready(agent.agent_id)
        else:
            self.selector.set_busy(agent.agent_id)
        self.outbox.append(("agent", ev.AgentStateEvent(
            event_id=self.new_uuid(), agent_id=agent.agent_id, state=state, previous_state=previous,
            reason=reason, timestamp_us=now, previous_state_since_us=previous_since,
            call_uuid=call_uuid or leaving_call, queue=queue or leaving_queue)))

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
        else:
            self._transition(agent, ev.READY)

    # -- calls ---------------------------------------------------------
    def enqueue(self, call_uuid: str, queue_name: str, *, ani: str = "", dnis: str = "", caller_name: str = "",
                node_id: str = "", priority: int = 0, answered_us: int = 0, menu_choice: str = "") -> int:
        if not call_uuid:
            raise InvalidArgument("call_uuid", "is required")
        if not queue_name:
            raise InvalidArgument("queue", "is required")
        if queue_name not in self.queues:
            raise InvalidArgument("queue", f"no queue named {queue_name!r}")
        if not -100 <= priority <= 100:
            raise InvalidArgument("priority", "must be between -100 and 100")
        existing = self.calls.get(call_uuid)
        if existing is not None:
            if existing.queue != queue_name:
                raise Conflict(f"call {call_uuid} is already queued in {existing.queue}")
            return self.position(existing)
        now = self.clock_us()
        call = QueuedCall(call_uuid, queue_name, ani, dnis, caller_name, node_id, priority, now,
                          answered_us=answered_us, menu_choice=menu_choice, seq=next(self._seq))
        self.calls[call_uuid] = call
        position = self.position(call)
        self._queue_event(call, ev.QUEUE_ENQUEUED, position=position)
        return position

    def waiting(self, queue_name: str | None = None) -> list[QueuedCall]:
        calls = [c for c in self.calls.values()
                 if c.state in (CallState.WAITING, CallState.OFFERING) and (queue_name is None or c.queue == queue_name)]
        return sorted(calls, key=lambda c: (-c.priority, c.enqueued_us, c.seq))

    def position(self, call: QueuedCall) -> int:
        return 1 + sum(1 for c in self.waiting(call.queue) if c is not call and
                       (-c.priority, c.enqueued_us, c.seq) < (-call.priority, call.enqueued_us, call.seq))

    def _queue_event(self, call: QueuedCall, type_: int, *, agent_id: str = "", position: int = 0,
                     reason: str = "") -> None:
        now = self.clock_us()
        self.outbox.append(("queue", ev.QueueEvent(
            event_id=self.new_uuid(), call_uuid=call.call_uuid, queue=call.queue, type=type_, timestamp_us=now,
            agent_id=agent_id, ani=call.ani, dnis=call.dnis, position=position,
            wait_us=now - call.enqueued_us, node_id=call.node_id, reason=reason, caller_name=call.caller_name)))

    def next_assignments(self, can_offer: Callable[[QueuedCall], bool] | None = None) -> list[Assignment]:
        """Pair waiting calls with free agents; reserves both. Calls for which
        can_offer(call) is False (their switch is unreachable) wait."""
        assignments = []
        for call in self.waiting():
            if call.state is not CallState.WAITING or (can_offer is not None and not can_offer(call)):
                continue
            queue = self.queues.get(call.queue)
            if queue is None:
                continue
            agent = self.choose_agent(queue, call)
            if agent is None:
                continue
            call.state, call.agent_id, call.offered_us = CallState.OFFERING, agent.agent_id, self.clock_us()
            call.agent_leg_uuid = self.new_uuid()
            call.offers += 1
            call.tried.add(agent.agent_id)
            self._transition(agent, ev.RESERVED, call_uuid=call.call_uuid, queue=queue.name)
            self._queue_event(call, ev.QUEUE_OFFERED, agent_id=agent.agent_id)
            assignments.append(Assignment(call, agent, call.agent_leg_uuid))
        return assignments

    def choose_agent(self, queue: QueueConfig, call: QueuedCall) -> Agent | None:
        """The agent the queue's strategy picks among the READY agents who
        meet the call's (relaxed) requirements and were not yet tried for it.
        When every eligible agent has been tried, the round starts again."""
        if not self.selector.ready_count():
            return None
        waited_s = (self.clock_us() - call.enqueued_us) / 1e6
        rules = relaxed(queue.rules(), queue.relaxation, waited_s)
        agent_id = self.selector.choose(queue.name, rules, call.tried)
        if agent_id is None and call.tried:
            agent_id = self.selector.choose(queue.name, rules)
            if agent_id is not None:
                call.tried.clear()
        if agent_id is None:
            return None
        self.selector.stats(agent_id).last_offer_us[queue.name] = self.clock_us()
        return self.agents[agent_id]

    def _call_for_offer(self, call_uuid: str, agent_id: str) -> QueuedCall | None:
        call = self.calls.get(call_uuid)
        if call is None or call.state is not CallState.OFFERING or call.agent_id != agent_id:
            return None
        return call

    def offer_failed(self, call_uuid: str, agent_id: str, cause: str, *, agent_missed: bool = True) -> None:
        """The agent's phone did not answer (or the leg failed). agent_missed=False
        when it was not the agent's doing (the switch connection was lost)."""
        agent = self.agents.get(agent_id)
        call = self._call_for_offer(call_uuid, agent_id)
        if call is not None:
            self._queue_event(call, ev.QUEUE_OFFER_FAILED, agent_id=agent_id, reason=cause)
            call.state, call.agent_id, call.agent_leg_uuid = CallState.WAITING, "", ""
        if agent is not None and agent.state == ev.RESERVED and agent.call_uuid == call_uuid:
            agent.missed_offers += 1 if agent_missed else 0
            if agent.missed_offers >= self.max_missed_offers:
                agent.reason = ""
                self._transition(agent, ev.NOT_READY, "no answer")
            else:
                self._release(agent)

    def connected(self, call_uuid: str, agent_id: str) -> bool:
        call = self._call_for_offer(call_uuid, agent_id)
        agent = self.agents.get(agent_id)
        if call is None or agent is None:
            return False
        call.state, call.connected_us = CallState.CONNECTED, self.clock_us()
        agent.missed_offers = 0
        self._transition(agent, ev.ON_CALL, agent.reason if agent.reason.startswith("pending:") else "",
                         call_uuid=call_uuid, queue=call.queue)
        self._queue_event(call, ev.QUEUE_CONNECTED, agent_id=agent_id)
        return True

    def call_ended(self, call_uuid: str) -> QueuedCall | None:
        """The caller's channel is gone. Returns the call (for the CDR)."""
        call = self.calls.pop(call_uuid, None)
        if call is None:
            return None
        agent = self.agents.get(call.agent_id) if call.agent_id else None
        if call.state is CallState.CONNECTED:
            self._queue_event(call, ev.QUEUE_CALL_ENDED, agent_id=call.agent_id)
            if agent is not None:
                stats = self.selector.stats(agent.agent_id)     # least-calls, least-talk-time
                stats.calls += 1
                stats.talk_us += max(0, self.clock_us() - call.connected_us)
            if agent is not None and agent.call_uuid == call_uuid:
                self._after_call(agent, self.queues.get(call.queue), call_uuid)
        else:
            self._queue_event(call, ev.QUEUE_ABANDONED, agent_id=call.agent_id)
            if agent is not None and agent.state == ev.RESERVED and agent.call_uuid == call_uuid:
                self._release(agent)
        call.state = CallState.ENDED
        return call

    def agent_leg_ended(self, call_uuid: str, agent_id: str) -> None:
        """The agent's leg is gone. If the call was connected, the caller's
        leg ends with it (the switch hangs it up); the agent goes to wrap-up
        when the caller's hang-up arrives. If it was still offering, the offer failed."""
        call = self.calls.get(call_uuid)
        if call is not None and call.state is CallState.OFFERING and call.agent_id == agent_id:
            self.offer_failed(call_uuid, agent_id, "AGENT_LEG_ENDED")

    def tick(self) -> None:
        """Time-driven transitions: wrap-up ends, stuck reservations expire."""
        now = self.clock_us()
        for agent in self.agents.values():
            if agent.state == ev.WRAP_UP:
                queue = self.queues.get(agent.queue)
                wrap_us = (queue.wrap_up_s if queue else 0) * 1_000_000
                if now - agent.state_since_us >= wrap_us:
                    self._release(agent)
            elif agent.state in (ev.RESERVED, ev.ON_CALL) and agent.call_uuid not in self.calls:
                # The call this agent was serving is gone: never leave the agent stuck.
                self._release(agent)
            elif agent.state == ev.RESERVED:
                call = self.calls.get(agent.call_uuid)
                queue = self.queues.get(agent.queue)
                limit = ((queue.ring_timeout_s if queue else 15) + 15) * 1_000_000
                if call is not None and now - call.offered_us > limit:
                    self.offer_failed(call.call_uuid, agent.agent_id, "RESERVATION_EXPIRED")

    def reconcile(self, live_uuids: set[str],
                  on_switch: Callable[[QueuedCall], bool] | None = None) -> list[QueuedCall]:
        """Drop calls whose channels no longer exist on the switch (after a
        reconnect or a switch restart); with several switches, only the calls
        for which on_switch(call) is True are checked. Returns the calls that ended."""
        ended = []
        for call_uuid in [u for u, c in self.calls.items()
                          if u not in live_uuids and (on_switch is None or on_switch(c))]:
            call = self.call_ended(call_uuid)
            if call is not None:
                ended.append(call)
        self.tick()
        return ended

    def drain(self) -> list[tuple[str, object]]:
        out, self.outbox = self.outbox, []
        return out
