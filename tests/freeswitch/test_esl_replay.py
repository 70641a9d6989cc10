"""Contract tests against recorded real FreeSWITCH: a replay server plays
FreeSWITCH's side of transcripts 01, 02 and 03 over TCP; the client is driven
through the same steps as the recording and must write exactly the recorded
frames (modulo the Event-UUIDs it generates)."""
from __future__ import annotations

import json
import logging

import gevent
import pytest

from esl_fakes import (Replay, ReplayServer, conn_script, live_greenlets, open_fds, replay_outbound,
                       strip_event_uuid, wait_until)
from hotline.freeswitch import (CallHungUp, CommandFailed, EslConnection, EslError, EslEvent, OutboundCall,
                                OutboundServer, parse_frame)
from hotline.freeswitch.normalize import to_call_event
from hotline.proto.events.v1 import events_pb2 as pb

pytestmark = pytest.mark.freeswitch

T01, T03 = "01-inbound-auth-and-api", "03-acd-park-originate-bridge"
EVENT_TYPES = ("text/event-plain", "text/event-json")
CALLER = "04e629d1-b538-4c32-87cf-106bb75c2d74"
AGENT = "5434ceaa-7a0e-4f48-a136-3973c6d45930"


def recorded_events(script) -> list[EslEvent]:
    return [e for e in (parse_frame(r.data) for r in script if r.dir == "recv") if e.content_type in EVENT_TYPES]


def test_01_wrong_password_is_reported_and_retried(caplog: pytest.LogCaptureFixture, hub_errors: list) -> None:
    script = conn_script(T01, "inbound-1")
    with ReplayServer(lambda n: Replay(script, close_at_end=True)) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "wrong-password", reconnect_min_s=0.05, reconnect_max_s=0.1)
        conn.start()
        assert wait_until(lambda: len(fs.replays) >= 3 and fs.replays[2].done.is_set())
        assert not conn.connected and not conn.wait_connected(0)
        conn.stop()
    assert not fs.errors
    expected = f"ESL authentication to 127.0.0.1:{fs.port} failed: -ERR invalid; check HOTLINE_ESL_PASSWORD"
    assert conn.last_error == expected
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors.count(expected) >= 3
    assert "wrong-password" not in caplog.text
    with pytest.raises(EslError, match="not connected"):
        conn.api("status")
    assert not hub_errors


def test_01_api_and_bgapi_session(hub_errors: list) -> None:
    script = conn_script(T01, "inbound-2")
    with ReplayServer(lambda n: Replay(script)) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", events=())
        events: list[EslEvent] = []
        connected: list[EslConnection] = []
        conn.on_event(events.append)
        conn.on_connected(connected.append)
        conn.start()
        assert conn.wait_connected(5) and conn.connected
        assert connected == [conn]

        assert conn.api("status").startswith("UP 0 years, 0 days, 0 hours, 0 minutes, 42 seconds")
        assert conn.show_channels() == []
        assert conn.api("show calls as json") == '{"row_count": 0}\n'
        with pytest.raises(CommandFailed) as failed:
            conn.api_ok("uuid_kill 00000000-0000-0000-0000-000000000000")
        assert failed.value.reply == "-ERR No such channel!"
        assert conn.api("uuid_bridge 00000000-0000-0000-0000-000000000000 "
                        "11111111-1111-1111-1111-111111111111") == "-ERR Invalid uuid\n"
        assert conn.api("no_such_command") == "-ERR no_such_command Command not found!\n"
        with pytest.raises(EslError, match="BACKGROUND_JOB"):
            conn.bgapi("status")                        # nothing subscribed yet: no result would come
        assert conn.command("event plain BACKGROUND_JOB").reply_text == "+OK event listener enabled plain"
        assert conn.bgapi("status").startswith("UP 0 years, 0 days, 0 hours, 0 minutes, 42 seconds, 775")
        assert conn.bgapi("originate sofia/internal/9999@127.0.0.1:5999 &park()") == \
            "-ERR NORMAL_TEMPORARY_FAILURE\n"
        assert conn.command("noevents").reply_text == "+OK no longer listening for events"
        assert conn.command("event json BACKGROUND_JOB").reply_text == "+OK event listener enabled json"
        job = conn.bgapi_async("version")
        assert job.get(timeout=5).startswith("FreeSWITCH Version 1.10.12-release+git")
        assert job.job_uuid == "8d624a50-ac9c-44f3-bd11-0905c50dfcdb"
        assert conn._jobs == {}
        conn.stop()                                    # exit: +OK bye and the goodbye notice
        assert fs.replays[0].done.wait(5)
    assert not fs.errors
    assert fs.replays[0].received[-1] == "exit\n\n"
    assert [(e.name, e.get("Job-Command")) for e in events] == \
           [("BACKGROUND_JOB", "status"), ("BACKGROUND_JOB", "originate"), ("BACKGROUND_JOB", "version")]
    assert [to_call_event(e, "fs1") for e in events] == [None, None, None]
    assert not hub_errors


@pytest.mark.parametrize("name,event_format", [("02-ivr-call-to-agent-plain", "plain"),
                                               ("02-ivr-call-to-agent-json", "json")])
def test_02_inbound_event_stream(name: str, event_format: str, hub_errors: list) -> None:
    script = conn_script(name, "inbound-events")
    recorded = recorded_events(script)
    before_dtmf = sum(1 for r in script[:next(i for i, r in enumerate(script) if r.data.startswith("api "))]
                      if r.dir == "recv" and "text/event-" in r.data.split("\n\n")[0])
    with ReplayServer(lambda n: Replay(script)) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", event_format=event_format)
        got: list[EslEvent] = []
        conn.on_event(got.append)
        conn.start()
        assert conn.wait_connected(5)
        assert wait_until(lambda: len(got) >= before_dtmf)
        caller = got[0].uuid
        assert conn.api(f"uuid_recv_dtmf {caller} 2") == f"+OK {caller} received DTMF 2.\n"
        assert wait_until(lambda: len(got) == len(recorded))
        assert conn.command("noevents").reply_text == "+OK no longer listening for events"
        conn.stop()
        assert fs.replays[0].done.wait(5)
    assert not fs.errors
    assert [(e.content_type, e.headers, e.body) for e in got] == \
           [(e.content_type, e.headers, e.body) for e in recorded]
    calls = [c for c in (to_call_event(e, "fs1") for e in got) if c is not None]
    assert [c.type for c in calls if c.leg_uuid == caller][:2] == [pb.CALL_CREATED, pb.CALL_EXECUTE]
    assert [c.dtmf_digit for c in calls if c.type == pb.CALL_DTMF] == ["2"]
    assert {c.leg for c in calls if c.leg_uuid == caller} == {pb.LEG_CALLER}
    assert calls[-1].type == pb.CALL_HANGUP_COMPLETE and calls[-1].billsec_us > 0
    assert not hub_errors


@pytest.mark.parametrize("name", ["02-ivr-call-to-agent-plain", "02-ivr-call-to-agent-json"])
def test_02_outbound_ivr_call(name: str, hub_errors: list) -> None:
    script = conn_script(name, "outbound-call")
    results: dict[str, object] = {}
    seen: list[EslEvent] = []
    notices: list[EslEvent] = []

    def ivr(call: OutboundCall) -> None:
        call.on_event(seen.append)
        call.register_handle("DISCONNECT", notices.append)
        results["call"] = call
        results["answer"] = call.execute("answer")
        results["playback"] = call.playback("tone_stream://%(300,100,440)")
        results["digits"] = call.play_and_get_digits(
            min_digits=1, max_digits=1, tries=3, timeout_ms=4000, terminators="#",
            prompt="tone_stream://%(200,0,600)", invalid_prompt="silence_stream://250",
            var_name="menu_choice", regexp="\\d")
        call.set("RECORD_STEREO", "true")
        results["record"] = call.execute_async("record_session", f"/var/lib/freeswitch/recordings/{call.uuid}.wav")
        call.set("hangup_after_bridge", "true")
        try:
            call.execute("bridge", "{origination_caller_id_name=Queue_Support}sofia/internal/1001@127.0.0.1:5090")
        except CallHungUp as exc:
            results["hungup"] = exc
            raise

    server = OutboundServer("127.0.0.1", 0, ivr)
    port = server.start()
    try:
        greenlets, fds = live_greenlets(), open_fds()
        replay = replay_outbound(script, port)
        assert replay.done.wait(10)
        assert wait_until(lambda: not server.calls)
        assert wait_until(lambda: live_greenlets() <= greenlets and open_fds() <= fds), \
            (live_greenlets(), greenlets, open_fds(), fds)
    finally:
        server.stop()
    assert not replay.errors
    call = results["call"]
    assert isinstance(call, OutboundCall)
    recorded_data = parse_frame(next(r.data for r in script if "CHANNEL_DATA" in r.data[:40]))
    assert call.channel_data == recorded_data.headers
    assert call.uuid == recorded_data.uuid and call.ani == "sipp" and call.dnis == "5000"
    assert call.caller_name == "sipp"
    sent_uuids = [strip_event_uuid(f)[1] for f in replay.received if f.startswith("sendmsg")]
    assert len(sent_uuids) == 7 and all(sent_uuids)
    answer, playback = results["answer"], results["playback"]
    assert isinstance(answer, EslEvent) and isinstance(playback, EslEvent)
    assert (answer.name, answer.get("Application"), answer.get("Application-UUID")) == \
           ("CHANNEL_EXECUTE_COMPLETE", "answer", sent_uuids[0])
    assert (playback.get("Application"), playback.get("Application-UUID")) == ("playback", sent_uuids[1])
    assert playback.get("Application-Data") == "tone_stream://%(300,100,440)"
    assert results["digits"] == ("2", "success")
    assert results["record"] == sent_uuids[4]
    hungup = results["hungup"]
    assert isinstance(hungup, CallHungUp) and hungup.cause == "NORMAL_CLEARING"
    assert call.hungup and call.hangup_cause == "NORMAL_CLEARING"
    # the handlers saw every event of the call in order, up to CHANNEL_HANGUP_COMPLETE
    assert [e.name for e in seen] == [e.name for e in recorded_events(script)]
    assert [n.get("Content-Disposition") for n in notices] == ["linger"]
    assert not hub_errors


def test_03_acd_park_originate_bridge(hub_errors: list) -> None:
    events_script, api_script = conn_script(T03, "inbound-events"), conn_script(T03, "inbound-api")
    recorded = recorded_events(events_script)
    with ReplayServer(lambda n: Replay(events_script)) as fs_events, \
            ReplayServer(lambda n: Replay(api_script)) as fs_api:
        events = EslConnection("127.0.0.1", fs_events.port, "ClueCon")
        api = EslConnection("127.0.0.1", fs_api.port, "ClueCon", events=())    # commands only
        got: list[EslEvent] = []
        events.on_event(got.append)
        events.start()
        api.start()
        assert events.wait_connected(5) and api.wait_connected(5)

        assert api.api(f"uuid_broadcast {CALLER} local_stream://moh aleg") == "+OK Message sent\n"
        assert api.api(f"uuid_break {CALLER} all") == "+OK\n"
        originate = (f"originate {{origination_uuid={AGENT},origination_caller_id_number=5001,hotline_role=agent}}"
                     f"sofia/internal/1001@127.0.0.1:5091 &park()")
        # This connection subscribed to nothing: FreeSWITCH sends the BACKGROUND_JOB to the other one.
        with pytest.raises(EslError, match="BACKGROUND_JOB"):
            api.bgapi_async(originate)
        reply = api.command(f"bgapi {originate}")
        job_uuid = reply.get("Job-UUID")
        assert reply.reply_text == f"+OK Job-UUID: {job_uuid}"
        assert wait_until(lambda: any(e.get("Job-UUID") == job_uuid for e in got))
        job = next(e for e in got if e.get("Job-UUID") == job_uuid)
        assert job.body == f"+OK {AGENT}\n"

        assert api.api(f"uuid_bridge {CALLER} {AGENT}") == f"+OK {AGENT}\n"
        path = f"/var/lib/freeswitch/recordings/{CALLER}.wav"
        for action in ("start", "mask", "unmask"):
            assert api.api_ok(f"uuid_record {CALLER} {action} {path}") == "+OK Success\n"
        assert api.api(f"uuid_getvar {CALLER} bridge_uuid") == AGENT
        assert api.api(f"uuid_exists {CALLER}") == "true"
        dump = json.loads(api.api(f"uuid_dump {CALLER} json"))
        assert dump["Unique-ID"] == CALLER and dump["Event-Name"] == "CHANNEL_DATA"
        rows = api.show_channels()
        assert {row["uuid"] for row in rows} == {CALLER, AGENT}
        assert json.loads(api.api("show calls as json"))["row_count"] == 1
        assert api.api_ok(f"uuid_record {CALLER} stop {path}") == "+OK Success\n"
        assert api.api_ok(f"uuid_setvar {CALLER} hotline_queue support") == "+OK\n"
        assert api.api_ok(f"uuid_kill {AGENT} NORMAL_CLEARING") == "+OK\n"
        assert api.api(f"uuid_exists {CALLER}") == "false"
        api.stop()
        assert wait_until(lambda: len(got) == len(recorded))
        assert events.command("noevents").reply_text == "+OK no longer listening for events"
        events.stop()
        assert fs_api.replays[0].done.wait(5) and fs_events.replays[0].done.wait(5)
    assert not fs_events.errors and not fs_api.errors
    assert [e.headers for e in got] == [e.headers for e in recorded]
    legs = {(c.leg_uuid, c.leg) for c in (to_call_event(e, "fs1") for e in got) if c is not None}
    assert legs == {(CALLER, pb.LEG_CALLER), (AGENT, pb.LEG_AGENT)}
    records = [c for c in (to_call_event(e, "fs1") for e in got) if c and c.type == pb.CALL_RECORD_STARTED]
    assert [r.record_path for r in records] == [path]
    assert not hub_errors


def test_replay_server_notices_a_wrong_frame() -> None:
    """The replay is a real check: a client that says something else fails it."""
    script = conn_script(T01, "inbound-2")
    with ReplayServer(lambda n: Replay(script)) as fs:
        conn = EslConnection("127.0.0.1", fs.port, "ClueCon", events=(), reconnect_min_s=5)
        conn.start()
        assert conn.wait_connected(5)
        with pytest.raises(EslError):
            conn.api("status as json", timeout=5)
        assert wait_until(lambda: fs.errors)
        conn.stop()
    assert "api status as json" in fs.errors[0]
    gevent.sleep(0)
