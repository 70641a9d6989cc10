"""The routing service's FreeSWITCH side: plays hold music to queued
callers, rings agents (bgapi originate ... &park()), bridges (uuid_bridge),
follows hang-ups, writes CDRs, and reconciles with `show channels` after
every (re)connect so no call or agent is left stuck. It also normalises
every channel event onto the call-events topic.

Several FreeSWITCH nodes: commands about a call go to the node that owns
its channel (hotline.freeswitch.pool), the agent leg is originated on the
caller's node, and each node is reconciled on its own when it (re)connects.
A call whose node is unreachable waits; it is not offered.

Commands go on each node's command connection, events come on its event
connection, so a reply can overtake events FreeSWITCH fired before it (the
caller's hang-up before an originate's result). Nothing here acts on a
reply as if those events had been handled: a failed originate or bridge
first lets them be handled (_catch_up) and counts the failure only if the
offer is still current, and the snapshots that reconcile the ACD with a
node are taken on its event connection, after the events before them.

What the ACD asks of a caller's channel (hold music, announcements spoken
with the `speak` application, callback prompts, overflow transfers, rejects)
arrives as acd.Action and is carried out here, one greenlet per action."""
from __future__ import annotations

import logging
import re
import time

import gevent

from hotline.common import topics
from hotline.common.bus import EventBus
from hotline.freeswitch import CommandFailed, EslError, EslEvent
from hotline.freeswitch.normalize import to_call_event
from hotline.freeswitch.pool import SwitchNode, SwitchPool
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing import metrics
from hotline.common.settings import RoutingSettings
from hotline.routing.acd import Action, Assignment, CallState, QueuedCall
from hotline.routing.cdr import build_cdr, caller_snapshot, lost_caller_cdr, reconciled_cdr
from hotline.routing.core import RoutingCore

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[,{}\[\]'\"\s=^]")


def _var(value: str) -> str:
    """A value safe inside originate's {a=b,c=d} block."""
    return _UNSAFE.sub("_", value)[:80]


def _channel_vars(variables: dict[str, str]) -> str:
    """originate's {a=b,c=d} block (values already made safe with _var)."""
    return "{" + ",".join(f"{k}={v}" for k, v in variables.items()) + "}"


def _spoken(text: str) -> str:
    """Text safe inside a single-quoted switch_separate_string field."""
    return re.sub(r"['\\\r\n|]", " ", text)[:500]


CALLBACK_NUMBER_PROMPT = ("Please enter the number we should call you back on, followed by the pound key. "
                          "Press pound alone for the number you are calling from, or star to keep waiting.")
CALLBACK_INVALID_PROMPT = "Sorry, that number is not valid. You keep your place in the queue."
CALLBACK_CONFIRM = "Thank you. We will call you back at {digits}. You keep your place in the queue. Goodbye."


class SwitchSide:
    def __init__(self, core: RoutingCore, switches: SwitchPool, bus: EventBus, *,
                 settings: RoutingSettings | None = None) -> None:
        self.core = core
        self.acd = core.acd
        self.switches = switches
        self.bus = bus
        self.settings = settings or RoutingSettings()
        self.tick_s = self.settings.tick_s
        self._greenlets: list[gevent.Greenlet] = []
        self._offers: set[gevent.Greenlet] = set()
        # call uuid -> [(agent id, agent leg uuid, node id)] of offers whose outcome was not heard
        self._unsettled: dict[str, list[tuple[str, str, str]]] = {}
        # caller leg uuid -> (node id, what its events said): for the CDR of a
        # caller whose hang-up event never comes (the switch restarted)
        self._callers: dict[str, tuple[str, dict[str, str]]] = {}
        self._running = False
        switches.on_event(self.on_event)
        switches.on_connected(self.on_connected)
        switches.on_disconnected(lambda conn: metrics.SWITCH_CONNECTED.labels(conn.node_id).set(0))
        for conn in switches:
            metrics.SWITCH_CONNECTED.labels(conn.node_id).set(0)

    def _node_of(self, call: QueuedCall) -> SwitchNode:
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
        gauges_due = 0.0
        while self._running:
            self.core.wakeup.wait(self.tick_s)
            self.core.wakeup.clear()
            try:
                if time.monotonic() >= gauges_due:          # once a second, off the call path
                    self.core.update_gauges()
                    gauges_due = time.monotonic() + 1.0
                self.acd.tick()
                if self.switches.connected:
                    for assignment in self.acd.next_assignments(self._can_offer):
                        self._spawn(self._offer, assignment)
                for action in self.acd.take_actions():
                    self._spawn(self._act, action)
                self.core.publish_outbox()
            except Exception:  # noqa: BLE001 - the loop must survive anything
                log.exception("routing dispatch failed")

    def _spawn(self, fn: object, arg: object) -> None:
        g = gevent.spawn(fn, arg)
        self._offers.add(g)
        g.link(self._offers.discard)

    # -- what the ACD asks of a caller's channel ---------------------------
    def _act(self, action: Action) -> None:
        uuid = action.call_uuid
        try:
            esl = self.switches.for_channel(uuid, action.node_id)
            if action.kind == "music":
                self._play(esl, action, [])
            elif action.kind == "announce":
                self._play(esl, action, [self._speak(action.arg)])
            elif action.kind == "prompt":
                text = CALLBACK_NUMBER_PROMPT if action.arg == "callback_number" else CALLBACK_INVALID_PROMPT
                self._play(esl, action, [self._speak(text)])
            elif action.kind == "callback_confirm":
                esl.api(f"uuid_break {uuid} all")
                digits = " ".join(action.arg)
                esl.api_ok(f"uuid_broadcast {uuid} {self._speak(CALLBACK_CONFIRM.format(digits=digits))} aleg")
                esl.api_ok(f"uuid_broadcast {uuid} hangup::NORMAL_CLEARING aleg")
            elif action.kind == "transfer":
                kind, target = action.arg.split(":", 1)
                prefix = self.settings.voicemail_prefix if kind == "voicemail" else self.settings.ivr_prefix
                esl.api_ok(f"uuid_transfer {uuid} {prefix}{_var(target)} XML {self.settings.overflow_context}")
                log.info("call %s overflowed to %s", uuid, action.arg)
            elif action.kind == "hangup":
                esl.api(f"uuid_kill {uuid} {action.arg}")
                log.info("call %s rejected: %s", uuid, action.arg)
        except (EslError, CommandFailed) as exc:
            log.warning("%s for %s failed: %s", action.kind, uuid, exc)

    def _speak(self, text: str) -> str:
        return f"'speak::{self.settings.tts}|{_spoken(text)}'"

    def _play(self, esl: SwitchNode, action: Action, first: list[str]) -> None:
        """Stop what plays, play `first`, then the queue's hold music."""
        uuid = action.call_uuid
        call = self.acd.calls.get(uuid)
        if call is None or call.state is not CallState.WAITING:
            return                                   # offered, bridged or gone meanwhile
        if first or action.kind == "music" and action.arg == "resume":
            esl.api(f"uuid_break {uuid} all")
        queue = self.acd.queues.get(action.queue)
        music = queue.hold_music if queue else self.settings.hold_music
        for path in [*first, music]:
            esl.api_ok(f"uuid_broadcast {uuid} {path} aleg")

    def _offer(self, a: Assignment) -> None:
        call = a.call
        queue = self.acd.queues[call.queue]
        started = time.monotonic()
        try:
            esl = self._node_of(call)
        except EslError as exc:
            log.warning("offer of %s: %s", call.call_uuid, exc)
            for agent, _ in a.legs:
                self.acd.offer_failed(call.call_uuid, agent.agent_id, "NODE_UNKNOWN", agent_missed=False)
            self.core.publish_outbox()
            return
        for _, leg in a.legs:
            self.switches.claim(leg, esl.node_id)
        common = {
            "hotline_role": "agent",
            "hotline_call_uuid": call.call_uuid,
            "hotline_queue": _var(queue.name),
            "origination_caller_id_number": _var(call.callback_number or call.ani or "unknown"),
            "origination_caller_id_name": _var(call.caller_name or call.ani or "unknown"),
            "originate_timeout": str(queue.ring_timeout_s),
            "ignore_early_media": "true",
        }
        if call.is_callback:
            common["hotline_callback_number"] = _var(call.callback_number)
        if len(a.legs) == 1:
            agent, leg = a.legs[0]
            common.update(origination_uuid=leg, hotline_agent_id=_var(agent.agent_id))
            dial = _channel_vars(common) + agent.contact
        else:      # ring-all: every leg at once; the first to answer wins, FreeSWITCH cancels the rest
            dial = _channel_vars(common) + ",".join(
                f"[origination_uuid={leg},hotline_agent_id={_var(agent.agent_id)}]{agent.contact}"
                for agent, leg in a.legs)
        try:
            result = esl.bgapi(f"originate {dial} &park()", timeout=queue.ring_timeout_s + 15).strip()
        except EslError as exc:
            self._unsure(esl, a, f"originate: {exc}")
            return
        if not result.startswith("+OK"):
            cause = result[4:].strip() or "UNKNOWN"
            log.info("offer of %s to %s failed: %s", call.call_uuid,
                     ", ".join(agent.agent_id for agent, _ in a.legs), cause)
            # The agent leg's own hang-up (its cause decides whether it is a
            # miss) or the caller's is handled first, as if on one connection.
            self._catch_up(esl, call.call_uuid)
            for agent, _ in a.legs:
                self.acd.offer_failed(call.call_uuid, agent.agent_id, cause)
            self.core.publish_outbox()
            return
        answered = result[3:].strip()
        agent, leg = next(((ag, lg) for ag, lg in a.legs if lg == answered), a.legs[0])
        if self.acd._call_for_offer(call.call_uuid, agent.agent_id) is None:
            # The caller hung up while the agent's phone rang.
            self._kill(esl, leg, "ORIGINATOR_CANCEL")
            self.core.publish_outbox()
            return
        other = call.call_uuid
        if call.is_callback:
            other = self._dial_customer(esl, call, agent.agent_id, leg)
            if not other:
                return
        try:
            # Stop the hold music without waiting for the reply: the bridge command queues behind it.
            esl.api_nowait(f"uuid_break {other} all")
            reply = esl.api(f"uuid_bridge {other} {leg}").strip()
        except EslError as exc:
            self._unsure(esl, Assignment(call, ((agent, leg),)), f"uuid_bridge: {exc}")
            return
        if reply.startswith("+OK"):
            self.acd.connected(call.call_uuid, agent.agent_id)
            metrics.QUEUE_TO_BRIDGE.observe(time.monotonic() - started)
        else:
            log.warning("uuid_bridge %s %s failed: %s", other, leg, reply)
            # The caller may have hung up, or the agent's leg ended, before
            # their events were handled: those settle the offer first.
            self._catch_up(esl, other)
            self._kill(esl, leg, "NORMAL_CLEARING")
            if call.is_callback:
                self._kill(esl, other, "NORMAL_CLEARING")
            self.acd.offer_failed(call.call_uuid, agent.agent_id, "BRIDGE_FAILED")   # a no-op if it was settled
        self.core.publish_outbox()

    def _dial_customer(self, esl: SwitchNode, call: QueuedCall, agent_id: str, agent_leg: str) -> str:
        """A callback's agent answered: dial the customer. Returns the
        customer's leg uuid, or "" when they did not answer (the ACD then
        retries later or gives up, and the agent's leg is hung up)."""
        queue = self.acd.queues[call.queue]
        customer_leg = self.acd.callback_dialing(call.call_uuid, agent_id)
        if not customer_leg:
            self._kill(esl, agent_leg, "NORMAL_CLEARING")
            return ""
        self.switches.claim(customer_leg, esl.node_id)
        self.core.publish_outbox()
        variables = {
            "origination_uuid": customer_leg,
            "hotline_role": "callback",
            "hotline_call_uuid": call.call_uuid,
            "hotline_agent_id": _var(agent_id),
            "hotline_queue": _var(queue.name),
            "origination_caller_id_number": _var(self.settings.callback_caller_id or call.dnis or "unknown"),
            "originate_timeout": str(self.settings.callback_ring_timeout_s),
            "ignore_early_media": "true",
        }
        dial = _channel_vars(variables) + queue.callback_dial.replace("{number}", call.callback_number)
        try:
            result = esl.bgapi(f"originate {dial} &park()", timeout=self.settings.callback_ring_timeout_s + 15)
            result = result.strip()
        except EslError as exc:
            result = f"-ERR {exc}"
        if result.startswith("+OK"):
            return customer_leg
        cause = result[4:].strip() or "UNKNOWN"
        log.info("callback of %s to %s failed: %s", call.call_uuid, call.callback_number, cause)
        self._kill(esl, agent_leg, "NORMAL_CLEARING")
        ended = self.acd.callback_failed(call.call_uuid, agent_id, cause.split()[0])
        if ended is not None:
            cdr = reconciled_cdr(ended, esl.node_id, self.acd.clock_us(), leg_uuid=customer_leg,
                                 cause=cause.split()[0])
            self._publish_cdr(cdr)
        self.core.publish_outbox()
        return ""

    def _publish_cdr(self, cdr: ev.Cdr) -> None:
        self.bus.publish(topics.CDRS, cdr.call_uuid, cdr)
        metrics.CDRS.labels(ev.Disposition.Name(cdr.disposition)).inc()

    # -- offers whose outcome was not heard -------------------------------
    def _unsure(self, esl: SwitchNode, a: Assignment, what: str) -> None:
        """The connection dropped (or FreeSWITCH did not answer) between a
        command and its reply: the agent leg may exist, may even be bridged.
        The call stays OFFERING until the switch is asked: at once if the
        connection is still up, else by the reconciliation after reconnect."""
        log.warning("offer of %s to agent %s: no answer from %s (%s); settling it with the switch",
                    a.call.call_uuid, a.agent.agent_id, esl.node_id, what)
        self._unsettled[a.call.call_uuid] = [(agent.agent_id, leg, esl.node_id) for agent, leg in a.legs]
        if esl.connected:
            try:
                self._settle_all(esl, *self._snapshot(esl))
            except (EslError, CommandFailed) as exc:
                log.warning("settling with %s deferred to the reconnect: %s", esl.node_id, exc)
        self.core.publish_outbox()

    @staticmethod
    def _snapshot(esl: SwitchNode) -> tuple[set[str], set[frozenset[str]]]:
        """The node's live channel uuids and its bridged pairs, asked on its
        event connection once the events sent before them were handled (so
        a channel missing from them did not just miss its hang-up event)."""
        live = {row.get("uuid", "") for row in esl.show_channels(after_events=True)}
        pairs = {frozenset((row.get("uuid", ""), row.get("b_uuid", "")))
                 for row in esl.show_calls(after_events=True) if row.get("b_uuid")}
        return live, pairs

    @staticmethod
    def _catch_up(esl: SwitchNode, uuid: str) -> None:
        """Return once the events the node sent before now have been handled
        (a reply on the event connection comes after them). Commands have
        their own connection, so a failed command may be answered before the
        events that explain it."""
        try:
            esl.api(f"uuid_exists {uuid}", after_events=True)
        except (EslError, CommandFailed) as exc:
            log.info("could not wait for %s's events (%s); going on", esl.node_id, exc)

    def _settle_all(self, esl: SwitchNode, live: set[str], pairs: set[frozenset[str]]) -> None:
        for call_uuid, legs in list(self._unsettled.items()):
            if any(node_id != esl.node_id for _, _, node_id in legs):
                continue
            del self._unsettled[call_uuid]
            call = self.acd.calls.get(call_uuid)
            other = call.customer_leg_uuid if call is not None and call.is_callback else call_uuid
            bridged = next(((agent_id, leg) for agent_id, leg, _ in legs
                            if frozenset((other, leg)) in pairs), None)
            if bridged is not None:
                if self.acd._call_for_offer(call_uuid, bridged[0]) is not None:
                    log.info("offer of %s to agent %s: the switch has them bridged", call_uuid, bridged[0])
                    self.acd.connected(call_uuid, bridged[0])
                continue
            for agent_id, leg, _ in legs:
                if self.acd._call_for_offer(call_uuid, agent_id) is not None:
                    # Not the agent's fault: no missed offer is counted.
                    self.acd.offer_failed(call_uuid, agent_id, "SWITCH_UNREACHABLE", agent_missed=False)
                if leg in live:
                    self._kill(esl, leg, "ORIGINATOR_CANCEL")
            if call is not None and call.is_callback and call.customer_leg_uuid in live:
                self._kill(esl, call.customer_leg_uuid, "ORIGINATOR_CANCEL")
                call.customer_leg_uuid = ""

    def settle_later(self, call: QueuedCall, node_id: str) -> None:
        """A call restored as OFFERING after a restart: settled with the switch on connect."""
        self._unsettled[call.call_uuid] = [(agent_id, leg, node_id) for agent_id, leg in call.ringing.items()]

    def _kill(self, esl: SwitchNode, uuid: str, cause: str) -> None:
        try:
            esl.api(f"uuid_kill {uuid} {cause}")
        except EslError as exc:
            log.warning("uuid_kill %s failed: %s", uuid, exc)

    # -- what the switch tells us ---------------------------------------
    def on_event(self, conn: SwitchNode, event: EslEvent) -> None:
        call_event = to_call_event(event, conn.node_id)
        if call_event is not None:
            self.bus.publish(topics.CALL_EVENTS, call_event.call_uuid, call_event)
        role = event.var("hotline_role")
        is_caller = event.get("Call-Direction") == "inbound" and role != "agent"
        if is_caller and event.uuid and event.name not in ("CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"):
            caller_snapshot(event.get, self._callers.setdefault(event.uuid, (conn.node_id, {}))[1])
        if event.name == "DTMF" and event.uuid in self.acd.calls:
            self.acd.dtmf(event.uuid, event.get("DTMF-Digit") or "")
            self.core.publish_outbox()
            return
        if event.name == "CHANNEL_DESTROY" and event.uuid:
            self._callers.pop(event.uuid, None)
        if event.name != "CHANNEL_HANGUP_COMPLETE":
            return
        if role == "agent":
            self.acd.agent_leg_ended(event.var("hotline_call_uuid") or "", event.var("hotline_agent_id") or "",
                                     event.uuid or "", event.get("Hangup-Cause") or "")
        elif role == "callback":
            call = self.acd.calls.get(event.var("hotline_call_uuid") or "")
            if call is not None and call.state is CallState.CONNECTED and call.customer_leg_uuid == event.uuid:
                cdr = build_cdr(event.get, call, conn.node_id)
                self.acd.customer_ended(call.call_uuid)
                self._publish_cdr(cdr)
        elif (is_caller or event.uuid in self.acd.calls or event.uuid in self.acd.departed) and event.uuid:
            self._callers.pop(event.uuid, None)
            call = self.acd.calls.get(event.uuid)
            if call is not None and call.state is CallState.OFFERING and not call.is_callback:
                for leg in call.ringing.values():
                    gevent.spawn(self._kill, conn, leg, "ORIGINATOR_CANCEL")
            ended = self.acd.call_ended(event.uuid)
            self._publish_cdr(build_cdr(event.get, ended if ended is not None else call, conn.node_id))
        self.core.publish_outbox()

    def on_connected(self, conn: SwitchNode) -> None:
        metrics.SWITCH_CONNECTED.labels(conn.node_id).set(1)
        gevent.spawn(self.reconcile, conn)

    def reconcile(self, conn: SwitchNode) -> None:
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
            if call.is_callback and call.caller_gone and call.customer_leg_uuid:
                self._publish_cdr(reconciled_cdr(call, conn.node_id, now, leg_uuid=call.customer_leg_uuid))
                continue
            _, snapshot = self._callers.pop(call.call_uuid, (conn.node_id, None))
            cdr = (lost_caller_cdr(snapshot, call, conn.node_id, now) if snapshot
                   else reconciled_cdr(call, conn.node_id, now))
            self._publish_cdr(cdr)
        # Callers that vanished before they reached a queue (in the IVR).
        lost = [u for u, (node, _) in self._callers.items() if node == conn.node_id and u not in live]
        for uuid in lost:
            self._publish_cdr(lost_caller_cdr(self._callers.pop(uuid)[1], None, conn.node_id, now))
        if ended or lost:
            log.warning("reconciled %d call(s) that no longer exist on %s", len(ended) + len(lost), conn.node_id)
        # Queued callers that survived a reconnect get their hold music back.
        for call in self.acd.waiting():
            if call.state is CallState.WAITING and on_this_node(call) and call.live_leg() == call.call_uuid:
                self._spawn(self._act, Action("music", call.call_uuid, conn.node_id, call.queue, "resume"))
        self.core.publish_outbox()
        self.core.wakeup.set()
