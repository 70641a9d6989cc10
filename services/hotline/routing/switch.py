"""The routing service's FreeSWITCH side: plays hold music to queued
callers, rings agents (bgapi originate ... &park()), bridges (uuid_bridge),
follows hang-ups, writes CDRs, and reconciles with `show channels` after
every (re)connect so no call or agent is left stuck. It also normalises
every channel event onto the call-events topic.

Several FreeSWITCH nodes: commands about a call go to the node that owns
its channel (hotline.freeswitch.pool), the agent leg is originated on the
caller's node, and each node is reconciled on its own when it (re)connects.
A call whose node is unreachable waits; it is not offered."""
from __future__ import annotations

import logging
import re
import time

import gevent

from hotline.common import topics
from hotline.common.bus import EventBus
from hotline.freeswitch import CommandFailed, EslConnection, EslError, EslEvent
from hotline.freeswitch.normalize import to_call_event
from hotline.freeswitch.pool import SwitchPool
from hotline.routing import metrics
from hotline.routing.acd import Assignment, CallState, QueuedCall
from hotline.routing.cdr import build_cdr, caller_snapshot, lost_caller_cdr, reconciled_cdr
from hotline.routing.core import RoutingCore

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[,{}\[\]'\"\s=^]")


def _var(value: str) -> str:
    """A value safe inside originate's {a=b,c=d} block."""
    return _UNSAFE.sub("_", value)[:80]


class SwitchSide:
    def __init__(self, core: RoutingCore, switches: SwitchPool, bus: EventBus, *, tick_s: float = 0.2) -> None:
        self.core = core
        self.acd = core.acd
        self.switches = switches
        self.bus = bus
        self.tick_s = tick_s
        self._greenlets: list[gevent.Greenlet] = []
        self._offers: set[gevent.Greenlet] = set()
        # call uuid -> (agent id, agent leg uuid, node id) of offers whose outcome was not heard
        self._unsettled: dict[str, tuple[str, str, str]] = {}
        # caller leg uuid -> (node id, what its events said): for the CDR of a
        # caller whose hang-up event never comes (the switch restarted)
        self._callers: dict[str, tuple[str, dict[str, str]]] = {}
        self._running = False
        switches.on_event(self.on_event)
        switches.on_connected(self.on_connected)
        switches.on_disconnected(lambda conn: metrics.SWITCH_CONNECTED.labels(conn.node_id).set(0))
        for conn in switches:
            metrics.SWITCH_CONNECTED.labels(conn.node_id).set(0)

    def _node_of(self, call: QueuedCall) -> EslConnection:
        return self.switches.for_channel(call.call_uuid, call.node_id)

    def _can_offer(self, call: QueuedCall) -> bool:
        try:
            return self._node_of(call).connected
        except EslError:
            return False

    def start(self) -> None:
        self._running = True
        self._greenlets.append(gevent.spawn(self._dispatch_loop))

    def stop(self) -> None:
        self._running = False
        gevent.killall([*self._greenlets, *self._offers], timeout=2)

    # -- decisions into actions -----------------------------------------
    def _dispatch_loop(self) -> None:
        while self._running:
            self.core.wakeup.wait(self.tick_s)
            self.core.wakeup.clear()
            try:
                self.acd.tick()
                if self.switches.connected:
                    for assignment in self.acd.next_assignments(self._can_offer):
                        g = gevent.spawn(self._offer, assignment)
                        self._offers.add(g)
                        g.link(self._offers.discard)
                self.core.publish_outbox()
            except Exception:  # noqa: BLE001 - the loop must survive anything
                log.exception("routing dispatch failed")

    def start_hold_music(self, call_uuid: str, queue_name: str, node_id: str = "") -> None:
        queue = self.acd.queues.get(queue_name)
        music = queue.hold_music if queue else "local_stream://moh"
        try:
            self.switches.for_channel(call_uuid, node_id).api_ok(f"uuid_broadcast {call_uuid} {music} aleg")
        except (EslError, CommandFailed) as exc:
            log.warning("hold music for %s failed: %s", call_uuid, exc)

    def _offer(self, a: Assignment) -> None:
        call, agent = a.call, a.agent
        queue = self.acd.queues[call.queue]
        started = time.monotonic()
        try:
            esl = self._node_of(call)
        except EslError as exc:
            log.warning("offer of %s: %s", call.call_uuid, exc)
            self.acd.offer_failed(call.call_uuid, agent.agent_id, "NODE_UNKNOWN")
            self.core.publish_outbox()
            return
        self.switches.claim(a.agent_leg_uuid, esl.node_id)
        variables = {
            "origination_uuid": a.agent_leg_uuid,
            "hotline_role": "agent",
            "hotline_call_uuid": call.call_uuid,
            "hotline_agent_id": _var(agent.agent_id),
            "hotline_queue": _var(queue.name),
            "origination_caller_id_number": _var(call.ani or "unknown"),
            "origination_caller_id_name": _var(call.caller_name or call.ani or "unknown"),
            "originate_timeout": str(queue.ring_timeout_s),
            "ignore_early_media": "true",
        }
        dial = "{" + ",".join(f"{k}={v}" for k, v in variables.items()) + "}" + agent.contact
        try:
            result = esl.bgapi(f"originate {dial} &park()", timeout=queue.ring_timeout_s + 15).strip()
        except EslError as exc:
            self._unsure(esl, a, f"originate: {exc}")
            return
        if not result.startswith("+OK"):
            cause = result[4:].strip() or "UNKNOWN"
            log.info("offer of %s to agent %s failed: %s", call.call_uuid, agent.agent_id, cause)
            self.acd.offer_failed(call.call_uuid, agent.agent_id, cause)
            self.core.publish_outbox()
            return
        if self.acd._call_for_offer(call.call_uuid, agent.agent_id) is None:
            # The caller hung up while the agent's phone rang.
            self._kill(esl, a.agent_leg_uuid, "ORIGINATOR_CANCEL")
            self.core.publish_outbox()
            return
        try:
            esl.api(f"uuid_break {call.call_uuid} all")
            reply = esl.api(f"uuid_bridge {call.call_uuid} {a.agent_leg_uuid}").strip()
        except EslError as exc:
            self._unsure(esl, a, f"uuid_bridge: {exc}")
            return
        if reply.startswith("+OK"):
            self.acd.connected(call.call_uuid, agent.agent_id)
            metrics.QUEUE_TO_BRIDGE.observe(time.monotonic() - started)
        else:
            log.warning("uuid_bridge %s %s failed: %s", call.call_uuid, a.agent_leg_uuid, reply)
            self._kill(esl, a.agent_leg_uuid, "NORMAL_CLEARING")
            self.acd.offer_failed(call.call_uuid, agent.agent_id, "BRIDGE_FAILED")
        self.core.publish_outbox()

    # -- offers whose outcome was not heard -------------------------------
    def _unsure(self, esl: EslConnection, a: Assignment, what: str) -> None:
        """The connection dropped (or FreeSWITCH did not answer) between a
        command and its reply: the agent leg may exist, may even be bridged.
        The call stays OFFERING until the switch is asked: at once if the
        connection is still up, else by the reconciliation after reconnect."""
        log.warning("offer of %s to agent %s: no answer from %s (%s); settling it with the switch",
                    a.call.call_uuid, a.agent.agent_id, esl.node_id, what)
        self._unsettled[a.call.call_uuid] = (a.agent.agent_id, a.agent_leg_uuid, esl.node_id)
        if esl.connected:
            try:
                self._settle_all(esl, *self._snapshot(esl))
            except (EslError, CommandFailed) as exc:
                log.warning("settling with %s deferred to the reconnect: %s", esl.node_id, exc)
        self.core.publish_outbox()

    @staticmethod
    def _snapshot(esl: EslConnection) -> tuple[set[str], set[frozenset[str]]]:
        """The node's live channel uuids and its bridged pairs."""
        live = {row.get("uuid", "") for row in esl.show_channels()}
        pairs = {frozenset((row.get("uuid", ""), row.get("b_uuid", ""))) for row in esl.show_calls()
                 if row.get("b_uuid")}
        return live, pairs

    def _settle_all(self, esl: EslConnection, live: set[str], pairs: set[frozenset[str]]) -> None:
        for call_uuid, (agent_id, leg_uuid, node_id) in list(self._unsettled.items()):
            if node_id != esl.node_id:
                continue
            del self._unsettled[call_uuid]
            call = self.acd._call_for_offer(call_uuid, agent_id)
            if frozenset((call_uuid, leg_uuid)) in pairs:
                if call is not None:
                    log.info("offer of %s to agent %s: the switch has them bridged", call_uuid, agent_id)
                    self.acd.connected(call_uuid, agent_id)
                continue
            if call is not None:
                # Not the agent's fault: no missed offer is counted.
                self.acd.offer_failed(call_uuid, agent_id, "SWITCH_UNREACHABLE", agent_missed=False)
            if leg_uuid in live:
                self._kill(esl, leg_uuid, "ORIGINATOR_CANCEL")

    def _kill(self, esl: EslConnection, uuid: str, cause: str) -> None:
        try:
            esl.api(f"uuid_kill {uuid} {cause}")
        except EslError as exc:
            log.warning("uuid_kill %s failed: %s", uuid, exc)

    # -- what the switch tells us ---------------------------------------
    def on_event(self, conn: EslConnection, event: EslEvent) -> None:
        call_event = to_call_event(event, conn.node_id)
        if call_event is not None:
            self.bus.publish(topics.CALL_EVENTS, call_event.call_uuid, call_event)
        is_caller = event.get("Call-Direction") == "inbound" and event.var("hotline_role") != "agent"
        if is_caller and event.uuid and event.name not in ("CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"):
            caller_snapshot(event.get, self._callers.setdefault(event.uuid, (conn.node_id, {}))[1])
        if event.name == "CHANNEL_DESTROY" and event.uuid:
            self._callers.pop(event.uuid, None)
        if event.name != "CHANNEL_HANGUP_COMPLETE":
            return
        if event.var("hotline_role") == "agent":
            self.acd.agent_leg_ended(event.var("hotline_call_uuid") or "", event.var("hotline_agent_id") or "")
        elif (is_caller or event.uuid in self.acd.calls) and event.uuid:
            self._callers.pop(event.uuid, None)
            call = self.acd.calls.get(event.uuid)
            if call is not None and call.state is CallState.OFFERING and call.agent_leg_uuid:
                gevent.spawn(self._kill, conn, call.agent_leg_uuid, "ORIGINATOR_CANCEL")
            cdr = build_cdr(event.get, call, conn.node_id)
            self.acd.call_ended(event.uuid)
            self.bus.publish(topics.CDRS, cdr.call_uuid, cdr)
            metrics.CDRS.labels(cdr.DESCRIPTOR.fields_by_name["disposition"].enum_type
                                .values_by_number[cdr.disposition].name).inc()
        self.core.publish_outbox()

    def on_connected(self, conn: EslConnection) -> None:
        metrics.SWITCH_CONNECTED.labels(conn.node_id).set(1)
        gevent.spawn(self.reconcile, conn)

    def reconcile(self, conn: EslConnection) -> None:
        """Make the ACD agree with one node's channels."""
        try:
            live, pairs = self._snapshot(conn)
        except (EslError, CommandFailed) as exc:
            log.warning("reconciliation with %s skipped: %s", conn.node_id, exc)
            return
        self.switches.forget_node(conn.node_id, live)

        def on_this_node(call: QueuedCall) -> bool:
            return (self.switches.owner(call.call_uuid) or call.node_id or conn.node_id) == conn.node_id

        self._settle_all(conn, live, pairs)
        ended = self.acd.reconcile(live, on_this_node)
        now = self.acd.clock_us()
        for call in ended:
            _, snapshot = self._callers.pop(call.call_uuid, (conn.node_id, None))
            cdr = (lost_caller_cdr(snapshot, call, conn.node_id, now) if snapshot
                   else reconciled_cdr(call, conn.node_id, now))
            self.bus.publish(topics.CDRS, cdr.call_uuid, cdr)
        # Callers that vanished before they reached a queue (in the IVR).
        lost = [u for u, (node, _) in self._callers.items() if node == conn.node_id and u not in live]
        for uuid in lost:
            cdr = lost_caller_cdr(self._callers.pop(uuid)[1], None, conn.node_id, now)
            self.bus.publish(topics.CDRS, cdr.call_uuid, cdr)
        if ended or lost:
            log.warning("reconciled %d call(s) that no longer exist on %s", len(ended) + len(lost), conn.node_id)
        # Queued callers that survived a reconnect get their hold music back.
        for call in self.acd.waiting():
            if call.state is CallState.WAITING and on_this_node(call):
                self.start_hold_music(call.call_uuid, call.queue, conn.node_id)
        self.core.publish_outbox()
        self.core.wakeup.set()
