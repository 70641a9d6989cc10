"""Faults on the conversation with FreeSWITCH, end to end: the simulator over
TCP, the services on real Kafka and ClickHouse. After each fault no call or
agent may be left stuck, no CDR may be lost, and the next call must work."""
from __future__ import annotations

import logging
import time

import pytest

from hotline.ivr import metrics as ivr_metrics
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc

from .conftest import wait_for
from .test_call_flow import add_agent

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.freeswitch]


def agent_state(platform, agent_id: str = "agent-1001") -> routing_pb2.AgentStatus:
    return routing_pb2_grpc.RoutingStub(platform.routing_channel).GetAgent(
        routing_pb2.GetAgentRequest(agent_id=agent_id), timeout=5)


def ready(platform, agent_id: str = "agent-1001") -> None:
    routing_pb2_grpc.RoutingStub(platform.routing_channel).SetAgentState(
        routing_pb2.SetAgentStateRequest(agent_id=agent_id, state=ev.READY), timeout=5)


def waiting(platform, queue: str = "support") -> int:
    return routing_pb2_grpc.RoutingStub(platform.routing_channel).GetQueueStatus(
        routing_pb2.GetQueueStatusRequest(queue=queue), timeout=5).calls_waiting


def cdr_row(platform, call_uuid: str):
    rows = platform.store.query(
        "SELECT disposition, hangup_cause, agent_id, queue, offers FROM cdrs FINAL "
        f"WHERE call_uuid = '{call_uuid}'")
    return rows[0] if rows else None


def disposition(name: str) -> str:
    ev.Disposition.Value(name)                  # a name the proto knows
    return name                                 # reporting stores enums by name


def call_ends_answered(platform, ani: str, *, talk_s: float = 1.0) -> None:
    """The platform still works: a new call is answered by an agent and counted."""
    from hotline.simulator import CallerScript

    call = platform.switch.place_call(ani=ani, dnis="5000", script=CallerScript(digits="2", digit_delay_s=0.1,
                                                                                   talk_s=talk_s))
    assert call.wait_bridged(30), "the next call should reach the agent"
    assert call.wait_hangup(30)
    row = wait_for(lambda: cdr_row(platform, call.uuid), timeout=30, what="the next call's CDR")
    assert row[0] == disposition("DISPOSITION_ANSWERED")


def test_switch_restart_mid_call_leaves_nothing_stuck_and_loses_no_cdr(platform):
    from hotline.simulator import CallerScript

    add_agent(platform, "1001", {"support": 5})
    ready(platform)
    talking = platform.switch.place_call(ani="+15550101", dnis="5000",
                                         script=CallerScript(digits="2", digit_delay_s=0.1, talk_s=120))
    assert talking.wait_bridged(30)
    queued = platform.switch.place_call(ani="+15550102", dnis="5000",
                                        script=CallerScript(digits="2", digit_delay_s=0.1))
    wait_for(lambda: waiting(platform) == 1, what="the second caller waiting in queue")
    in_ivr = platform.switch.place_call(ani="+15550103", dnis="5000", script=CallerScript(digits=""))
    wait_for(lambda: in_ivr.answered, what="the third caller in the IVR")
    assert agent_state(platform).state == ev.ON_CALL

    platform.switch.restart()                     # every channel and connection gone, no hang-up events

    # Reconciled after the reconnect: the agent is free again, nobody waits.
    wait_for(lambda: agent_state(platform).state == ev.READY, timeout=30, what="the agent ready again")
    wait_for(lambda: waiting(platform) == 0, what="the queue empty")
    wait_for(lambda: ivr_metrics.SESSIONS_ACTIVE._value.get() == 0, what="no IVR session left")
    # Every call has its CDR, with the cause that says what happened.
    answered = wait_for(lambda: cdr_row(platform, talking.uuid), timeout=30, what="the talking call's CDR")
    assert answered[:3] == (disposition("DISPOSITION_ANSWERED"), "LOST_BY_SWITCH", "agent-1001")
    abandoned = wait_for(lambda: cdr_row(platform, queued.uuid), timeout=30, what="the queued call's CDR")
    assert abandoned[:2] == (disposition("DISPOSITION_ABANDONED"), "LOST_BY_SWITCH")
    in_menu = wait_for(lambda: cdr_row(platform, in_ivr.uuid), timeout=30, what="the IVR call's CDR")
    assert in_menu[:2] == (disposition("DISPOSITION_ENDED_IN_IVR"), "LOST_BY_SWITCH")

    call_ends_answered(platform, "+15550104")


def test_connection_drop_between_an_event_and_its_reply(platform, caplog):
    """The agent's leg is created (its events are sent) but the connection
    drops before the originate's BACKGROUND_JOB: after the reconnect the orphan
    leg is hung up, the agent is not blamed, and the caller is offered again."""
    from hotline.simulator import CallerScript

    add_agent(platform, "1001", {"support": 5}, answer_after_s=1.5)
    ready(platform)
    call = platform.switch.place_call(ani="+15550201", dnis="5000",
                                      script=CallerScript(digits="2", digit_delay_s=0.1, talk_s=1.0))
    first_leg = wait_for(lambda: next((c.uuid for c in platform.switch.channels()
                                       if c.variables.get("hotline_role") == "agent"), None),
                         what="the agent leg ringing")
    with caplog.at_level(logging.INFO, logger="hotline.routing.switch"):
        platform.switch.drop_connections("inbound")
        assert call.wait_bridged(30), "the caller should be offered again and bridged"
    assert any("settling it with the switch" in r.getMessage() for r in caplog.records), \
        "the originate's reply must have been lost, not answered"
    assert platform.switch.get_channel(first_leg) is None, "the first (orphan) agent leg must be gone"
    assert call.wait_hangup(30)
    row = wait_for(lambda: cdr_row(platform, call.uuid), timeout=30, what="the CDR")
    assert row[0] == disposition("DISPOSITION_ANSWERED") and row[2] == "agent-1001" and row[4] == 2
    status = agent_state(platform)
    assert status.state in (ev.WRAP_UP, ev.READY), "a lost connection is not the agent's missed offer"
    wait_for(lambda: not platform.switch.live_channels(), what="no channel left on the switch")


def test_caller_hangs_up_while_the_ivr_plays(platform):
    import dataclasses

    from hotline.simulator import CallerScript

    # A greeting long enough that the hang-up surely lands inside it (20 s, 4 s at media scale 0.2).
    platform.ivr.menu = dataclasses.replace(platform.ivr.menu, greeting="silence_stream://20000")
    call = platform.switch.place_call(ani="+15550301", dnis="5000", script=CallerScript(digits=""))
    wait_for(lambda: (ch := platform.switch.get_channel(call.uuid)) is not None
             and ch.info().application == "playback", interval=0.02, what="the greeting playing")
    call.hangup()

    wait_for(lambda: ivr_metrics.SESSIONS_ACTIVE._value.get() == 0, what="the IVR session over")
    row = wait_for(lambda: cdr_row(platform, call.uuid), timeout=30, what="the CDR")
    assert row[:2] == (disposition("DISPOSITION_ENDED_IN_IVR"), "NORMAL_CLEARING")
    assert waiting(platform) == 0
    # The IVR keeps taking calls.
    add_agent(platform, "1001", {"support": 5})
    ready(platform)
    call_ends_answered(platform, "+15550302")


def test_garbage_on_the_event_socket_is_logged_closed_and_reconnected(platform, caplog):
    add_agent(platform, "1001", {"support": 5})
    ready(platform)
    with caplog.at_level(logging.ERROR, logger="hotline.freeswitch.protocol"):
        platform.switch.inject_garbage("inbound", data=b"\x00\xff not ESL at all\nContent-Length: x\n\n")
        wait_for(lambda: any("not ESL" in r.getMessage() for r in caplog.records), what="the protocol error logged")
    wait_for(lambda: platform.routing.switches.all_connected and platform.recording.switches.all_connected,
             what="routing and recording connected again")
    call_ends_answered(platform, "+15550401")
