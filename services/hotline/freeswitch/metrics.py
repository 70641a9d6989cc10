"""The FreeSWITCH adapter's Prometheus metrics, per node (inbound connections)."""
from prometheus_client import Counter, Gauge

CONNECTED = Gauge("hotline_esl_connected", "1 while the inbound ESL connection to the node is up", ["node"])
CONNECTS = Counter("hotline_esl_connects_total", "Successful ESL connects (the first and every reconnect)", ["node"])
EVENTS = Counter("hotline_esl_events_total", "Events read from the node", ["node"])
BACKLOG = Gauge("hotline_esl_event_backlog", "Events read but not yet handled", ["node"])
BACKPRESSURE = Counter("hotline_esl_backpressure_total",
                       "Events that found the backlog full (reading paused until handlers caught up)", ["node"])
