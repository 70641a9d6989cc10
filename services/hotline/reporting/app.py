"""Composition root of the reporting service: the ClickHouse store, the
Kafka consumer that fills it (ingest.Ingester, with the roll-up refresh as
its ``after_insert`` step: docs/ingestion.md), and the gRPC API that reads it.

Health: SERVING only while the store answers and its schema is current
(every migration this build knows is applied). The schema is never migrated
here: until someone runs ``hotline migrate up`` the service logs why, stays
NOT_SERVING, answers report requests with UNAVAILABLE and does not consume
(so nothing is committed that could not be stored). A watcher re-checks
every few seconds and starts consuming once the schema is current.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import gevent

from hotline.common.bus import Consumer, EventBus
from hotline.common.errors import HotlineError
from hotline.common.grpc import GrpcServer
from hotline.common.settings import Settings
from hotline.proto.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from hotline.reporting import metrics, migrations
from hotline.reporting.api import ReportingServicer
from hotline.reporting.ingest import CONSUMER_GROUP, INGESTED_TOPICS, AfterInsert, Ingester
from hotline.reporting.rollup import Refresher
from hotline.reporting.store import ReportStore

log = logging.getLogger(__name__)

SERVICE_NAME = reporting_pb2.DESCRIPTOR.services_by_name["Reporting"].full_name


class ReportingService:
    """``after_insert``: what runs on every batch once its rows are stored and
    before its offsets are committed; by default the roll-up refresh, whose
    versions follow the wall clock (never ``clock``, which tests pin to a
    report's "now": a version must grow across restarts)."""

    def __init__(self, settings: Settings, bus: EventBus, store: ReportStore, *,
                 check_interval_s: float = 5.0, clock: Callable[[], float] = time.time,
                 after_insert: AfterInsert | None = None) -> None:
        self.settings = settings
        self.bus = bus
        self.store = store
        self.check_interval_s = check_interval_s
        self.ingester = Ingester(store, clock=clock, after_insert=after_insert or Refresher(store).after_batch)
        self.servicer = ReportingServicer(store, settings.reporting, ready=lambda: self.ready, clock=clock)
        self.server = GrpcServer(settings.grpc.reporting)
        self.server.add(reporting_pb2_grpc.add_ReportingServicer_to_server, self.servicer, SERVICE_NAME)
        self.consumer: Consumer | None = None
        self.ready = False
        self._problem: str | None = None
        self._watcher: gevent.Greenlet | None = None

    @property
    def grpc_port(self) -> int | None:
        return self.server.port

    def start(self) -> int:
        port = self.server.start()
        self.check()
        self._watcher = gevent.spawn(self._watch)
        return port

    def check(self) -> bool:
        """Is the store reachable and its schema current? Sets health, starts consuming."""
        problem = self._find_problem()
        ready = problem is None
        if problem != self._problem:
            if problem:
                log.error("reporting NOT_SERVING: %s", problem)
            else:
                log.info("reporting SERVING: %s is reachable and its schema is current", self.store.describe())
            self._problem = problem
        self.ready = ready
        self.server.set_all_serving(ready)
        metrics.READY.set(1 if ready else 0)
        if ready and self.consumer is None:
            self.consumer = self.bus.consume(CONSUMER_GROUP, INGESTED_TOPICS, self.ingester,
                                             batch_size=self.settings.reporting.batch_size,
                                             batch_timeout_s=self.settings.reporting.batch_timeout_s)
        return ready

    def _find_problem(self) -> str | None:
        try:
            if not self.store.ping():
                return f"{self.store.describe()} does not answer"
            missing = migrations.pending(self.store)
        except HotlineError as exc:
            return f"{self.store.describe()}: {exc.message}"
        if missing:
            return (f"the schema of {self.store.describe()} is not current: "
                    f"{', '.join(m.label for m in missing)} pending; run `hotline migrate up`")
        return None

    def _watch(self) -> None:
        while True:
            gevent.sleep(self.check_interval_s)
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one failure
                log.exception("reporting health check failed")

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.kill()
            self._watcher = None
        if self.consumer is not None:
            self.consumer.stop()
            self.consumer = None
        self.server.set_all_serving(False)
        self.ready = False
        metrics.READY.set(0)
        self.server.stop()
