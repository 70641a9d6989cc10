"""The one error interceptor: domain errors map to status codes, aborts pass through."""
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hotline.common import errors
from hotline.common.grpc import GrpcServer, channel
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc


class Servicer(routing_pb2_grpc.RoutingServicer):
    def GetAgent(self, request, context):
        if request.agent_id == "abort":
            context.abort(grpc.StatusCode.NOT_FOUND, "aborted on purpose")
        if request.agent_id == "boom":
            raise RuntimeError("a bug")
        if request.agent_id == "":
            raise errors.InvalidArgument("agent_id", "is required")
        raise errors.NotFound(f"agent {request.agent_id!r} does not exist")


@pytest.fixture
def stub():
    server = GrpcServer("127.0.0.1:0")
    server.add(routing_pb2_grpc.add_RoutingServicer_to_server, Servicer(), "hotline.proto.routing.v1.Routing")
    port = server.start()
    server.set_all_serving(True)
    ch = channel(f"127.0.0.1:{port}")
    yield routing_pb2_grpc.RoutingStub(ch), ch
    server.stop(0)


@pytest.mark.parametrize("agent_id,code,text", [
    ("", grpc.StatusCode.INVALID_ARGUMENT, "agent_id: is required"),
    ("ghost", grpc.StatusCode.NOT_FOUND, "agent 'ghost' does not exist"),
    ("abort", grpc.StatusCode.NOT_FOUND, "aborted on purpose"),
    ("boom", grpc.StatusCode.INTERNAL, "internal error in /hotline.proto.routing.v1.Routing/GetAgent"),
])
def test_errors_map_to_status_codes(stub, agent_id, code, text):
    with pytest.raises(grpc.RpcError) as e:
        stub[0].GetAgent(routing_pb2.GetAgentRequest(agent_id=agent_id), timeout=5)
    assert e.value.code() == code
    assert e.value.details() == text


def test_health_is_registered(stub):
    health = health_pb2_grpc.HealthStub(stub[1])
    reply = health.Check(health_pb2.HealthCheckRequest(service="hotline.proto.routing.v1.Routing"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
