"""The CTI service's event-bus side: per-agent event feeds for desktops, and
the customers' call history.

Two consumers:

- **live feed** (group ``cti-feed-<instance_id>``, topics agent-events and
  queue-events): every CTI instance has its own group, because every instance
  must see every event for the desktops connected to it. Events become
  ``cti.v1.AgentEvent`` messages and are fanned out to the subscriptions of
  the agent they concern. An event older than a subscription (by its own
  timestamp, with ``grace_s`` for clock skew between hosts) is not delivered
  to it, so a restarted instance that re-reads the topics does not replay
  stale offers to desktops. Fan-out never blocks: each subscription has a
  bounded queue and a slow desktop loses its *oldest* events (logged and
  counted), never holding up the others. Desktops are a live view; nothing
  here is durable, so the batch is committed right after the fan-out.
- **call history** (shared group ``cti-customer-history``, topic cdrs): every
  CDR is written to the customer store (idempotent by call UUID) before the
  offsets are committed, so history survives restarts and replays.

Queue events -> desktop events: QUEUE_OFFERED -> call_offered (with the screen
pop: the customer record and past calls found by the caller's number);
QUEUE_CONNECTED -> call_connected; QUEUE_CALL_ENDED, QUEUE_ABANDONED and
QUEUE_OFFER_FAILED (each naming the agent) -> call_ended. Agent state events
-> state_changed.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import gevent
import gevent.queue

from hotline.common import topics
from hotline.common.bus import Consumer, EventBus, Record
from hotline.common.errors import InvalidArgument
from hotline.cti import metrics
from hotline.cti.customers import CustomerStore
from hotline.proto.cti.v1 import cti_pb2
from hotline.proto.events.v1 import events_pb2 as ev

log = logging.getLogger(__name__)

HISTORY_GROUP = "cti-customer-history"
ENDING_QUEUE_EVENTS = (ev.QUEUE_CALL_ENDED, ev.QUEUE_ABANDONED, ev.QUEUE_OFFER_FAILED)


def now_us() -> int:
    return int(time.time() * 1_000_000)


class Subscription:
    """One desktop's feed of one agent's events: a bounded queue.

    :meth:`get` blocks the calling greenlet; :meth:`close` (idempotent, safe from
    any greenlet, e.g. a gRPC cancellation callback) unregisters it and wakes a
    blocked :meth:`get`."""

    _CLOSED = object()

    def __init__(self, feed: "AgentFeed", agent_id: str, since_us: int, maxsize: int) -> None:
        self.feed = feed
        self.agent_id = agent_id
        self.since_us = since_us
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._queue: gevent.queue.Queue = gevent.queue.Queue()   # bounded by offer(); room for the wake-up

    def offer(self, event: cti_pb2.AgentEvent) -> None:
        """Queue an event for the desktop without ever blocking; drop the oldest when full."""
        if self.closed:
            return
        while self._queue.qsize() >= self.maxsize:
            try:
                self._queue.get_nowait()
            except gevent.queue.Empty:
                break
            self.dropped += 1
            metrics.FEED_DROPPED.labels("slow_subscriber").inc()
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("agent %s: a desktop is not keeping up; dropped its oldest event (%d so far)",
                            self.agent_id, self.dropped)
        self._queue.put_nowait(event)

    def get(self, timeout_s: float | None = None) -> cti_pb2.AgentEvent | None:
        """The next event, or None on time-out or once closed."""
        if self.closed:
            return None
        try:
            item = self._queue.get(timeout=timeout_s)
        except gevent.queue.Empty:
            return None
        return None if item is self._CLOSED else item

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.feed._remove(self)
        self._queue.put_nowait(self._CLOSED)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AgentFeed:
    """Consumes agent and queue events for this CTI instance and fans them out
    to per-agent subscriptions; records CDRs into the customers' history."""

    def __init__(self, bus: EventBus, customers: CustomerStore, *, instance_id: str,
                 queue_size: int = 256, grace_s: float = 2.0,
                 clock_us: Callable[[], int] = now_us) -> None:
        if not instance_id:
            raise InvalidArgument("instance_id", "is required: each CTI instance needs its own consumer group")
        self.bus = bus
        self.customers = customers
        self.instance_id = instance_id
        self.group = f"cti-feed-{instance_id}"
        self.queue_size = queue_size
        self.grace_us = int(grace_s * 1_000_000)
        self.clock_us = clock_us
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._live: Consumer | None = None
        self._history: Consumer | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        self._live = self.bus.consume(self.group, [topics.AGENT_EVENTS, topics.QUEUE_EVENTS], self._on_events,
                                      batch_timeout_s=0.05)
        self._history = self.bus.consume(HISTORY_GROUP, [topics.CDRS], self._on_cdrs)

    def wait_ready(self, timeout_s: float | None = None) -> bool:
        """True once both consumers have opened their sources."""
        consumers = [c for c in (self._live, self._history) if c is not None]
        return bool(consumers) and all(c.ready.wait(timeout_s) for c in consumers)

    @property
    def ready(self) -> bool:
        return all(c is not None and c.ready.is_set() for c in (self._live, self._history))

    def stop(self) -> None:
        for consumer in (self._live, self._history):
            if consumer is not None:
                consumer.stop()
        self._live = self._history = None
        for subs in list(self._subscriptions.values()):
            for sub in list(subs):
                sub.close()

    # -- subscriptions ---------------------------------------------------
    def subscribe(self, agent_id: str) -> Subscription:
        """A new feed of ``agent_id``'s events from now on. Close it when done."""
        sub = Subscription(self, agent_id, self.clock_us(), self.queue_size)
        self._subscriptions.setdefault(agent_id, set()).add(sub)
        return sub

    def subscriber_count(self, agent_id: str | None = None) -> int:
        if agent_id is not None:
            return len(self._subscriptions.get(agent_id, ()))
        return sum(len(s) for s in self._subscriptions.values())

    def _remove(self, sub: Subscription) -> None:
        subs = self._subscriptions.get(sub.agent_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscriptions[sub.agent_id]

    # -- the live feed ---------------------------------------------------
    def _on_events(self, batch: list[Record]) -> None:
        for record in batch:
            try:
                self._fan_out(record)
            except Exception:  # noqa: BLE001 - one bad event must not re-deliver the whole batch
                log.exception("cannot deliver %s[%s]@%s to desktops", record.topic, record.partition, record.offset)

    def _fan_out(self, record: Record) -> None:
        message = record.value
        if isinstance(message, ev.AgentStateEvent):
            agent_id = message.agent_id
        elif isinstance(message, ev.QueueEvent):
            agent_id = message.agent_id
        else:
            return
        subs = [s for s in self._subscriptions.get(agent_id, ()) if not s.closed]
        if not subs:
            return
        timestamp_us = message.timestamp_us or record.timestamp_ms * 1000
        current = []
        for sub in subs:
            if timestamp_us < sub.since_us - self.grace_us:
                metrics.FEED_DROPPED.labels("stale").inc()
            else:
                current.append(sub)
        if not current:
            return
        event = self.desktop_event(message, timestamp_us)
        if event is None:
            return
        kind = event.WhichOneof("event")
        metrics.FEED_EVENTS.labels(kind).inc()
        if kind == "call_offered":
            metrics.SCREEN_POPS.labels("true" if event.call_offered.customer.known else "false").inc()
        for sub in current:
            sub.offer(event)

    def desktop_event(self, message: ev.AgentStateEvent | ev.QueueEvent,
                      timestamp_us: int) -> cti_pb2.AgentEvent | None:
        """The desktop's view of a bus event, or None for events desktops do not get."""
        if isinstance(message, ev.AgentStateEvent):
            return cti_pb2.AgentEvent(timestamp_us=timestamp_us, state_changed=message)
        if message.type == ev.QUEUE_OFFERED:
            return cti_pb2.AgentEvent(timestamp_us=timestamp_us, call_offered=cti_pb2.CallOffered(
                call_uuid=message.call_uuid, queue=message.queue, ani=message.ani, dnis=message.dnis,
                caller_name=message.caller_name, wait_us=message.wait_us, customer=self.screen_pop(message.ani)))
        if message.type == ev.QUEUE_CONNECTED:
            return cti_pb2.AgentEvent(timestamp_us=timestamp_us, call_connected=cti_pb2.CallConnected(
                call_uuid=message.call_uuid, queue=message.queue))
        if message.type in ENDING_QUEUE_EVENTS:
            return cti_pb2.AgentEvent(timestamp_us=timestamp_us, call_ended=cti_pb2.CallEnded(
                call_uuid=message.call_uuid, queue=message.queue))
        return None

    def screen_pop(self, ani: str) -> cti_pb2.Customer:
        """The customer record for a caller's number; an unknown one when the number
        is withheld or not a number, or when the store fails (the call still pops)."""
        try:
            return self.customers.lookup(ani)
        except InvalidArgument:
            return cti_pb2.Customer(phone=ani, known=False)
        except Exception:  # noqa: BLE001 - a broken store must not stop the offer reaching the agent
            log.exception("customer lookup for an offered call failed; popping an unknown caller")
            return cti_pb2.Customer(phone=ani, known=False)

    # -- call history ----------------------------------------------------
    def _on_cdrs(self, batch: list[Record]) -> None:
        # Raises on a store failure: the pipeline retries the batch and commits nothing past it.
        added = self.customers.record_calls(r.value for r in batch if isinstance(r.value, ev.Cdr))
        if added:
            metrics.HISTORY_RECORDED.inc(added)
        gevent.sleep(0)
