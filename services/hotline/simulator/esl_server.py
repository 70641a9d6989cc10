"""The event socket: mod_event_socket's listeners, inbound (clients connect to
the ESL port) and outbound (the ``socket`` application connects out; see
outbound.py). Command parsing follows parse_command() in mod_event_socket.c,
reply texts included; events are filtered per listener like event_handler().
"""
from __future__ import annotations

import logging
import re
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
import gevent.queue
import gevent.server

from .channel import Channel, Message, new_uuid, str2cause, true
from .wire import (
    DISCONNECT_MESSAGE,
    Event,
    Packet,
    PacketReader,
    api_response,
    command_reply,
    disconnect_notice,
    linger_notice,
    raw_reply,
)

if TYPE_CHECKING:  # pragma: no cover
    from .switch import Switch

log = logging.getLogger(__name__)

# switch_event_types_t names (switch_event.c EVENT_NAMES), for "event"/"nixevent".
EVENT_NAMES = frozenset("""
CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER
CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD
CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA
CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID
API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH
MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE
MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE
PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY
PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL
COMMAND SESSION_HEARTBEAT CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO
RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START
PLAYBACK_STOP CALL_UPDATE FAILURE SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP CONFERENCE_DATA_QUERY
CONFERENCE_DATA CALL_SETUP_REQ CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED ALL
""".split())

# the event types "myevents" turns on (parse_command, mod_event_socket.c)
MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
    "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
    "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
})

LOG_LEVELS = {"console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}

_CLOSE = object()


def name_event(name: str) -> str | None:
    """switch_name_event(): case-insensitive, "SWITCH_EVENT_" prefix allowed."""
    upper = name.upper()
    if upper.startswith("SWITCH_EVENT_"):
        upper = upper[len("SWITCH_EVENT_"):]
    return upper if upper in EVENT_NAMES else None


class Connection:
    """One ESL listener: subscriptions, filters, the command interpreter and the socket writer."""

    def __init__(self, switch: "Switch", sock: Any, *, session: Channel | None = None,
                 outbound: bool = False, full: bool = True, async_mode: bool = True) -> None:
        self.sw = switch
        self.sock = sock
        self.reader = PacketReader(sock.recv)
        self.outbound = outbound
        self.full = full
        self.async_mode = async_mode
        self.authed = outbound
        self.session: Channel | None = session
        self.format = "plain"
        self.events_on = False
        self.event_all = False
        self.event_names: set[str] = set()
        self.custom_subclasses: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.myevents = False
        self.linger = False
        self.linger_time = -1
        self.resume = False
        self.logging = False
        self.handle_disco = False
        self.connected = False
        self.closing = False
        self.gone = False
        self.out: gevent.queue.Queue = gevent.queue.Queue()
        self.held_events: list[bytes] | None = None  # events held back while an api command runs
        self.writer: gevent.Greenlet | None = None
        self.greenlet: gevent.Greenlet | None = None
        try:
            peer = sock.getpeername()
            self.peer = f"{peer[0]}:{peer[1]}"
        except OSError:
            self.peer = "?"

    # -- socket ---------------------------------------------------------------
    def start(self) -> None:
        self.sw.add_connection(self)
        if self.session is not None:
            self.session.listeners.add(self)
        self.writer = gevent.spawn(self._write_loop)
        self.greenlet = gevent.spawn(self._run_safely)

    def _write_loop(self) -> None:
        out = self.out
        close_seen = False
        while not close_seen:
            item = out.get()
            if item is _CLOSE:
                break
            if out.qsize():
                # whatever else is queued already goes out in the same write
                batch = [item]
                while out.qsize():
                    item = out.get_nowait()
                    if item is _CLOSE:
                        close_seen = True
                        break
                    batch.append(item)
                item = b"".join(batch)
            try:
                self.sock.sendall(item)
            except OSError:
                break
        self._close_socket()

    def _close_socket(self, orderly: bool = True) -> None:
        if orderly:
            try:
                self.sock.shutdown(2)
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        if not self.closing:
            self.out.put(data)

    def close(self, notice: bool = False, message: str = DISCONNECT_MESSAGE) -> None:
        """Send the disconnect notice (if asked) after everything queued, then close."""
        if self.closing:
            return
        if notice:
            self.out.put(disconnect_notice(self.session.uuid if self.session else None, message))
        self.closing = True
        self.out.put(_CLOSE)

    @property
    def kind(self) -> str:
        return "outbound" if self.outbound else "inbound"

    def abort(self, reset: bool = False) -> None:
        """Drop the connection at once, with no disconnect notice (a switch restart, a fault test);
        reset=True makes the peer see a TCP reset instead of an orderly close."""
        self.closing = True
        if reset:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self._close_socket(orderly=not reset)
        if self.writer is not None:
            self.writer.kill(block=False)

    def _run_safely(self) -> None:
        try:
            self.run()
        except (OSError, gevent.GreenletExit):
            pass
        except Exception:
            log.exception("ESL connection %s failed", self.peer)
        finally:
            self._finish()

    def run(self) -> None:
        raise NotImplementedError

    def read_loop(self) -> None:
        while not self.closing:
            try:
                packet = self.reader.read()
            except OSError:
                return
            if packet is None:
                return
            try:
                self.handle(packet)
            except Exception:  # a simulator bug must not take the client's connection down
                log.exception("ESL command %r from %s failed", packet.command, self.peer)
                self.reply("-ERR command parse error.")

    def _finish(self) -> None:
        self.gone = True
        if not self.closing:
            self.closing = True
            self.out.put(_CLOSE)
        self.sw.remove_connection(self)
        if self.session is not None:
            self.session.listeners.discard(self)
            self.session.poke()

    # -- channel going down (read_packet()'s LFLAG_HANDLE_DISCO part) --------------
    def on_channel_down(self, channel: Channel) -> None:
        if self.handle_disco or channel is not self.session:
            return
        self.handle_disco = True
        if self.linger:
            self.send(linger_notice(channel.uuid, channel.name, self.linger_time))
            if self.linger_time != -1:
                # read_packet() closes once the epoch second passes down-time + linger
                now = time.time()
                gevent.spawn_later(int(now) + self.linger_time + 1 - now, self.close, True)
        else:
            self.close(notice=True)

    # -- events ------------------------------------------------------------------
    def only_session_uuid(self) -> str | None:
        """The session whose events alone this listener may get (myevents on a session), else None."""
        return self.session.uuid if self.myevents and self.session is not None else None

    def may_want(self, name: str, subclass: str | None) -> bool:
        """Whether an event of this name could pass this listener's subscription; filters and
        myevents' session check come on top (deliver())."""
        if not self.events_on or self.closing:
            return False
        if self.event_all:
            return True
        if name in self.event_names:
            return name != "CUSTOM" or not subclass or subclass in self.custom_subclasses
        return False

    def deliver(self, ev: Event) -> None:
        """event_handler() for this listener."""
        if not self.may_want(ev.name, ev.subclass):
            return
        if self.filters and not self._filtered_in(ev):
            return
        if self.myevents:
            uuid = ev.get("Unique-ID")
            if not uuid or (self.session is not None and uuid != self.session.uuid):
                return
        frame = ev.frame(self.format)
        if self.held_events is not None:
            self.held_events.append(frame)
        else:
            self.out.put(frame)

    def _filtered_in(self, ev: Event) -> bool:
        send = False
        for name, value in self.filters:
            hval = ev.get(name)
            if hval is None:
                continue
            pos = True
            comp = value
            i = 0
            while i < len(comp) and comp[i] in "+- ":
                if comp[i] == "+":
                    pos = True
                elif comp[i] == "-":
                    pos = False
                i += 1
            comp = comp[i:]
            if send and pos:
                continue
            if not comp:
                continue
            if value.startswith("/"):
                pattern = comp.strip("/")
                try:
                    cmp = re.search(pattern, hval) is not None
                except re.error:
                    cmp = False
            else:
                cmp = hval.lower() == comp.lower()
            if cmp:
                if pos:
                    send = True
                else:
                    return False
        return send

    # -- commands -------------------------------------------------------------------
    def reply(self, text: str) -> None:
        self.send(command_reply(text))

    def handle(self, pkt: Packet) -> None:
        """parse_command()."""
        cmd = pkt.command
        low = cmd.lower()
        if low.startswith("exit") or low.startswith("..."):
            self.reply("+OK bye")
            self.close(notice=True)
            return
        if not self.authed:
            self._handle_auth(cmd, low)
            return
        if low.startswith("filter "):
            self.reply(self._filter(cmd[7:]))
            return
        if self.session is not None and low.startswith("resume"):
            self.resume = True
            self.session.set_var("socket_resume", "true")
            self.reply("+OK")
            return
        if self.session is not None or low.startswith("myevents "):
            if self.session is not None and low.startswith("connect"):
                self._connect()
                return
            if self.session is not None and low.startswith("getvar"):
                _, _, name = cmd.partition(" ")
                value = self.session.get_var(name.strip()) if name.strip() else ""
                self.reply(value or "-ERR command not found")
                return
            if low.startswith("myevents"):
                self.reply(self._myevents(cmd))
                return
        if low.startswith("divert_events"):
            self.reply(self._divert_events(cmd[13:]))
            return
        if low.startswith("sendmsg"):
            self._sendmsg(pkt)
            return
        if self.outbound and not self.full:
            self.reply("-ERR command not found")
            return
        if low.startswith("sendevent"):
            self.reply(self._sendevent(pkt))
        elif low.startswith("api "):
            self._api(cmd[4:])
        elif low.startswith("bgapi "):
            self._bgapi(cmd[6:], pkt)
        elif low.startswith("log"):
            # accepted like FreeSWITCH; the simulator sends no log/data frames
            level = cmd[3:].strip()
            number = LOG_LEVELS.get(level.lower(), int(level) if level.isdigit() else None) if level else 7
            if number is None:
                self.reply("-ERR invalid log level")
            else:
                self.logging = True
                self.reply(f"+OK log level {level} [{number}]")
        elif low.startswith("linger"):
            self.reply(self._linger(cmd))
        elif low.startswith("nolinger"):
            if self.session is None:
                self.reply("-ERR not controlling a session")
            else:
                self.linger = False
                self.reply("+OK will not linger")
        elif low.startswith("nolog"):
            self.reply("+OK no longer logging" if self.logging else "-ERR not loging")
            self.logging = False
        elif low.startswith("event"):
            self.reply(self._event(cmd))
        elif low.startswith("nixevent"):
            self.reply(self._nixevent(cmd))
        elif low.startswith("noevents"):
            self.reply(self._noevents())
        else:
            self.reply("-ERR command not found")

    def _handle_auth(self, cmd: str, low: str) -> None:
        if low.startswith("auth "):
            if cmd[5:] == self.sw.password:
                self.authed = True
                self.reply("+OK accepted")
            else:
                self.reply("-ERR invalid")
                self.close(notice=True)
        elif low.startswith("userauth "):
            self.reply("-ERR invalid")
            self.close(notice=True)
        else:
            self.reply("-ERR command not found")

    def _filter(self, spec: str) -> str:
        spec = spec.lstrip(" ")
        name, sep, value = spec.partition(" ")
        if name.lower() == "delete" and sep:
            name, sep2, value = value.partition(" ")
            if name.lower() == "all":
                self.filters = []
            else:
                self.filters = [(n, v) for n, v in self.filters
                                if not (n.lower() == name.lower() and (not sep2 or v == value))]
            return f"+OK filter deleted. [{name}][{value if sep2 else ''}]"
        if sep:
            if name.lower() == "add":
                name, sep3, value = value.partition(" ")
                if not sep3:
                    value = ""
            self.filters.append((name, value))
            return f"+OK filter added. [{name}]=[{value}]"
        return "-ERR invalid syntax"

    def _connect(self) -> None:
        ch = self.session
        assert ch is not None
        self.connected = True
        ev = ch.event("CHANNEL_DATA", calling=("mod_event_socket.c", "parse_command", 2021), with_vars=False)
        # switch_caller_profile_event_set_data(profile, "Channel", event) comes before the channel data
        head, rest = ev.headers[:13], ev.headers[13:]
        profile = Event("CHANNEL_DATA")
        ch.profile_headers(profile, "Channel", with_index=True)
        ev.headers = head + profile.headers + rest
        for k, v in ch.variables.items():
            ev.add("variable_" + k, v)
        ev.add("Content-Type", "command/reply")
        ev.add("Reply-Text", "+OK\n")
        ev.add("Socket-Mode", "async" if self.async_mode else "static")
        ev.add("Control", "full" if self.full else "single-channel")
        self.send(ev.plain().encode("utf-8"))
        ch.poke()

    def _myevents(self, cmd: str) -> str:
        if self.myevents:
            return "-ERR aready enabled."
        low = cmd.lower()
        if self.session is None:
            args = cmd[9:].strip().split()
            uuid = args[0] if args else ""
            ch = self.sw.get_channel(uuid)
            if ch is None:
                if len(args) > 1:
                    return "-ERR invalid uuid"
            else:
                self.session = ch
                ch.listeners.add(self)
                if not ch.up:
                    self.on_channel_down(ch)
        self.event_names |= MYEVENTS
        self.myevents = True
        self.sw.route_events(self)
        self.events_on = True
        if "xml" in low:
            self.format = "xml"
        if "json" in low:
            self.format = "json"
        return "+OK Events Enabled"

    def _divert_events(self, arg: str) -> str:
        if self.session is None:
            return "-ERR not controlling a session."
        onoff = arg.strip()
        if not onoff:
            return "-ERR missing value."
        return "+OK events diverted" if onoff.lower() == "on" else "+OK events not diverted"

    def _linger(self, cmd: str) -> str:
        if self.session is None:
            return "-ERR not controlling a session"
        if cmd[6:7] == " " and cmd[7:]:
            try:
                self.linger_time = int(re.match(r"\s*(-?\d+)", cmd[7:]).group(1))  # type: ignore[union-attr]
            except (AttributeError, ValueError):
                self.linger_time = 0
        else:
            self.linger_time = -1
        self.linger = True
        if self.linger_time != -1:
            return f"+OK will linger {self.linger_time} seconds"
        return "+OK will linger"

    def _event(self, cmd: str) -> str:
        tokens = cmd[5:].split(" ")
        key_count = 0
        custom = False
        if len(tokens) > 1:
            for i, tok in enumerate(tokens[1:]):
                if i == 0 and tok.lower() in ("xml", "plain", "json"):
                    self.format = tok.lower()
                    continue
                if custom:
                    self.custom_subclasses.add(tok)
                    continue
                name = name_event(tok)
                if name is None:
                    continue
                key_count += 1
                if name == "ALL":
                    self.event_all = True
                self.event_names.add(name)
                if name == "CUSTOM":
                    custom = True
        if not key_count:
            return "-ERR no keywords supplied"
        self.events_on = True
        return f"+OK event listener enabled {self.format}"

    def _nixevent(self, cmd: str) -> str:
        tokens = cmd[8:].split(" ")
        key_count = 0
        custom = False
        for tok in tokens[1:]:
            if custom:
                self.custom_subclasses.discard(tok)
                continue
            name = name_event(tok)
            if name is None:
                continue
            key_count += 1
            if name == "CUSTOM":
                custom = True
            elif name == "ALL":
                self.event_all = False
                self.event_names.clear()
            else:
                if self.event_all:
                    self.event_all = False
                    self.event_names = set(EVENT_NAMES) - {"ALL"}
                self.event_names.discard(name)
        if not key_count:
            return "-ERR no keywords supplied"
        self.events_on = True
        return "+OK events nixed"

    def _noevents(self) -> str:
        # flush_listener(): whatever was queued for this listener is dropped
        if not self.events_on:
            return "-ERR not listening for events"
        self.events_on = False
        self.event_all = False
        self.event_names.clear()
        self.custom_subclasses.clear()
        return "+OK no longer listening for events"

    def _sendmsg(self, pkt: Packet) -> None:
        uuid = pkt.command[7:].strip() or (pkt.get("session-id") or "").strip()
        if uuid and self.session is not None and uuid == self.session.uuid:
            uuid = ""
        target: Channel | None
        if not uuid and self.session is not None:
            target = self.session
        else:
            target = self.sw.get_channel(uuid) if uuid else None
            if target is None:
                self.reply(f"-ERR invalid session id [{uuid}]")
                return
        call_command = (pkt.get("call-command") or "").strip().lower()
        if call_command == "execute":
            app = (pkt.get("execute-app-name") or "").strip()
            arg = pkt.get("execute-app-arg")
            if arg is None and (pkt.get("content-type") or "").lower() == "text/plain":
                arg = pkt.body
            try:
                loops = int(pkt.get("loops") or "1")
            except ValueError:
                loops = 1
            msg = Message(app=app, arg=arg or "", app_uuid=pkt.get("Event-UUID"), loops=loops)
            sync = target is self.session and not self.async_mode and not true(pkt.get("async"))
            if sync:
                msg.done = gevent.event.AsyncResult()
            if app:
                target.queue_message(msg)
                if msg.done is not None:
                    target.hangup_event.rawlink(lambda _: msg.done.set(False) if not msg.done.ready() else None)  # type: ignore[union-attr]
                    msg.done.wait()
        elif call_command == "hangup":
            cause = str2cause(pkt.get("hangup-cause")) or "NORMAL_CLEARING"
            target.hangup(cause)
        elif call_command:
            log.info("sendmsg call-command %s ignored by the simulator", call_command)
        self.reply("+OK")

    def _sendevent(self, pkt: Packet) -> str:
        name = pkt.command[9:].strip() or "CUSTOM"
        event_uuid = new_uuid()
        ev = self.sw.new_event(name_event(name) or "CUSTOM", ("mod_event_socket.c", "parse_command", 0),
                               subclass=pkt.get("Event-Subclass"))
        ev.add("Command", pkt.command)
        for k, v in pkt.headers:
            if k.lower() != "content-length":
                ev.add(k, v)
        ev.add("Event-UUID", event_uuid)
        if pkt.body:
            ev.body = pkt.body
        self.sw.fire(ev)
        return f"+OK {event_uuid}"

    def _api(self, api_cmd: str) -> None:
        """api_exec() runs in the listener's own thread: no event goes out before the response."""
        name, sep, arg = api_cmd.partition(" ")
        self.held_events = []
        try:
            body = self.sw.api.execute(name, arg if sep else None)
        finally:
            held, self.held_events = self.held_events, None
        if body is None:
            body = f"-ERR {name} Command not found!\n"
        elif body == "":
            body = "-ERR no reply\n"
        self.send(api_response(body))
        for frame in held:
            self.send(frame)

    def _bgapi(self, api_cmd: str, pkt: Packet) -> None:
        name, sep, arg = api_cmd.partition(" ")
        job_uuid = (pkt.get("job-uuid") or "").strip() or new_uuid()
        self.send(raw_reply(f"Reply-Text: +OK Job-UUID: {job_uuid}\nJob-UUID: {job_uuid}\n\n"))
        gevent.spawn(self.sw.run_background_job, job_uuid, name, arg if sep else None)


class InboundConnection(Connection):
    """A client that connected to the ESL port."""

    def run(self) -> None:
        self.send(b"Content-Type: auth/request\n\n")
        self.read_loop()


class EslServer:
    """The listening socket (mod_event_socket's runtime)."""

    def __init__(self, switch: "Switch", host: str, port: int) -> None:
        self.sw = switch
        self.server = gevent.server.StreamServer((host, port), self._handle)
        self.server.reuse_addr = 1

    def start(self) -> None:
        self.server.start()

    @property
    def port(self) -> int:
        return self.server.server_port

    def stop(self) -> None:
        self.server.stop(timeout=0)

    def _handle(self, sock: Any, address: Any) -> None:
        # listener_run() in mod_event_socket.c: TCP_NODELAY on every listener
        # socket, inbound and outbound (no Nagle wait behind a delayed ACK).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = InboundConnection(self.sw, sock)
        conn.start()
        if conn.greenlet is not None:
            conn.greenlet.join()
