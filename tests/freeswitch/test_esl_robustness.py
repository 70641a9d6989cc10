"""Robustness of the adapter against a FreeSWITCH that misbehaves or goes
away: scripted fakes over real TCP, FreeSWITCH-shaped frames (the recorded
channel data where a real one is needed)."""
from __future__ import annotations

import logging
import random
import time

import gevent
import gevent.event
import pytest
from gevent import socket

from esl_fakes import (AUTH_REQUEST, EXIT_REPLY, FakeSwitch, RawReader, accept_session, api_response,
                       conn_script, event_plain, hold_open, linger_notice, live_greenlets, open_fds, reply,
                       strip_event_uuid, wait_until)
from hotline.freeswitch import (CallHungUp, EslConnection, EslError, EslEvent, EslTimeout, OutboundCall,
                                OutboundServer)

pytestmark = pytest.mark.freeswitch

GOODBYE = EXIT_REPLY[1].encode()


# -- inbound --------------------------------------------------------------------

def test_wrong_password_backs_off_then_connects_when_accepted(caplog: pytest.LogCaptureFixture,
                                                             hub_errors: list) -> None:
    rejections = 4

    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        sock.sendall(AUTH_REQUEST)
        reader.read()
        if n < rejections:
            sock.sendall(reply("-ERR invalid") + GOODBYE)
            return
        sock.sendall(reply("+OK accepted"))
        reader.read()
        sock.sendall(reply("+OK event listener enabled plain"))
        hold_open(sock, reader)

    with FakeSwitch(session) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", reconnect_min_s=0.1, reconnect_max_s=0.4,
                             reconnect_jitter=0.2)
        connected: list[EslConnection] = []
        conn.on_connected(connected.append)
        conn.start()
        assert conn.wait_connected(10)
        conn.stop()
    gaps = [b - a for a, b in zip(fs.accepted_at, fs.accepted_at[1:])]
    assert len(gaps) == rejections
    for gap, base in zip(gaps, [0.1, 0.2, 0.4, 0.4]):           # min*2^n, capped, minus <= 20 % jitter
        assert base * 0.8 - 0.02 <= gap <= base + 0.5, (gaps, base)
    message = f"ESL authentication to 127.0.0.1:{fs.port} failed: -ERR invalid; check HOTLINE_ESL_PASSWORD"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [message] * rejections
    assert conn.last_error is None and connected == [conn]
    assert fs.received[rejections][1].startswith("event plain CHANNEL_CREATE ")
    assert not hub_errors


def test_drop_between_command_and_reply(hub_errors: list) -> None:
    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        if n == 0:
            reader.read()                       # the api command... and FreeSWITCH goes away
            return
        while (data := reader.read()) is not None:
            if data.startswith("api "):
                sock.sendall(api_response("UP again\n"))
            elif data == "exit\n\n":
                sock.sendall(reply("+OK bye") + GOODBYE)
                return

    with FakeSwitch(session) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", reconnect_min_s=0.05)
        connected: list[EslConnection] = []
        disconnected: list[EslConnection] = []
        conn.on_connected(connected.append)
        conn.on_disconnected(disconnected.append)
        conn.start()
        assert conn.wait_connected(5)
        started = time.monotonic()
        with pytest.raises(EslError) as raised:
            conn.api("status", timeout=30)
        assert time.monotonic() - started < 5          # the drop, not the 30 s timeout
        assert not isinstance(raised.value, EslTimeout)
        assert "lost" in str(raised.value)
        assert wait_until(lambda: len(connected) == 2)
        assert disconnected == [conn]
        assert fs.received[1][1].startswith("event plain ")      # resubscribed
        assert conn.api("status") == "UP again\n"
        conn.stop()
    assert not hub_errors


def test_bgapi_timeout_and_jobs_failed_by_a_drop(hub_errors: list) -> None:
    drop = gevent.event.Event()

    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        for job in ("job-1", "job-2"):
            assert reader.read().startswith("bgapi originate")
            sock.sendall(reply(f"+OK Job-UUID: {job}", **{"Job-UUID": job}))
        drop.wait(5)                           # never sends the BACKGROUND_JOBs; then goes away

    with FakeSwitch(session) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", reconnect_min_s=5)
        conn.start()
        assert conn.wait_connected(5)
        with pytest.raises(EslTimeout):
            conn.bgapi("originate user/1001 &park()", timeout=0.2)
        assert conn._jobs == {}                # a timed-out job is forgotten
        pending = conn.bgapi_async("originate user/1002 &park()")
        assert wait_until(lambda: pending.job_uuid == "job-2")
        drop.set()
        with pytest.raises(EslError, match="lost"):
            pending.get(timeout=5)
        conn.stop()
    assert not hub_errors


GARBAGE = {
    "content-length-that-lies-long": b"Content-Type: api/response\nContent-Length: 5000\n\nshort",
    "content-length-that-lies-short": b"Content-Type: api/response\nContent-Length: 3\n\n-ERR something longer\n",
    "byte-soup": bytes(random.Random(7).randrange(256) for _ in range(300)) + b"\xff\n\n",
    "no-content-type": b"Reply-Text: +OK\n\n",
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=list(GARBAGE))
def test_garbage_closes_cleanly_and_reconnects(garbage: bytes, caplog: pytest.LogCaptureFixture,
                                               hub_errors: list) -> None:
    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        if n == 0:
            reader.read()
            sock.sendall(garbage)
            reader.read()                      # until the client hangs up on us
            return
        while (data := reader.read()) is not None:
            if data.startswith("api "):
                sock.sendall(api_response("fine\n"))
            elif data == "exit\n\n":
                return

    with FakeSwitch(session) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", reconnect_min_s=0.05, frame_timeout_s=0.3)
        connected: list[EslConnection] = []
        conn.on_connected(connected.append)
        conn.start()
        assert conn.wait_connected(5)
        outcome: dict[str, object] = {}

        def ask() -> None:
            try:
                outcome["value"] = conn.api("status", timeout=30)
            except EslError as exc:
                outcome["error"] = exc

        asking = gevent.spawn(ask)
        assert wait_until(lambda: len(connected) == 2, timeout=10)
        asking.join(5)
        assert asking.dead
        if "value" in outcome:                  # a short Content-Length still made a (truncated) reply
            assert outcome["value"] == "-ER"
        else:
            assert not isinstance(outcome["error"], EslTimeout)
        assert conn.api("status") == "fine\n"
        conn.stop()
    assert "is not ESL" in caplog.text
    assert not hub_errors


def test_burst_of_200_events_in_order(caplog: pytest.LogCaptureFixture, hub_errors: list) -> None:
    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        burst = b"".join(event_plain({"Event-Name": "CHANNEL_EXECUTE", "Core-UUID": "core", "Event-Sequence": str(i),
                                      "Unique-ID": "u1", "Application-Data": f"line one%\nline {i}"})
                         for i in range(1, 201))
        sock.sendall(burst)
        hold_open(sock, reader)

    got: list[EslEvent] = []

    def flaky(event: EslEvent) -> None:
        if int(event.get("Event-Sequence")) % 10 == 0:
            raise RuntimeError("a handler bug")

    def slow(event: EslEvent) -> None:
        if int(event.get("Event-Sequence")) % 50 == 0:
            gevent.sleep(0.01)                 # a handler that yields must not reorder anything

    with FakeSwitch(session) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon")
        conn.on_event(flaky)
        conn.on_event(slow)
        conn.on_event(got.append)
        conn.start()
        assert conn.wait_connected(5)
        assert wait_until(lambda: len(got) == 200)
        assert conn.connected
        conn.stop()
    assert [int(e.get("Event-Sequence")) for e in got] == list(range(1, 201))
    assert got[41].get("Application-Data") == "line one%\nline 42"
    failures = [r for r in caplog.records if r.exc_info and str(r.exc_info[1]) == "a handler bug"]
    assert len(failures) == 20
    assert not hub_errors


def test_not_connected_fails_fast_and_stop_leaves_nothing(hub_errors: list) -> None:
    greenlets, fds = live_greenlets(), open_fds()
    conn = EslConnection("127.0.0.1", 9, "ClueCon", reconnect_min_s=0.05, connect_timeout_s=0.5)
    conn.start()
    with pytest.raises(EslError, match="not connected"):
        conn.api("status")
    assert wait_until(lambda: conn.last_error is not None)
    assert "cannot connect to 127.0.0.1:9" in conn.last_error
    conn.stop()
    assert wait_until(lambda: live_greenlets() <= greenlets and open_fds() <= fds)
    assert not hub_errors


def test_a_connected_session_stops_without_leaks(hub_errors: list) -> None:
    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        hold_open(sock, reader)

    with FakeSwitch(session) as fs:
        greenlets, fds = live_greenlets(), open_fds()
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon")
        conn.start()
        assert conn.wait_connected(5)
        conn.stop()
        assert fs.received[0][-1] == "exit\n\n"
        assert wait_until(lambda: live_greenlets() <= greenlets and open_fds() <= fds)
    assert not hub_errors


# -- outbound -------------------------------------------------------------------

def channel_data() -> bytes:
    script = conn_script("02-ivr-call-to-agent-plain", "outbound-call")
    return next(r.data for r in script if "Event-Name: CHANNEL_DATA" in r.data[:40]).encode()


UUID = "ef7c3eb7-cd13-4901-b151-3ff813bc50c8"


def call_event(name: str, **headers: str) -> bytes:
    return event_plain({"Event-Name": name, "Core-UUID": "core", "Unique-ID": UUID,
                        "Event-Date-Timestamp": str(int(time.time() * 1e6)), **headers})


class FakeSocketApp:
    """FreeSWITCH's `socket` application: connects, answers the session set-up,
    then runs the scenario; records what it got and when it hung up."""

    def __init__(self, port: int, scenario, *, hangup_before_linger: bool = False) -> None:
        self.errors: list[str] = []
        self.received: list[str] = []
        self.hung_up_at: float | None = None
        self.done = gevent.event.Event()
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.reader = RawReader(self.sock)
        self.greenlet = gevent.spawn(self._run, scenario, hangup_before_linger)

    def read(self) -> str | None:
        data = self.reader.read()
        if data is not None:
            self.received.append(data)
        return data

    def expect(self, prefix: str) -> str:
        data = self.read()
        if data is None or not data.startswith(prefix):
            self.errors.append(f"expected {prefix!r}, got {data!r}")
            raise OSError("unexpected")
        return data

    def hang_up(self, cause: str = "NORMAL_CLEARING", *, after: bytes = b"") -> None:
        self.hung_up_at = time.monotonic()
        self.sock.sendall(call_event("CHANNEL_HANGUP", **{"Hangup-Cause": cause}) + linger_notice(UUID) + after)

    def _run(self, scenario, hangup_before_linger: bool) -> None:
        try:
            self.expect("connect\n\n")
            self.sock.sendall(channel_data())
            self.expect("myevents\n\n")
            self.sock.sendall(reply("+OK Events Enabled"))
            self.expect("linger\n\n")
            if hangup_before_linger:
                self.hang_up()
            self.sock.sendall(reply("+OK will linger"))
            scenario(self)
        except OSError:
            pass
        finally:
            self.sock.close()
            self.done.set()


def complete(app: str, app_uuid: str) -> bytes:
    return call_event("CHANNEL_EXECUTE_COMPLETE", Application=app, **{"Application-UUID": app_uuid})


def hangup_complete() -> bytes:
    return call_event("CHANNEL_HANGUP_COMPLETE", **{"Hangup-Cause": "NORMAL_CLEARING"})


def run_call(handler, scenario, **kwargs) -> tuple[FakeSocketApp, dict]:
    """One call through an OutboundServer; checks that it leaves no greenlet or socket behind."""
    outcome: dict = {}

    def wrapped(call: OutboundCall) -> None:
        outcome["call"] = call
        try:
            outcome["result"] = handler(call)
        except BaseException as exc:
            outcome["error"] = exc
            outcome["error_at"] = time.monotonic()
            raise

    server = OutboundServer("127.0.0.1", 0, wrapped, drain_timeout_s=2)
    port = server.start()
    try:
        greenlets, fds = live_greenlets(), open_fds()
        fake = FakeSocketApp(port, scenario, **kwargs)
        assert fake.done.wait(10)
        assert wait_until(lambda: not server.calls)
        assert wait_until(lambda: live_greenlets() <= greenlets and open_fds() <= fds), \
            (live_greenlets(), greenlets, open_fds(), fds)
    finally:
        server.stop()
    assert not fake.errors
    return fake, outcome


def test_hangup_during_a_blocking_execute(hub_errors: list) -> None:
    def scenario(fs: FakeSocketApp) -> None:
        frame = fs.expect("sendmsg\n")
        _, app_uuid = strip_event_uuid(frame)
        fs.sock.sendall(reply("+OK") + call_event("CHANNEL_EXECUTE", Application="playback",
                                                  **{"Application-UUID": app_uuid}))
        gevent.sleep(0.2)
        # as FreeSWITCH does it: hangup, linger notice, then the interrupted app completes
        fs.hang_up(after=complete("playback", app_uuid) + hangup_complete())
        assert fs.read() is None               # the client closes once the call is over

    fake, outcome = run_call(lambda call: call.playback("/var/sounds/long-hold.wav"), scenario)
    error = outcome["error"]
    assert isinstance(error, CallHungUp) and error.cause == "NORMAL_CLEARING"
    assert outcome["error_at"] - fake.hung_up_at < 1.0
    call = outcome["call"]
    assert call.hungup and call.hangup_cause == "NORMAL_CLEARING" and call.wait_hangup(0)
    assert not hub_errors


def test_socket_closing_during_execute_wakes_the_waiter(hub_errors: list) -> None:
    def scenario(fs: FakeSocketApp) -> None:
        fs.expect("sendmsg\n")
        fs.sock.sendall(reply("+OK"))
        gevent.sleep(0.1)
        fs.hung_up_at = time.monotonic()        # then FreeSWITCH dies: no hangup, no notice

    fake, outcome = run_call(lambda call: call.execute("park"), scenario)
    assert isinstance(outcome["error"], CallHungUp)
    assert outcome["error_at"] - fake.hung_up_at < 1.0
    assert not hub_errors


def test_hangup_before_the_first_command(hub_errors: list) -> None:
    def scenario(fs: FakeSocketApp) -> None:
        fs.sock.sendall(hangup_complete())
        assert fs.read() is None

    def handler(call: OutboundCall) -> None:
        call.answer()

    fake, outcome = run_call(handler, scenario, hangup_before_linger=True)
    assert isinstance(outcome["error"], CallHungUp)
    assert not any(f.startswith("sendmsg") for f in fake.received)    # nothing sent to a dead call
    assert not hub_errors


def test_handler_done_while_the_call_is_up_says_exit(hub_errors: list) -> None:
    def scenario(fs: FakeSocketApp) -> None:
        frame = fs.expect("sendmsg\n")
        _, app_uuid = strip_event_uuid(frame)
        fs.sock.sendall(reply("+OK") + complete("answer", app_uuid))
        fs.expect("exit\n\n")
        fs.sock.sendall(reply("+OK bye") + GOODBYE)

    fake, outcome = run_call(lambda call: call.answer().get("Application"), scenario)
    assert outcome["result"] == "answer" and "error" not in outcome
    assert not hub_errors


def test_hangup_after_the_handler_waits_for_it(hub_errors: list) -> None:
    def scenario(fs: FakeSocketApp) -> None:
        frame = fs.expect("sendmsg\n")
        _, app_uuid = strip_event_uuid(frame)
        fs.sock.sendall(reply("+OK"))                         # park: never completes
        gevent.sleep(0.1)
        fs.hang_up(after=complete("park", app_uuid) + hangup_complete())

    def handler(call: OutboundCall) -> bool:
        call.park()
        return call.wait_hangup(5)

    fake, outcome = run_call(handler, scenario)
    assert outcome["result"] is True
    assert not hub_errors
