"""The routing service's Prometheus metrics (defined once, here)."""
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
