"""The agent feed's fan-out rules, on the in-process bus (hermetic)."""
import time

import gevent
import pytest

from hotline.common import topics
from hotline.common.bus import InProcessBus
from hotline.common.errors import InvalidArgument
from hotline.cti.customers import CustomerStore
from hotline.cti.feed import AgentFeed
from hotline.proto.events.v1 import events_pb2 as ev


def now_us():
    return int(time.time() * 1_000_000)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        gevent.sleep(0.01)
    raise AssertionError("timed out")


def state(agent_id, state_, ts=None, n=[0]):
    n[0] += 1
    return ev.AgentStateEvent(event_id=f"s{n[0]}", agent_id=agent_id, state=state_,
                              timestamp_us=now_us() if ts is None else ts)


def offer(call_uuid, agent_id="1001", ani="+15551234567", type_=ev.QUEUE_OFFERED, ts=None):
    return ev.QueueEvent(event_id=f"{call_uuid}:{type_}", call_uuid=call_uuid, queue="support", type=type_,
                         agent_id=agent_id, ani=ani, timestamp_us=now_us() if ts is None else ts)


@pytest.fixture
def setup(tmp_path):
    bus = InProcessBus()
    store = CustomerStore(str(tmp_path / "c.sqlite3"))
    feed = AgentFeed(bus, store, instance_id="unit", queue_size=3)
    feed.start()
    assert feed.wait_ready(5)
    yield bus, store, feed
    feed.stop()
    bus.close()
    store.close()


def drain(sub):
    out = []
    while (e := sub.get(0)) is not None:
        out.append(e)
    return out


def test_each_instance_needs_its_own_group(tmp_path):
    with pytest.raises(InvalidArgument):
        AgentFeed(InProcessBus(), CustomerStore(":memory:"), instance_id="")
    assert AgentFeed(InProcessBus(), CustomerStore(":memory:"), instance_id="a").group == "cti-feed-a"


def test_events_reach_only_their_agents_subscribers(setup):
    bus, _, feed = setup
    a, a2, b = feed.subscribe("1001"), feed.subscribe("1001"), feed.subscribe("1002")
    bus.publish(topics.AGENT_EVENTS, "1001", state("1001", ev.READY))
    bus.publish(topics.QUEUE_EVENTS, "c1", offer("c1", agent_id="1002"))
    bus.publish(topics.QUEUE_EVENTS, "c0", offer("c0", agent_id="", type_=ev.QUEUE_ENQUEUED))
    wait_for(lambda: a.pending() and a2.pending() and b.pending())
    gevent.sleep(0.1)
    assert [e.WhichOneof("event") for e in drain(a)] == ["state_changed"]
    assert [e.WhichOneof("event") for e in drain(a2)] == ["state_changed"]
    assert [e.call_offered.call_uuid for e in drain(b)] == ["c1"]


def test_queue_events_map_to_desktop_events(setup):
    bus, store, feed = setup
    store.upsert("+15551234567", name="Ada")
    sub = feed.subscribe("1001")
    received = []
    reader = gevent.spawn(lambda: [received.append(sub.get(5)) for _ in range(5)])
    for type_ in (ev.QUEUE_ENQUEUED, ev.QUEUE_OFFERED, ev.QUEUE_CONNECTED, ev.QUEUE_CALL_ENDED,
                  ev.QUEUE_OFFER_FAILED, ev.QUEUE_ABANDONED):
        bus.publish(topics.QUEUE_EVENTS, "c1", offer("c1", type_=type_))
        gevent.sleep(0.01)
    reader.join(5)
    assert [e.WhichOneof("event") for e in received] == [
        "call_offered", "call_connected", "call_ended", "call_ended", "call_ended"]
    assert received[0].call_offered.customer.name == "Ada"
    assert {e.call_ended.call_uuid for e in received[2:]} == {"c1"}


def test_a_slow_desktop_loses_its_oldest_events_and_does_not_hold_up_others(setup):
    bus, _, feed = setup
    slow, fast = feed.subscribe("1001"), feed.subscribe("1001")
    received = []
    reader = gevent.spawn(lambda: [received.append(fast.get(5)) for _ in range(10)])
    for i in range(10):
        bus.publish(topics.AGENT_EVENTS, "1001", state("1001", ev.READY if i % 2 else ev.NOT_READY, ts=now_us() + i))
        gevent.sleep(0.01)
    reader.join(5)
    assert len([e for e in received if e is not None]) == 10
    kept = drain(slow)
    assert len(kept) == 3 and slow.dropped == 7
    assert [e.timestamp_us for e in kept] == sorted(e.timestamp_us for e in kept)
    assert kept[-1].state_changed.event_id == received[-1].state_changed.event_id


def test_events_older_than_the_subscription_are_not_delivered(setup):
    bus, _, feed = setup
    bus.publish(topics.QUEUE_EVENTS, "old", offer("old", ts=now_us() - 3_600_000_000))
    sub = feed.subscribe("1001")
    bus.publish(topics.QUEUE_EVENTS, "older", offer("older", ts=now_us() - 60_000_000))
    bus.publish(topics.QUEUE_EVENTS, "recent", offer("recent", ts=now_us() - 500_000))   # within the grace
    bus.publish(topics.QUEUE_EVENTS, "new", offer("new"))
    wait_for(lambda: sub.pending() == 2)
    gevent.sleep(0.05)
    assert [e.call_offered.call_uuid for e in drain(sub)] == ["recent", "new"]


def test_the_screen_pop_is_unknown_for_withheld_numbers(setup):
    bus, _, feed = setup
    sub = feed.subscribe("1001")
    bus.publish(topics.QUEUE_EVENTS, "c1", offer("c1", ani=""))
    wait_for(lambda: sub.pending())
    customer = sub.get(0).call_offered.customer
    assert not customer.known and customer.phone == ""


def test_close_unregisters_and_wakes_a_waiting_reader(setup):
    _, _, feed = setup
    sub = feed.subscribe("1001")
    waiter = gevent.spawn(sub.get, 10)
    gevent.sleep(0.01)
    sub.close()
    assert waiter.get(timeout=1) is None
    assert feed.subscriber_count() == 0
    sub.close()                       # idempotent
    assert sub.get(0) is None


def test_cdrs_become_history_once_even_when_replayed(setup):
    bus, store, _ = setup
    cdr = ev.Cdr(event_id="cdr:c1", call_uuid="c1", ani="+15551234567", start_us=5,
                 disposition=ev.DISPOSITION_ANSWERED)
    bus.publish(topics.CDRS, "c1", cdr)
    bus.publish(topics.CDRS, "c1", cdr)
    wait_for(lambda: store.lookup("15551234567").history)
    gevent.sleep(0.1)
    assert len(store.lookup("15551234567").history) == 1
