"""Two FreeSWITCH nodes at once (HOTLINE_ESL_NODES): calls arrive on either,
the IVR learns the node from the dialplan's ``hotline_node``, routing rings
the agent and bridges on the caller's node, and one node restarting leaves
the other node's calls alone. The simulators stand for two nodes; the agent
phone registers on both (as behind a shared SIP registrar)."""
from __future__ import annotations

import secrets

import pytest

from hotline.common import settings as settings_mod
from hotline.common import topics
from hotline.common.grpc import channel
from hotline.freeswitch import metrics as esl_metrics
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.freeswitch]


@pytest.fixture
def two_nodes(kafka_bus, kafka_bootstrap, topic_prefix):
    from hotline.common.kafka import KafkaBus
    from hotline.ivr.app import IvrService
    from hotline.routing.app import RoutingService
    from hotline.simulator import PhoneScript, Switch

    password = secrets.token_hex(8)
    switches = {name: Switch(password=password, host="127.0.0.1", esl_port=0, hostname=name, media_scale=0.1)
                for name in ("fs1", "fs2")}
    for sw in switches.values():
        sw.start()
        sw.register_phone("1001", PhoneScript(answer_after_s=0.2, hangup_after_s=None))
    env = {
        "HOTLINE_ESL_PASSWORD": password,
        "HOTLINE_ESL_NODES": ",".join(f"{n}=127.0.0.1:{sw.esl_port}" for n, sw in switches.items()),
        "HOTLINE_ESL_RECONNECT_MIN_S": "0.2",
        "HOTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HOTLINE_KAFKA_TOPIC_PREFIX": topic_prefix,
        "HOTLINE_GRPC_ROUTING": "127.0.0.1:0",
        "HOTLINE_GRPC_IVR": "127.0.0.1:0",
        "HOTLINE_IVR_SOCKET_PORT": "0",
        "HOTLINE_IVR_MENU_TIMEOUT_MS": "1500",
        "HOTLINE_ROUTING_QUEUES": "support:support:20:0",
        "HOTLINE_ROUTING_TICK_S": "0.05",
    }
    settings = settings_mod.load(env)
    routing_bus = KafkaBus(settings.kafka)
    routing = RoutingService(settings, routing_bus)
    ivr = None
    try:
        routing.start()
        ivr = IvrService(settings, channel(f"127.0.0.1:{routing.grpc_port}"), bus=routing_bus)
        ivr.start()
        for name, sw in switches.items():
            sw.add_extension("5000", [("set", f"hotline_node={name}"),
                                      ("socket", f"127.0.0.1:{ivr.socket_port} async full")])
        wait_for(lambda: routing.switches.all_connected, what="both nodes connected")
        stub = routing_pb2_grpc.RoutingStub(channel(f"127.0.0.1:{routing.grpc_port}"))
        stub.UpsertAgent(routing_pb2.Agent(agent_id="a1", name="A1", contact="user/1001@default",
                                           skills={"support": 5}))
        stub.SetAgentState(routing_pb2.SetAgentStateRequest(agent_id="a1", state=ev.READY))
        cdrs: list[ev.Cdr] = []
        kafka_bus.consume("multinode-test", [topics.CDRS], lambda batch: cdrs.extend(r.value for r in batch))
        yield switches, routing, stub, cdrs
    finally:
        if ivr is not None:
            ivr.stop()
        routing.stop()
        routing_bus.close()
        for sw in switches.values():
            sw.stop()


def _agent_legs(sw) -> list:
    return [c for c in sw.channels() if c.variables.get("hotline_role") == "agent"]


def test_calls_on_either_node_are_served_on_their_node(two_nodes):
    from hotline.simulator import CallerScript

    switches, routing, stub, cdrs = two_nodes
    for name, other in (("fs2", "fs1"), ("fs1", "fs2")):
        call = switches[name].place_call(ani=f"+1555{name}", dnis="5000",
                                         script=CallerScript(digits="2", digit_delay_s=0.1, talk_s=1.0))
        assert call.wait_bridged(30), f"the call on {name} should be bridged"
        assert _agent_legs(switches[name]), f"the agent leg is originated on {name}, the caller's node"
        assert not _agent_legs(switches[other])
        assert call.wait_hangup(30)
        cdr = wait_for(lambda: next((c for c in cdrs if c.call_uuid == call.uuid), None), what="the CDR")
        assert cdr.node_id == name and cdr.disposition == ev.DISPOSITION_ANSWERED and cdr.agent_id == "a1"
        wait_for(lambda: stub.GetAgent(routing_pb2.GetAgentRequest(agent_id="a1")).state == ev.READY,
                 what="the agent free again")


def test_one_node_restarting_leaves_the_other_nodes_calls_alone(two_nodes):
    from hotline.simulator import CallerScript

    switches, routing, stub, cdrs = two_nodes
    call = switches["fs2"].place_call(ani="+15550002", dnis="5000",
                                      script=CallerScript(digits="2", digit_delay_s=0.1, talk_s=6.0))
    assert call.wait_bridged(30)
    wait_for(lambda: stub.GetAgent(routing_pb2.GetAgentRequest(agent_id="a1")).state == ev.ON_CALL,
             what="the agent on the call")
    connects = esl_metrics.CONNECTS.labels("fs1")._value.get()
    switches["fs1"].restart()
    wait_for(lambda: esl_metrics.CONNECTS.labels("fs1")._value.get() > connects, what="fs1 reconnected")
    assert routing.switches.nodes["fs2"].connected
    wait_for(lambda: routing.switches.all_connected, what="fs1 back")
    # The fs1 reconcile did not touch the fs2 call: the agent is still on it.
    assert stub.GetAgent(routing_pb2.GetAgentRequest(agent_id="a1")).state == ev.ON_CALL
    assert call.bridged and not call.hungup
    assert call.wait_hangup(30)
    cdr = wait_for(lambda: next((c for c in cdrs if c.call_uuid == call.uuid), None), what="the CDR")
    assert cdr.disposition == ev.DISPOSITION_ANSWERED and cdr.hangup_cause == "NORMAL_CLEARING"


def test_enqueue_naming_an_unknown_node_is_refused(two_nodes):
    import grpc

    _, _, stub, _ = two_nodes
    with pytest.raises(grpc.RpcError) as err:
        stub.Enqueue(routing_pb2.EnqueueRequest(call_uuid="c-1", queue="support", node_id="fs9"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "node_id" in err.value.details() and "fs9" in err.value.details()
