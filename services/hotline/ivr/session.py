"""One caller's IVR session on FreeSWITCH's outbound socket: answer, greet,
menu, then park the call and enqueue it with the routing service."""
from __future__ import annotations

import logging
import time
from typing import Any

import grpc

from hotline.common import logging as hlog
from hotline.freeswitch import CallHungUp, EslError, OutboundCall
from hotline.ivr import metrics
from hotline.ivr.flow import Menu, MenuRun
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc

log = logging.getLogger(__name__)

# Collect any key and judge it here, so an invalid choice is told apart from no input.
ANY_DIGIT = "[0-9*]"


class IvrSession:
    """`node_id` is the node a call is taken to be on when its channel has no
    ``hotline_node`` variable (a dialplan without Hotline's extension)."""

    def __init__(self, call: OutboundCall, menu: Menu, routing: routing_pb2_grpc.RoutingStub, node_id: str,
                 *, goodbye_prompt: str = "") -> None:
        self.call = call
        self.menu = menu
        self.routing = routing
        self.node_id = node_id
        self.goodbye_prompt = goodbye_prompt

    def run(self) -> None:
        hlog.bind_forever(call_uuid=self.call.uuid)
        metrics.SESSIONS_ACTIVE.inc()
        started = time.monotonic()
        outcome = "hangup"
        try:
            outcome = self._run()
        except CallHungUp:
            log.info("caller hung up in the IVR")
        except (EslError, grpc.RpcError) as exc:
            outcome = "error"
            log.error("IVR session failed: %s", exc)
            self._hangup("NORMAL_TEMPORARY_FAILURE")
        finally:
            metrics.SESSIONS_ACTIVE.dec()
            metrics.CALLS.labels(outcome).inc()
            metrics.SESSION_SECONDS.observe(time.monotonic() - started)
        if outcome == "queued":
            # Keep the socket (linger) until the call ends; routing drives it now.
            self.call.wait_hangup()

    def _run(self) -> str:
        call, menu = self.call, self.menu
        call.answer()
        answered_us = int(time.time() * 1_000_000)
        call.playback(menu.greeting)
        run = MenuRun(menu)
        result = None
        while result is None and run.next_attempt():
            digits, read_result = call.play_and_get_digits(
                min_digits=1, max_digits=1, tries=1, timeout_ms=menu.timeout_ms, terminators="#",
                prompt=menu.prompt, invalid_prompt="silence_stream://250", var_name="hotline_menu_choice",
                regexp=ANY_DIGIT)
            result = run.feed(digits)
            metrics.MENU_ATTEMPTS.labels("chosen" if result and result.reason == "chosen"
                                         else run.last_problem or read_result).inc()
            if result is None and run.last_problem == "invalid":
                call.playback(menu.invalid_prompt)
        assert result is not None
        log.info("menu outcome: %s (%s after %d attempt(s))", result.queue or "-", result.reason,
                 result.attempts_used)
        if not result.queue:
            if self.goodbye_prompt:
                call.playback(self.goodbye_prompt)
            self._hangup("NORMAL_CLEARING")
            return "let-go"
        call.set("hotline_queue", result.queue)
        call.set("hotline_menu_choice", result.choice)
        call.execute_async("park")
        response = self.routing.Enqueue(routing_pb2.EnqueueRequest(
            call_uuid=call.uuid, queue=result.queue, ani=call.ani or "", dnis=call.dnis or "",
            caller_name=call.caller_name or "", node_id=call.node_id or self.node_id, answered_us=answered_us,
            menu_choice=result.choice), timeout=10)
        outcome = routing_pb2.EnqueueOutcome.Name(response.outcome)
        if response.outcome == routing_pb2.OVERFLOWED:
            log.info("%s: routing sends the call to %s", outcome, response.destination)
        elif response.outcome == routing_pb2.REJECTED:
            log.info("%s by a routing rule (%s)", outcome, response.reject_cause)
        else:
            log.info("queued in %s at position %d", response.queue or result.queue, response.position)
        return "queued"

    def _hangup(self, cause: str) -> None:
        try:
            self.call.hangup(cause)
        except (CallHungUp, EslError):
            pass


def menu_from_settings(ivr: Any) -> Menu:
    from hotline.common.settings import parse_menu

    return Menu(greeting=ivr.greeting, prompt=ivr.menu_prompt, invalid_prompt=ivr.invalid_prompt,
                choices=parse_menu(ivr.menu), attempts=ivr.menu_attempts, timeout_ms=ivr.menu_timeout_ms,
                fallback_queue=ivr.default_queue)
