"""The ``socket`` application: FreeSWITCH connects out to a client for one call.

socket_function() in mod_event_socket.c: connect to host:port (a failed
connect logs "Socket Error!" and the application simply returns, so the
dialplan goes on and, at its end, the call is hung up with NORMAL_CLEARING);
in async mode wait for the client's ``connect``, then park the channel until
the client goes away. What happens when the client disconnects is what
listener_run() does: the session is released and the park loop ends; if the
client sent ``resume`` (or the channel has socket_resume=true) the dialplan
continues after the socket application, otherwise the call is hung up
(NORMAL_CLEARING) once the application that is running ends - a bridge in
progress therefore lasts until one side hangs up.
"""
from __future__ import annotations

import logging
from typing import Any

import gevent
import gevent.socket

from . import apps
from .channel import Channel, true
from .esl_server import Connection

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
FIRST_PACKET_TIMEOUT_S = 25.0  # read_packet(listener, &ievent, 25) in listener_run()


class OutboundConnection(Connection):
    """The listener mod_event_socket creates for a socket application."""

    def __init__(self, switch: Any, sock: Any, session: Channel, *, full: bool, async_mode: bool) -> None:
        super().__init__(switch, sock, session=session, outbound=True, full=full, async_mode=async_mode)

    def run(self) -> None:
        # The first packet (normally "connect") is read with a 25 s timeout and,
        # unless it is "connect", its reply is never sent (listener_run()).
        try:
            with gevent.Timeout(FIRST_PACKET_TIMEOUT_S):
                packet = self.reader.read()
        except gevent.Timeout:
            log.warning("socket client for %s sent nothing in %ss", self.session.uuid if self.session else "?",
                        FIRST_PACKET_TIMEOUT_S)
            return
        if packet is None:
            return
        if packet.command.lower().startswith("connect"):
            self.handle(packet)
        else:
            saved = self.send
            self.send = lambda data: None  # type: ignore[method-assign]
            try:
                self.handle(packet)
            finally:
                self.send = saved  # type: ignore[method-assign]
        self.read_loop()


def socket_application(ch: Channel, data: str) -> None:
    """socket <host>[:<port>] [async] [full]"""
    argv = data.split()
    if not argv:
        log.error("socket: Parse Error!")
        return
    host, _, port_text = argv[0].rpartition(":") if ":" in argv[0] else (argv[0], "", "8084")
    path = None
    if "/" in port_text:
        port_text, path = port_text.split("/", 1)
    try:
        port = int(port_text)
    except ValueError:
        port = 8084
    if path:
        ch.set_var("socket_path", path)
    ch.set_var("socket_host", host)
    flags = {a.lower() for a in argv[1:]}
    full, async_mode = "full" in flags, "async" in flags
    try:
        sock = gevent.socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        sock.settimeout(None)
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)   # as listener_run() does
    except OSError as exc:
        log.error("socket %s:%s for %s: Socket Error! (%s)", host, port, ch.uuid, exc)
        return
    conn = OutboundConnection(ch.switch, sock, ch, full=full, async_mode=async_mode)
    conn.start()
    ch.wait(None, until=lambda: conn.connected or conn.gone)
    if not conn.connected:
        ch.stop_dialplan = not (conn.resume or true(ch.variables.get("socket_resume")))
        return
    if async_mode:
        apps.park_loop(ch, until=lambda: conn.gone)
    else:
        ch.wait(None, until=lambda: conn.gone, messages=True)
    if conn.gone and not (conn.resume or true(ch.variables.get("socket_resume"))):
        ch.stop_dialplan = True
