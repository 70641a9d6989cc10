"""A whole Hotline deployment for end-to-end tests: the FreeSWITCH simulator
over TCP, and each service with its own Kafka client (they talk only over
Kafka and gRPC on loopback, as separate processes would), ClickHouse server
for reporting, SQLite for customers."""
from __future__ import annotations

import dataclasses
import os
import secrets
import time
from typing import Any, Callable

import pytest

from hotline.common import settings as settings_mod
from hotline.common.grpc import channel
from hotline.common.kafka import KafkaBus

AGENT_TOKEN = "agent-1001-token"
SUPERVISOR_TOKEN = "supervisor-token"


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: last={last!r}")


@dataclasses.dataclass
class Platform:
    settings: settings_mod.Settings
    switch: Any
    routing: Any
    ivr: Any
    recording: Any
    cti: Any
    reporting: Any
    store: Any
    buses: list[KafkaBus]
    routing_channel: Any
    recordings_dir: str

    def channel_to(self, service: Any) -> Any:
        return channel(f"127.0.0.1:{service.grpc_port}")


@pytest.fixture
def platform(tmp_path, kafka_bootstrap, clickhouse_address, unique_name, topic_prefix):
    from hotline.cti.app import CtiService
    from hotline.ivr.app import IvrService
    from hotline.recording.app import RecordingService
    from hotline.reporting import migrations
    from hotline.reporting.app import ReportingService
    from hotline.reporting.store import open_store
    from hotline.routing.app import RoutingService
    from hotline.simulator import Switch

    password = secrets.token_hex(8)
    recordings = str(tmp_path / "recordings")
    switch = Switch(password=password, host="127.0.0.1", esl_port=0, hostname="itest",
                    recordings_dir=recordings, media_scale=0.2)
    switch.start()
    ch_host, ch_port = clickhouse_address
    env = {
        "HOTLINE_ESL_PORT": str(switch.esl_port),
        "HOTLINE_ESL_PASSWORD": password,
        "HOTLINE_ESL_RECONNECT_MIN_S": "0.2",
        "HOTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HOTLINE_KAFKA_TOPIC_PREFIX": topic_prefix,
        "HOTLINE_CLICKHOUSE_HOST": ch_host,
        "HOTLINE_CLICKHOUSE_PORT": str(ch_port),
        "HOTLINE_CLICKHOUSE_DATABASE": unique_name,
        "HOTLINE_GRPC_ROUTING": "127.0.0.1:0",
        "HOTLINE_GRPC_CTI": "127.0.0.1:0",
        "HOTLINE_GRPC_REPORTING": "127.0.0.1:0",
        "HOTLINE_GRPC_RECORDING": "127.0.0.1:0",
        "HOTLINE_GRPC_IVR": "127.0.0.1:0",
        "HOTLINE_IVR_SOCKET_PORT": "0",
        "HOTLINE_IVR_MENU_TIMEOUT_MS": "1500",
        "HOTLINE_ROUTING_QUEUES": "sales:sales:20:1,support:support:20:1",
        "HOTLINE_ROUTING_DEFAULT_RING_TIMEOUT_S": "5",
        "HOTLINE_ROUTING_TICK_S": "0.05",
        "HOTLINE_RECORDING_DIRECTORY": recordings,
        "HOTLINE_CTI_TOKENS": f"{AGENT_TOKEN}:agent:agent-1001,{SUPERVISOR_TOKEN}:supervisor",
        "HOTLINE_CTI_CUSTOMERS_DB": str(tmp_path / "customers.sqlite3"),
        "HOTLINE_REPORTING_BATCH_TIMEOUT_S": "0.1",
    }
    settings = settings_mod.load(env)
    # The schema comes from the migrate subcommand, never from service start.
    assert migrations.main(settings, ["up"]) == 0

    buses: list[KafkaBus] = []

    def bus() -> KafkaBus:
        b = KafkaBus(settings.kafka)
        b.ensure_topics()
        buses.append(b)
        return b

    started: list[Any] = []

    def start(service: Any) -> Any:
        service.start()
        started.append(service)
        return service

    try:
        store = open_store(settings.clickhouse)
        reporting = start(ReportingService(settings, bus(), store))
        routing = start(RoutingService(settings, bus()))
        routing_channel = channel(f"127.0.0.1:{routing.grpc_port}")
        cti = start(CtiService(settings, bus(), channel(f"127.0.0.1:{routing.grpc_port}")))
        recording = start(RecordingService(settings, bus()))
        ivr = start(IvrService(settings, channel(f"127.0.0.1:{routing.grpc_port}"), bus=bus()))
        switch.add_extension(dnis="5000", apps=[("set", "outside_call=true"),
                                                ("socket", f"127.0.0.1:{ivr.socket_port} async full")])
        wait_for(lambda: routing.switches.all_connected and recording.switches.all_connected, what="ESL connections")
        yield Platform(settings, switch, routing, ivr, recording, cti, reporting, store, buses,
                       routing_channel, recordings)
    finally:
        for service in reversed(started):
            service.stop()
        for b in buses:
            b.close()
        switch.stop()
        os.environ.pop("HOTLINE_CONFIG", None)
