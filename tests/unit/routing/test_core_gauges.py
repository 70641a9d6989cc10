"""RoutingCore.update_gauges publishes queue_status() of every queue: calls
waiting or being offered, the longest wait, the agents by state, as the
ACD's own lists (waiting(), members()) give them."""
import random

from hotline.common.bus import InProcessBus
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing import core as core_module
from hotline.routing.acd import QueueConfig
from hotline.routing.core import RoutingCore

from fake_clock import Clock


def test_the_gauges_are_each_queues_status_as_the_acds_lists_give_it(monkeypatch):
    clock = Clock()
    bus = InProcessBus()
    core = RoutingCore(bus, clock_us=clock)
    acd = core.acd
    rng = random.Random(5)
    for q in range(5):
        acd.upsert_queue(QueueConfig(f"gauge-q{q}", f"skill{q % 3}"))
    for a in range(12):
        acd.upsert_agent(f"gauge-a{a}", f"a{a}", f"user/a{a}@default", {f"skill{a % 3}": 5})
        acd.set_agent_state(f"gauge-a{a}", rng.choice((ev.READY, ev.NOT_READY, ev.LOGGED_OUT)))
    for i in range(40):
        clock.advance(rng.choice((0.5, 3, 20)))
        acd.enqueue(f"gauge-c{i}", f"gauge-q{rng.randrange(5)}", priority=rng.choice((0, 5)))
        for offer in acd.next_assignments():
            if i % 2:
                acd.connected(offer.call.call_uuid, offer.agent.agent_id)      # connected: no longer waiting
    published = {}
    monkeypatch.setattr(core_module.metrics, "publish_gauges", lambda queues, agents, states: published.update(queues))
    core.update_gauges()
    assert published == {name: core.queue_status(name) for name in acd.queues}

    def expected(name):
        waiting = acd.waiting(name)
        by_state = {}
        for agent in acd.members(name):
            state = ev.AgentState.Name(agent.state)
            by_state[state] = by_state.get(state, 0) + 1
        return len(waiting), max((clock() - c.enqueued_us for c in waiting), default=0), by_state

    assert published == {name: expected(name) for name in acd.queues}
    assert sum(n for n, _, _ in published.values()) == len(acd.waiting()) > 0
    assert any(c.state.value == "offering" for c in acd.waiting())
    bus.close()
