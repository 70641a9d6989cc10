"""The Kafka consumer's record reader (hotline.common.kafka.read_v2_records
and the PartitionRecords it installs) against kafka-python's own record
classes, on the same bytes: every record, offset, key, value and timestamp
equal; the same CorruptRecordError on a damaged batch; the same fetch
position. Hermetic (batches built with kafka-python's builders), plus one
round trip through the real broker compared with the stock consumer."""
from __future__ import annotations

import struct

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.record import MemoryRecords
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder
from kafka.record.util import calc_crc32c

from hotline.common import kafka as hkafka
from hotline.common import topics
from hotline.common.bus import RawRecord

TP = TopicPartition("hotline.call-events.v1", 2)
SHORT = {TP.topic: topics.CALL_EVENTS}


def v2_batch(records, *, base_offset=0, codec=0, attributes=0, transactional=False) -> bytes:
    """One message-format-v2 batch: records are (offset delta, timestamp, key, value, headers)."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=transactional,
                                        producer_id=7 if transactional else -1,
                                        producer_epoch=0 if transactional else -1,
                                        base_sequence=0 if transactional else -1, batch_size=1 << 22)
    for offset, timestamp, key, value, headers in records:
        builder.append(offset, timestamp=timestamp, key=key, value=value, headers=headers)
    data = bytearray(builder.build())
    struct.pack_into(">q", data, 0, base_offset)          # the broker's offset: outside the CRC
    if attributes:
        (current,) = struct.unpack_from(">h", data, 21)
        struct.pack_into(">h", data, 21, current | attributes)
        struct.pack_into(">I", data, 17, calc_crc32c(memoryview(data)[21:]))
    return bytes(data)


def legacy_batch(records, *, magic=1, base_offset=0) -> bytes:
    builder = LegacyRecordBatchBuilder(magic=magic, compression_type=0, batch_size=1 << 22)
    for offset, timestamp, key, value, _ in records:
        builder.append(base_offset + offset, timestamp=timestamp, key=key, value=value)
    return bytes(builder.build())


def stock_records(batch: bytes) -> list[RawRecord]:
    """What kafka-python reads from one v2 batch, as the source delivered it before the reader."""
    parsed = DefaultRecordBatch(batch)
    return [RawRecord(topics.CALL_EVENTS, TP.partition, r.offset, r.key, r.value or b"", r.timestamp)
            for r in parsed]


def reader_records(batch: bytes) -> list[RawRecord]:
    parsed = DefaultRecordBatch(batch)
    log_append = parsed.max_timestamp if parsed.attributes & 0x08 else None
    return hkafka.read_v2_records(batch, parsed.records_count, parsed.base_offset, parsed.first_timestamp,
                                  log_append, topics.CALL_EVENTS, TP.partition)


T0 = 1_709_283_600_000

SHAPES = {
    "typical events": [(i, T0 + i * 3, f"call-{i}".encode(), b"\x0a\x05event" + bytes([i % 256]) * 150, [])
                       for i in range(120)],
    "null and empty keys and values": [(0, T0, None, b"v", []), (1, T0, b"", None, []), (2, T0, b"k", b"", []),
                                       (3, T0, None, None, [])],
    "long varints: big values, offset and time deltas": [
        (0, T0, b"k", b"x" * 70, []), (70, T0 + 70, b"k" * 9000, b"y" * 9000, []),
        (9000, T0 + 9000, b"k", b"z" * 200_000, []), (2_000_000, T0 + 10_000_000, None, b"w", [])],
    "timestamps before the first one": [(0, T0, b"a", b"1", []), (1, T0 - 1, b"b", b"2", []),
                                        (2, T0 - 5000, b"c", b"3", [])],
    "headers": [(0, T0, b"k", b"v", [("trace", b"abc"), ("empty", b""), ("null", None)]),
                (1, T0 + 1, b"k", b"v", [("h" * 300, b"v" * 300)]), (2, T0 + 2, b"k", b"v", [])],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_batch_reads_as_kafka_python_reads_it(shape):
    batch = v2_batch(SHAPES[shape], base_offset=1_000_000)
    assert reader_records(batch) == stock_records(batch)
    assert reader_records(batch)[0].offset == 1_000_000
    assert {type(r) for r in reader_records(batch)} == {RawRecord}     # named fields, not bare tuples


def test_log_append_time_gives_every_record_the_brokers_timestamp():
    batch = v2_batch(SHAPES["typical events"][:5], attributes=0x08)
    records = reader_records(batch)
    assert records == stock_records(batch)
    assert {r.timestamp_ms for r in records} == {DefaultRecordBatch(batch).max_timestamp}


@pytest.mark.parametrize("damage", ["truncated", "trailing bytes", "record longer than said",
                                    "negative header count", "record count too high"])
def test_a_malformed_batch_is_refused_as_kafka_python_refuses_it(damage):
    batch = bytearray(v2_batch(SHAPES["typical events"][:3]))
    if damage == "truncated":
        batch = batch[:-7]
    elif damage == "trailing bytes":
        batch += b"\x00\x00"
    elif damage == "record longer than said":
        batch[61] += 2                                       # first record's length varint (zigzag: +1)
    elif damage == "negative header count":
        batch[-1] = 0x01                                     # last record's header count: zigzag -1
    elif damage == "record count too high":
        struct.pack_into(">i", batch, 57, 4)
    with pytest.raises(CorruptRecordError):
        stock_records(bytes(batch))
    with pytest.raises(CorruptRecordError):
        reader_records(bytes(batch))


# -- one partition's fetched records: several batches, as the fetcher sees them ----------------

def partition_records(cls, data: bytes, fetch_offset: int = 0, check_crcs: bool = True):
    drained = []
    return cls(fetch_offset, TP, MemoryRecords(data), check_crcs=check_crcs,
               on_drain=drained.append), drained


def reader_class():
    return type("Reader", (hkafka._RawPartitionRecords,), {"short_names": SHORT})


def as_raw(records) -> list[RawRecord]:
    return [RawRecord(topics.CALL_EVENTS, TP.partition, r.offset, r.key, r.value or b"", r.timestamp)
            for r in records]


def from_zero(records):
    """The records with offset deltas 0, 1, ... (a batch of its own)."""
    return [(delta, *rest) for delta, (_, *rest) in enumerate(records)]


def fetched(*, gzip: bool = True) -> bytes:
    """One partition's fetch: offsets 100-139, a transaction marker at 140, 141-180 (and 181-220 gzipped)."""
    typical = SHAPES["typical events"]
    parts = [v2_batch(typical[:40], base_offset=100),
             v2_batch([(0, T0, None, b"\x00\x00\x00\x00\x00\x00", [])], base_offset=140, attributes=0x20 | 0x10,
                      transactional=True),                  # a control batch (transaction marker): no record
             v2_batch(from_zero(typical[40:80]), base_offset=141)]
    if gzip:
        parts.append(v2_batch(from_zero(typical[80:]), base_offset=181, codec=1))   # compressed: kafka-python's path
    return b"".join(parts)


def test_a_fetch_of_several_batches_reads_as_kafka_python_reads_it():
    data = fetched()
    stock, _ = partition_records(Fetcher.PartitionRecords, data)
    ours, drained = partition_records(reader_class(), data)
    expected = as_raw(stock.take())
    assert ours.take() == expected
    assert len(expected) == 120 and [r.offset for r in expected] == list(range(100, 140)) + list(range(141, 221))
    assert ours.next_fetch_offset == stock.next_fetch_offset == 221
    assert drained and ours.records_read == 120


def test_a_partial_take_leaves_the_position_after_the_last_record_taken():
    data = fetched(gzip=False)
    ours, _ = partition_records(reader_class(), data)
    first = ours.take(50)
    assert [r.offset for r in first] == list(range(100, 140)) + list(range(141, 151))
    assert ours.next_fetch_offset == 151
    rest = ours.take(1000)
    assert [r.offset for r in rest] == list(range(151, 181)) and ours.next_fetch_offset == 181


def test_a_fetch_from_the_middle_of_a_batch_skips_the_records_before_it():
    data = fetched(gzip=False)
    stock, _ = partition_records(Fetcher.PartitionRecords, data, fetch_offset=130)
    ours, _ = partition_records(reader_class(), data, fetch_offset=130)
    assert ours.take() == as_raw(stock.take())
    assert ours.next_fetch_offset == 181


def test_legacy_batches_are_read_through_kafka_python():
    records = SHAPES["typical events"][:10]
    data = legacy_batch(records, magic=1, base_offset=5) + legacy_batch(records[:3], magic=0, base_offset=15)
    stock, _ = partition_records(Fetcher.PartitionRecords, data)
    ours, _ = partition_records(reader_class(), data)
    assert ours.take() == as_raw(stock.take())
    assert ours.next_fetch_offset == 18


def test_a_batch_whose_crc_does_not_match_is_refused():
    data = bytearray(fetched(gzip=False))
    data[300] ^= 0xFF                                        # a byte inside the first batch's records
    ours, _ = partition_records(reader_class(), bytes(data))
    with pytest.raises(CorruptRecordError, match="crc"):
        ours.take()
    stock, _ = partition_records(Fetcher.PartitionRecords, bytes(data))
    with pytest.raises(CorruptRecordError, match="crc"):
        stock.take()


def test_the_reader_is_installed_only_where_it_was_checked(monkeypatch):
    class FakeConsumer:
        def __init__(self, isolation_level):
            self._fetcher = Fetcher.__new__(Fetcher)
            self._fetcher.config = {"isolation_level": isolation_level}

    consumer = FakeConsumer("read_uncommitted")
    assert hkafka.install_record_reader(consumer, SHORT)
    assert issubclass(consumer._fetcher.PartitionRecords, hkafka._RawPartitionRecords)
    assert consumer._fetcher.PartitionRecords.short_names == SHORT

    committed = FakeConsumer("read_committed")
    assert not hkafka.install_record_reader(committed, SHORT)
    assert "PartitionRecords" not in vars(committed._fetcher)

    monkeypatch.setattr(hkafka.kafka, "__version__", "9.9.9")
    other = FakeConsumer("read_uncommitted")
    assert not hkafka.install_record_reader(other, SHORT)
    assert "PartitionRecords" not in vars(other._fetcher)


@pytest.mark.kafka
def test_the_consumer_source_reads_what_kafka_python_reads(kafka_bus):
    """Through the real broker: the consumer group's source (the reader)
    against read_log (a plain kafka-python consumer), record by record."""
    payloads = [(f"k{i}".encode() if i % 7 else None, bytes([i % 256]) * (i * 13 % 900)) for i in range(600)]
    for key, value in payloads:
        kafka_bus.publish_raw(topics.CDRS, key, value)
    kafka_bus.flush(30)
    source = kafka_bus.open_source("reader-check", [topics.CDRS])
    try:
        assert source._raw_records, "the record reader is not installed on this kafka-python"
        got: list[RawRecord] = []
        for _ in range(200):
            got += source.poll(0.5, 1000)
            if len(got) >= len(payloads):
                break
        # lag() reads the position kafka-python's position() would return, without its round trips
        for tp in source._consumer.assignment():
            assert source._position(tp) == source._consumer.position(tp, timeout_ms=0)
    finally:
        source.close()
    expected = kafka_bus.read_log([topics.CDRS])

    def order(records):
        return sorted(records, key=lambda r: (r.partition, r.offset))
    assert order(got) == order(expected)
    assert sorted((r.key or b"-", r.value) for r in got) == sorted((k or b"-", v) for k, v in payloads)
    assert sum(r.key is None for r in got) == sum(k is None for k, _ in payloads)
