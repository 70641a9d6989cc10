"""The CTI service over real gRPC on loopback, on a real event bus (Kafka, or
the in-process bus of the single-process mode), in front of a contract
double of the routing service (cti_routing_double.py)."""
from __future__ import annotations

from typing import Any

import pytest

from cti_routing_double import RoutingContractDouble
from cti_support import Cti, cti_settings
from hotline.common.bus import EventBus
from hotline.proto.cti.v1 import cti_pb2_grpc


@pytest.fixture(params=[pytest.param("kafka", marks=pytest.mark.kafka), "inprocess"])
def bus(request: pytest.FixtureRequest) -> EventBus:
    return request.getfixturevalue("kafka_bus" if request.param == "kafka" else "inprocess_bus")


@pytest.fixture
def cti(bus: EventBus, tmp_path: Any, unique_name: str):
    from hotline.common.grpc import channel
    from hotline.cti.app import CtiService

    routing = RoutingContractDouble(bus)
    routing.add_agent("1001", "Ada Agent")
    routing.add_agent("1002", "Bo Agent")
    routing.start()
    routing_channel = routing.channel()
    service = CtiService(cti_settings(tmp_path, routing=f"127.0.0.1:{routing.port}"), bus, routing_channel,
                         instance_id=unique_name)
    service.start()
    assert service.feed.wait_ready(30), "the CTI feed did not attach to the bus"
    client = channel(f"127.0.0.1:{service.grpc_port}")
    try:
        yield Cti(bus, routing, service, cti_pb2_grpc.CtiStub(client), client)
    finally:
        client.close()
        service.stop()
        routing_channel.close()
        routing.stop()
