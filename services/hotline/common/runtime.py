"""Process-wide runtime set-up: gevent first, then gRPC on gevent.

Call :func:`init` before anything imports socket-using libraries (the CLI does
it first thing). gRPC parks completion-queue polls on gevent's hub
threadpool; its default size of 10 deadlocks 20 concurrent callers, so it is
raised before ``init_gevent()``.
"""
from __future__ import annotations

_done = False


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
