"""A node's command connection (hotline.freeswitch.pool.SwitchNode): api and
bgapi on a second inbound connection subscribed only to BACKGROUND_JOB, so
their replies do not queue behind the event stream; the node is usable only
while both connections are up; a reply asked with after_events=True comes
only after the events read before it were handled. Against the FreeSWITCH
simulator (real ESL over TCP) and scripted fakes."""
from __future__ import annotations

from typing import Iterator

import gevent
import pytest
from gevent import socket

from esl_fakes import FakeSwitch, RawReader, accept_session, api_response, event_plain, hold_open, wait_until
from hotline.common.errors import ConfigError
from hotline.common.settings import EslSettings
from hotline.freeswitch import EslConnection, EslError, EslEvent
from hotline.freeswitch import metrics as esl_metrics
from hotline.freeswitch.pool import SwitchNode, SwitchPool
from hotline.freeswitch.protocol import _close_socket
from hotline.simulator import Switch
from hotline.simulator.scripts import PhoneScript

pytestmark = pytest.mark.freeswitch

PASSWORD = "s3cret-test"
ROUTING_EVENTS = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_HANGUP_COMPLETE",
                  "CHANNEL_DESTROY", "BACKGROUND_JOB")


@pytest.fixture
def two_switches() -> Iterator[dict[str, Switch]]:
    switches = {name: Switch(password=PASSWORD, host="127.0.0.1", esl_port=0, hostname=name, media_scale=0.1)
                for name in ("fs1", "fs2")}
    for sw in switches.values():
        sw.start()
        sw.register_phone("1001", PhoneScript(answer_after_s=0.05, hangup_after_s=None))
    yield switches
    for sw in switches.values():
        sw.stop()


def settings_for(switches: dict[str, Switch]) -> EslSettings:
    return EslSettings(password=PASSWORD, reconnect_min_s=0.05, reconnect_max_s=0.2,
                       nodes=",".join(f"{name}=127.0.0.1:{sw.esl_port}" for name, sw in switches.items()))


@pytest.fixture
def pool(two_switches: dict[str, Switch]) -> Iterator[SwitchPool]:
    pool = SwitchPool.from_settings(settings_for(two_switches), ROUTING_EVENTS)
    seen: list[tuple[str, EslEvent]] = []
    pool.on_event(lambda node, event: seen.append((node.node_id, event)))
    pool.seen = seen  # type: ignore[attr-defined]
    pool.start()
    assert pool.wait_connected(10)
    yield pool
    pool.stop()


def test_each_node_has_an_event_and_a_command_connection(pool: SwitchPool) -> None:
    for node in pool:
        assert len(node.connections) == 2 and node.commands is not node.events
        # the event connection does not take the bgapi results, the command connection only those
        assert "BACKGROUND_JOB" not in node.events._subscribed and node.events._subscribed
        assert node.commands._subscribed == {"BACKGROUND_JOB"}
        assert node.commands.subscription_command() == "event json BACKGROUND_JOB"
        assert not node.events.receives_jobs and node.commands.receives_jobs
        with pytest.raises(EslError, match="needs the BACKGROUND_JOB event"):
            node.events.bgapi("status")
        assert esl_metrics.CONNECTED.labels(f"{node.node_id}/commands")._value.get() == 1
        assert esl_metrics.CONNECTED.labels(node.node_id)._value.get() == 1


def test_commands_reach_their_node_and_replies_come_on_the_command_connection(
        pool: SwitchPool, two_switches: dict[str, Switch]) -> None:
    fs2 = pool.node("fs2")
    assert fs2.bgapi("status").startswith("UP ")
    result = fs2.bgapi("originate {origination_uuid=leg-on-fs2}user/1001@default &park()").strip()
    assert result == "+OK leg-on-fs2"
    assert [c.uuid for c in two_switches["fs2"].channels()] == ["leg-on-fs2"]
    assert not two_switches["fs1"].channels()
    # its events came on fs2's event connection, and ownership follows them
    seen = pool.seen  # type: ignore[attr-defined]
    assert wait_until(lambda: any(n == "fs2" and e.name == "CHANNEL_PARK" for n, e in seen))
    assert pool.for_channel("leg-on-fs2") is fs2
    rows = fs2.show_channels(after_events=True)
    assert [row["uuid"] for row in rows] == ["leg-on-fs2"]
    assert fs2.api("uuid_kill leg-on-fs2").startswith("+OK")
    assert wait_until(lambda: pool.owner("leg-on-fs2") is None)
    # no handler ever saw a bgapi result: they stay on the command connection
    assert not [e for _, e in seen if e.name == "BACKGROUND_JOB"]


@pytest.mark.parametrize("which", ["commands", "events"])
def test_a_node_is_usable_only_while_both_connections_are_up(pool: SwitchPool, which: str) -> None:
    fs1, fs2 = pool.node("fs1"), pool.node("fs2")
    ups: list[str] = []
    downs: list[str] = []
    pool.on_connected(lambda node: ups.append(node.node_id))
    pool.on_disconnected(lambda node: downs.append(node.node_id))
    conn: EslConnection = getattr(fs1, which)
    connects = esl_metrics.CONNECTS.labels(conn.metrics_label)._value.get()
    _close_socket(conn.sock)          # FreeSWITCH's side of one connection goes away
    assert wait_until(lambda: downs == ["fs1"])
    assert wait_until(lambda: esl_metrics.CONNECTS.labels(conn.metrics_label)._value.get() > connects)
    assert wait_until(lambda: ups == ["fs1"]) and fs1.connected
    assert downs == ["fs1"] and fs2.connected
    assert fs1.bgapi("status").startswith("UP ")          # and it works again


def test_a_node_whose_command_connection_cannot_connect_is_not_usable(two_switches: dict[str, Switch]) -> None:
    settings = settings_for(two_switches)
    address = ("fs1", "127.0.0.1", two_switches["fs1"].esl_port)
    events = EslConnection.from_settings(settings, ROUTING_EVENTS[:-1], node=address, jobs=False)
    commands = EslConnection("127.0.0.1", two_switches["fs1"].esl_port, "wrong-password", node_id="fs1",
                             events=("BACKGROUND_JOB",), reconnect_min_s=0.05, reconnect_max_s=0.1,
                             metrics_label="fs1/commands")
    node = SwitchNode(events, commands)
    ups: list[SwitchNode] = []
    node.on_connected(ups.append)
    node.start()
    try:
        assert events.wait_connected(5)
        assert not node.wait_connected(0.5)
        assert not node.connected and not ups
        assert "authentication" in (node.last_error or "")
        with pytest.raises(EslError, match="not connected"):
            node.api("status")
    finally:
        node.stop()


def test_a_pool_that_only_runs_commands_keeps_one_connection(two_switches: dict[str, Switch]) -> None:
    pool = SwitchPool.from_settings(settings_for(two_switches), ("BACKGROUND_JOB",))
    assert all(len(node.connections) == 1 and node.commands is node.events for node in pool)
    forced = SwitchPool.from_settings(settings_for(two_switches), ROUTING_EVENTS, command_connection=False)
    assert all(len(node.connections) == 1 and node.events.receives_jobs is False for node in forced)
    assert all("BACKGROUND_JOB" in (node.events.subscription_command() or "") for node in forced)
    pool.start()
    try:
        assert pool.wait_connected(10)
        assert pool.node("fs1").bgapi("status").startswith("UP ")
    finally:
        pool.stop()


def test_a_node_is_made_of_connections_to_one_node_that_can_run_bgapi() -> None:
    events = EslConnection("127.0.0.1", 1, PASSWORD, node_id="fs1", events=ROUTING_EVENTS[:-1], jobs=False)
    with pytest.raises(ConfigError, match="paired with node 'fs1'"):
        SwitchNode(events, EslConnection("127.0.0.1", 1, PASSWORD, node_id="fs2", events=("BACKGROUND_JOB",)))
    with pytest.raises(ConfigError, match="must take BACKGROUND_JOB"):
        SwitchNode(events, EslConnection("127.0.0.1", 1, PASSWORD, node_id="fs1", events=("CHANNEL_CREATE",),
                                         jobs=False))
    with pytest.raises(ConfigError, match="must take BACKGROUND_JOB"):
        SwitchNode(events, EslConnection("127.0.0.1", 1, PASSWORD, node_id="fs1", events=()))
    with pytest.raises(ConfigError, match="appears twice"):
        SwitchPool([SwitchNode(events), events])
    assert events.subscription_command() == "event plain " + " ".join(ROUTING_EVENTS[:-1])


# -- replies in event order --------------------------------------------------------------

def events_then_reply(count: int):  # type: ignore[no-untyped-def]
    """A FreeSWITCH that, asked `api status`, writes `count` events and then
    the reply in one go (as FreeSWITCH does when events were queued first)."""
    def session(sock: socket.socket, reader: RawReader, n: int) -> None:
        accept_session(sock, reader)
        while True:
            data = reader.read()
            if data is None:
                return
            if data.startswith("api "):
                events = b"".join(event_plain({"Event-Name": "CHANNEL_CREATE", "Unique-ID": f"u{i}"})
                                  for i in range(count))
                sock.sendall(events + api_response("+OK\n"))
            elif data == "exit\n\n":
                hold_open(sock, reader)
                return
    return session


@pytest.mark.parametrize("after_events", [False, True])
def test_a_reply_after_events_waits_for_their_handlers(after_events: bool, hub_errors: list) -> None:
    handled: list[str] = []

    def slow_handler(event: EslEvent) -> None:
        gevent.sleep(0.02)             # a handler that yields (publishing, say)
        handled.append(event.uuid or "")

    with FakeSwitch(events_then_reply(5)) as fs:
        conn = EslConnection("127.0.0.1", fs.port, PASSWORD, events=("CHANNEL_CREATE",))
        conn.on_event(slow_handler)
        conn.start()
        try:
            assert conn.wait_connected(5)
            assert conn.api("status", after_events=after_events) == "+OK\n"
            if after_events:
                assert handled == [f"u{i}" for i in range(5)]
            else:
                assert len(handled) < 5        # the reader resolved it at once
            assert wait_until(lambda: len(handled) == 5)
        finally:
            conn.stop()
    assert not hub_errors


def test_an_event_handler_may_not_wait_for_a_reply_in_event_order(hub_errors: list) -> None:
    errors: list[BaseException] = []

    def handler(event: EslEvent) -> None:
        if errors:
            return
        try:
            conn.api("status", after_events=True)
        except EslError as exc:
            errors.append(exc)

    with FakeSwitch(events_then_reply(1)) as fs:
        conn = EslConnection("127.0.0.1", fs.port, PASSWORD, events=("CHANNEL_CREATE",))
        conn.on_event(handler)
        conn.start()
        try:
            assert conn.wait_connected(5)
            assert conn.api("status") == "+OK\n"
            assert wait_until(lambda: bool(errors))
            assert "must not wait for a reply" in str(errors[0])
        finally:
            conn.stop()
    assert not hub_errors
