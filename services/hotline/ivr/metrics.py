"""The IVR service's Prometheus metrics."""
from prometheus_client import Counter, Gauge, Histogram

SESSIONS_ACTIVE = Gauge("hotline_ivr_sessions_active", "Calls currently in an IVR session")
CALLS = Counter("hotline_ivr_calls_total", "IVR sessions by outcome", ["outcome"])
MENU_ATTEMPTS = Counter("hotline_ivr_menu_attempts_total", "Menu attempts by result", ["result"])
SESSION_SECONDS = Histogram("hotline_ivr_session_seconds", "Time from answer to leaving the IVR",
                            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300))
