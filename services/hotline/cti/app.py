"""Composition root of the CTI service: the customer store, the agent feed on
the event bus, the Routing client, and the gRPC server with authentication,
wired from settings."""
from __future__ import annotations

import logging
import os
import secrets
import socket

import gevent
import grpc

from hotline.common.bus import EventBus
from hotline.common.errors import ConfigError
from hotline.common.grpc import GrpcServer
from hotline.common.settings import Settings, parse_tokens
from hotline.cti.api import CtiServicer
from hotline.cti.auth import AuthInterceptor
from hotline.cti.customers import CustomerStore
from hotline.cti.feed import AgentFeed
from hotline.cti.metrics import RequestMetricsInterceptor
from hotline.proto.cti.v1 import cti_pb2, cti_pb2_grpc
from hotline.proto.routing.v1 import routing_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = cti_pb2.DESCRIPTOR.services_by_name["Cti"].full_name


def default_instance_id() -> str:
    """Unique per service instance: each needs its own live-feed consumer group.
    (A restarted instance gets a new group; the feed drops the stale events it re-reads.)"""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class CtiService:
    def __init__(self, settings: Settings, bus: EventBus, routing_channel: grpc.Channel,
                 customers: CustomerStore | None = None, *, instance_id: str | None = None) -> None:
        if not settings.cti.tokens:
            raise ConfigError("HOTLINE_CTI_TOKENS is not set: the CTI API needs its tokens "
                              "('token:role[:agent_id],...') from the environment")
        tokens = parse_tokens(settings.cti.tokens)
        self.settings = settings
        self.bus = bus
        self._owns_customers = customers is None
        self.customers = customers if customers is not None else CustomerStore(settings.cti.customers_db)
        self.feed = AgentFeed(bus, self.customers, instance_id=instance_id or default_instance_id())
        self.servicer = CtiServicer(routing_pb2_grpc.RoutingStub(routing_channel), self.customers, self.feed)
        # GrpcServer puts its ErrorInterceptor outside these: metrics, then authentication.
        self.server = GrpcServer(settings.grpc.cti,
                                 interceptors=[RequestMetricsInterceptor(SERVICE_NAME), AuthInterceptor(tokens)])
        self.server.add(cti_pb2_grpc.add_CtiServicer_to_server, self.servicer, SERVICE_NAME)
        self.grpc_port: int | None = None
        self._serving: gevent.Greenlet | None = None

    def start(self) -> int:
        self.feed.start()
        self.grpc_port = self.server.start()
        self._serving = gevent.spawn(self._watch_health)
        return self.grpc_port

    def _watch_health(self, interval_s: float = 2.0) -> None:
        """Health says SERVING while the feed's consumers are attached and the bus is healthy."""
        serving: bool | None = None
        while True:
            now = self.feed.ready and self.bus.healthy()
            if now != serving:
                self.server.set_all_serving(now)
                log.log(logging.INFO if now else logging.WARNING, "CTI %s (port %s, feed group %s)",
                        "serving" if now else "not serving: waiting for the event bus", self.grpc_port,
                        self.feed.group)
                serving = now
            gevent.sleep(0.1 if not serving else interval_s)

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.kill()
            self._serving = None
        self.server.set_all_serving(False)
        self.feed.stop()             # closes every subscription: open streams end
        self.server.stop()
        if self._owns_customers:
            self.customers.close()
