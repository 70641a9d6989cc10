"""The Kafka side of reporting: the consumer's handler that lands events in
ClickHouse.

    bus.consume("reporting", INGESTED_TOPICS, Ingester(store))

The pipeline (hotline.common.bus.Consumer) decodes and dead-letters; this
handler turns a batch into rows, inserts them table by table and returns;
only then does the pipeline commit the offsets. A failed insert raises, so
the same batch is retried and nothing is committed past it. Delivery is
therefore at-least-once: a row may be stored twice, and every query
dedupes by event_id (docs/metrics.md, "Idempotency").
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Sequence

from google.protobuf.message import Message

from hotline.common import topics
from hotline.common.bus import Record
from hotline.reporting import metrics
from hotline.reporting.store import ReportStore

log = logging.getLogger(__name__)

INGESTED_TOPICS = (topics.CALL_EVENTS, topics.AGENT_EVENTS, topics.QUEUE_EVENTS, topics.CDRS,
                   topics.RECORDINGS, topics.DEAD_LETTER)
CONSUMER_GROUP = "reporting"


@dataclasses.dataclass(frozen=True)
class TableSpec:
    table: str
    columns: tuple[str, ...]                       # without ingested_us (added to every row)
    to_row: Callable[[Message], tuple[Any, ...]]


def _enum_name(message: Message, field: str) -> str:
    """A proto enum field's value by name; a number this build does not know stays a number."""
    value = getattr(message, field)
    enum = message.DESCRIPTOR.fields_by_name[field].enum_type
    found = enum.values_by_number.get(value)
    return found.name if found is not None else str(value)


def _proto_row(fields: Sequence[str]) -> Callable[[Message], tuple[Any, ...]]:
    """Columns named after proto fields; enums by name, the rest as they are."""
    def to_row(message: Message) -> tuple[Any, ...]:
        out = []
        for name in fields:
            descriptor = message.DESCRIPTOR.fields_by_name[name]
            if descriptor.enum_type is not None:
                out.append(_enum_name(message, name))
            elif descriptor.is_repeated:
                out.append(list(getattr(message, name)))
            else:
                out.append(getattr(message, name))
        return tuple(out)
    return to_row


def _proto_table(table: str, fields: Sequence[str]) -> TableSpec:
    return TableSpec(table, tuple(fields), _proto_row(fields))


DEAD_LETTER_COLUMNS = ("event_id", "source_topic", "source_partition", "source_offset", "key_hex",
                       "payload_hex", "error", "consumer_group", "timestamp_us")


def dead_letter_id(letter: Message) -> str:
    """A dead letter's identity: the message it stands for, in the group that failed it.
    Dead-lettering the same offset twice (a retry) is one letter."""
    return f"{letter.consumer_group}:{letter.source_topic}:{letter.partition}:{letter.offset}"


def _dead_letter_row(letter: Message) -> tuple[Any, ...]:
    return (dead_letter_id(letter), letter.source_topic, letter.partition, letter.offset,
            bytes(letter.key).hex(), bytes(letter.payload).hex(), letter.error, letter.consumer_group,
            letter.timestamp_us)


# The columns each table had at its latest migration (tests check both ways).
TABLES: dict[str, TableSpec] = {
    topics.CALL_EVENTS: _proto_table("call_events", (
        "event_id", "node_id", "call_uuid", "leg_uuid", "leg", "type", "timestamp_us", "ani", "dnis",
        "other_leg_uuid", "hangup_cause", "dtmf_digit", "application", "application_data",
        "freeswitch_event", "record_path", "created_us", "answered_us", "bridged_us", "hangup_us",
        "billsec_us", "hold_accum_us", "caller_name", "agent_id", "queue")),
    topics.CDRS: _proto_table("cdrs", (
        "event_id", "call_uuid", "node_id", "ani", "dnis", "caller_name", "queue", "agent_id",
        "disposition", "hangup_cause", "start_us", "answer_us", "enqueue_us", "connect_us", "end_us",
        "queue_wait_us", "talk_us", "hold_us", "offers", "menu_choice", "recording_path", "billsec_us",
        "overflow_destination", "callback_for", "callback_number", "ring_us", "skills", "ivr_flow")),
    topics.AGENT_EVENTS: _proto_table("agent_states", (
        "event_id", "agent_id", "state", "previous_state", "reason", "timestamp_us",
        "previous_state_since_us", "call_uuid", "queue", "call_enqueue_us", "queues")),
    topics.QUEUE_EVENTS: _proto_table("queue_events", (
        "event_id", "call_uuid", "queue", "type", "timestamp_us", "agent_id", "ani", "dnis", "position",
        "wait_us", "node_id", "reason", "caller_name", "destination", "priority", "callback_number", "ewt_s",
        "attempt")),
    topics.RECORDINGS: _proto_table("recordings", (
        "event_id", "call_uuid", "path", "channels", "sample_rate", "duration_ms", "size_bytes", "sha256",
        "started_us", "stopped_us", "agent_id", "queue")),
    topics.DEAD_LETTER: TableSpec("dead_letters", DEAD_LETTER_COLUMNS, _dead_letter_row),
}


def rows_by_table(batch: Sequence[Record], ingested_us: int) -> dict[str, tuple[TableSpec, list[tuple[Any, ...]]]]:
    """Group a batch's records into rows per table (pure)."""
    out: dict[str, tuple[TableSpec, list[tuple[Any, ...]]]] = {}
    for record in batch:
        spec = TABLES.get(record.topic)
        if spec is None:
            log.warning("reporting does not store topic %s; skipped %s[%s]@%s",
                        record.topic, record.topic, record.partition, record.offset)
            continue
        out.setdefault(record.topic, (spec, []))[1].append(spec.to_row(record.value) + (ingested_us,))
    return out


def _label_topic(topic: str) -> str:
    return topic if topic in topics.MESSAGE_TYPES else "other"


class Ingester:
    """The consumer handler: rows into ClickHouse before the offsets are committed."""

    def __init__(self, store: ReportStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def __call__(self, batch: list[Record]) -> None:
        ingested_us = int(self.clock() * 1_000_000)
        for topic, (spec, rows) in rows_by_table(batch, ingested_us).items():
            started = time.perf_counter()
            try:
                self.store.insert(spec.table, spec.columns + ("ingested_us",), rows)
            except Exception:
                metrics.INSERT_ERRORS.labels(spec.table).inc()
                raise
            metrics.INSERT_SECONDS.labels(spec.table).observe(time.perf_counter() - started)
            metrics.EVENTS_INGESTED.labels(topic).inc(len(rows))
            if topic == topics.DEAD_LETTER:
                for record in batch:
                    if record.topic == topics.DEAD_LETTER:
                        metrics.DEAD_LETTERS.labels(_label_topic(record.value.source_topic)).inc()
        log.debug("ingested %d records", len(batch))
