"""The IVR's outbox on the in-process bus: visits reach the bus in order,
gathered for a moment so the producer sends them together, and a full
outbox never blocks the caller (counted, logged, dropped). The real Kafka
producer refusing a visit: tests/integration/test_ivr_visits.py."""
import gevent
import pytest

from hotline.common import topics
from hotline.common.bus import InProcessBus
from hotline.ivr import metrics
from hotline.ivr.events import VisitOutbox
from hotline.proto.events.v1 import events_pb2 as ev


def visit(call_uuid, sequence, node="menu", outcome="next"):
    return ev.IvrNodeVisit(event_id=f"ivr:{call_uuid}:{sequence}", call_uuid=call_uuid, flow="main", node=node,
                           node_type="menu", sequence=sequence, outcome=outcome)


def unpublished() -> float:
    return metrics.VISITS_UNPUBLISHED._value.get()


def test_visits_reach_the_bus_in_order_keyed_by_call():
    bus = InProcessBus()
    outbox = VisitOutbox(bus)
    outbox.start()
    sent = [visit("c1", 1, "greeting"), visit("c2", 1, "greeting"), visit("c1", 2, "menu", "hangup")]
    for v in sent:
        outbox.put(v)
    outbox.stop()                                   # publishes what was put before it returns
    got = bus.messages(topics.IVR_EVENTS)
    assert [(r.key, ev.IvrNodeVisit.FromString(r.value)) for r in got] == [(v.call_uuid.encode(), v) for v in sent]


def test_a_full_outbox_drops_and_counts_instead_of_blocking_the_caller():
    bus = InProcessBus()
    outbox = VisitOutbox(bus, capacity=1)           # not started: nothing drains it
    before = unpublished()
    outbox.put(visit("c1", 1))
    outbox.put(visit("c1", 2))                      # returns at once: no room, dropped
    assert unpublished() == before + 1
    outbox.start()
    outbox.stop()
    assert [ev.IvrNodeVisit.FromString(r.value).sequence for r in bus.messages(topics.IVR_EVENTS)] == [1]


def published(bus):
    return [ev.IvrNodeVisit.FromString(r.value).event_id for r in bus.messages(topics.IVR_EVENTS)]


def test_visits_wait_for_the_gathering_window_and_stop_cuts_it_short():
    bus = InProcessBus()
    outbox = VisitOutbox(bus, gather_s=60)
    outbox.start()
    for sequence in (1, 2, 3):
        outbox.put(visit("c1", sequence))
        gevent.sleep(0.01)
    assert published(bus) == []                     # still gathering (for a minute)
    outbox.stop(timeout_s=5)                        # publishes them at once, in order, without the minute
    assert published(bus) == ["ivr:c1:1", "ivr:c1:2", "ivr:c1:3"]


def test_without_a_window_each_visit_goes_at_once():
    bus = InProcessBus()
    outbox = VisitOutbox(bus, gather_s=0)
    outbox.start()
    outbox.put(visit("c1", 1))
    for _ in range(100):
        if published(bus):
            break
        gevent.sleep(0.01)
    assert published(bus) == ["ivr:c1:1"]
    outbox.stop()


def test_a_batch_larger_than_max_batch_is_published_whole_and_in_order():
    bus = InProcessBus()
    outbox = VisitOutbox(bus, gather_s=60, max_batch=2)
    outbox.start()
    for sequence in range(1, 6):
        outbox.put(visit("c1", sequence))
    outbox.stop(timeout_s=5)
    assert published(bus) == [f"ivr:c1:{n}" for n in range(1, 6)]


@pytest.mark.parametrize("kwargs", [{"gather_s": -1}, {"max_batch": 0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        VisitOutbox(InProcessBus(), **kwargs)
