"""Inbound ESL: Hotline connects to FreeSWITCH's event socket (:8021).

:class:`EslConnection` is greenswitch's ``InboundESL`` kept alive: a
maintainer greenlet connects, authenticates, subscribes (``event plain
...``), serves until the connection drops, and reconnects with exponential
backoff and jitter, forever, until :meth:`EslConnection.stop`. Commands:
``api`` (blocking on FreeSWITCH's side, for quick commands), ``bgapi``
(FreeSWITCH answers ``+OK Job-UUID: ...`` at once and later sends a
BACKGROUND_JOB event with that Job-UUID, which is matched here), and raw
``command`` for socket commands (``event``, ``noevents``, ...).

What greenswitch's InboundESL lacks and this adds: a connect timeout that
also covers the auth/request wait, a clear error for a wrong password or an
ACL rejection, reconnect with backoff and resubscription, callbacks on
(re)connect for reconciliation, timeouts on every reply, and bgapi Job-UUID
correlation.
"""
from __future__ import annotations

import json
import logging
import random
import re
from typing import Any, Callable, Iterable

import gevent
import gevent.event
from gevent import socket
from greenswitch.esl import InboundESL

from hotline.common.errors import ConfigError, HotlineError, InvalidArgument
from hotline.common.settings import EslSettings
from hotline.freeswitch import metrics
from hotline.freeswitch.errors import CommandFailed, EslAuthError, EslError, EslTimeout
from hotline.freeswitch.protocol import EslEvent, EslProtocol, describe, tune_socket

log = logging.getLogger(__name__)

# What Hotline subscribes to by default (the transcripts' subscription, in its order).
DEFAULT_EVENTS = (
    "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
    "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY",
    "CHANNEL_ORIGINATE", "DTMF", "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP",
    "BACKGROUND_JOB",
)
_EVENT_NAME = re.compile(r"[A-Za-z0-9_:.\-]+")


class BackgroundJob(gevent.event.AsyncResult):
    """The result of one bgapi: set to the BACKGROUND_JOB body, or failed."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command
        self.job_uuid: str | None = None
        self.abandoned = False


class EslConnection(EslProtocol, InboundESL):
    """A self-healing inbound event-socket connection to one FreeSWITCH node."""

    def __init__(self, host: str, port: int, password: str, *, node_id: str = "fs1",
                 events: Iterable[str] = DEFAULT_EVENTS, event_format: str = "plain",
                 connect_timeout_s: float = 5.0, reconnect_min_s: float = 0.5, reconnect_max_s: float = 30.0,
                 api_timeout_s: float = 10.0, frame_timeout_s: float = 10.0, reconnect_jitter: float = 0.2,
                 max_event_backlog: int = 10000, jobs: bool = True, metrics_label: str | None = None) -> None:
        """jobs: this connection runs bgapi, so BACKGROUND_JOB is added to its
        subscription (False for an event connection whose node has a separate
        command connection: FreeSWITCH sends every job's result to every
        connection subscribed to BACKGROUND_JOB). metrics_label: the `node`
        label of this connection's metrics (default node_id)."""
        if not password:
            raise ConfigError("ESL password is empty: set HOTLINE_ESL_PASSWORD")
        if event_format not in ("plain", "json"):
            raise ConfigError(f"ESL event format {event_format!r}: expected 'plain' or 'json'")
        if reconnect_min_s <= 0 or reconnect_max_s < reconnect_min_s:
            raise ConfigError("ESL reconnect delays: need 0 < reconnect_min_s <= reconnect_max_s")
        if not 0 <= reconnect_jitter < 1:
            raise ConfigError("ESL reconnect jitter must be in [0, 1)")
        if max_event_backlog < 1:
            raise ConfigError("ESL max_event_backlog must be at least 1")
        events = tuple(events)
        for name in events:
            if not _EVENT_NAME.fullmatch(name):
                raise ConfigError(f"ESL event name {name!r} is not valid")
        InboundESL.__init__(self, host, port, password, timeout=connect_timeout_s)
        self._setup_protocol(max_event_backlog)
        self.peer = f"{host}:{port}"
        self.node_id = node_id
        self.metrics_label = metrics_label or node_id
        self._count_events_as(self.metrics_label)
        self.jobs = jobs
        self.events = events
        self.event_format = event_format
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.reconnect_jitter = reconnect_jitter
        self.api_timeout_s = api_timeout_s
        self.command_timeout_s = api_timeout_s
        self.frame_timeout_s = frame_timeout_s
        self.last_error: str | None = None
        self.connected = False
        self._ready = gevent.event.Event()
        self._stop_event = gevent.event.Event()
        self._stopping = False
        self._maintainer: gevent.Greenlet | None = None
        self._jobs: dict[str, BackgroundJob] = {}
        self._subscribed: set[str] = set()
        self._connected_callbacks: list[Callable[..., Any]] = []
        self._disconnected_callbacks: list[Callable[..., Any]] = []

    @classmethod
    def from_settings(cls, esl: "EslSettings", events: Iterable[str] = DEFAULT_EVENTS, *,
                      node: tuple[str, str, int] | None = None, jobs: bool = True,
                      metrics_label: str | None = None) -> "EslConnection":
        """A connection to the node that HOTLINE_ESL_* describes (or to one
        of HOTLINE_ESL_NODES: node=(node_id, host, port))."""
        node_id, host, port = node or (esl.node_id, esl.host, esl.port)
        return cls(host, port, esl.require_password(), node_id=node_id, events=events,
                   connect_timeout_s=esl.connect_timeout_s, reconnect_min_s=esl.reconnect_min_s,
                   reconnect_max_s=esl.reconnect_max_s, api_timeout_s=esl.api_timeout_s,
                   max_event_backlog=esl.max_event_backlog, event_format=esl.event_format, jobs=jobs,
                   metrics_label=metrics_label)

    # -- lifecycle -------------------------------------------------------------
    def on_connected(self, callback: Callable[..., Any]) -> None:
        """callback(conn) after every successful connect + auth + subscribe."""
        self._connected_callbacks.append(callback)

    def on_disconnected(self, callback: Callable[..., Any]) -> None:
        """callback(conn) after a connection that was up went away."""
        self._disconnected_callbacks.append(callback)

    def start(self) -> None:
        """Connect in the background and stay connected until stop()."""
        if self._maintainer is not None and not self._maintainer.dead:
            return
        self._stopping = False
        self._stop_event.clear()
        self._start_dispatcher()
        self._maintainer = gevent.spawn(self._maintain)

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:  # type: ignore[override]
        """Say goodbye (exit), close, and end every greenlet of this connection."""
        self._stopping = True
        self._stop_event.set()
        if self._sock_alive and self.connected:
            try:
                self._request(b"exit\n\n", "exit", min(timeout, 1.0))
            except (HotlineError, OSError):
                pass
        self._close("stopped", join_timeout=timeout)
        maintainer = self._maintainer
        if maintainer is not None and maintainer is not gevent.getcurrent():
            maintainer.join(timeout)
            if not maintainer.dead:
                maintainer.kill(block=True, timeout=timeout)
        self._stop_dispatcher(timeout)
        self.connected = False
        self._ready.clear()

    def _maintain(self) -> None:
        try:
            self._maintain_loop()
        finally:
            if self._stopping and self._sock_alive:
                self._close("stopped")

    def _maintain_loop(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                self.connect()
            except EslAuthError as exc:
                self.last_error = str(exc)
                log.error("%s", exc)
            except (EslError, OSError) as exc:
                self.last_error = f"ESL connection to {self.peer} failed: {exc}"
                log.warning("%s; retrying", self.last_error)
            except Exception as exc:  # noqa: BLE001 - whatever happens, keep trying
                self.last_error = f"ESL connection to {self.peer} failed: {exc!r}"
                log.exception("ESL connection to %s failed unexpectedly; retrying", self.peer)
            else:
                if self._stopping:
                    break
                attempt = 0
                self.last_error = None
                closed = self._closed_event
                self._ready.set()
                metrics.CONNECTED.labels(self.metrics_label).set(1)
                metrics.CONNECTS.labels(self.metrics_label).inc()
                log.info("ESL connected to FreeSWITCH %s at %s", self.node_id, self.peer)
                self._fire(self._connected_callbacks, "on_connected")
                closed.wait()
                self._ready.clear()
                metrics.CONNECTED.labels(self.metrics_label).set(0)
                if not self._stopping:
                    log.warning("ESL connection to FreeSWITCH %s at %s lost; reconnecting", self.node_id, self.peer)
                self._fire(self._disconnected_callbacks, "on_disconnected")
            if self._stopping:
                break
            delay = self.backoff_delay(attempt)
            attempt += 1
            self._stop_event.wait(delay)

    def backoff_delay(self, attempt: int) -> float:
        """Delay before reconnect attempt `attempt` (0-based): min*2^n capped at
        max, minus up to `reconnect_jitter` of it, never below min."""
        base = min(self.reconnect_max_s, self.reconnect_min_s * (2 ** min(attempt, 32)))
        return max(self.reconnect_min_s, base * (1 - self.reconnect_jitter * random.random()))

    def _fire(self, callbacks: list[Callable[..., Any]], what: str) -> None:
        for callback in list(callbacks):
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - a callback must not stop reconnecting
                log.exception("ESL %s callback %s failed", what, getattr(callback, "__qualname__", callback))

    # -- one connection (greenswitch's connect/authenticate) ----------------------
    def connect(self) -> None:
        """One attempt: TCP connect, auth, subscribe. Raises on failure."""
        self._start_dispatcher()
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except socket.timeout:
            raise EslError(f"connecting to {self.peer} timed out after {self.timeout:g} s") from None
        except OSError as exc:
            raise EslError(f"cannot connect to {self.peer}: {exc.strerror or exc}") from None
        if self._stopping:                      # stop() came while we were connecting
            sock.close()
            raise EslError(f"connection to {self.peer} stopped")
        sock.settimeout(None)
        tune_socket(sock)
        self._auth_request_event.clear()
        self._rejection = None
        self._subscribed = set()
        self._attach(sock)
        try:
            if not self._auth_request_event.wait(self.timeout):
                raise EslError(f"{self.peer} sent no auth/request within {self.timeout:g} s")
            if self._rejection is not None:
                raise EslAuthError(f"ESL {self.peer} rejected this client: {self._rejection}; "
                                   f"check the event socket's apply-inbound-acl")
            if not self._sock_alive:
                raise EslError(f"{self.peer} closed the connection before asking for the password")
            self.authenticate()
            self._subscribe()
        except BaseException:
            self._close("connect failed")
            raise
        self.connected = True

    def authenticate(self) -> None:
        reply = self._request(f"auth {self.password}\n\n".encode("utf-8"), "auth ***", self.timeout)
        if reply.reply_text != "+OK accepted":
            raise EslAuthError(f"ESL authentication to {self.peer} failed: {reply.reply_text or '(no reply text)'}; "
                               f"check HOTLINE_ESL_PASSWORD")

    def subscription_command(self) -> str | None:
        """`event plain ...` for the configured events; BACKGROUND_JOB is added
        when missing and this connection runs bgapi (jobs=True), nothing is
        sent for events=()."""
        if not self.events:
            return None
        names = list(self.events)
        if self.jobs and "ALL" not in names and "BACKGROUND_JOB" not in names:
            names.append("BACKGROUND_JOB")
        return f"event {self.event_format} {' '.join(names)}"

    def _subscribe(self) -> None:
        command = self.subscription_command()
        if command is None:
            return
        reply = self._request((command + "\n\n").encode("utf-8"), describe(command), self.api_timeout_s)
        if not reply.reply_text.startswith("+OK"):
            raise EslError(f"FreeSWITCH at {self.peer} refused the event subscription: {reply.reply_text}")
        self._track_subscription(command)

    def _track_subscription(self, command: str) -> None:
        words = command.split()
        if not words:
            return
        if words[0] == "event":
            self._subscribed.update(words[2:] if words[1:2] and words[1] in ("plain", "json", "xml") else words[1:])
        elif words[0] == "noevents":
            self._subscribed.clear()
        elif words[0] == "nixevent":
            self._subscribed.difference_update(words[1:])

    @property
    def receives_jobs(self) -> bool:
        """Whether BACKGROUND_JOB events (bgapi results) arrive on this connection."""
        return bool({"BACKGROUND_JOB", "ALL"} & self._subscribed)

    # -- hooks (reader greenlet) ------------------------------------------------
    def _on_event(self, event: EslEvent) -> None:
        if event.name == "BACKGROUND_JOB":
            job = self._jobs.pop(event.get("Job-UUID") or "", None)
            if job is not None and not job.ready():
                job.set(event.body or "")

    def _on_connection_lost(self, reason: str) -> None:
        jobs, self._jobs = list(self._jobs.values()), {}
        error = EslError(f"ESL connection to {self.peer} lost before the job's result came: {reason}")
        for job in jobs:
            if not job.ready():
                job.set_exception(error)

    def _not_connected_error(self) -> BaseException:
        detail = f" ({self.last_error})" if self.last_error else ""
        return EslError(f"not connected to FreeSWITCH {self.node_id} at {self.peer}{detail}")

    # -- commands ----------------------------------------------------------------
    def _check_command(self, field: str, cmd: str) -> None:
        if not cmd or not cmd.strip() or "\n" in cmd or "\r" in cmd:
            raise InvalidArgument(field, "must be one non-empty line")
        if not self.connected:
            raise self._not_connected_error()

    def command(self, text: str, timeout: float | None = None) -> EslEvent:
        """A socket command (`event json X`, `noevents`, `bgapi ...` raw, ...): its reply frame."""
        self._check_command("command", text)
        reply = self._request((text + "\n\n").encode("utf-8"), describe(text),
                              self.api_timeout_s if timeout is None else timeout)
        if reply.reply_text.startswith("+OK"):
            self._track_subscription(text)
        return reply

    def api(self, cmd: str, timeout: float | None = None, *, after_events: bool = False) -> str:
        """`api <cmd>`: the body of FreeSWITCH's api/response (may be `-ERR ...`).
        after_events: return only once the events FreeSWITCH sent this
        connection before the reply have been handled (the handlers then know
        everything that happened before the command ran)."""
        self._check_command("cmd", cmd)
        reply = self._request(f"api {cmd}\n\n".encode("utf-8"), describe(f"api {cmd}"),
                              self.api_timeout_s if timeout is None else timeout, after_events=after_events)
        return reply.body or ""

    def api_nowait(self, cmd: str) -> None:
        """`api <cmd>` without waiting: its reply is read in turn and dropped
        (for a command whose outcome does not matter, ahead of one that does)."""
        self._check_command("cmd", cmd)
        self._write(f"api {cmd}\n\n".encode("utf-8"), describe(f"api {cmd}"), timeout=self.api_timeout_s)

    def api_ok(self, cmd: str, timeout: float | None = None) -> str:
        """Like api(), but a `-ERR` / `-USAGE` answer raises CommandFailed."""
        body = self.api(cmd, timeout)
        if body.startswith(("-ERR", "-USAGE")):
            raise CommandFailed(body, describe(f"api {cmd}"))
        return body

    def bgapi_async(self, cmd: str) -> BackgroundJob:
        """Send `bgapi <cmd>` and return at once; the result's value is the
        BACKGROUND_JOB body. A `-ERR` reply to the bgapi itself fails it with
        CommandFailed, a lost connection with EslError."""
        self._check_command("cmd", cmd)
        if not self.receives_jobs:
            raise EslError(f"bgapi on {self.peer} needs the BACKGROUND_JOB event on this connection "
                           f"(add it to events=...)")
        job = BackgroundJob(cmd)
        what = describe(f"bgapi {cmd}")

        def on_reply(reply: EslEvent) -> None:   # reader greenlet: before any BACKGROUND_JOB is read
            text = reply.reply_text
            job_uuid = reply.get("Job-UUID") or (text.split("Job-UUID:", 1)[1].strip() if "Job-UUID:" in text else "")
            if not text.startswith("+OK") or not job_uuid:
                job.set_exception(CommandFailed(text, what))
            elif not job.abandoned:
                job.job_uuid = job_uuid
                self._jobs[job_uuid] = job

        def on_fail(error: BaseException) -> None:
            if not job.ready():
                job.set_exception(error)

        self._write(f"bgapi {cmd}\n\n".encode("utf-8"), what, timeout=self.api_timeout_s,
                    on_reply=on_reply, on_fail=on_fail)
        return job

    def bgapi(self, cmd: str, timeout: float | None = None) -> str:
        """`bgapi <cmd>` and wait for its BACKGROUND_JOB: its body, e.g.
        "+OK <uuid>\\n" or "-ERR NO_ANSWER\\n". Pass a timeout longer than the
        ring time for originate (default: api_timeout_s)."""
        job = self.bgapi_async(cmd)
        timeout = self.api_timeout_s if timeout is None else timeout
        job.wait(timeout)
        if not job.ready():
            job.abandoned = True
            if job.job_uuid:
                self._jobs.pop(job.job_uuid, None)
            raise EslTimeout(f"no result for {describe('bgapi ' + cmd)!r} from {self.peer} within {timeout:g} s")
        return job.get()

    def show_channels(self, timeout: float | None = None, *, after_events: bool = False) -> list[dict[str, Any]]:
        """`show channels as json`: FreeSWITCH's rows ([] when there are none)."""
        return self._show_rows("channels", timeout, after_events)

    def show_calls(self, timeout: float | None = None, *, after_events: bool = False) -> list[dict[str, Any]]:
        """`show calls as json`: one row per call; a bridged call's row has
        the A leg in ``uuid`` and the B leg in ``b_uuid``."""
        return self._show_rows("calls", timeout, after_events)

    def _show_rows(self, what: str, timeout: float | None, after_events: bool = False) -> list[dict[str, Any]]:
        body = self.api(f"show {what} as json", timeout, after_events=after_events)
        try:
            data = json.loads(body)
        except ValueError:
            raise CommandFailed(body, f"api show {what} as json") from None
        rows = data.get("rows") if isinstance(data, dict) else None
        return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
