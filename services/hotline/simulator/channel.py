"""A simulated FreeSWITCH channel (session): its state, variables, caller
profile, the events it fires, and the greenlet that runs it.

Each channel has one session greenlet, like FreeSWITCH's session thread. It
runs the dialplan (or the program an originate gives an outbound leg), and at
the end the hangup/reporting/destroy states. Other greenlets (the ESL API,
the scripted caller, the other leg of a bridge) never run applications on a
channel: they post a request (hangup, transfer, uuid_bridge, a queued
sendmsg/broadcast, DTMF, break) and wake the session greenlet, which acts on
it at the next point where FreeSWITCH would: the park loop, the bridge loop,
a playback or a digit collection.
"""
from __future__ import annotations

import collections
import logging
import re
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

import gevent
import gevent.event

from .wire import Event

if TYPE_CHECKING:  # pragma: no cover
    from .scripts import CallerScript, PhoneScript
    from .switch import Switch

log = logging.getLogger(__name__)

# switch_channel_state_t
CS = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
    "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12,
}
# switch_channel_callstate_t
CALLSTATE_NUMBER = {
    "DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5,
    "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8,
}
# switch_call_cause_t: the causes the simulator can produce, with their Q.850 codes.
CAUSE_Q850 = {
    "NONE": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3,
    "CHANNEL_UNACCEPTABLE": 6, "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22, "REDIRECTION_TO_NEW_DESTINATION": 23, "EXCHANGE_ROUTING_ERROR": 25,
    "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29,
    "RESPONSE_TO_STATUS_ENQUIRY": 30, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42,
    "ACCESS_INFO_DISCARDED": 43, "REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45,
    "FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52, "INCOMING_CALL_BARRED": 54,
    "BEARERCAPABILITY_NOTAUTH": 57, "BEARERCAPABILITY_NOTAVAIL": 58, "SERVICE_UNAVAILABLE": 63,
    "BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66, "FACILITY_NOT_IMPLEMENTED": 69,
    "SERVICE_NOT_IMPLEMENTED": 79, "INVALID_CALL_REFERENCE": 81, "INCOMPATIBLE_DESTINATION": 88,
    "INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96, "MESSAGE_TYPE_NONEXIST": 97,
    "WRONG_MESSAGE": 98, "IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100, "WRONG_CALL_STATE": 101,
    "RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103, "PROTOCOL_ERROR": 111,
    "INTERWORKING": 127, "SUCCESS": 142, "ORIGINATOR_CANCEL": 487, "CRASH": 700,
    "SYSTEM_SHUTDOWN": 701, "LOSE_RACE": 502, "MANAGER_REQUEST": 503, "BLIND_TRANSFER": 600,
    "ATTENDED_TRANSFER": 601, "ALLOTTED_TIMEOUT": 602, "USER_CHALLENGE": 603,
    "MEDIA_TIMEOUT": 604, "PICKED_OFF": 605, "USER_NOT_REGISTERED": 606, "PROGRESS_TIMEOUT": 607,
    "GATEWAY_DOWN": 609,
}


def str2cause(text: str | None) -> str | None:
    """switch_channel_str2cause(): a cause name (any case) or its Q.850 number; None if unknown."""
    if not text:
        return None
    name = text.strip().upper()
    if name in CAUSE_Q850:
        return name
    if name.isdigit():
        for cause, code in CAUSE_Q850.items():
            if code == int(name):
                return cause
    return None


# Where FreeSWITCH 1.10 fires each event (Event-Calling-File/-Function/-Line-Number),
# as the transcripts show them.
CALLING = {
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", 632),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2944),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2967),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", 3560),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3846),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3505),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1646),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2020),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 677),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1481),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", 1240),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3445),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", 943),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1584),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2408),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 301),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", 1558),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", 1638),
}
UUID_BRIDGE_CALLING_A = ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1236)
UUID_BRIDGE_CALLING_B = ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1243)

# switch_channel_event_set_extended_data(): the event types that carry variable_* headers.
EVENTS_WITH_VARIABLES = frozenset({
    "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_ANSWER", "CHANNEL_PARK",
    "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "REQUEST_PARAMS",
    "CHANNEL_DATA", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY",
    "SESSION_HEARTBEAT", "API", "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP",
    "CALL_UPDATE", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CUSTOM",
})


_PROFILE_FIELDS = (
    "Direction", "Logical-Direction", "Username", "Dialplan", "Caller-ID-Name", "Caller-ID-Number",
    "Orig-Caller-ID-Name", "Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number", "Network-Addr", "ANI",
    "Destination-Number", "Unique-ID", "Source", "Transfer-Source", "Context", "RDNIS", "Channel-Name",
    "Profile-Index", "Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time",
    "Channel-Progress-Time", "Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time",
    "Channel-Resurrect-Time", "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum", "Screen-Bit",
    "Privacy-Hide-Name", "Privacy-Hide-Number",
)
_profile_names_by_prefix: dict[str, dict[str, str]] = {}


def _profile_header_names(prefix: str) -> dict[str, str]:
    """{"Direction": "<prefix>-Direction", ...}: the caller-profile header names, made once per prefix."""
    names = _profile_names_by_prefix.get(prefix)
    if names is None:
        names = _profile_names_by_prefix[prefix] = {f: f"{prefix}-{f}" for f in _PROFILE_FIELDS}
    return names


def now_us() -> int:
    return int(time.time() * 1_000_000)


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def true(value: Any) -> bool:
    """switch_true()."""
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("yes", "on", "true", "t", "enabled", "active", "allow"):
        return True
    try:
        return int(text) != 0
    except ValueError:
        return False


# -- control flow of the session greenlet ------------------------------------
class Unwind(Exception):
    """Leaves the running application(s) the way FreeSWITCH leaves them."""


class HangupUnwind(Unwind):
    pass


class TransferUnwind(Unwind):
    pass


class BridgeUnwind(Unwind):
    """A uuid_bridge asked this channel to leave what it runs and bridge."""


@dataclass
class Profile:
    """switch_caller_profile_t (the fields events show)."""

    username: str = ""
    dialplan: str = ""
    caller_id_name: str = ""
    caller_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str = ""
    ani: str = ""
    destination_number: str = ""
    source: str = ""
    context: str = ""
    rdnis: str = ""
    transfer_source: str = ""
    index: int = 1
    created_us: int = field(default_factory=now_us)


@dataclass
class Message:
    """A private event queued on the channel (sendmsg execute, uuid_broadcast)."""

    app: str
    arg: str = ""
    app_uuid: str | None = None
    loops: int = 1
    done: gevent.event.AsyncResult | None = None  # set when the application finished (sync sockets)
    broadcast: bool = False  # uuid_broadcast / hold music: stopped by uuid_break
    not_before: float = 0.0  # time.monotonic() before which the channel does not pick it up


@dataclass
class Recording:
    path: str
    fs_path: str
    started: float
    stereo: bool
    limit_s: float
    masked: list[tuple[float, float]] = field(default_factory=list)
    mask_started: float | None = None
    timer: Any = None


@dataclass
class BridgeRequest:
    peer: "Channel"
    role: str  # "a" (first uuid of uuid_bridge, it fires CHANNEL_BRIDGE) or "b"
    a_executed: gevent.event.Event = field(default_factory=gevent.event.Event)
    b_ready: gevent.event.Event = field(default_factory=gevent.event.Event)


class Channel:
    def __init__(
        self,
        switch: "Switch",
        *,
        uuid: str,
        direction: str,
        name: str,
        profile: Profile,
        variables: dict[str, str],
        caller_script: "CallerScript | None" = None,
        phone_script: "PhoneScript | None" = None,
    ) -> None:
        self.switch = switch
        self.uuid = uuid
        self.direction = direction
        self.name = name
        self.profile = profile
        self.initial_profile = Profile(**profile.__dict__)
        self.variables: dict[str, str] = {}
        for k, v in variables.items():
            self.set_var(k, v)
        self.caller_script = caller_script
        self.phone_script = phone_script

        self.running_state = "CS_NEW"
        self.state_number = CS["CS_NEW"]
        self.callstate = "DOWN"
        self.answer_state = "ringing"
        self.hangup_cause: str | None = None
        self.cid_sorted = False  # CF_DIALPLAN: an outbound leg's caller id was flipped once
        self.media = False
        self.read_codec = ("PCMU", "8000", "64000")  # (name, rate, bit rate); L16 while in a conference
        self.held = False

        self.t_created = profile.created_us
        self.t_answered = 0
        self.t_progress = 0
        self.t_progress_media = 0
        self.t_hangup = 0
        self.t_transfer = 0
        self.t_bridged = 0
        self.t_last_hold = 0
        self.hold_accum = 0

        self.other: Channel | None = None  # originator / originatee caller profile
        self.other_type: str | None = None
        self.partner: Channel | None = None  # the leg this one is bridged with
        self.ever_bridged = False
        self.current_app: tuple[str, str] | None = None
        self.last_app: tuple[str, str] | None = None
        self.digits_dialed = ""
        self.exported_only: dict[str, str] = {}
        self.playing = False
        self.in_broadcast = False

        self.wake = gevent.event.Event()
        self.watchers: set[gevent.event.Event] = set()
        self.messages: collections.deque[Message] = collections.deque()
        self.dtmf: collections.deque[str] = collections.deque()
        self.collecting = False
        self.break_flag = 0
        self.pending_transfer: tuple[str, str, str] | None = None
        self.routed: tuple[str, str, str] | None = None  # (dest, dialplan, context) of the last routing
        self.pending_bridge: BridgeRequest | None = None
        self.stop_dialplan = False
        self.recordings: dict[str, Recording] = {}
        self.listeners: set[Any] = set()  # ESL connections bound to this session (they delay CHANNEL_DESTROY)

        self.answered_event = gevent.event.Event()
        self.bridged_event = gevent.event.Event()
        self.hangup_event = gevent.event.Event()
        self.destroyed_event = gevent.event.Event()
        self.program: gevent.event.AsyncResult = gevent.event.AsyncResult()
        self.greenlet: gevent.Greenlet | None = None
        self._timers: list[gevent.Greenlet] = []
        self.killed = False  # dropped by a switch restart: no more events

    # -- small helpers ---------------------------------------------------
    def __repr__(self) -> str:
        return f"<Channel {self.uuid} {self.name} {self.running_state} {self.callstate}>"

    @property
    def up(self) -> bool:
        return self.hangup_cause is None

    @property
    def answered(self) -> bool:
        return self.t_answered != 0

    def poke(self) -> None:
        self.wake.set()
        for w in list(self.watchers):
            w.set()

    def spawn_timer(self, seconds: float, fn: Callable[[], None]) -> None:
        def run() -> None:
            gevent.sleep(seconds)
            fn()

        g = gevent.spawn(run)
        self._timers.append(g)

    def set_var(self, name: str, value: object | None) -> None:
        if value is None or value == "":
            self.variables.pop(name, None)
        else:
            self.variables[name] = str(value)

    def get_var(self, name: str) -> str | None:
        if name == "uuid":
            return self.uuid
        return self.variables.get(name)

    def expand(self, text: str) -> str:
        """switch_channel_expand_variables() for the forms Hotline and the dialplan use."""
        if "$" not in text:
            return text

        def glob(m: re.Match[str]) -> str:
            return self.switch.global_var(m.group(1)) or ""

        text = re.sub(r"\$\$\{([^}]+)\}", glob, text)

        def var(m: re.Match[str]) -> str:
            expr = m.group(1)
            fm = re.fullmatch(r"strftime\((.*)\)", expr)
            if fm:
                return time.strftime(fm.group(1) or "%Y-%m-%d %H:%M:%S")
            if expr == "uuid":
                return self.uuid
            return self.variables.get(expr, "")

        return re.sub(r"\$\{([^{}]+)\}", var, text)

    # -- events ----------------------------------------------------------
    def event(
        self,
        name: str,
        *,
        pre: Iterable[tuple[str, object]] = (),
        post: Iterable[tuple[str, object]] = (),
        calling: tuple[str, str, int] | None = None,
        with_vars: bool | None = None,
    ) -> Event:
        ev = self.switch.new_event(name, calling or CALLING.get(name, ("switch_channel.c", "switch_channel_event_set_data", 0)))
        for k, v in pre:
            ev.add(k, v)
        self.set_basic_data(ev)
        if with_vars if with_vars is not None else name in EVENTS_WITH_VARIABLES:
            ev.add_many([("variable_" + k, v) for k, v in self.variables.items()])
        for k, v in post:
            ev.add(k, v)
        return ev

    def fire(self, name: str, **kwargs: Any) -> Event | None:
        """Build and fire the event; when no ESL listener would receive it, only its
        Event-Sequence number is used up (nobody can tell it was not built)."""
        switch = self.switch
        if not switch.wants(name, None, self.uuid):
            switch.skip_event()
            return None
        ev = self.event(name, **kwargs)
        switch.fire(ev)
        return ev

    def set_basic_data(self, ev: Event) -> None:
        """switch_channel_event_set_basic_data()."""
        direction = self.direction
        variables = self.variables
        append = ev.headers.append
        append(("Channel-State", self.running_state))
        append(("Channel-Call-State", self.callstate))
        append(("Channel-State-Number", str(self.state_number)))
        append(("Channel-Name", self.name))
        append(("Unique-ID", self.uuid))
        append(("Call-Direction", direction))
        append(("Presence-Call-Direction", direction))
        # inbound, or CF_DIALPLAN (set when an outbound leg's caller id is sorted)
        append(("Channel-HIT-Dialplan", "true" if direction == "inbound" or self.cid_sorted else "false"))
        if variables.get("presence_id"):
            append(("Channel-Presence-ID", variables["presence_id"]))
        append(("Channel-Call-UUID", variables.get("call_uuid") or self.uuid))
        append(("Answer-State", self.answer_state))
        if self.hangup_cause:
            ev.add_unique("Hangup-Cause", self.hangup_cause)
        if self.media:
            codec = self.read_codec
            ev.add_many((("Channel-Read-Codec-Name", codec[0]), ("Channel-Read-Codec-Rate", codec[1]),
                         ("Channel-Read-Codec-Bit-Rate", codec[2]), ("Channel-Write-Codec-Name", "PCMU"),
                         ("Channel-Write-Codec-Rate", "8000"), ("Channel-Write-Codec-Bit-Rate", "64000")))
        self.profile_headers(ev, "Caller", with_index=True)
        if self.other is not None and self.other_type:
            append(("Other-Type", self.other_type))
            self.other.profile_headers(ev, "Other-Leg", with_index=False)

    def profile_headers(self, ev: Event, prefix: str, *, with_index: bool) -> None:
        """switch_caller_profile_event_set_data()."""
        p = self.profile
        n = _profile_header_names(prefix)
        append = ev.headers.append
        direction = self.direction
        append((n["Direction"], direction))
        append((n["Logical-Direction"], direction))
        # the optional fields: written only when set
        if p.username:
            append((n["Username"], p.username))
        if p.dialplan:
            append((n["Dialplan"], p.dialplan))
        if p.caller_id_name:
            append((n["Caller-ID-Name"], p.caller_id_name))
        if p.caller_id_number:
            append((n["Caller-ID-Number"], p.caller_id_number))
        if p.orig_caller_id_name:
            append((n["Orig-Caller-ID-Name"], p.orig_caller_id_name))
        if p.orig_caller_id_number:
            append((n["Orig-Caller-ID-Number"], p.orig_caller_id_number))
        if p.callee_id_name:
            append((n["Callee-ID-Name"], p.callee_id_name))
        if p.callee_id_number:
            append((n["Callee-ID-Number"], p.callee_id_number))
        if p.network_addr:
            append((n["Network-Addr"], p.network_addr))
        if p.ani:
            append((n["ANI"], p.ani))
        if p.destination_number:
            append((n["Destination-Number"], p.destination_number))
        append((n["Unique-ID"], self.uuid))
        if p.source:
            append((n["Source"], p.source))
        if with_index and p.transfer_source:  # the other leg's profile is a copy taken before any transfer
            append((n["Transfer-Source"], p.transfer_source))
        if p.context:
            append((n["Context"], p.context))
        if p.rdnis:
            append((n["RDNIS"], p.rdnis))
        append((n["Channel-Name"], self.name))
        if with_index:
            append((n["Profile-Index"], str(p.index)))
        ev.add_many((
            (n["Profile-Created-Time"], str(p.created_us)),
            (n["Channel-Created-Time"], str(self.t_created)),
            (n["Channel-Answered-Time"], str(self.t_answered)),
            (n["Channel-Progress-Time"], str(self.t_progress)),
            (n["Channel-Progress-Media-Time"], str(self.t_progress_media)),
            (n["Channel-Hangup-Time"], str(self.t_hangup)),
            (n["Channel-Transfer-Time"], str(self.t_transfer)),
            (n["Channel-Resurrect-Time"], "0"),
            (n["Channel-Bridged-Time"], str(self.t_bridged)),
            (n["Channel-Last-Hold"], str(self.t_last_hold)),
            (n["Channel-Hold-Accum"], str(self.hold_accum)),
            (n["Screen-Bit"], "true"),
            (n["Privacy-Hide-Name"], "false"),
            (n["Privacy-Hide-Number"], "false"),
        ))

    def channel_data_event(self, calling: tuple[str, str, int]) -> Event:
        """CHANNEL_DATA as uuid_dump and the outbound 'connect' reply build it."""
        return self.event("CHANNEL_DATA", calling=calling)

    # -- states ----------------------------------------------------------
    def set_running_state(self, state: str, number: int | None = None) -> None:
        """switch_channel_perform_set_running_state(): an inbound leg's call state follows its
        running state (RINGING while routing, then ACTIVE or EARLY); an outbound leg's does not."""
        self.running_state = state
        self.state_number = CS[state] if number is None else number
        if self.direction == "inbound" and CS[state] < CS["CS_HANGUP"]:
            if state == "CS_ROUTING":
                self.set_callstate("RINGING")
            elif self.answered:
                self.set_callstate("ACTIVE")
            elif self.answer_state == "early":
                self.set_callstate("EARLY")
        self.fire("CHANNEL_STATE")

    def set_callstate(self, callstate: str) -> None:
        if callstate == self.callstate:
            return
        original = self.callstate
        self.callstate = callstate
        self.fire(
            "CHANNEL_CALLSTATE",
            pre=[("Original-Channel-Call-State", original), ("Channel-Call-State-Number", CALLSTATE_NUMBER[callstate])],
        )

    def mark_ring_ready(self) -> None:
        if self.t_progress or not self.up:
            return
        self.t_progress = now_us()
        if self.other_type == "originator" and self.other is not None and not self.other.t_progress:
            self.other.t_progress = self.t_progress  # the ringing is passed on to the caller
        self.fire("CHANNEL_PROGRESS")
        self.set_callstate("RINGING")

    def pre_answer(self) -> None:
        """switch_channel_pre_answer() -> mark_pre_answered (CHANNEL_PROGRESS_MEDIA)."""
        if self.answer_state != "ringing" or not self.up:
            return
        self.t_progress_media = now_us()
        self.media = True
        self._media_vars()
        self.set_var("endpoint_disposition", "EARLY MEDIA")
        self.answer_state = "early"
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self.set_callstate("EARLY")

    def answer(self) -> None:
        """switch_channel_answer(): inbound SIP legs pass through early media first."""
        if not self.up or self.answered:
            return
        if self.direction == "inbound" and self.answer_state == "ringing":
            self.pre_answer()
        self.t_answered = now_us()
        if not self.media:
            self.media = True
            self._media_vars()
        self.answer_state = "answered"
        self.fire("CHANNEL_ANSWER")
        self.set_var("endpoint_disposition", "ANSWER")
        self.set_callstate("ACTIVE")
        self.answered_event.set()
        self.poke()

    def _media_vars(self) -> None:
        for k, v in (
            ("read_codec", "PCMU"), ("original_read_codec", "PCMU"), ("read_rate", "8000"),
            ("original_read_rate", "8000"), ("write_codec", "PCMU"), ("write_rate", "8000"),
            ("dtmf_type", "rfc2833"),
        ):
            self.set_var(k, v)

    # -- requests from other greenlets -------------------------------------
    def hangup(self, cause: str = "NORMAL_CLEARING", *, disposition: str | None = None) -> bool:
        """switch_channel_hangup(): fires CHANNEL_HANGUP now, the session greenlet does the rest."""
        if self.hangup_cause is not None:
            return False
        self.hangup_cause = cause
        self.state_number = CS["CS_HANGUP"]
        self.answer_state = "hangup"
        if disposition:
            self.set_var("sip_hangup_disposition", disposition)
        self.fire("CHANNEL_HANGUP")
        self.hangup_event.set()
        partner = self.partner
        if partner is not None and partner.in_broadcast:
            partner.request_break()  # hold music for this leg stops with it
        for listener in list(self.listeners):
            listener.on_channel_down(self)
        self.poke()
        if self.greenlet is None:  # never ran: do the rest here
            self.greenlet = gevent.spawn(self._teardown)
        return True

    def request_transfer(self, dest: str, dialplan: str = "XML", context: str = "default") -> None:
        """switch_ivr_session_transfer(): a new caller profile now, the routing in the session greenlet."""
        p = self.profile
        if not self.variables.get("original_destination_number"):
            self.set_var("original_destination_number", p.destination_number)
            self.set_var("original_caller_id_name", p.caller_id_name)
            self.set_var("original_caller_id_number", p.caller_id_number)
        now = now_us()
        source = f"{now // 1_000_000}:{new_uuid()}:bl_xfer:{dest}/{context}/{dialplan}"
        self.profile = Profile(**{**p.__dict__, "destination_number": dest, "dialplan": dialplan, "context": context,
                                  "rdnis": p.destination_number, "transfer_source": source,
                                  "index": p.index + 1, "created_us": now})
        self.new_profile_times()
        if self.state_number < CS["CS_HANGUP"]:
            self.state_number = CS["CS_ROUTING"]  # switch_channel_set_state(): the running state follows later
        self.set_var("transfer_source", source)
        history = self.variables.get("transfer_history")
        self.set_var("transfer_history", f"{history}|:{source}" if history else source)
        self.other = None
        self.other_type = None
        self.pending_transfer = (dest, dialplan, context)
        self.poke()

    def new_profile_times(self) -> None:
        """switch_channel_set_caller_profile(): a new caller profile keeps the created, answered and
        progress times and starts with no bridge, hold or transfer time (the billing variables
        bridge_uepoch, waitsec, hold_accum_* follow the current profile, as the recordings show)."""
        self.t_bridged = 0
        self.t_transfer = 0
        self.t_last_hold = 0
        self.hold_accum = 0

    def request_bridge(self, request: BridgeRequest) -> None:
        self.pending_bridge = request
        self.poke()

    def set_program(self, kind: str, arg: Any) -> None:
        """What an answered outbound leg does next: ("extension", apps), ("transfer", (dest, dp, ctx)), ("bridged", None)."""
        self.program.set((kind, arg))
        self.poke()

    def queue_message(self, msg: Message) -> None:
        self.messages.append(msg)
        self.poke()

    def flush_messages(self) -> None:
        self.messages.clear()

    def request_break(self, all_: bool = False) -> None:
        self.break_flag = 2 if all_ else 1
        self.poke()

    def queue_dtmf(self, digits: str, source: str = "APP", duration: int = 2000) -> None:
        """A digit arrives (RFC 2833 from the caller, or uuid_recv_dtmf)."""
        for d in digits:
            if not self.up:
                return
            if d in "wW":
                continue
            self.fire("DTMF", post=[("DTMF-Digit", d), ("DTMF-Duration", duration), ("DTMF-Source", source)])
            if self.collecting:
                self.dtmf.append(d)
            self.digits_dialed += d
        self.poke()

    # -- waiting in the session greenlet -------------------------------------
    def check_unwind(self) -> None:
        if self.hangup_cause is not None:
            raise HangupUnwind()
        if self.pending_transfer is not None:
            raise TransferUnwind()
        if self.pending_bridge is not None:
            raise BridgeUnwind()

    def wait(self, seconds: float | None, *, until: Callable[[], bool] | None = None,
             on_break: bool = False, messages: bool = False) -> str:
        """Block the session greenlet: 'done' (until() true), 'break', 'timeout'.

        Raises an Unwind when the channel is hung up, transferred or uuid_bridged.
        With messages=True, queued sendmsg/broadcast applications run here.
        """
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            self.wake.clear()
            self.check_unwind()
            if until is not None and until():
                return "done"
            if on_break and self.break_flag:
                return "break"
            now = time.monotonic()
            next_message = None
            if messages and self.messages:
                if self.messages[0].not_before <= now:
                    self.run_message(self.messages.popleft())
                    continue
                next_message = self.messages[0].not_before
            wake_at = deadline
            if next_message is not None and (wake_at is None or next_message < wake_at):
                wake_at = next_message
            if wake_at is None:
                self.wake.wait()
            else:
                if deadline is not None and deadline <= now:
                    return "timeout"
                self.wake.wait(max(wake_at - now, 0.0))

    def run_message(self, msg: Message) -> None:
        from . import apps

        self.in_broadcast = msg.broadcast
        try:
            for n in range(max(msg.loops, 1)):
                self.set_var("current_loop", n + 1)
                self.set_var("total_loops", max(msg.loops, 1))
                apps.execute(self, msg.app, msg.arg, app_uuid=msg.app_uuid)
        finally:
            self.in_broadcast = False
            if self.up:
                self.set_var("current_loop", None)
                self.set_var("total_loops", None)
            if msg.done is not None and not msg.done.ready():
                msg.done.set(True)

    # -- the session greenlet ------------------------------------------------
    def start(self, target: Callable[[], None]) -> None:
        def run() -> None:
            try:
                target()
            except Unwind:
                pass
            except gevent.GreenletExit:
                self.killed = True
                raise
            except Exception:  # a bug in the simulator must not leave a channel behind
                log.exception("channel %s crashed", self.uuid)
                if self.up:
                    self.hangup("NORMAL_TEMPORARY_FAILURE")
            finally:
                if not self.killed:
                    self._teardown()

        self.greenlet = gevent.spawn(run)

    def run_dialplan(self, apps: list[tuple[str, str]], index: int = 0) -> None:
        """Execute an extension; transfers, uuid_bridge and the end of the extension as FreeSWITCH does."""
        from . import apps as applib

        while self.up:
            try:
                if self.pending_bridge is not None:
                    request, self.pending_bridge = self.pending_bridge, None
                    applib.run_uuid_bridge(self, request)
                    if not self.up:
                        break
                    if true(self.variables.get("park_after_bridge")):
                        apps, index = [("park", "")], 0
                    elif true(self.variables.get("hangup_after_bridge")):
                        self.hangup("NORMAL_CLEARING")
                        break
                    continue
                if self.pending_transfer is not None:
                    dest, dialplan, context = self.pending_transfer
                    self.pending_transfer = None
                    apps, index = self.route(dest, dialplan, context), 0
                    continue
                if self.stop_dialplan or index >= len(apps):
                    self.hangup("NORMAL_CLEARING")
                    break
                name, data = apps[index]
                index += 1
                applib.execute(self, name, data)
            except HangupUnwind:
                break
            except (TransferUnwind, BridgeUnwind):
                continue

    def route(self, dest: str, dialplan: str, context: str) -> list[tuple[str, str]]:
        """CS_ROUTING then CS_EXECUTE for a new destination."""
        self.set_running_state("CS_ROUTING")
        self.routed = (dest, dialplan, context)  # what the channels table shows from now on
        extension = self.switch.dialplan_lookup(dest, dialplan, context)
        if dialplan == "inline":
            # inline_dialplan_hunt(): the profile gets its previous destination back, and no RDNIS
            self.profile.destination_number, self.profile.rdnis = self.profile.rdnis, ""
        self.sort_cid()
        self.set_running_state("CS_EXECUTE")
        return extension

    def sort_cid(self) -> None:
        """switch_channel_sort_cid() when a caller extension is set: the first time an outbound leg
        gets one (dialplan or originate's &app), its caller and callee ids change places, so the
        leg presents the phone's identity (as the recordings show: "Outbound Call" <1001>)."""
        if self.direction != "outbound" or self.cid_sorted:
            return
        self.cid_sorted = True
        p = self.profile
        self.set_var("pre_transfer_caller_id_name", p.caller_id_name)
        self.set_var("pre_transfer_caller_id_number", p.caller_id_number)
        p.caller_id_name, p.callee_id_name = p.callee_id_name, p.caller_id_name
        p.caller_id_number, p.callee_id_number = p.callee_id_number, p.caller_id_number

    def run_inbound(self) -> None:
        """An inbound SIP call: CHANNEL_CREATE, routing through the public dialplan."""
        self.running_state, self.state_number = "CS_INIT", CS["CS_ROUTING"]
        self.fire("CHANNEL_CREATE")
        self.running_state = "CS_ROUTING"
        self.set_callstate("RINGING")
        self.fire("CHANNEL_STATE")
        extension = self.switch.dialplan_lookup(self.profile.destination_number, "XML", self.profile.context)
        self.set_running_state("CS_EXECUTE")
        self.run_dialplan(extension)

    def _teardown(self) -> None:
        """CS_HANGUP, CS_REPORTING (CHANNEL_HANGUP_COMPLETE), then CHANNEL_DESTROY."""
        try:
            if self.up:
                self.hangup("NORMAL_CLEARING")
            if self.partner is not None:
                self.partner.poke()
            for g in self._timers:
                g.kill(block=False)
            self.set_running_state("CS_HANGUP")
            self.t_hangup = now_us()
            from . import apps as applib

            for path in list(self.recordings):
                applib.stop_recording(self, path, cause="success-silence")
            if self.held:
                if self.t_last_hold:
                    self.hold_accum += now_us() - self.t_last_hold
                self.held = False
            self.set_callstate("HANGUP")
            self.set_running_state("CS_REPORTING")
            self.set_billing_vars()
            self.fire("CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", self.hangup_cause)])
            while self.listeners:
                self.wake.clear()
                if self.listeners:
                    self.wake.wait()
            self.state_number = CS["CS_DESTROY"]
            self.fire("CHANNEL_DESTROY")
        except gevent.GreenletExit:
            raise
        except Exception:
            log.exception("teardown of channel %s failed", self.uuid)
        finally:
            self.switch.remove_channel(self)
            self.destroyed_event.set()

    def set_billing_vars(self) -> None:
        """switch_channel_set_timestamps(): the *_stamp, *_epoch, duration and billsec variables."""
        v = self.set_var
        end = self.t_hangup
        v("hangup_cause", self.hangup_cause)
        v("hangup_cause_q850", CAUSE_Q850.get(self.hangup_cause or "", 0))
        v("digits_dialed", self.digits_dialed or "none")

        def stamp(us: int) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000))

        for name, us in (("start", self.t_created), ("profile_start", self.profile.created_us),
                         ("answer", self.t_answered), ("bridge", self.t_bridged), ("progress", self.t_progress),
                         ("progress_media", self.t_progress_media), ("end", end)):
            if us:
                v(f"{name}_stamp", stamp(us))
        for name, us in (("start", self.t_created), ("profile_start", self.profile.created_us),
                         ("answer", self.t_answered), ("bridge", self.t_bridged), ("last_hold", self.t_last_hold)):
            v(f"{name}_epoch", us // 1_000_000)
            v(f"{name}_uepoch", us)
        v("hold_accum_seconds", self.hold_accum // 1_000_000)
        v("hold_accum_usec", self.hold_accum)
        v("hold_accum_ms", self.hold_accum // 1000)
        v("resurrect_epoch", 0)
        v("resurrect_uepoch", 0)
        for name, us in (("progress", self.t_progress), ("progress_media", self.t_progress_media), ("end", end)):
            v(f"{name}_epoch", us // 1_000_000)
            v(f"{name}_uepoch", us)
        if self.last_app is not None:
            v("last_app", self.last_app[0])
            v("last_arg", self.last_app[1] or None)
        v("caller_id", f'"{self.profile.caller_id_name}" <{self.profile.caller_id_number}>')

        def span(t0: int, t1: int) -> tuple[int, int, int]:
            if not t0 or not t1:
                return 0, 0, 0
            return t1 // 1_000_000 - t0 // 1_000_000, t1 // 1000 - t0 // 1000, t1 - t0

        created = self.t_created
        duration = span(created, end)
        bill = span(self.t_answered, end)
        progress = span(created, self.t_progress)
        answer = span(created, self.t_answered)
        wait = span(created, self.t_bridged)
        progress_media = span(created, self.t_progress_media)
        for i, unit in enumerate(("sec", "msec", "usec")):
            dur_name = ("duration", "mduration", "uduration")[i]
            bill_name = ("billsec", "billmsec", "billusec")[i]
            v(dur_name, duration[i])
            v(bill_name, bill[i])
            v(f"progress{unit}", progress[i])
            v(f"answer{unit}", answer[i])
            v(f"wait{unit}", wait[i])
            v(f"progress_media{unit}", progress_media[i])
            v(f"flow_bill{unit}", duration[i])

    # -- bridging ----------------------------------------------------------
    def link(self, other: "Channel", *, originator: bool) -> None:
        """Join two legs: self is the a-leg (it fires CHANNEL_BRIDGE). originator=True for the
        bridge application (other was originated for self), False for uuid_bridge."""
        now = now_us()
        self.partner = other
        other.partner = self
        if originator:
            self.other, self.other_type = other, "originatee"
            other.other, other.other_type = self, "originator"
        for me, peer in ((self, other), (other, self)):
            me.t_bridged = now
            me.ever_bridged = True
            me.set_var("bridge_to", peer.uuid)
            me.set_var("last_bridge_to", peer.uuid)
            me.set_var("bridge_channel", peer.name)
            me.set_var("bridge_uuid", peer.uuid)
            me.set_var("signal_bond", peer.uuid)
        # what each side presents to its endpoint as the connected party
        bp = other.profile
        self.set_var("last_sent_callee_id_name", bp.callee_id_name or bp.callee_id_number)
        self.set_var("last_sent_callee_id_number", bp.callee_id_number)
        shown = other.profile if originator else self.profile
        other.set_var("last_sent_callee_id_name", shown.caller_id_name)
        other.set_var("last_sent_callee_id_number", shown.caller_id_number)

    def unlink(self) -> None:
        peer = self.partner
        self.partner = None
        self.set_var("bridge_to", None)
        if peer is not None and peer.partner is self:
            peer.partner = None
            peer.set_var("bridge_to", None)
            if peer.in_broadcast:
                peer.request_break()
            peer.poke()

    def on_bridged(self) -> None:
        """Start the people's timers that run from the bridge (talk time, agent hangup)."""
        first = not self.bridged_event.is_set()
        self.bridged_event.set()
        script = self.caller_script
        if first and script is not None and script.talk_s is not None:
            self.spawn_timer(script.talk_s, lambda: self.hangup("NORMAL_CLEARING", disposition="recv_bye"))
        phone = self.phone_script
        if first and phone is not None and phone.hangup_after_s is not None:
            self.spawn_timer(phone.hangup_after_s, lambda: self.hangup("NORMAL_CLEARING", disposition="recv_bye"))

    # -- snapshots --------------------------------------------------------
    def info(self) -> "ChannelInfo":
        return ChannelInfo(
            uuid=self.uuid, name=self.name, direction=self.direction, state=self.running_state,
            call_state=self.callstate, answer_state=self.answer_state,
            caller_id_name=self.profile.caller_id_name, caller_id_number=self.profile.caller_id_number,
            destination_number=self.profile.destination_number,
            bridged_to=self.partner.uuid if self.partner else None,
            application=self.current_app[0] if self.current_app else None,
            variables=dict(self.variables), created_us=self.t_created, answered_us=self.t_answered,
        )


@dataclass(frozen=True)
class ChannelInfo:
    """A snapshot of one live channel (Switch.channels())."""

    uuid: str
    name: str
    direction: str
    state: str
    call_state: str
    answer_state: str
    caller_id_name: str
    caller_id_number: str
    destination_number: str
    bridged_to: Optional[str]
    application: Optional[str]
    variables: dict[str, str]
    created_us: int
    answered_us: int
