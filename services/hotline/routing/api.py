"""The routing service's gRPC side (hotline.proto.routing.v1.Routing): calls
into queues, agent states, and the administration of queues, agents,
calendars, number lists and routing rules.

An administrative change is validated (errors name the request's field path),
applied to the running ACD at once, and then published as a ConfigChange on
the compacted config-events topic, from which a restarted service rebuilds
its configuration (hotline.routing.config). The conversions between the
messages and the ACD's objects live there too; this module is the adapter."""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from hotline.common.errors import InvalidArgument, NotFound
from hotline.common.grpc import require
from hotline.proto.routing.v1 import routing_pb2 as pb
from hotline.proto.routing.v1 import routing_pb2_grpc
from hotline.routing import config
from hotline.routing.acd import CallState, QueuedCall
from hotline.routing.core import RoutingCore

log = logging.getLogger(__name__)

OUTCOMES = {"enqueued": pb.ENQUEUED, "overflowed": pb.OVERFLOWED, "rejected": pb.REJECTED}


def peer(context: Any) -> str:
    try:
        return str(context.peer())
    except Exception:  # noqa: BLE001 - a context without a peer (direct calls in tests)
        return "unknown"


class RoutingServicer(routing_pb2_grpc.RoutingServicer):
    def __init__(self, core: RoutingCore, on_enqueued: Callable[[str, str, str], None] | None = None, *,
                 nodes: Sequence[str] = ()) -> None:
        self.core = core
        self.acd = core.acd
        self.on_enqueued = on_enqueued    # (call_uuid, queue, node_id): the call now waits in queue
        self.nodes = list(nodes)           # the FreeSWITCH nodes routing controls; empty: any

    def _done(self, result: Any) -> Any:
        self.core.publish_outbox()
        return result

    def _changed(self, context: Any, kind: str, name: str, obj: Any | None) -> None:
        """After a successful administrative change: the ACD's events, then the ConfigChange."""
        self.core.publish_outbox()
        self.core.wakeup.set()            # new skills, tiers or rules may allow an assignment now
        change = config.publish_change(self.core.bus, kind, name, obj, peer(context))
        log.info("configuration %s:%s %s by %s", kind, name, "deleted" if change.deleted else "set",
                 change.changed_by)

    # -- calls -----------------------------------------------------------------
    def Enqueue(self, request: pb.EnqueueRequest, context: Any) -> pb.EnqueueResponse:
        require(request, "call_uuid", "queue")
        node_id = request.node_id
        if not node_id and len(self.nodes) == 1:
            node_id = self.nodes[0]
        elif self.nodes and node_id not in self.nodes:
            raise InvalidArgument("node_id", f"{node_id!r} is not a FreeSWITCH node routing controls "
                                             f"(known: {', '.join(self.nodes)})")
        result = self.acd.enqueue(request.call_uuid, request.queue, ani=request.ani, dnis=request.dnis,
                                  caller_name=request.caller_name, node_id=node_id,
                                  priority=request.priority, answered_us=request.answered_us,
                                  menu_choice=request.menu_choice)
        if result.outcome == "enqueued" and self.on_enqueued is not None:
            self.on_enqueued(request.call_uuid, result.queue, node_id)
        return self._done(pb.EnqueueResponse(
            position=result.position, outcome=OUTCOMES[result.outcome], queue=result.queue,
            destination=result.destination, reject_cause=result.reject_cause, ewt_s=result.ewt_s,
            priority=result.priority))

    def _call_message(self, call: QueuedCall) -> pb.QueuedCall:
        return pb.QueuedCall(
            call_uuid=call.call_uuid, queue=call.queue, ani=call.ani, dnis=call.dnis, priority=call.priority,
            enqueued_us=call.enqueued_us, agent_id=call.agent_id,
            state="callback" if call.is_callback and call.state is CallState.WAITING else call.state.value,
            position=self.acd.position(call), callback_number=call.callback_number, offers=call.offers)

    def SetCallPriority(self, request: pb.SetCallPriorityRequest, context: Any) -> pb.QueuedCall:
        require(request, "call_uuid")
        return self._done(self._call_message(self.acd.set_priority(request.call_uuid, request.priority)))

    def RequestCallback(self, request: pb.RequestCallbackRequest, context: Any) -> pb.QueuedCall:
        require(request, "call_uuid")
        return self._done(self._call_message(self.acd.request_callback(request.call_uuid, request.number)))

    def ListCalls(self, request: pb.ListCallsRequest, context: Any) -> pb.ListCallsResponse:
        if request.queue:
            self._queue(request.queue)
        return pb.ListCallsResponse(calls=[self._call_message(c) for c in self.acd.waiting(request.queue or None)])

    # -- queues ----------------------------------------------------------------
    def _queue(self, name: str) -> Any:
        try:
            return self.acd.queues[name]
        except KeyError:
            raise NotFound(f"queue {name!r} does not exist", queue=name) from None

    def UpsertQueue(self, request: pb.Queue, context: Any) -> pb.Queue:
        queue = config.apply(self.acd, config.QUEUE, request)
        self._changed(context, config.QUEUE, queue.name, queue)
        return config.queue_to_proto(queue)

    def DeleteQueue(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        require(request, "name")
        self.acd.delete_queue(request.name)
        self._changed(context, config.QUEUE, request.name, None)
        return pb.DeleteResponse()

    def ListQueues(self, request: pb.ListQueuesRequest, context: Any) -> pb.ListQueuesResponse:
        return pb.ListQueuesResponse(queues=[config.queue_to_proto(q) for q in self.acd.queues.values()])

    # -- agents ----------------------------------------------------------------
    def UpsertAgent(self, request: pb.Agent, context: Any) -> pb.Agent:
        agent = config.apply(self.acd, config.AGENT, request)
        self._changed(context, config.AGENT, agent.agent_id, agent)
        return config.agent_to_proto(agent)

    def DeleteAgent(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        require(request, "name")
        self.acd.delete_agent(request.name)
        self._changed(context, config.AGENT, request.name, None)
        return pb.DeleteResponse()

    def ListAgents(self, request: pb.ListAgentsRequest, context: Any) -> pb.ListAgentsResponse:
        return pb.ListAgentsResponse(agents=[config.agent_status(a) for a in self.acd.agents.values()])

    def GetAgent(self, request: pb.GetAgentRequest, context: Any) -> pb.AgentStatus:
        return config.agent_status(self.acd.agent(request.agent_id))

    def SetAgentState(self, request: pb.SetAgentStateRequest, context: Any) -> pb.AgentStatus:
        require(request, "agent_id", "state")
        agent = self.acd.set_agent_state(request.agent_id, request.state, request.reason)
        return self._done(config.agent_status(agent))

    def SetAgentDnd(self, request: pb.SetAgentDndRequest, context: Any) -> pb.AgentStatus:
        require(request, "agent_id")
        return self._done(config.agent_status(self.acd.set_dnd(request.agent_id, request.dnd)))

    # -- calendars -------------------------------------------------------------
    def UpsertCalendar(self, request: pb.Calendar, context: Any) -> pb.Calendar:
        cal = config.apply(self.acd, config.CALENDAR, request)
        self._changed(context, config.CALENDAR, cal.name, cal)
        return config.calendar_to_proto(cal)

    def DeleteCalendar(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        require(request, "name")
        self.acd.delete_calendar(request.name)
        self._changed(context, config.CALENDAR, request.name, None)
        return pb.DeleteResponse()

    def ListCalendars(self, request: pb.ListCalendarsRequest, context: Any) -> pb.ListCalendarsResponse:
        return pb.ListCalendarsResponse(calendars=[config.calendar_to_proto(c) for c in self.acd.calendars.values()])

    # -- number lists ----------------------------------------------------------
    def UpsertNumberList(self, request: pb.NumberList, context: Any) -> pb.NumberList:
        number_list = config.apply(self.acd, config.LIST, request)
        self._changed(context, config.LIST, number_list.name, number_list)
        return config.number_list_to_proto(number_list)

    def DeleteNumberList(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        require(request, "name")
        self.acd.delete_list(request.name)
        self._changed(context, config.LIST, request.name, None)
        return pb.DeleteResponse()

    def ListNumberLists(self, request: pb.ListNumberListsRequest, context: Any) -> pb.ListNumberListsResponse:
        return pb.ListNumberListsResponse(lists=[config.number_list_to_proto(n) for n in self.acd.lists.values()])

    # -- routing rules -----------------------------------------------------------
    def SetRoutingRules(self, request: pb.RoutingRules, context: Any) -> pb.RoutingRules:
        rule_set = config.apply(self.acd, config.RULE_SET, request)
        self._changed(context, config.RULE_SET, config.RULE_SET_NAME, rule_set)
        return config.rules_to_proto(rule_set)

    def GetRoutingRules(self, request: pb.GetRoutingRulesRequest, context: Any) -> pb.RoutingRules:
        return config.rules_to_proto(self.acd.rules)

    # -- status ----------------------------------------------------------------
    def GetQueueStatus(self, request: pb.GetQueueStatusRequest, context: Any) -> pb.QueueStatus:
        require(request, "queue")
        queue = self._queue(request.queue)
        waiting, longest, by_state = self.core.queue_status(request.queue)
        callbacks = sum(1 for c in self.acd.waiting(request.queue) if c.is_callback)
        return pb.QueueStatus(queue=request.queue, calls_waiting=waiting, longest_wait_us=longest,
                              agents_by_state=by_state, open=self.acd.is_open(queue), callbacks_waiting=callbacks,
                              ewt_s=self.acd.ewt_s(request.queue, waiting + 1))
