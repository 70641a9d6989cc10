"""ESL wire format as FreeSWITCH 1.10 writes and reads it.

Everything here is byte-level: FreeSWITCH's url-encoding of plain event
headers, the plain/json/xml event serialisations, the reply frames
(``command/reply``, ``api/response``, ``text/disconnect-notice``) and the
packet reader that mirrors ``read_packet()`` in mod_event_socket.c.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_string
from typing import Callable, Iterable, Optional

# switch_utils.c, switch_url_encode(): bytes below ' ' or above '~' and these
# characters are written as %XX (upper-case hex). FreeSWITCH 1.10 calls
# switch_url_encode_opt(..., double_encode=SWITCH_FALSE), so an existing
# "%XX" escape with upper-case hex digits is left as it is.
_URL_UNSAFE = '\r\n "#%&+:;<=>?@[\\]^`{|}'
_NEEDS_ENCODING = re.compile(r'[^\x20-\x7e]|[ "#%&+:;<=>?@\[\\\]^`{|}]')
_ASCII_TABLE = {c: f"%{c:02X}" for c in list(range(0x20)) + [0x7F] + [ord(ch) for ch in _URL_UNSAFE if ch != "%"]}
_LONE_PERCENT = re.compile(r"%(?![0-9A-F]{2})")


@functools.lru_cache(maxsize=8192)
def url_encode(value: str) -> str:
    """Encode a header value exactly like FreeSWITCH's switch_url_encode()."""
    if not _NEEDS_ENCODING.search(value):
        return value
    if value.isascii():
        return _LONE_PERCENT.sub("%25", value).translate(_ASCII_TABLE)
    raw = value.encode("utf-8", "surrogateescape")
    out = bytearray()
    n = len(raw)
    for i, b in enumerate(raw):
        if b == 0x25 and i + 2 < n and raw[i + 1] in b"0123456789ABCDEF" and raw[i + 2] in b"0123456789ABCDEF":
            out.append(b)
        elif b < 0x20 or b > 0x7E or chr(b) in _URL_UNSAFE:
            out += b"%%%02X" % b
        else:
            out.append(b)
    return out.decode("ascii")


def url_decode(value: str) -> str:
    """switch_url_decode(): %XX (any case) becomes the byte it names."""
    return re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: chr(int(m.group(1), 16)),
        value,
    ).encode("latin-1", "replace").decode("utf-8", "replace")


class Event:
    """A FreeSWITCH event: ordered headers (names may repeat) and an optional body.

    ``headers`` is the list itself (read it, append to it, or assign a new list);
    ``get`` looks names up case-insensitively through an index of the first
    header of each name, built lazily (only as far as a lookup needs) and
    extended as headers are appended; in-place edits other than appending
    are not seen by it.
    """

    __slots__ = ("name", "headers", "body", "subclass", "_cache", "_index", "_indexed", "_indexed_list")

    def __init__(self, name: str, subclass: str | None = None) -> None:
        self.name = name
        self.subclass = subclass
        self.headers: list[tuple[str, str]] = []
        self.body: str | None = None
        self._cache: dict[str, bytes] = {}
        self._index: dict[str, str] = {}
        self._indexed = 0  # how many of _indexed_list's headers _index covers
        self._indexed_list: list[tuple[str, str]] | None = None

    def add(self, name: str, value: object) -> None:
        self.headers.append((name, value if value.__class__ is str else str(value)))

    def add_many(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Append headers whose values are already strings, in order."""
        self.headers.extend(pairs)

    def add_unique(self, name: str, value: object) -> None:
        """Add unless a header of that name is already there (first one wins)."""
        if self.get(name) is None:
            self.add(name, value)

    def get(self, name: str, default: str | None = None) -> str | None:
        headers = self.headers
        index = self._index
        if self._indexed_list is not headers or self._indexed > len(headers):
            # the list was replaced (or shortened): index it again from the start
            index.clear()
            self._indexed = 0
            self._indexed_list = headers
        lname = name.lower()
        if lname in index:
            return index[lname]
        # index further, only as far as the first header of that name
        i, n = self._indexed, len(headers)
        while i < n:
            k, v = headers[i]
            i += 1
            lk = k.lower()
            if lk not in index:
                index[lk] = v
                if lk == lname:
                    self._indexed = i
                    return v
        self._indexed = n
        return default

    def header_names(self) -> list[str]:
        return [k for k, _ in self.headers]

    # -- serialisations -------------------------------------------------
    def plain(self, encode: bool = True) -> str:
        """switch_event_serialize(): 'Name: value' lines, then the body block."""
        parts = [f"{k}: {url_encode(v) if encode else v}\n" for k, v in self.headers]
        if self.body:
            parts.append(f"Content-Length: {len(self.body.encode('utf-8'))}\n\n{self.body}")
        else:
            parts.append("\n")
        return "".join(parts)

    def json(self) -> str:
        """switch_event_serialize_json(): every value a string, the body as _body."""
        # cJSON keeps every header, a repeated name too; each string is escaped as
        # json.dumps(..., ensure_ascii=False) escapes it (the same C function, called directly)
        items = [f"{_json_string(k)}:{_json_string(v)}" for k, v in self.headers]
        if self.body:
            items.append(f'"Content-Length":"{len(self.body.encode("utf-8"))}"')
            items.append(f'"_body":{_json_string(self.body)}')
        return "{" + ",".join(items) + "}"

    def xml(self) -> str:
        """switch_event_xmlize(): url-encoded header values under <headers>."""
        lines = ["<event>", "  <headers>"]
        for k, v in self.headers:
            lines.append(f"    <{k}>{url_encode(v)}</{k}>")
        lines.append("  </headers>")
        if self.body:
            lines.append(f"  <body>{_xml_escape(self.body)}</body>")
        lines.append("</event>")
        return "\n".join(lines) + "\n"

    def serialized(self, fmt: str) -> bytes:
        """The event body for a listener in format fmt (plain|json|xml), cached."""
        cached = self._cache.get(fmt)
        if cached is None:
            if fmt == "json":
                text = self.json()
            elif fmt == "xml":
                text = self.xml()
            else:
                text = self.plain()
            cached = text.encode("utf-8")
            self._cache[fmt] = cached
        return cached

    def frame(self, fmt: str) -> bytes:
        """The whole ESL frame: Content-Length first, then Content-Type (as FreeSWITCH), cached."""
        key = "frame " + fmt
        frame = self._cache.get(key)
        if frame is None:
            body = self.serialized(fmt)
            frame = b"Content-Length: %d\nContent-Type: text/event-%s\n\n" % (len(body), fmt.encode()) + body
            self._cache[key] = frame
        return frame


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- reply frames ---------------------------------------------------------
DISCONNECT_MESSAGE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
SHUTDOWN_MESSAGE = "The system is being shut down.\n"


def command_reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode("utf-8")


def raw_reply(headers_block: str) -> bytes:
    """A reply whose text starts with '~' in mod_event_socket: headers given verbatim."""
    return ("Content-Type: command/reply\n" + headers_block).encode("utf-8")


def api_response(body: str) -> bytes:
    data = body.encode("utf-8")
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def disconnect_notice(session_uuid: str | None = None, message: str = DISCONNECT_MESSAGE) -> bytes:
    """send_disconnect() in mod_event_socket.c (session listeners name the session)."""
    data = message.encode("utf-8")
    if session_uuid:
        head = (
            "Content-Type: text/disconnect-notice\n"
            f"Controlled-Session-UUID: {session_uuid}\n"
            "Content-Disposition: disconnect\n"
            f"Content-Length: {len(data)}\n\n"
        )
    else:
        head = f"Content-Type: text/disconnect-notice\nContent-Length: {len(data)}\n\n"
    return head.encode("utf-8") + data


def linger_notice(session_uuid: str, channel_name: str, linger_time: int) -> bytes:
    """The notice read_packet() sends when a lingering session's channel goes down."""
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {session_uuid}\n"
        "Content-Disposition: linger\n"
        f"Channel-Name: {channel_name}\n"
        f"Linger-Time: {linger_time}\n"
        "Content-Length: 0\n\n"
    ).encode("utf-8")


# -- reading client packets -------------------------------------------------
@dataclass
class Packet:
    """One client packet: the command line, its 'Name: value' headers and a body."""

    command: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""

    def get(self, name: str, default: str | None = None) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return default


_END_OF_HEADERS = re.compile(rb"\n\r*\n")
MAX_PACKET = 10 * 1024 * 1024  # read_packet()'s max_len


class PacketReader:
    """Incremental reader with read_packet()'s rules: leading CR/LF skipped, a
    packet ends at two newlines (CRs ignored), Content-Length pulls a body."""

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self._buf = bytearray()

    def _fill(self) -> bool:
        data = self._recv(65536)
        if not data:
            return False
        self._buf += data
        return True

    def read(self) -> Optional[Packet]:
        """The next packet, or None when the peer closed the connection."""
        while True:
            while self._buf[:1] in (b"\r", b"\n"):
                del self._buf[:1]
            m = _END_OF_HEADERS.search(self._buf)
            if m is None and len(self._buf) >= MAX_PACKET:
                end = len(self._buf)
            elif m is None:
                if not self._fill():
                    return None
                continue
            else:
                end = m.end()
            block = bytes(self._buf[:end])
            del self._buf[:end]
            return self._parse(block)

    def _parse(self, block: bytes) -> Packet:
        lines = [ln for ln in re.split(rb"[\r\n]+", block) if ln]
        text = [ln.decode("utf-8", "replace") for ln in lines]
        packet = Packet(command=text[0] if text else "")
        clen = 0
        for line in text[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            value = value.lstrip(" ")
            packet.headers.append((name, value))
            if name.lower() == "content-length":
                try:
                    clen = int(value)
                except ValueError:
                    clen = 0
        if clen > 0:
            while len(self._buf) < clen:
                if not self._fill():
                    break
            body = bytes(self._buf[:clen])
            del self._buf[:clen]
            packet.body = body.decode("utf-8", "replace")
        return packet
