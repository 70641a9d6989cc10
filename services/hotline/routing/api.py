"""The routing service's gRPC side (hotline.proto.routing.v1.Routing)."""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from hotline.common.errors import InvalidArgument
from hotline.common.grpc import require
from hotline.proto.routing.v1 import routing_pb2 as pb
from hotline.proto.routing.v1 import routing_pb2_grpc
from hotline.routing.acd import Agent, QueueConfig
from hotline.routing.core import RoutingCore

log = logging.getLogger(__name__)


def agent_status(agent: Agent) -> pb.AgentStatus:
    return pb.AgentStatus(
        agent=pb.Agent(agent_id=agent.agent_id, name=agent.name, contact=agent.contact, skills=agent.skills),
        state=agent.state, reason="" if agent.reason.startswith("pending:") else agent.reason,
        state_since_us=agent.state_since_us, call_uuid=agent.call_uuid, idle_since_us=agent.idle_since_us)


def queue_message(q: QueueConfig) -> pb.Queue:
    return pb.Queue(name=q.name, skill=q.skill, strategy=pb.LONGEST_IDLE,
                    service_level_threshold_s=q.service_level_threshold_s, wrap_up_s=q.wrap_up_s,
                    hold_music=q.hold_music, ring_timeout_s=q.ring_timeout_s)


class RoutingServicer(routing_pb2_grpc.RoutingServicer):
    def __init__(self, core: RoutingCore, on_enqueued: Callable[[str, str, str], None], *,
                 nodes: Sequence[str] = ()) -> None:
        self.core = core
        self.acd = core.acd
        self.on_enqueued = on_enqueued
        self.nodes = list(nodes)           # the FreeSWITCH nodes routing controls; empty: any

    def _done(self, result: Any) -> Any:
        self.core.publish_outbox()
        return result

    def Enqueue(self, request: pb.EnqueueRequest, context: Any) -> pb.EnqueueResponse:
        require(request, "call_uuid", "queue")
        node_id = request.node_id
        if not node_id and len(self.nodes) == 1:
            node_id = self.nodes[0]
        elif self.nodes and node_id not in self.nodes:
            raise InvalidArgument("node_id", f"{node_id!r} is not a FreeSWITCH node routing controls "
                                             f"(known: {', '.join(self.nodes)})")
        position = self.acd.enqueue(request.call_uuid, request.queue, ani=request.ani, dnis=request.dnis,
                                    caller_name=request.caller_name, node_id=node_id,
                                    priority=request.priority, answered_us=request.answered_us,
                                    menu_choice=request.menu_choice)
        self.on_enqueued(request.call_uuid, request.queue, node_id)
        return self._done(pb.EnqueueResponse(position=position))

    def UpsertQueue(self, request: pb.Queue, context: Any) -> pb.Queue:
        require(request, "name", "skill")
        if request.strategy not in (pb.STRATEGY_UNSPECIFIED, pb.LONGEST_IDLE):
            raise InvalidArgument("strategy", "only LONGEST_IDLE is supported")
        default = QueueConfig(request.name, request.skill)
        queue = QueueConfig(
            name=request.name, skill=request.skill,
            service_level_threshold_s=request.service_level_threshold_s or default.service_level_threshold_s,
            wrap_up_s=request.wrap_up_s, hold_music=request.hold_music or default.hold_music,
            ring_timeout_s=request.ring_timeout_s or default.ring_timeout_s)
        return self._done(queue_message(self.acd.upsert_queue(queue)))

    def ListQueues(self, request: pb.ListQueuesRequest, context: Any) -> pb.ListQueuesResponse:
        return pb.ListQueuesResponse(queues=[queue_message(q) for q in self.acd.queues.values()])

    def UpsertAgent(self, request: pb.Agent, context: Any) -> pb.Agent:
        require(request, "agent_id", "contact")
        agent = self.acd.upsert_agent(request.agent_id, request.name, request.contact, dict(request.skills))
        return self._done(agent_status(agent).agent)

    def ListAgents(self, request: pb.ListAgentsRequest, context: Any) -> pb.ListAgentsResponse:
        return pb.ListAgentsResponse(agents=[agent_status(a) for a in self.acd.agents.values()])

    def GetAgent(self, request: pb.GetAgentRequest, context: Any) -> pb.AgentStatus:
        return agent_status(self.acd.agent(request.agent_id))

    def SetAgentState(self, request: pb.SetAgentStateRequest, context: Any) -> pb.AgentStatus:
        require(request, "agent_id", "state")
        agent = self.acd.set_agent_state(request.agent_id, request.state, request.reason)
        return self._done(agent_status(agent))

    def GetQueueStatus(self, request: pb.GetQueueStatusRequest, context: Any) -> pb.QueueStatus:
        require(request, "queue")
        if request.queue not in self.acd.queues:
            raise InvalidArgument("queue", f"no queue named {request.queue!r}")
        waiting, longest, by_state = self.core.queue_status(request.queue)
        return pb.QueueStatus(queue=request.queue, calls_waiting=waiting, longest_wait_us=longest,
                              agents_by_state=by_state)
