"""TEST DOUBLE of the routing service's gRPC API (hotline.proto.routing.v1.Routing),
for the CTI tests only.

It is a contract implementation, not the ACD: a real gRPC server on loopback
that keeps agent states in a dict and, like the real routing service,
publishes an AgentStateEvent (topic agent-events, key agent id) for every
state change. What it implements of the contract, as the real service does:

- GetAgent / SetAgentState on an unknown agent -> NOT_FOUND;
  an empty agent_id -> INVALID_ARGUMENT naming "agent_id";
- SetAgentState accepts LOGGED_OUT, NOT_READY and READY (else INVALID_ARGUMENT
  naming "state"); READY while RESERVED/ON_CALL -> FAILED_PRECONDITION;
- setting the state an agent is already in (same reason) publishes nothing.

Tests drive the rest through :meth:`force_state` (what the ACD would do when
it offers a call) and :meth:`fail_next` (any error status, to check that the
CTI passes routing errors through unchanged).
"""
from __future__ import annotations

import time
import uuid
from typing import Any

import grpc

from hotline.common import topics
from hotline.common.bus import EventBus
from hotline.common.errors import Conflict, InvalidArgument, NotFound
from hotline.common.grpc import GrpcServer, channel
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2 as pb
from hotline.proto.routing.v1 import routing_pb2_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Routing"].full_name
SETTABLE_STATES = (ev.LOGGED_OUT, ev.NOT_READY, ev.READY)


def now_us() -> int:
    return int(time.time() * 1_000_000)


class RoutingContractDouble(routing_pb2_grpc.RoutingServicer):
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.agents: dict[str, pb.AgentStatus] = {}
        self.requests: list[Any] = []
        self._failures: list[tuple[grpc.StatusCode, str]] = []
        self._server: GrpcServer | None = None
        self.port: int | None = None

    # -- hosting ---------------------------------------------------------
    def start(self) -> int:
        self._server = GrpcServer("127.0.0.1:0")
        self._server.add(routing_pb2_grpc.add_RoutingServicer_to_server, self, SERVICE_NAME)
        self.port = self._server.start()
        self._server.set_all_serving(True)
        return self.port

    def channel(self) -> grpc.Channel:
        return channel(f"127.0.0.1:{self.port}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(0)

    # -- test controls ---------------------------------------------------
    def add_agent(self, agent_id: str, name: str = "") -> None:
        self.agents[agent_id] = pb.AgentStatus(agent=pb.Agent(agent_id=agent_id, name=name or agent_id,
                                                              contact=f"user/{agent_id}@default"),
                                               state=ev.LOGGED_OUT, state_since_us=now_us())

    def fail_next(self, code: grpc.StatusCode, message: str) -> None:
        self._failures.append((code, message))

    def force_state(self, agent_id: str, state: int, *, reason: str = "", call_uuid: str = "",
                    queue: str = "") -> ev.AgentStateEvent:
        return self._transition(self.agents[agent_id], state, reason, call_uuid=call_uuid, queue=queue)

    # -- the contract ----------------------------------------------------
    def _failed(self, request: Any, context: grpc.ServicerContext) -> bool:
        """Record the request; True (with the status set) if a failure was injected."""
        self.requests.append(request)
        if not self._failures:
            return False
        code, message = self._failures.pop(0)
        context.set_code(code)
        context.set_details(message)
        return True

    def _agent(self, agent_id: str) -> pb.AgentStatus:
        if not agent_id:
            raise InvalidArgument("agent_id", "is required")
        if agent_id not in self.agents:
            raise NotFound(f"no agent {agent_id!r}", agent_id=agent_id)
        return self.agents[agent_id]

    def _transition(self, status: pb.AgentStatus, state: int, reason: str, *, call_uuid: str = "",
                    queue: str = "") -> ev.AgentStateEvent | None:
        if status.state == state and status.reason == reason and status.call_uuid == call_uuid:
            return None
        now = now_us()
        event = ev.AgentStateEvent(event_id=str(uuid.uuid4()), agent_id=status.agent.agent_id, state=state,
                                   previous_state=status.state, reason=reason, timestamp_us=now,
                                   previous_state_since_us=status.state_since_us, call_uuid=call_uuid,
                                   queue=queue)
        status.state, status.reason, status.state_since_us, status.call_uuid = state, reason, now, call_uuid
        if state == ev.READY:
            status.idle_since_us = now
        self.bus.publish(topics.AGENT_EVENTS, event.agent_id, event)
        self.bus.flush()
        return event

    def GetAgent(self, request: pb.GetAgentRequest, context: grpc.ServicerContext) -> pb.AgentStatus:
        if self._failed(request, context):
            return pb.AgentStatus()
        return self._agent(request.agent_id)

    def SetAgentState(self, request: pb.SetAgentStateRequest, context: grpc.ServicerContext) -> pb.AgentStatus:
        if self._failed(request, context):
            return pb.AgentStatus()
        status = self._agent(request.agent_id)
        if request.state not in SETTABLE_STATES:
            raise InvalidArgument("state", "must be LOGGED_OUT, NOT_READY or READY")
        if status.state in (ev.RESERVED, ev.ON_CALL) and request.state == ev.READY:
            raise Conflict(f"agent {request.agent_id} is on a call")
        self._transition(status, request.state, request.reason)
        return status

    def ListAgents(self, request: pb.ListAgentsRequest, context: grpc.ServicerContext) -> pb.ListAgentsResponse:
        if self._failed(request, context):
            return pb.ListAgentsResponse()
        return pb.ListAgentsResponse(agents=list(self.agents.values()))
