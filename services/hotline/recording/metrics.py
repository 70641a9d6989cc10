"""The recording service's Prometheus metrics."""
from prometheus_client import Counter, Gauge

STARTED = Counter("hotline_recording_started_total", "Recordings started")
SAVED = Counter("hotline_recording_saved_total", "Recordings completed and announced")
FAILED = Counter("hotline_recording_failures_total", "Recording commands or files that failed", ["stage"])
ACTIVE = Gauge("hotline_recording_active", "Recordings in progress")
BYTES = Counter("hotline_recording_bytes_total", "Bytes of finished recordings")
