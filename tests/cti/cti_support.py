"""Helpers of the CTI tests: tokens, a desktop's event feed, the service's settings."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import gevent
import grpc
import pytest

from cti_routing_double import RoutingContractDouble
from hotline.common import settings as settings_mod
from hotline.common.bus import EventBus
from hotline.proto.cti.v1 import cti_pb2, cti_pb2_grpc

AGENT_TOKEN = "tok-agent-1001"
OTHER_AGENT_TOKEN = "tok-agent-1002"
SUPERVISOR_TOKEN = "tok-supervisor"
INTEGRATION_TOKEN = "tok-integration"
TOKENS = (f"{AGENT_TOKEN}:agent:1001,{OTHER_AGENT_TOKEN}:agent:1002,"
          f"{SUPERVISOR_TOKEN}:supervisor,{INTEGRATION_TOKEN}:integration")


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        gevent.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: last={last!r}")


class Feed:
    """A desktop's StreamEvents call, read by a greenlet into a list."""

    def __init__(self, stub: cti_pb2_grpc.CtiStub, agent_id: str, token: str) -> None:
        self.call = stub.StreamEvents(cti_pb2.StreamEventsRequest(agent_id=agent_id), metadata=auth(token))
        self.events: list[cti_pb2.AgentEvent] = []
        self.error: grpc.RpcError | None = None
        self.reader = gevent.spawn(self._read)

    def _read(self) -> None:
        try:
            for event in self.call:
                self.events.append(event)
        except grpc.RpcError as exc:
            self.error = exc

    def of_kind(self, kind: str) -> list[Any]:
        return [getattr(e, kind) for e in self.events if e.WhichOneof("event") == kind]

    def wait(self, kind: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 20.0) -> Any:
        return wait_for(lambda: next((e for e in self.of_kind(kind) if predicate(e)), None), timeout=timeout,
                        what=f"{kind} on the agent feed (have {[e.WhichOneof('event') for e in self.events]})")

    def cancel(self) -> None:
        self.call.cancel()
        self.reader.join(5)


@dataclasses.dataclass
class Cti:
    bus: EventBus
    routing: RoutingContractDouble
    service: Any
    stub: cti_pb2_grpc.CtiStub
    channel: grpc.Channel

    def feed(self, agent_id: str = "1001", token: str = AGENT_TOKEN) -> Feed:
        feed = Feed(self.stub, agent_id, token)
        feed.wait("state_changed")          # the current state: the subscription exists
        return feed


def cti_settings(tmp_path: Any, *, routing: str = "127.0.0.1:1") -> settings_mod.Settings:
    return settings_mod.Settings(
        grpc=settings_mod.GrpcEndpoints(cti="127.0.0.1:0", routing=routing),
        cti=settings_mod.CtiSettings(tokens=TOKENS, customers_db=str(tmp_path / "customers.sqlite3")))
