"""A tiny ESL client for the simulator tests: plain sockets, frames kept in order.

Deliberately independent of hotline.freeswitch: the tests check the wire, so
they read it themselves.
"""
from __future__ import annotations

import json
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Optional

import gevent
import gevent.event


@dataclass
class Frame:
    """One ESL frame: its header block and exactly Content-Length bytes of body."""

    headers: list[tuple[str, str]]
    body: str
    raw: bytes = b""
    received_at: float = field(default_factory=time.monotonic)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    @property
    def content_type(self) -> str:
        return self.get("Content-Type") or ""

    @property
    def is_reply(self) -> bool:
        return self.content_type in ("command/reply", "api/response")

    @property
    def is_event(self) -> bool:
        return self.content_type.startswith("text/event-")

    def event(self) -> Optional[dict[str, str]]:
        """The event as an ordered dict of decoded header values ('_body' for a body)."""
        if self.content_type == "text/event-plain":
            return parse_plain_event(self.body)
        if self.content_type == "text/event-json":
            return json.loads(self.body)
        return None


def parse_frame(data: bytes) -> tuple[Optional[Frame], bytes]:
    """Split one frame off the front of data (None if incomplete)."""
    while data[:1] in (b"\n", b"\r"):
        data = data[1:]
    end = data.find(b"\n\n")
    if end < 0:
        return None, data
    head = data[:end].decode("utf-8", "replace")
    headers = []
    for line in head.split("\n"):
        name, sep, value = line.partition(": ")
        if sep:
            headers.append((name, value))
    clen = 0
    for k, v in headers:
        if k.lower() == "content-length":
            clen = int(v)
    total = end + 2 + clen
    if len(data) < total:
        return None, data
    body = data[end + 2:total].decode("utf-8", "replace")
    return Frame(headers, body, data[:total]), data[total:]


def frame_from_text(text: str) -> Frame:
    frame, _ = parse_frame(text.encode("utf-8"))
    assert frame is not None, f"not a whole frame: {text[:80]!r}"
    return frame


def parse_plain_event(body: str) -> dict[str, str]:
    head, _, rest = body.partition("\n\n")
    event: dict[str, str] = {}
    for line in head.split("\n"):
        name, sep, value = line.partition(": ")
        if sep:
            event[name] = urllib.parse.unquote(value)
    if "Content-Length" in event:
        event["_body"] = rest
    return event


class EslClient:
    """Reads every frame in a greenlet; tests wait for replies and events."""

    def __init__(self, sock: socket.socket, name: str = "") -> None:
        self.sock = sock
        self.name = name
        self.frames: list[Frame] = []
        self.closed = False
        self._changed = gevent.event.Event()
        self._replies_taken = 0
        self._reader = gevent.spawn(self._read_loop)

    @classmethod
    def connect(cls, port: int, password: Optional[str] = "ClueCon", host: str = "127.0.0.1", name: str = "") -> "EslClient":
        client = cls(socket.create_connection((host, port), timeout=5), name=name)
        client.wait_for(lambda f: f.content_type == "auth/request")
        if password is not None:
            reply = client.command(f"auth {password}")
            assert reply.get("Reply-Text") == "+OK accepted", reply.headers
        return client

    def _read_loop(self) -> None:
        buf = b""
        try:
            self.sock.settimeout(None)
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                buf += data
                while True:
                    frame, buf = parse_frame(buf)
                    if frame is None:
                        break
                    self.frames.append(frame)
                    self._changed.set()
        except OSError:
            pass
        finally:
            self.closed = True
            self._changed.set()

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode("utf-8"))

    def wait_for(self, pred: Callable[[Frame], bool], timeout: float = 5.0, start: int = 0) -> Frame:
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            while seen < len(self.frames):
                frame = self.frames[seen]
                seen += 1
                if pred(frame):
                    return frame
            if self.closed:
                raise AssertionError(f"{self.name}: connection closed while waiting")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: timed out waiting; last frames: "
                                     f"{[f.content_type for f in self.frames[-5:]]}")
            self._changed.clear()
            if seen < len(self.frames):
                continue
            self._changed.wait(remaining)

    def next_reply(self, timeout: float = 5.0) -> Frame:
        """The next command/reply or api/response not yet taken."""
        index = self._replies_taken
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()
            replies = [i for i, f in enumerate(self.frames) if f.is_reply]
            if len(replies) > index:
                self._replies_taken = index + 1
                return self.frames[replies[index]]
            if self.closed:
                raise AssertionError(f"{self.name}: closed before a reply")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no reply within {timeout}s")
            self._changed.wait(remaining)

    def command(self, cmd: str, timeout: float = 10.0) -> Frame:
        self.send(cmd if cmd.endswith("\n\n") else cmd + "\n\n")
        return self.next_reply(timeout)

    def api(self, cmd: str, timeout: float = 10.0) -> str:
        return self.command(f"api {cmd}", timeout).body

    def events(self, uuid: Optional[str] = None) -> list[dict[str, str]]:
        out = []
        for f in self.frames:
            ev = f.event()
            if ev is not None and (uuid is None or ev.get("Unique-ID") == uuid):
                out.append(ev)
        return out

    def wait_event(self, name: str, uuid: Optional[str] = None, timeout: float = 5.0,
                   pred: Optional[Callable[[dict[str, str]], bool]] = None) -> dict[str, str]:
        def match(f: Frame) -> bool:
            ev = f.event()
            return (ev is not None and ev.get("Event-Name") == name and (uuid is None or ev.get("Unique-ID") == uuid)
                    and (pred is None or pred(ev)))

        ev = self.wait_for(match, timeout).event()
        assert ev is not None
        return ev

    def wait_closed(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._changed.clear()
            self._changed.wait(0.1)
        return self.closed

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        self._reader.join(timeout=2)


class OutboundServer:
    """Where the simulator's socket application connects: a listening socket for one test."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]

    def accept(self, timeout: float = 5.0, name: str = "outbound") -> EslClient:
        self.listener.settimeout(timeout)
        sock, _ = self.listener.accept()
        return EslClient(sock, name=name)

    def close(self) -> None:
        self.listener.close()
