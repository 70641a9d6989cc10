"""One call end to end through the separate services: the simulator hands
the call to the IVR over the outbound socket, the menu queues it, routing
rings the longest-idle agent and bridges, recording records it, the CDR and
events go through Kafka into ClickHouse, and the reporting API counts it.
The agent's desktop (CTI) gets the offer with the caller's customer record."""
from __future__ import annotations

import json
import os
import time
import wave

import gevent
import grpc
import pytest

from hotline.proto.cti.v1 import cti_pb2, cti_pb2_grpc
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc

from .conftest import AGENT_TOKEN, SUPERVISOR_TOKEN, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.freeswitch]


def auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def add_agent(platform, ext: str, skills: dict[str, int], *, answers: bool = True, answer_after_s: float = 0.3):
    from hotline.simulator import PhoneScript

    platform.switch.register_phone(ext, PhoneScript(answer_after_s=answer_after_s, answers=answers,
                                                    hangup_after_s=None))
    routing = routing_pb2_grpc.RoutingStub(platform.routing_channel)
    routing.UpsertAgent(routing_pb2.Agent(agent_id=f"agent-{ext}", name=f"Agent {ext}",
                                          contact=f"user/{ext}@default", skills=skills))
    return routing


def report(platform, queue: str, since_us: int) -> reporting_pb2.IntervalReport:
    """Today's and tomorrow's (a call near midnight UTC) totals: reports cover whole 15-minute buckets."""
    stub = reporting_pb2_grpc.ReportingStub(platform.channel_to(platform.reporting))
    day_us = 86_400_000_000
    today = since_us - since_us % day_us
    return stub.GetIntervalReport(reporting_pb2.IntervalReportRequest(
        queue=queue, from_us=today, to_us=today + 2 * day_us, interval_s=86400, service_level_threshold_s=20),
        timeout=10)


def test_a_call_goes_from_ivr_to_agent_and_into_the_reports(platform):
    from hotline.simulator import CallerScript

    since = int(time.time() * 1e6)
    platform.cti.customers.upsert(customer_id="C-42", name="Ada Lovelace", phone="+15550001",
                                  email="ada@example.com", company="Analytical Engines", notes="VIP")
    add_agent(platform, "1001", {"support": 5})

    cti = cti_pb2_grpc.CtiStub(platform.channel_to(platform.cti))
    status = cti.Login(cti_pb2.LoginRequest(agent_id="agent-1001", ready=True), metadata=auth(AGENT_TOKEN))
    assert status.state == ev.READY

    feed: list[cti_pb2.AgentEvent] = []
    stream = cti.StreamEvents(cti_pb2.StreamEventsRequest(agent_id="agent-1001"), metadata=auth(AGENT_TOKEN))
    reader = gevent.spawn(lambda: [feed.append(e) for e in stream])
    wait_for(lambda: feed, what="the first event on the agent's feed")

    call = platform.switch.place_call(ani="+15550001", dnis="5000", caller_name="Ada",
                                      script=CallerScript(digits="2", digit_delay_s=0.1, talk_s=2.0))
    assert call.wait_hangup(30), "the call should end after the caller's talk time"

    # Screen pop: the offered call carried the caller's customer record.
    offer = wait_for(lambda: next((e.call_offered for e in feed if e.HasField("call_offered")), None),
                     what="call_offered on the agent feed")
    assert offer.call_uuid == call.uuid and offer.queue == "support"
    assert offer.customer.known and offer.customer.name == "Ada Lovelace"
    wait_for(lambda: any(e.HasField("call_connected") for e in feed), what="call_connected")
    stream.cancel()
    reader.join(5)

    # Recording: a stereo WAV with its metadata next to it.
    path = wait_for(lambda: next((os.path.join(d, f) for d, _, fs in os.walk(platform.recordings_dir)
                                  for f in fs if f == f"{call.uuid}.wav.json"), None), what="recording sidecar")
    meta = json.loads(open(path).read())
    with wave.open(meta["path"], "rb") as w:
        assert w.getnchannels() == 2 and w.getnframes() > 0
    assert meta["call_uuid"] == call.uuid and meta["agent_id"] == "agent-1001" and meta["sha256"]

    # Reporting: the call counted as offered and answered within the service level.
    row = wait_for(lambda: (r := report(platform, "support", since).total).answered == 1 and r,
                   timeout=30, what="the answered call in the interval report")
    assert (row.offered, row.answered, row.abandoned) == (1, 1, 0)
    assert 0 < row.asa_s < 20
    assert row.aht_s >= 1.5          # ~2 s of talk plus 1 s of wrap-up
    assert row.service_level == 1.0

    cdr = wait_for(lambda: platform.store.query(
        f"SELECT disposition, agent_id, queue, menu_choice, recording_path, ivr_flow FROM cdrs "
        f"WHERE call_uuid = '{call.uuid}'"),
        what="the CDR row")
    disposition, agent_id, queue, menu_choice, recording_path, ivr_flow = cdr[0]
    assert (agent_id, queue, menu_choice, ivr_flow) == ("agent-1001", "support", "2", "main")
    assert recording_path.endswith(f"{call.uuid}.wav")


def test_a_caller_who_hangs_up_in_queue_is_counted_as_abandoned(platform):
    from hotline.simulator import CallerScript

    since = int(time.time() * 1e6)
    # Nobody serves sales: the caller waits, hears hold music, and gives up.
    call = platform.switch.place_call(ani="+15550002", dnis="5000", caller_name="Bob",
                                      script=CallerScript(digits="1", digit_delay_s=0.1, patience_s=3.0))
    assert call.wait_hangup(30)
    row = wait_for(lambda: (r := report(platform, "sales", since).total).abandoned == 1 and r,
                   timeout=30, what="the abandoned call in the report")
    assert (row.offered, row.answered, row.abandoned) == (1, 0, 1)
    assert row.service_level == 0.0


def test_an_agent_who_does_not_answer_is_skipped_and_the_next_agent_gets_the_call(platform):
    from hotline.simulator import CallerScript

    since = int(time.time() * 1e6)
    routing = add_agent(platform, "1002", {"support": 5}, answers=False)
    add_agent(platform, "1003", {"support": 5})
    # 1002 becomes ready first, so it is the longest idle and is offered the call first.
    routing.SetAgentState(routing_pb2.SetAgentStateRequest(agent_id="agent-1002", state=ev.READY))
    time.sleep(0.05)
    routing.SetAgentState(routing_pb2.SetAgentStateRequest(agent_id="agent-1003", state=ev.READY))

    call = platform.switch.place_call(ani="+15550003", dnis="5000", caller_name="Cy",
                                      script=CallerScript(digits="2", digit_delay_s=0.1, talk_s=1.0))
    assert call.wait_hangup(40)
    cdr = wait_for(lambda: platform.store.query(
        f"SELECT agent_id, offers, disposition FROM cdrs WHERE call_uuid = '{call.uuid}'"),
        timeout=30, what="the CDR row")
    assert cdr[0][0] == "agent-1003" and cdr[0][1] == 2
    row = wait_for(lambda: (r := report(platform, "support", since).total).answered == 1 and r, timeout=30,
                   what="the answered call")
    assert row.offered == 1
    status = routing.GetAgent(routing_pb2.GetAgentRequest(agent_id="agent-1002"))
    assert status.state == ev.READY, "one missed offer leaves the agent ready"


def test_invalid_grpc_requests_name_the_field(platform):
    routing = routing_pb2_grpc.RoutingStub(platform.routing_channel)
    with pytest.raises(grpc.RpcError) as e:
        routing.Enqueue(routing_pb2.EnqueueRequest(queue="support"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "call_uuid" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        routing.Enqueue(routing_pb2.EnqueueRequest(call_uuid="x", queue="nope"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and e.value.details().startswith("queue")
    with pytest.raises(grpc.RpcError) as e:
        routing.UpsertAgent(routing_pb2.Agent(agent_id="a", contact="user/1@x", skills={"support": 42}))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "skills[support]" in e.value.details()
    cti = cti_pb2_grpc.CtiStub(platform.channel_to(platform.cti))
    with pytest.raises(grpc.RpcError) as e:
        cti.SetState(cti_pb2.SetStateRequest(agent_id="agent-1001", state=ev.NOT_READY),
                     metadata=auth(SUPERVISOR_TOKEN))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in e.value.details()
