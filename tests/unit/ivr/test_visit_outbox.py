"""The IVR's outbox on the in-process bus: visits reach the bus in order,
and a full outbox never blocks the caller (counted, logged, dropped). The
real Kafka producer refusing a visit: tests/integration/test_ivr_visits.py."""
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
