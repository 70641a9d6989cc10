"""Consumer lag against the real Kafka broker: hotline_bus_consumer_lag_records
reports the records a group has not yet handled and committed, per
partition, and reads 0 once they are consumed."""
from __future__ import annotations

import time

import gevent.event
import pytest
from prometheus_client import REGISTRY

from hotline.common import topics
from hotline.proto.events.v1 import events_pb2 as ev

pytestmark = pytest.mark.kafka

PARTITIONS = 3        # KafkaBus's default for the topics it creates


def wait_until(predicate, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def lags(group: str) -> dict[str, float]:
    """partition -> lag, for the partitions the consumer reports."""
    out = {}
    for p in range(PARTITIONS):
        value = REGISTRY.get_sample_value("hotline_bus_consumer_lag_records",
                                          {"group": group, "topic": topics.CDRS, "partition": str(p)})
        if value is not None:
            out[str(p)] = value
    return out


def test_lag_is_the_unconsumed_records_and_zero_after_consumption(kafka_bus, unique_name):
    group = f"lag-{unique_name}"
    gate = gevent.event.Event()
    seen: list[str] = []

    def gated(batch):
        gate.wait()
        seen.extend(r.value.call_uuid for r in batch)

    # One key: every record lands in one partition, so its lag is exact.
    for n in range(30):
        kafka_bus.publish(topics.CDRS, "one-call", ev.Cdr(event_id=f"cdr:l{n}", call_uuid=f"l{n}"))
    kafka_bus.flush()
    consumer = kafka_bus.consume(group, [topics.CDRS], gated, batch_size=10, batch_timeout_s=0.2)
    consumer.lag_interval_s = 0.0

    # The first batch is held in the handler: nothing is committed, all 30 are lag.
    assert wait_until(lambda: 30.0 in lags(group).values()), lags(group)
    busy = next(p for p, v in lags(group).items() if v == 30.0)
    gate.set()
    assert wait_until(lambda: len(seen) == 30 and lags(group).get(busy) == 0.0), (len(seen), lags(group))
    assert seen == [f"l{n}" for n in range(30)]
    # Every partition the group holds reads 0 once its fetches have been answered.
    assert wait_until(lambda: len(lags(group)) == PARTITIONS and set(lags(group).values()) == {0.0}), lags(group)
    assert REGISTRY.get_sample_value("hotline_bus_records_consumed_total",
                                     {"group": group, "topic": topics.CDRS}) == 30

    # Steady state: new records show up as lag until handled.
    gate.clear()
    for n in range(30, 35):
        kafka_bus.publish(topics.CDRS, "one-call", ev.Cdr(event_id=f"cdr:l{n}", call_uuid=f"l{n}"))
    kafka_bus.flush()
    assert wait_until(lambda: lags(group).get(busy) == 5.0), lags(group)
    gate.set()
    assert wait_until(lambda: len(seen) == 35 and lags(group).get(busy) == 0.0), (len(seen), lags(group))

    consumer.stop()
    assert lags(group) == {}
