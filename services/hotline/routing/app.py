"""Composition root of the routing service: the ACD core, its gRPC API,
and its FreeSWITCH side, wired from settings."""
from __future__ import annotations

import gc
import logging
import time

from hotline.common import topics
from hotline.common.bus import EventBus
from hotline.common.errors import ConfigError
from hotline.common.grpc import GrpcServer
from hotline.common.settings import Settings, parse_queue_specs
from hotline.freeswitch.pool import SwitchPool
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc
from hotline.routing import config, metrics, rebuild
from hotline.routing.acd import QueueConfig
from hotline.routing.api import RoutingServicer
from hotline.routing.core import RoutingCore
from hotline.routing.switch import SwitchSide

log = logging.getLogger(__name__)

SERVICE_NAME = routing_pb2.DESCRIPTOR.services_by_name["Routing"].full_name
# What routing subscribes to on each node's event connection, so also the
# call events it publishes (docs/events.md, "Which events routing publishes"):
# what routing acts on (DTMF, CHANNEL_HANGUP_COMPLETE, CHANNEL_DESTROY; every
# caller event feeds the snapshot for a lost caller's CDR) and what the
# call-events topic's readers use (recording: CHANNEL_BRIDGE, RECORD_STOP,
# CHANNEL_DESTROY; reporting's cdr_legs: CHANNEL_HANGUP_COMPLETE), with the
# rest of a channel's life (created, answered, unbridged, held, recording
# started). Not the events every application fires (CHANNEL_EXECUTE /
# _COMPLETE: half of a call's events), nor PROGRESS, PARK/UNPARK, HANGUP and
# ORIGINATE, which nothing reads: each one costs a parse and a Kafka record.
ESL_EVENTS = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HOLD",
              "CHANNEL_UNHOLD", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "DTMF", "RECORD_START",
              "RECORD_STOP", "BACKGROUND_JOB")


def parse_agent_specs(text: str) -> list[tuple[str, str, dict[str, int]]]:
    """"1001:user/1001@default:sales=5+support=3,..." -> [(id, contact, skills)]."""
    agents = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        parts = item.split(":")
        if len(parts) != 3:
            raise ConfigError(f"HOTLINE_ROUTING_AGENTS: {item!r} is not id:contact:skill=level+...")
        skills: dict[str, int] = {}
        for pair in filter(None, parts[2].split("+")):
            skill, _, level = pair.partition("=")
            if not level.isdigit():
                raise ConfigError(f"HOTLINE_ROUTING_AGENTS: {pair!r} is not skill=level")
            skills[skill] = int(level)
        agents.append((parts[0], parts[1], skills))
    return agents


class RoutingService:
    def __init__(self, settings: Settings, bus: EventBus, switches: SwitchPool | None = None) -> None:
        self.settings = settings
        self.bus = bus
        self.core = RoutingCore(bus)
        self.switches = switches or SwitchPool.from_settings(settings.esl, ESL_EVENTS)
        self.switch = SwitchSide(self.core, self.switches, bus, settings=settings.routing)
        self.servicer = RoutingServicer(self.core, nodes=list(self.switches.nodes))
        self.server = GrpcServer(settings.grpc.routing)
        self.server.add(routing_pb2_grpc.add_RoutingServicer_to_server, self.servicer, SERVICE_NAME)
        for spec in parse_queue_specs(settings.routing.queues):
            self.core.acd.upsert_queue(QueueConfig(hold_music=settings.routing.hold_music,
                                                   ring_timeout_s=settings.routing.default_ring_timeout_s, **spec))
        for agent_id, contact, skills in parse_agent_specs(settings.routing.agents):
            self.core.acd.upsert_agent(agent_id, agent_id, contact, skills)
        self.core.acd.drain()
        # Serving while at least one node is up: calls on the others wait for theirs.
        self.switches.on_connected(lambda *_: self.server.set_all_serving(True))
        self.switches.on_disconnected(lambda *_: self.server.set_all_serving(self.switches.connected))
        self.grpc_port: int | None = None

    def rebuild(self) -> rebuild.Restored:
        """Configuration from the config-events topic (over the settings'
        queues and agents), then agents' states and queued calls from the
        ACD's own events; the switch's channels settle the rest on connect."""
        started = time.monotonic()
        applied = config.rebuild(self.core.acd, self.bus)
        since_ms = int(time.time() * 1000) - self.settings.routing.rebuild_lookback_s * 1000
        records = self.bus.read_log([topics.AGENT_EVENTS, topics.QUEUE_EVENTS], since_ms=since_ms)
        agent_events, queue_events = [], []
        for record in records:
            try:
                if record.topic == topics.AGENT_EVENTS:
                    agent_events.append(ev.AgentStateEvent.FromString(record.value))
                else:
                    queue_events.append(ev.QueueEvent.FromString(record.value))
            except Exception as exc:  # noqa: BLE001 - a bad record must not stop the service
                log.warning("rebuild: %s record at %d/%d undecodable: %s", record.topic, record.partition,
                            record.offset, exc)
        restored = rebuild.restore(self.core.acd, agent_events, queue_events)
        for call in restored.offering:
            self.switch.settle_later(call, call.node_id or next(iter(self.switches.nodes), ""))
        metrics.REBUILD_SECONDS.set(time.monotonic() - started)
        log.info("rebuilt routing state in %.2fs: %d configuration objects, %d agents, %d calls "
                 "(%d offers to settle with the switch, %d left out)", time.monotonic() - started, applied,
                 restored.agents, restored.calls, len(restored.offering), restored.skipped)
        return restored

    def start(self) -> None:
        self.rebuild()
        # Configuration and rebuilt state live as long as the process: keep
        # them out of the collector's generations, so a full collection does
        # not rescan thousands of agents and indexes in the middle of a decision.
        gc.collect()
        gc.freeze()
        self.grpc_port = self.server.start()
        self.switch.start()
        self.switches.start()

    def stop(self) -> None:
        # Hand the frozen objects back to the collector: left frozen, they are
        # finalised only during interpreter teardown, after chdb's C++ runtime
        # (in the single-process mode) is gone: a segfault at exit.
        gc.unfreeze()
        self.switch.stop()
        self.switches.stop()
        self.server.stop()
        self.bus.flush(5)
