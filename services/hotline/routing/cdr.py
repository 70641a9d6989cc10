"""Building a call detail record from the caller leg's
CHANNEL_HANGUP_COMPLETE and the ACD's view of the call. Pure."""
from __future__ import annotations

from typing import Callable

from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing.acd import CallState, QueuedCall


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def build_cdr(get: Callable[[str], str | None], call: QueuedCall | None, node_id: str) -> ev.Cdr:
    """``get(header)`` reads the CHANNEL_HANGUP_COMPLETE event's (decoded) headers."""
    uuid = get("Unique-ID") or ""
    cdr = ev.Cdr(
        event_id=f"cdr:{uuid}", call_uuid=uuid, node_id=node_id,
        ani=get("Caller-Caller-ID-Number") or "", dnis=get("Caller-Destination-Number") or "",
        caller_name=get("Caller-Caller-ID-Name") or "",
        hangup_cause=get("Hangup-Cause") or get("variable_hangup_cause") or "",
        start_us=_int(get("variable_start_uepoch")), answer_us=_int(get("variable_answer_uepoch")),
        end_us=_int(get("variable_end_uepoch")), hold_us=_int(get("variable_hold_accum_usec")),
        billsec_us=_int(get("variable_billusec")),
        menu_choice=get("variable_hotline_menu_choice") or "",
        recording_path=get("variable_hotline_recording_path") or "",
        ivr_flow=get("variable_hotline_ivr_flow") or "",
    )
    if not cdr.end_us:
        cdr.end_us = _int(get("Event-Date-Timestamp"))
    fill_from_queue(cdr, call)
    return cdr


def fill_from_queue(cdr: ev.Cdr, call: QueuedCall | None) -> None:
    if call is None:
        cdr.disposition = ev.DISPOSITION_ENDED_IN_IVR if cdr.answer_us else ev.DISPOSITION_FAILED
        return
    cdr.queue = call.queue
    cdr.enqueue_us = call.first_enqueued_us or call.enqueued_us
    cdr.callback_number = call.callback_number
    cdr.offers = call.offers
    cdr.ring_us = call.first_offered_us
    cdr.skills.extend(call.skills)
    cdr.menu_choice = cdr.menu_choice or call.menu_choice
    cdr.ani = cdr.ani or call.ani
    cdr.dnis = cdr.dnis or call.dnis
    if not cdr.answer_us:
        cdr.answer_us = call.answered_us
    if call.is_callback and cdr.call_uuid != call.call_uuid:
        # The callback's own CDR: the dialled customer leg.
        cdr.callback_for = call.call_uuid
        cdr.enqueue_us = call.enqueued_us
        if not call.connected_us:
            cdr.disposition = ev.DISPOSITION_CALLBACK_FAILED
            return
    elif call.is_callback:
        cdr.disposition = ev.DISPOSITION_CALLBACK       # the caller left a number and hung up
        cdr.queue_wait_us = max(0, cdr.end_us - cdr.enqueue_us)
        return
    if call.state is CallState.OVERFLOWED:
        cdr.disposition = ev.DISPOSITION_OVERFLOWED
        cdr.overflow_destination = call.destination
        return
    if call.state is CallState.REJECTED:
        cdr.disposition = ev.DISPOSITION_REJECTED
        return
    if call.connected_us:
        cdr.disposition = ev.DISPOSITION_ANSWERED
        cdr.agent_id = call.agent_id
        cdr.connect_us = call.connected_us
        cdr.queue_wait_us = call.connected_us - call.enqueued_us
        cdr.talk_us = max(0, cdr.end_us - call.connected_us)
    else:
        cdr.disposition = ev.DISPOSITION_ABANDONED
        cdr.queue_wait_us = max(0, cdr.end_us - call.enqueued_us)
        cdr.agent_id = ""


def reconciled_cdr(call: QueuedCall, node_id: str, now_us: int, *, leg_uuid: str = "",
                   cause: str = "LOST_BY_SWITCH") -> ev.Cdr:
    """A CDR for a call whose channel vanished without a hang-up event
    (FreeSWITCH restarted or the connection was lost meanwhile), or for a
    callback that never reached its customer (leg_uuid: its last dialled leg)."""
    uuid = leg_uuid or call.call_uuid
    cdr = ev.Cdr(event_id=f"cdr:{uuid}", call_uuid=uuid, node_id=node_id or call.node_id,
                 ani=call.ani, dnis=call.dnis, caller_name=call.caller_name, end_us=now_us,
                 hangup_cause=cause, answer_us=call.answered_us,
                 start_us=call.answered_us or call.enqueued_us)
    fill_from_queue(cdr, call)
    if call.state is CallState.CONNECTED:
        cdr.disposition = ev.DISPOSITION_ANSWERED
    return cdr


# What is kept of a caller's channel while it lives, to write its CDR should
# the channel vanish without a hang-up event: CDR field source -> event header.
CALLER_FIELDS = {
    "Unique-ID": "Unique-ID",
    "Caller-Caller-ID-Number": "Caller-Caller-ID-Number",
    "Caller-Destination-Number": "Caller-Destination-Number",
    "Caller-Caller-ID-Name": "Caller-Caller-ID-Name",
    "variable_start_uepoch": "Caller-Channel-Created-Time",
    "variable_answer_uepoch": "Caller-Channel-Answered-Time",
    "variable_hotline_menu_choice": "variable_hotline_menu_choice",
    "variable_hotline_recording_path": "variable_hotline_recording_path",
    "variable_hotline_ivr_flow": "variable_hotline_ivr_flow",
}


def caller_snapshot(get: Callable[[str], str | None], into: dict[str, str]) -> dict[str, str]:
    """Update `into` with what a caller-leg event says (non-empty, non-zero values)."""
    for field, header in CALLER_FIELDS.items():
        value = get(header)
        if value and value != "0":
            into[field] = value
    return into


def lost_caller_cdr(snapshot: dict[str, str], call: QueuedCall | None, node_id: str, now_us: int) -> ev.Cdr:
    """The CDR of a caller whose channel vanished without a hang-up event
    (FreeSWITCH restarted, or the connection was lost meanwhile): what its
    earlier events said, ending now, cause LOST_BY_SWITCH."""
    values = dict(snapshot, **{"Hangup-Cause": "LOST_BY_SWITCH", "variable_end_uepoch": str(now_us)})
    cdr = build_cdr(values.get, call, node_id)
    if call is not None and call.state is CallState.CONNECTED:
        cdr.disposition = ev.DISPOSITION_ANSWERED
    return cdr
