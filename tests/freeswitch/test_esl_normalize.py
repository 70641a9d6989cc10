"""to_call_event on every channel event real FreeSWITCH sent in the transcripts. Hermetic."""
from __future__ import annotations

import logging
import pathlib

import pytest

from esl_fakes import NAMES, ROOT, load
from hotline.freeswitch import EslEvent, parse_frame
from hotline.freeswitch.normalize import EVENT_TYPES, to_call_event
from hotline.proto.events.v1 import events_pb2 as pb

EXPECTED_TYPE = {
    "CHANNEL_CREATE": pb.CALL_CREATED, "CHANNEL_PROGRESS": pb.CALL_RINGING,
    "CHANNEL_PROGRESS_MEDIA": pb.CALL_RINGING, "CHANNEL_ANSWER": pb.CALL_ANSWERED,
    "CHANNEL_PARK": pb.CALL_PARKED, "CHANNEL_UNPARK": pb.CALL_UNPARKED, "CHANNEL_BRIDGE": pb.CALL_BRIDGED,
    "CHANNEL_UNBRIDGE": pb.CALL_UNBRIDGED, "CHANNEL_HOLD": pb.CALL_HELD, "CHANNEL_UNHOLD": pb.CALL_UNHELD,
    "DTMF": pb.CALL_DTMF, "RECORD_START": pb.CALL_RECORD_STARTED, "RECORD_STOP": pb.CALL_RECORD_STOPPED,
    "CHANNEL_HANGUP": pb.CALL_HANGUP, "CHANNEL_HANGUP_COMPLETE": pb.CALL_HANGUP_COMPLETE,
    "CHANNEL_DESTROY": pb.CALL_DESTROYED, "CHANNEL_EXECUTE": pb.CALL_EXECUTE,
    "CHANNEL_EXECUTE_COMPLETE": pb.CALL_EXECUTE_COMPLETE, "CHANNEL_ORIGINATE": pb.CALL_ORIGINATED,
}


def all_events() -> list[tuple[str, EslEvent]]:
    out = []
    for name in NAMES:
        for rec in load(name):
            if rec.dir == "recv":
                event = parse_frame(rec.data)
                if event.content_type in ("text/event-plain", "text/event-json"):
                    out.append((name, event))
    return out


def test_every_channel_event_in_the_transcripts():
    seen = set()
    for _, event in all_events():
        call = to_call_event(event, "fs1")
        if event.name not in EXPECTED_TYPE:
            assert call is None, event.name
            continue
        seen.add(event.name)
        assert call is not None
        assert call.type == EXPECTED_TYPE[event.name]
        assert call.freeswitch_event == event.name
        assert call.node_id == "fs1"
        assert call.leg_uuid == event.uuid and len(call.leg_uuid) == 36
        assert call.call_uuid == (event.var("hotline_call_uuid") or event.uuid)
        assert call.event_id == f"{event.get('Core-UUID')}:{event.get('Event-Sequence')}"
        assert call.timestamp_us == int(event.get("Event-Date-Timestamp")) > 1_700_000_000_000_000
        assert call.ani == event.get("Caller-Caller-ID-Number", "")
        assert call.dnis == event.get("Caller-Destination-Number", "")
        assert call.caller_name == event.get("Caller-Caller-ID-Name", "")
        if event.name == "CHANNEL_HANGUP_COMPLETE":
            assert call.created_us == int(event.var("start_uepoch")) > 0
            assert call.hangup_us == int(event.var("end_uepoch")) >= call.created_us
            assert call.answered_us == int(event.var("answer_uepoch"))
            assert call.bridged_us == int(event.var("bridge_uepoch") or 0)
            assert call.billsec_us == int(event.var("billusec"))
            assert call.hold_accum_us == int(event.var("hold_accum_usec") or 0)
            assert call.hangup_cause
        else:
            assert call.created_us == call.hangup_us == call.billsec_us == 0
    assert seen == set(EXPECTED_TYPE)        # the transcripts exercise every mapping


def test_legs_and_details():
    events = {(name, e.name, e.uuid, e.get("Application")): e for name, e in all_events()}

    def one(name: str, event_name: str, uuid_prefix: str, app: str | None = None):
        matches = [e for (n, en, u, a), e in events.items()
                   if n == name and en == event_name and u.startswith(uuid_prefix) and (app is None or a == app)]
        assert matches, (name, event_name, uuid_prefix)
        return to_call_event(matches[0], "fs1")

    caller = one("03-acd-park-originate-bridge", "CHANNEL_BRIDGE", "04e629d1")
    assert caller.leg == pb.LEG_CALLER and caller.other_leg_uuid.startswith("5434ceaa")
    agent = one("03-acd-park-originate-bridge", "CHANNEL_ANSWER", "5434ceaa")
    assert agent.leg == pb.LEG_AGENT                    # originated with hotline_role=agent
    bleg = one("02-ivr-call-to-agent-plain", "CHANNEL_ANSWER", "ffd7cbd1")
    assert bleg.leg == pb.LEG_OTHER and bleg.other_leg_uuid.startswith("ef7c3eb7")
    dtmf = one("02-ivr-call-to-agent-plain", "DTMF", "ef7c3eb7")
    assert dtmf.dtmf_digit == "2" and dtmf.ani == "sipp" and dtmf.dnis == "5000"
    rec = one("03-acd-park-originate-bridge", "RECORD_START", "04e629d1")
    assert rec.record_path == "/var/lib/freeswitch/recordings/04e629d1-b538-4c32-87cf-106bb75c2d74.wav"
    execute = one("02-ivr-call-to-agent-plain", "CHANNEL_EXECUTE", "ef7c3eb7", "play_and_get_digits")
    assert execute.application_data.startswith("1 1 3 4000 # tone_stream://%(200,0,600)")
    hangup = one("02-ivr-call-to-agent-json", "CHANNEL_HANGUP", "46db15f7")
    assert hangup.hangup_cause == "NORMAL_CLEARING"
    held = one("05-registered-agents-hold-eavesdrop-transfer-conference", "CHANNEL_HOLD", "")
    assert held.type == pb.CALL_HELD
    complete = one("03-acd-park-originate-bridge", "CHANNEL_HANGUP_COMPLETE", "04e629d1")
    assert complete.bridged_us == 1795419963863958 and complete.billsec_us == 3079904


def test_call_uuid_follows_hotline_call_uuid():
    event = EslEvent({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "agent-leg", "Call-Direction": "outbound",
                      "variable_hotline_role": "agent", "variable_hotline_call_uuid": "caller-leg",
                      "Core-UUID": "core", "Event-Sequence": "7", "Event-Date-Timestamp": "12"})
    call = to_call_event(event, "fs2")
    assert (call.call_uuid, call.leg_uuid, call.leg, call.event_id, call.node_id) == \
           ("caller-leg", "agent-leg", pb.LEG_AGENT, "core:7", "fs2")


@pytest.mark.parametrize("headers", [
    {"Event-Name": "BACKGROUND_JOB", "Job-UUID": "x"},
    {"Event-Name": "HEARTBEAT"},
    {"Event-Name": "CHANNEL_STATE", "Unique-ID": "u"},
    {"Event-Name": "SOMETHING_NEW_IN_1_12", "Unique-ID": "u"},
    {"Event-Name": "CHANNEL_ANSWER"},                                    # no Unique-ID
    {},
])
def test_non_call_events_give_none(headers: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="hotline.freeswitch.normalize")
    assert to_call_event(EslEvent(headers), "fs1") is None


def test_odd_values_never_raise():
    event = EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "u", "Event-Date-Timestamp": "soon",
                      "variable_start_uepoch": "x", "variable_billusec": "-"})
    call = to_call_event(event, "fs1")
    assert call is not None and call.timestamp_us == 0 and call.created_us == 0


def test_docs_list_every_mapping():
    text = (ROOT / "docs" / "events.md").read_text()
    for name in EVENT_TYPES:
        assert f"`{name}`" in text, f"docs/events.md does not mention {name}"
    for field in pb.CallEvent.DESCRIPTOR.fields:
        assert f"`{field.name}`" in text, f"docs/events.md does not explain CallEvent.{field.name}"
