"""The IVR's Kafka side: one IvrNodeVisit per node a caller leaves, on the
ivr-events topic (key: call UUID, so one call's visits stay in order).

Publishing never breaks or delays a call: the caller is in the middle of a
prompt, and a report row is not worth making them wait for Kafka. Sessions
put visits in an outbox (put never blocks); one greenlet hands them to the
bus in order. A visit the outbox has no room for, or the bus refuses, is
logged and counted (hotline_ivr_visits_unpublished_total) and dropped.

The greenlet gathers: once a visit arrives it waits ``gather_s`` (50 ms) and
hands the bus every visit that came meanwhile at once, so the Kafka
producer (linger 2 ms) sends them in one request instead of one request per
visit: a busy IVR leaves several nodes every few milliseconds, and each
produce request costs the IVR (and the broker) far more CPU than a visit
added to one. Visits reach reporting at most that much later.
"""
from __future__ import annotations

import logging

import gevent
import gevent.event
import gevent.queue

from hotline.common import topics
from hotline.common.bus import EventBus
from hotline.ivr import metrics
from hotline.ivr.flow import NodeVisit
from hotline.proto.events.v1 import events_pb2

log = logging.getLogger(__name__)


def visit_event_id(call_uuid: str, sequence: int) -> str:
    """Stable per call and visit, so a republished visit is the same event."""
    return f"ivr:{call_uuid}:{sequence}"


def to_message(visit: NodeVisit, *, call_uuid: str, node_id: str, flow: str) -> events_pb2.IvrNodeVisit:
    return events_pb2.IvrNodeVisit(
        event_id=visit_event_id(call_uuid, visit.sequence), call_uuid=call_uuid, node_id=node_id, flow=flow,
        node=visit.node, node_type=visit.node_type, sequence=visit.sequence, entered_us=visit.entered_us,
        left_us=visit.left_us, outcome=visit.outcome, input=visit.input, attempts=visit.attempts,
        result=visit.result)


class VisitOutbox:
    """Visits on their way to the bus, published in the order they were put."""

    def __init__(self, bus: EventBus, *, capacity: int = 10_000, gather_s: float = 0.05,
                 max_batch: int = 500) -> None:
        if gather_s < 0 or max_batch < 1:
            raise ValueError("gather_s must be >= 0 and max_batch >= 1")
        self.bus = bus
        self.gather_s = gather_s
        self.max_batch = max_batch
        self._queue: gevent.queue.Queue = gevent.queue.Queue(maxsize=capacity)
        self._greenlet: gevent.Greenlet | None = None
        self._stopping = gevent.event.Event()          # cuts a gathering short

    def put(self, visit: events_pb2.IvrNodeVisit) -> None:
        """Never blocks: with no room left the visit is dropped and counted."""
        metrics.NODE_VISITS.labels(visit.node, visit.outcome).inc()
        try:
            self._queue.put_nowait(visit)
        except gevent.queue.Full:
            self._unpublished(visit, f"the outbox is full ({self._queue.maxsize} visits waiting for the bus)")

    def start(self) -> None:
        self._stopping.clear()
        self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish what is waiting (up to ``timeout_s``), then flush the bus."""
        if self._greenlet is None:
            return
        self._queue.put(None)                     # after every visit already put
        self._stopping.set()
        self._greenlet.join(timeout_s)
        if not self._greenlet.dead:
            self._greenlet.kill()
            log.warning("IVR outbox stopped with %d visit(s) unpublished", self._queue.qsize())
        self._greenlet = None
        try:
            self.bus.flush(timeout_s)
        except Exception as exc:  # noqa: BLE001 - stopping goes on
            log.warning("IVR visits not flushed at stop: %s", exc)

    def _run(self) -> None:
        queue = self._queue
        while True:
            batch = [queue.get()]
            if batch[0] is not None and self.gather_s:
                self._stopping.wait(self.gather_s)   # the visits of the next few ms join this batch
            while len(batch) < self.max_batch and batch[-1] is not None:
                try:
                    batch.append(queue.get_nowait())
                except gevent.queue.Empty:
                    break
            for visit in batch:
                if visit is None:                     # stop(): everything put before it is published
                    return
                try:
                    self.bus.publish(topics.IVR_EVENTS, visit.call_uuid, visit)
                except Exception as exc:  # noqa: BLE001 - a report row never costs a call, nor the outbox
                    self._unpublished(visit, str(exc))
            if len(batch) == self.max_batch:
                gevent.sleep(0)                       # kafka-python's send() never yields

    @staticmethod
    def _unpublished(visit: events_pb2.IvrNodeVisit, why: str) -> None:
        metrics.VISITS_UNPUBLISHED.inc()
        log.error("IVR visit %s (%s, %s) not published: %s", visit.event_id, visit.node, visit.outcome, why)
