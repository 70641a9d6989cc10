"""The Kafka side of reporting: the consumer's handler that lands events in
ClickHouse.

    bus.consume("reporting", INGESTED_TOPICS, Ingester(store, after_insert=...))

The pipeline, end to end (docs/ingestion.md):

    poll -> decode -> dead-letter -> batch -> rows per table -> insert
         -> refresh roll-ups (after_insert) -> commit offsets

hotline.common.bus.Consumer polls, decodes and dead-letters; this handler
turns the batch into rows (one ``Pipeline`` per table: a topic, a filter and
a row builder, so one topic may feed several tables), inserts them table by
table, lets the roll-ups recompute the buckets the batch touched, and
returns; only then does the Consumer commit the offsets. A failed insert or
refresh raises, so the same batch is retried and nothing is committed past
it. Delivery is therefore at-least-once: a row may be stored twice, and
every reader dedupes by event_id (docs/metrics.md, "Idempotency").
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import operator
import time
from typing import Any, Callable, Sequence

from google.protobuf.message import Message

from hotline.common import topics
from hotline.common.bus import Record
from hotline.proto.events.v1 import events_pb2
from hotline.reporting import metrics
from hotline.reporting.store import ReportStore

log = logging.getLogger(__name__)

CONSUMER_GROUP = "reporting"

Row = tuple[Any, ...]
Columns = list[list[Any]]                 # one list per column, all of one length
AfterInsert = Callable[[list[Record]], None]


def _every_message(message: Message) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """One table's feed: the topic it reads, which of its messages become
    rows (``accepts``) and how (``to_row``, one value per column).

    ``to_rows`` builds the rows of many messages at once (the ingest path);
    it must give what ``to_row`` gives, message by message, each row
    followed by ``ingested_us``. Without it, ``to_row`` is called per message.

    ``to_columns`` builds the same values column by column (the ingest
    path: what ClickHouse's native protocol sends, so the driver transposes
    nothing); it must give what ``to_rows`` gives, transposed, without the
    ``ingested_us`` column. Without it, the rows are transposed."""
    topic: str
    table: str
    columns: tuple[str, ...]                       # without ingested_us (added to every row)
    to_row: Callable[[Message], Row]
    accepts: Callable[[Message], bool] = _every_message
    to_rows: Callable[[Sequence[Message], int], list[Row]] | None = None
    to_columns: Callable[[Sequence[Message]], Columns] | None = None

    def rows(self, messages: Sequence[Message], ingested_us: int) -> list[Row]:
        """The rows of the accepted ``messages``, in order, each ending with ``ingested_us``."""
        if self.accepts is not _every_message:
            messages = list(filter(self.accepts, messages))
        if not messages:
            return []
        if self.to_rows is not None:
            return self.to_rows(messages, ingested_us)
        tail = (ingested_us,)
        return [self.to_row(m) + tail for m in messages]

    def column_values(self, messages: Sequence[Message], ingested_us: int) -> Columns:
        """The accepted ``messages`` as columns: one list per column of
        ``columns``, then ``ingested_us``'s; ``rows()`` transposed ([] when
        no message is accepted)."""
        if self.accepts is not _every_message:
            messages = list(filter(self.accepts, messages))
        if not messages:
            return []
        if self.to_columns is not None:
            values = self.to_columns(messages)
        else:
            values = [list(column) for column in zip(*map(self.to_row, messages))]
        values.append([ingested_us] * len(messages))
        return values


class _EnumNames(dict):  # type: ignore[type-arg]
    """Enum number -> name; a number this build does not know stays a number, as text."""

    def __missing__(self, number: int) -> str:
        return str(number)


def _proto_pipeline(topic: str, table: str, fields: Sequence[str],
                    accepts: Callable[[Message], bool] = _every_message) -> Pipeline:
    """A table whose columns are fields of the topic's message, named after
    them: enums stored by name (a number this build does not know stays a
    number, as text), repeated fields as arrays, the rest as they are.

    The hot path of ingestion (every event), so no Python code runs per
    message or per value: the columns stored as read come first (the
    Pipeline's ``columns`` put them there; the INSERT names its columns, so
    their order is free), each converted column follows. ``to_columns`` (what
    the Ingester inserts) reads each column with one ``map`` of a C-level
    ``attrgetter`` over the batch, converting with one more ``map`` (a dict
    lookup per enum value); ``to_rows`` reads the columns stored as read with
    one ``attrgetter`` call per message and joins the parts of each row with
    ``tuple.__add__``."""
    descriptor = topics.MESSAGE_TYPES[topic].DESCRIPTOR
    as_read: list[str] = []
    converted: list[tuple[str, Callable[[Any], Any]]] = []
    for name in fields:
        field = descriptor.fields_by_name[name]
        if field.enum_type is not None:
            names = _EnumNames({v.number: v.name for v in field.enum_type.values})
            converted.append((name, names.__getitem__))
        elif field.is_repeated:
            converted.append((name, list))
        else:
            as_read.append(name)
    read = operator.attrgetter(*as_read) if len(as_read) > 1 else (lambda m: (getattr(m, as_read[0]),))
    conversions = [(operator.attrgetter(name), convert) for name, convert in converted]

    def to_row(message: Message) -> Row:
        return read(message) + tuple(convert(get(message)) for get, convert in conversions)

    def to_rows(messages: Sequence[Message], ingested_us: int) -> list[Row]:
        tails = zip(*[map(convert, map(get, messages)) for get, convert in conversions],
                    itertools.repeat(ingested_us, len(messages)))
        return list(map(tuple.__add__, map(read, messages), tails))

    getters = [operator.attrgetter(name) for name in as_read]

    def to_columns(messages: Sequence[Message]) -> Columns:
        return ([list(map(get, messages)) for get in getters]
                + [list(map(convert, map(get, messages))) for get, convert in conversions])

    columns = tuple(as_read) + tuple(name for name, _ in converted)
    return Pipeline(topic, table, columns, to_row, accepts, to_rows, to_columns)


DEAD_LETTER_COLUMNS = ("event_id", "source_topic", "source_partition", "source_offset", "key_hex",
                       "payload_hex", "error", "consumer_group", "timestamp_us")


def dead_letter_id(letter: Message) -> str:
    """A dead letter's identity: the message it stands for, in the group that failed it.
    Dead-lettering the same offset twice (a retry) is one letter."""
    return f"{letter.consumer_group}:{letter.source_topic}:{letter.partition}:{letter.offset}"


def _dead_letter_row(letter: Message) -> Row:
    return (dead_letter_id(letter), letter.source_topic, letter.partition, letter.offset,
            bytes(letter.key).hex(), bytes(letter.payload).hex(), letter.error, letter.consumer_group,
            letter.timestamp_us)


def is_leg_hangup(event: Message) -> bool:
    """A channel's CHANNEL_HANGUP_COMPLETE: the one event per leg that carries
    its billing figures, so each is one row of cdr_legs."""
    return event.type == events_pb2.CALL_HANGUP_COMPLETE


# One pipeline per table, with the columns the table has at its latest
# migration (tests check both ways). A topic's first pipeline stores every
# field of its message; later ones (cdr_legs) are derived views of it.
PIPELINES: tuple[Pipeline, ...] = (
    _proto_pipeline(topics.CALL_EVENTS, "call_events", (
        "event_id", "node_id", "call_uuid", "leg_uuid", "leg", "type", "timestamp_us", "ani", "dnis",
        "other_leg_uuid", "hangup_cause", "dtmf_digit", "application", "application_data",
        "freeswitch_event", "record_path", "created_us", "answered_us", "bridged_us", "hangup_us",
        "billsec_us", "hold_accum_us", "caller_name", "agent_id", "queue")),
    _proto_pipeline(topics.CALL_EVENTS, "cdr_legs", (
        "event_id", "call_uuid", "leg_uuid", "leg", "node_id", "agent_id", "queue", "ani", "dnis",
        "other_leg_uuid", "hangup_cause", "created_us", "answered_us", "bridged_us", "hangup_us", "billsec_us",
        "hold_accum_us", "record_path"), accepts=is_leg_hangup),
    _proto_pipeline(topics.CDRS, "cdrs", (
        "event_id", "call_uuid", "node_id", "ani", "dnis", "caller_name", "queue", "agent_id",
        "disposition", "hangup_cause", "start_us", "answer_us", "enqueue_us", "connect_us", "end_us",
        "queue_wait_us", "talk_us", "hold_us", "offers", "menu_choice", "recording_path", "billsec_us",
        "overflow_destination", "callback_for", "callback_number", "ring_us", "skills", "ivr_flow")),
    _proto_pipeline(topics.AGENT_EVENTS, "agent_states", (
        "event_id", "agent_id", "state", "previous_state", "reason", "timestamp_us",
        "previous_state_since_us", "call_uuid", "queue", "call_enqueue_us", "queues")),
    _proto_pipeline(topics.QUEUE_EVENTS, "queue_events", (
        "event_id", "call_uuid", "queue", "type", "timestamp_us", "agent_id", "ani", "dnis", "position",
        "wait_us", "node_id", "reason", "caller_name", "destination", "priority", "callback_number", "ewt_s",
        "attempt")),
    _proto_pipeline(topics.RECORDINGS, "recordings", (
        "event_id", "call_uuid", "path", "channels", "sample_rate", "duration_ms", "size_bytes", "sha256",
        "started_us", "stopped_us", "agent_id", "queue")),
    _proto_pipeline(topics.IVR_EVENTS, "ivr_visits", (
        "event_id", "call_uuid", "node_id", "flow", "node", "node_type", "sequence", "entered_us", "left_us",
        "outcome", "input", "attempts", "result")),
    Pipeline(topics.DEAD_LETTER, "dead_letters", DEAD_LETTER_COLUMNS, _dead_letter_row),
)

TABLES: dict[str, Pipeline] = {p.table: p for p in PIPELINES}


def _by_topic(pipelines: Sequence[Pipeline]) -> dict[str, tuple[Pipeline, ...]]:
    out: dict[str, tuple[Pipeline, ...]] = {}
    for p in pipelines:
        out[p.topic] = out.get(p.topic, ()) + (p,)
    return out


PIPELINES_BY_TOPIC: dict[str, tuple[Pipeline, ...]] = _by_topic(PIPELINES)
INGESTED_TOPICS: tuple[str, ...] = tuple(PIPELINES_BY_TOPIC)


_TOPIC = operator.attrgetter("topic")
_VALUE = operator.attrgetter("value")


def messages_by_topic(batch: Sequence[Record]) -> dict[str, list[Message]]:
    """The batch's messages per topic reporting stores, each topic's in batch
    order; a record of a topic reporting does not store is logged and skipped.
    (A batch holds each partition's records in a run: read run by run.)"""
    out: dict[str, list[Message]] = {}
    for topic, records in itertools.groupby(batch, _TOPIC):
        messages = out.get(topic)
        if messages is None:
            if topic not in PIPELINES_BY_TOPIC:
                for record in records:
                    log.warning("reporting does not store topic %s; skipped %s[%s]@%s",
                                record.topic, record.topic, record.partition, record.offset)
                continue
            messages = out[topic] = []
        messages.extend(map(_VALUE, records))
    return out


def _per_table(messages: dict[str, list[Message]], build: Callable[[Pipeline, Sequence[Message]], Any]
               ) -> dict[str, tuple[Pipeline, Any]]:
    """``build(pipeline, messages)`` for every table the messages feed, kept
    when it gives anything (a table whose filter accepts none is left out)."""
    out: dict[str, tuple[Pipeline, Any]] = {}
    for topic, topic_messages in messages.items():
        for p in PIPELINES_BY_TOPIC[topic]:
            built = build(p, topic_messages)
            if built:
                out[p.table] = (p, built)
    return out


def rows_by_table(batch: Sequence[Record], ingested_us: int) -> dict[str, tuple[Pipeline, list[Row]]]:
    """A batch's rows per table, each with its pipeline (pure). Every table
    of a topic sees the batch's records in order; a topic reporting does not
    store is logged and skipped."""
    return _per_table(messages_by_topic(batch), lambda p, messages: p.rows(messages, ingested_us))


def _columns_per_table(messages: dict[str, list[Message]], ingested_us: int
                       ) -> dict[str, tuple[Pipeline, Columns]]:
    return _per_table(messages, lambda p, topic_messages: p.column_values(topic_messages, ingested_us))


def columns_by_table(batch: Sequence[Record], ingested_us: int) -> dict[str, tuple[Pipeline, Columns]]:
    """What :func:`rows_by_table` gives, column by column (what the Ingester
    inserts): per table, one list per column of the pipeline's ``columns``
    and then ``ingested_us``'s."""
    return _columns_per_table(messages_by_topic(batch), ingested_us)


def _label_topic(topic: str) -> str:
    return topic if topic in topics.MESSAGE_TYPES else "other"


class Ingester:
    """The consumer's handler: every row of a batch into ClickHouse, then the
    roll-ups refreshed, before the Consumer commits the batch's offsets.

    ``after_insert`` (the roll-up refresher, hotline.reporting.rollup) runs
    once per batch after every insert succeeded; if it raises, the exception
    propagates and the Consumer retries the whole batch (inserting its rows
    again is harmless: readers dedupe by event_id)."""

    def __init__(self, store: ReportStore, *, clock: Callable[[], float] = time.time,
                 after_insert: AfterInsert | None = None) -> None:
        self.store = store
        self.clock = clock
        self.after_insert = after_insert

    def __call__(self, batch: list[Record]) -> None:
        ingested_us = int(self.clock() * 1_000_000)
        messages = messages_by_topic(batch)
        for pipeline, values in _columns_per_table(messages, ingested_us).values():
            self._insert(pipeline, values)
        if self.after_insert is not None:
            self.after_insert(batch)
        self._count(messages)
        log.debug("ingested %d records", len(batch))

    def _insert(self, pipeline: Pipeline, values: Columns) -> None:
        started = time.perf_counter()
        try:
            self.store.insert_columns(pipeline.table, pipeline.columns + ("ingested_us",), values)
        except Exception:
            metrics.INSERT_ERRORS.labels(pipeline.table).inc()
            raise
        metrics.INSERT_SECONDS.labels(pipeline.table).observe(time.perf_counter() - started)

    @staticmethod
    def _count(messages: dict[str, list[Message]]) -> None:
        """Once the batch is durable: events by source topic (each once, however
        many tables it fed), dead letters by the topic they came from."""
        for topic, topic_messages in messages.items():
            metrics.EVENTS_INGESTED.labels(topic).inc(len(topic_messages))
        for letter in messages.get(topics.DEAD_LETTER, ()):
            metrics.DEAD_LETTERS.labels(_label_topic(letter.source_topic)).inc()
