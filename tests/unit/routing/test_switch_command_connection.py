"""Routing's switch side with a command connection per node: replies come on
their own connection and may overtake events FreeSWITCH fired before them.
Routing must not take a failed command for the agent's fault when the
events that explain it (the caller hung up) are still in the backlog.
Against the FreeSWITCH simulator, in process, with the real ESL over TCP."""
from __future__ import annotations

from typing import Iterator

import gevent
import pytest

from hotline.common import topics
from hotline.common.bus import InProcessBus
from hotline.common.settings import EslSettings, RoutingSettings
from hotline.freeswitch.pool import SwitchNode, SwitchPool
from hotline.freeswitch.protocol import EslEvent
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing.acd import QueueConfig
from hotline.routing.app import ESL_EVENTS
from hotline.routing.core import RoutingCore
from hotline.routing.switch import SwitchSide
from hotline.simulator import Switch
from hotline.simulator.scripts import CallerScript, PhoneScript

PASSWORD = "s3cret-test"


def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = gevent.get_hub().loop.now() + timeout
    while gevent.get_hub().loop.now() < deadline:
        if predicate():
            return True
        gevent.sleep(0.01)
    return predicate()


@pytest.fixture
def routing() -> Iterator[tuple[Switch, SwitchPool, RoutingCore, InProcessBus, list[str]]]:
    sw = Switch(password=PASSWORD, host="127.0.0.1", esl_port=0, hostname="fs1", media_scale=0.1)
    sw.start()
    sw.register_phone("1001", PhoneScript(answer_after_s=0.4, hangup_after_s=None))
    sw.add_extension("5000", [("answer", ""), ("park", "")])
    pool = SwitchPool.from_settings(EslSettings(password=PASSWORD, port=sw.esl_port, reconnect_min_s=0.05),
                                    ESL_EVENTS)
    slow_hangups: list[str] = []

    def backlog(node: SwitchNode, event: EslEvent) -> None:
        # Ahead of routing's own handler: the caller's hang-up waits in a
        # backlog while the originate's result comes on the command connection.
        if event.name == "CHANNEL_HANGUP_COMPLETE" and event.uuid in slow_hangups:
            gevent.sleep(1.0)

    pool.on_event(backlog)
    bus = InProcessBus()
    core = RoutingCore(bus)
    side = SwitchSide(core, pool, bus, settings=RoutingSettings(tick_s=0.02))
    core.acd.upsert_queue(QueueConfig(name="support", skill="support", ring_timeout_s=5))
    core.acd.upsert_agent("a1", "A1", "user/1001@default", {"support": 5})
    core.acd.set_agent_state("a1", ev.READY)
    core.publish_outbox()
    side.start()
    pool.start()
    assert pool.wait_connected(10)
    try:
        yield sw, pool, core, bus, slow_hangups
    finally:
        side.stop()
        pool.stop()
        sw.stop()


def queue_events(bus: InProcessBus) -> list[ev.QueueEvent]:
    return [ev.QueueEvent.FromString(r.value) for r in bus.messages(topics.QUEUE_EVENTS)]


def test_a_bridge_that_fails_because_the_caller_left_is_no_missed_offer(routing) -> None:  # type: ignore[no-untyped-def]
    sw, pool, core, bus, slow_hangups = routing
    call = sw.place_call(ani="+15550001", dnis="5000", script=CallerScript())
    assert wait_until(lambda: any(c.uuid == call.uuid for c in sw.channels()))
    slow_hangups.append(call.uuid)
    core.acd.enqueue(call.uuid, "support", ani="+15550001", node_id="fs1")
    core.publish_outbox()
    core.wakeup.set()
    # the agent's phone rings: the caller hangs up before it answers
    assert wait_until(lambda: any(c.variables.get("hotline_role") == "agent" for c in sw.channels()))
    assert sw.api.execute("uuid_kill", f"{call.uuid} NORMAL_CLEARING").startswith("+OK")
    assert wait_until(lambda: call.uuid not in core.acd.calls)
    assert wait_until(lambda: core.acd.agents["a1"].state == ev.READY)
    gevent.sleep(0.3)                         # whatever the offer greenlet still does
    events = queue_events(bus)
    kinds = [(e.type, e.reason) for e in events if e.call_uuid == call.uuid]
    assert (ev.QUEUE_ABANDONED, "") in kinds, kinds
    assert not [e for e in events if e.type == ev.QUEUE_OFFER_FAILED], kinds
    assert core.acd.agents["a1"].missed_offers == 0
    assert wait_until(lambda: not [c for c in sw.channels() if c.variables.get("hotline_role") == "agent"])


def test_an_offer_connects_with_replies_on_the_command_connection(routing) -> None:  # type: ignore[no-untyped-def]
    sw, pool, core, bus, _ = routing
    node = pool.node("fs1")
    assert len(node.connections) == 2
    call = sw.place_call(ani="+15550002", dnis="5000", script=CallerScript(talk_s=0.5))
    assert wait_until(lambda: any(c.uuid == call.uuid for c in sw.channels()))
    core.acd.enqueue(call.uuid, "support", ani="+15550002", node_id="fs1")
    core.publish_outbox()
    core.wakeup.set()
    assert call.wait_bridged(10)
    assert wait_until(lambda: any(e.type == ev.QUEUE_CONNECTED and e.call_uuid == call.uuid
                                  for e in queue_events(bus)))
    assert call.wait_hangup(10)
    assert wait_until(lambda: call.uuid not in core.acd.calls and core.acd.agents["a1"].state != ev.ON_CALL)
    cdrs = [ev.Cdr.FromString(r.value) for r in bus.messages(topics.CDRS)]
    assert [c.disposition for c in cdrs if c.call_uuid == call.uuid] == [ev.DISPOSITION_ANSWERED]


def test_routing_subscribes_to_what_the_call_events_readers_use() -> None:
    """docs/events.md, "Which events routing publishes": recording starts on
    a caller's CALL_BRIDGED and saves on CALL_RECORD_STOPPED, forgets a call
    at CALL_DESTROYED; reporting's cdr_legs are CALL_HANGUP_COMPLETE; routing
    acts on DTMF, CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY, and learns a
    channel's node from CHANNEL_CREATE. No CHANNEL_EXECUTE(_COMPLETE): a pair
    for every application, read by nobody."""
    from hotline.freeswitch.normalize import EVENT_TYPES

    needed = {"CHANNEL_BRIDGE", "RECORD_STOP", "CHANNEL_DESTROY", "CHANNEL_HANGUP_COMPLETE", "DTMF",
              "CHANNEL_CREATE"}
    assert needed <= set(ESL_EVENTS)
    assert not {"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"} & set(ESL_EVENTS)
    assert set(ESL_EVENTS) - {"BACKGROUND_JOB"} <= set(EVENT_TYPES)      # each one becomes a CallEvent


def test_a_connected_call_publishes_its_lifecycle_call_events(routing) -> None:  # type: ignore[no-untyped-def]
    sw, pool, core, bus, _ = routing
    call = sw.place_call(ani="+15550003", dnis="5000", script=CallerScript(talk_s=0.3))
    assert wait_until(lambda: any(c.uuid == call.uuid for c in sw.channels()))
    core.acd.enqueue(call.uuid, "support", ani="+15550003", node_id="fs1")
    core.publish_outbox()
    core.wakeup.set()
    assert call.wait_bridged(10) and call.wait_hangup(10)

    def published() -> list[ev.CallEvent]:
        return [e for e in (ev.CallEvent.FromString(r.value) for r in bus.messages(topics.CALL_EVENTS))
                if e.call_uuid == call.uuid]

    assert wait_until(lambda: sum(e.type == ev.CALL_DESTROYED for e in published()) == 2)
    caller = [e.type for e in published() if e.leg == ev.LEG_CALLER]
    agent = [e.type for e in published() if e.leg == ev.LEG_AGENT]
    assert caller == [ev.CALL_CREATED, ev.CALL_ANSWERED, ev.CALL_BRIDGED, ev.CALL_UNBRIDGED,
                      ev.CALL_HANGUP_COMPLETE, ev.CALL_DESTROYED], caller
    assert agent == [ev.CALL_CREATED, ev.CALL_ANSWERED, ev.CALL_HANGUP_COMPLETE, ev.CALL_DESTROYED], agent
    assert {e.agent_id for e in published() if e.leg == ev.LEG_AGENT} == {"a1"}
