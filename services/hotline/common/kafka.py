"""The Kafka side of the event bus (kafka-python under gevent).

Producer: acks=all with retries, keyed by call UUID / agent id so one call's
events stay ordered. Consumers: manual commits after the handler made the
batch durable (see hotline.common.bus.Consumer), so delivery is
at-least-once. kafka-python's client threads are greenlets once gevent has
patched the process.
"""
from __future__ import annotations

import logging
import time
from typing import Sequence

from google.protobuf.message import Message
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from hotline.common import topics
from hotline.common.bus import EventBus, RawRecord, Source
from hotline.common.errors import Unavailable
from hotline.common.metrics import LagKey
from hotline.common.settings import KafkaSettings

log = logging.getLogger(__name__)


class KafkaBus(EventBus):
    def __init__(self, settings: KafkaSettings, *, partitions: int = 3) -> None:
        super().__init__()
        self.settings = settings
        self.partitions = partitions
        self._producer: KafkaProducer | None = None
        self._by_full_name = {topics.full_name(settings.topic_prefix, t): t for t in topics.MESSAGE_TYPES}

    def full_name(self, topic: str) -> str:
        return topics.full_name(self.settings.topic_prefix, topic)

    def ensure_topics(self, timeout_s: float = 30.0) -> None:
        """Create Hotline's topics if they do not exist yet."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.settings.bootstrap_servers,
                                         client_id=f"{self.settings.client_id}-admin")
                break
            except KafkaError as exc:
                if time.monotonic() > deadline:
                    raise Unavailable(f"Kafka at {self.settings.bootstrap_servers} is not reachable: {exc}") from exc
                time.sleep(0.5)
        try:
            existing = set(admin.list_topics())
            wanted = [NewTopic(name, self.partitions, 1,
                               topic_configs={"cleanup.policy": "compact"} if short in topics.COMPACTED else {})
                      for name, short in self._by_full_name.items() if name not in existing]
            if wanted:
                try:
                    admin.create_topics(wanted)
                except TopicAlreadyExistsError:
                    pass
            # A consumer that joins before a new topic has leaders gets no
            # partitions until its next metadata refresh: wait for them here.
            while True:
                described = admin.describe_topics(list(self._by_full_name))
                ready = [t for t in described if not t.get("error_code") and t.get("partitions")
                         and all(p.get("leader_id", -1) >= 0 for p in t["partitions"])]
                if len(ready) == len(self._by_full_name):
                    break
                if time.monotonic() > deadline:
                    raise Unavailable(f"Kafka topics not ready after {timeout_s}s: "
                                      f"{sorted(set(self._by_full_name) - {t.get('name') for t in ready})}")
                time.sleep(0.2)
        finally:
            admin.close()

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.settings.bootstrap_servers,
                    client_id=self.settings.client_id,
                    acks="all", retries=10, linger_ms=2,
                    max_in_flight_requests_per_connection=1,  # keep per-key order across retries
                    retry_backoff_ms=200,
                )
            except KafkaError as exc:
                raise Unavailable(f"Kafka at {self.settings.bootstrap_servers} is not reachable: {exc}") from exc
        return self._producer

    def publish(self, topic: str, key: str, message: Message) -> None:
        self.publish_raw(topic, key.encode(), message.SerializeToString())

    def publish_raw(self, topic: str, key: bytes | None, payload: bytes) -> None:
        self.producer.send(self.full_name(topic), key=key, value=payload)

    def flush(self, timeout_s: float | None = None) -> None:
        if self._producer is not None:
            self._producer.flush(timeout=timeout_s)

    def open_source(self, group: str, topic_names: Sequence[str]) -> Source:
        return _KafkaSource(self, group, topic_names)

    def read_log(self, topic_names: Sequence[str], since_ms: int | None = None,
                 timeout_s: float = 60.0) -> list[RawRecord]:
        """Every record of the topics (from since_ms on, by record timestamp)
        up to their end at the time of the call, in per-partition order;
        no consumer group, nothing committed."""
        consumer = KafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers,
                                 client_id=f"{self.settings.client_id}-reader", group_id=None,
                                 enable_auto_commit=False)
        try:
            deadline = time.monotonic() + timeout_s
            partitions = []
            for short in topic_names:
                name = self.full_name(short)
                while not consumer.partitions_for_topic(name):
                    if time.monotonic() > deadline:
                        raise Unavailable(f"Kafka has no partitions for topic {name} (is it created?)")
                    time.sleep(0.2)
                partitions += [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name))]
            consumer.assign(partitions)
            end = consumer.end_offsets(partitions)
            if since_ms is None:
                consumer.seek_to_beginning(*partitions)
            else:
                starts = consumer.offsets_for_times({tp: since_ms for tp in partitions})
                for tp in partitions:
                    found = starts.get(tp)
                    consumer.seek(tp, found.offset if found is not None else end[tp])
            out: list[RawRecord] = []
            while any(consumer.position(tp) < end[tp] for tp in partitions):
                if time.monotonic() > deadline:
                    raise Unavailable(f"reading {', '.join(topic_names)} took over {timeout_s}s")
                for tp, records in consumer.poll(timeout_ms=500, max_records=10_000).items():
                    short = self._by_full_name[tp.topic]
                    out += [RawRecord(short, tp.partition, r.offset, r.key, r.value or b"", r.timestamp)
                            for r in records if r.offset < end[tp]]
            return out
        finally:
            consumer.close(autocommit=False)

    def healthy(self) -> bool:
        return self._producer is None or self._producer.bootstrap_connected()

    def close(self) -> None:
        super().close()
        if self._producer is not None:
            self._producer.flush(timeout=10)
            self._producer.close(timeout=10)
            self._producer = None


class _KafkaSource(Source):
    def __init__(self, bus: KafkaBus, group: str, topic_names: Sequence[str], *, metadata_timeout_s: float = 30.0) -> None:
        self.bus = bus
        self._consumer = KafkaConsumer(
            bootstrap_servers=bus.settings.bootstrap_servers,
            client_id=f"{bus.settings.client_id}-{group}",
            group_id=f"{bus.settings.topic_prefix}{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=10_000,
        )
        # Know every topic's partitions before joining the group: under gevent,
        # kafka-python 3.0.12 can miss the second SyncGroup of a join that began
        # with an empty assignment and then sit with no partitions (measured:
        # 7 hangs in 60 joins; none with the metadata fetched first).
        full_names = [bus.full_name(t) for t in topic_names]
        deadline = time.monotonic() + metadata_timeout_s
        for name in full_names:
            while not self._consumer.partitions_for_topic(name):
                if time.monotonic() > deadline:
                    self._consumer.close(autocommit=False)
                    raise Unavailable(f"Kafka has no partitions for topic {name} (is it created?)")
                time.sleep(0.2)
        self._consumer.subscribe(full_names)
        # First offset polled but not committed yet, per partition: the lag
        # counts from there while a batch is being handled.
        self._uncommitted: dict[TopicPartition, int] = {}

    def poll(self, timeout_s: float, max_records: int) -> list[RawRecord]:
        polled = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        out: list[RawRecord] = []
        for tp, records in polled.items():
            short = self.bus._by_full_name.get(tp.topic)
            if short is None or not records:
                continue
            self._uncommitted.setdefault(tp, records[0].offset)
            for r in records:
                out.append(RawRecord(short, tp.partition, r.offset, r.key, r.value or b"", r.timestamp))
        return out

    def commit(self) -> None:
        self._consumer.commit()
        self._uncommitted.clear()

    def lag(self) -> dict[LagKey, int]:
        """End offset (the highwater of the last fetch response, known
        locally) minus the first uncommitted offset or, with nothing pending,
        the position (local once the partition has been fetched; timeout 0,
        so never a blocking round trip: unknown partitions are skipped)."""
        out: dict[LagKey, int] = {}
        for tp in self._consumer.assignment() or ():
            short = self.bus._by_full_name.get(tp.topic)
            high = self._consumer.highwater(tp)
            if short is None or high is None:
                continue
            start = self._uncommitted.get(tp)
            if start is None:
                start = self._consumer.position(tp, timeout_ms=0)
            if start is not None:
                out[(short, tp.partition)] = max(0, high - start)
        return out

    def close(self) -> None:
        self._consumer.close(autocommit=False)
