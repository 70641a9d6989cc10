"""The IVR service's Prometheus metrics (defined once, here). Labels are
bounded: outcomes, results and the flow's fixed node names."""
from prometheus_client import Counter, Gauge, Histogram

SESSIONS_ACTIVE = Gauge("hotline_ivr_sessions_active", "Calls currently in an IVR session")
CALLS = Counter("hotline_ivr_calls_total", "IVR sessions by outcome", ["outcome"])
MENU_ATTEMPTS = Counter("hotline_ivr_menu_attempts_total", "Menu attempts by result", ["result"])
SESSION_SECONDS = Histogram("hotline_ivr_session_seconds", "Time from answer to leaving the IVR",
                            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300))
NODE_VISITS = Counter("hotline_ivr_node_visits_total", "Callers leaving an IVR node, by node and outcome",
                      ["node", "outcome"])
VISITS_UNPUBLISHED = Counter("hotline_ivr_visits_unpublished_total",
                             "IVR node visits the event bus refused (logged; the call went on)")
