"""Single-process mode: every service in one process, wired together as
the separate processes would be (real gRPC over loopback between them), on
an in-process event bus and embedded ClickHouse (chdb) unless told to use
the real Kafka and ClickHouse server."""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from hotline.common.bus import EventBus, InProcessBus
from hotline.common.grpc import channel
from hotline.common.settings import Settings

log = logging.getLogger(__name__)


class SingleProcess:
    def __init__(self, settings: Settings, *, use_kafka: bool = False, clickhouse_server: bool = False,
                 bus: EventBus | None = None) -> None:
        if not clickhouse_server and settings.clickhouse.backend != "embedded":
            settings = dataclasses.replace(settings, clickhouse=dataclasses.replace(settings.clickhouse,
                                                                                    backend="embedded"))
        self.settings = settings
        if bus is None:
            if use_kafka:
                from hotline.common.kafka import KafkaBus
                kafka_bus = KafkaBus(settings.kafka)
                kafka_bus.ensure_topics()
                bus = kafka_bus
            else:
                bus = InProcessBus()
        self.bus = bus
        self.store: Any = None
        self.reporting: Any = None
        self.routing: Any = None
        self.cti: Any = None
        self.recording: Any = None
        self.ivr: Any = None
        self._started: list[Any] = []
        self.routing_channel: Any = None

    def _start(self, service: Any) -> Any:
        service.start()
        self._started.append(service)
        return service

    def start(self) -> None:
        from hotline.cti.app import CtiService
        from hotline.ivr.app import IvrService
        from hotline.recording.app import RecordingService
        from hotline.reporting import migrations
        from hotline.reporting.app import ReportingService
        from hotline.reporting.store import open_store
        from hotline.routing.app import RoutingService

        s = self.settings
        self.store = open_store(s.clickhouse)
        if s.clickhouse.backend == "embedded":
            # The embedded database is this process's own: bring its schema up now.
            migrations.up(self.store)
        self.reporting = self._start(ReportingService(s, self.bus, self.store))
        self.routing = self._start(RoutingService(s, self.bus))
        self.routing_channel = channel(f"127.0.0.1:{self.routing.grpc_port}")
        self.cti = self._start(CtiService(s, self.bus, self.routing_channel))
        self.recording = self._start(RecordingService(s, self.bus))
        self.ivr = self._start(IvrService(s, self.routing_channel, bus=self.bus))
        log.info("all services running in one process")

    def stop(self) -> None:
        for service in reversed(self._started):
            try:
                service.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping %s failed", type(service).__name__)
        self._started.clear()
        self.bus.close()
