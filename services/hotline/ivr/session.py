"""One caller's IVR session on FreeSWITCH's outbound socket: answer, greet,
menu, then park the call and enqueue it with the routing service (or say
goodbye). Every node the caller leaves is published as an IvrNodeVisit."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import grpc

from hotline.common import logging as hlog
from hotline.freeswitch import CallHungUp, EslError, OutboundCall
from hotline.ivr import metrics
from hotline.ivr.events import to_message
from hotline.ivr.flow import (COMPLETED, ERROR, GOODBYE, GREETING, HANGUP, MENU, NEXT, QUEUE, QUEUED, Journey, Menu,
                              MenuRun, NodeVisit, Outcome)
from hotline.proto.events.v1 import events_pb2
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc

log = logging.getLogger(__name__)

# Collect any key and judge it here, so an invalid choice is told apart from no input.
ANY_DIGIT = "[0-9*]"
# The channel variable carrying how many IVR nodes the call has visited, for a
# caller who comes back (a queue's overflow to ivr:<flow>): visits number on.
VISITS_VARIABLE = "hotline_ivr_visits"
# The channel's events a session waits for beyond those every OutboundCall
# keeps (its executes' CHANNEL_EXECUTE_COMPLETE, CHANNEL_HANGUP,
# CHANNEL_HANGUP_COMPLETE, and the disconnect notice, which is no event):
# none. Playback and play_and_get_digits end with their completion, which
# carries the digits; FreeSWITCH collects the DTMF itself. So the socket is
# spared the rest of what `myevents` sends (CHANNEL_EXECUTE, CHANNEL_STATE,
# CHANNEL_ANSWER, DTMF, ...: two thirds of a call's events).
EVENTS: frozenset[str] = frozenset()


def now_us() -> int:
    return int(time.time() * 1_000_000)


class IvrSession:
    """`node_id` is the node a call is taken to be on when its channel has no
    ``hotline_node`` variable (a dialplan without Hotline's extension).
    `visits` takes each IvrNodeVisit as the caller leaves the node; it must
    not block (the service's VisitOutbox.put)."""

    def __init__(self, call: OutboundCall, menu: Menu, routing: routing_pb2_grpc.RoutingStub, node_id: str,
                 *, visits: Callable[[events_pb2.IvrNodeVisit], None], goodbye_prompt: str = "",
                 clock_us: Callable[[], int] = now_us) -> None:
        self.call = call
        self.menu = menu
        self.routing = routing
        self.node_id = node_id
        self.goodbye_prompt = goodbye_prompt
        self.journey = Journey(clock_us, first_sequence=visits_so_far(call) + 1)
        self.visits = visits

    def run(self) -> None:
        hlog.bind_forever(call_uuid=self.call.uuid)
        metrics.SESSIONS_ACTIVE.inc()
        started = time.monotonic()
        outcome = "hangup"
        ended = ERROR            # how the open node ends if anything unforeseen escapes
        try:
            outcome = self._run()
        except CallHungUp:
            ended = HANGUP
            log.info("caller hung up in the IVR (node %s)", self.journey.current)
        except (EslError, grpc.RpcError) as exc:
            outcome = "error"
            log.error("IVR session failed in node %s: %s", self.journey.current, exc)
            self._hangup("NORMAL_TEMPORARY_FAILURE")
        finally:
            self._close(ended)
            metrics.SESSIONS_ACTIVE.dec()
            metrics.CALLS.labels(outcome).inc()
            metrics.SESSION_SECONDS.observe(time.monotonic() - started)
        if outcome == "queued":
            # Keep the socket (linger) until the call ends; routing drives it now.
            self.call.wait_hangup()

    def _run(self) -> str:
        self.journey.enter(GREETING)
        self.call.set("hotline_ivr_flow", self.menu.name)     # the CDR's ivr_flow
        self.call.answer()
        answered_us = self.journey.clock_us()
        self.call.playback(self.menu.greeting)
        self._leave(NEXT)
        result = self._menu()
        if not result.queue:
            self._goodbye()
            return "let-go"
        self._enqueue(result, answered_us)
        return "queued"

    def _menu(self) -> Outcome:
        call, menu = self.call, self.menu
        self.journey.enter(MENU)
        run = MenuRun(menu)
        result = None
        while result is None and run.next_attempt():
            self.journey.note(attempts=run.attempt)
            digits, read_result = call.play_and_get_digits(
                min_digits=1, max_digits=1, tries=1, timeout_ms=menu.timeout_ms, terminators="#",
                prompt=menu.prompt, invalid_prompt="silence_stream://250", var_name="hotline_menu_choice",
                regexp=ANY_DIGIT)
            result = run.feed(digits)
            self.journey.note(input=run.last_input, result=run.last_problem)
            metrics.MENU_ATTEMPTS.labels("chosen" if result and result.reason == "chosen"
                                         else run.last_problem or read_result).inc()
            if result is None and run.last_problem == "invalid":
                call.playback(menu.invalid_prompt)
        assert result is not None
        log.info("menu outcome: %s (%s after %d attempt(s))", result.queue or "-", result.reason,
                 result.attempts_used)
        self._leave(NEXT, input=run.last_input, attempts=result.attempts_used, result=result.reason)
        return result

    def _goodbye(self) -> None:
        """The flow ends here: the caller is let go (contained)."""
        self.journey.enter(GOODBYE)
        if self.goodbye_prompt:
            self.call.playback(self.goodbye_prompt)
        self._hangup("NORMAL_CLEARING")
        self._leave(COMPLETED)

    def _enqueue(self, result: Outcome, answered_us: int) -> None:
        call = self.call
        self.journey.enter(QUEUE)
        call.set_many({"hotline_queue": result.queue, "hotline_menu_choice": result.choice,
                       # this node's visit number, should the call come back
                       VISITS_VARIABLE: str(self.journey.next_sequence)})
        call.execute_async("park")
        response = self.routing.Enqueue(routing_pb2.EnqueueRequest(
            call_uuid=call.uuid, queue=result.queue, ani=call.ani or "", dnis=call.dnis or "",
            caller_name=call.caller_name or "", node_id=call.node_id or self.node_id, answered_us=answered_us,
            menu_choice=result.choice), timeout=10)
        self._leave(QUEUED, result=response.queue or result.queue)
        outcome = routing_pb2.EnqueueOutcome.Name(response.outcome)
        if response.outcome == routing_pb2.OVERFLOWED:
            log.info("%s: routing sends the call to %s", outcome, response.destination)
        elif response.outcome == routing_pb2.REJECTED:
            log.info("%s by a routing rule (%s)", outcome, response.reject_cause)
        else:
            log.info("queued in %s at position %d", response.queue or result.queue, response.position)

    def _leave(self, outcome: str, **details: str | int) -> None:
        self._publish(self.journey.leave(outcome, **details))

    def _close(self, outcome: str) -> None:
        """The node the call was in when the session ended abruptly, if any."""
        visit = self.journey.close(outcome)
        if visit is not None:
            self._publish(visit)

    def _publish(self, visit: NodeVisit) -> None:
        self.visits(to_message(visit, call_uuid=self.call.uuid or "", node_id=self.call.node_id or self.node_id,
                               flow=self.menu.name))

    def _hangup(self, cause: str) -> None:
        try:
            self.call.hangup(cause)
        except (CallHungUp, EslError):
            pass


def visits_so_far(call: OutboundCall) -> int:
    """The IVR nodes this call visited in earlier sessions (0 on its first)."""
    text = call.channel_data.get(f"variable_{VISITS_VARIABLE}") or "0"
    if not text.isdigit():
        log.warning("ignoring %s=%r: not a count", VISITS_VARIABLE, text)
        return 0
    return int(text)


def menu_from_settings(ivr: Any) -> Menu:
    from hotline.common.settings import parse_menu

    return Menu(greeting=ivr.greeting, prompt=ivr.menu_prompt, invalid_prompt=ivr.invalid_prompt,
                choices=parse_menu(ivr.menu), attempts=ivr.menu_attempts, timeout_ms=ivr.menu_timeout_ms,
                fallback_queue=ivr.default_queue, name=ivr.flow)
