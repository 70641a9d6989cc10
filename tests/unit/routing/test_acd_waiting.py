"""The ACD's index of waiting calls: a routing tick visits only the calls it
may serve, and decides exactly what a scan of every waiting call would."""
import dataclasses
import random

from hotline.common.errors import Conflict, InvalidArgument
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing import rebuild
from hotline.routing.acd import Acd, Assignment, CallState, QueueConfig
from hotline.routing.selection import Relaxation, Requirement

from fake_clock import Clock


class ScanningAcd(Acd):
    """The reference: every tick sorts every waiting call and asks each in
    turn (what next_assignments did before the index), and Acd.tick looks at
    every call (what it did before its timers)."""

    def tick(self):
        now = self.clock_us()
        self._tick_agents(now)
        for call in list(self.calls.values()):
            self._tick_call(call, now)

    def next_assignments(self, can_offer=None):
        assignments: list[Assignment] = []
        if not self.selector.ready_count():
            return assignments
        now = self.clock_us()
        for call in sorted([c for c in self.calls.values() if c.state is CallState.WAITING], key=lambda c: c.order):
            if call.state is not CallState.WAITING or (can_offer is not None and not can_offer(call)):
                continue
            if call.is_callback and (not call.caller_gone or now < call.not_before_us):
                continue
            queue = self.queues.get(call.queue)
            if queue is None:
                continue
            agents = self.choose_agents(queue, call, now)
            if not agents:
                if not self.selector.ready_count():
                    break
                continue
            self._offer(call, agents, now, assignments)
        return assignments


def ready(acd, clock, agent_id, skills, tiers=None):
    acd.upsert_agent(agent_id, agent_id, f"user/{agent_id}@default", skills, tiers)
    clock.advance(0.001)
    acd.set_agent_state(agent_id, ev.READY)


def test_a_tick_with_many_waiting_calls_and_nobody_eligible_decides_nothing_then_a_free_agent_gets_the_right_call():
    clock = Clock()
    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("billing", "billing", requirements=(Requirement("billing", 7),)))
    acd.upsert_queue(QueueConfig("support", "support"))
    ready(acd, clock, "seller", {"sales": 9})                 # ready, but serves neither queue
    for i in range(300):
        clock.advance(0.01)
        acd.enqueue(f"b{i}", "billing", priority=5 if i == 250 else 0)
        acd.enqueue(f"s{i}", "support", priority=0)
    for _ in range(3):
        assert acd.next_assignments() == []
    assert all(c.state is CallState.WAITING for c in acd.calls.values())
    acd._waiting.check()
    # A junior agent: only support. The longest-waiting support call is theirs.
    ready(acd, clock, "junior", {"support": 3, "billing": 6})
    [a] = acd.next_assignments()
    assert (a.call.call_uuid, a.agent.agent_id) == ("s0", "junior")
    # A senior agent: billing too; the billing call with priority 5 comes first.
    ready(acd, clock, "senior", {"support": 3, "billing": 8})
    [b] = acd.next_assignments()
    assert (b.call.call_uuid, b.agent.agent_id) == ("b250", "senior")
    # The priority of a support call raised while it waits: it is next.
    acd.set_priority("s120", 9)
    acd.offer_failed("s0", "junior", "NO_ANSWER", agent_missed=False)      # junior free, s0 waits again
    [c] = acd.next_assignments()
    assert (c.call.call_uuid, c.agent.agent_id) == ("s120", "junior")
    assert acd.next_assignments() == []
    acd._waiting.check()


def test_a_call_whose_requirements_relax_is_offered_when_its_step_falls_due():
    clock = Clock()
    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("vip", "support", requirements=(Requirement("support", 9),),
                                 relaxation=(Relaxation(20, 3), Relaxation(40, 6))))
    ready(acd, clock, "five", {"support": 5})
    acd.enqueue("c1", "vip")
    for _ in range(50):
        acd.enqueue(f"young{_}", "vip")                       # the same queue, later: stricter for longer
    assert acd.next_assignments() == []
    clock.advance(39.99)
    assert acd.next_assignments() == []                       # 9 - 3 = 6: still nobody
    clock.advance(0.01)
    [a] = acd.next_assignments()                              # 40 s: 9 - 6 = 3
    assert (a.call.call_uuid, a.agent.agent_id) == ("c1", "five")


def test_tiers_reached_with_time_wake_the_call():
    clock = Clock()
    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("support", "support", tier_wait_s=10))
    ready(acd, clock, "backup", {"support": 5}, {"support": 3})  # joins after 20 s
    acd.enqueue("c1", "support")
    assert acd.next_assignments() == []
    clock.advance(19.9)
    assert acd.next_assignments() == []
    clock.advance(0.1)
    [a] = acd.next_assignments()
    assert a.agent.agent_id == "backup"


def test_calls_put_in_from_outside_and_changed_directly_are_indexed():
    clock = Clock()
    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("support", "support"))
    acd.enqueue("c1", "support")
    acd.enqueue("c2", "support")
    acd.calls["c2"].enqueued_us -= 60_000_000              # older than c1 after all
    acd.call_changed("c2")
    ready(acd, clock, "a1", {"support": 5})
    [a] = acd.next_assignments()
    assert a.call.call_uuid == "c2"
    # A fresh ACD restored from the events: the calls it puts in acd.calls are served.
    events = [m for kind, m in acd.drain() if kind == "queue"]
    fresh = Acd(clock)
    fresh.upsert_queue(QueueConfig("support", "support"))
    fresh.upsert_agent("a2", "a2", "user/a2@default", {"support": 5})
    rebuild.restore(fresh, [], events)
    fresh._waiting.check()
    fresh.set_agent_state("a2", ev.READY)
    [b] = fresh.next_assignments()
    assert b.call.call_uuid == "c1"


def _drive(acd_class, seed, steps=1500):
    """Random arrivals, priority changes, time, agent states, answers, misses,
    callbacks, queue and agent changes; returns everything decided."""
    rng = random.Random(seed)
    clock = Clock()
    counter = iter(range(10**9))
    acd = acd_class(clock, new_uuid=lambda: str(next(counter)))
    strategies = ["longest-idle", "round-robin", "ring-all", "top-down", "least-calls"]
    names = []
    for q in range(6):
        extra = {"callback_key": "7", "callback_dial": "sofia/gw/{number}", "callback_retry_s": 10} if q == 1 else {}
        if q in (1, 4):
            extra["announce_every_s"] = 15 if q == 1 else 20
        if q == 4:
            extra.update(max_wait_s=45, overflow="queue:q0")
        reqs = (Requirement(f"s{q % 3}", rng.randint(4, 9)),) + ((Requirement(f"s{(q + 1) % 3}", 3),) if q % 2 else ())
        acd.upsert_queue(QueueConfig(f"q{q}", f"s{q % 3}", strategy=strategies[q % 5], requirements=reqs,
                                     relaxation=(Relaxation(10, 2), Relaxation(25, 5)) if q % 3 else (),
                                     tier_wait_s=8 if q == 2 else 0, **extra))
        names.append(f"q{q}")
    agents = [f"a{i}" for i in range(12)]

    def configure(agent_id):
        acd.upsert_agent(agent_id, agent_id, f"user/{agent_id}@default",
                         {f"s{k}": rng.randint(1, 10) for k in rng.sample(range(3), rng.randint(1, 3))},
                         {q: rng.randint(1, 3) for q in rng.sample(names, rng.randint(0, 2))})

    for agent_id in agents:
        configure(agent_id)
    out = []
    blocked: set[str] = set()
    for n in range(steps):
        r = rng.random()
        calls = list(acd.calls.values())
        waiting = [c for c in calls if c.state is CallState.WAITING]
        if r < 0.25:
            acd.enqueue(f"c{n}", rng.choice(names), priority=rng.choice((0, 0, 5, -2)))
        elif r < 0.37:
            clock.advance(rng.choice((0.001, 1, 3, 7, 12)))
        elif r < 0.42 and waiting:
            acd.set_priority(rng.choice(waiting).call_uuid, rng.randint(-9, 9))
        elif r < 0.52:
            try:
                acd.set_agent_state(rng.choice(agents), rng.choice((ev.READY, ev.READY, ev.NOT_READY)))
            except Conflict:
                pass
        elif r < 0.66:
            blocked = {c.call_uuid for c in calls if rng.random() < 0.2}
            offered = acd.next_assignments((lambda c: c.call_uuid not in blocked) if rng.random() < 0.2 else None)
            out.append([(a.call.call_uuid, [(agent.agent_id, leg) for agent, leg in a.legs]) for a in offered])
        elif r < 0.78:
            offering = [c for c in calls if c.state is CallState.OFFERING]
            if offering:
                call = rng.choice(offering)
                agent_id = rng.choice(sorted(call.ringing))
                if call.is_callback and rng.random() < 0.5:
                    if call.dialing_agent:
                        acd.callback_failed(call.call_uuid, call.dialing_agent, "NO_ANSWER")
                    else:
                        acd.callback_dialing(call.call_uuid, agent_id)
                elif rng.random() < 0.5:
                    acd.connected(call.call_uuid, agent_id)
                else:
                    acd.offer_failed(call.call_uuid, agent_id, "NO_ANSWER", agent_missed=rng.random() < 0.5)
        elif r < 0.86:
            connected = [c for c in calls if c.state is CallState.CONNECTED]
            if connected:
                call = rng.choice(connected)
                (acd.customer_ended if call.is_callback else acd.call_ended)(call.call_uuid)
        elif r < 0.89 and waiting:
            acd.call_ended(rng.choice(waiting).call_uuid)
        elif r < 0.92 and waiting:
            try:
                acd.request_callback(rng.choice(waiting).call_uuid)
            except (Conflict, InvalidArgument):
                pass
        elif r < 0.93 and waiting:
            for digit in rng.choice(("7", "7555#", "7#", "7*", "1")):
                acd.dtmf(rng.choice(waiting).call_uuid, digit)
        elif r < 0.95:
            acd.tick()
        elif r < 0.97:
            agent_id = rng.choice(agents)
            acd.set_dnd(agent_id, not acd.agents[agent_id].dnd)
        elif r < 0.99:
            configure(rng.choice(agents))
        else:
            name = rng.choice(names)
            acd.upsert_queue(dataclasses.replace(acd.queues[name], strategy=rng.choice(strategies),
                                                 relaxation=rng.choice(((), (Relaxation(5, 1),))),
                                                 tier_wait_s=rng.choice((0, 5))))
        acd._waiting.check()
        out.append([(kind, m.SerializeToString(deterministic=True)) for kind, m in acd.drain()])
    return out


def test_the_index_decides_exactly_what_a_scan_of_every_waiting_call_decides():
    for seed in range(4):
        assert _drive(Acd, seed) == _drive(ScanningAcd, seed), seed
