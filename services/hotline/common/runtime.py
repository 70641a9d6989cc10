"""Process-wide runtime set-up: gevent first, then gRPC on gevent.

Call :func:`init` before anything imports socket-using libraries (the CLI does
it first thing). gRPC parks completion-queue polls on gevent's hub
threadpool; its default size of 10 deadlocks 20 concurrent callers, so it is
raised before ``init_gevent()``.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator

_done = False
# A long-running service allocates a few objects per event and keeps few of
# them: collect the young generation every 50,000 net allocations instead of
# 700, and full collections ten times rarer. Measured on ingestion (docs/ingestion.md):
# the default thresholds spent 15-22 % of the consumer's CPU in the collector.
SERVICE_GC_THRESHOLDS = (50_000, 20, 100)


def init() -> None:
    global _done
    if _done:
        return
    from gevent import monkey

    monkey.patch_all()
    import gevent

    gevent.get_hub().threadpool.maxsize = 64
    import grpc.experimental.gevent as grpc_gevent

    grpc_gevent.init_gevent()
    _done = True


def tune_gc_for_service() -> None:
    """The collector's thresholds for a long-running service process (not tests)."""
    gc.set_threshold(*SERVICE_GC_THRESHOLDS)


@contextlib.contextmanager
def service_gc() -> Iterator[None]:
    """The service's collector thresholds for the block, the previous ones
    after it (benchmarks that time service code inside a test process)."""
    previous = gc.get_threshold()
    tune_gc_for_service()
    try:
        yield
    finally:
        gc.set_threshold(*previous)
