"""gRPC bootstrap shared by every service: one error interceptor, health
(grpc.health.v1) and reflection on every server, and channel helpers."""
from __future__ import annotations

import logging
from concurrent import futures
from typing import Any, Callable, Iterable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hotline.common import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.HotlineError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_for(exc: errors.HotlineError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    if isinstance(exc, errors.HotlineError):
        context.set_trailing_metadata((("hotline-error-id", exc.error_id),))
        context.abort(status_for(exc), exc.message)
    log.exception("unhandled error in %s", method)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}")


class ErrorInterceptor(grpc.ServerInterceptor):
    """Maps domain errors to gRPC status codes, in one place."""

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def wrap_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    return fn(request, context)
                except grpc.RpcError:
                    raise
                except Exception as exc:  # noqa: BLE001 - mapped to a status
                    if _aborted(context):
                        raise
                    _abort(context, exc, method)
            return inner

        def wrap_stream(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(request: Any, context: grpc.ServicerContext) -> Iterable[Any]:
                try:
                    yield from fn(request, context)
                except grpc.RpcError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    if _aborted(context):
                        raise
                    _abort(context, exc, method)
            return inner

        if handler.unary_unary:
            return handler._replace(unary_unary=wrap_unary(handler.unary_unary))
        if handler.unary_stream:
            return handler._replace(unary_stream=wrap_stream(handler.unary_stream))
        return handler


def _aborted(context: grpc.ServicerContext) -> bool:
    """context.abort() raises a bare Exception after setting the status: let it through."""
    try:
        code = context.code()
    except Exception:  # noqa: BLE001 - older contexts have no code()
        return False
    return code not in (None, grpc.StatusCode.OK)


class GrpcServer:
    """A gRPC server with health, reflection and the error interceptor."""

    def __init__(self, address: str, *, interceptors: Sequence[grpc.ServerInterceptor] = (),
                 max_workers: int = 64) -> None:
        self.address = address
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers),
            interceptors=[ErrorInterceptor(), *interceptors],
            options=[("grpc.so_reuseport", 0)],
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self._service_names: list[str] = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        self.port: int | None = None

    def add(self, register: Callable[[Any, grpc.Server], None], servicer: Any, service_full_name: str) -> None:
        register(servicer, self._server)
        self._service_names.append(service_full_name)
        self.set_serving(service_full_name, False)

    def start(self) -> int:
        reflection.enable_server_reflection([*self._service_names, reflection.SERVICE_NAME], self._server)
        self.port = self._server.add_insecure_port(self.address)
        if self.port == 0:
            raise errors.Unavailable(f"cannot listen on {self.address}")
        self._server.start()
        log.info("gRPC listening on %s (port %s): %s", self.address, self.port, ", ".join(self._service_names[1:]))
        return self.port

    def set_serving(self, service: str, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        self.health.set(service, status)
        # The overall status ("") follows: serving only when every service is.
        if not serving:
            self.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)

    def set_all_serving(self, serving: bool) -> None:
        for name in self._service_names[1:]:
            self.set_serving(name, serving)
        self.health.set("", health_pb2.HealthCheckResponse.SERVING if serving
                        else health_pb2.HealthCheckResponse.NOT_SERVING)

    def stop(self, grace: float = 1.0) -> None:
        self._server.stop(grace).wait()


def channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address, options=[("grpc.enable_retries", 1)])


def require(request: Any, *fields: str) -> None:
    """Raise InvalidArgument naming the first empty required field."""
    for name in fields:
        if not getattr(request, name):
            raise errors.InvalidArgument(name, "is required")
