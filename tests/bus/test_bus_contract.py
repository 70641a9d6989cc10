"""The same contract for both event buses: the in-process one of the
single-process mode and the real Kafka broker. Publish/consume in key
order, commit after the handler, dead-letter bad payloads and keep going,
retry a failing handler without losing or skipping the batch."""
from __future__ import annotations

import time

import pytest

from hotline.common import topics
from hotline.proto.events.v1 import events_pb2 as ev


@pytest.fixture(params=["inprocess", pytest.param("kafka", marks=pytest.mark.kafka)])
def bus(request):
    return request.getfixturevalue("inprocess_bus" if request.param == "inprocess" else "kafka_bus")


def wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def cdr(n: int, call: str = "c") -> ev.Cdr:
    return ev.Cdr(event_id=f"cdr:{call}{n}", call_uuid=f"{call}{n}", queue="support", offers=n)


def test_messages_arrive_decoded_and_in_order_per_key(bus):
    seen: list[ev.Cdr] = []
    bus.consume("g1", [topics.CDRS], lambda batch: seen.extend(r.value for r in batch))
    for n in range(50):
        bus.publish(topics.CDRS, "same-call", cdr(n))
    bus.flush()
    assert wait_until(lambda: len(seen) == 50)
    assert [c.offers for c in seen] == list(range(50))


def test_a_malformed_payload_goes_to_the_dead_letter_topic_and_the_consumer_keeps_going(bus):
    seen: list[str] = []
    letters: list[ev.DeadLetter] = []
    bus.consume("g2", [topics.CDRS], lambda batch: seen.extend(r.value.call_uuid for r in batch))
    bus.consume("dlq-reader", [topics.DEAD_LETTER], lambda batch: letters.extend(r.value for r in batch))
    bus.publish(topics.CDRS, "k", cdr(1))
    bus.publish_raw(topics.CDRS, b"k", b"this is not a protobuf {\"json\": true}")
    bus.publish_raw(topics.CDRS, b"k", ev.Cdr(call_uuid="no-event-id").SerializeToString())
    bus.publish(topics.CDRS, "k", cdr(2))
    bus.flush()
    assert wait_until(lambda: seen == ["c1", "c2"] and len(letters) == 2), (seen, letters)
    assert letters[0].payload.startswith(b"this is not a protobuf")
    assert letters[0].source_topic == topics.CDRS and letters[0].consumer_group == "g2"
    assert "cannot decode hotline.proto.events.v1.Cdr" in letters[0].error
    assert "event_id is empty" in letters[1].error


def test_a_failing_handler_is_retried_and_nothing_is_skipped(bus):
    attempts = {"n": 0}
    seen: list[str] = []

    def flaky(batch):
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise RuntimeError("the database is away")
        seen.extend(r.value.call_uuid for r in batch)

    consumer = bus.consume("g3", [topics.CDRS], flaky)
    consumer.retry_min_s = 0.05
    bus.publish(topics.CDRS, "k", cdr(1))
    bus.flush()
    assert wait_until(lambda: seen == ["c1"])
    assert attempts["n"] >= 3


def test_committed_offsets_survive_a_consumer_restart(bus):
    first: list[str] = []
    c = bus.consume("g4", [topics.CDRS], lambda batch: first.extend(r.value.call_uuid for r in batch))
    bus.publish(topics.CDRS, "k", cdr(1))
    bus.flush()
    assert wait_until(lambda: first == ["c1"])
    time.sleep(0.3)       # let the commit land
    c.stop()
    second: list[str] = []
    bus.consume("g4", [topics.CDRS], lambda batch: second.extend(r.value.call_uuid for r in batch))
    bus.publish(topics.CDRS, "k", cdr(2))
    bus.flush()
    assert wait_until(lambda: "c2" in second)
    assert "c1" not in second
