"""The routing service's Prometheus metrics (defined once, here).

Labels are bounded: queue names (configured), agent state names, outcomes
and reasons from fixed sets, FreeSWITCH node names. Never a call id or an
agent id."""
from __future__ import annotations

from typing import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram

CALLS_WAITING = Gauge("hotline_routing_calls_waiting", "Calls waiting in queue (incl. being offered)", ["queue"])
AGENTS = Gauge("hotline_routing_agents", "Agents by state", ["state"])
ENQUEUED = Counter("hotline_routing_calls_enqueued_total", "Calls that entered a queue", ["queue"])
OFFERS = Counter("hotline_routing_offers_total", "Calls offered to agents, by outcome", ["queue", "outcome"])
ABANDONED = Counter("hotline_routing_calls_abandoned_total", "Callers who hung up while queued", ["queue"])
QUEUE_TO_BRIDGE = Histogram("hotline_routing_offer_to_bridge_seconds",
                            "From choosing an agent to caller and agent bridged",
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
CDRS = Counter("hotline_routing_cdrs_total", "CDRs published", ["disposition"])
SWITCH_CONNECTED = Gauge("hotline_routing_switch_connected", "1 while the ESL connection to the FreeSWITCH node is up",
                         ["node"])
OVERFLOWED = Counter("hotline_routing_calls_overflowed_total",
                     "Calls sent on by a queue (reason: max_wait, max_length, closed, rule)", ["queue", "reason"])
CALLBACKS = Counter("hotline_routing_callbacks_requested_total", "Callers who left a number for a callback",
                    ["queue"])
REBUILD_SECONDS = Gauge("hotline_routing_rebuild_seconds", "How long the last state rebuild from Kafka took")

# Per queue, refreshed with CALLS_WAITING once a second (RoutingCore.update_gauges).
LONGEST_WAIT = Gauge("hotline_routing_longest_wait_seconds",
                     "How long the queue's longest-waiting call has waited so far (0 when none waits)", ["queue"])
QUEUE_AGENTS = Gauge("hotline_routing_queue_agents",
                     "Agents who serve the queue, by state (an agent serving two queues counts in both)",
                     ["queue", "state"])

_published_queues: set[str] = set()


def publish_gauges(queues: Mapping[str, tuple[int, int, Mapping[str, int]]], agents_by_state: Mapping[str, int],
                   states: Iterable[str]) -> None:
    """Set the real-time gauges from the ACD's state.

    ``queues``: queue name -> (calls waiting, longest wait in µs, agents of the
    queue by state name); ``agents_by_state``: every agent by state name;
    ``states``: every state name, so a state nobody is in reads 0 rather than
    missing. A deleted queue's series are removed, so a wallboard never shows
    a queue that no longer exists."""
    state_names = list(states)
    for state in state_names:
        AGENTS.labels(state).set(agents_by_state.get(state, 0))
    for name, (waiting, longest_us, by_state) in queues.items():
        CALLS_WAITING.labels(name).set(waiting)
        LONGEST_WAIT.labels(name).set(longest_us / 1_000_000)
        for state in state_names:
            QUEUE_AGENTS.labels(name, state).set(by_state.get(state, 0))
    for gone in _published_queues - set(queues):
        _forget_queue(gone, state_names)
    _published_queues.clear()
    _published_queues.update(queues)


def _forget_queue(name: str, states: Iterable[str]) -> None:
    for gauge in (CALLS_WAITING, LONGEST_WAIT):
        try:
            gauge.remove(name)
        except KeyError:
            pass
    for state in states:
        try:
            QUEUE_AGENTS.remove(name, state)
        except KeyError:
            pass
