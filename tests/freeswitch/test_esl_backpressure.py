"""Back-pressure: events that arrive faster than the handlers take them.

The reader keeps at most `max_event_backlog` events waiting; beyond that it
stops reading, so TCP pushes back on FreeSWITCH (whose listener queue holds
the rest). Nothing is lost or reordered, a reply behind the backlog arrives
once the handlers catch up, and a handler that would wait for a reply itself
is refused with a clear error instead of deadlocking."""
from __future__ import annotations

import logging

import gevent
import gevent.event
import pytest
from gevent import socket

from hotline.freeswitch import EslConnection, EslError, EslEvent
from hotline.freeswitch import metrics as esl_metrics

from esl_fakes import FakeSwitch, RawReader, accept_session, api_response, event_plain, hold_open, wait_until

EVENTS = 4000
PADDING = "x" * 2000            # ~8 MB in all: more than loopback's socket buffers hold


def _burst(sock: socket.socket, sent: gevent.event.Event) -> None:
    for i in range(1, EVENTS + 1):
        sock.sendall(event_plain({"Event-Name": "CHANNEL_EXECUTE", "Core-UUID": "core",
                                  "Event-Sequence": str(i), "Unique-ID": "u1", "Application-Data": PADDING}))
    sent.set()


def test_a_slow_handler_pauses_reading_and_loses_nothing(caplog: pytest.LogCaptureFixture,
                                                         hub_errors: list) -> None:
    sent = gevent.event.Event()
    gate = gevent.event.Event()

    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        _burst(sock, sent)
        hold_open(sock, reader)

    got: list[int] = []
    backlog_seen: list[int] = []

    def slow(event: EslEvent) -> None:
        gate.wait()
        got.append(int(event.get("Event-Sequence")))

    with FakeSwitch(session) as fs, caplog.at_level(logging.INFO, logger="hotline.freeswitch.protocol"):
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", node_id="bp1", max_event_backlog=50)
        conn.on_event(slow)
        conn.start()
        assert conn.wait_connected(5)
        for _ in range(20):
            gevent.sleep(0.05)
            backlog_seen.append(conn._esl_event_queue.qsize())
        # The handler is stuck: Hotline holds at most 50 events, the rest stays with the sender.
        assert max(backlog_seen) <= 50
        assert not sent.is_set(), "the sender should be blocked by TCP flow control"
        assert esl_metrics.BACKPRESSURE.labels("bp1")._value.get() > 0
        assert esl_metrics.BACKLOG.labels("bp1")._value.get() == 50
        gate.set()
        assert wait_until(lambda: len(got) == EVENTS, timeout=30)
        assert sent.is_set()
        assert conn.connected
        conn.stop()
    assert got == list(range(1, EVENTS + 1))
    warnings = [r for r in caplog.records if "back-pressure" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert any("caught up" in r.getMessage() for r in caplog.records)
    assert esl_metrics.BACKLOG.labels("bp1")._value.get() == 0
    assert not hub_errors


def test_a_reply_behind_the_backlog_arrives_when_handlers_catch_up(hub_errors: list) -> None:
    sent = gevent.event.Event()
    gate = gevent.event.Event()

    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        command = reader.read()
        assert command == "api status\n\n"
        _burst(sock, sent)                      # the events FreeSWITCH had queued before the reply
        sock.sendall(api_response("UP 0 years, 0 days\n"))
        hold_open(sock, reader)

    with FakeSwitch(session) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", node_id="bp2", max_event_backlog=20)
        conn.on_event(lambda event: gate.wait())
        conn.start()
        assert conn.wait_connected(5)
        answer = gevent.spawn(conn.api, "status", 30)
        gevent.sleep(0.5)
        assert not answer.ready(), "the reply is behind events nobody has handled yet"
        gate.set()
        assert answer.get(timeout=30).startswith("UP ")
        conn.stop()
    assert not hub_errors


def test_a_handler_that_waits_for_a_reply_is_refused_not_deadlocked(hub_errors: list) -> None:
    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        sock.sendall(event_plain({"Event-Name": "CHANNEL_PARK", "Core-UUID": "core", "Event-Sequence": "1",
                                  "Unique-ID": "u1"}))
        hold_open(sock, reader)

    errors: list[BaseException] = []

    def handler(event: EslEvent) -> None:
        try:
            conn.api(f"uuid_exists {event.uuid}")
        except EslError as exc:
            errors.append(exc)

    with FakeSwitch(session) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", node_id="bp3")
        conn.on_event(handler)
        conn.start()
        assert conn.wait_connected(5)
        assert wait_until(lambda: bool(errors))
        conn.stop()
    assert "event handler must not wait for a reply" in str(errors[0])
    assert "spawn a greenlet" in str(errors[0])
    assert not hub_errors


def test_backlog_bound_is_checked() -> None:
    from hotline.common.errors import ConfigError

    with pytest.raises(ConfigError, match="max_event_backlog"):
        EslConnection("127.0.0.1", 8021, "ClueCon", max_event_backlog=0)
