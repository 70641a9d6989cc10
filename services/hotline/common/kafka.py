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
from typing import Any, Iterator, Mapping, Sequence

import kafka
from google.protobuf.message import Message
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError, KafkaError, TopicAlreadyExistsError
from kafka.record.util import decode_varint

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
                    acks="all", retries=10, linger_ms=self.settings.linger_ms,
                    max_in_flight_requests_per_connection=1,  # keep per-key order across retries
                    retry_backoff_ms=200,
                    # kafka-python's own sensors: nothing reads them (Hotline's
                    # metrics are its own), and they cost ~10 % of each send().
                    metrics_enabled=False,
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
        self._raw_records = install_record_reader(self._consumer, bus._by_full_name)
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
            if self._raw_records:        # RawRecords already (RecordReader)
                out += records
            else:
                for r in records:
                    out.append(RawRecord(short, tp.partition, r.offset, r.key, r.value or b"", r.timestamp))
        return out

    def commit(self) -> None:
        self._consumer.commit()
        self._uncommitted.clear()

    def lag(self) -> dict[LagKey, int]:
        """End offset (the highwater of the last fetch response, known
        locally) minus the first uncommitted offset or, with nothing pending,
        the position (local once the partition has been fetched; never a
        blocking round trip: unknown partitions are skipped)."""
        out: dict[LagKey, int] = {}
        for tp in self._consumer.assignment() or ():
            short = self.bus._by_full_name.get(tp.topic)
            high = self._consumer.highwater(tp)
            if short is None or high is None:
                continue
            start = self._uncommitted.get(tp)
            if start is None:
                start = self._position(tp)
            if start is not None:
                out[(short, tp.partition)] = max(0, high - start)
        return out

    def _position(self, tp: TopicPartition) -> int | None:
        """The consumer's position as it stands. KafkaConsumer.position(tp,
        timeout_ms=0) first refreshes committed offsets, resets and
        validations (measured: ~1 ms of CPU per partition, every lag report);
        on the kafka-python version the record reader was checked against,
        the subscription state it ends by reading is read directly."""
        if self._raw_records:
            state = self._consumer._subscription.assignment.get(tp)
            position = state.position if state is not None else None
            return position.offset if position is not None else None
        return self._consumer.position(tp, timeout_ms=0)

    def close(self) -> None:
        self._consumer.close(autocommit=False)


# -- the consumer's record reader ------------------------------------------------
#
# kafka-python parses every fetched record in pure Python through four layers
# (DefaultRecordBatch._read_msg, a DefaultRecord, a ConsumerRecord namedtuple,
# then our RawRecord): measured 16.9 µs of CPU per record, the largest single
# cost of reporting's ingestion (docs/ingestion.md, "Throughput"). The reader
# below replaces only the innermost step, the iteration over one partition's
# fetched records (Fetcher.PartitionRecords._unpack_records), and yields
# RawRecords directly. Everything around it stays kafka-python's: fetching,
# positions, offsets, commits, rebalances. Each batch's CRC-32C is still
# checked (check_crcs, on by default) before its records are read, with
# kafka-python's own checksum; a record's framing is checked as kafka-python
# checks it (its length, the header count, nothing left over after the last
# record), and a violation raises the same CorruptRecordError.
#
# The fast path reads uncompressed message-format-v2 batches (what every
# Hotline producer writes: no compression configured); a compressed or legacy
# (v0/v1) batch is read through kafka-python's own record classes. It depends
# on kafka-python internals (PartitionRecords' generator and a batch's buffer;
# _KafkaSource._position on the subscription state), so it is installed only
# on the kafka-python versions it was checked against and only for
# read_uncommitted consumers (no transactional markers to honour); otherwise
# the stock path runs, unchanged.
# tests/reporting/test_ingest_kafka_records.py compares both on the same bytes.

RECORD_READER_VERSIONS = ("3.0.12",)
_V2_HEADER_SIZE = 61        # DefaultRecordBase.HEADER_STRUCT.size: the batch header before the first record
_LOG_APPEND_TIME = 0x08     # batch attribute: timestamps are the broker's (max_timestamp)


def read_v2_records(buffer: bytes | bytearray, count: int, base_offset: int, first_timestamp: int,
                    log_append_timestamp: int | None, topic: str, partition: int) -> list[RawRecord]:
    """The records of one uncompressed v2 batch (``buffer``: the whole batch,
    header included) as RawRecords, values ``b""`` for a null value.

    Kafka's varints are zigzag-encoded; one- and two-byte ones (every length,
    delta and count of a typical event) are decoded inline, longer ones by
    kafka-python's decode_varint. Raises CorruptRecordError on a malformed
    record, as kafka-python does."""
    data = bytes(buffer)
    pos = _V2_HEADER_SIZE
    out: list[RawRecord] = []
    append = out.append
    # RawRecord(...) runs the named tuple's Python __new__, which only calls
    # tuple.__new__(RawRecord, fields): call that directly (one frame less per record).
    new = tuple.__new__
    try:
        for _ in range(count):
            # Length => Varint
            b = data[pos]
            if b < 0x80:
                length = (b >> 1) ^ -(b & 1)
                pos += 1
            elif data[pos + 1] < 0x80:
                u = (b & 0x7f) | (data[pos + 1] << 7)
                length = (u >> 1) ^ -(u & 1)
                pos += 2
            else:
                length, pos = decode_varint(data, pos)
            start = pos
            # Attributes => Int8 (unused); TimestampDelta => Varlong
            b = data[pos + 1]
            if b < 0x80:
                ts_delta = (b >> 1) ^ -(b & 1)
                pos += 2
            elif data[pos + 2] < 0x80:
                u = (b & 0x7f) | (data[pos + 2] << 7)
                ts_delta = (u >> 1) ^ -(u & 1)
                pos += 3
            else:
                ts_delta, pos = decode_varint(data, pos + 1)
            # OffsetDelta => Varint
            b = data[pos]
            if b < 0x80:
                offset_delta = (b >> 1) ^ -(b & 1)
                pos += 1
            elif data[pos + 1] < 0x80:
                u = (b & 0x7f) | (data[pos + 1] << 7)
                offset_delta = (u >> 1) ^ -(u & 1)
                pos += 2
            else:
                offset_delta, pos = decode_varint(data, pos)
            # Key => Bytes (length -1: null)
            b = data[pos]
            if b < 0x80:
                n = (b >> 1) ^ -(b & 1)
                pos += 1
            else:
                n, pos = decode_varint(data, pos)
            if n >= 0:
                key: bytes | None = data[pos:pos + n]
                pos += n
            else:
                key = None
            # Value => Bytes (length -1: null)
            b = data[pos]
            if b < 0x80:
                n = (b >> 1) ^ -(b & 1)
                pos += 1
            elif data[pos + 1] < 0x80:
                u = (b & 0x7f) | (data[pos + 1] << 7)
                n = (u >> 1) ^ -(u & 1)
                pos += 2
            else:
                n, pos = decode_varint(data, pos)
            if n >= 0:
                value = data[pos:pos + n]
                pos += n
            else:
                value = b""
            # Headers => [HeaderKey HeaderValue]: read past (nothing in Hotline uses them)
            b = data[pos]
            if b == 0:
                pos += 1
            else:
                pos = _skip_headers(data, pos)
            if pos - start != length or pos > len(data):
                raise CorruptRecordError(f"Invalid record size: expected to read {length} bytes in record "
                                         f"payload, but instead read {pos - start}")
            append(new(RawRecord, (topic, partition, base_offset + offset_delta, key, value,
                                   first_timestamp + ts_delta if log_append_timestamp is None
                                   else log_append_timestamp)))
    except (ValueError, IndexError) as exc:      # a truncated or overlong varint, a cut-off record
        raise CorruptRecordError(f"Found invalid record structure: {exc!r}") from exc
    if pos != len(data):
        raise CorruptRecordError(f"{len(data) - pos} unconsumed bytes after all records consumed")
    return out


def _skip_headers(data: bytes, pos: int) -> int:
    count, pos = decode_varint(data, pos)
    if count < 0:
        raise CorruptRecordError(f"Found invalid number of record headers {count}")
    for _ in range(count):
        key_len, pos = decode_varint(data, pos)
        if key_len < 0:
            raise CorruptRecordError(f"Invalid negative header key size {key_len}")
        data[pos:pos + key_len].decode("utf-8")
        pos += key_len
        value_len, pos = decode_varint(data, pos)
        if value_len > 0:
            pos += value_len
    return pos


class _RawPartitionRecords(Fetcher.PartitionRecords):  # type: ignore[misc]
    """One partition's fetched records as RawRecords (see above)."""

    short_names: Mapping[str, str] = {}

    def _unpack_records(self, tp: TopicPartition, records: Any, key_deserializer: Any,
                        value_deserializer: Any) -> Iterator[RawRecord]:
        topic = self.short_names.get(tp.topic, tp.topic)
        partition = tp.partition
        try:
            batch = records.next_batch()
            last_batch = None
            while batch is not None:
                last_batch = batch
                if self.check_crcs and not batch.validate_crc():
                    raise CorruptRecordError(f"Record batch for partition {self.topic_partition} at offset "
                                             f"{batch.base_offset} failed crc check")
                if batch.magic == 2:
                    self.leader_epoch = batch.leader_epoch
                    if batch.is_control_batch:          # a transaction marker: not a record
                        self.next_fetch_offset = batch.next_offset
                        batch = records.next_batch()
                        continue
                if batch.magic == 2 and batch.compression_type == 0:
                    read = read_v2_records(
                        batch._buffer, batch.records_count, batch.base_offset, batch.first_timestamp,
                        batch.max_timestamp if batch.attributes & _LOG_APPEND_TIME else None, topic, partition)
                    self.records_read += len(read)
                    self.bytes_read += len(batch._buffer) - _V2_HEADER_SIZE
                    for record in read:
                        self.next_fetch_offset = record.offset + 1
                        yield record
                else:                                   # compressed or legacy: kafka-python's record classes
                    for r in batch:
                        if self.check_crcs and not r.validate_crc():
                            raise CorruptRecordError(f"Record for partition {self.topic_partition} at offset "
                                                     f"{r.offset} failed crc check")
                        self.records_read += 1
                        self.bytes_read += r.size_in_bytes
                        self.next_fetch_offset = r.offset + 1
                        yield RawRecord(topic, partition, r.offset, r.key, r.value or b"", r.timestamp)
                batch = records.next_batch()
            else:
                # As kafka-python: v2 keeps a batch's last offset even when
                # compaction removed its last record; fetch after it.
                if last_batch is not None and last_batch.magic == 2:
                    self.next_fetch_offset = last_batch.next_offset
                self.drain()
        except StopIteration:
            # As kafka-python: a StopIteration inside a generator would end it silently.
            log.exception("StopIteration raised unpacking messageset")
            raise RuntimeError("StopIteration raised unpacking messageset")


def install_record_reader(consumer: KafkaConsumer, short_names: Mapping[str, str]) -> bool:
    """Make ``consumer.poll()`` return RawRecords (short topic names from
    ``short_names``, full name -> short) read by :func:`read_v2_records`.
    Returns False, changing nothing, where that is not known to be exact:
    another kafka-python version, or a read_committed consumer."""
    fetcher = getattr(consumer, "_fetcher", None)
    if (kafka.__version__ not in RECORD_READER_VERSIONS or fetcher is None
            or fetcher.config.get("isolation_level") != "read_uncommitted"):
        log.warning("kafka-python %s: reading records through kafka-python's own (slower) record classes",
                    kafka.__version__)
        return False
    fetcher.PartitionRecords = type("RawPartitionRecords", (_RawPartitionRecords,),
                                    {"short_names": dict(short_names)})
    return True
