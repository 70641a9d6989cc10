"""The CTI in front of the REAL routing gRPC API (hotline.routing's servicer and
ACD core, without a switch), checking that the contract the routing double
implements is the one the real service keeps: states and reasons, the event
each change publishes, NOT_FOUND for an unknown agent."""
from __future__ import annotations

from typing import Any

import grpc
import pytest

from cti_support import AGENT_TOKEN, SUPERVISOR_TOKEN, Feed, auth, cti_settings
from hotline.common.bus import EventBus
from hotline.common.grpc import GrpcServer, channel
from hotline.proto.cti.v1 import cti_pb2, cti_pb2_grpc
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc


@pytest.fixture
def stub(bus: EventBus, tmp_path: Any, unique_name: str):
    from hotline.cti.app import CtiService
    from hotline.routing.api import RoutingServicer
    from hotline.routing.core import RoutingCore

    server = GrpcServer("127.0.0.1:0")
    server.add(routing_pb2_grpc.add_RoutingServicer_to_server, RoutingServicer(RoutingCore(bus), lambda *_: None),
               routing_pb2.DESCRIPTOR.services_by_name["Routing"].full_name)
    port = server.start()
    routing_channel = channel(f"127.0.0.1:{port}")
    routing_pb2_grpc.RoutingStub(routing_channel).UpsertAgent(
        routing_pb2.Agent(agent_id="1001", name="Ada Agent", contact="user/1001@default", skills={"support": 5}))
    service = CtiService(cti_settings(tmp_path, routing=f"127.0.0.1:{port}"), bus, routing_channel,
                         instance_id=unique_name)
    service.start()
    client = channel(f"127.0.0.1:{service.grpc_port}")
    try:
        yield cti_pb2_grpc.CtiStub(client)
    finally:
        client.close()
        service.stop()
        routing_channel.close()
        server.stop(0)


def test_state_changes_through_the_real_routing_service_reach_the_desktop(stub):
    md = auth(AGENT_TOKEN)
    feed = Feed(stub, "1001", AGENT_TOKEN)
    assert feed.wait("state_changed").state == ev.LOGGED_OUT
    assert stub.Login(cti_pb2.LoginRequest(agent_id="1001"), metadata=md).state == ev.NOT_READY
    assert stub.SetState(cti_pb2.SetStateRequest(agent_id="1001", state=ev.READY), metadata=md).state == ev.READY
    status = stub.SetState(cti_pb2.SetStateRequest(agent_id="1001", state=ev.NOT_READY, reason="break"),
                           metadata=md)
    assert (status.state, status.reason) == (ev.NOT_READY, "break")
    assert stub.Logout(cti_pb2.LogoutRequest(agent_id="1001"), metadata=md).state == ev.LOGGED_OUT
    feed.wait("state_changed", lambda s: s.state == ev.LOGGED_OUT and s.previous_state == ev.NOT_READY)
    changes = [(s.state, s.reason) for s in feed.of_kind("state_changed")]
    assert changes == [(ev.LOGGED_OUT, ""), (ev.NOT_READY, "login"), (ev.READY, ""), (ev.NOT_READY, "break"),
                       (ev.LOGGED_OUT, "")]
    feed.cancel()


def test_the_real_routing_services_errors_pass_through(stub):
    with pytest.raises(grpc.RpcError) as e:
        stub.Login(cti_pb2.LoginRequest(agent_id="nobody"), metadata=auth(SUPERVISOR_TOKEN))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "nobody" in e.value.details()
    assert dict(e.value.trailing_metadata()).get("hotline-error-id") == "not-found"
