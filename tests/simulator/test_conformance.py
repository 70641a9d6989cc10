"""The simulator against the transcripts recorded from real FreeSWITCH 1.10.12.

Transcript 01 is replayed frame by frame and every reply must match the
recording exactly, apart from the normalised volatile values. Transcripts
02-05 are calls: the recorded client commands drive the same call on the
simulator, and the caller's channel must see the same sequence of
(connection, event, Application, Channel-Call-State, Answer-State), the
commands must get the same replies, and every header Hotline reads that the
recording has must be there too.
"""
from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any, Callable, Optional

import gevent
import pytest

from hotline.simulator import CallerScript, PhoneScript, Switch

from . import transcripts as tr
from .esl_client import EslClient, Frame, OutboundServer
from .replay import Replay

pytestmark = [
    pytest.mark.freeswitch,
    pytest.mark.skipif(not tr.available(), reason="FreeSWITCH transcripts not found"),
]

PUBLIC_PREAMBLE = [("set", "outside_call=true"), ("export", "RFC2822_DATE=${strftime(%a, %d %b %Y %T %z)}")]


def test_01_inbound_auth_and_api_replies_match_byte_for_byte(switch: Switch) -> None:
    records = tr.load("01-inbound-auth-and-api")
    clients: dict[str, EslClient] = {}
    taken: dict[str, int] = {}
    for rec in records:
        if rec.conn not in clients:
            clients[rec.conn] = EslClient(socket.create_connection(("127.0.0.1", switch.esl_port)), name=rec.conn)
            taken[rec.conn] = 0
        client = clients[rec.conn]
        if rec.dir == "send":
            client.send(rec.data)
            continue
        index = taken[rec.conn]
        frame = client.wait_for(lambda f: True, start=index)
        taken[rec.conn] = index + 1
        assert tr.norm_frame(frame) == tr.norm_frame(rec.frame), (
            f"{rec.conn} frame {index}:\nrecorded {rec.data[:600]!r}\nsimulator {frame.raw[:600]!r}")
    # a refused password and an exit both end with the server closing the connection
    for client in clients.values():
        assert client.wait_closed(5)
        assert len(client.frames) == taken[client.name], client.frames[taken[client.name]:]
        client.close()


# -- calls -------------------------------------------------------------------------------
def _a_leg_events(frames: list[dict[str, Any]], uuid: str, conn: str) -> list[dict[str, Any]]:
    events = [ev for ev in frames if ev.get("Unique-ID") == uuid]
    if conn == "outbound-call":
        # FreeSWITCH delivers the socket's own CHANNEL_PARK only when its dispatch thread lags
        # behind "myevents" (the plain and json recordings of scenario 2 disagree): not compared.
        first_exec = next((i for i, ev in enumerate(events) if ev["Event-Name"] == "CHANNEL_EXECUTE"), len(events))
        events = [ev for i, ev in enumerate(events) if not (ev["Event-Name"] == "CHANNEL_PARK" and i < first_exec)]
    return events


def _a_leg_keys(frames: list[dict[str, Any]], uuid: str, conn: str) -> list[tuple[str, str, str, str]]:
    return [tr.event_key(ev) for ev in _a_leg_events(frames, uuid, conn)]


def _recorded_events(records: list[tr.Record], conn: str, upto: Optional[int] = None) -> list[dict[str, Any]]:
    out = []
    for rec in records[:upto]:
        if rec.conn == conn and rec.dir == "recv":
            ev = rec.event()
            if ev is not None:
                out.append(ev)
    return out


def _wait_count(client: EslClient, uuid: str, conn: str, count: int, timeout: float = 15.0) -> None:
    deadline = gevent.get_hub().loop.now() + timeout
    while len(_a_leg_keys(client.events(), uuid, conn)) < count and gevent.get_hub().loop.now() < deadline:
        gevent.sleep(0.05)
    gevent.sleep(0.3)  # anything extra would show up now


def _norm_body(text: str) -> str:
    text = tr.norm_text(text)
    return re.sub(r"(?<=127\.0\.0\.1:)\d+", "<port>", text)


def _assert_reply_equivalent(expected: Frame, actual: Frame, command: str) -> None:
    assert actual is not None, command
    if expected.get("Event-Name") == "CHANNEL_DATA":  # the outbound connect reply
        assert actual.get("Event-Name") == "CHANNEL_DATA"
        for name in ("Content-Type", "Reply-Text", "Socket-Mode", "Control"):
            assert actual.get(name) == expected.get(name), (name, actual.get(name))
        wanted = [k for k, _ in expected.headers if not k.startswith("variable_")]
        have = {k for k, _ in actual.headers}
        missing = [k for k in wanted if k not in have and not k.startswith(("Channel-Read", "Channel-Write"))]
        assert not missing, f"connect reply lacks {missing}"
        return
    assert actual.content_type == expected.content_type, command
    if expected.content_type == "command/reply":
        assert tr.norm_text(actual.get("Reply-Text") or "") == tr.norm_text(expected.get("Reply-Text") or ""), command
        assert [k for k, _ in actual.headers] == [k for k, _ in expected.headers], command
        return
    body_e, body_a = expected.body, actual.body
    if body_e.startswith("{"):
        je, ja = json.loads(body_e), json.loads(body_a)
        if "row_count" in je:
            assert ja["row_count"] == je["row_count"], (command, ja)
            for row_e, row_a in zip(je.get("rows", []), ja.get("rows", [])):
                assert list(row_a) == list(row_e), command
        else:  # uuid_dump json: everything Hotline reads is there
            wanted = [k for k in je if k in tr.HOTLINE_HEADERS]
            assert [k for k in wanted if k not in ja] == [], command
            assert ja["Event-Name"] == je["Event-Name"]
        return
    if body_e.startswith("\nRegistrations:"):
        assert body_a.split("\n")[:3] == body_e.split("\n")[:3], command
        return
    assert _norm_body(body_a) == _norm_body(body_e), command


def _compare_call(replay: Replay, conns: list[str], upto: Optional[int] = None) -> None:
    records = replay.records
    sim_a = replay.call.uuid
    for conn in conns:
        recorded = _recorded_events(records, conn, upto)
        expected = _a_leg_keys(recorded, replay.recorded_a, conn)
        assert len(expected) > 5, f"{conn}: nothing to compare"
        client = replay.clients[conn]
        _wait_count(client, sim_a, conn, len(expected))
        simulated = client.events()
        actual = _a_leg_keys(simulated, sim_a, conn)
        if upto is not None:
            actual = actual[: len(expected)]
        assert actual == expected, _diff(conn, expected, actual)
        # every header Hotline reads, present in the recording, is present in the simulator's event
        rec_events = _a_leg_events(recorded, replay.recorded_a, conn)
        sim_events = _a_leg_events(simulated, sim_a, conn)
        for ev_e, ev_a in zip(rec_events, sim_events):
            missing = [h for h in tr.HOTLINE_HEADERS if h in ev_e and h not in ev_a]
            assert not missing, f"{conn} {ev_e['Event-Name']} lacks {missing}"
    for sent in replay.sent:
        if sent.expected_reply is not None:
            _assert_reply_equivalent(sent.expected_reply, sent.actual_reply, sent.text.split("\n")[0])


def _diff(conn: str, expected: list[Any], actual: list[Any]) -> str:
    lines = [f"{conn}: event sequence differs"]
    for i in range(max(len(expected), len(actual))):
        e = expected[i] if i < len(expected) else None
        a = actual[i] if i < len(actual) else None
        lines.append(f"{'  ' if e == a else '!!'} {i:3} recorded={e} simulator={a}")
    return "\n".join(lines)


def _recordings_rewrite(tmp_path: Path) -> Callable[[str], str]:
    target = str(tmp_path / "recordings") + "/"
    return lambda text: text.replace("/var/lib/freeswitch/recordings/", target)


@pytest.mark.parametrize("variant", ["plain", "json"])
def test_02_ivr_call_to_agent(variant: str, make_switch: Callable[..., Switch], outbound_server: OutboundServer,
                              tmp_path: Path) -> None:
    records = tr.load(f"02-ivr-call-to-agent-{variant}")
    sw = make_switch(media_scale=0.2)
    sw.add_extension("5000", [*PUBLIC_PREAMBLE, ("socket", f"127.0.0.1:{outbound_server.port} async full")])
    sw.register_phone("1001", PhoneScript(answer_after_s=0.01))
    replay = Replay(sw, records, ani="sipp", dnis="5000", caller_name="sipp", script=CallerScript(talk_s=0.3),
                    outbound=outbound_server, rewrite=_recordings_rewrite(tmp_path))
    try:
        replay.run()
        _compare_call(replay, ["inbound-events", "outbound-call"])
        menu = [ev for ev in replay.clients["outbound-call"].events(replay.call.uuid)
                if ev.get("Application") == "play_and_get_digits" and ev["Event-Name"] == "CHANNEL_EXECUTE_COMPLETE"]
        assert menu[0]["variable_menu_choice"] == "2" and menu[0]["variable_read_result"] == "success"
        # the stereo recording the IVR started is a real file
        import wave

        with wave.open(str(tmp_path / "recordings" / f"{replay.call.uuid}.wav")) as w:
            assert (w.getnchannels(), w.getframerate()) == (2, 8000) and w.getnframes() > 0
    finally:
        replay.close()


def test_03_acd_park_originate_bridge(make_switch: Callable[..., Switch], tmp_path: Path) -> None:
    records = tr.load("03-acd-park-originate-bridge")
    sw = make_switch(local_streams=())
    sw.add_extension("5001", [*PUBLIC_PREAMBLE, ("answer", ""), ("park", "")])
    sw.register_phone("1001", PhoneScript(answer_after_s=0.01))
    replay = Replay(sw, records, ani="sipp", dnis="5001", caller_name="sipp", script=CallerScript(),
                    rewrite=_recordings_rewrite(tmp_path))
    try:
        replay.run()
        _compare_call(replay, ["inbound-events"])
        agent = [ev for ev in replay.clients["inbound-events"].events() if ev.get("Event-Name") == "CHANNEL_CREATE"
                 and ev.get("Call-Direction") == "outbound"][0]
        assert agent["variable_hotline_role"] == "agent"
    finally:
        replay.close()


def test_04_caller_abandons_in_queue(make_switch: Callable[..., Switch]) -> None:
    records = tr.load("04-caller-abandons-in-queue")
    sw = make_switch(local_streams=())  # the recording machine had no music on hold installed
    sw.add_extension("5001", [*PUBLIC_PREAMBLE, ("answer", ""), ("park", "")])
    replay = Replay(sw, records, ani="sipp", dnis="5001", caller_name="sipp", script=CallerScript(patience_s=0.6))
    try:
        replay.run()
        _compare_call(replay, ["inbound-events"])
        complete = replay.clients["inbound-events"].wait_event("CHANNEL_HANGUP_COMPLETE", replay.call.uuid)
        assert complete["variable_hangup_cause"] == "NORMAL_CLEARING"
        assert complete["variable_bridge_uepoch"] == "0"
    finally:
        replay.close()


def test_05_registered_agents_hold_transfer(make_switch: Callable[..., Switch]) -> None:
    """Up to the three-way conference, which the simulator does not implement."""
    records = tr.load("05-registered-agents-hold-eavesdrop-transfer-conference")
    sw = make_switch(local_streams=())
    sw.add_extension("5001", [*PUBLIC_PREAMBLE, ("answer", ""), ("park", "")])
    sw.add_extension("5003", [*PUBLIC_PREAMBLE, ("bridge", "user/1002@127.0.0.1")])
    for user in ("1001", "1002", "supervisor"):
        sw.register_phone(user, PhoneScript(answer_after_s=0.01))
    replay = Replay(sw, records, ani="5551000", dnis="5001", caller_name="sipp", script=CallerScript(),
                    stop_before=lambda rec: rec.dir == "send" and rec.command.startswith("api ") and "conference" in rec.command)
    try:
        replay.run()
        _compare_call(replay, ["inbound-events"], upto=replay.stopped_at)
    finally:
        replay.close()
