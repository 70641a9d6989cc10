"""The CTI service's gRPC side (hotline.proto.cti.v1.Cti).

Agent state belongs to the routing service: Login, Logout, SetState and
GetAgent are checked here (required fields, the caller's rights) and then
forwarded to Routing. A Routing error reaches the desktop with Routing's
status code and message (INVALID_ARGUMENT stays INVALID_ARGUMENT, UNAVAILABLE
stays UNAVAILABLE, ...). StreamEvents serves an agent's feed from AgentFeed;
LookupCustomer reads the CustomerStore.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, TypeVar

import grpc

from hotline.common.errors import InvalidArgument
from hotline.common.grpc import require
from hotline.cti import auth, metrics
from hotline.cti.customers import CustomerStore
from hotline.cti.feed import AgentFeed
from hotline.proto.cti.v1 import cti_pb2, cti_pb2_grpc
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc

log = logging.getLogger(__name__)

T = TypeVar("T")

LOGIN_REASON = "login"         # the reason code of the NOT_READY state an agent logs in to
DESKTOP_STATES = (ev.READY, ev.NOT_READY)


class CtiServicer(cti_pb2_grpc.CtiServicer):
    def __init__(self, routing: routing_pb2_grpc.RoutingStub, customers: CustomerStore, feed: AgentFeed, *,
                 routing_timeout_s: float = 5.0, stream_poll_s: float = 1.0) -> None:
        self.routing = routing
        self.customers = customers
        self.feed = feed
        self.routing_timeout_s = routing_timeout_s
        self.stream_poll_s = stream_poll_s

    # -- helpers ---------------------------------------------------------
    @staticmethod
    def _agent(agent_id: str, *, change: bool) -> str:
        if not agent_id:
            raise InvalidArgument("agent_id", "is required")
        auth.current_caller().check_agent(agent_id, change=change)
        return agent_id

    def _call_routing(self, context: grpc.ServicerContext, method: Callable[..., T], request: Any) -> T | None:
        """Call Routing. When it fails, its status code, message and error id are set
        on this call's context and None is returned: the caller then returns at once.

        (The status is set rather than raised with context.abort(): abort raises a
        plain Exception, which the shared ErrorInterceptor would turn into INTERNAL.)
        """
        timeout = self.routing_timeout_s
        remaining = context.time_remaining()
        if remaining is not None:
            timeout = max(0.001, min(timeout, remaining))   # never outlive the caller's deadline
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNAVAILABLE
            details = (exc.details() if hasattr(exc, "details") else None) or "routing service error"
            trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
            error_id = tuple((k, v) for k, v in (trailing or ()) if k == "hotline-error-id")
            if error_id:
                context.set_trailing_metadata(error_id)
            log.info("routing answered %s: %s", code, details)
            context.set_code(code)
            context.set_details(details)
            return None

    def _status(self, context: grpc.ServicerContext, method: Callable[..., routing_pb2.AgentStatus],
                request: Any) -> routing_pb2.AgentStatus:
        status = self._call_routing(context, method, request)
        # On failure the client gets the error status; the empty message is discarded.
        return status if status is not None else routing_pb2.AgentStatus()

    def _set_state(self, context: grpc.ServicerContext, agent_id: str, state: int,
                   reason: str = "") -> routing_pb2.AgentStatus:
        return self._status(context, self.routing.SetAgentState,
                            routing_pb2.SetAgentStateRequest(agent_id=agent_id, state=state, reason=reason))

    # -- agent state -----------------------------------------------------
    def Login(self, request: cti_pb2.LoginRequest, context: grpc.ServicerContext) -> routing_pb2.AgentStatus:
        agent_id = self._agent(request.agent_id, change=True)
        if request.ready:
            return self._set_state(context, agent_id, ev.READY)
        return self._set_state(context, agent_id, ev.NOT_READY, LOGIN_REASON)

    def Logout(self, request: cti_pb2.LogoutRequest, context: grpc.ServicerContext) -> routing_pb2.AgentStatus:
        agent_id = self._agent(request.agent_id, change=True)
        return self._set_state(context, agent_id, ev.LOGGED_OUT)

    def SetState(self, request: cti_pb2.SetStateRequest, context: grpc.ServicerContext) -> routing_pb2.AgentStatus:
        agent_id = self._agent(request.agent_id, change=True)
        if request.state not in DESKTOP_STATES:
            raise InvalidArgument("state", "must be READY or NOT_READY (Login and Logout log in and out)")
        reason = request.reason.strip()
        if request.state == ev.NOT_READY and not reason:
            raise InvalidArgument("reason", "is required for NOT_READY (a reason code such as 'break')")
        return self._set_state(context, agent_id, request.state, reason if request.state == ev.NOT_READY else "")

    def GetAgent(self, request: routing_pb2.GetAgentRequest,
                 context: grpc.ServicerContext) -> routing_pb2.AgentStatus:
        agent_id = self._agent(request.agent_id, change=False)
        return self._status(context, self.routing.GetAgent, routing_pb2.GetAgentRequest(agent_id=agent_id))

    # -- customers -------------------------------------------------------
    def LookupCustomer(self, request: cti_pb2.LookupCustomerRequest,
                       context: grpc.ServicerContext) -> cti_pb2.Customer:
        auth.current_caller()
        require(request, "phone")
        return self.customers.lookup(request.phone)

    # -- the event stream ------------------------------------------------
    def StreamEvents(self, request: cti_pb2.StreamEventsRequest,
                     context: grpc.ServicerContext) -> Iterator[cti_pb2.AgentEvent]:
        agent_id = self._agent(request.agent_id, change=False)
        # Subscribe before reading the current state, so nothing between the two is missed.
        subscription = self.feed.subscribe(agent_id)
        metrics.STREAMS_ACTIVE.inc()
        try:
            # Wakes the loop below as soon as the client goes away (cancel, disconnect, deadline).
            context.add_callback(subscription.close)
            status = self._call_routing(context, self.routing.GetAgent,
                                        routing_pb2.GetAgentRequest(agent_id=agent_id))
            if status is None:
                return
            yield current_state_event(agent_id, status)
            log.info("agent %s: desktop event stream open", agent_id)
            while context.is_active() and not subscription.closed:
                event = subscription.get(self.stream_poll_s)
                if event is None:
                    continue
                if event.HasField("state_changed") and is_stale(event.state_changed, status):
                    continue
                yield event
        finally:
            subscription.close()
            metrics.STREAMS_ACTIVE.dec()
            log.info("agent %s: desktop event stream closed", agent_id)


def current_state_event(agent_id: str, status: routing_pb2.AgentStatus) -> cti_pb2.AgentEvent:
    """The first event of a stream: the agent's state now, as a state change."""
    state = ev.AgentStateEvent(
        event_id=f"current:{agent_id}:{status.state_since_us}", agent_id=agent_id,
        state=status.state, reason=status.reason, timestamp_us=status.state_since_us, call_uuid=status.call_uuid)
    return cti_pb2.AgentEvent(timestamp_us=status.state_since_us, state_changed=state)


def is_stale(change: ev.AgentStateEvent, current: routing_pb2.AgentStatus) -> bool:
    """A state change the stream's first event already covers (it is older, or it is that same change)."""
    if change.timestamp_us < current.state_since_us:
        return True
    return change.timestamp_us == current.state_since_us and change.state == current.state
