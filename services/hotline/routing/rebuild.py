"""Routing's state after a restart, rebuilt from its own record on Kafka.

The ACD publishes every agent state change (agent-events, keyed by agent)
and every step of every queued call (queue-events, keyed by call UUID), so
folding those topics over the last ``rebuild_lookback_s`` gives back each
agent's state and every call still in a queue: its queue, priority, place
(arrival time), offers, the agents it was ringing, whether it is connected,
its callback number. Pure: events in, Acd changed, no event published.

What the events cannot say is checked against the switch when its
connection comes up (switch.SwitchSide.reconcile): calls whose channel is
gone end with a CDR, offers in flight are settled (bridged: connected;
otherwise their agent legs, whose UUIDs derive from the call, are hung up
and the call waits again), and agents whose call is gone are released by
the ACD's tick.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Iterable

from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing.acd import Acd, CallState, QueuedCall, agent_leg_uuid, customer_leg_uuid
from hotline.routing.rules import parse_destination

log = logging.getLogger(__name__)

US = 1_000_000
ENDS = (ev.QUEUE_ABANDONED, ev.QUEUE_CALL_ENDED)


@dataclasses.dataclass
class Restored:
    agents: int = 0
    calls: int = 0
    offering: list[QueuedCall] = dataclasses.field(default_factory=list)   # to settle with the switch
    skipped: int = 0


def restore(acd: Acd, agent_events: Iterable[ev.AgentStateEvent],
            queue_events: Iterable[ev.QueueEvent]) -> Restored:
    """Apply the agents' latest states and the calls still queued to `acd`
    (configured already). Events must be in publish order per key."""
    out = Restored()
    latest: dict[str, ev.AgentStateEvent] = {}
    for event in agent_events:
        latest[event.agent_id] = event
    now = acd.clock_us()
    for agent_id, event in latest.items():
        agent = acd.agents.get(agent_id)
        if agent is None:
            out.skipped += 1
            continue
        agent.state, agent.reason, agent.state_since_us = event.state, event.reason, event.timestamp_us
        agent.call_uuid = event.call_uuid if event.state in (ev.RESERVED, ev.ON_CALL, ev.WRAP_UP) else ""
        agent.queue = event.queue if agent.call_uuid else ""
        agent.dnd = event.state == ev.NOT_READY and event.reason == "dnd"
        if event.state == ev.READY:
            agent.idle_since_us = event.timestamp_us
            acd.selector.stats(agent_id).idle_since_us = event.timestamp_us
            acd.selector.set_ready(agent_id)
        else:
            acd.selector.set_busy(agent_id)
        out.agents += 1

    calls: dict[str, QueuedCall] = {}
    for event in queue_events:
        call = calls.get(event.call_uuid)
        if event.type == ev.QUEUE_ENQUEUED:
            if call is None:
                call = calls[event.call_uuid] = QueuedCall(
                    event.call_uuid, event.queue, event.ani, event.dnis, event.caller_name, event.node_id,
                    event.priority, event.timestamp_us, first_enqueued_us=event.timestamp_us)
            call.queue, call.enqueued_us, call.state = event.queue, event.timestamp_us, CallState.WAITING
            call.ringing, call.tried = {}, set()
            continue
        if call is None:
            continue                        # began before the lookback window, or not a queued call
        if event.type in ENDS:
            del calls[event.call_uuid]
        elif event.type == ev.QUEUE_REJECTED:
            del calls[event.call_uuid]
        elif event.type == ev.QUEUE_OVERFLOWED:
            kind, _ = parse_destination(event.destination) if event.destination else ("", "")
            if kind != "queue":             # to voicemail or an IVR: no longer routing's
                del calls[event.call_uuid]
        elif event.type == ev.QUEUE_PRIORITY_CHANGED:
            call.priority = event.priority
        elif event.type == ev.QUEUE_OFFERED:
            call.offers = event.attempt or call.offers + 1
            if call.state is not CallState.OFFERING:
                call.ringing = {}
            call.state, call.offered_us = CallState.OFFERING, event.timestamp_us
            # the call's agent stays the first one still ringing (ring-all rings
            # several; the first may have failed while the others rang on)
            call.agent_id = call.agent_id if call.agent_id in call.ringing else event.agent_id
            call.ringing[event.agent_id] = agent_leg_uuid(call.call_uuid, call.offers, event.agent_id)
            call.agent_leg_uuid = call.ringing[call.agent_id]
            call.tried.add(event.agent_id)
        elif event.type == ev.QUEUE_OFFER_FAILED:
            call.ringing.pop(event.agent_id, None)
            if not call.ringing:
                call.state, call.agent_id, call.agent_leg_uuid = CallState.WAITING, "", ""
            elif call.agent_id not in call.ringing:
                call.agent_id, call.agent_leg_uuid = next(iter(call.ringing.items()))
        elif event.type == ev.QUEUE_CONNECTED:
            call.agent_leg_uuid = call.ringing.get(event.agent_id, call.agent_leg_uuid)
            call.state, call.agent_id, call.connected_us = CallState.CONNECTED, event.agent_id, event.timestamp_us
            call.ringing = {}
        elif event.type == ev.QUEUE_CALLBACK_REQUESTED:
            # The caller normally hangs up at once (their CDR was written then).
            call.callback_number, call.caller_gone = event.callback_number, True
        elif event.type == ev.QUEUE_CALLBACK_DIALING:
            call.callback_attempts = event.attempt
            call.customer_leg_uuid = customer_leg_uuid(call.call_uuid, event.attempt)
            call.dialing_agent = event.agent_id
        elif event.type == ev.QUEUE_CALLBACK_FAILED:
            queue = acd.queues.get(call.queue)
            call.customer_leg_uuid = ""
            if queue is None or event.attempt >= queue.callback_attempts:
                del calls[event.call_uuid]
            else:
                call.not_before_us = event.timestamp_us + queue.callback_retry_s * US

    for call in sorted(calls.values(), key=lambda c: (c.enqueued_us, c.call_uuid)):
        queue = acd.queues.get(call.queue)
        if queue is None:
            log.warning("call %s was queued in %s, which no longer exists; left out", call.call_uuid, call.queue)
            out.skipped += 1
            continue
        call.seq = next(acd._seq)
        if queue.announce_every_s:
            call.next_announce_us = now + queue.announce_every_s * US
        acd.calls[call.call_uuid] = call
        out.calls += 1
        if call.state is CallState.OFFERING:
            out.offering.append(call)
    return out
