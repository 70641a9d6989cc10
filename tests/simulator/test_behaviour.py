"""What the simulator does beyond the recorded scenarios: refusals, timeouts,
abandons, recordings, restarts, bad input. Each test talks ESL over TCP."""
from __future__ import annotations

import os
import socket
import time
import wave
from pathlib import Path
from typing import Callable

import gevent
import pytest

from hotline.simulator import CallerScript, PhoneScript, Switch
from hotline.simulator.wire import url_encode

from .esl_client import EslClient, OutboundServer

pytestmark = pytest.mark.freeswitch


def _sendmsg(app: str, arg: str = "", event_uuid: str = "", uuid: str = "") -> str:
    lines = [f"sendmsg {uuid}".rstrip(), "call-command: execute", f"execute-app-name: {app}"]
    if arg:
        lines.append(f"execute-app-arg: {arg}")
    if event_uuid:
        lines.append(f"Event-UUID: {event_uuid}")
    lines.append("event-lock: true")
    return "\n".join(lines) + "\n\n"


def _names(events: list[dict[str, str]]) -> list[str]:
    return [ev["Event-Name"] for ev in events]


# -- refusals and bad input --------------------------------------------------------------
def test_wrong_password_is_refused_and_disconnected(switch: Switch) -> None:
    client = EslClient.connect(switch.esl_port, password=None)
    reply = client.command("auth not-the-password")
    assert reply.get("Reply-Text") == "-ERR invalid"
    notice = client.wait_for(lambda f: f.content_type == "text/disconnect-notice")
    assert notice.body == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    assert client.wait_closed()
    client.close()


def test_commands_before_auth_are_not_found(switch: Switch) -> None:
    client = EslClient.connect(switch.esl_port, password=None)
    assert client.command("api status").get("Reply-Text") == "-ERR command not found"
    assert client.command("auth ClueCon").get("Reply-Text") == "+OK accepted"
    assert client.api("uuid_exists nope") == "false"
    client.close()


def test_garbage_gets_command_not_found_and_the_server_keeps_working(switch: Switch) -> None:
    client = EslClient.connect(switch.esl_port)
    assert client.command("hello world").get("Reply-Text") == "-ERR command not found"
    client.send("\r\n\r\n")  # blank lines are skipped, as read_packet() does
    raw = "\x00\x01\xff garbage \x7f".encode("latin-1") + b"\n\n"
    client.sock.sendall(raw)
    assert client.next_reply().get("Reply-Text") == "-ERR command not found"
    assert client.api("no_such_command") == "-ERR no_such_command Command not found!\n"
    assert client.api("uuid_kill 00000000-0000-0000-0000-000000000000") == "-ERR No such channel!\n"
    assert client.api("status").startswith("UP ")
    # a second client is served as well
    other = EslClient.connect(switch.esl_port)
    assert other.api("version").startswith("FreeSWITCH Version 1.10.12")
    other.close()
    client.close()


def test_event_subscription_filter_and_reply_texts(switch: Switch) -> None:
    client = EslClient.connect(switch.esl_port)
    assert client.command("event plain").get("Reply-Text") == "-ERR no keywords supplied"
    assert client.command("event json CHANNEL_CREATE CHANNEL_ANSWER").get("Reply-Text") == "+OK event listener enabled json"
    assert client.command("nixevent CHANNEL_ANSWER").get("Reply-Text") == "+OK events nixed"
    assert client.command("filter Caller-Destination-Number 7000").get("Reply-Text") == \
        "+OK filter added. [Caller-Destination-Number]=[7000]"
    assert client.command("filter bogus").get("Reply-Text") == "-ERR invalid syntax"
    switch.place_call(ani="100", dnis="6000", script=CallerScript(patience_s=0.2))
    wanted = switch.place_call(ani="200", dnis="7000", script=CallerScript(patience_s=0.2))
    created = client.wait_event("CHANNEL_CREATE")
    assert created["Unique-ID"] == wanted.uuid
    gevent.sleep(0.3)
    assert [ev["Unique-ID"] for ev in client.events()] == [wanted.uuid]  # no ANSWER (nixed), no other call
    assert client.command("filter delete Caller-Destination-Number").get("Reply-Text") == \
        "+OK filter deleted. [Caller-Destination-Number][]"
    assert client.command("noevents").get("Reply-Text") == "+OK no longer listening for events"
    assert client.command("noevents").get("Reply-Text") == "-ERR not listening for events"
    assert client.command("linger").get("Reply-Text") == "-ERR not controlling a session"
    client.close()


def test_url_encoding_is_freeswitch_s() -> None:
    assert url_encode("sofia/external/sipp@127.0.0.1:5070") == "sofia/external/sipp%40127.0.0.1%3A5070"
    assert url_encode("Mon, 23 Nov 2026 07:44:58 +0000") == "Mon,%2023%20Nov%202026%2007%3A44%3A58%20%2B0000"
    assert url_encode("tone_stream://%(300,100,440)") == "tone_stream%3A//%25(300,100,440)"
    assert url_encode("+OK\n") == "%2BOK%0A"
    assert url_encode("a%2Bb") == "a%2Bb"  # an escape already there is kept (no double encoding)
    assert url_encode("\\d é") == "%5Cd%20%C3%A9"


# -- bgapi ----------------------------------------------------------------------------
def test_bgapi_job_uuid_correlates_reply_and_background_job(switch: Switch) -> None:
    client = EslClient.connect(switch.esl_port)
    client.command("event plain BACKGROUND_JOB")
    jobs = {}
    for cmd in ("status", "version", "uuid_exists nope", "no_such_thing now"):
        reply = client.command(f"bgapi {cmd}")
        job = reply.get("Job-UUID")
        assert reply.get("Reply-Text") == f"+OK Job-UUID: {job}"
        jobs[job] = cmd
    client.send("bgapi hostname\nJob-UUID: 11111111-2222-3333-4444-555555555555\n\n")
    assert client.next_reply().get("Job-UUID") == "11111111-2222-3333-4444-555555555555"
    jobs["11111111-2222-3333-4444-555555555555"] = "hostname"
    deadline = time.monotonic() + 5
    while len(client.events()) < len(jobs) and time.monotonic() < deadline:
        gevent.sleep(0.05)
    results = {ev["Job-UUID"]: ev for ev in client.events()}
    assert set(results) == set(jobs)
    for job, cmd in jobs.items():
        name, _, arg = cmd.partition(" ")
        ev = results[job]
        assert ev["Job-Command"] == name
        assert ev.get("Job-Command-Arg") == (arg or None)
    assert results[next(j for j, c in jobs.items() if c == "uuid_exists nope")]["_body"] == "false"
    assert results[next(j for j, c in jobs.items() if c.startswith("no_such"))]["_body"] == \
        "-ERR no_such_thing Command not found!\n"
    client.close()


# -- originate ---------------------------------------------------------------------------
def test_originate_to_a_phone_that_never_answers_fails_with_no_answer(switch: Switch) -> None:
    switch.register_phone("1001", PhoneScript(answers=False))
    client = EslClient.connect(switch.esl_port)
    client.command("event plain CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_HANGUP CHANNEL_DESTROY")
    started = time.monotonic()
    reply = client.api("originate {originate_timeout=1,hotline_role=agent}user/1001 &park()")
    assert reply == "-ERR NO_ANSWER\n"
    assert time.monotonic() - started >= 1.0
    hangup = client.wait_event("CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "NO_ANSWER" and hangup["variable_hotline_role"] == "agent"
    client.wait_event("CHANNEL_DESTROY")
    assert _names(client.events()) == ["CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_HANGUP", "CHANNEL_DESTROY"]
    client.close()


def test_originate_failures_name_freeswitch_causes(switch: Switch) -> None:
    switch.register_phone("1002", PhoneScript(reject_cause="USER_BUSY"))
    client = EslClient.connect(switch.esl_port)
    assert client.api("originate user/1009@127.0.0.1 &park()") == "-ERR USER_NOT_REGISTERED\n"
    assert client.api("originate sofia/internal/9999@127.0.0.1:5999 &park()") == "-ERR NORMAL_TEMPORARY_FAILURE\n"
    assert client.api("originate user/1002 &park()") == "-ERR USER_BUSY\n"
    assert client.api("originate loopback/1000 &park()") == "-ERR CHAN_NOT_IMPLEMENTED\n"
    assert client.api("originate user/1001").startswith("-USAGE: ")
    client.close()


def test_originate_sets_variables_and_uuid_on_the_agent_leg(switch: Switch) -> None:
    switch.register_phone("1001", PhoneScript(answer_after_s=0.05))
    client = EslClient.connect(switch.esl_port)
    client.command("event plain CHANNEL_ANSWER CHANNEL_PARK")
    leg = "7d3a1c52-1b3a-4a57-9b0a-3f4e3c2b1a00"
    reply = client.api(f"originate {{origination_uuid={leg},origination_caller_id_number=5001,"
                       f"hotline_call_uuid=abc,hotline_role=agent}}user/1001@127.0.0.1 &park()")
    assert reply == f"+OK {leg}\n"
    park = client.wait_event("CHANNEL_PARK", leg)
    assert park["variable_hotline_call_uuid"] == "abc" and park["variable_hotline_role"] == "agent"
    assert park["Call-Direction"] == "outbound"
    # as in the recordings: the origination number until the answer, then the phone's identity
    assert client.wait_event("CHANNEL_ANSWER", leg)["Caller-Caller-ID-Number"] == "5001"
    assert (park["Caller-Caller-ID-Name"], park["Caller-Caller-ID-Number"]) == ("Outbound Call", "1001")
    assert park["Caller-Callee-ID-Number"] == "5001"
    assert client.api(f"uuid_getvar {leg} hotline_role") == "agent"
    assert client.api(f"uuid_getvar {leg} nothing_here") == "_undef_"
    assert client.api(f"uuid_kill {leg}") == "+OK\n"
    client.close()


# -- the scripted caller ---------------------------------------------------------------------
def test_caller_with_patience_abandons_while_parked(make_switch: Callable[..., Switch]) -> None:
    sw = make_switch()
    client = EslClient.connect(sw.esl_port)
    client.command("event plain ALL")
    call = sw.place_call(ani="+15551234", dnis="4000", caller_name="Alice", script=CallerScript(patience_s=0.4))
    assert call.wait_hangup(5)
    assert call.hangup_cause == "NORMAL_CLEARING"
    client.wait_event("CHANNEL_DESTROY", call.uuid)
    names = [n for n in _names(client.events(call.uuid)) if n not in ("CHANNEL_STATE", "CHANNEL_CALLSTATE")]
    assert names == [
        "CHANNEL_CREATE", "CHANNEL_EXECUTE", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER",
        "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_PARK", "CHANNEL_HANGUP", "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY",
    ]
    complete = client.wait_event("CHANNEL_HANGUP_COMPLETE", call.uuid)
    assert complete["Caller-Caller-ID-Name"] == "Alice" and complete["Caller-ANI"] == "+15551234"
    assert complete["variable_sip_hangup_disposition"] == "recv_bye"
    assert int(complete["variable_billusec"]) > 300_000
    assert complete["variable_bridge_uepoch"] == "0" and complete["variable_answersec"] == "0"
    assert int(complete["variable_end_uepoch"]) > int(complete["variable_start_uepoch"])
    assert sw.channels() == []
    client.close()


def test_caller_presses_digits_for_each_collection(make_switch: Callable[..., Switch],
                                                    outbound_server: OutboundServer) -> None:
    sw = make_switch()
    sw.add_extension("5000", [("socket", f"127.0.0.1:{outbound_server.port} async full")])
    call = sw.place_call(ani="100", dnis="5000", script=CallerScript(digits="7 12#", digit_delay_s=0.05))
    out = outbound_server.accept()
    assert out.command("connect").get("Unique-ID") == call.uuid
    assert out.command("myevents").get("Reply-Text") == "+OK Events Enabled"
    out.command(_sendmsg("answer"))
    out.command(_sendmsg("play_and_get_digits", "1 1 2 2000 # silence_stream://100 silence_stream://50 first \\d",
                         event_uuid="aaaaaaaa-0000-0000-0000-000000000001"))
    out.command(_sendmsg("play_and_get_digits", "1 4 1 2000 # silence_stream://100 none second ^\\d+$",
                         event_uuid="aaaaaaaa-0000-0000-0000-000000000002"))
    out.command(_sendmsg("play_and_get_digits", "1 1 2 300 # silence_stream://50 silence_stream://50 third \\d",
                         event_uuid="aaaaaaaa-0000-0000-0000-000000000003"))
    done = [out.wait_event("CHANNEL_EXECUTE_COMPLETE", call.uuid, timeout=10,
                           pred=lambda ev, n=n: ev.get("Application-UUID") == f"aaaaaaaa-0000-0000-0000-00000000000{n}")
            for n in (1, 2, 3)]
    assert (done[0]["variable_first"], done[0]["variable_read_result"]) == ("7", "success")
    assert (done[1]["variable_second"], done[1]["variable_read_result"]) == ("12", "success")
    assert done[2]["variable_read_result"] == "timeout" and "variable_third" not in done[2]
    digits = [ev["DTMF-Digit"] for ev in out.events(call.uuid) if ev["Event-Name"] == "DTMF"]
    assert digits == ["7", "1", "2", "#"]
    assert {ev["DTMF-Source"] for ev in out.events(call.uuid) if ev["Event-Name"] == "DTMF"} == {"RTP"}
    out.close()
    assert call.wait_hangup(5)  # the socket client went away: the call ends


def test_sendmsg_event_uuid_names_the_application_and_unknown_apps_hang_up(
        make_switch: Callable[..., Switch], outbound_server: OutboundServer) -> None:
    sw = make_switch()
    sw.add_extension("5000", [("socket", f"127.0.0.1:{outbound_server.port} async full")])
    call = sw.place_call(ani="100", dnis="5000")
    out = outbound_server.accept()
    out.command("connect")
    out.command("myevents json")
    out.command(_sendmsg("set", "foo=bar", event_uuid="0f0f0f0f-1111-2222-3333-444444444444"))
    ev = out.wait_event("CHANNEL_EXECUTE_COMPLETE", call.uuid)
    assert ev["Application-UUID"] == "0f0f0f0f-1111-2222-3333-444444444444" and ev["variable_foo"] == "bar"
    assert out.frames[-1].content_type == "text/event-json"
    assert out.command(_sendmsg("no_such_app")).get("Reply-Text") == "+OK"
    hangup = out.wait_event("CHANNEL_HANGUP", call.uuid)
    assert hangup["Hangup-Cause"] == "DESTINATION_OUT_OF_ORDER"
    notice = out.wait_for(lambda f: f.content_type == "text/disconnect-notice")
    assert notice.get("Content-Disposition") == "disconnect" and notice.get("Controlled-Session-UUID") == call.uuid
    assert out.wait_closed()
    out.close()


def test_linger_keeps_the_socket_then_closes_it(make_switch: Callable[..., Switch],
                                                outbound_server: OutboundServer) -> None:
    sw = make_switch()
    sw.add_extension("5000", [("answer", ""), ("socket", f"127.0.0.1:{outbound_server.port} async full")])
    call = sw.place_call(ani="100", dnis="5000", script=CallerScript(patience_s=0.3))
    out = outbound_server.accept()
    out.command("connect")
    out.command("myevents")
    assert out.command("linger 1").get("Reply-Text") == "+OK will linger 1 seconds"
    notice = out.wait_for(lambda f: f.content_type == "text/disconnect-notice", timeout=5)
    assert notice.get("Content-Disposition") == "linger" and notice.get("Linger-Time") == "1"
    out.wait_event("CHANNEL_HANGUP_COMPLETE", call.uuid)
    assert not call.wait_destroyed(0.3)  # the lingering listener still holds the session
    assert out.wait_closed(4)
    assert out.frames[-1].get("Content-Disposition") == "disconnect"
    assert call.wait_destroyed(2)
    out.close()


def test_unreachable_socket_target_ends_the_call(make_switch: Callable[..., Switch]) -> None:
    sw = make_switch()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    sw.add_extension("5000", [("socket", f"127.0.0.1:{port} async full")])
    client = EslClient.connect(sw.esl_port)
    client.command("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP")
    call = sw.place_call(ani="100", dnis="5000")
    assert call.wait_hangup(5)
    assert call.hangup_cause == "NORMAL_CLEARING"
    client.wait_event("CHANNEL_HANGUP", call.uuid)
    assert _names(client.events(call.uuid)) == ["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"]
    client.close()


def test_static_socket_answers_sendmsg_when_the_application_is_done(
        make_switch: Callable[..., Switch], outbound_server: OutboundServer) -> None:
    sw = make_switch(media_scale=1.0)
    sw.add_extension("5000", [("answer", ""), ("socket", f"127.0.0.1:{outbound_server.port}")])
    call = sw.place_call(ani="100", dnis="5000")
    out = outbound_server.accept()
    reply = out.command("connect")
    assert (reply.get("Socket-Mode"), reply.get("Control")) == ("static", "single-channel")
    started = time.monotonic()
    assert out.command(_sendmsg("playback", "silence_stream://400")).get("Reply-Text") == "+OK"
    assert time.monotonic() - started >= 0.35
    assert out.command("api status").get("Reply-Text") == "-ERR command not found"  # not "full"
    out.close()
    assert call.wait_hangup(5)


# -- media: recordings, playback, hold ------------------------------------------------------
def _bridged_call(sw: Switch, client: EslClient) -> tuple[str, str]:
    sw.register_phone("1001", PhoneScript(answer_after_s=0.02))
    call = sw.place_call(ani="+15550000", dnis="5001")
    client.wait_event("CHANNEL_PARK", call.uuid)
    agent = "5f0e3a6b-0000-4000-8000-00000000a9e1"
    assert client.api(f"originate {{origination_uuid={agent}}}user/1001 &park()") == f"+OK {agent}\n"
    assert client.api(f"uuid_bridge {call.uuid} {agent}") == f"+OK {agent}\n"
    client.wait_event("CHANNEL_BRIDGE", call.uuid)
    return call.uuid, agent


def test_uuid_record_writes_a_stereo_wav(switch: Switch, tmp_path: Path) -> None:
    client = EslClient.connect(switch.esl_port)
    client.command("event plain CHANNEL_PARK CHANNEL_BRIDGE RECORD_START RECORD_STOP CHANNEL_HANGUP_COMPLETE")
    caller, agent = _bridged_call(switch, client)
    path = tmp_path / "rec" / "nested" / f"{caller}.wav"
    assert client.api(f"uuid_setvar {caller} RECORD_STEREO true") == "+OK\n"
    assert client.api(f"uuid_record {caller} start {path}") == "+OK Success\n"
    assert client.wait_event("RECORD_START", caller)["Record-File-Path"] == str(path)
    gevent.sleep(0.2)
    assert client.api(f"uuid_record {caller} mask {path}") == "+OK Success\n"
    gevent.sleep(0.1)
    assert client.api(f"uuid_record {caller} unmask {path}") == "+OK Success\n"
    gevent.sleep(0.1)
    assert client.api(f"uuid_record {caller} stop {path}") == "+OK Success\n"
    stop = client.wait_event("RECORD_STOP", caller)
    assert stop["Record-File-Path"] == str(path)
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000 and w.getsampwidth() == 2
        frames = w.getnframes()
        assert frames > 0
        pcm = w.readframes(frames)
    assert int(stop["variable_record_samples"]) == frames
    assert int(stop["variable_record_file_size"]) == os.path.getsize(path)
    # one silent span (the mask, about 0.1 s) with tone on both sides
    silent = [pcm[i:i + 4] == bytes(4) for i in range(0, len(pcm), 4)]
    runs, start = [], None
    for i, quiet in enumerate(silent + [False]):
        if quiet and start is None:
            start = i
        elif not quiet and start is not None:
            if i - start > 16:  # longer than a zero crossing
                runs.append((start, i))
            start = None
    assert len(runs) == 1, runs
    assert 0.05 * 8000 < runs[0][1] - runs[0][0] < 0.3 * 8000
    assert runs[0][0] > 0.1 * 8000 and runs[0][1] < frames - 0.05 * 8000
    assert client.api(f"uuid_record {caller} stop {path}") == "-ERR Cannot stop record session!\n"
    assert client.api("uuid_record 00000000-0000-0000-0000-000000000000 start /tmp/x.wav") == \
        "-ERR Cannot locate session!\n"
    # without RECORD_STEREO: mono
    mono = tmp_path / "mono.wav"
    client.api(f"uuid_record {agent} start {mono}")
    client.api(f"uuid_record {agent} stop {mono}")
    with wave.open(str(mono)) as w:
        assert w.getnchannels() == 1 and w.getnframes() > 0
    client.close()


def test_hold_accumulates_and_calls_show_the_bridge(switch: Switch) -> None:
    client = EslClient.connect(switch.esl_port)
    client.command("event plain CHANNEL_PARK CHANNEL_BRIDGE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_HANGUP_COMPLETE")
    caller, agent = _bridged_call(switch, client)
    calls = __import__("json").loads(client.api("show calls as json"))
    assert calls["row_count"] == 1 and calls["rows"][0]["uuid"] == caller and calls["rows"][0]["b_uuid"] == agent
    channels = __import__("json").loads(client.api("show channels as json"))
    assert channels["row_count"] == 2
    assert client.api(f"uuid_hold {caller}") == "+OK Success\n"
    assert client.wait_event("CHANNEL_HOLD", caller)["Channel-Call-State"] == "HELD"
    gevent.sleep(0.2)
    assert client.api(f"uuid_hold off {caller}") == "+OK Success\n"
    client.wait_event("CHANNEL_UNHOLD", caller)
    assert client.api("uuid_hold 00000000-0000-0000-0000-000000000000") == "-ERR Operation Failed\n"
    assert client.api("hupall") == "+OK hangup all channels with cause MANAGER_REQUEST\n"
    complete = client.wait_event("CHANNEL_HANGUP_COMPLETE", caller)
    assert int(complete["variable_hold_accum_usec"]) >= 150_000
    assert complete["Other-Leg-Unique-ID"] == agent
    assert int(complete["variable_bridge_uepoch"]) > 0
    client.close()


def test_broadcast_music_on_hold_loops_until_break(switch: Switch) -> None:
    client = EslClient.connect(switch.esl_port)
    client.command("event plain CHANNEL_PARK PLAYBACK_START PLAYBACK_STOP CHANNEL_EXECUTE_COMPLETE")
    call = switch.place_call(ani="1", dnis="5001")
    client.wait_event("CHANNEL_PARK", call.uuid)
    assert client.api(f"uuid_broadcast {call.uuid} local_stream://moh aleg") == "+OK Message sent\n"
    start = client.wait_event("PLAYBACK_START", call.uuid)
    assert start["Playback-File-Type"] == "local_stream"
    gevent.sleep(0.3)
    assert not any(ev["Event-Name"] == "PLAYBACK_STOP" for ev in client.events(call.uuid))
    assert client.api(f"uuid_break {call.uuid}") == "+OK\n"
    stop = client.wait_event("PLAYBACK_STOP", call.uuid)
    assert stop["Playback-Status"] == "break"
    done = client.wait_event("CHANNEL_EXECUTE_COMPLETE", call.uuid, pred=lambda ev: ev["Application"] == "playback")
    assert done["Application-Response"] == "FILE PLAYED"
    assert client.api(f"uuid_broadcast {call.uuid} /nonexistent/file.wav") == "+OK Message sent\n"
    done = client.wait_event("CHANNEL_EXECUTE_COMPLETE", call.uuid,
                             pred=lambda ev: ev.get("Application-Data") == "/nonexistent/file.wav")
    assert done["Application-Response"] == "FILE NOT FOUND"
    call.hangup()
    client.close()


# -- restart --------------------------------------------------------------------------------
def test_restart_drops_connections_and_channels_and_listens_again(switch: Switch) -> None:
    port = switch.esl_port
    client = EslClient.connect(port)
    old_core = client.wait_for(lambda f: True, start=0) and None
    client.command("event plain CHANNEL_PARK")
    call = switch.place_call(ani="1", dnis="5001")
    client.wait_event("CHANNEL_PARK", call.uuid)
    core_before = client.events()[0]["Core-UUID"]
    assert len(switch.channels()) == 1
    switch.restart()
    assert client.wait_closed(5)
    assert switch.channels() == []
    assert switch.esl_port == port
    again = EslClient.connect(port)
    assert again.api(f"uuid_exists {call.uuid}") == "false"
    assert again.api("show channels as json") == '{"row_count": 0}\n'
    again.command("event plain CHANNEL_CREATE")
    second = switch.place_call(ani="2", dnis="5001")
    created = again.wait_event("CHANNEL_CREATE", second.uuid)
    assert created["Core-UUID"] != core_before
    assert old_core is None
    again.close()
    client.close()


# -- bridging, transfer, socket client going away ------------------------------------------
def test_bridge_failure_hangs_up_unless_continue_on_fail(make_switch: Callable[..., Switch],
                                                         outbound_server: OutboundServer) -> None:
    sw = make_switch()
    sw.add_extension("5000", [("socket", f"127.0.0.1:{outbound_server.port} async full")])
    first = sw.place_call(ani="100", dnis="5000")
    out = outbound_server.accept()
    out.command("connect")
    out.command("myevents")
    out.command(_sendmsg("set", "continue_on_fail=true"))
    out.command(_sendmsg("bridge", "user/4040"))
    done = out.wait_event("CHANNEL_EXECUTE_COMPLETE", first.uuid, pred=lambda ev: ev["Application"] == "bridge")
    assert done["variable_originate_disposition"] == "USER_NOT_REGISTERED"
    assert done["variable_DIALSTATUS"] == "CHANUNAVAIL" and done["Answer-State"] != "hangup"
    out.command(_sendmsg("set", "continue_on_fail=false"))
    out.command(_sendmsg("bridge", "user/4040"))
    assert out.wait_event("CHANNEL_HANGUP", first.uuid)["Hangup-Cause"] == "USER_NOT_REGISTERED"
    out.close()


def test_socket_client_leaving_mid_bridge_ends_the_call_after_the_bridge(
        make_switch: Callable[..., Switch], outbound_server: OutboundServer) -> None:
    sw = make_switch()
    sw.add_extension("5000", [("answer", ""), ("socket", f"127.0.0.1:{outbound_server.port} async full")])
    sw.register_phone("1001", PhoneScript(answer_after_s=0.02, hangup_after_s=1.0))
    events = EslClient.connect(sw.esl_port)
    events.command("event plain CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP")
    call = sw.place_call(ani="100", dnis="5000")
    out = outbound_server.accept()
    out.command("connect")
    out.command(_sendmsg("bridge", "user/1001"))
    events.wait_event("CHANNEL_BRIDGE", call.uuid)
    out.close()  # the IVR process dies while the caller talks to the agent
    assert not call.wait_hangup(0.3)  # the bridge goes on
    hangup = events.wait_event("CHANNEL_HANGUP", call.uuid, timeout=5)
    assert hangup["Hangup-Cause"] == "NORMAL_CLEARING"
    names = _names(events.events(call.uuid))
    assert names == ["CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP"]
    events.close()


def test_uuid_transfer_moves_a_parked_caller_to_another_extension(make_switch: Callable[..., Switch]) -> None:
    sw = make_switch()
    sw.add_extension("5001", [("answer", ""), ("park", "")])
    sw.add_extension("6000", [("set", "hotline_queue=support"), ("bridge", "user/1001")])
    sw.register_phone("1001", PhoneScript(answer_after_s=0.02))
    client = EslClient.connect(sw.esl_port)
    client.command("event plain CHANNEL_PARK CHANNEL_UNPARK CHANNEL_EXECUTE CHANNEL_BRIDGE")
    call = sw.place_call(ani="100", dnis="5001", script=CallerScript(talk_s=0.2))
    client.wait_event("CHANNEL_PARK", call.uuid)
    assert client.api(f"uuid_transfer {call.uuid} 6000 XML public") == "+OK\n"
    bridge = client.wait_event("CHANNEL_BRIDGE", call.uuid)
    assert bridge["Caller-Destination-Number"] == "6000" and bridge["Caller-RDNIS"] == "5001"
    assert bridge["variable_hotline_queue"] == "support" and bridge["Other-Leg-Destination-Number"] == "1001"
    apps = [(ev["Event-Name"], ev.get("Application")) for ev in client.events(call.uuid)]
    assert apps[:5] == [("CHANNEL_EXECUTE", "answer"), ("CHANNEL_EXECUTE", "park"), ("CHANNEL_PARK", None),
                        ("CHANNEL_UNPARK", None), ("CHANNEL_EXECUTE", "set")]
    assert call.wait_hangup(5)
    assert client.api(f"uuid_transfer {call.uuid} 6000") in ("+OK\n", "-ERR No such channel!\n")
    client.close()


def test_inbound_myevents_and_sendmsg_control_one_parked_call(switch: Switch) -> None:
    watcher = EslClient.connect(switch.esl_port)
    watcher.command("event plain CHANNEL_PARK")
    other = switch.place_call(ani="1", dnis="5001")
    call = switch.place_call(ani="2", dnis="5001")
    watcher.wait_event("CHANNEL_PARK", call.uuid)
    client = EslClient.connect(switch.esl_port)
    assert client.command("myevents 00000000-0000-0000-0000-000000000000 plain").get("Reply-Text") == \
        "-ERR invalid uuid"
    assert client.command(f"myevents {call.uuid}").get("Reply-Text") == "+OK Events Enabled"
    assert client.command(_sendmsg("playback", "silence_stream://200", uuid=call.uuid)).get("Reply-Text") == "+OK"
    assert client.command(_sendmsg("playback", "x", uuid="nope")).get("Reply-Text") == "-ERR invalid session id [nope]"
    client.wait_event("CHANNEL_EXECUTE_COMPLETE", call.uuid, pred=lambda ev: ev["Application"] == "playback")
    other.hangup()
    call.hangup()
    client.wait_event("CHANNEL_HANGUP", call.uuid)
    notice = client.wait_for(lambda f: f.content_type == "text/disconnect-notice")
    assert notice.get("Controlled-Session-UUID") == call.uuid
    assert client.wait_closed()
    assert {ev["Unique-ID"] for ev in client.events()} == {call.uuid}
    client.close()
    watcher.close()


def test_uuid_transfer_bleg_without_another_leg_moves_the_named_channel(switch: Switch) -> None:
    switch.add_extension("6000", [("answer", ""), ("park", "")])
    client = EslClient.connect(switch.esl_port)
    client.command("event plain CHANNEL_PARK")
    call = switch.place_call(ani="100", dnis="5001")
    client.wait_event("CHANNEL_PARK", call.uuid)
    assert client.api(f"uuid_transfer {call.uuid} -bleg 6000 XML public") == "+OK\n"  # transfer_function()
    moved = client.wait_event("CHANNEL_PARK", call.uuid, pred=lambda ev: ev["Caller-Destination-Number"] == "6000")
    assert moved["Caller-RDNIS"] == "5001"
    call.hangup()
    client.close()


# -- conference --------------------------------------------------------------------------------
def test_a_conference_lives_from_its_first_member_to_its_last(make_switch: Callable[..., Switch]) -> None:
    sw = make_switch(local_streams=())
    sw.add_extension("7000", [("answer", ""), ("conference", "support@default")])
    sw.register_phone("1001", PhoneScript(answer_after_s=0.02))
    client = EslClient.connect(sw.esl_port)
    client.command("event plain CHANNEL_EXECUTE_COMPLETE CUSTOM conference::maintenance")

    def action(name: str, **headers: str) -> dict[str, str]:
        return client.wait_event("CUSTOM", pred=lambda ev: ev.get("Action") == name
                                 and all(ev.get(k) == v for k, v in headers.items()))

    caller = sw.place_call(ani="100", dnis="7000")
    assert action("add-member", **{"Member-ID": "1"})["Unique-ID"] == caller.uuid
    assert action("floor-change", **{"New-ID": "1"})["Old-ID"] == "none"  # the newest member, 20 ms later
    assert client.api("conference support dial user/1001 5550100 Support") == "+OK Call Requested: result: [SUCCESS]\n"
    agent = action("add-member", **{"Member-ID": "2"})
    assert agent["Caller-Caller-ID-Number"] == "5550100" and agent["Conference-Size"] == "2"
    listing = client.api("conference list").splitlines()
    assert listing[0].startswith("+OK Conference support (2 members rate: 8000 flags: running|answered")
    assert [line.split(";")[0] for line in listing[1:]] == ["2", "1"]  # newest first
    assert client.api("conference support list count") == "2"
    assert client.api("conference support@default list") == "-ERR Conference support@default not found\n"
    assert client.api("conference support kick 2") == "+OK kicked 2\n"
    assert action("del-member", **{"Member-ID": "2"})["Conference-Size"] == "1"
    done = client.wait_event("CHANNEL_EXECUTE_COMPLETE", agent["Unique-ID"])
    assert done["Application"] == "conference"
    caller.hangup()
    destroyed = action("conference-destroy")
    assert destroyed["Conference-Name"] == "support" and destroyed["Conference-Size"] == "0"
    assert client.api("conference list") == "+OK No active conferences.\n"
    assert client.api("conference support hup all") == "-ERR Conference support not found\n"
    client.close()


# -- fault injection ---------------------------------------------------------------------------
def test_inject_garbage_writes_raw_bytes_to_the_matching_connections(make_switch: Callable[..., Switch],
                                                                     outbound_server: OutboundServer) -> None:
    sw = make_switch()
    sw.add_extension("5000", [("answer", ""), ("socket", f"127.0.0.1:{outbound_server.port} async full")])
    inbound = EslClient.connect(sw.esl_port)
    call = sw.place_call(ani="100", dnis="5000")
    out = outbound_server.accept()
    out.command("connect")
    assert sw.inject_garbage("inbound", data=b"\x00\xff not ESL\n\n") == 1
    inbound.wait_for(lambda f: b"not ESL" in f.raw)
    # a predicate picks connections by what they are
    assert sw.inject_garbage(lambda c: c.session_uuid == call.uuid, data=b"\x7f junk\n\n") == 1
    out.wait_for(lambda f: b"junk" in f.raw)
    gevent.sleep(0.1)
    assert not any(b"not ESL" in f.raw for f in out.frames) and not any(b"junk" in f.raw for f in inbound.frames)
    assert sw.inject_garbage() == 2  # the default garbage, to every connection
    # both connections keep working
    assert inbound.api(f"uuid_exists {call.uuid}") == "true"
    assert out.command("getvar uuid").get("Reply-Text") == call.uuid
    with pytest.raises(ValueError):
        sw.inject_garbage("sideways")
    out.close()
    inbound.close()


def test_drop_connections_aborts_esl_connections_and_calls_stay_up(make_switch: Callable[..., Switch],
                                                                   outbound_server: OutboundServer) -> None:
    sw = make_switch()
    sw.add_extension("5000", [("answer", ""), ("socket", f"127.0.0.1:{outbound_server.port} async full"),
                              ("park", "")])
    first = EslClient.connect(sw.esl_port)
    first.command("event plain CHANNEL_PARK")
    parked = sw.place_call(ani="1", dnis="5001")
    first.wait_event("CHANNEL_PARK", parked.uuid)
    ivr = sw.place_call(ani="2", dnis="5000")
    out = outbound_server.accept()
    out.command("connect")
    assert out.command("resume").get("Reply-Text") == "+OK"  # the dialplan goes on after the socket
    assert sw.drop_connections("inbound") == 1
    assert first.wait_closed(5)
    assert not any(f.content_type == "text/disconnect-notice" for f in first.frames)
    assert not out.closed and not parked.hungup and not ivr.hungup
    watcher = EslClient.connect(sw.esl_port)  # the port still takes clients
    watcher.command("event plain CHANNEL_PARK CHANNEL_HANGUP")
    assert sw.drop_connections("outbound") == 1
    assert out.wait_closed(5)
    assert not any(f.content_type == "text/disconnect-notice" for f in out.frames)
    watcher.wait_event("CHANNEL_PARK", ivr.uuid)  # resumed: the next application runs
    assert not parked.hungup and not ivr.hungup
    assert {ch.uuid for ch in sw.channels()} == {parked.uuid, ivr.uuid}
    with pytest.raises(ValueError):
        sw.drop_connections("sideways")
    assert sw.drop_connections() == 1
    assert watcher.wait_closed(5)
    again = EslClient.connect(sw.esl_port)
    assert again.api(f"uuid_exists {parked.uuid}") == "true"
    for client in (first, out, watcher, again):
        client.close()


def test_comma_separated_legs_ring_together_and_the_first_answer_wins():
    from hotline.simulator import PhoneScript, Switch
    from hotline.simulator.originate import originate

    switch = Switch(password="x", host="127.0.0.1", esl_port=0)
    switch.start()
    try:
        switch.register_phone("2001", PhoneScript(answer_after_s=1.0))
        switch.register_phone("2002", PhoneScript(answer_after_s=0.2))
        switch.register_phone("2003", PhoneScript(answers=False))
        started = time.monotonic()
        result = originate(switch, "{originate_timeout=5}[origination_uuid=leg-1]user/2001,"
                                   "[origination_uuid=leg-2]user/2002,[origination_uuid=leg-3]user/2003")
        assert result.channel is not None and result.channel.uuid == "leg-2"
        assert time.monotonic() - started < 0.9, "they rang at the same time"
        for loser in ("leg-1", "leg-3"):
            ch = switch.get_channel(loser)
            assert ch is None or not ch.up
    finally:
        switch.stop()
