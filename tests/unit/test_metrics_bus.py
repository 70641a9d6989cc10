"""The event bus's consumer metrics on the in-process bus (hermetic): lag
per group/topic/partition while records wait and after they are handled,
records consumed and dead-lettered per group and topic, and no series left
behind by a stopped consumer. The same lag on a real Kafka broker is tested
in tests/bus/test_consumer_lag.py."""
from __future__ import annotations

import time
import uuid

import gevent.event
import pytest
from prometheus_client import REGISTRY

from hotline.common import metrics, topics
from hotline.common.bus import InProcessBus
from hotline.proto.events.v1 import events_pb2 as ev


def wait_until(predicate, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        gevent.sleep(0.02)
    return predicate()


def lag(group: str, topic: str = topics.CDRS, partition: str = "0") -> float | None:
    return REGISTRY.get_sample_value("hotline_bus_consumer_lag_records",
                                     {"group": group, "topic": topic, "partition": partition})


def consumed(group: str, topic: str = topics.CDRS) -> float:
    return REGISTRY.get_sample_value("hotline_bus_records_consumed_total", {"group": group, "topic": topic}) or 0.0


def cdr(n: int) -> ev.Cdr:
    return ev.Cdr(event_id=f"cdr:m{n}", call_uuid=f"m{n}", queue="support")


@pytest.fixture
def bus():
    b = InProcessBus()
    yield b
    b.close()


@pytest.fixture
def group() -> str:
    return "g" + uuid.uuid4().hex[:8]


def test_lag_counts_records_waiting_and_in_hand_then_drops_to_zero(bus, group):
    gate = gevent.event.Event()
    seen: list[str] = []

    def slow(batch):
        gate.wait()
        seen.extend(r.value.call_uuid for r in batch)

    for n in range(7):
        bus.publish(topics.CDRS, f"k{n}", cdr(n))
    consumer = bus.consume(group, [topics.CDRS], slow, batch_size=3)
    consumer.lag_interval_s = 0.0
    # The first batch (3) is in the handler, 4 more wait: all 7 are lag.
    assert wait_until(lambda: lag(group) == 7), lag(group)
    assert lag(group, topics.CDRS) == 7
    gate.set()
    assert wait_until(lambda: len(seen) == 7 and lag(group) == 0), (seen, lag(group))
    assert consumed(group) == 7

    gate.clear()
    for n in range(7, 9):
        bus.publish(topics.CDRS, f"k{n}", cdr(n))
    assert wait_until(lambda: lag(group) == 2), lag(group)
    gate.set()
    assert wait_until(lambda: lag(group) == 0 and consumed(group) == 9)


def test_dead_letters_are_counted_per_group_and_topic(bus, group):
    seen: list[str] = []
    bus.consume(group, [topics.CDRS], lambda batch: seen.extend(r.value.call_uuid for r in batch))
    bus.publish(topics.CDRS, "k", cdr(1))
    bus.publish_raw(topics.CDRS, b"k", b"\xff\xfe not a protobuf")
    assert wait_until(lambda: seen == ["m1"] and lag(group) == 0)
    assert REGISTRY.get_sample_value("hotline_bus_records_dead_lettered_total",
                                     {"group": group, "topic": topics.CDRS}) == 1
    assert consumed(group) == 1      # the dead letter is not a consumed record


def test_a_stopped_consumer_leaves_no_lag_series(bus, group):
    consumer = bus.consume(group, [topics.CDRS, topics.QUEUE_EVENTS], lambda batch: None)
    consumer.lag_interval_s = 0.0
    bus.publish(topics.CDRS, "k", cdr(1))
    assert wait_until(lambda: lag(group) == 0 and lag(group, topics.QUEUE_EVENTS) == 0)
    consumer.stop()
    assert lag(group) is None and lag(group, topics.QUEUE_EVENTS) is None


def test_report_lag_drops_partitions_no_longer_held(group):
    held = metrics.report_lag(group, {(topics.CDRS, 0): 4, (topics.CDRS, 1): 0}, set())
    assert lag(group, partition="0") == 4 and lag(group, partition="1") == 0
    held = metrics.report_lag(group, {(topics.CDRS, 1): 2}, held)   # partition 0 went to another consumer
    assert lag(group, partition="0") is None and lag(group, partition="1") == 2
    assert held == {(topics.CDRS, 1)}
    metrics.report_lag(group, {}, held)
    assert lag(group, partition="1") is None
