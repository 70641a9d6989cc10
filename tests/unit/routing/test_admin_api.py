"""The routing admin API over real gRPC on loopback, with the in-process bus:
every RPC's happy path, validation errors that name the field, changes that
apply without a restart, one ConfigChange per change, and rebuilding the
configuration from the config-events topic."""
from __future__ import annotations

import datetime as dt
import json
import logging

import grpc
import pytest
from google.protobuf import json_format

from hotline.common import topics
from hotline.common.bus import InProcessBus
from hotline.common.grpc import GrpcServer, channel
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2 as pb
from hotline.proto.routing.v1 import routing_pb2_grpc
from hotline.routing import config, selection
from hotline.routing.acd import Acd
from hotline.routing.api import RoutingServicer
from hotline.routing.core import RoutingCore

from fake_clock import Clock

SERVICE = pb.DESCRIPTOR.services_by_name["Routing"].full_name
CUSTOM_STRATEGY = "test-admin-fewest-skills"
if CUSTOM_STRATEGY not in selection.strategies():
    selection.register_strategy(CUSTOM_STRATEGY, lambda a, q, r: (len(a.skills),), per_queue=False)

# Monday 3 June 2024, 10:00 UTC.
MONDAY_10H_US = int(dt.datetime(2024, 6, 3, 10, 0, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)


class Routing:
    """The servicer on a loopback port, its core and bus, and a stub."""

    def __init__(self) -> None:
        self.clock = Clock(MONDAY_10H_US)
        self.bus = InProcessBus()
        self.core = RoutingCore(self.bus, clock_us=self.clock)
        self.enqueued: list[tuple[str, str, str]] = []
        self.server = GrpcServer("127.0.0.1:0")
        self.server.add(routing_pb2_grpc.add_RoutingServicer_to_server,
                        RoutingServicer(self.core, lambda *a: self.enqueued.append(a)), SERVICE)
        port = self.server.start()
        self.channel = channel(f"127.0.0.1:{port}")
        self.stub = routing_pb2_grpc.RoutingStub(self.channel)
        self.mark = 0

    def changes(self) -> list[ev.ConfigChange]:
        """ConfigChanges published since the last call."""
        records = self.bus.messages(topics.CONFIG_EVENTS)
        out = [ev.ConfigChange.FromString(r.value) for r in records[self.mark:]]
        for record, change in zip(records[self.mark:], out):
            assert record.key == f"{change.kind}:{change.name}".encode()
        self.mark = len(records)
        return out

    def close(self) -> None:
        self.channel.close()
        self.server.stop(0)
        self.bus.close()


@pytest.fixture
def routing():
    r = Routing()
    yield r
    r.close()


@pytest.fixture
def stub(routing):
    return routing.stub


def as_dict(msg) -> dict:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


OFFICE = pb.Calendar(name="office", timezone="Europe/Paris",
                     hours=[pb.OpeningHours(day=d, open="08:00", close="18:00") for d in range(5)],
                     holidays=[pb.Holiday(start="2024-12-25", name="Christmas"),
                               pb.Holiday(start="2024-12-24", open="08:00", close="12:00", name="Eve")])


def seed(stub) -> None:
    """A small configuration: a calendar, two lists, three queues, two agents, rules."""
    stub.UpsertCalendar(OFFICE)
    stub.UpsertNumberList(pb.NumberList(name="vip", numbers=["+44 20 7946 0000"]))
    stub.UpsertNumberList(pb.NumberList(name="blocked", numbers=["15550000666"]))
    stub.UpsertQueue(pb.Queue(name="support", skill="support"))
    stub.UpsertQueue(pb.Queue(name="vip", skill="support", strategy=pb.TOP_DOWN,
                              requirements=[pb.SkillRequirement(skill="support", min_level=7)]))
    stub.UpsertQueue(pb.Queue(name="sales", skill="sales", calendar="office", closed_destination="voicemail:2000",
                              max_wait_s=300, overflow="queue:support"))
    stub.UpsertAgent(pb.Agent(agent_id="a1", name="Ada", contact="user/1001@default",
                              skills={"support": 8, "sales": 3}, tiers={"vip": 1}))
    stub.UpsertAgent(pb.Agent(agent_id="a2", name="Bo", contact="user/1002@default", skills={"support": 4}))


# -- happy paths -------------------------------------------------------------------


def test_upsert_queue_fills_defaults_and_lists_it(stub):
    reply = stub.UpsertQueue(pb.Queue(name="support", skill="support"))
    assert reply == pb.Queue(name="support", skill="support", strategy=pb.LONGEST_IDLE, service_level_threshold_s=20,
                             hold_music="local_stream://moh", ring_timeout_s=15, callback_attempts=3,
                             callback_retry_s=120, announcement=reply.announcement)
    assert "{position}" in reply.announcement and "{minutes}" in reply.announcement
    assert list(stub.ListQueues(pb.ListQueuesRequest()).queues) == [reply]


def test_upsert_queue_with_every_field_round_trips(stub):
    stub.UpsertCalendar(OFFICE)
    stub.UpsertQueue(pb.Queue(name="support", skill="support"))
    full = pb.Queue(
        name="sales", skill="sales", strategy=pb.ROUND_ROBIN, service_level_threshold_s=30, wrap_up_s=10,
        hold_music="local_stream://jazz", ring_timeout_s=25,
        requirements=[pb.SkillRequirement(skill="sales", min_level=6),
                      pb.SkillRequirement(skill="french", min_level=3)],
        relaxation=[pb.RelaxationStep(after_s=30, drop=2), pb.RelaxationStep(after_s=90, drop=5)],
        max_wait_s=600, max_length=50, overflow="queue:support", calendar="office",
        closed_destination="voicemail:2000@default", announce_every_s=60,
        announcement="You are number {position}, about {minutes} min.", callback_key="1",
        callback_dial="sofia/gateway/carrier/{number}", callback_attempts=5, callback_retry_s=300, tier_wait_s=20)
    assert stub.UpsertQueue(full) == full
    assert {q.name: q for q in stub.ListQueues(pb.ListQueuesRequest()).queues}["sales"] == full


@pytest.mark.parametrize("strategy", [s for s in pb.Strategy.values() if s not in (pb.STRATEGY_UNSPECIFIED, pb.CUSTOM)])
def test_every_built_in_strategy_round_trips(stub, strategy):
    reply = stub.UpsertQueue(pb.Queue(name="q", skill="s", strategy=strategy))
    assert (reply.strategy, reply.strategy_name) == (strategy, "")


def test_custom_strategy_is_named_by_strategy_name(stub, routing):
    reply = stub.UpsertQueue(pb.Queue(name="q", skill="s", strategy=pb.CUSTOM, strategy_name=CUSTOM_STRATEGY))
    assert (reply.strategy, reply.strategy_name) == (pb.CUSTOM, CUSTOM_STRATEGY)
    assert routing.core.acd.queues["q"].strategy == CUSTOM_STRATEGY


def test_delete_queue(stub):
    stub.UpsertQueue(pb.Queue(name="q", skill="s"))
    assert stub.DeleteQueue(pb.DeleteRequest(name="q")) == pb.DeleteResponse()
    assert not stub.ListQueues(pb.ListQueuesRequest()).queues
    with pytest.raises(grpc.RpcError) as e:
        stub.DeleteQueue(pb.DeleteRequest(name="q"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_agents_upsert_get_list_state_dnd_delete(stub):
    seed(stub)
    a3 = pb.Agent(agent_id="a3", name="Cy", contact="user/1003@default", skills={"sales": 5},
                  tiers={"sales": 2, "support": 3})
    assert stub.UpsertAgent(a3) == a3
    status = stub.GetAgent(pb.GetAgentRequest(agent_id="a3"))
    assert (status.agent, status.state, status.dnd, status.missed_offers) == (a3, ev.LOGGED_OUT, False, 0)
    assert [s.agent.agent_id for s in stub.ListAgents(pb.ListAgentsRequest()).agents] == ["a1", "a2", "a3"]
    assert stub.SetAgentState(pb.SetAgentStateRequest(agent_id="a3", state=ev.READY)).state == ev.READY
    status = stub.SetAgentDnd(pb.SetAgentDndRequest(agent_id="a3", dnd=True))
    assert (status.state, status.reason, status.dnd) == (ev.NOT_READY, "dnd", True)
    with pytest.raises(grpc.RpcError) as e:
        stub.SetAgentState(pb.SetAgentStateRequest(agent_id="a3", state=ev.READY))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert stub.SetAgentDnd(pb.SetAgentDndRequest(agent_id="a3", dnd=False)).state == ev.READY
    # Changing the configuration keeps the state.
    assert stub.UpsertAgent(pb.Agent(agent_id="a3", name="Cyd", contact="user/1003@default")).name == "Cyd"
    assert stub.GetAgent(pb.GetAgentRequest(agent_id="a3")).state == ev.READY
    assert stub.DeleteAgent(pb.DeleteRequest(name="a3")) == pb.DeleteResponse()
    with pytest.raises(grpc.RpcError) as e:
        stub.GetAgent(pb.GetAgentRequest(agent_id="a3"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_calendars_upsert_list_delete(stub):
    assert stub.UpsertCalendar(OFFICE) == OFFICE
    assert stub.UpsertCalendar(pb.Calendar(name="always")) == pb.Calendar(name="always", timezone="UTC")
    assert [c.name for c in stub.ListCalendars(pb.ListCalendarsRequest()).calendars] == ["office", "always"]
    stub.DeleteCalendar(pb.DeleteRequest(name="always"))
    assert list(stub.ListCalendars(pb.ListCalendarsRequest()).calendars) == [OFFICE]


def test_calendar_in_use_cannot_be_deleted(stub):
    seed(stub)
    with pytest.raises(grpc.RpcError) as e:
        stub.DeleteCalendar(pb.DeleteRequest(name="office"))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "sales" in e.value.details()


def test_number_lists_are_normalised_listed_and_deleted(stub):
    reply = stub.UpsertNumberList(pb.NumberList(name="vip", numbers=["+44 20 7946 0000", "0044 20 7946 0001"]))
    assert reply == pb.NumberList(name="vip", numbers=["442079460000", "442079460001"])
    assert list(stub.ListNumberLists(pb.ListNumberListsRequest()).lists) == [reply]
    stub.DeleteNumberList(pb.DeleteRequest(name="vip"))
    assert not stub.ListNumberLists(pb.ListNumberListsRequest()).lists


def test_routing_rules_set_and_get(stub):
    seed(stub)
    rules = pb.RoutingRules(rules=[
        pb.RoutingRule(name="blocked", ani_list="blocked", reject=True),
        pb.RoutingRule(name="vip", ani_list="vip", queue="vip", priority=10),
        pb.RoutingRule(name="sales-line", dnis="1800*", queue="sales", overflow="voicemail:2000"),
        pb.RoutingRule(name="night", dnis="re:99.*", ani_not_list="vip", reject=True, reject_cause="USER_BUSY"),
    ])
    reply = stub.SetRoutingRules(rules)
    expected = pb.RoutingRules()
    expected.CopyFrom(rules)
    expected.rules[0].reject_cause = "CALL_REJECTED"          # the default is filled in
    assert reply == expected
    assert stub.GetRoutingRules(pb.GetRoutingRulesRequest()) == expected
    assert stub.SetRoutingRules(pb.RoutingRules()) == pb.RoutingRules()
    assert stub.GetRoutingRules(pb.GetRoutingRulesRequest()) == pb.RoutingRules()


def test_calls_enqueue_list_priority_callback_and_queue_status(stub, routing):
    seed(stub)
    stub.UpsertQueue(pb.Queue(name="support", skill="support", callback_key="1",
                              callback_dial="sofia/gateway/carrier/{number}"))
    first = stub.Enqueue(pb.EnqueueRequest(call_uuid="c1", queue="support", ani="15551230001", dnis="100"))
    assert (first.outcome, first.queue, first.position, first.priority) == (pb.ENQUEUED, "support", 1, 0)
    routing.clock.advance(5)
    second = stub.Enqueue(pb.EnqueueRequest(call_uuid="c2", queue="support", ani="15551230002", priority=2))
    assert (second.outcome, second.position) == (pb.ENQUEUED, 1)
    assert routing.enqueued == [("c1", "support", ""), ("c2", "support", "")]
    calls = stub.ListCalls(pb.ListCallsRequest(queue="support")).calls
    assert [(c.call_uuid, c.position, c.priority, c.state) for c in calls] == [("c2", 1, 2, "waiting"),
                                                                               ("c1", 2, 0, "waiting")]
    moved = stub.SetCallPriority(pb.SetCallPriorityRequest(call_uuid="c1", priority=5))
    assert (moved.position, moved.priority, moved.enqueued_us) == (1, 5, MONDAY_10H_US)
    callback = stub.RequestCallback(pb.RequestCallbackRequest(call_uuid="c2", number="+1 555 999 0000"))
    assert (callback.state, callback.callback_number) == ("callback", "15559990000")
    assert [c.call_uuid for c in stub.ListCalls(pb.ListCallsRequest()).calls] == ["c1", "c2"]
    assert not stub.ListCalls(pb.ListCallsRequest(queue="vip")).calls
    status = stub.GetQueueStatus(pb.GetQueueStatusRequest(queue="support"))
    assert (status.queue, status.calls_waiting, status.callbacks_waiting, status.open) == ("support", 2, 1, True)
    assert status.longest_wait_us == 5_000_000
    assert status.agents_by_state["LOGGED_OUT"] == 2
    assert status.ewt_s >= -1
    # The sales calendar (Paris, weekdays 08:00-18:00) is open on Monday at 12:00 local.
    assert stub.GetQueueStatus(pb.GetQueueStatusRequest(queue="sales")).open


def test_unknown_names_are_not_found(stub):
    for call, request in [(stub.GetQueueStatus, pb.GetQueueStatusRequest(queue="nope")),
                          (stub.ListCalls, pb.ListCallsRequest(queue="nope")),
                          (stub.SetCallPriority, pb.SetCallPriorityRequest(call_uuid="nope")),
                          (stub.DeleteAgent, pb.DeleteRequest(name="nope")),
                          (stub.DeleteCalendar, pb.DeleteRequest(name="nope")),
                          (stub.DeleteNumberList, pb.DeleteRequest(name="nope"))]:
        with pytest.raises(grpc.RpcError) as e:
            call(request)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND, request


# -- validation errors name the field ------------------------------------------------

Q = pb.Queue
R = pb.SkillRequirement
X = pb.RelaxationStep
RR = pb.RoutingRule
BAD = [
    # queues
    ("UpsertQueue", Q(skill="s"), "name"),
    ("UpsertQueue", Q(name="no spaces", skill="s"), "name"),
    ("UpsertQueue", Q(name="q"), "skill"),
    ("UpsertQueue", Q(name="q", skill="s", strategy=pb.CUSTOM), "strategy_name"),
    ("UpsertQueue", Q(name="q", skill="s", strategy=pb.CUSTOM, strategy_name="nope"), "strategy_name"),
    ("UpsertQueue", Q(name="q", skill="s", strategy=pb.CUSTOM, strategy_name="round-robin"), "strategy_name"),
    ("UpsertQueue", Q(name="q", skill="s", strategy=pb.RANDOM, strategy_name=CUSTOM_STRATEGY), "strategy_name"),
    ("UpsertQueue", Q(name="q", skill="s", strategy=42), "strategy"),
    ("UpsertQueue", Q(name="q", skill="s", service_level_threshold_s=4000), "service_level_threshold_s"),
    ("UpsertQueue", Q(name="q", skill="s", wrap_up_s=-1), "wrap_up_s"),
    ("UpsertQueue", Q(name="q", skill="s", ring_timeout_s=3), "ring_timeout_s"),
    ("UpsertQueue", Q(name="q", skill="s", requirements=[R(skill="s", min_level=1), R(skill="t", min_level=11)]),
     "requirements[1].min_level"),
    ("UpsertQueue", Q(name="q", skill="s", requirements=[R(skill="s", min_level=1), R(min_level=2)]),
     "requirements[1].skill"),
    ("UpsertQueue", Q(name="q", skill="s", requirements=[R(skill="s", min_level=1), R(skill="s", min_level=2)]),
     "requirements[1].skill"),
    ("UpsertQueue", Q(name="q", skill="s", requirements=[R(skill="t", min_level=1)]), "requirements[0].skill"),
    ("UpsertQueue", Q(name="q", skill="s", relaxation=[X(after_s=0, drop=1)]), "relaxation[0].after_s"),
    ("UpsertQueue", Q(name="q", skill="s", relaxation=[X(after_s=10, drop=1), X(after_s=20, drop=10)]),
     "relaxation[1].drop"),
    ("UpsertQueue", Q(name="q", skill="s", relaxation=[X(after_s=30, drop=1), X(after_s=20, drop=2)]),
     "relaxation[1]"),
    ("UpsertQueue", Q(name="q", skill="s", max_wait_s=60), "overflow"),
    ("UpsertQueue", Q(name="q", skill="s", max_wait_s=-5, overflow="voicemail:1"), "max_wait_s"),
    ("UpsertQueue", Q(name="q", skill="s", max_length=-1, overflow="voicemail:1"), "max_length"),
    ("UpsertQueue", Q(name="q", skill="s", overflow="fax:1"), "overflow"),
    ("UpsertQueue", Q(name="q", skill="s", overflow="queue:nope"), "overflow"),
    ("UpsertQueue", Q(name="q", skill="s", overflow="queue:q"), "overflow"),
    ("UpsertQueue", Q(name="q", skill="s", calendar="nope", overflow="voicemail:1"), "calendar"),
    ("UpsertQueue", Q(name="q", skill="s", calendar="office"), "closed_destination"),
    ("UpsertQueue", Q(name="q", skill="s", calendar="office", closed_destination="ivr"), "closed_destination"),
    ("UpsertQueue", Q(name="q", skill="s", announce_every_s=5), "announce_every_s"),
    ("UpsertQueue", Q(name="q", skill="s", announce_every_s=30, announcement="wait {seconds}"), "announcement"),
    ("UpsertQueue", Q(name="q", skill="s", callback_key="A"), "callback_key"),
    ("UpsertQueue", Q(name="q", skill="s", callback_key="1", callback_dial="sofia/gw/x"), "callback_dial"),
    ("UpsertQueue", Q(name="q", skill="s", callback_attempts=11), "callback_attempts"),
    ("UpsertQueue", Q(name="q", skill="s", callback_retry_s=5), "callback_retry_s"),
    ("UpsertQueue", Q(name="q", skill="s", tier_wait_s=4000), "tier_wait_s"),
    ("DeleteQueue", pb.DeleteRequest(), "name"),
    # agents
    ("UpsertAgent", pb.Agent(contact="user/1@default"), "agent_id"),
    ("UpsertAgent", pb.Agent(agent_id="a9", contact="1009"), "contact"),
    ("UpsertAgent", pb.Agent(agent_id="a9", contact="user/1009@default", skills={"support": 11}), "skills[support]"),
    ("UpsertAgent", pb.Agent(agent_id="a9", contact="user/1009@default", tiers={"nope": 1}), "tiers[nope]"),
    ("UpsertAgent", pb.Agent(agent_id="a9", contact="user/1009@default", tiers={"support": 10}), "tiers[support]"),
    ("DeleteAgent", pb.DeleteRequest(), "name"),
    ("GetAgent", pb.GetAgentRequest(), "agent_id"),
    ("SetAgentState", pb.SetAgentStateRequest(agent_id="a1", state=ev.ON_CALL), "state"),
    ("SetAgentState", pb.SetAgentStateRequest(state=ev.READY), "agent_id"),
    ("SetAgentDnd", pb.SetAgentDndRequest(dnd=True), "agent_id"),
    # calendars
    ("UpsertCalendar", pb.Calendar(), "name"),
    ("UpsertCalendar", pb.Calendar(name="c", timezone="Mars/Olympus"), "timezone"),
    ("UpsertCalendar", pb.Calendar(name="c", hours=[pb.OpeningHours(day=0, open="25:00", close="26:00")]),
     "hours[0].open"),
    ("UpsertCalendar", pb.Calendar(name="c", hours=[pb.OpeningHours(day=0, open="08:00", close="12:00"),
                                                    pb.OpeningHours(day=7, open="08:00", close="12:00")]),
     "hours[1].day"),
    ("UpsertCalendar", pb.Calendar(name="c", hours=[pb.OpeningHours(day=0, open="08:00", close="08:00")]),
     "hours[0].close"),
    ("UpsertCalendar", pb.Calendar(name="c", holidays=[pb.Holiday(start="2024-13-01")]), "holidays[0].start"),
    ("UpsertCalendar", pb.Calendar(name="c", holidays=[pb.Holiday(start="2024-12-25", end="2024-12-24")]),
     "holidays[0].end"),
    ("UpsertCalendar", pb.Calendar(name="c", holidays=[pb.Holiday(start="2024-12-25", open="09:00")]),
     "holidays[0].close"),
    ("DeleteCalendar", pb.DeleteRequest(), "name"),
    # number lists
    ("UpsertNumberList", pb.NumberList(numbers=["123"]), "name"),
    ("UpsertNumberList", pb.NumberList(name="l", numbers=["123", "call me"]), "numbers[1]"),
    ("DeleteNumberList", pb.DeleteRequest(), "name"),
    # routing rules
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(queue="support")]), "rules[0].name"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", queue="support"),
                                               RR(name="b", dnis="12a", queue="support")]), "rules[1].dnis"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", queue="support"), RR(name="b", priority=1),
                                               RR(name="c", ani_list="nope", queue="support")]), "rules[2].ani_list"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", ani="re:(", queue="support")]), "rules[0].ani"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", queue="nope")]), "rules[0].queue"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", overflow="queue:nope")]), "rules[0].overflow"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", overflow="sip:x")]), "rules[0].overflow"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", priority=500)]), "rules[0].priority"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", reject=True, queue="support")]), "rules[0].queue"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", reject=True, reject_cause="busy")]),
     "rules[0].reject_cause"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", dnis="1")]), "rules[0]"),
    ("SetRoutingRules", pb.RoutingRules(rules=[RR(name="a", priority=1), RR(name="a", priority=2)]), "rules[1].name"),
    # calls
    ("Enqueue", pb.EnqueueRequest(queue="support"), "call_uuid"),
    ("Enqueue", pb.EnqueueRequest(call_uuid="c9"), "queue"),
    ("Enqueue", pb.EnqueueRequest(call_uuid="c9", queue="nope"), "queue"),
    ("Enqueue", pb.EnqueueRequest(call_uuid="c9", queue="support", priority=101), "priority"),
    ("SetCallPriority", pb.SetCallPriorityRequest(priority=1), "call_uuid"),
    ("RequestCallback", pb.RequestCallbackRequest(), "call_uuid"),
    ("GetQueueStatus", pb.GetQueueStatusRequest(), "queue"),
]


@pytest.mark.parametrize("rpc,request_,field", BAD, ids=[f"{i}-{rpc}-{field}" for i, (rpc, _, field) in enumerate(BAD)])
def test_validation_error_names_the_field(stub, routing, rpc, request_, field):
    seed(stub)
    routing.changes()
    with pytest.raises(grpc.RpcError) as e:
        getattr(stub, rpc)(request_)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    assert e.value.details().startswith(f"{field}: "), e.value.details()
    assert dict(e.value.trailing_metadata())["hotline-error-id"] == "invalid-argument"
    assert routing.changes() == []                  # a refused change publishes nothing


def test_callback_number_is_validated(stub):
    seed(stub)
    stub.UpsertQueue(pb.Queue(name="support", skill="support", callback_key="1",
                              callback_dial="sofia/gateway/carrier/{number}"))
    stub.Enqueue(pb.EnqueueRequest(call_uuid="c1", queue="support", ani="anonymous"))
    for number in ("", "call me"):                  # "": the ANI, which is not a number here
        with pytest.raises(grpc.RpcError) as e:
            stub.RequestCallback(pb.RequestCallbackRequest(call_uuid="c1", number=number))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and e.value.details().startswith("number: ")


# -- changes apply without a restart --------------------------------------------------


def test_a_new_strategy_applies_at_once(stub, routing):
    seed(stub)
    stub.UpsertQueue(pb.Queue(name="support", skill="support", strategy=pb.CUSTOM, strategy_name=CUSTOM_STRATEGY))
    queues = {q.name: q for q in stub.ListQueues(pb.ListQueuesRequest()).queues}
    assert (queues["support"].strategy, queues["support"].strategy_name) == (pb.CUSTOM, CUSTOM_STRATEGY)
    # a2 became ready last (least idle) but has fewer skills: the custom strategy picks a2.
    stub.SetAgentState(pb.SetAgentStateRequest(agent_id="a1", state=ev.READY))
    routing.clock.advance(10)
    stub.SetAgentState(pb.SetAgentStateRequest(agent_id="a2", state=ev.READY))
    stub.Enqueue(pb.EnqueueRequest(call_uuid="c1", queue="support"))
    (assignment,) = routing.core.acd.next_assignments()
    assert assignment.agent.agent_id == "a2"
    stub.UpsertQueue(pb.Queue(name="support", skill="support", strategy=pb.LONGEST_IDLE))
    routing.core.acd.offer_failed("c1", "a2", "NO_ANSWER", agent_missed=False)
    routing.core.acd.calls["c1"].tried.clear()
    (assignment,) = routing.core.acd.next_assignments()
    assert assignment.agent.agent_id == "a1"


def test_routing_rules_apply_to_the_next_call(stub, routing):
    seed(stub)
    assert stub.Enqueue(pb.EnqueueRequest(call_uuid="c0", queue="support", ani="442079460000")).queue == "support"
    stub.SetRoutingRules(pb.RoutingRules(rules=[
        pb.RoutingRule(name="blocked", ani_list="blocked", reject=True, reject_cause="CALL_REJECTED"),
        pb.RoutingRule(name="vip", ani_list="vip", queue="vip", priority=10),
        pb.RoutingRule(name="fax", dnis="1900*", overflow="voicemail:3000"),
    ]))
    vip = stub.Enqueue(pb.EnqueueRequest(call_uuid="c1", queue="support", ani="+44 20 7946 0000", priority=5))
    assert (vip.outcome, vip.queue, vip.priority, vip.position) == (pb.ENQUEUED, "vip", 15, 1)
    blocked = stub.Enqueue(pb.EnqueueRequest(call_uuid="c2", queue="support", ani="15550000666"))
    assert (blocked.outcome, blocked.reject_cause) == (pb.REJECTED, "CALL_REJECTED")
    fax = stub.Enqueue(pb.EnqueueRequest(call_uuid="c3", queue="support", ani="15551112222", dnis="19005550100"))
    assert (fax.outcome, fax.destination) == (pb.OVERFLOWED, "voicemail:3000")
    assert [c[0] for c in routing.enqueued] == ["c0", "c1"]      # only calls that wait get hold music
    # A list change applies to the rules at once.
    stub.UpsertNumberList(pb.NumberList(name="vip", numbers=["15551112222"]))
    again = stub.Enqueue(pb.EnqueueRequest(call_uuid="c4", queue="support", ani="15551112222"))
    assert (again.queue, again.priority) == ("vip", 10)


def test_a_closed_queue_sends_calls_to_its_closed_destination(stub, routing):
    seed(stub)
    routing.clock.now = int(dt.datetime(2024, 6, 3, 20, 0, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)
    result = stub.Enqueue(pb.EnqueueRequest(call_uuid="c1", queue="sales"))
    assert (result.outcome, result.destination) == (pb.OVERFLOWED, "voicemail:2000")
    # Opening the calendar all day applies at once.
    stub.UpsertCalendar(pb.Calendar(name="office", timezone="Europe/Paris"))
    assert stub.Enqueue(pb.EnqueueRequest(call_uuid="c2", queue="sales")).outcome == pb.ENQUEUED


# -- one ConfigChange per change ---------------------------------------------------------


def test_every_change_publishes_one_config_change(stub, routing):
    def one(kind, name, reply=None, *, deleted=False):
        (change,) = routing.changes()
        assert (change.kind, change.name, change.deleted) == (kind, name, deleted)
        assert change.event_id and change.timestamp_us > 0 and change.changed_by.startswith("ipv4:127.0.0.1:")
        if deleted:
            assert change.json == ""
        else:
            assert json.loads(change.json) == as_dict(reply)
        return change

    one("calendar", "office", stub.UpsertCalendar(OFFICE))
    one("list", "vip", stub.UpsertNumberList(pb.NumberList(name="vip", numbers=["+1 555 000 1111"])))
    one("queue", "support", stub.UpsertQueue(pb.Queue(name="support", skill="support")))
    one("queue", "sales", stub.UpsertQueue(pb.Queue(name="sales", skill="sales", overflow="queue:support")))
    change = one("agent", "a1", stub.UpsertAgent(pb.Agent(agent_id="a1", name="Ada", contact="user/1001@default",
                                                          skills={"support": 5}, tiers={"sales": 2})))
    assert set(json.loads(change.json)) == {"agent_id", "name", "contact", "skills", "tiers"}   # no state
    one("rule_set", "default", stub.SetRoutingRules(pb.RoutingRules(rules=[
        pb.RoutingRule(name="vip", ani_list="vip", priority=5)])))
    # State changes and calls are not configuration.
    stub.SetAgentState(pb.SetAgentStateRequest(agent_id="a1", state=ev.READY))
    stub.SetAgentDnd(pb.SetAgentDndRequest(agent_id="a1", dnd=True))
    stub.Enqueue(pb.EnqueueRequest(call_uuid="c1", queue="support"))
    stub.SetCallPriority(pb.SetCallPriorityRequest(call_uuid="c1", priority=3))
    for rpc, request in [("ListQueues", pb.ListQueuesRequest()), ("ListAgents", pb.ListAgentsRequest()),
                         ("ListCalendars", pb.ListCalendarsRequest()), ("ListNumberLists", pb.ListNumberListsRequest()),
                         ("GetRoutingRules", pb.GetRoutingRulesRequest()), ("ListCalls", pb.ListCallsRequest()),
                         ("GetQueueStatus", pb.GetQueueStatusRequest(queue="support"))]:
        getattr(stub, rpc)(request)
    assert routing.changes() == []
    one("rule_set", "default", stub.SetRoutingRules(pb.RoutingRules()))
    stub.DeleteNumberList(pb.DeleteRequest(name="vip"))
    one("list", "vip", deleted=True)
    stub.DeleteAgent(pb.DeleteRequest(name="a1"))
    one("agent", "a1", deleted=True)
    stub.DeleteQueue(pb.DeleteRequest(name="sales"))
    one("queue", "sales", deleted=True)
    stub.DeleteCalendar(pb.DeleteRequest(name="office"))
    one("calendar", "office", deleted=True)
    # A refused change publishes nothing (the queue has a call).
    with pytest.raises(grpc.RpcError) as e:
        stub.DeleteQueue(pb.DeleteRequest(name="support"))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert routing.changes() == []


def test_config_changes_come_after_the_acd_events_of_the_same_change(stub, routing):
    seed(stub)
    stub.SetAgentState(pb.SetAgentStateRequest(agent_id="a2", state=ev.READY))
    before = len(routing.bus.messages(topics.AGENT_EVENTS))
    stub.DeleteAgent(pb.DeleteRequest(name="a2"))
    (logged_out,) = [ev.AgentStateEvent.FromString(r.value) for r in routing.bus.messages(topics.AGENT_EVENTS)[before:]]
    assert (logged_out.agent_id, logged_out.state) == ("a2", ev.LOGGED_OUT)


# -- rebuild from the config-events topic ----------------------------------------------


def snapshot(acd: Acd) -> dict[str, dict]:
    """Every configuration object of the ACD as its JSON, by key."""
    out = {}
    for kind, objects in ((config.QUEUE, acd.queues), (config.AGENT, acd.agents),
                          (config.CALENDAR, acd.calendars), (config.LIST, acd.lists)):
        for name, obj in objects.items():
            out[f"{kind}:{name}"] = json.loads(config.to_json(kind, obj))
    out["rule_set:default"] = json.loads(config.to_json(config.RULE_SET, acd.rules))
    return out


def test_rebuild_restores_the_configuration(stub, routing):
    seed(stub)
    # Overwritten: the latest version wins.
    stub.UpsertQueue(pb.Queue(name="support", skill="support", strategy=pb.LEAST_CALLS, wrap_up_s=15))
    # "alpha" overflows into "zeta", which comes later by name: zeta must be added first.
    stub.UpsertQueue(pb.Queue(name="zeta", skill="support"))
    stub.UpsertQueue(pb.Queue(name="alpha", skill="support", max_length=5, overflow="queue:zeta"))
    # ... and then zeta into alpha: a cycle.
    stub.UpsertQueue(pb.Queue(name="zeta", skill="support", max_wait_s=120, overflow="queue:alpha"))
    stub.UpsertAgent(pb.Agent(agent_id="a3", name="Cy", contact="user/1003@default", skills={"support": 2},
                              tiers={"alpha": 2, "zeta": 3}))
    stub.UpsertQueue(pb.Queue(name="gone", skill="x"))
    stub.DeleteQueue(pb.DeleteRequest(name="gone"))
    stub.DeleteAgent(pb.DeleteRequest(name="a2"))
    stub.UpsertNumberList(pb.NumberList(name="old", numbers=["1"]))
    stub.DeleteNumberList(pb.DeleteRequest(name="old"))
    stub.SetRoutingRules(pb.RoutingRules(rules=[pb.RoutingRule(name="vip", ani_list="vip", queue="vip", priority=5),
                                                pb.RoutingRule(name="no", ani_list="blocked", reject=True)]))
    # Agent state is not configuration: a rebuilt agent is logged out.
    stub.SetAgentState(pb.SetAgentStateRequest(agent_id="a1", state=ev.READY))

    fresh = Acd(routing.clock)
    applied = config.rebuild(fresh, routing.bus)
    expected = snapshot(routing.core.acd)
    assert snapshot(fresh) == expected
    assert set(expected) == {"calendar:office", "list:vip", "list:blocked", "queue:support", "queue:vip",
                             "queue:sales", "queue:alpha", "queue:zeta", "agent:a1", "agent:a3", "rule_set:default"}
    assert applied == len(expected)
    assert fresh.queues["support"].strategy == "least-calls"
    assert fresh.agents["a1"].state == ev.LOGGED_OUT
    assert fresh.agents["a1"].tiers == {"vip": 1}
    # The rebuilt rules route calls as before.
    result = fresh.enqueue("c1", "support", ani="442079460000")
    assert (result.outcome, result.queue, result.priority) == ("enqueued", "vip", 5)
    # Rebuilding twice changes nothing.
    config.rebuild(fresh, routing.bus)
    assert snapshot(fresh) == expected


def test_rebuild_applies_deletions_to_what_is_already_there(routing):
    stub = routing.stub
    stub.UpsertQueue(pb.Queue(name="support", skill="support"))
    stub.DeleteQueue(pb.DeleteRequest(name="support"))
    seeded = Acd(routing.clock)
    seeded.upsert_queue(config.queue_from_proto(pb.Queue(name="support", skill="support")))
    assert config.rebuild(seeded, routing.bus) == 1
    assert "support" not in seeded.queues


def change(kind: str, name: str, payload) -> ev.ConfigChange:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return ev.ConfigChange(event_id=f"e-{kind}-{name}", kind=kind, name=name, json=text, timestamp_us=1,
                           changed_by="test")


def test_rebuild_skips_entries_that_do_not_apply_with_a_warning(caplog):
    bus = InProcessBus()
    good = as_dict(pb.Queue(name="support", skill="support", service_level_threshold_s=20, ring_timeout_s=15,
                            hold_music="local_stream://moh", callback_attempts=3, callback_retry_s=120))
    entries = [
        change("queue", "support", good),
        change("queue", "broken", "{not json"),
        change("queue", "typed", {"name": "typed", "skill": "s", "ring_timeout_s": "soon"}),
        change("queue", "invalid", {"name": "invalid", "skill": "s", "ring_timeout_s": 1}),
        change("queue", "orphan", {"name": "orphan", "skill": "s", "overflow": "queue:nowhere"}),
        change("queue", "renamed", {"name": "support2", "skill": "s"}),
        change("calendar", "mars", {"name": "mars", "timezone": "Mars/Olympus"}),
        change("agent", "a1", {"agent_id": "a1", "contact": "user/1001@default", "skills": {"support": 3},
                               "tiers": {"support": 2, "deleted-queue": 1}}),
        change("agent", "a2", {"agent_id": "a2", "contact": "nowhere"}),
        change("list", "vip", {"name": "vip", "numbers": ["not a number"]}),
        change("rule_set", "default", {"rules": [{"name": "r", "ani_list": "vip", "priority": 1}]}),
        change("printer", "p1", {}),
    ]
    for entry in entries:
        bus.publish(topics.CONFIG_EVENTS, f"{entry.kind}:{entry.name}", entry)
    bus.publish_raw(topics.CONFIG_EVENTS, b"queue:garbage", b"\xff\xff\xff not protobuf")
    acd = Acd(Clock(MONDAY_10H_US))
    with caplog.at_level(logging.WARNING, logger="hotline.routing.config"):
        assert config.rebuild(acd, bus) == 2
    assert set(acd.queues) == {"support"}
    assert acd.agents["a1"].tiers == {"support": 2}         # the agent stays; the dangling tier goes
    assert set(acd.agents) == {"a1"} and not acd.lists and not acd.calendars and acd.rules == ()
    text = caplog.text
    for key in ("queue:broken", "queue:typed", "queue:invalid", "queue:orphan", "queue:renamed", "calendar:mars",
                "agent:a2", "list:vip", "rule_set:default", "queue:garbage", "deleted-queue"):
        assert key in text, key
    assert "timezone" in text and "ring_timeout_s" in text and "rules[0].ani_list" in text
    bus.close()


def test_json_uses_the_admin_api_field_names():
    queue = config.queue_from_proto(pb.Queue(name="q", skill="s", strategy=pb.CUSTOM, strategy_name=CUSTOM_STRATEGY,
                                             requirements=[pb.SkillRequirement(skill="s", min_level=4)]))
    data = json.loads(config.to_json(config.QUEUE, queue))
    assert set(data) == set(pb.Queue.DESCRIPTOR.fields_by_name)
    assert (data["strategy"], data["strategy_name"]) == ("CUSTOM", CUSTOM_STRATEGY)
    assert data["requirements"] == [{"skill": "s", "min_level": 4}]
    assert config.queue_from_proto(config.from_json(config.QUEUE, json.dumps(data))) == queue
