"""The event bus: Kafka in production and tests, an in-process log in the
single-process mode. Both sit under the same consumer pipeline:

    poll -> decode (bad payload -> dead-letter topic) -> handler(batch) -> commit

The handler makes the batch durable (or acts on it) before offsets are
committed, so delivery is at-least-once and handlers must be idempotent
(every message carries an ``event_id``). A handler that raises is retried
with backoff on the same batch; nothing is committed past it.
"""
from __future__ import annotations

import abc
import collections
import logging
import time
from typing import Callable, Mapping, NamedTuple, Sequence

import gevent
import gevent.event
from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError, Message

from hotline.common import metrics, topics
from hotline.proto.events.v1 import events_pb2

log = logging.getLogger(__name__)


# Named tuples, not frozen dataclasses: one is built per record consumed,
# and a named tuple costs half as much to build (ingestion's hot path).
class RawRecord(NamedTuple):
    topic: str          # short name ("call-events")
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: str
    value: Message
    timestamp_ms: int


Handler = Callable[[list[Record]], None]


class Source(abc.ABC):
    """One consumer group's view of some topics."""

    @abc.abstractmethod
    def poll(self, timeout_s: float, max_records: int) -> list[RawRecord]: ...

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def lag(self) -> dict[metrics.LagKey, int]:
        """Per (topic, partition) held by this source: records not yet
        committed, i.e. the partition's end minus the first offset polled but
        not committed (or the position when nothing is pending). Read from
        what the client already knows, without a round trip to the broker,
        so the consumer can ask after every poll. Partitions whose end is
        not known yet are left out (unknown is not 0)."""
        return {}


class EventBus(abc.ABC):
    """Publish protobuf messages to topics and run consumer pipelines."""

    def __init__(self) -> None:
        self._consumers: list[Consumer] = []

    @abc.abstractmethod
    def publish(self, topic: str, key: str, message: Message) -> None:
        """Queue a message for ``topic`` (a short name from hotline.common.topics)."""

    def publish_raw(self, topic: str, key: bytes | None, payload: bytes) -> None:
        """Publish bytes as they are (dead letters, and tests of bad input)."""
        raise NotImplementedError

    @abc.abstractmethod
    def flush(self, timeout_s: float | None = None) -> None: ...

    @abc.abstractmethod
    def open_source(self, group: str, topic_names: Sequence[str]) -> Source: ...

    def consume(self, group: str, topic_names: Sequence[str], handler: Handler, *,
                batch_size: int = 500, batch_timeout_s: float = 0.2) -> "Consumer":
        consumer = Consumer(self, group, topic_names, handler, batch_size=batch_size,
                            batch_timeout_s=batch_timeout_s)
        consumer.start()
        self._consumers.append(consumer)
        return consumer

    def read_log(self, topic_names: Sequence[str], since_ms: int | None = None,
                 timeout_s: float = 60.0) -> list[RawRecord]:
        """Every record of the topics (with a timestamp >= since_ms, if given)
        up to their current end, in publish order per partition. Used to
        rebuild state after a restart; no consumer group is involved."""
        raise NotImplementedError

    def healthy(self) -> bool:
        return True

    def close(self) -> None:
        for consumer in self._consumers:
            consumer.stop()
        self._consumers.clear()


class Consumer:
    """An explicit pipeline: decode -> dead-letter -> handler -> commit."""

    def __init__(self, bus: EventBus, group: str, topic_names: Sequence[str], handler: Handler, *,
                 batch_size: int, batch_timeout_s: float,
                 retry_min_s: float = 0.2, retry_max_s: float = 10.0, lag_interval_s: float = 1.0) -> None:
        self.bus = bus
        self.group = group
        self.topic_names = list(topic_names)
        self.handler = handler
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self._greenlet: gevent.Greenlet | None = None
        self._running = False
        self.processed = 0
        self.dead_lettered = 0
        self.ready = gevent.event.Event()   # set once the source is open
        # Lag is read at most every lag_interval_s (after a poll, before the
        # handler, so a batch in hand still counts as lag).
        self.lag_interval_s = lag_interval_s
        self._lag_due = 0.0
        self._lag_reported: set[metrics.LagKey] = set()

    def start(self) -> None:
        self._running = True
        self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._running = False
        if self._greenlet is not None:
            self._greenlet.join(timeout_s)
            if not self._greenlet.dead:
                self._greenlet.kill()

    def decode(self, raw: RawRecord) -> Record | None:
        cls = topics.MESSAGE_TYPES[raw.topic]
        try:
            message = cls.FromString(raw.value)
            if not getattr(message, "event_id", "x") and raw.topic != topics.DEAD_LETTER:
                raise DecodeError("event_id is empty")
            # Some garbage parses as unknown fields only: that is not our message either.
            if len(unknown_fields.UnknownFieldSet(message)):
                raise DecodeError("payload has fields this version does not know")
        except (DecodeError, ValueError, RuntimeError) as exc:
            self._dead_letter(raw, f"cannot decode {cls.DESCRIPTOR.full_name}: {exc}")
            return None
        return Record(raw.topic, raw.partition, raw.offset,
                      (raw.key or b"").decode("utf-8", "replace"), message, raw.timestamp_ms)

    def _dead_letter(self, raw: RawRecord, error: str) -> None:
        log.warning("dead-lettering %s[%s]@%s: %s", raw.topic, raw.partition, raw.offset, error)
        letter = events_pb2.DeadLetter(
            source_topic=raw.topic, partition=raw.partition, offset=raw.offset, key=raw.key or b"",
            payload=raw.value, error=error, consumer_group=self.group, timestamp_us=int(time.time() * 1e6))
        self.bus.publish(topics.DEAD_LETTER, (raw.key or b"").decode("utf-8", "replace"), letter)
        self.bus.flush()
        self.dead_lettered += 1
        metrics.RECORDS_DEAD_LETTERED.labels(self.group, raw.topic).inc()

    def _report_lag(self, source: Source) -> None:
        """Publish the source's lag, at most once per lag_interval_s. Never
        lets a metrics problem stop consumption."""
        now = time.monotonic()
        if now < self._lag_due:
            return
        self._lag_due = now + self.lag_interval_s
        try:
            lags = source.lag()
        except Exception:  # noqa: BLE001 - a gauge is not worth a stalled consumer
            log.debug("consumer %s: lag not available", self.group, exc_info=True)
            return
        self._lag_reported = metrics.report_lag(self.group, lags, self._lag_reported)

    def _forget_lag(self) -> None:
        for topic, partition in self._lag_reported:
            metrics.forget_lag(self.group, topic, partition)
        self._lag_reported = set()
        self._lag_due = 0.0

    def _count_consumed(self, batch: list[Record]) -> None:
        for topic, count in collections.Counter(r.topic for r in batch).items():
            metrics.RECORDS_CONSUMED.labels(self.group, topic).inc(count)

    def _run(self) -> None:
        backoff = self.retry_min_s
        source: Source | None = None
        while self._running:
            try:
                if source is None:
                    source = self.bus.open_source(self.group, self.topic_names)
                    self.ready.set()
                raws = source.poll(self.batch_timeout_s, self.batch_size)
                self._report_lag(source)
                if not raws:
                    continue
                batch = [r for r in map(self.decode, raws) if r is not None]
                self._handle_until_done(batch)
                source.commit()
                self.processed += len(batch)
                self._count_consumed(batch)
                backoff = self.retry_min_s
            except gevent.GreenletExit:
                break
            except Exception:  # noqa: BLE001 - the source broke: reopen with backoff
                log.exception("consumer %s: source failed; reopening in %.1fs", self.group, backoff)
                if source is not None:
                    try:
                        source.close()
                    except Exception:  # noqa: BLE001
                        pass
                    source = None
                self._forget_lag()
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.retry_max_s)
        if source is not None:
            source.close()
        self._forget_lag()

    def _handle_until_done(self, batch: list[Record]) -> None:
        if not batch:
            return
        delay = self.retry_min_s
        while True:
            try:
                self.handler(batch)
                return
            except gevent.GreenletExit:
                raise
            except Exception:  # noqa: BLE001 - retry the same batch; never skip it
                if not self._running:
                    raise
                log.exception("consumer %s: handler failed on %d records; retrying in %.1fs",
                              self.group, len(batch), delay)
                gevent.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)


class InProcessBus(EventBus):
    """A single-partition, in-memory log per topic with consumer-group offsets.

    Used by the single-process mode in place of Kafka: same serialisation,
    same pipeline, so the code above the bus runs unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self._logs: dict[str, list[RawRecord]] = {t: [] for t in topics.MESSAGE_TYPES}
        self._offsets: dict[tuple[str, str], int] = {}
        self._wakeups: list[gevent.event.Event] = []

    def publish(self, topic: str, key: str, message: Message) -> None:
        self.publish_raw(topic, key.encode(), message.SerializeToString())

    def publish_raw(self, topic: str, key: bytes | None, payload: bytes) -> None:
        log_ = self._logs[topic]
        log_.append(RawRecord(topic, 0, len(log_), key, payload, int(time.time() * 1000)))
        for wakeup in self._wakeups:
            wakeup.set()

    def flush(self, timeout_s: float | None = None) -> None:
        return None

    def open_source(self, group: str, topic_names: Sequence[str]) -> Source:
        return _InProcessSource(self, group, topic_names)

    def messages(self, topic: str) -> list[RawRecord]:
        return list(self._logs[topic])

    def read_log(self, topic_names: Sequence[str], since_ms: int | None = None,
                 timeout_s: float = 60.0) -> list[RawRecord]:
        return [r for t in topic_names for r in self._logs[t] if since_ms is None or r.timestamp_ms >= since_ms]


class _InProcessSource(Source):
    def __init__(self, bus: InProcessBus, group: str, topic_names: Sequence[str]) -> None:
        self.bus = bus
        self.group = group
        self.topic_names = list(topic_names)
        self._pending: dict[str, int] = {}
        self._wakeup = gevent.event.Event()
        bus._wakeups.append(self._wakeup)

    def poll(self, timeout_s: float, max_records: int) -> list[RawRecord]:
        deadline = time.monotonic() + timeout_s
        while True:
            self._wakeup.clear()
            out: list[RawRecord] = []
            for t in self.topic_names:
                start = self._pending.get(t, self.bus._offsets.get((self.group, t), 0))
                chunk = self.bus._logs[t][start:start + max_records - len(out)]
                out.extend(chunk)
                self._pending[t] = start + len(chunk)
            if out:
                return out
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._wakeup.wait(remaining)

    def commit(self) -> None:
        for t, off in self._pending.items():
            self.bus._offsets[(self.group, t)] = off
        self._pending.clear()

    def lag(self) -> dict[metrics.LagKey, int]:
        return {(t, 0): len(self.bus._logs[t]) - self.bus._offsets.get((self.group, t), 0)
                for t in self.topic_names}

    def close(self) -> None:
        self._pending.clear()
        if self._wakeup in self.bus._wakeups:
            self.bus._wakeups.remove(self._wakeup)
