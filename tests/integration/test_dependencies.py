"""Smoke tests of the real dependencies that deploy/test.sh starts.

They talk to the broker and the server the way Hotline does (kafka-python
with acks=all and manual commits, clickhouse-driver over the native
protocol), so a broker or server version that the clients cannot use fails
here first, with a plain message, instead of somewhere deep in a service test.

Without HOTLINE_TEST_* variables (the tests were not started by
deploy/test.sh) the fixtures in tests/conftest.py fail the test when CI is
set and skip it otherwise.
"""
from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

MESSAGES = 20


@pytest.mark.kafka
def test_kafka_produce_consume_with_group_commit(kafka_bootstrap: str, unique_name: str) -> None:
    topic = f"test.deps.{unique_name}"  # created by the broker on first use (auto.create.topics.enable)
    group = f"group-{unique_name}"

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", retries=5,
                             client_id="hotline-smoke")
    try:
        for i in range(MESSAGES):
            producer.send(topic, key=f"call-{i % 4}".encode(), value=f"event-{i}".encode()).get(timeout=30)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)

    def consumer() -> KafkaConsumer:
        # Fetch the topic's metadata before subscribing. A consumer that joins
        # its group before it knows the topic's partitions gets an empty
        # assignment and rebalances again as soon as the metadata arrives; under
        # gevent, kafka-python 3.0.12 sometimes never applies that second
        # SyncGroup response (no assignment, no heartbeats: the member is
        # evicted after session.timeout.ms). Seen in about 1 in 9 runs on a
        # loaded machine, never with threads or with this warm-up.
        c = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                          enable_auto_commit=False, auto_offset_reset="earliest",
                          client_id="hotline-smoke")
        assert c.partitions_for_topic(topic), f"the broker does not know topic {topic}"
        c.subscribe([topic])
        return c

    first = consumer()
    try:
        received: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 60
        while len(received) < MESSAGES and time.monotonic() < deadline:
            for records in first.poll(timeout_ms=500).values():
                received.extend((r.key, r.value) for r in records)
        assert sorted(v for _, v in received) == sorted(f"event-{i}".encode() for i in range(MESSAGES))
        # one key, one partition: the order of a call's events is kept
        by_key: dict[bytes, list[int]] = {}
        for key, value in received:
            by_key.setdefault(key, []).append(int(value.split(b"-")[1]))
        assert all(seq == sorted(seq) for seq in by_key.values()), by_key

        first.commit()
        partitions = [TopicPartition(topic, p) for p in first.partitions_for_topic(topic)]
        committed = sum(first.committed(tp) or 0 for tp in partitions)
        assert committed == MESSAGES
    finally:
        first.close()

    # the same group resumes at the committed offsets: nothing is delivered twice
    second = consumer()
    try:
        again = []
        deadline = time.monotonic() + 60
        while not second.assignment() and time.monotonic() < deadline:
            again.extend(r for records in second.poll(timeout_ms=200).values() for r in records)
        assert second.assignment(), "the second consumer of the group got no partitions"
        again.extend(r for records in second.poll(timeout_ms=1000).values() for r in records)
        assert again == []
        assert sum(second.position(tp) for tp in second.assignment()) == MESSAGES
    finally:
        second.close()


@pytest.mark.clickhouse
def test_clickhouse_answers_over_native_protocol(clickhouse_address: tuple[str, int], unique_name: str) -> None:
    from clickhouse_driver import Client

    host, port = clickhouse_address
    client = Client(host, port=port, connect_timeout=10)
    try:
        [(version,)] = client.execute("SELECT version()")
        assert version and version[0].isdigit(), version

        table = f"default.smoke_{unique_name}"
        client.execute(f"CREATE TABLE {table} (call_id String, talk_s UInt32) ENGINE = Memory")
        try:
            client.execute(f"INSERT INTO {table} (call_id, talk_s) VALUES", [("a", 30), ("b", 12)])
            assert client.execute(f"SELECT count(), sum(talk_s) FROM {table}") == [(2, 42)]
        finally:
            client.execute(f"DROP TABLE IF EXISTS {table}")
    finally:
        client.disconnect()
