"""The one place where FreeSWITCH events become Hotline CallEvents.

The mapping is documented, field by field, in docs/events.md. Anything that
is not a channel event Hotline models (BACKGROUND_JOB, HEARTBEAT,
CHANNEL_STATE, PLAYBACK_*, CUSTOM, an unknown name) gives None and a debug
log line; this function never raises.
"""
from __future__ import annotations

import logging

from hotline.freeswitch.protocol import EslEvent, to_int
from hotline.proto.events.v1 import events_pb2

log = logging.getLogger(__name__)

T = events_pb2
EVENT_TYPES: dict[str, int] = {
    "CHANNEL_CREATE": T.CALL_CREATED,
    "CHANNEL_PROGRESS": T.CALL_RINGING,
    "CHANNEL_PROGRESS_MEDIA": T.CALL_RINGING,
    "CHANNEL_ANSWER": T.CALL_ANSWERED,
    "CHANNEL_PARK": T.CALL_PARKED,
    "CHANNEL_UNPARK": T.CALL_UNPARKED,
    "CHANNEL_BRIDGE": T.CALL_BRIDGED,
    "CHANNEL_UNBRIDGE": T.CALL_UNBRIDGED,
    "CHANNEL_HOLD": T.CALL_HELD,
    "CHANNEL_UNHOLD": T.CALL_UNHELD,
    "DTMF": T.CALL_DTMF,
    "RECORD_START": T.CALL_RECORD_STARTED,
    "RECORD_STOP": T.CALL_RECORD_STOPPED,
    "CHANNEL_HANGUP": T.CALL_HANGUP,
    "CHANNEL_HANGUP_COMPLETE": T.CALL_HANGUP_COMPLETE,
    "CHANNEL_DESTROY": T.CALL_DESTROYED,
    "CHANNEL_EXECUTE": T.CALL_EXECUTE,
    "CHANNEL_EXECUTE_COMPLETE": T.CALL_EXECUTE_COMPLETE,
    "CHANNEL_ORIGINATE": T.CALL_ORIGINATED,
}


def leg_of(event: EslEvent) -> int:
    if event.var("hotline_role") == "agent":
        return T.LEG_AGENT
    direction = event.get("Call-Direction") or event.get("Caller-Direction")
    return T.LEG_CALLER if direction == "inbound" else T.LEG_OTHER


def _other_leg(event: EslEvent, leg_uuid: str) -> str:
    other = event.get("Other-Leg-Unique-ID")
    if other:
        return other
    a, b = event.get("Bridge-A-Unique-ID"), event.get("Bridge-B-Unique-ID")
    if a and b:
        return b if a == leg_uuid else a
    return ""


def to_call_event(event: EslEvent, node_id: str) -> events_pb2.CallEvent | None:
    """The CallEvent for a FreeSWITCH channel event, or None."""
    try:
        name = event.name
        kind = EVENT_TYPES.get(name)
        if kind is None:
            log.debug("not a call event: %s", name or "(no Event-Name)")
            return None
        leg_uuid = event.uuid
        if not leg_uuid:
            log.debug("%s without Unique-ID skipped", name)
            return None
        get = event.headers.get
        call = events_pb2.CallEvent(
            event_id=f"{get('Core-UUID', '')}:{get('Event-Sequence', '')}",
            node_id=node_id,
            call_uuid=event.var("hotline_call_uuid") or leg_uuid,
            leg_uuid=leg_uuid,
            leg=leg_of(event),
            type=kind,
            timestamp_us=event.timestamp_us(),
            ani=get("Caller-Caller-ID-Number", ""),
            dnis=get("Caller-Destination-Number", ""),
            caller_name=get("Caller-Caller-ID-Name", ""),
            other_leg_uuid=_other_leg(event, leg_uuid),
            hangup_cause=get("Hangup-Cause", ""),
            dtmf_digit=get("DTMF-Digit", ""),
            application=get("Application", ""),
            application_data=get("Application-Data", ""),
            freeswitch_event=name,
            record_path=get("Record-File-Path", ""),
            agent_id=event.var("hotline_agent_id") or "",
            queue=event.var("hotline_queue") or "",
        )
        if kind == T.CALL_HANGUP_COMPLETE:
            call.created_us = to_int(event.var("start_uepoch"))
            call.answered_us = to_int(event.var("answer_uepoch"))
            call.bridged_us = to_int(event.var("bridge_uepoch"))
            call.hangup_us = to_int(event.var("end_uepoch"))
            call.billsec_us = to_int(event.var("billusec"))
            call.hold_accum_us = to_int(event.var("hold_accum_usec"))
        return call
    except Exception:  # noqa: BLE001 - a strange event must never stop the event loop
        log.warning("could not normalise %r; skipped", event, exc_info=True)
        return None
