"""Outbound ESL: FreeSWITCH's `socket` dialplan application connects to us,
one TCP connection per call.

The session, as recorded from FreeSWITCH 1.10 (transcript 02): we send
``connect`` (the reply's headers are the channel data), ``myevents`` (this
channel's events, plain), ``linger`` (keep the socket after hangup so the
last events still arrive), then drive the call with ``sendmsg`` execute
commands. ``myevents`` turns on 23 event types (:data:`MYEVENTS`); a server
given the few its handler waits for (``events=``) turns the others off
again with one ``nixevent`` right after it (``Control: full`` sockets; a
``single-channel`` socket refuses nixevent, so there ``filter Event-Name``
lets only those through), which spares both sides most of a call's events.
The set-up commands go out together and their replies are read in order.
When the caller hangs up FreeSWITCH sends CHANNEL_HANGUP, a
``text/disconnect-notice`` with ``Content-Disposition: linger``, the
remaining events (EXECUTE_COMPLETE of the interrupted application, ...,
CHANNEL_HANGUP_COMPLETE), then closes. The disconnect notice is no event: no
event subscription can keep it away.

:class:`OutboundCall` is greenswitch's ``OutboundSession`` fixed: every
execute carries an ``Event-UUID`` that FreeSWITCH echoes as the
``Application-UUID`` of its CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE, so a
completion is matched to exactly the command that caused it (greenswitch
matched on the application's name, so two `set`s or a `playback` started by
the dialplan could be mistaken for ours); a hangup, the linger notice or the
socket closing wake every waiter with :class:`CallHungUp` (greenswitch's
waiters could block forever); and the session always ends with its greenlets
and socket closed. :class:`OutboundServer` replaces greenswitch's
``OutboundESLServer`` listen loop (which polls accept() every 0.1 s, cannot
bind port 0 and calls sys.exit() when it cannot bind) with gevent's
StreamServer.
"""
from __future__ import annotations

import logging
import re
import uuid as uuid_mod
from typing import Any, Callable, Iterable

import gevent
import gevent.event
import gevent.pool
from gevent import socket
from gevent.server import StreamServer
from greenswitch.esl import ESLProtocol, OutboundESLServer, OutboundSession

from hotline.common import logging as hlog
from hotline.common.errors import InvalidArgument
from hotline.freeswitch.errors import CallHungUp, CommandFailed, EslError, EslTimeout
from hotline.freeswitch.protocol import EslEvent, EslProtocol, describe, tune_socket

log = logging.getLogger(__name__)

_APP_NAME = re.compile(r"[A-Za-z0-9_:\-]+")

# The event types `myevents` turns on (parse_command() in mod_event_socket.c,
# FreeSWITCH 1.10), for this channel only.
MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
    "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
    "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
})
# What OutboundCall itself waits for, always kept: the completion of what it
# executes, and the hang-up (CHANNEL_HANGUP gives the cause, the disconnect
# notice, which is no event, arrives regardless; CHANNEL_HANGUP_COMPLETE ends
# the lingering).
CALL_EVENTS = frozenset({"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"})


def sendmsg_execute(app: str, arg: str | None, app_uuid: str) -> bytes:
    """The `sendmsg` frame that executes app(arg) on the controlled channel,
    as FreeSWITCH's socket app expects it (header names as in transcript 02)."""
    if not app or not _APP_NAME.fullmatch(app):
        raise InvalidArgument("app", f"{app!r} is not an application name")
    lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
    body = b""
    if arg:
        if "\n" in arg or "\r" in arg:
            body = arg.encode("utf-8")          # a multi-line argument travels as the body
        else:
            lines.append(f"execute-app-arg: {arg}")
    lines.append("event-lock: true")
    lines.append(f"Event-UUID: {app_uuid}")
    if body:
        lines += ["content-type: text/plain", f"content-length: {len(body)}"]
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body


_WHITESPACE = re.compile(r"\s")      # what str.isspace() calls whitespace


# Candidates for multiset's `^^<delim>`, in order of preference.
_MULTISET_DELIMITERS = ";|~^`"


def _token(field: str, value: Any) -> str:
    text = str(value)
    if not text or _WHITESPACE.search(text):
        raise InvalidArgument(field, f"{text!r} must be one word (play_and_get_digits splits on spaces)")
    return text


class OutboundCall(EslProtocol, OutboundSession):
    """One call FreeSWITCH handed to us with the `socket` application."""

    def __init__(self, client_address: tuple[Any, ...], sock: socket.socket, *,
                 command_timeout_s: float = 10.0, frame_timeout_s: float = 10.0) -> None:
        # Not OutboundSession.__init__: it spawns greenswitch's reader/loop and
        # wraps the socket in a file object; ours are set up here instead.
        ESLProtocol.__init__(self)
        self._setup_protocol()
        self.client_address = client_address
        self.peer = f"{client_address[0]}:{client_address[1]}" if client_address else "?"
        self.command_timeout_s = command_timeout_s
        self.frame_timeout_s = frame_timeout_s
        self.session_data: dict[str, str] | None = None
        self.channel_data: dict[str, str] = {}
        self.expected_events: dict[str, list[Any]] = {}
        self._outbound_connected = False
        self.hungup = False
        self.hangup_cause: str | None = None
        self._hangup_event = gevent.event.Event()
        self._hangup_complete = gevent.event.Event()
        self._executing: dict[str, gevent.event.AsyncResult] = {}
        self._finished = False
        self._start_dispatcher()
        self._attach(sock)
        self.connected = True

    # -- what the call is --------------------------------------------------------
    @property
    def uuid(self) -> str | None:  # type: ignore[override]
        return self.channel_data.get("Unique-ID") or self.channel_data.get("variable_uuid")

    @property
    def call_uuid(self) -> str | None:  # type: ignore[override]
        return self.channel_data.get("variable_call_uuid") or self.uuid

    @property
    def ani(self) -> str | None:
        return self.channel_data.get("Caller-Caller-ID-Number")

    @property
    def node_id(self) -> str | None:
        """Which FreeSWITCH node the call is on: the ``hotline_node`` channel
        variable Hotline's dialplan sets from ``$${hotline_node_id}``."""
        return self.channel_data.get("variable_hotline_node") or None

    caller_id_number = ani

    @property
    def caller_name(self) -> str | None:
        return self.channel_data.get("Caller-Caller-ID-Name")

    @property
    def dnis(self) -> str | None:
        return self.channel_data.get("Caller-Destination-Number")

    def __repr__(self) -> str:
        return f"<OutboundCall {self.uuid} from {self.ani!r} to {self.dnis!r}{' hung up' if self.hungup else ''}>"

    # -- session set-up (greenswitch's connect/myevents/linger, checked) --------------
    def connect(self) -> dict[str, str]:
        """`connect`: FreeSWITCH answers with the channel's data."""
        if self._outbound_connected:
            return self.channel_data
        reply = self.send("connect")
        if not reply.reply_text.startswith("+OK"):
            raise CommandFailed(reply.reply_text, "connect")
        self.session_data = self.channel_data = dict(reply.headers)
        self._outbound_connected = True
        return self.channel_data

    def _ok(self, command: str) -> EslEvent:
        reply = self.send(command)
        if not reply.reply_text.startswith("+OK"):
            raise CommandFailed(reply.reply_text, command)
        return reply

    def myevents(self, event_format: str = "plain") -> None:
        self._ok("myevents" if event_format == "plain" else f"myevents {event_format}")

    def event_limits(self, events: Iterable[str]) -> list[str]:
        """The commands that, after ``myevents``, keep only `events` (and
        :data:`CALL_EVENTS`) of its events: one ``nixevent`` of the rest on a
        ``Control: full`` socket, else (``single-channel`` refuses nixevent) a
        ``filter Event-Name`` per event kept. Empty when nothing is to go."""
        keep = set(CALL_EVENTS)
        for name in events:
            if name not in MYEVENTS:
                raise InvalidArgument("events", f"{name!r} is not one of the events myevents turns on")
            keep.add(name)
        drop = sorted(MYEVENTS - keep)
        if not drop:
            return []
        if self.channel_data.get("Control", "full") == "full":
            return ["nixevent " + " ".join(drop)]
        return [f"filter Event-Name {name}" for name in sorted(keep)]

    def start_session(self, event_format: str = "plain", *, events: Iterable[str] | None = None,
                      linger: bool = True) -> None:
        """After connect: ``myevents`` (limited to `events` plus what the call
        waits for, None: all of them) and ``linger``, written at once and
        their replies checked in order (FreeSWITCH answers in order)."""
        commands = ["myevents" if event_format == "plain" else f"myevents {event_format}"]
        if events is not None:
            commands += self.event_limits(events)
        if linger:
            commands.append("linger")
        pending = [(command, self._write(f"{command}\n\n".encode("utf-8"), command, timeout=self.command_timeout_s))
                   for command in commands]
        for command, sent in pending:
            reply = self._wait(sent, self.command_timeout_s)
            if not reply.reply_text.startswith("+OK"):
                raise CommandFailed(reply.reply_text, command)

    def linger(self, timeout: int | None = None) -> None:
        self._ok("linger" if timeout is None else f"linger {int(timeout)}")

    def resume(self) -> None:
        """Let the call go on in the dialplan when this socket closes (else FreeSWITCH hangs it up)."""
        self._ok("resume")

    # -- hooks (reader greenlet) --------------------------------------------------
    def _is_this_call(self, event: EslEvent) -> bool:
        mine = self.uuid
        return not mine or event.uuid == mine

    def _on_event(self, event: EslEvent) -> None:
        name = event.name
        if name == "CHANNEL_EXECUTE_COMPLETE":
            waiter = self._executing.get(event.get("Application-UUID") or "")
            if waiter is not None and not waiter.ready():
                waiter.set(event)
        elif name == "CHANNEL_HANGUP" and self._is_this_call(event):
            self._mark_hungup(event.get("Hangup-Cause"))
        elif name == "CHANNEL_HANGUP_COMPLETE" and self._is_this_call(event):
            self._mark_hungup(event.get("Hangup-Cause"))
            self._hangup_complete.set()

    def _on_disconnect_notice(self, event: EslEvent) -> None:
        super()._on_disconnect_notice(event)
        # linger: the caller hung up, the last events follow; otherwise the socket closes now.
        self._mark_hungup(self.hangup_cause)

    def _on_connection_lost(self, reason: str) -> None:
        self._mark_hungup(self.hangup_cause)
        self._hangup_complete.set()

    def _connection_error(self, reason: str) -> BaseException:
        return CallHungUp(self.uuid, self.hangup_cause)

    def _not_connected_error(self) -> BaseException:
        return CallHungUp(self.uuid, self.hangup_cause)

    def _mark_hungup(self, cause: str | None) -> None:
        if cause and not self.hangup_cause:
            self.hangup_cause = cause
        if self.hungup:
            return
        self.hungup = True
        self._outbound_connected = False
        self._hangup_event.set()
        error = CallHungUp(self.uuid, self.hangup_cause)
        for waiter in list(self._executing.values()):
            if not waiter.ready():
                waiter.set_exception(error)
        for expected in self.expected_events.values():      # greenswitch-style waiters, if any
            for _variable, _value, result in expected:
                if not result.ready():
                    result.set_exception(error)
        if not self._finished:                               # not when we ended the session ourselves
            log.info("call %s: caller %s hung up (%s)", self.uuid, self.ani, self.hangup_cause or "connection closed")

    # -- driving the call ---------------------------------------------------------
    def _raise_if_hungup(self) -> None:
        if self.hungup:
            raise CallHungUp(self.uuid, self.hangup_cause)

    def raise_if_disconnected(self) -> None:
        self._raise_if_hungup()

    def _send_execute(self, app: str, arg: str | None, app_uuid: str) -> None:
        reply = self._request(sendmsg_execute(app, arg, app_uuid), f"execute {app}", self.command_timeout_s)
        if not reply.reply_text.startswith("+OK"):
            self._raise_if_hungup()
            raise CommandFailed(reply.reply_text, f"execute {app}")

    def execute(self, app: str, arg: str | None = None, *, timeout: float | None = None) -> EslEvent:
        """Run app(arg) on the call and return its CHANNEL_EXECUTE_COMPLETE.
        Raises CallHungUp as soon as the caller hangs up (or the socket
        closes), EslTimeout after `timeout` seconds (None: until completion
        or hangup)."""
        self._raise_if_hungup()
        app_uuid = str(uuid_mod.uuid4())
        waiter = gevent.event.AsyncResult()
        self._executing[app_uuid] = waiter
        try:
            self._send_execute(app, arg, app_uuid)
            waiter.wait(timeout)
            if not waiter.ready():
                raise EslTimeout(f"{app} on {self.uuid} did not complete within {timeout:g} s")
            return waiter.get()
        finally:
            self._executing.pop(app_uuid, None)

    def execute_async(self, app: str, arg: str | None = None) -> str:
        """Queue app(arg) on the call (FreeSWITCH runs queued applications in
        order); returns its Application-UUID once FreeSWITCH accepted it."""
        self._raise_if_hungup()
        app_uuid = str(uuid_mod.uuid4())
        self._send_execute(app, arg, app_uuid)
        return app_uuid

    def call_command(self, app_name: str, app_args: str | None = None, block: bool = False,  # type: ignore[override]
                     response_timeout: float | None = None) -> Any:
        """greenswitch's name for execute / execute_async."""
        if block:
            return self.execute(app_name, app_args, timeout=response_timeout)
        return self.execute_async(app_name, app_args)

    def set(self, name: str, value: str) -> None:
        """Set a channel variable (queued like every application; returns once accepted)."""
        _token("name", name)
        self.execute_async("set", f"{name}={value}")

    def set_many(self, variables: dict[str, str]) -> None:
        """Set several channel variables with one `multiset` (one application,
        one CHANNEL_EXECUTE_COMPLETE, instead of one `set` each). The parts are
        joined with a delimiter no name or value contains (`^^<delim>`)."""
        for name in variables:
            _token("name", name)
        text = "".join(f"{name}={value}" for name, value in variables.items())
        delim = next((d for d in _MULTISET_DELIMITERS if d not in text), None)
        if delim is None:
            raise InvalidArgument("variables", f"no multiset delimiter ({_MULTISET_DELIMITERS}) is free in {text!r}")
        self.execute_async("multiset", f"^^{delim}" + delim.join(f"{n}={v}" for n, v in variables.items()))

    def answer(self) -> EslEvent:  # type: ignore[override]
        return self.execute("answer")

    def playback(self, path: str, timeout: float | None = None) -> EslEvent:  # type: ignore[override]
        return self.execute("playback", path, timeout=timeout)

    def park(self) -> None:
        """Park the call (it stays parked until something else takes it: never completes)."""
        self.execute_async("park")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:  # type: ignore[override]
        """Hang the call up; nothing to do when it is already gone."""
        if self.hungup:
            return
        try:
            self.execute_async("hangup", cause)
        except CallHungUp:
            pass

    def play_and_get_digits(self, *, min_digits: int, max_digits: int, tries: int, timeout_ms: int,  # type: ignore[override]
                            terminators: str, prompt: str, invalid_prompt: str, var_name: str, regexp: str,
                            digit_timeout_ms: int | None = None,
                            timeout: float | None = None) -> tuple[str | None, str]:
        """FreeSWITCH's play_and_get_digits; returns (digits or None, read_result),
        read_result being FreeSWITCH's `success`, `timeout` or `failure`."""
        words = [_token("min_digits", min_digits), _token("max_digits", max_digits), _token("tries", tries),
                 _token("timeout_ms", timeout_ms), _token("terminators", terminators), _token("prompt", prompt),
                 _token("invalid_prompt", invalid_prompt), _token("var_name", var_name), _token("regexp", regexp)]
        if digit_timeout_ms is not None:
            words.append(_token("digit_timeout_ms", digit_timeout_ms))
        event = self.execute("play_and_get_digits", " ".join(words), timeout=timeout)
        digits = event.var(var_name) or None
        return digits, event.var("read_result") or ("success" if digits else "failure")

    def api(self, cmd: str, timeout: float | None = None) -> str:
        """`api <cmd>` over this call's socket: the api/response body."""
        if not cmd or "\n" in cmd or "\r" in cmd:
            raise InvalidArgument("cmd", "must be one non-empty line")
        reply = self._request(f"api {cmd}\n\n".encode("utf-8"), describe(f"api {cmd}"),
                              self.command_timeout_s if timeout is None else timeout)
        return reply.body or ""

    def wait_hangup(self, timeout: float | None = None) -> bool:
        """Block until the call hangs up (or its socket closes); False on timeout."""
        return self._hangup_event.wait(timeout)

    # -- end of session ----------------------------------------------------------
    def close(self, drain_timeout: float = 5.0) -> None:
        """End the session: after a hangup, let the last events arrive
        (until CHANNEL_HANGUP_COMPLETE or FreeSWITCH closes, at most
        drain_timeout); otherwise say `exit`. Then close the socket and end
        this call's greenlets, after the handlers had every event."""
        if self._finished:
            return
        self._finished = True
        if self._sock_alive:
            if self.hungup:
                gevent.wait([self._hangup_complete, self._closed_event], count=1, timeout=drain_timeout)
            else:
                try:
                    self._request(b"exit\n\n", "exit", 1.0)
                except (CallHungUp, EslError):
                    pass
        self._close("session ended", join_timeout=drain_timeout)
        self._stop_dispatcher(drain_timeout)
        self._mark_hungup(self.hangup_cause)

    def stop(self) -> None:  # type: ignore[override]
        self.close()


class OutboundServer(OutboundESLServer):
    """Listens for FreeSWITCH's `socket` application; runs handler(call) in
    its own greenlet for every call, then ends the call's session cleanly.

    `events`: the events of its channel the handler needs, among
    :data:`MYEVENTS`; FreeSWITCH is asked for those and :data:`CALL_EVENTS`
    only (None: every event ``myevents`` turns on)."""

    def __init__(self, host: str, port: int, handler: Callable[[OutboundCall], Any], *, linger: bool = True,
                 command_timeout_s: float = 10.0, drain_timeout_s: float = 5.0, max_connections: int = 1000,
                 event_format: str = "plain", events: Iterable[str] | None = None) -> None:
        # Not OutboundESLServer.__init__ (it logs through the root logger); same attributes.
        self.bind_address = host
        self.bind_port = [port]
        self.application = handler
        self.handler = handler
        self.linger = linger
        self.command_timeout_s = command_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.max_connections = max_connections
        self.event_format = event_format          # myevents plain | json
        self.events = None if events is None else frozenset(events)
        if self.events is not None and not self.events <= MYEVENTS:
            raise InvalidArgument("events", f"not events myevents turns on: {sorted(self.events - MYEVENTS)}")
        self.connection_count = 0
        self.bound_port: int | None = None
        self.server: StreamServer | None = None
        self.calls: set[OutboundCall] = set()
        self._greenlets: set[gevent.Greenlet] = set()
        self._running = False

    def start(self) -> int:
        """Listen (port 0: any free port) and return the bound port."""
        family = socket.AF_INET6 if ":" in self.bind_address else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.bind_address, self.bind_port[0]))
            listener.listen(128)
        except OSError as exc:
            listener.close()
            raise EslError(f"cannot listen for FreeSWITCH on {self.bind_address}:{self.bind_port[0]}: "
                           f"{exc.strerror or exc}") from None
        self.bound_port = listener.getsockname()[1]
        self.server = StreamServer(listener, self._handle_connection, spawn=gevent.pool.Pool(self.max_connections))
        self.server.start()
        self._running = True
        log.info("waiting for FreeSWITCH's socket application on %s:%s", self.bind_address, self.bound_port)
        return self.bound_port

    def listen(self) -> None:
        """greenswitch's blocking entry point: start and serve until stop()."""
        self.start()
        assert self.server is not None
        self.server.serve_forever()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting; give running calls `timeout` seconds, then end them."""
        self._running = False
        if self.server is not None:
            self.server.stop(timeout=timeout)

    def _handle_connection(self, sock: socket.socket, address: tuple[Any, ...]) -> None:
        tune_socket(sock)
        call = OutboundCall(address, sock, command_timeout_s=self.command_timeout_s)
        self.calls.add(call)
        self.connection_count += 1
        try:
            call.connect()
            with hlog.bind(call_uuid=call.uuid):
                call.start_session(self.event_format, events=self.events, linger=self.linger)
                log.info("call %s from %r to %r", call.uuid, call.ani, call.dnis)
                self.handler(call)
        except CallHungUp as exc:
            log.info("call %s ended during its session: %s", call.uuid, exc)
        except EslError as exc:
            log.warning("call %s: event socket problem: %s", call.uuid, exc)
        except Exception:  # noqa: BLE001 - one call's bug must not affect the others
            log.exception("outbound call handler failed for call %s", call.uuid)
        finally:
            try:
                call.close(self.drain_timeout_s)
            finally:
                self.calls.discard(call)
                self.connection_count -= 1
