"""The CTI API over real gRPC on loopback, on Kafka and on the in-process bus,
in front of the routing contract double."""
from __future__ import annotations

import time

import gevent
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import REGISTRY

from cti_support import (AGENT_TOKEN, INTEGRATION_TOKEN, OTHER_AGENT_TOKEN, SUPERVISOR_TOKEN, Feed, auth,
                      cti_settings, wait_for)
from hotline.common import topics
from hotline.common.grpc import channel
from hotline.proto.cti.v1 import cti_pb2, cti_pb2_grpc
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2


def now_us() -> int:
    return int(time.time() * 1_000_000)


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        call(*args, **kwargs)
    return e.value


def error_id(exc: grpc.RpcError) -> str | None:
    return dict(exc.trailing_metadata() or ()).get("hotline-error-id")


def queue_event(type_, call_uuid, *, agent_id="1001", ani="+15551234567", timestamp_us=None, **kw):
    return ev.QueueEvent(event_id=f"{call_uuid}:{type_}:{timestamp_us}", call_uuid=call_uuid, queue="support",
                         type=type_, agent_id=agent_id, ani=ani,
                         timestamp_us=now_us() if timestamp_us is None else timestamp_us, **kw)


def publish(cti, topic, key, message):
    cti.bus.publish(topic, key, message)
    cti.bus.flush()


# -- agent state -------------------------------------------------------------
def test_login_ready_not_ready_with_reason_and_logout(cti):
    md = auth(AGENT_TOKEN)
    status = cti.stub.Login(cti_pb2.LoginRequest(agent_id="1001"), metadata=md)
    assert status.state == ev.NOT_READY and status.reason == "login" and status.agent.agent_id == "1001"
    status = cti.stub.SetState(cti_pb2.SetStateRequest(agent_id="1001", state=ev.READY), metadata=md)
    assert status.state == ev.READY and status.reason == ""
    status = cti.stub.SetState(cti_pb2.SetStateRequest(agent_id="1001", state=ev.NOT_READY, reason="break"),
                               metadata=md)
    assert (status.state, status.reason) == (ev.NOT_READY, "break")
    assert cti.stub.GetAgent(routing_pb2.GetAgentRequest(agent_id="1001"), metadata=md).reason == "break"
    assert cti.stub.Logout(cti_pb2.LogoutRequest(agent_id="1001"), metadata=md).state == ev.LOGGED_OUT
    assert cti.stub.Login(cti_pb2.LoginRequest(agent_id="1001", ready=True), metadata=md).state == ev.READY
    assert cti.routing.agents["1001"].state == ev.READY


def test_not_ready_without_a_reason_is_invalid_and_names_the_field(cti):
    md = auth(AGENT_TOKEN)
    e = rpc_error(cti.stub.SetState, cti_pb2.SetStateRequest(agent_id="1001", state=ev.NOT_READY, reason="  "),
                  metadata=md)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and e.details().startswith("reason")
    assert error_id(e) == "invalid-argument"
    e = rpc_error(cti.stub.SetState, cti_pb2.SetStateRequest(state=ev.READY), metadata=auth(SUPERVISOR_TOKEN))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and e.details().startswith("agent_id")
    for state in (ev.LOGGED_OUT, ev.ON_CALL, ev.AGENT_STATE_UNSPECIFIED):
        e = rpc_error(cti.stub.SetState, cti_pb2.SetStateRequest(agent_id="1001", state=state), metadata=md)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and e.details().startswith("state")
    assert not [r for r in cti.routing.requests if isinstance(r, routing_pb2.SetAgentStateRequest)]


# -- authentication and roles ------------------------------------------------
def test_calls_without_a_valid_token_are_unauthenticated(cti):
    request = cti_pb2.LoginRequest(agent_id="1001")
    for metadata in ((), auth("not-a-token"), (("authorization", AGENT_TOKEN),)):
        e = rpc_error(cti.stub.Login, request, metadata=metadata)
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED and error_id(e) == "unauthenticated"
        assert "not-a-token" not in e.details()
    e = rpc_error(cti.stub.LookupCustomer, cti_pb2.LookupCustomerRequest(phone="+15551234567"))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    # The streaming call too: the error arrives as the stream's status.
    stream = cti.stub.StreamEvents(cti_pb2.StreamEventsRequest(agent_id="1001"), metadata=auth("nope"))
    e = rpc_error(lambda: list(stream))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    assert cti.service.feed.subscriber_count() == 0
    assert not cti.routing.requests


def test_health_and_reflection_need_no_token(cti):
    health = health_pb2_grpc.HealthStub(cti.channel)
    wait_for(lambda: health.Check(health_pb2.HealthCheckRequest(service="hotline.proto.cti.v1.Cti")).status
             == health_pb2.HealthCheckResponse.SERVING, what="SERVING")
    reflection = reflection_pb2_grpc.ServerReflectionStub(cti.channel)
    answers = list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answers[0].list_services_response.service}
    assert "hotline.proto.cti.v1.Cti" in names


def test_an_agent_token_cannot_act_for_another_agent(cti):
    md = auth(AGENT_TOKEN)
    for call, request in ((cti.stub.Login, cti_pb2.LoginRequest(agent_id="1002")),
                          (cti.stub.Logout, cti_pb2.LogoutRequest(agent_id="1002")),
                          (cti.stub.SetState, cti_pb2.SetStateRequest(agent_id="1002", state=ev.READY)),
                          (cti.stub.GetAgent, routing_pb2.GetAgentRequest(agent_id="1002"))):
        e = rpc_error(call, request, metadata=md)
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED and error_id(e) == "permission-denied"
    stream = cti.stub.StreamEvents(cti_pb2.StreamEventsRequest(agent_id="1002"), metadata=md)
    assert rpc_error(lambda: list(stream)).code() == grpc.StatusCode.PERMISSION_DENIED
    assert cti.service.feed.subscriber_count() == 0
    assert cti.routing.agents["1002"].state == ev.LOGGED_OUT and not cti.routing.requests


def test_supervisors_act_for_anyone_and_integrations_only_read(cti):
    status = cti.stub.Login(cti_pb2.LoginRequest(agent_id="1002", ready=True), metadata=auth(SUPERVISOR_TOKEN))
    assert status.state == ev.READY
    assert cti.stub.GetAgent(routing_pb2.GetAgentRequest(agent_id="1002"),
                             metadata=auth(INTEGRATION_TOKEN)).state == ev.READY
    e = rpc_error(cti.stub.Logout, cti_pb2.LogoutRequest(agent_id="1002"), metadata=auth(INTEGRATION_TOKEN))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    feed = cti.feed("1002", INTEGRATION_TOKEN)
    assert feed.events[0].state_changed.state == ev.READY
    feed.cancel()


# -- routing errors pass through ---------------------------------------------
def test_routing_errors_keep_their_status_and_message(cti):
    md = auth(SUPERVISOR_TOKEN)
    cti.routing.add_agent("1003")
    e = rpc_error(cti.stub.GetAgent, routing_pb2.GetAgentRequest(agent_id="9999"), metadata=md)
    assert e.code() == grpc.StatusCode.NOT_FOUND and "9999" in e.details() and error_id(e) == "not-found"
    cti.routing.fail_next(grpc.StatusCode.INVALID_ARGUMENT, "reason: 'x' is not a configured reason code")
    e = rpc_error(cti.stub.SetState, cti_pb2.SetStateRequest(agent_id="1003", state=ev.NOT_READY, reason="x"),
                  metadata=md)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.details() == "reason: 'x' is not a configured reason code"
    cti.routing.force_state("1003", ev.ON_CALL, call_uuid="c-1", queue="support")
    e = rpc_error(cti.stub.SetState, cti_pb2.SetStateRequest(agent_id="1003", state=ev.READY), metadata=md)
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "on a call" in e.details()


def test_routing_unavailable_is_unavailable(inprocess_bus, tmp_path, unique_name):
    from hotline.cti.app import CtiService

    dead = channel("127.0.0.1:1")
    service = CtiService(cti_settings(tmp_path), inprocess_bus, dead, instance_id=unique_name)
    service.servicer.routing_timeout_s = 2.0
    service.start()
    client = channel(f"127.0.0.1:{service.grpc_port}")
    try:
        stub = cti_pb2_grpc.CtiStub(client)
        e = rpc_error(stub.Login, cti_pb2.LoginRequest(agent_id="1001"), metadata=auth(AGENT_TOKEN))
        assert e.code() == grpc.StatusCode.UNAVAILABLE
        stream = stub.StreamEvents(cti_pb2.StreamEventsRequest(agent_id="1001"), metadata=auth(AGENT_TOKEN))
        assert rpc_error(lambda: list(stream)).code() == grpc.StatusCode.UNAVAILABLE
        wait_for(lambda: service.feed.subscriber_count() == 0, what="the failed stream's subscription to go")
    finally:
        client.close()
        service.stop()
        dead.close()


# -- customers -----------------------------------------------------------------
def test_lookup_customer(cti):
    cti.service.customers.upsert("+1 (555) 123-4567", name="Ada Lovelace", company="Analytical Engines",
                                 customer_id="C-42")
    found = cti.stub.LookupCustomer(cti_pb2.LookupCustomerRequest(phone="15551234567"),
                                    metadata=auth(INTEGRATION_TOKEN))
    assert found.known and found.customer_id == "C-42" and found.name == "Ada Lovelace"
    unknown = cti.stub.LookupCustomer(cti_pb2.LookupCustomerRequest(phone="+4930123456"), metadata=auth(AGENT_TOKEN))
    assert not unknown.known and unknown.phone == "+4930123456"
    for phone in ("", "call me"):
        e = rpc_error(cti.stub.LookupCustomer, cti_pb2.LookupCustomerRequest(phone=phone), metadata=auth(AGENT_TOKEN))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and e.details().startswith("phone")


# -- the event stream ----------------------------------------------------------
def test_stream_starts_with_the_current_state_then_follows_changes(cti):
    cti.stub.Login(cti_pb2.LoginRequest(agent_id="1001"), metadata=auth(AGENT_TOKEN))
    feed = cti.feed()
    first = feed.events[0]
    assert first.state_changed.agent_id == "1001" and first.state_changed.state == ev.NOT_READY
    assert first.state_changed.reason == "login" and first.timestamp_us > 0
    cti.stub.SetState(cti_pb2.SetStateRequest(agent_id="1001", state=ev.READY), metadata=auth(AGENT_TOKEN))
    change = feed.wait("state_changed", lambda s: s.state == ev.READY)
    assert change.previous_state == ev.NOT_READY
    # Another agent's changes do not reach this desktop.
    cti.stub.Login(cti_pb2.LoginRequest(agent_id="1002", ready=True), metadata=auth(OTHER_AGENT_TOKEN))
    cti.stub.SetState(cti_pb2.SetStateRequest(agent_id="1001", state=ev.NOT_READY, reason="lunch"),
                      metadata=auth(AGENT_TOKEN))
    feed.wait("state_changed", lambda s: s.reason == "lunch")
    assert {s.agent_id for s in feed.of_kind("state_changed")} == {"1001"}
    assert [s.state for s in feed.of_kind("state_changed")] == [ev.NOT_READY, ev.READY, ev.NOT_READY]
    feed.cancel()


def test_an_offered_call_pops_the_customer_record_with_past_calls(cti):
    store = cti.service.customers
    store.upsert("+1 555 123 4567", name="Ada Lovelace", email="ada@example.com", company="Analytical Engines",
                 notes="VIP", customer_id="C-42")
    # An earlier call of hers, as the routing service's CDR on the bus.
    earlier = ev.Cdr(event_id="cdr:old-call", call_uuid="old-call", ani="15551234567", queue="sales",
                     agent_id="1002", disposition=ev.DISPOSITION_ANSWERED, start_us=now_us() - 86_400_000_000)
    publish(cti, topics.CDRS, earlier.call_uuid, earlier)
    wait_for(lambda: store.lookup("+15551234567").history, what="the CDR in the customer's history")

    cti.stub.Login(cti_pb2.LoginRequest(agent_id="1001", ready=True), metadata=auth(AGENT_TOKEN))
    feed = cti.feed()
    cti.routing.force_state("1001", ev.RESERVED, call_uuid="call-1", queue="support")
    publish(cti, topics.QUEUE_EVENTS, "call-1", queue_event(ev.QUEUE_OFFERED, "call-1", ani="+15551234567",
                                                           dnis="5000", caller_name="ADA L", wait_us=12_000_000))
    offer = feed.wait("call_offered")
    assert (offer.call_uuid, offer.queue, offer.ani, offer.dnis, offer.caller_name, offer.wait_us) == \
        ("call-1", "support", "+15551234567", "5000", "ADA L", 12_000_000)
    customer = offer.customer
    assert customer.known and customer.customer_id == "C-42" and customer.name == "Ada Lovelace"
    assert (customer.email, customer.company, customer.notes) == ("ada@example.com", "Analytical Engines", "VIP")
    assert [(h.call_uuid, h.queue, h.agent_id, h.disposition) for h in customer.history] == \
        [("old-call", "sales", "1002", "answered")]
    feed.wait("state_changed", lambda s: s.state == ev.RESERVED and s.call_uuid == "call-1")

    publish(cti, topics.QUEUE_EVENTS, "call-1", queue_event(ev.QUEUE_CONNECTED, "call-1"))
    assert feed.wait("call_connected").call_uuid == "call-1"
    publish(cti, topics.QUEUE_EVENTS, "call-1", queue_event(ev.QUEUE_CALL_ENDED, "call-1"))
    assert feed.wait("call_ended").call_uuid == "call-1"
    # An unknown caller still pops, as unknown, with the number.
    publish(cti, topics.QUEUE_EVENTS, "call-2", queue_event(ev.QUEUE_OFFERED, "call-2", ani="anonymous"))
    unknown = feed.wait("call_offered", lambda o: o.call_uuid == "call-2").customer
    assert not unknown.known and unknown.phone == "anonymous"
    assert REGISTRY.get_sample_value("hotline_cti_screen_pops_total", {"known": "true"}) >= 1
    feed.cancel()


def test_stale_events_are_not_replayed_to_a_new_stream(cti):
    stale = now_us() - 3_600_000_000
    publish(cti, topics.QUEUE_EVENTS, "old", queue_event(ev.QUEUE_OFFERED, "old", timestamp_us=stale))
    feed = cti.feed()
    publish(cti, topics.QUEUE_EVENTS, "old2", queue_event(ev.QUEUE_OFFERED, "old2", timestamp_us=stale))
    publish(cti, topics.QUEUE_EVENTS, "new", queue_event(ev.QUEUE_OFFERED, "new"))
    feed.wait("call_offered", lambda o: o.call_uuid == "new")
    assert [o.call_uuid for o in feed.of_kind("call_offered")] == ["new"]
    feed.cancel()


def test_cancelling_the_stream_frees_its_subscription(cti):
    feeds = cti.service.feed
    active = REGISTRY.get_sample_value("hotline_cti_streams_active") or 0
    first, second = cti.feed(), cti.feed("1001", SUPERVISOR_TOKEN)
    assert feeds.subscriber_count("1001") == 2
    first.cancel()
    wait_for(lambda: feeds.subscriber_count("1001") == 1, what="the cancelled stream's subscription to go")
    assert first.error is not None and first.error.code() == grpc.StatusCode.CANCELLED
    # The other desktop is unaffected.
    cti.stub.Login(cti_pb2.LoginRequest(agent_id="1001", ready=True), metadata=auth(AGENT_TOKEN))
    second.wait("state_changed", lambda s: s.state == ev.READY)
    # A desktop that just disappears (its channel closes) is noticed too.
    other = channel(f"127.0.0.1:{cti.service.grpc_port}")
    Feed(cti_pb2_grpc.CtiStub(other), "1001", AGENT_TOKEN).wait("state_changed")
    assert feeds.subscriber_count("1001") == 2
    other.close()
    wait_for(lambda: feeds.subscriber_count("1001") == 1, what="the closed channel's subscription to go")
    second.cancel()
    wait_for(lambda: feeds.subscriber_count() == 0, what="every subscription to go")
    wait_for(lambda: (REGISTRY.get_sample_value("hotline_cti_streams_active") or 0) == active,
             what="the active-streams gauge to come back")
    assert REGISTRY.get_sample_value("hotline_cti_requests_total",
                                     {"method": "StreamEvents", "code": "CANCELLED"}) >= 1


def test_stopping_the_service_ends_open_streams(cti):
    feed = cti.feed()
    gevent.spawn(cti.service.feed.stop)
    feed.reader.join(10)
    assert feed.reader.dead and cti.service.feed.subscriber_count() == 0


def test_requests_are_counted_by_method_and_code(cti):
    def count(method, code):
        return REGISTRY.get_sample_value("hotline_cti_requests_total", {"method": method, "code": code}) or 0

    ok, invalid, denied = count("SetState", "OK"), count("SetState", "INVALID_ARGUMENT"), \
        count("SetState", "PERMISSION_DENIED")
    cti.stub.SetState(cti_pb2.SetStateRequest(agent_id="1001", state=ev.READY), metadata=auth(AGENT_TOKEN))
    rpc_error(cti.stub.SetState, cti_pb2.SetStateRequest(agent_id="1001", state=ev.NOT_READY),
              metadata=auth(AGENT_TOKEN))
    rpc_error(cti.stub.SetState, cti_pb2.SetStateRequest(agent_id="1002", state=ev.READY), metadata=auth(AGENT_TOKEN))
    assert (count("SetState", "OK"), count("SetState", "INVALID_ARGUMENT"),
            count("SetState", "PERMISSION_DENIED")) == (ok + 1, invalid + 1, denied + 1)
