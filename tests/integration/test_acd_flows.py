"""The ACD's queue features through the real interfaces: the simulator over
ESL, routing's admin API over gRPC on loopback, events and CDRs through real
Kafka into ClickHouse. Overflow to voicemail, callback in queue (with the
position/EWT announcement heard while waiting), ring-all, routing rules, and
a routing restart that rebuilds agents and queued calls from Kafka."""
from __future__ import annotations

import time

import pytest

from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2 as pb
from hotline.proto.routing.v1 import routing_pb2_grpc

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.freeswitch]


def stub(platform) -> routing_pb2_grpc.RoutingStub:
    return routing_pb2_grpc.RoutingStub(platform.routing_channel)


def phone(platform, ext: str, **script):
    from hotline.simulator import PhoneScript

    platform.switch.register_phone(ext, PhoneScript(**{"answer_after_s": 0.3, "hangup_after_s": None, **script}))


def agent(platform, ext: str, skills: dict[str, int], *, ready: bool = True, **script) -> None:
    phone(platform, ext, **script)
    routing = stub(platform)
    routing.UpsertAgent(pb.Agent(agent_id=f"agent-{ext}", name=f"Agent {ext}", contact=f"user/{ext}@default",
                                 skills=skills))
    if ready:
        routing.SetAgentState(pb.SetAgentStateRequest(agent_id=f"agent-{ext}", state=ev.READY))


def cdr(platform, call_uuid: str, columns: str) -> tuple:
    rows = wait_for(lambda: platform.store.query(
        f"SELECT {columns} FROM cdrs FINAL WHERE call_uuid = '{call_uuid}'"), timeout=30, what=f"CDR {call_uuid}")
    return rows[0]


def queue_event_types(platform, call_uuid: str) -> list[str]:
    rows = platform.store.query(
        f"SELECT type FROM queue_events FINAL WHERE call_uuid = '{call_uuid}' ORDER BY timestamp_us")
    return [r[0] for r in rows]


def test_a_full_queue_overflows_to_voicemail(platform):
    from hotline.simulator import CallerScript

    platform.switch.add_extension("hotline-voicemail-1000", [("answer", ""), ("playback", "silence_stream://500"),
                                                              ("hangup", "NORMAL_CLEARING")])
    stub(platform).UpsertQueue(pb.Queue(name="support", skill="support", wrap_up_s=1, max_wait_s=2,
                                        overflow="voicemail:1000"))
    call = platform.switch.place_call(ani="+15550101", dnis="5000", script=CallerScript(digits="2"))
    assert call.wait_hangup(30), "voicemail hangs up after the message"
    disposition, destination, queue = cdr(platform, call.uuid, "disposition, overflow_destination, queue")
    assert (disposition, destination, queue) == ("DISPOSITION_OVERFLOWED", "voicemail:1000", "support")
    types = wait_for(lambda: (t := queue_event_types(platform, call.uuid)) and "QUEUE_OVERFLOWED" in t and t,
                     timeout=20, what="the overflow event")
    assert types[:2] == ["QUEUE_ENQUEUED", "QUEUE_OVERFLOWED"]


def test_a_caller_leaves_a_number_and_is_called_back_when_an_agent_frees_up(platform):
    from hotline.simulator import CallerScript

    routing = stub(platform)
    routing.UpsertQueue(pb.Queue(name="support", skill="support", wrap_up_s=1, announce_every_s=15,
                                 callback_key="1", callback_dial="sofia/gateway/pstn/{number}"))
    phone(platform, "5551234", answer_after_s=0.3, hangup_after_s=2.0)     # the customer's own phone
    agent(platform, "1001", {"support": 5}, ready=False)

    call = platform.switch.place_call(ani="+15550102", dnis="5000", script=CallerScript(digits="2"))
    wait_for(lambda: routing.ListCalls(pb.ListCallsRequest(queue="support")).calls, what="the call in queue")
    # Nobody is ready: after 15 s the caller hears their position and expected wait.
    wait_for(lambda: "QUEUE_ANNOUNCED" in queue_event_types(platform, call.uuid), timeout=30,
             what="the position announcement")
    call.press("1")
    time.sleep(0.3)
    call.press("5551234#")
    assert call.wait_hangup(30), "routing confirms the number and hangs up"
    (waiting,) = wait_for(lambda: [c for c in routing.ListCalls(pb.ListCallsRequest(queue="support")).calls
                                   if c.state == "callback"], what="the callback waiting")
    assert (waiting.call_uuid, waiting.callback_number, waiting.position) == (call.uuid, "5551234", 1)

    routing.SetAgentState(pb.SetAgentStateRequest(agent_id="agent-1001", state=ev.READY))
    callback_uuid = wait_for(lambda: platform.store.query(
        f"SELECT call_uuid FROM cdrs FINAL WHERE callback_for = '{call.uuid}'"), timeout=40,
        what="the callback's CDR")[0][0]
    caller = cdr(platform, call.uuid, "disposition, callback_number")
    assert caller == ("DISPOSITION_CALLBACK", "5551234")
    callback = cdr(platform, callback_uuid, "disposition, agent_id, queue, callback_number")
    assert callback == ("DISPOSITION_ANSWERED", "agent-1001", "support", "5551234")
    # The queue events are ingested in their own batches: the last may land after the CDR.
    wanted = {"QUEUE_CALLBACK_REQUESTED", "QUEUE_CALLBACK_DIALING", "QUEUE_CONNECTED", "QUEUE_CALL_ENDED"}
    wait_for(lambda: wanted <= set(queue_event_types(platform, call.uuid)), what="the callback's queue events")


def test_ring_all_connects_whoever_answers(platform):
    from hotline.simulator import CallerScript

    stub(platform).UpsertQueue(pb.Queue(name="support", skill="support", strategy=pb.RING_ALL, wrap_up_s=1,
                                        ring_timeout_s=5))
    agent(platform, "1011", {"support": 5}, answers=False)
    agent(platform, "1012", {"support": 5})
    call = platform.switch.place_call(ani="+15550103", dnis="5000", script=CallerScript(digits="2", talk_s=1.0))
    assert call.wait_hangup(40)
    assert cdr(platform, call.uuid, "disposition, agent_id, offers") == ("DISPOSITION_ANSWERED", "agent-1012", 1)
    other = stub(platform).GetAgent(pb.GetAgentRequest(agent_id="agent-1011"))
    # Both phones rang at once; 1012 answered, so FreeSWITCH cancelled 1011's leg
    # with LOSE_RACE: no miss.
    assert other.state == ev.READY and other.missed_offers == 0


def test_routing_rules_reject_the_blacklist_and_raise_vips(platform):
    from hotline.simulator import CallerScript

    routing = stub(platform)
    routing.UpsertNumberList(pb.NumberList(name="blacklist", numbers=["+1 555 000 0666"]))
    routing.UpsertNumberList(pb.NumberList(name="vip", numbers=["15550104"]))
    routing.SetRoutingRules(pb.RoutingRules(rules=[
        pb.RoutingRule(name="blocked", ani_list="blacklist", reject=True),
        pb.RoutingRule(name="vip", ani_list="vip", priority=50)]))
    blocked = platform.switch.place_call(ani="+15550000666", dnis="5000", script=CallerScript(digits="2"))
    assert blocked.wait_hangup(30)
    assert blocked.hangup_cause == "CALL_REJECTED"
    assert cdr(platform, blocked.uuid, "disposition") == ("DISPOSITION_REJECTED",)

    plain = platform.switch.place_call(ani="+15550105", dnis="5000", script=CallerScript(digits="2"))
    wait_for(lambda: routing.ListCalls(pb.ListCallsRequest(queue="support")).calls, what="the first caller queued")
    vip = platform.switch.place_call(ani="+15550104", dnis="5000", script=CallerScript(digits="2"))
    calls = wait_for(lambda: (c := routing.ListCalls(pb.ListCallsRequest(queue="support")).calls) and len(c) == 2
                     and c, what="both callers queued")
    first = min(calls, key=lambda c: c.position)
    assert (first.call_uuid, first.priority) == (vip.uuid, 50)
    plain.hangup()
    vip.hangup()


def test_a_restarted_routing_service_rebuilds_agents_and_queued_calls(platform):
    from hotline.routing.app import RoutingService
    from hotline.simulator import CallerScript

    routing = stub(platform)
    agent(platform, "1021", {"support": 5}, ready=False)
    agent(platform, "1022", {"sales": 5}, ready=True)
    call = platform.switch.place_call(ani="+15550106", dnis="5000", script=CallerScript(digits="2", talk_s=1.0))
    wait_for(lambda: routing.ListCalls(pb.ListCallsRequest(queue="support")).calls, what="the call in queue")
    platform.routing.stop()

    restarted = RoutingService(platform.settings, platform.buses[1])
    restarted.start()
    try:
        acd = restarted.core.acd
        assert acd.agents["agent-1022"].state == ev.READY, "agent states come back from agent-events"
        assert acd.agents["agent-1021"].state == ev.LOGGED_OUT
        assert call.uuid in acd.calls and acd.calls[call.uuid].queue == "support"
        wait_for(lambda: restarted.switches.all_connected, what="the restarted routing's ESL connection")
        acd.set_agent_state("agent-1021", ev.READY)
        restarted.core.publish_outbox()
        assert call.wait_bridged(30), "the restored call is offered and bridged"
        assert call.wait_hangup(30)
        wait_for(lambda: call.uuid not in acd.calls, what="the call to end in the ACD")
    finally:
        restarted.stop()
