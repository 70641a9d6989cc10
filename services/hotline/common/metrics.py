"""The Prometheus /metrics endpoint of a process. Each service defines its
own metrics in its own ``metrics.py`` (names ``hotline_<service>_<what>_<unit>``,
base units, bounded labels, never a call id)."""
from __future__ import annotations

import logging

from prometheus_client import start_http_server

log = logging.getLogger(__name__)


def serve(host: str, port: int) -> int | None:
    """Start the /metrics HTTP endpoint; port 0 disables it. Returns the port."""
    if port == 0:
        return None
    server, _thread = start_http_server(port, addr=host)
    bound = server.server_address[1]
    log.info("metrics on http://%s:%s/metrics", host, bound)
    return bound
