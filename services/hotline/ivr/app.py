"""Composition root of the IVR service: the outbound-socket server that
FreeSWITCH's `socket` dialplan application connects to, a gRPC client of the
routing service, and the event bus its node visits are published on
(ivr-events, for reporting)."""
from __future__ import annotations

import logging

import grpc

from hotline.common.bus import EventBus
from hotline.common.grpc import GrpcServer, channel
from hotline.common.settings import Settings
from hotline.freeswitch import OutboundCall, OutboundServer
from hotline.ivr.events import VisitOutbox
from hotline.ivr.session import EVENTS as SESSION_EVENTS
from hotline.ivr.session import IvrSession, menu_from_settings
from hotline.proto.routing.v1 import routing_pb2_grpc

log = logging.getLogger(__name__)


class IvrService:
    def __init__(self, settings: Settings, routing_channel: grpc.Channel | None = None, *, bus: EventBus) -> None:
        self.settings = settings
        self.visits = VisitOutbox(bus)
        self.menu = menu_from_settings(settings.ivr)
        self.menu.validate()
        self.routing_channel = routing_channel or channel(settings.grpc.routing)
        self.routing = routing_pb2_grpc.RoutingStub(self.routing_channel)
        self.server = OutboundServer(settings.ivr.socket_host, settings.ivr.socket_port, self.handle_call,
                                     event_format=settings.esl.event_format, events=SESSION_EVENTS)
        # The IVR has no API of its own yet; its gRPC server carries health and reflection.
        self.grpc = GrpcServer(settings.grpc.ivr)
        self.socket_port: int | None = None
        self.grpc_port: int | None = None

    def handle_call(self, call: OutboundCall) -> None:
        IvrSession(call, self.menu, self.routing, self.settings.esl.node_id, visits=self.visits.put,
                   goodbye_prompt=self.settings.ivr.goodbye_prompt).run()

    def start(self) -> None:
        self.visits.start()
        self.socket_port = self.server.start()
        self.grpc_port = self.grpc.start()
        self.grpc.set_all_serving(True)
        log.info("IVR listening for FreeSWITCH on %s:%s", self.settings.ivr.socket_host, self.socket_port)

    def stop(self) -> None:
        self.server.stop()
        self.grpc.stop()
        self.visits.stop()         # the last calls' visits, before the process goes
