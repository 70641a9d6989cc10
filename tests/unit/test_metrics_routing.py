"""Routing's real-time gauges (calls waiting, longest wait, agents by state,
overall and per queue), read back from the Prometheus registry. Hermetic:
the ACD with a hand-moved clock and the in-process bus."""
from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from hotline.common.bus import InProcessBus
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing import metrics
from hotline.routing.acd import QueueConfig
from hotline.routing.core import RoutingCore

T0 = 1_700_000_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def core(clock: Clock):
    bus = InProcessBus()
    core = RoutingCore(bus, clock_us=clock)
    yield core
    states = [name for name in ev.AgentState.keys() if name != "AGENT_STATE_UNSPECIFIED"]
    metrics.publish_gauges({}, {}, states)     # leave no queue series behind for the next test
    bus.close()


def agent(core: RoutingCore, agent_id: str, skills: dict[str, int], state: int) -> None:
    core.acd.upsert_agent(agent_id, agent_id, f"user/{agent_id}@default", skills)
    core.acd.set_agent_state(agent_id, state, "break" if state == ev.NOT_READY else "")


def test_waiting_calls_longest_wait_and_agents_by_state_per_queue(core, clock):
    core.acd.upsert_queue(QueueConfig("gq-support", "support"))
    core.acd.upsert_queue(QueueConfig("gq-sales", "sales"))
    agent(core, "gq-a1", {"sales": 5}, ev.NOT_READY)
    agent(core, "gq-a2", {"sales": 5}, ev.NOT_READY)
    agent(core, "gq-b1", {"support": 5, "sales": 5}, ev.NOT_READY)
    core.acd.enqueue("gq-c1", "gq-support")          # nobody serves support while these wait
    clock.advance(30)
    core.acd.enqueue("gq-c2", "gq-support")
    clock.advance(60)
    core.update_gauges()

    assert sample("hotline_routing_calls_waiting", queue="gq-support") == 2
    assert sample("hotline_routing_longest_wait_seconds", queue="gq-support") == 90.0   # c1: 30 s + 60 s
    assert sample("hotline_routing_calls_waiting", queue="gq-sales") == 0
    assert sample("hotline_routing_longest_wait_seconds", queue="gq-sales") == 0.0
    assert sample("hotline_routing_queue_agents", queue="gq-sales", state="NOT_READY") == 3
    assert sample("hotline_routing_queue_agents", queue="gq-support", state="NOT_READY") == 1
    # Every state is published, so "nobody ready" reads 0 instead of missing.
    assert sample("hotline_routing_queue_agents", queue="gq-support", state="READY") == 0
    assert sample("hotline_routing_agents", state="NOT_READY") == 3

    core.acd.set_agent_state("gq-a1", ev.READY)
    core.update_gauges()
    assert sample("hotline_routing_queue_agents", queue="gq-sales", state="READY") == 1
    assert sample("hotline_routing_queue_agents", queue="gq-sales", state="NOT_READY") == 2
    assert sample("hotline_routing_queue_agents", queue="gq-support", state="NOT_READY") == 1
    assert sample("hotline_routing_agents", state="READY") == 1


def test_a_deleted_queue_leaves_no_series_behind(core, clock):
    core.acd.upsert_queue(QueueConfig("gq-gone", "gone"))
    core.acd.upsert_queue(QueueConfig("gq-kept", "kept"))
    core.update_gauges()
    assert sample("hotline_routing_calls_waiting", queue="gq-gone") == 0

    core.acd.delete_queue("gq-gone")
    core.update_gauges()
    assert sample("hotline_routing_calls_waiting", queue="gq-gone") is None
    assert sample("hotline_routing_longest_wait_seconds", queue="gq-gone") is None
    assert sample("hotline_routing_queue_agents", queue="gq-gone", state="READY") is None
    assert sample("hotline_routing_calls_waiting", queue="gq-kept") == 0
