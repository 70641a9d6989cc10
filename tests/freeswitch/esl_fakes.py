"""Test doubles for FreeSWITCH's event socket, built from the recordings.

- :func:`load` reads a transcript (``../shared/freeswitch-transcripts``).
- :class:`Replay` plays FreeSWITCH's side of one recorded connection: for each
  frame the client writes it checks that it equals the recorded ``send`` frame
  (modulo the ``Event-UUID`` header our client adds, which the recording
  lacks), and answers with the recorded ``recv`` frames, the recorded
  Application-UUIDs replaced by the client's Event-UUIDs (FreeSWITCH echoes
  them).
- :class:`ReplayServer` listens like FreeSWITCH's :8021 and gives each
  accepted connection a Replay; :func:`replay_outbound` connects to an
  OutboundServer like FreeSWITCH's `socket` application.
- :class:`FakeSwitch` is a scriptable listener for the robustness tests, and
  the frame builders make FreeSWITCH-shaped frames.
"""
from __future__ import annotations

import dataclasses
import gc
import json
import os
import pathlib
import re
import time
from typing import Callable
from urllib.parse import quote

import gevent
import gevent.event
import pytest
from gevent import socket
from gevent.server import StreamServer

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRANSCRIPTS = pathlib.Path(os.environ.get("HOTLINE_FS_TRANSCRIPTS",
                                          ROOT.parent / "shared" / "freeswitch-transcripts"))
NAMES = ("01-inbound-auth-and-api", "02-ivr-call-to-agent-plain", "02-ivr-call-to-agent-json",
         "03-acd-park-originate-bridge", "04-caller-abandons-in-queue",
         "05-registered-agents-hold-eavesdrop-transfer-conference")


@dataclasses.dataclass(frozen=True)
class Rec:
    t: float
    dir: str          # "send" (the client wrote it) or "recv" (FreeSWITCH wrote it)
    conn: str
    data: str


def load(name: str) -> list[Rec]:
    path = TRANSCRIPTS / f"{name}.jsonl"
    if not path.exists():
        message = f"FreeSWITCH transcript {path} is missing (set HOTLINE_FS_TRANSCRIPTS)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return [Rec(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def conn_script(name: str, conn: str) -> list[Rec]:
    return [r for r in load(name) if r.conn == conn]


def raw_headers(frame: str) -> dict[str, str]:
    head = frame.split("\n\n", 1)[0]
    return dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in head.split("\n") if line)


# -- reading what the client writes ---------------------------------------------

class RawReader:
    """Reads the client's frames (headers, blank line, Content-Length body) as text."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def read(self) -> str | None:
        while b"\n\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        head, rest = self.buf.split(b"\n\n", 1)
        match = re.search(rb"(?im)^content-length: *(\d+)$", head)
        length = int(match.group(1)) if match else 0
        while len(rest) < length:
            data = self.sock.recv(65536)
            if not data:
                return None
            rest += data
        self.buf = rest[length:]
        return (head + b"\n\n" + rest[:length]).decode("utf-8")


_EVENT_UUID = re.compile(r"^Event-UUID: ([0-9a-f-]{36})\n", re.MULTILINE)
_APP_UUID = re.compile(r"Application-UUID(?:: |\":\")([0-9a-f-]{36})")


def strip_event_uuid(frame: str) -> tuple[str, str | None]:
    match = _EVENT_UUID.search(frame)
    if not match:
        return frame, None
    return frame[:match.start()] + frame[match.end():], match.group(1)


EXIT_REPLY = ("Content-Type: command/reply\nReply-Text: +OK bye\n\n",
              "Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
              "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")


class Replay:
    """FreeSWITCH's side of one recorded connection."""

    def __init__(self, script: list[Rec], *, close_at_end: bool = False) -> None:
        self.script = script
        self.close_at_end = close_at_end
        self.errors: list[str] = []
        self.received: list[str] = []
        self.done = gevent.event.Event()
        # The k-th sendmsg on this connection caused the k-th application FreeSWITCH ran.
        self.recorded_app_uuids: list[str] = []
        seen_sendmsg = False
        for rec in script:
            if rec.dir == "send" and rec.data.startswith("sendmsg"):
                seen_sendmsg = True
            if seen_sendmsg and rec.dir == "recv" and "CHANNEL_EXECUTE" in rec.data[:200]:
                head = rec.data[:300]
                if "Event-Name: CHANNEL_EXECUTE\n" in head or '"Event-Name":"CHANNEL_EXECUTE"' in head:
                    match = _APP_UUID.search(rec.data)
                    if match and match.group(1) not in self.recorded_app_uuids:
                        self.recorded_app_uuids.append(match.group(1))
        self.uuid_map: dict[str, str] = {}

    def _rewrite(self, data: str) -> str:
        for recorded, ours in self.uuid_map.items():
            data = data.replace(recorded, ours)    # same length: Content-Length still right
        return data

    def run(self, sock: socket.socket) -> None:
        reader = RawReader(sock)
        sendmsgs = 0
        try:
            for rec in self.script:
                if rec.dir == "recv":
                    sock.sendall(self._rewrite(rec.data).encode("utf-8"))
                    continue
                frame = reader.read()
                if frame is None:
                    self.errors.append(f"client closed; expected {rec.data!r}")
                    return
                self.received.append(frame)
                frame, event_uuid = strip_event_uuid(frame)
                if frame != rec.data:
                    self.errors.append(f"client sent {frame!r}, FreeSWITCH was sent {rec.data!r}")
                    return
                if rec.data.startswith("sendmsg"):
                    if event_uuid and sendmsgs < len(self.recorded_app_uuids):
                        self.uuid_map[self.recorded_app_uuids[sendmsgs]] = event_uuid
                    elif not event_uuid:
                        self.errors.append(f"sendmsg without Event-UUID: {frame!r}")
                    sendmsgs += 1
            if self.close_at_end:
                return
            while True:                    # after the recording: only a goodbye is expected
                frame = reader.read()
                if frame is None:
                    return
                self.received.append(frame)
                if frame == "exit\n\n":
                    for data in EXIT_REPLY:
                        sock.sendall(data.encode("utf-8"))
                    return
                self.errors.append(f"client sent {frame!r} after the recording ended")
                return
        except OSError as exc:
            self.errors.append(f"socket error: {exc}")
        finally:
            sock.close()
            self.done.set()


class ReplayServer:
    """Listens like FreeSWITCH's event socket; connection n gets make_replay(n)."""

    def __init__(self, make_replay: Callable[[int], Replay]) -> None:
        self.make_replay = make_replay
        self.replays: list[Replay] = []
        self.accepted_at: list[float] = []
        self.server = StreamServer(("127.0.0.1", 0), self._handle)

    def __enter__(self) -> "ReplayServer":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(timeout=2)

    @property
    def port(self) -> int:
        return self.server.server_port

    def _handle(self, sock: socket.socket, address: object) -> None:
        replay = self.make_replay(len(self.replays))
        self.replays.append(replay)
        self.accepted_at.append(time.monotonic())
        replay.run(sock)

    @property
    def errors(self) -> list[str]:
        return [e for r in self.replays for e in r.errors]


def replay_outbound(script: list[Rec], port: int) -> Replay:
    """Connect to an OutboundServer like FreeSWITCH's socket app and replay."""
    replay = Replay(script, close_at_end=True)
    sock = socket.create_connection(("127.0.0.1", port))
    gevent.spawn(replay.run, sock)
    return replay


# -- FreeSWITCH-shaped frames for scripted fakes -----------------------------------

def fs_quote(value: str) -> str:
    return quote(value, safe="/,()-_.")


def frame(headers: dict[str, str], body: str = "") -> bytes:
    data = body.encode("utf-8")
    lines = [f"{k}: {v}" for k, v in headers.items()]
    if data:
        lines.append(f"Content-Length: {len(data)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + data


AUTH_REQUEST = b"Content-Type: auth/request\n\n"


def reply(text: str, **headers: str) -> bytes:
    return frame({"Content-Type": "command/reply", "Reply-Text": text, **headers})


def api_response(body: str) -> bytes:
    return frame({"Content-Type": "api/response"}, body)


def event_plain(headers: dict[str, str], body: str = "") -> bytes:
    inner = "".join(f"{k}: {fs_quote(v)}\n" for k, v in headers.items())
    if body:
        inner += f"Content-Length: {len(body.encode())}\n\n{body}"
    else:
        inner += "\n"
    data = inner.encode("utf-8")
    return f"Content-Length: {len(data)}\nContent-Type: text/event-plain\n\n".encode() + data


def linger_notice(uuid: str) -> bytes:
    return frame({"Content-Type": "text/disconnect-notice", "Controlled-Session-UUID": uuid,
                  "Content-Disposition": "linger", "Channel-Name": "sofia/external/sipp@127.0.0.1:5070",
                  "Linger-Time": "-1", "Content-Length": "0"})


class FakeSwitch:
    """A listener whose connections run session(sock, reader, n) — scripted FreeSWITCH."""

    def __init__(self, session: Callable[[socket.socket, RawReader, int], None]) -> None:
        self.session = session
        self.connections = 0
        self.accepted_at: list[float] = []
        self.received: list[list[str]] = []
        self.server = StreamServer(("127.0.0.1", 0), self._handle)

    def __enter__(self) -> "FakeSwitch":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(timeout=2)

    @property
    def port(self) -> int:
        return self.server.server_port

    def _handle(self, sock: socket.socket, address: object) -> None:
        n = self.connections
        self.connections += 1
        self.accepted_at.append(time.monotonic())
        self.received.append([])
        reader = RawReader(sock)
        original = reader.read

        def read_and_record() -> str | None:
            data = original()
            if data is not None:
                self.received[n].append(data)
            return data

        reader.read = read_and_record  # type: ignore[method-assign]
        try:
            self.session(sock, reader, n)
        except OSError:
            pass
        finally:
            sock.close()


def accept_session(sock: socket.socket, reader: RawReader) -> None:
    """auth/request, +OK accepted, +OK to the subscription."""
    sock.sendall(AUTH_REQUEST)
    assert reader.read() is not None
    sock.sendall(reply("+OK accepted"))
    command = reader.read()
    if command and command.startswith("event "):
        sock.sendall(reply("+OK event listener enabled plain"))


def hold_open(sock: socket.socket, reader: RawReader) -> None:
    """Answer `exit` like FreeSWITCH, else keep the connection until the client leaves."""
    while True:
        data = reader.read()
        if data is None:
            return
        if data == "exit\n\n":
            for chunk in EXIT_REPLY:
                sock.sendall(chunk.encode())
            return


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        gevent.sleep(0.005)
    return predicate()


def live_greenlets() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, gevent.Greenlet) and not o.dead)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
