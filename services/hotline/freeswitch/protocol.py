"""ESL framing and the connection machinery shared by inbound and outbound sockets.

What FreeSWITCH writes on the event socket (see ../shared/freeswitch-transcripts):
a frame is ``Name: value`` header lines, a blank line, and exactly
``Content-Length`` bytes of body when that header is present. The
``Content-Type`` says what the frame is:

- ``auth/request``, ``command/reply`` (``Reply-Text``), ``api/response`` (body),
- ``text/event-plain``: the body is itself url-encoded ``Name: value`` lines, a
  blank line, and (BACKGROUND_JOB, ...) an inner ``Content-Length`` body,
- ``text/event-json``: the body is one JSON object, ``_body`` being the body,
- ``text/disconnect-notice`` (with a body; ``Content-Disposition: linger`` in
  outbound mode when the caller hung up), ``text/rude-rejection``, ``log/data``.
The outbound ``connect`` reply is a ``command/reply`` whose headers are the
whole channel data, url-encoded like a plain event.

:class:`EslProtocol` is greenswitch's ``ESLProtocol`` with its defects fixed
(the greenswitch method names are kept so the class still reads as one):

- greenswitch url-unquotes the whole plain event before splitting it into
  lines, so a value holding ``%0A`` (an SDP, a multi-line variable) breaks
  into bogus headers; here each line is split first and only values decoded;
- it cannot parse ``text/event-json``; here it can;
- it does not read the body of ``text/disconnect-notice``, so that body is
  then misread as the next frame; here every frame's body is read;
- it reads lines with ``readline().decode()``, so a Content-Length that lies
  or non-UTF-8 bytes kill the reader greenlet with an unhandled exception;
  here they are a :class:`ProtocolError` that closes the connection cleanly;
- its ``send()`` waits forever for a reply and interleaves concurrent
  writers; here writes are serialised, replies matched in order, waits bounded,
  and a lost connection fails every waiter at once;
- its event loop polls a queue every second and calls either the named or the
  ``*`` handlers; here one greenlet delivers every event in arrival order to
  both, and a failing handler is logged, never fatal.
"""
from __future__ import annotations

import collections
import json
import logging
import re
from typing import Any, Callable, Iterable
from urllib.parse import unquote

import gevent
import gevent.event
import gevent.lock
import gevent.queue
from gevent import socket
from greenswitch.esl import ESLEvent, ESLProtocol

from hotline.freeswitch import metrics
from hotline.freeswitch.errors import EslError, EslTimeout, ProtocolError

log = logging.getLogger(__name__)

MAX_HEADER_LINE = 1 << 20        # one header line (a huge channel variable)
MAX_HEADER_BLOCK = 8 << 20       # all header lines of a frame (the connect reply is all headers)
MAX_BODY = 256 << 20             # `show channels` of a busy switch is big, but not this big
_HEADER_NAME = re.compile(r"[!-9;-~]+")   # printable ASCII except ':' and space


class EslEvent(ESLEvent):
    """One parsed ESL frame.

    For event frames (``text/event-plain`` / ``text/event-json``) ``headers``
    are the event's own headers (``Event-Name``, ``Unique-ID``, ``variable_*``,
    url-decoded for plain) and ``body`` the event body (BACKGROUND_JOB's
    output); ``content_type`` keeps the frame's Content-Type. For replies and
    notices ``headers`` are the frame's headers and ``body`` its body.
    """

    def __init__(self, headers: dict[str, str] | None = None, body: str | None = None,
                 content_type: str | None = None) -> None:
        # greenswitch's ESLEvent.__init__ parses a text blob with the bug this class fixes.
        self.headers = dict(headers or {})
        self.body = body
        self.content_type = content_type or self.headers.get("Content-Type")

    def parse_data(self, data: str) -> None:
        """greenswitch's API: merge a plain event's text, decoded line by line."""
        headers, body = parse_plain_event(data.encode("utf-8"))
        self.headers.update(headers)
        if body is not None:
            self.body = body

    @property
    def data(self) -> str | None:
        """greenswitch's name: the body, or the Reply-Text of a command reply."""
        return self.body if self.body is not None else self.headers.get("Reply-Text")

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def uuid(self) -> str | None:
        return self.headers.get("Unique-ID")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    def get(self, header: str, default: str | None = None) -> str | None:
        return self.headers.get(header, default)

    def var(self, name: str, default: str | None = None) -> str | None:
        """A channel variable carried by the event (``variable_<name>``)."""
        return self.headers.get("variable_" + name, default)

    def timestamp_us(self) -> int:
        """Event-Date-Timestamp: µs since the epoch (0 when absent)."""
        return to_int(self.headers.get("Event-Date-Timestamp"))

    def __repr__(self) -> str:
        what = self.name or self.content_type or "?"
        extra = f" {self.uuid}" if self.uuid else ""
        return f"<EslEvent {what}{extra}>"


def to_int(text: str | None) -> int:
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


# -- parsing -------------------------------------------------------------------

def _split_header(raw: bytes) -> tuple[str, str]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"header line is not UTF-8: {raw[:60]!r}") from None
    line = line.rstrip("\r\n")
    name, sep, value = line.partition(":")
    if not sep or not _HEADER_NAME.fullmatch(name):
        raise ProtocolError(f"not a 'Name: value' header line: {line[:60]!r}")
    if value.startswith(" "):
        value = value[1:]
    return name, value


def parse_header_block(lines: Iterable[bytes]) -> dict[str, str]:
    """The frame's own header lines: not url-encoded (except the connect reply)."""
    headers: dict[str, str] = {}
    for raw in lines:
        name, value = _split_header(raw)
        headers.setdefault(name, value)    # a repeated header: the first wins, as in FreeSWITCH
    return headers


def content_length(value: str, limit: int = MAX_BODY) -> int:
    if not value.isdigit():
        raise ProtocolError(f"Content-Length is not a number: {value[:30]!r}")
    length = int(value)
    if length > limit:
        raise ProtocolError(f"Content-Length {length} is larger than {limit}")
    return length


def parse_plain_event(payload: bytes) -> tuple[dict[str, str], str | None]:
    """The body of a text/event-plain frame: url-encoded header lines, a blank
    line, then the event's own body (its own Content-Length)."""
    head, sep, rest = payload.partition(b"\n\n")
    headers: dict[str, str] = {}
    for raw in head.split(b"\n"):
        if raw.strip(b"\r"):
            name, value = _split_header(raw)
            # each value on its own, so %0A stays inside it; a repeated header
            # (Hangup-Cause on CHANNEL_HANGUP_COMPLETE): the first wins, as in FreeSWITCH
            headers.setdefault(name, unquote(value))
    body: str | None = None
    if "Content-Length" in headers:
        length = content_length(headers["Content-Length"])
        body = rest[:length].decode("utf-8", "replace")
    elif sep and rest:
        body = rest.decode("utf-8", "replace")
    return headers, body


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):          # an array header; plain events spell it like this
        return "ARRAY::" + "|:".join(_json_value(v) for v in value)
    if value is None:
        return ""
    return str(value)


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """One JSON object's members: a repeated key keeps its first value (and
    its first place), as a repeated header does in a plain event
    (Hangup-Cause on CHANNEL_HANGUP_COMPLETE). dict() builds the object in C;
    only when it came out shorter than its pairs (a key repeats: rare) are
    the first values put back."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        for key, value in reversed(pairs):
            obj[key] = value
    return obj


_STR_ONLY = frozenset({str})


def parse_json_event(payload: bytes) -> tuple[dict[str, str], str | None]:
    """The body of a text/event-json frame: one JSON object, header name to
    value, ``_body`` being the event's body. Values are strings as in a plain
    event (FreeSWITCH writes strings, and arrays for array headers); other
    JSON values are converted only when the event has some.

    Cost: the decoder and dict() run in C; Python runs once per object and
    once per event, never per header (on the JSON events recorded from
    FreeSWITCH 1.10, ~120 headers each, about 1.4x faster than a Python loop
    over every member and header). Plain json.loads and counting ``":`` to
    detect a repeated key was no faster (the count is a second pass over the
    payload) and not exact (whitespace may come before a colon)."""
    try:
        obj = json.loads(payload.decode("utf-8", "replace"), object_pairs_hook=_first_wins)
    except ValueError as exc:
        raise ProtocolError(f"text/event-json body is not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("text/event-json body is not JSON: nested too deeply") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"text/event-json body is not a JSON object but {type(obj).__name__}")
    body = obj.pop("_body", None)
    if not _STR_ONLY.issuperset(map(type, obj.values())):
        obj = {key: _json_value(value) for key, value in obj.items()}
    return obj, (None if body is None else _json_value(body))


def build_event(headers: dict[str, str], body: bytes | None) -> EslEvent:
    """Turn a frame's headers and raw body into an EslEvent."""
    content_type = headers.get("Content-Type")
    if content_type is None:
        raise ProtocolError(f"frame without Content-Type (headers {sorted(headers)[:5]})")
    if content_type == "text/event-plain":
        inner, inner_body = parse_plain_event(body or b"")
        return EslEvent(inner, inner_body, content_type)
    if content_type == "text/event-json":
        inner, inner_body = parse_json_event(body or b"")
        return EslEvent(inner, inner_body, content_type)
    if content_type == "command/reply" and "Event-Name" in headers:
        # The outbound `connect` reply: channel data, url-encoded like a plain event.
        # (~120 channel variables; most have nothing encoded, so only a value
        # with a '%' goes through unquote, which returns the others unchanged.)
        headers = {name: unquote(value) if "%" in value else value for name, value in headers.items()}
    text = None if body is None else body.decode("utf-8", "replace")
    return EslEvent(headers, text, content_type)


def parse_frame(data: bytes | str) -> EslEvent:
    """Parse one whole frame (headers, blank line, body), e.g. a recorded one."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    head, sep, rest = data.partition(b"\n\n")
    if not sep:
        raise ProtocolError("frame without the blank line that ends its headers")
    headers = parse_header_block(line for line in head.split(b"\n") if line)
    body = None
    if "Content-Length" in headers:
        length = content_length(headers["Content-Length"])
        if len(rest) < length:
            raise ProtocolError(f"frame body has {len(rest)} of its {length} bytes")
        body = rest[:length]
    return build_event(headers, body)


class FrameReader:
    """Reads whole frames from a socket (our own buffer: no file object, so
    closing the socket from another greenlet simply ends the read)."""

    def __init__(self, sock: socket.socket, bufsize: int = 65536) -> None:
        self._sock = sock
        self._bufsize = bufsize
        self._buf = bytearray()
        self._pos = 0

    def _fill(self) -> bool:
        if self._pos:
            del self._buf[:self._pos]
            self._pos = 0
        data = self._sock.recv(self._bufsize)
        if not data:
            return False
        self._buf += data
        return True

    def _readline(self) -> bytes | None:
        start = self._pos
        while True:
            i = self._buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self._buf[self._pos:i + 1])
                self._pos = i + 1
                return line
            pending = len(self._buf) - self._pos
            if pending > MAX_HEADER_LINE:
                raise ProtocolError(f"header line longer than {MAX_HEADER_LINE} bytes")
            if not self._fill():
                if len(self._buf) - self._pos:
                    raise ProtocolError("connection closed in the middle of a frame")
                return None
            start = self._pos + pending

    def _read_exact(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n:
            if not self._fill():
                raise ProtocolError(f"connection closed after {len(self._buf) - self._pos} of {n} body bytes")
        data = bytes(self._buf[self._pos:self._pos + n])
        self._pos += n
        return data

    def read_frame(self, frame_timeout: float | None = None) -> EslEvent | None:
        """The next frame, or None at a clean end of stream. Once a frame has
        started, the rest must arrive within frame_timeout seconds."""
        first = self._readline()
        while first is not None and not first.strip(b"\r\n"):
            first = self._readline()          # tolerate stray blank lines between frames
        if first is None:
            return None
        stall = ProtocolError(f"frame incomplete after {frame_timeout} s (a Content-Length that lies?)")
        with gevent.Timeout(frame_timeout, stall):
            lines = [first]
            total = len(first)
            while True:
                line = self._readline()
                if line is None:
                    raise ProtocolError("connection closed in the middle of a frame")
                if not line.strip(b"\r\n"):
                    break
                lines.append(line)
                total += len(line)
                if total > MAX_HEADER_BLOCK:
                    raise ProtocolError(f"frame headers longer than {MAX_HEADER_BLOCK} bytes")
            headers = parse_header_block(lines)
            body = None
            if "Content-Length" in headers:
                body = self._read_exact(content_length(headers["Content-Length"]))
        return build_event(headers, body)


def describe(command: str) -> str:
    """A command as it may appear in logs and errors (never the password)."""
    first = command.split("\n", 1)[0]
    if first.startswith("auth "):
        return "auth ***"
    return first if len(first) <= 80 else first[:77] + "..."


class _Pending:
    """A command written to the socket, waiting for its reply (FIFO).
    after_events: the reply is handed over by the dispatcher, once every
    event read before it has been handled (see EslProtocol._write)."""

    __slots__ = ("description", "result", "on_reply", "on_fail", "after_events")

    def __init__(self, description: str, on_reply: Callable[[EslEvent], None] | None = None,
                 on_fail: Callable[[BaseException], None] | None = None, after_events: bool = False) -> None:
        self.description = description
        self.result = gevent.event.AsyncResult()
        self.on_reply = on_reply
        self.on_fail = on_fail
        self.after_events = after_events

    def resolve(self, reply: EslEvent) -> None:
        if self.on_reply is not None:
            try:
                self.on_reply(reply)
            except Exception:  # noqa: BLE001 - a bug here must not kill the reader
                log.exception("ESL reply hook for %s failed", self.description)
        self.result.set(reply)

    def fail(self, error: BaseException) -> None:
        if self.on_fail is not None:
            try:
                self.on_fail(error)
            except Exception:  # noqa: BLE001
                log.exception("ESL failure hook for %s failed", self.description)
        if not self.result.ready():
            self.result.set_exception(error)


class _ReplyInOrder:
    """In the event queue: a reply the dispatcher resolves in its turn."""

    __slots__ = ("pending", "reply")

    def __init__(self, pending: _Pending, reply: EslEvent) -> None:
        self.pending = pending
        self.reply = reply


_STOP = object()


class EslProtocol(ESLProtocol):
    """greenswitch's ESLProtocol, fixed. Subclasses call ``ESLProtocol.__init__``
    then :meth:`_setup_protocol`, attach a connected socket with
    :meth:`_attach`, and may override the hooks ``_on_event``,
    ``_on_disconnect_notice``, ``_on_connection_lost`` and
    ``_connection_error``. Per socket: one reader greenlet (frames, replies,
    correlation); per object: one dispatcher greenlet (handlers, in order)."""

    peer = "?"
    frame_timeout_s: float | None = 10.0
    command_timeout_s: float | None = 10.0
    # This connection's event metrics (events, backlog, back-pressure), labelled
    # with its node: set by inbound connections; outbound calls have none.
    _event_metrics: tuple[Any, Any, Any] | None = None

    def _count_events_as(self, node: str) -> None:
        self._event_metrics = (metrics.EVENTS.labels(node), metrics.BACKLOG.labels(node),
                               metrics.BACKPRESSURE.labels(node))

    def _setup_protocol(self, max_event_backlog: int = 10000) -> None:
        if max_event_backlog < 1:
            raise ValueError("max_event_backlog must be at least 1")
        # Bounded, unlike greenswitch's: see _queue_event (back-pressure).
        self._esl_event_queue = gevent.queue.Queue(max_event_backlog)
        self.max_event_backlog = max_event_backlog
        self._backpressure = False
        self._pending: collections.deque[_Pending] = collections.deque()
        self._write_lock = gevent.lock.Semaphore()
        self._sock_alive = False
        self._closed_event = gevent.event.Event()
        self._closed_event.set()
        self._rejection: str | None = None
        self.sock: socket.socket | None = None
        self.sock_file: FrameReader | None = None

    # -- socket life ---------------------------------------------------------
    def _attach(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock_file = reader = FrameReader(sock)
        self._pending = collections.deque()
        self._sock_alive = True
        self._closed_event = closed = gevent.event.Event()
        self._receive_events_greenlet = gevent.spawn(self.receive_events, sock, reader, closed)

    def receive_events(self, sock: socket.socket, reader: FrameReader,  # type: ignore[override]
                       closed: gevent.event.Event) -> None:
        """The reader greenlet of one socket: frames in, replies matched, events queued."""
        reason = "closed"
        try:
            while True:
                frame = reader.read_frame(self.frame_timeout_s)
                if frame is None:
                    reason = "closed by FreeSWITCH" if self._sock_alive else "closed"
                    break
                self.handle_event(frame)
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
            log.error("ESL %s sent something that is not ESL (%s); closing the connection", self.peer, exc)
        except OSError as exc:
            reason = "closed" if not self._sock_alive else f"socket error: {exc}"
        except gevent.GreenletExit:
            reason = "closed"
        except Exception as exc:  # noqa: BLE001 - a bug must not leave waiters hanging
            reason = f"internal error: {exc!r}"
            log.exception("ESL %s reader failed", self.peer)
        finally:
            self._connection_lost(sock, closed, reason)

    def _connection_lost(self, sock: socket.socket, closed: gevent.event.Event, reason: str) -> None:
        _close_socket(sock)
        if sock is self.sock:
            self._sock_alive = False
            self.connected = False
            pending, self._pending = list(self._pending), collections.deque()
            error = self._connection_error(reason)
            for item in pending:
                item.fail(error)
            self._auth_request_event.set()          # wake a connect() waiting for auth/request
            try:
                self._on_connection_lost(reason)
            except Exception:  # noqa: BLE001
                log.exception("ESL %s: connection-lost hook failed", self.peer)
        closed.set()

    def _close(self, reason: str = "closed", join_timeout: float = 2.0) -> None:
        """Close our side; the reader greenlet notices, fails waiters, and ends."""
        sock, reader_greenlet = self.sock, self._receive_events_greenlet
        self._sock_alive = False
        if sock is not None:
            _close_socket(sock)
        if reader_greenlet is not None and reader_greenlet is not gevent.getcurrent():
            reader_greenlet.join(join_timeout)
            if not reader_greenlet.dead:
                reader_greenlet.kill(block=True, timeout=join_timeout)

    # -- hooks ---------------------------------------------------------------
    def _connection_error(self, reason: str) -> BaseException:
        return EslError(f"ESL connection to {self.peer} lost: {reason}")

    def _not_connected_error(self) -> BaseException:
        return EslError(f"not connected to FreeSWITCH's event socket at {self.peer}")

    def _on_event(self, event: EslEvent) -> None:
        """An event, in the reader greenlet, before handlers see it."""

    def _on_disconnect_notice(self, event: EslEvent) -> None:
        if event.get("Content-Disposition") == "linger":
            self._lingering = True

    def _on_connection_lost(self, reason: str) -> None:
        """The socket is gone; every pending reply has failed already."""

    # -- frames in (reader greenlet) -------------------------------------------
    def handle_event(self, event: EslEvent) -> None:  # type: ignore[override]
        content_type = event.content_type
        if content_type in ("command/reply", "api/response"):
            if not self._pending:
                log.warning("ESL %s sent a %s nobody waits for; ignored", self.peer, content_type)
                return
            pending = self._pending.popleft()
            if pending.after_events:
                # Behind the events read before it (back-pressure applies as to an event).
                self._esl_event_queue.put(_ReplyInOrder(pending, event))
            else:
                pending.resolve(event)
        elif content_type in ("text/event-plain", "text/event-json"):
            self._on_event(event)
            self._queue_event(event)
        elif content_type == "auth/request":
            self._auth_request_event.set()
        elif content_type == "text/disconnect-notice":
            self._on_disconnect_notice(event)
            self._queue_event(event)
        elif content_type == "text/rude-rejection":
            self._rejection = (event.body or "access denied").strip()
            self._auth_request_event.set()
        else:
            log.debug("ESL %s: ignoring a %s frame", self.peer, content_type)

    def _queue_event(self, event: EslEvent) -> None:
        """Hand an event to the dispatcher. Back-pressure: when the handlers
        are `max_event_backlog` events behind, the reader stops here, so
        Hotline stops reading the socket; TCP flow control then makes
        FreeSWITCH hold the events in its own per-listener queue (100,000
        events in mod_event_socket) until the handlers catch up. Replies
        behind those events wait too, which is why event handlers must not
        wait for an ESL reply themselves (see _wait)."""
        queue = self._esl_event_queue
        counters = self._event_metrics
        if counters is not None:
            counters[0].inc()
        if queue.full():
            if not self._backpressure:
                self._backpressure = True
                log.warning("ESL %s: %d events wait for their handlers; reading from FreeSWITCH pauses until "
                            "they catch up (back-pressure)", self.peer, queue.qsize())
            if counters is not None:
                counters[2].inc()
            queue.put(event)
        else:
            queue.put_nowait(event)
        if counters is not None:
            counters[1].set(queue.qsize())

    # -- commands out ----------------------------------------------------------
    def _write(self, payload: bytes, description: str, *, timeout: float | None,
               on_reply: Callable[[EslEvent], None] | None = None,
               on_fail: Callable[[BaseException], None] | None = None, after_events: bool = False) -> _Pending:
        """Write one command frame; its reply will resolve the returned _Pending.

        FreeSWITCH writes a reply after every event it queued for this
        connection before it, but the reader only queues those events for
        the dispatcher. after_events=True holds the reply back until the
        dispatcher has handled them: what the reply says (`show channels`)
        is then never older than what the handlers know."""
        if not self._sock_alive:
            raise self._not_connected_error()
        pending = _Pending(description, on_reply, on_fail, after_events)
        with self._write_lock:
            sock = self.sock
            if not self._sock_alive or sock is None:
                raise self._not_connected_error()
            # Appended before writing: the reply may be read before sendall() returns.
            self._pending.append(pending)
            try:
                with gevent.Timeout(timeout, EslTimeout(f"writing {description} to {self.peer} timed out")):
                    sock.sendall(payload)
            except BaseException as exc:
                # A partial write leaves the stream unusable: drop the connection.
                log.warning("ESL %s: writing %s failed (%r); closing the connection", self.peer, description, exc)
                _close_socket(sock)
                if isinstance(exc, OSError):
                    raise EslError(f"could not send {description} to {self.peer}: {exc}") from exc
                raise
        return pending

    def _wait(self, pending: _Pending, timeout: float | None) -> EslEvent:
        if gevent.getcurrent() is self._process_events_greenlet:
            # The reply may sit behind events this very greenlet must handle first.
            raise EslError(f"{pending.description}: an event handler must not wait for a reply from "
                           f"{self.peer} (it can deadlock under back-pressure); spawn a greenlet for it")
        pending.result.wait(timeout)         # returns the value (None when failed): ask ready()
        if not pending.result.ready():
            raise EslTimeout(f"FreeSWITCH at {self.peer} did not answer {pending.description} "
                             f"within {timeout:g} s")
        return pending.result.get()

    def _request(self, payload: bytes, description: str, timeout: float | None, *,
                 after_events: bool = False) -> EslEvent:
        return self._wait(self._write(payload, description, timeout=timeout, after_events=after_events), timeout)

    def send(self, data: str, timeout: float | None = None) -> EslEvent:  # type: ignore[override]
        """Send one command (greenswitch's name) and return its reply frame."""
        if not data or "\n\n" in data or data.endswith("\n") or "\r" in data:
            raise ValueError(f"not a single ESL command: {describe(data)!r}")
        timeout = self.command_timeout_s if timeout is None else timeout
        return self._request((data + "\n\n").encode("utf-8"), describe(data), timeout)

    # -- events out (dispatcher greenlet) -------------------------------------
    def _start_dispatcher(self) -> None:
        if self._process_events_greenlet is None or self._process_events_greenlet.dead:
            self._process_events_greenlet = gevent.spawn(self.process_events)

    def _stop_dispatcher(self, timeout: float = 2.0) -> None:
        greenlet = self._process_events_greenlet
        if greenlet is None or greenlet.dead:
            return
        try:
            self._esl_event_queue.put_nowait(_STOP)
        except gevent.queue.Full:
            greenlet.kill(block=False)      # a full backlog is dropped at stop
        if greenlet is not gevent.getcurrent():
            greenlet.join(timeout)
            if not greenlet.dead:
                log.warning("ESL %s: an event handler is still busy after %s s; stopping it", self.peer, timeout)
                greenlet.kill(block=True, timeout=timeout)

    def process_events(self) -> None:
        queue = self._esl_event_queue
        counters = self._event_metrics
        while True:
            event = queue.get()
            if event is _STOP:
                return
            if type(event) is _ReplyInOrder:
                event.pending.resolve(event.reply)
                # Let its waiter act before the events read after the reply are handled.
                gevent.sleep(0)
            else:
                self._dispatch(event)
            if self._backpressure and queue.qsize() <= self.max_event_backlog // 2:
                self._backpressure = False
                log.info("ESL %s: handlers caught up; reading from FreeSWITCH again", self.peer)
            if counters is not None:
                counters[1].set(queue.qsize())

    def _dispatch(self, event: EslEvent) -> None:
        if event.content_type == "text/disconnect-notice":
            handlers = list(self.event_handlers.get("DISCONNECT", ()))
        else:
            key = event.get("Event-Subclass") if event.name == "CUSTOM" else event.name
            handlers = [*self.event_handlers.get(key or "", ()), *self.event_handlers.get("*", ())]
        for handler in handlers:
            self._safe_exec_handler(handler, event)

    def _safe_exec_handler(self, handler: Callable[[EslEvent], Any], event: EslEvent) -> None:
        try:
            handler(event)
        except Exception:  # noqa: BLE001 - one bad handler must not stop the others
            log.exception("ESL event handler %s failed on %r", getattr(handler, "__qualname__", handler), event)

    def on_event(self, handler: Callable[[EslEvent], Any]) -> None:
        """Call handler(event) for every event, in arrival order, from one greenlet."""
        self.register_handle("*", handler)


def tune_socket(sock: socket.socket) -> None:
    """No Nagle delay for small commands; keepalive probes so a FreeSWITCH host
    that vanished without closing (power loss, network cut) is noticed in
    about a minute instead of Linux's default two hours."""
    options = [(socket.IPPROTO_TCP, "TCP_NODELAY", 1), (socket.SOL_SOCKET, "SO_KEEPALIVE", 1),
               (socket.IPPROTO_TCP, "TCP_KEEPIDLE", 30), (socket.IPPROTO_TCP, "TCP_KEEPINTVL", 10),
               (socket.IPPROTO_TCP, "TCP_KEEPCNT", 3)]
    for level, name, value in options:
        option = getattr(socket, name, None)
        if option is not None:
            try:
                sock.setsockopt(level, option, value)
            except OSError:
                pass


def _close_socket(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
