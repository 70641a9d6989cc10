"""The ACD plus its outbox: every decision's events are published on the
bus right after the decision (agent-events keyed by agent id, queue-events
keyed by call UUID). The gRPC side and the switch side both go through here."""
from __future__ import annotations

import logging
import time
from typing import Callable

import gevent.event

from hotline.common import topics
from hotline.common.bus import EventBus
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing import metrics
from hotline.routing.acd import Acd, CallState

log = logging.getLogger(__name__)


def now_us() -> int:
    return int(time.time() * 1_000_000)


class RoutingCore:
    def __init__(self, bus: EventBus, *, clock_us: Callable[[], int] = now_us, max_missed_offers: int = 3) -> None:
        self.bus = bus
        self.acd = Acd(clock_us, max_missed_offers=max_missed_offers)
        self.wakeup = gevent.event.Event()   # set when something may allow a new assignment

    def publish_outbox(self) -> None:
        for kind, message in self.acd.drain():
            if kind == "agent":
                assert isinstance(message, ev.AgentStateEvent)
                self.bus.publish(topics.AGENT_EVENTS, message.agent_id, message)
                self.wakeup.set()
            else:
                assert isinstance(message, ev.QueueEvent)
                self.bus.publish(topics.QUEUE_EVENTS, message.call_uuid, message)
                if message.type == ev.QUEUE_ENQUEUED:
                    metrics.ENQUEUED.labels(message.queue).inc()
                    self.wakeup.set()
                elif message.type == ev.QUEUE_ABANDONED:
                    metrics.ABANDONED.labels(message.queue).inc()
                elif message.type == ev.QUEUE_OFFER_FAILED:
                    metrics.OFFERS.labels(message.queue, "failed").inc()
                    self.wakeup.set()
                elif message.type == ev.QUEUE_CONNECTED:
                    metrics.OFFERS.labels(message.queue, "connected").inc()
                elif message.type == ev.QUEUE_OVERFLOWED:
                    metrics.OVERFLOWED.labels(message.queue, message.reason).inc()
                elif message.type == ev.QUEUE_CALLBACK_REQUESTED:
                    metrics.CALLBACKS.labels(message.queue).inc()
        if self.acd.actions:
            self.wakeup.set()                # the switch side carries them out

    def update_gauges(self) -> None:
        states = [name for name in ev.AgentState.keys() if name != "AGENT_STATE_UNSPECIFIED"]
        counts = dict.fromkeys(states, 0)
        for agent in self.acd.agents.values():
            counts[ev.AgentState.Name(agent.state)] += 1
        metrics.publish_gauges({name: self.queue_status(name) for name in self.acd.queues}, counts, states)

    def queue_status(self, queue_name: str) -> tuple[int, int, dict[str, int]]:
        """(calls waiting or being offered, the longest wait in µs, the queue's
        agents by state): O(calls of the queue), nothing sorted, so the gauges
        of every queue cost one pass over the calls."""
        now = self.acd.clock_us()
        waits = [now - c.enqueued_us for c in self.acd.calls.in_queue(queue_name)
                 if c.state is CallState.WAITING or c.state is CallState.OFFERING]
        return len(waits), max(waits, default=0), self._members_by_state(queue_name)

    def _members_by_state(self, queue_name: str) -> dict[str, int]:
        """The queue's agents by state name (counted by state number, named once per state)."""
        by_state: dict[int, int] = {}
        for agent in self.acd.members(queue_name):
            by_state[agent.state] = by_state.get(agent.state, 0) + 1
        return {ev.AgentState.Name(state): n for state, n in by_state.items()}
