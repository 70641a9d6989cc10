"""The CTI service's Prometheus metrics (defined once, here), and the
interceptor that counts requests by method and status code.

Labels are bounded: the gRPC method's short name, a status code name, a
fixed set of kinds and reasons. Never a call id, agent id or phone number."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import grpc
from prometheus_client import Counter, Gauge

from hotline.common import errors
from hotline.common.grpc import status_for

REQUESTS = Counter("hotline_cti_requests_total", "CTI API calls by method and final status code",
                   ["method", "code"])
STREAMS_ACTIVE = Gauge("hotline_cti_streams_active", "Open StreamEvents feeds (agent desktops connected)")
SCREEN_POPS = Counter("hotline_cti_screen_pops_total",
                      "Offered calls sent to desktops with a screen pop, by whether the caller was known",
                      ["known"])
FEED_EVENTS = Counter("hotline_cti_feed_events_total",
                      "Events fanned out to at least one desktop, by kind", ["kind"])
FEED_DROPPED = Counter("hotline_cti_feed_events_dropped_total",
                       "Events not delivered to a desktop: 'stale' (older than the subscription) or "
                       "'slow_subscriber' (the desktop's queue was full; the oldest event was dropped)",
                       ["reason"])
HISTORY_RECORDED = Counter("hotline_cti_customer_calls_recorded_total",
                           "Calls added to customer history from CDRs (replays not counted)")


def _code_after(context: grpc.ServicerContext) -> grpc.StatusCode:
    code = context.code()
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK


def _code_of(exc: BaseException, context: grpc.ServicerContext) -> grpc.StatusCode:
    if isinstance(exc, errors.HotlineError):
        return status_for(exc)
    code = context.code()     # set by context.abort(), which raises a bare Exception
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.INTERNAL


class RequestMetricsInterceptor(grpc.ServerInterceptor):
    """Counts every call of the given service by method and final status.

    Sits inside the shared ErrorInterceptor, so it sees domain errors before
    they become statuses and maps them the same way (status_for)."""

    def __init__(self, service_full_name: str) -> None:
        self.prefix = f"/{service_full_name}/"

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(self.prefix):
            return handler
        name = method[len(self.prefix):]

        def wrap_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    response = fn(request, context)
                except BaseException as exc:
                    REQUESTS.labels(name, _code_of(exc, context).name).inc()
                    raise
                REQUESTS.labels(name, _code_after(context).name).inc()
                return response
            return inner

        def wrap_stream(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                try:
                    yield from fn(request, context)
                except GeneratorExit:
                    REQUESTS.labels(name, grpc.StatusCode.CANCELLED.name).inc()
                    raise
                except BaseException as exc:
                    REQUESTS.labels(name, _code_of(exc, context).name).inc()
                    raise
                code = _code_after(context)
                if code is grpc.StatusCode.OK and not context.is_active():
                    code = grpc.StatusCode.CANCELLED
                REQUESTS.labels(name, code.name).inc()
            return inner

        if handler.unary_unary:
            return handler._replace(unary_unary=wrap_unary(handler.unary_unary))
        if handler.unary_stream:
            return handler._replace(unary_stream=wrap_stream(handler.unary_stream))
        return handler
