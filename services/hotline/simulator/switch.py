"""The simulated switch: composition root of the simulator.

Owns the ESL server, the channels, the registered phones, the public dialplan
and the event bus (core headers, Event-Sequence, fan-out to ESL listeners).
"""
from __future__ import annotations

import itertools
import logging
import os
import socket
import tempfile
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional, Sequence, Union

from .api import Api
from .channel import Channel, ChannelInfo, Profile, new_uuid, now_us
from .conference import Conferences
from .esl_server import Connection, EslServer
from .scripts import CallerScript, PhoneScript
from .wire import Event

log = logging.getLogger(__name__)

AppList = Sequence[tuple[str, str]]
DEFAULT_EXTENSION: list[tuple[str, str]] = [("answer", ""), ("park", "")]
DEFAULT_GARBAGE = b"\x00\xff\xfe not an ESL frame \x7f\r\n\r\n"


@dataclass(frozen=True)
class EslConnectionInfo:
    """What a fault-injection filter sees of one live ESL connection."""

    kind: str  # "inbound" (a client of the ESL port) or "outbound" (a socket application's connection)
    peer: str  # "host:port" of the other end
    session_uuid: Optional[str]  # the channel it controls (outbound, or inbound after "myevents <uuid>")
    authenticated: bool


ConnectionFilter = Union[None, str, Callable[[EslConnectionInfo], bool]]


@dataclass
class Phone:
    """A registration on the internal profile (user <id> in the switch's domain)."""

    user: str
    domain: str
    script: PhoneScript
    contact_host: str
    contact_port: int
    call_id: str = field(default_factory=lambda: f"{uuidlib.uuid4().hex[:12]}@sim")

    def contact_url(self) -> str:
        return f"sip:{self.user}@{self.contact_host}:{self.contact_port}"


class CallHandle:
    """The caller's side of a call placed with Switch.place_call()."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.uuid = channel.uuid

    @property
    def hungup(self) -> bool:
        return self.channel.hangup_cause is not None

    @property
    def hangup_cause(self) -> Optional[str]:
        return self.channel.hangup_cause

    @property
    def answered(self) -> bool:
        return self.channel.answered

    @property
    def bridged(self) -> bool:
        return self.channel.partner is not None

    def wait_hangup(self, timeout: Optional[float] = None) -> bool:
        """True once the caller's leg is hung up (CHANNEL_HANGUP fired)."""
        return self.channel.hangup_event.wait(timeout)

    def wait_answered(self, timeout: Optional[float] = None) -> bool:
        return self.channel.answered_event.wait(timeout)

    def wait_bridged(self, timeout: Optional[float] = None) -> bool:
        return self.channel.bridged_event.wait(timeout)

    def wait_destroyed(self, timeout: Optional[float] = None) -> bool:
        return self.channel.destroyed_event.wait(timeout)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up (a BYE from the caller)."""
        self.channel.hangup(cause, disposition="recv_bye")

    def press(self, digits: str) -> None:
        """The caller presses digits now (RFC 2833)."""
        self.channel.queue_dtmf(digits, source="RTP")

    def __repr__(self) -> str:
        return f"<CallHandle {self.uuid} hungup={self.hungup}>"


class Switch:
    """A protocol-faithful FreeSWITCH 1.10 stand-in speaking ESL over TCP."""

    def __init__(
        self,
        password: str = "ClueCon",
        host: str = "127.0.0.1",
        esl_port: int = 8021,
        hostname: str = "sim",
        recordings_dir: Optional[str] = None,
        dialplan: Optional[Mapping[str, AppList]] = None,
        media_scale: float = 1.0,
        *,
        local_streams: Iterable[str] = ("moh", "default"),
        sounds_installed: bool = True,
        domain: Optional[str] = None,
    ) -> None:
        self.password = password
        self.host = host
        self.requested_port = esl_port
        self.hostname = hostname
        self.recordings_dir = recordings_dir or os.path.join(tempfile.gettempdir(), "hotline-sim-recordings")
        self.media_scale = media_scale if media_scale > 0 else 1.0
        self.local_streams = frozenset(local_streams)
        self.sounds_installed = sounds_installed
        self.ip = host if host not in ("0.0.0.0", "", "::") else "127.0.0.1"
        self.domain = domain or self.ip
        self.extensions: dict[str, list[tuple[str, str]]] = {}
        for dnis, app_list in (dialplan or {}).items():
            self.add_extension(dnis, app_list)
        self.phones: dict[str, Phone] = {}
        self.api = Api(self)
        self.conferences = Conferences(self)
        self._channels: dict[str, Channel] = {}
        self._connections: set[Connection] = set()
        # who may receive an event: the listeners bound to one session by myevents get only
        # that session's events (looked up by Unique-ID); every other listener sees them all
        self._listeners_anywhere: set[Connection] = set()
        self._listeners_by_session: dict[str, set[Connection]] = {}
        self._routed_by_session: dict[Connection, str] = {}
        self._server: Optional[EslServer] = None
        self._port: Optional[int] = None
        self._ports = itertools.count(5070)
        self._contact_ports = itertools.count(5090)
        self._reset_core()

    def _reset_core(self) -> None:
        self.core_uuid = new_uuid()
        self.started_at = time.time()
        self._sequence = itertools.count(1)
        self._dates: tuple[int, str, str] = (-1, "", "")  # (epoch second, Event-Date-Local, Event-Date-GMT)
        self._session_ids = itertools.count(1)
        self.sessions_since_startup = 0
        self.session_peak = 0

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        port = self._port if self._port is not None else self.requested_port
        self._server = EslServer(self, self.host, port)
        self._server.start()
        self._port = self._server.port
        log.info("FreeSWITCH simulator listening for ESL on %s:%s", self.host, self._port)

    @property
    def esl_port(self) -> int:
        if self._port is None:
            raise RuntimeError("the switch is not started")
        return self._port

    def stop(self) -> None:
        """Close the ESL port, drop every connection and every channel."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._drop_everything()

    def restart(self) -> None:
        """Like a FreeSWITCH restart: connections and channels vanish, a new Core-UUID, same port."""
        self.stop()
        self._reset_core()
        self.start()

    # -- fault injection (for tests) ------------------------------------------------
    def inject_garbage(self, conn_filter: ConnectionFilter = None, data: bytes = DEFAULT_GARBAGE) -> int:
        """Write raw bytes to every matching live ESL connection, as if FreeSWITCH had sent them.

        conn_filter: None (every connection), "inbound", "outbound", or a predicate on
        EslConnectionInfo. The bytes go out after whatever is already queued for the connection,
        never inside a frame; nothing else changes (the connection stays up and keeps working).
        Returns the number of connections written to.
        """
        conns = self._matching_connections(conn_filter)
        for conn in conns:
            conn.send(data)
        return len(conns)

    def drop_connections(self, kind: str = "all") -> int:
        """Abort the matching ESL TCP connections abruptly: a TCP reset, no disconnect notice.

        kind: "inbound", "outbound" or "all". Unlike restart(), channels are left alone and the
        calls stay up; what FreeSWITCH itself does when a socket application's client goes away
        still follows (the socket application ends: the call goes on with resume or inside a
        bridge, and is hung up otherwise - see outbound.py). Returns the number dropped.
        """
        if kind not in ("inbound", "outbound", "all"):
            raise ValueError(f"kind must be inbound, outbound or all, not {kind!r}")
        conns = self._matching_connections(None if kind == "all" else kind)
        for conn in conns:
            conn.abort(reset=True)
        return len(conns)

    def _matching_connections(self, conn_filter: ConnectionFilter) -> list[Connection]:
        if isinstance(conn_filter, str) and conn_filter not in ("inbound", "outbound"):
            raise ValueError(f"conn_filter must be inbound, outbound or a predicate, not {conn_filter!r}")
        out = []
        for conn in list(self._connections):
            if conn.closing or conn.gone:
                continue
            info = EslConnectionInfo(kind=conn.kind, peer=conn.peer, authenticated=conn.authed,
                                     session_uuid=conn.session.uuid if conn.session is not None else None)
            if conn_filter is None or conn_filter == info.kind or (callable(conn_filter) and conn_filter(info)):
                out.append(conn)
        return out

    def _drop_everything(self) -> None:
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()
        self._listeners_anywhere.clear()
        self._listeners_by_session.clear()
        self._routed_by_session.clear()
        self.conferences.reset()
        channels = list(self._channels.values())
        self._channels.clear()
        for ch in channels:
            ch.killed = True
            ch.listeners.clear()
            for g in ch._timers:
                g.kill(block=False)
            if ch.greenlet is not None:
                ch.greenlet.kill(block=False)
            ch.hangup_cause = ch.hangup_cause or "SYSTEM_SHUTDOWN"
            ch.hangup_event.set()
            ch.destroyed_event.set()
            ch.poke()  # whoever waits on it (an originate in progress) gives up

    # -- configuration ------------------------------------------------------------
    def add_extension(self, dnis: str, apps: AppList) -> None:
        """A public-context extension matching exactly this destination number."""
        self.extensions[dnis] = [(name, data or "") for name, data in apps]

    def dialplan_lookup(self, dest: str, dialplan: str = "XML", context: str = "public") -> list[tuple[str, str]]:
        if dialplan == "inline":
            out = []
            for item in dest.split(","):
                name, _, data = item.partition(":")
                if name.strip():
                    out.append((name.strip(), data))
            return out
        return list(self.extensions.get(dest, DEFAULT_EXTENSION))

    def register_phone(self, user: str, script: Optional[PhoneScript] = None) -> Phone:
        """Register an agent phone as user <user> on the internal profile."""
        phone = Phone(user=user, domain=self.domain, script=script or PhoneScript(),
                      contact_host=self.ip, contact_port=next(self._contact_ports))
        self.phones[user] = phone
        return phone

    def unregister_phone(self, user: str) -> None:
        self.phones.pop(user, None)

    def global_var(self, name: str) -> Optional[str]:
        values = {
            "hostname": self.hostname, "domain": self.domain, "domain_name": self.domain,
            "local_ip_v4": self.ip, "recordings_dir": self.recordings_dir,
            "sounds_dir": "/usr/share/freeswitch/sounds", "hold_music": "local_stream://moh",
            "us-ring": "%(2000,4000,440,480)",
        }
        return values.get(name)

    def recording_fs_path(self, path: str) -> str:
        """Where a recording named path is written (relative names go to recordings_dir)."""
        return path if os.path.isabs(path) else os.path.join(self.recordings_dir, path)

    # -- calls ------------------------------------------------------------------
    def place_call(self, ani: str, dnis: str, caller_name: Optional[str] = None,
                   script: Optional[CallerScript] = None) -> CallHandle:
        """An inbound call from a SIP trunk/caller to dnis, routed through the public dialplan."""
        script = script or CallerScript()
        uuid = new_uuid()
        port = next(self._ports)
        addr = "127.0.0.1"
        name = f"sofia/external/{ani}@{addr}:{port}"
        profile = Profile(
            username=ani, dialplan="XML", caller_id_name=caller_name or ani, caller_id_number=ani,
            orig_caller_id_name=caller_name or ani, orig_caller_id_number=ani, network_addr=addr, ani=ani,
            destination_number=dnis, source="mod_sofia", context="public",
        )
        call_id = f"{uuidlib.uuid4().hex[:10]}@{addr}"
        variables = {
            "direction": "inbound", "uuid": uuid, "session_id": str(self.next_session_id()),
            "sip_from_user": ani, "sip_from_port": str(port), "sip_from_uri": f"{ani}@{addr}:{port}",
            "sip_from_host": addr, "channel_name": name, "sip_call_id": call_id,
            "sip_local_network_addr": self.ip, "sip_network_ip": addr, "sip_network_port": str(port),
            "sip_received_ip": addr, "sip_received_port": str(port), "sip_via_protocol": "udp",
            "sip_from_user_stripped": ani, "sofia_profile_name": "external",
            "sofia_profile_url": f"sip:mod_sofia@{self.ip}:5080", "recovery_profile_name": "external",
            "sip_from_display": caller_name or ani, "sip_req_user": dnis, "sip_req_port": "5080",
            "sip_req_uri": f"{dnis}@{self.ip}:5080", "sip_req_host": self.ip, "sip_to_user": dnis,
            "sip_to_port": "5080", "sip_to_uri": f"{dnis}@{self.ip}:5080", "sip_to_host": self.ip,
            "sip_contact_user": ani, "sip_contact_port": str(port), "sip_contact_uri": f"{ani}@{addr}:{port}",
            "sip_contact_host": addr, "max_forwards": "70", "call_uuid": uuid,
        }
        ch = Channel(self, uuid=uuid, direction="inbound", name=name, profile=profile, variables=variables,
                     caller_script=script)
        self.add_channel(ch)
        if script.patience_s is not None:
            def give_up() -> None:
                if ch.up and not ch.ever_bridged:
                    ch.hangup("NORMAL_CLEARING", disposition="recv_bye")

            ch.spawn_timer(script.patience_s, give_up)
        ch.start(ch.run_inbound)
        return CallHandle(ch)

    def channels(self) -> list[ChannelInfo]:
        """Snapshots of the channels that are up (not hung up)."""
        return [ch.info() for ch in self._channels.values() if ch.up]

    # -- registry (used by the simulator's parts) -----------------------------------
    def get_channel(self, uuid: Optional[str]) -> Optional[Channel]:
        return self._channels.get(uuid) if uuid else None

    def live_channels(self) -> list[Channel]:
        """Every channel not yet destroyed, oldest first (what show channels lists)."""
        return sorted(self._channels.values(), key=lambda c: c.t_created)

    def add_channel(self, ch: Channel) -> None:
        self._channels[ch.uuid] = ch
        self.sessions_since_startup += 1
        self.session_peak = max(self.session_peak, len(self._channels))

    def remove_channel(self, ch: Channel) -> None:
        if self._channels.get(ch.uuid) is ch:
            del self._channels[ch.uuid]

    def session_count(self) -> int:
        return len(self._channels)

    def next_session_id(self) -> int:
        return next(self._session_ids)

    def add_connection(self, conn: Connection) -> None:
        self._connections.add(conn)
        self.route_events(conn)

    def remove_connection(self, conn: Connection) -> None:
        self._connections.discard(conn)
        self._unroute_events(conn)

    def route_events(self, conn: Connection) -> None:
        """(Re)file conn for event delivery after its session or myevents changed."""
        self._unroute_events(conn)
        if conn not in self._connections:
            return
        uuid = conn.only_session_uuid()
        if uuid is None:
            self._listeners_anywhere.add(conn)
        else:
            self._listeners_by_session.setdefault(uuid, set()).add(conn)
            self._routed_by_session[conn] = uuid

    def _unroute_events(self, conn: Connection) -> None:
        self._listeners_anywhere.discard(conn)
        uuid = self._routed_by_session.pop(conn, None)
        if uuid is not None:
            conns = self._listeners_by_session.get(uuid)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self._listeners_by_session[uuid]

    # -- events ------------------------------------------------------------------
    def new_event(self, name: str, calling: tuple[str, str, int], subclass: Optional[str] = None) -> Event:
        """switch_event_create() + prep_for_delivery(): the core headers, in FreeSWITCH's order."""
        ev = Event(name, subclass)
        now = now_us()
        second = now // 1_000_000
        if self._dates[0] != second:  # both dates change once a second: made once a second
            secs = now / 1_000_000
            self._dates = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(secs)),
                           time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(secs)))
        hostname = self.hostname
        if subclass:
            ev.add("Event-Subclass", subclass)  # switch_event_create_subclass() adds it first
        ev.add_many((
            ("Event-Name", name),
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", hostname),
            ("FreeSWITCH-Switchname", hostname),
            ("FreeSWITCH-IPv4", self.ip),
            ("FreeSWITCH-IPv6", "::1"),
            ("Event-Date-Local", self._dates[1]),
            ("Event-Date-GMT", self._dates[2]),
            ("Event-Date-Timestamp", str(now)),
            ("Event-Calling-File", calling[0]),
            ("Event-Calling-Function", calling[1]),
            ("Event-Calling-Line-Number", str(calling[2])),
            ("Event-Sequence", str(next(self._sequence))),
        ))
        return ev

    def wants(self, name: str, subclass: Optional[str], uuid: Optional[str]) -> bool:
        """Whether any ESL listener may receive an event of this name (and subclass) about the
        channel uuid; False means firing it would send nothing anywhere."""
        for conn in self._listeners_anywhere:
            if conn.may_want(name, subclass):
                return True
        if uuid:
            for conn in self._listeners_by_session.get(uuid, ()):
                if conn.may_want(name, subclass):
                    return True
        return False

    def skip_event(self) -> None:
        """An event nobody would receive is not built: it only uses up its Event-Sequence number."""
        next(self._sequence)

    def fire(self, ev: Event) -> None:
        conns = list(self._listeners_anywhere)
        if self._listeners_by_session:
            uuid = ev.get("Unique-ID")
            if uuid:
                conns.extend(self._listeners_by_session.get(uuid, ()))
        for conn in conns:
            try:
                conn.deliver(ev)
            except Exception:
                log.exception("delivering %s to %s failed", ev.name, conn.peer)

    def run_background_job(self, job_uuid: str, name: str, arg: Optional[str]) -> None:
        """api_exec() for bgapi: run the command, fire BACKGROUND_JOB with its output."""
        body = self.api.execute(name, arg)
        if body is None:
            body = f"-ERR {name} Command not found!\n"
        ev = self.new_event("BACKGROUND_JOB", ("mod_event_socket.c", "api_exec", 1572))
        ev.add("Job-UUID", job_uuid)
        ev.add("Job-Command", name)
        if arg is not None:
            ev.add("Job-Command-Arg", arg)
        ev.body = body or None
        self.fire(ev)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests that need a fixed port)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
