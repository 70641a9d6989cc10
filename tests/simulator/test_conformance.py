"""The simulator against the transcripts recorded from real FreeSWITCH 1.10.12.

Transcript 01 is replayed frame by frame and every reply must match the
recording exactly, apart from the normalised volatile values. Transcripts
02-05 are calls, replayed whole: the recorded client commands drive the same
call on the simulator. On every connection that received events (the inbound
event listener, and the outbound socket connection of scenario 2), every
channel - the caller's, the agent legs, the supervisor legs, the leg a
conference dials - and the events of no channel (BACKGROUND_JOB, the
conference::maintenance events) must see the same sequence of (event,
Application, Channel-Call-State, Answer-State, Action); each event must carry
the recorded headers with the same values (see _compare_event for what is
left out and why); and every command must get the same reply.
"""
from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any, Callable

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
# What is compared of each event, beyond its place in its channel's sequence (tr.event_key):
# - every header of the recorded event is present, except channel variables, of which only the
#   ones Hotline reads (tr.HOTLINE_HEADERS) must be there: the others are SIP/RTP details;
# - their values agree once the values that differ between two runs are made comparable (uuids
#   mapped to the simulator's, timestamps reduced to "set or not", ports, dates, the recordings
#   directory), except:
NOT_COMPARED_PREFIXES = (
    "Other-Leg-",  # FreeSWITCH shows a copy of the other leg's profile taken when the legs were joined
)
NOT_COMPARED = frozenset({
    # when a leg gets its own call uuid back at the end of a bridge depends on which thread gets there first
    "Channel-Call-UUID",
    # lengths of time depend on how fast the replay runs: only their presence is checked
    "variable_billsec", "variable_billusec", "variable_duration", "variable_answersec", "variable_waitsec",
    "variable_record_seconds", "variable_record_ms",
}) | frozenset(tr.VOLATILE)
TIME_SUFFIXES = ("-Time", "-Last-Hold", "-Hold-Accum", "_uepoch", "_epoch", "_usec")
DATE_RE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}")


def _outbound_race_filtered(conn: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if conn != "outbound-call":
        return events
    # FreeSWITCH delivers the socket's own CHANNEL_PARK only when its dispatch thread lags
    # behind "myevents" (the plain and json recordings of scenario 2 disagree): not compared.
    first_exec = next((i for i, ev in enumerate(events) if ev["Event-Name"] == "CHANNEL_EXECUTE"), len(events))
    return [ev for i, ev in enumerate(events) if not (ev["Event-Name"] == "CHANNEL_PARK" and i < first_exec)]


def _by_channel(conn: str, events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The events of one connection per channel (Unique-ID; "" for events of no channel), in
    order of first appearance."""
    streams: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        streams.setdefault(ev.get("Unique-ID", ""), []).append(ev)
    return {uuid: _outbound_race_filtered(conn, evs) for uuid, evs in streams.items()}


def _recorded_events(records: list[tr.Record], conn: str) -> list[dict[str, Any]]:
    out = []
    for rec in records:
        if rec.conn == conn and rec.dir == "recv":
            ev = rec.event()
            if ev is not None:
                out.append(ev)
    return out


def _uuid_mapping(replay: Replay, recorded: dict[str, Any], simulated: dict[str, Any]) -> dict[str, str]:
    """Recorded uuid -> the simulator's: what the replay learned, then the remaining channels in
    the order they first appear (a different order shows up as a different event sequence)."""
    mapping = {k: v for k, v in replay.uuid_map.items() if v in simulated}
    free = [uuid for uuid in simulated if uuid and uuid not in mapping.values()]
    for uuid in recorded:
        if uuid and uuid not in mapping and free:
            mapping[uuid] = free.pop(0)
    mapping[""] = ""
    return mapping


def _canon(name: str, value: str, known: dict[str, str]) -> str:
    """A value made comparable: uuids through known (others anonymous), times set or not, ports, dates."""
    value = tr.UUID_RE.sub(lambda m: known.get(m.group(0), "<uuid>"), value)
    if name.endswith(TIME_SUFFIXES):
        return "0" if value == "0" else "<time>"
    value = re.sub(r"(?<=127\.0\.0\.1:)\d+", "<port>", value)
    value = re.sub(r"^\d{10}:", "<epoch>:", value)  # transfer sources start with the epoch second
    return DATE_RE.sub("<date>", value)


def _compare_event(where: str, recorded: dict[str, Any], simulated: dict[str, Any], mapping: dict[str, str],
                   rewrite: Callable[[str], str]) -> None:
    wanted = [h for h in recorded if h != "_body" and (not h.startswith("variable_") or h in tr.HOTLINE_HEADERS)]
    missing = [h for h in wanted if h not in simulated]
    assert not missing, f"{where} lacks {missing}"
    sim_uuids = {v: v for v in mapping.values() if v}
    differ = []
    for h in wanted:
        if h in NOT_COMPARED or h.startswith(NOT_COMPARED_PREFIXES):
            continue
        expected = _canon(h, rewrite(recorded[h]), mapping)
        actual = _canon(h, simulated[h], sim_uuids)
        if expected != actual:
            differ.append(f"{h}: recorded {expected!r} simulator {actual!r}")
    assert not differ, f"{where}:\n  " + "\n  ".join(differ)


def _compare_call(replay: Replay) -> None:
    """Every connection that received events, every channel on it (the caller, the agent and
    supervisor legs) and the events of no channel: the same sequence of tr.event_key, then each
    event's headers (see _compare_event); then the replies to every command."""
    conns = list(dict.fromkeys(rec.conn for rec in replay.records if rec.dir == "recv" and rec.event() is not None))
    assert conns, "nothing to compare"
    for conn in conns:
        recorded = _by_channel(conn, _recorded_events(replay.records, conn))
        client = replay.clients[conn]
        wanted = sum(len(evs) for evs in recorded.values())
        deadline = gevent.get_hub().loop.now() + 15.0
        while gevent.get_hub().loop.now() < deadline:
            if sum(len(evs) for evs in _by_channel(conn, client.events()).values()) >= wanted:
                break
            gevent.sleep(0.05)
        gevent.sleep(0.3)  # anything extra would show up now
        simulated = _by_channel(conn, client.events())
        mapping = _uuid_mapping(replay, recorded, simulated)
        extra = [uuid for uuid in simulated if uuid not in mapping.values()]
        assert not extra, f"{conn}: events of channels the recording does not have: {extra}"
        for uuid, rec_events in recorded.items():
            sim_events = simulated.get(mapping.get(uuid, "?"), [])
            expected = [tr.event_key(ev) for ev in rec_events]
            actual = [tr.event_key(ev) for ev in sim_events]
            assert actual == expected, _diff(f"{conn} {uuid or '(no channel)'}", expected, actual)
            for i, (ev_e, ev_a) in enumerate(zip(rec_events, sim_events)):
                where = f"{conn} {uuid or '(no channel)'} #{i} {ev_e['Event-Name']} {ev_e.get('Action', '')}"
                _compare_event(where, ev_e, ev_a, mapping, replay.rewrite)
    for sent in replay.sent:
        if sent.expected_reply is not None:
            _assert_reply_equivalent(sent.expected_reply, sent.actual_reply, sent.text.split("\n")[0])


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
        _compare_call(replay)
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
        _compare_call(replay)
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
        _compare_call(replay)
        complete = replay.clients["inbound-events"].wait_event("CHANNEL_HANGUP_COMPLETE", replay.call.uuid)
        assert complete["variable_hangup_cause"] == "NORMAL_CLEARING"
        assert complete["variable_bridge_uepoch"] == "0"
    finally:
        replay.close()


def test_05_registered_agents_hold_eavesdrop_transfer_conference(make_switch: Callable[..., Switch]) -> None:
    """The whole recording: hold, eavesdrop, whisper, blind transfer, the three-way conference, the
    caller leaving it (the CUSTOM conference::maintenance events included)."""
    records = tr.load("05-registered-agents-hold-eavesdrop-transfer-conference")
    # the recording machine had neither music on hold nor the sound files (conf-alone.wav fails)
    sw = make_switch(local_streams=(), sounds_installed=False)
    sw.add_extension("5001", [*PUBLIC_PREAMBLE, ("answer", ""), ("park", "")])
    sw.add_extension("5003", [*PUBLIC_PREAMBLE, ("bridge", "user/1002@127.0.0.1")])
    for user in ("1001", "1002", "supervisor"):
        sw.register_phone(user, PhoneScript(answer_after_s=0.01))
    replay = Replay(sw, records, ani="5551000", dnis="5001", caller_name="sipp", script=CallerScript(),
                    caller_hangs_up_as_recorded=True)
    try:
        replay.run()
        _compare_call(replay)
        # the caller left; the two agents are still in the conference, agent 1002 holding the floor
        listing = replay.clients["inbound-api"].api("conference 3way list")
        lines = [line.split(";") for line in listing.splitlines()]
        assert [(m[0], m[4], m[5]) for m in lines] == [("3", "1001", "hear|speak"), ("2", "1002", "hear|speak|floor")]
    finally:
        replay.close()


def test_every_recorded_transcript_is_replayed() -> None:
    replayed = {"01-inbound-auth-and-api", "02-ivr-call-to-agent-plain", "02-ivr-call-to-agent-json",
                "03-acd-park-originate-bridge", "04-caller-abandons-in-queue",
                "05-registered-agents-hold-eavesdrop-transfer-conference"}
    assert {path.stem for path in tr.TRANSCRIPTS.glob("*.jsonl")} == replayed
