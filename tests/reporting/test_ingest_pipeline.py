"""The ingestion pipeline's order on a real store (the ClickHouse 18.16 server
and chdb), driven by the real Consumer over the in-process bus (the
single-process mode's bus; the Kafka one: test_ingest_replay.py):
rows are stored, then the roll-ups refreshed (after_insert), then the
offsets committed; a failure anywhere before the commit retries the batch.
"""
from __future__ import annotations

import time

import pytest

from hotline.common import topics
from hotline.common.bus import Consumer, Record
from hotline.common.errors import HotlineError
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import metrics, migrations
from hotline.reporting.ingest import CONSUMER_GROUP, INGESTED_TOPICS, Ingester

S = 1_000_000
T0 = 1_709_283_600 * S


def cdr(uuid: str) -> ev.Cdr:
    return ev.Cdr(event_id=f"cdr:{uuid}", call_uuid=uuid, queue="sales", disposition=ev.DISPOSITION_ANSWERED,
                  start_us=T0, enqueue_us=T0 + 5 * S, connect_us=T0 + 9 * S, end_us=T0 + 60 * S,
                  queue_wait_us=4 * S, talk_us=51 * S)


def leg_hangup(uuid: str, seq: int) -> ev.CallEvent:
    return ev.CallEvent(event_id=f"core:{seq}", call_uuid=uuid, leg_uuid=uuid, leg=ev.LEG_CALLER,
                        type=ev.CALL_HANGUP_COMPLETE, timestamp_us=T0 + 60 * S, created_us=T0, hangup_us=T0 + 60 * S)


def counts(store, table: str) -> tuple[int, int]:
    """(distinct events, rows) in ``table``."""
    ((distinct, rows),) = store.query(f"SELECT uniqExact(event_id), count() FROM {table}")
    return int(distinct), int(rows)


def pending(bus) -> list[str]:
    """What a consumer of the reporting group would be given now: everything not committed."""
    source = bus.open_source(CONSUMER_GROUP, INGESTED_TOPICS)
    try:
        return [r.topic for r in source.poll(0.0, 1000)]
    finally:
        source.close()


def wait_for(what, predicate, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def consume(bus, handler) -> Consumer:
    consumer = Consumer(bus, CONSUMER_GROUP, INGESTED_TOPICS, handler, batch_size=100, batch_timeout_s=0.05,
                        retry_min_s=0.01, retry_max_s=0.05)
    consumer.start()
    return consumer


def test_roll_ups_are_refreshed_after_the_rows_are_stored_and_before_the_commit(inprocess_bus, store):
    migrations.up(store)
    bus = inprocess_bus
    for i in range(3):
        bus.publish(topics.CDRS, f"c{i}", cdr(f"c{i}"))
    bus.publish(topics.CALL_EVENTS, "c0", leg_hangup("c0", 1))
    seen = []

    def after_insert(batch):
        seen.append(dict(batch=sorted(r.value.event_id for r in batch), cdrs=counts(store, "cdrs"),
                         legs=counts(store, "cdr_legs"), uncommitted=len(pending(bus))))

    consumer = consume(bus, Ingester(store, after_insert=after_insert))
    try:
        wait_for("the batch", lambda: consumer.processed == 4)
    finally:
        consumer.stop()
    assert seen == [dict(batch=["cdr:c0", "cdr:c1", "cdr:c2", "core:1"], cdrs=(3, 3), legs=(1, 1), uncommitted=4)]
    assert pending(bus) == []                      # committed once after_insert returned


def test_a_failed_refresh_retries_the_whole_batch_and_loses_nothing(inprocess_bus, store):
    migrations.up(store)
    bus = inprocess_bus
    for i in range(3):
        bus.publish(topics.CDRS, f"c{i}", cdr(f"c{i}"))
    attempts = []

    def after_insert(batch):
        attempts.append([r.value.event_id for r in batch])
        if len(attempts) == 1:
            assert pending(bus) == [topics.CDRS] * 3      # nothing committed yet
            raise RuntimeError("the roll-up refresh failed (ClickHouse went away)")

    consumer = consume(bus, Ingester(store, after_insert=after_insert))
    try:
        wait_for("the retried batch", lambda: consumer.processed == 3)
    finally:
        consumer.stop()
    assert attempts == [["cdr:c0", "cdr:c1", "cdr:c2"]] * 2
    assert counts(store, "cdrs") == (3, 6)          # stored twice, three calls
    assert pending(bus) == []


def test_a_failed_insert_raises_before_the_refresh_and_is_counted(store):
    migrations.up(store)
    store.execute("DROP TABLE ivr_visits")               # the insert into it must fail
    refreshed = []
    ingester = Ingester(store, after_insert=refreshed.append)
    visit = ev.IvrNodeVisit(event_id="ivr:c0:1", call_uuid="c0", flow="main", node="greeting", sequence=1,
                            entered_us=T0, left_us=T0 + S, outcome="next")
    batch = [Record(topics.CDRS, 0, 0, "c0", cdr("c0"), 0), Record(topics.IVR_EVENTS, 0, 0, "c0", visit, 0)]
    errors = metrics.INSERT_ERRORS.labels("ivr_visits")._value.get()
    with pytest.raises(HotlineError):
        ingester(batch)
    assert refreshed == []                                # no refresh, so no commit: the batch comes again
    assert metrics.INSERT_ERRORS.labels("ivr_visits")._value.get() == errors + 1
