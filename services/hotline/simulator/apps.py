"""Dialplan applications (mod_dptools and friends) as the simulator runs them.

Every function here runs in the channel's own session greenlet. ``execute``
wraps an application in its CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE pair
exactly like switch_core_session_exec(): the response comes from the channel
variable current_application_response, cleared when an application starts.
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import time
from typing import Callable

import gevent

from . import media, wav
from .channel import (
    CAUSE_Q850,
    UUID_BRIDGE_CALLING_A,
    UUID_BRIDGE_CALLING_B,
    BridgeRequest,
    Channel,
    HangupUnwind,
    Message,
    Recording,
    new_uuid,
    now_us,
    str2cause,
    true,
)

log = logging.getLogger(__name__)

AppFn = Callable[[Channel, str], None]
APPS: dict[str, AppFn] = {}


def app(*names: str) -> Callable[[AppFn], AppFn]:
    def register(fn: AppFn) -> AppFn:
        for name in names:
            APPS[name] = fn
        return fn

    return register


def execute(ch: Channel, name: str, data: str, *, app_uuid: str | None = None) -> None:
    """switch_core_session_execute_application() + switch_core_session_exec()."""
    fn = APPS.get(name)
    if fn is None:
        # switch_core_session_execute_application_get_flags(): "Invalid Application %s",
        # then switch_channel_hangup(channel, SWITCH_CAUSE_DESTINATION_OUT_OF_ORDER).
        log.warning("Invalid Application %s on %s", name, ch.uuid)
        ch.hangup("DESTINATION_OUT_OF_ORDER")
        return
    data = ch.expand(data or "")
    app_uuid = app_uuid or new_uuid()
    ch.current_app = (name, data)
    ch.last_app = (name, data)
    ch.set_var("current_application", name)
    ch.set_var("current_application_data", data or None)
    ch.set_var("current_application_response", None)
    with_data = [("Application-Data", data)] if data else []
    ch.fire("CHANNEL_EXECUTE", post=[("Application", name), *with_data, ("Application-UUID", app_uuid)])
    try:
        fn(ch, data)
    finally:
        response = ch.variables.get("current_application_response") or "_none_"
        ch.fire(
            "CHANNEL_EXECUTE_COMPLETE",
            post=[("Application", name), *with_data, ("Application-Response", response), ("Application-UUID", app_uuid)],
        )


def split_args(data: str) -> list[str]:
    """switch_separate_string(): space separated, quotes group words."""
    try:
        return shlex.split(data, posix=False)
    except ValueError:
        return data.split()


# -- simple applications ------------------------------------------------------
@app("answer")
def app_answer(ch: Channel, data: str) -> None:
    ch.answer()


@app("pre_answer")
def app_pre_answer(ch: Channel, data: str) -> None:
    ch.pre_answer()


@app("ring_ready")
def app_ring_ready(ch: Channel, data: str) -> None:
    ch.mark_ring_ready()


@app("set")
def app_set(ch: Channel, data: str) -> None:
    name, _, value = data.partition("=")
    if name:
        ch.set_var(name.strip(), value or None)


@app("multiset")
def app_multiset(ch: Channel, data: str) -> None:
    """mod_dptools multiset: `[^^<delim>]var=value var2=value2`, each part as
    `set` does it (the default delimiter is a space)."""
    delim, arg = " ", data
    if arg.startswith("^^") and len(arg) > 2:
        delim, arg = arg[2], arg[3:]
    for part in arg.split(delim):
        if part:
            app_set(ch, part)


@app("export")
def app_export(ch: Channel, data: str) -> None:
    name, _, value = data.partition("=")
    name = name.strip()
    local = True
    if name.startswith("nolocal:"):
        name, local = name[len("nolocal:"):], False
    if not name:
        return
    if local:
        ch.set_var(name, value or None)
    exported = [v for v in (ch.variables.get("export_vars") or "").split(",") if v]
    if name not in exported:
        exported.append(name)
    ch.set_var("export_vars", ",".join(exported))
    if not local:
        ch.exported_only[name] = value


@app("unset")
def app_unset(ch: Channel, data: str) -> None:
    ch.set_var(data.strip(), None)


@app("sleep")
def app_sleep(ch: Channel, data: str) -> None:
    try:
        ms = int(data.strip() or "0")
    except ValueError:
        ms = 0
    ch.wait(ms / 1000.0)


@app("hangup")
def app_hangup(ch: Channel, data: str) -> None:
    ch.hangup(str2cause(data) or "NORMAL_CLEARING")


@app("log", "info", "event", "sched_hangup", "limit", "hash", "db")
def app_noop(ch: Channel, data: str) -> None:
    """Applications that only touch logs/databases: nothing visible to simulate."""


@app("echo")
def app_echo(ch: Channel, data: str) -> None:
    ch.wait(None)


@app("park")
def app_park(ch: Channel, data: str) -> None:
    park_loop(ch)


@app("transfer")
def app_transfer(ch: Channel, data: str) -> None:
    args = data.split()
    if not args:
        return
    if args[0] in ("-bleg", "-both"):
        target, args = args[0], args[1:]
        if not args:
            return
        if ch.partner is not None:
            ch.partner.request_transfer(args[0], *(args[1:3] or ["XML"]))
        if target == "-bleg":
            return
    dialplan = args[1] if len(args) > 1 else "XML"
    context = args[2] if len(args) > 2 else ch.profile.context or "default"
    ch.request_transfer(args[0], dialplan, context)


@app("eavesdrop")
def app_eavesdrop(ch: Channel, data: str) -> None:
    """Listen to another call until it or this leg ends (no media is simulated)."""
    target = ch.switch.get_channel(data.strip())
    if target is None:
        ch.set_var("current_application_response", None)
        return
    target.watchers.add(ch.wake)
    ch.read_codec = ("L16", "8000", "128000")  # switch_ivr_eavesdrop_session() reads linear audio
    try:
        ch.wait(None, until=lambda: not target.up)
    finally:
        target.watchers.discard(ch.wake)
        ch.read_codec = ("PCMU", "8000", "64000")


# -- park ---------------------------------------------------------------------
def park_loop(ch: Channel, *, until: Callable[[], bool] | None = None) -> None:
    """switch_ivr_park(): CHANNEL_PARK, queued applications run here, CHANNEL_UNPARK on the way out."""
    ch.fire("CHANNEL_PARK")
    try:
        ch.wait(None, until=until, messages=True)
    finally:
        ch.fire("CHANNEL_UNPARK")
        ch.set_var("current_loop", None)
        ch.set_var("total_loops", None)


# -- playback and digits -------------------------------------------------------
def play(ch: Channel, path: str, *, stop_on_dtmf: bool = False) -> str:
    """switch_ivr_play_file() for each file: 'done', 'break', 'dtmf' or 'notfound'."""
    sw = ch.switch
    for item in media.split_file_string(path):
        playable = media.resolve(item, media_scale=sw.media_scale, local_streams=sw.local_streams,
                                 sounds_installed=sw.sounds_installed)
        if not playable.found:
            return "notfound"
        head = [("Playback-File-Type", playable.file_type)] if playable.file_type else []
        ch.fire("PLAYBACK_START", post=[*head, ("Playback-File-Path", item)])
        started = time.monotonic()
        status = "done"
        ch.playing = True
        ch.break_flag = 0
        try:
            result = ch.wait(playable.duration_s, on_break=True, until=(lambda: bool(ch.dtmf)) if stop_on_dtmf else None)
            if result == "break":
                status = "break"
            elif result == "done":
                status = "dtmf"
        finally:
            ch.playing = False
            ch.break_flag = 0
            if status == "done" and playable.duration_s is not None:
                ms = int(round(playable.duration_s / sw.media_scale * 1000))
            else:
                ms = int((time.monotonic() - started) / sw.media_scale * 1000)
            samples = ms * 8
            ch.set_var("playback_last_offset_pos", samples)
            ch.set_var("playback_seconds", ms // 1000)
            ch.set_var("playback_ms", ms)
            ch.set_var("playback_samples", samples)
            ch.fire("PLAYBACK_STOP", post=[*head, ("Playback-File-Path", item),
                                           ("Playback-Status", "done" if status == "done" else "break")])
        if status != "done":
            return status
    return "done"


@app("playback", "gentones", "speak")
def app_playback(ch: Channel, data: str) -> None:
    path = data.strip()
    if ch.current_app and ch.current_app[0] == "gentones" and not path.startswith("tone_stream://"):
        path = "tone_stream://" + path
    if ch.current_app and ch.current_app[0] == "speak":
        path = "speak:" + path
    result = play(ch, path)
    ch.set_var("current_application_response", "FILE NOT FOUND" if result == "notfound" else "FILE PLAYED")


@app("say", "phrase")
def app_say(ch: Channel, data: str) -> None:
    play(ch, "say:" + data)


def _press_script(ch: Channel, max_digits: int) -> None:
    """The scripted caller answers a digit collection that starts now."""
    script = ch.caller_script
    if script is None:
        return
    chunk = script.next_collection(max_digits)
    if not chunk:
        return

    def press() -> None:
        gevent.sleep(script.digit_delay_s)
        for d in chunk:
            ch.queue_dtmf(d, source="RTP")
            gevent.sleep(script.inter_digit_s)

    ch._timers.append(gevent.spawn(press))


def read_digits(ch: Channel, min_digits: int, max_digits: int, prompt: str, timeout_ms: int,
                terminators: str, digit_timeout_ms: int) -> tuple[str, str]:
    """switch_ivr_read(): returns (status, digits); status success|timeout|failure."""
    ch.dtmf.clear()
    ch.collecting = True
    ch.set_var("read_terminator_used", None)
    digits = ""
    try:
        if prompt:
            played = play(ch, prompt, stop_on_dtmf=True)
            if played == "notfound":
                log.warning("read prompt %s not found on %s", prompt, ch.uuid)
        if not ch.dtmf:
            _press_script(ch, max_digits)
        status = "success"
        while len(digits) < max_digits:
            if not ch.dtmf:
                wait_ms = timeout_ms if not digits else digit_timeout_ms
                if ch.wait(wait_ms / 1000.0, until=lambda: bool(ch.dtmf)) == "timeout":
                    status = "timeout"
                    break
            d = ch.dtmf.popleft()
            if d in terminators:
                ch.set_var("read_terminator_used", d)
                break
            digits += d
        if status == "success" and len(digits) < min_digits and not ch.variables.get("read_terminator_used"):
            status = "failure"
        return status, digits
    finally:
        ch.collecting = False
        ch.dtmf.clear()


def _terminators(spec: str) -> str:
    return "" if spec in ("none", "") else spec


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


@app("play_and_get_digits")
def app_play_and_get_digits(ch: Channel, data: str) -> None:
    """<min> <max> <tries> <timeout> <terminators> <file> <invalid_file> [<var_name> [<regexp> [<digit_timeout> [<transfer_on_failure>]]]]"""
    argv = split_args(data)
    if len(argv) < 7:
        log.error("play_and_get_digits: bad arguments %r", data)
        return
    min_d, max_d = _int(argv[0], 0), _int(argv[1], 128)
    tries = max(_int(argv[2], 1), 1)
    timeout = _int(argv[3], 5000)
    terminators = _terminators(argv[4])
    prompt, invalid = argv[5], argv[6]
    var_name = argv[7] if len(argv) > 7 else None
    regex = argv[8] if len(argv) > 8 else None
    digit_timeout = _int(argv[9], timeout) if len(argv) > 9 else timeout
    transfer_on_failure = argv[10] if len(argv) > 10 else None
    if max_d < min_d:
        max_d = min_d
    # switch_play_and_get_digits()
    while ch.up and tries > 0:
        status, digits = read_digits(ch, min_d, max_d, prompt, timeout, terminators, digit_timeout)
        if status == "timeout" and len(digits) >= min_d:
            status = "success"
        ch.set_var("read_result", status)
        if var_name:
            ch.set_var(var_name, digits or None)
        if min_d == 0 and not digits and ch.variables.get("read_terminator_used"):
            return
        if status == "success" and digits:
            if not regex or re.search(regex, digits):
                return
            if var_name:
                ch.set_var(var_name, None)
            ch.set_var(f"{var_name or 'pagd'}_invalid", digits)
        if invalid and invalid != "none":
            play(ch, invalid)
        tries -= 1
    if ch.up and transfer_on_failure:
        parts = transfer_on_failure.split()
        ch.request_transfer(parts[0], *(parts[1:3] or ["XML"]))


@app("read")
def app_read(ch: Channel, data: str) -> None:
    """<min> <max> <sound file> <variable name> <timeout> <terminators>"""
    argv = split_args(data)
    if len(argv) < 4:
        log.error("read: bad arguments %r", data)
        return
    min_d, max_d = _int(argv[0], 0), _int(argv[1], 128)
    prompt, var_name = argv[2], argv[3]
    timeout = _int(argv[4] if len(argv) > 4 else None, 5000)
    terminators = _terminators(argv[5] if len(argv) > 5 else "#")
    status, digits = read_digits(ch, min_d, max_d, prompt, timeout, terminators, timeout)
    ch.set_var("read_result", status)
    ch.set_var(var_name, digits or None)


# -- recording -------------------------------------------------------------------
def start_recording(ch: Channel, path: str, limit_s: float = 0.0) -> bool:
    """switch_ivr_record_session(): open the file now, RECORD_START, write it at the stop."""
    fs_path = ch.switch.recording_fs_path(path)
    try:
        parent = os.path.dirname(fs_path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(fs_path, "wb"):
            pass
    except OSError as exc:
        log.warning("cannot open recording %s: %s", fs_path, exc)
        return False
    rec = Recording(path=path, fs_path=fs_path, started=time.monotonic(),
                    stereo=true(ch.variables.get("RECORD_STEREO")), limit_s=limit_s)
    ch.recordings[path] = rec
    ch.fire("RECORD_START", post=[("Record-File-Path", path)])
    if limit_s > 0:
        rec.timer = gevent.spawn_later(limit_s, stop_recording, ch, path, "success-maxtime")
    return True


def stop_recording(ch: Channel, path: str, cause: str = "success-maxtime") -> bool:
    """switch_ivr_stop_record_session(): write the WAV, RECORD_STOP with the record_* variables."""
    paths = list(ch.recordings) if path == "all" else [path]
    found = False
    for p in paths:
        rec = ch.recordings.pop(p, None)
        if rec is None:
            continue
        found = True
        if rec.timer is not None and rec.timer is not gevent.getcurrent():
            rec.timer.kill(block=False)
        now = time.monotonic()
        duration = now - rec.started
        masked = list(rec.masked)
        if rec.mask_started is not None:
            masked.append((rec.mask_started - rec.started, duration))
        try:
            samples, size = wav.write_recording(rec.fs_path, duration, rec.stereo, masked)
        except OSError as exc:
            log.warning("cannot write recording %s: %s", rec.fs_path, exc)
            samples, size = 0, 0
        ms = samples // 8
        ch.set_var("record_file_size", size)
        ch.set_var("record_samples", samples)
        ch.set_var("record_seconds", ms // 1000)
        ch.set_var("record_ms", ms)
        ch.set_var("record_completion_cause", cause)
        ch.fire("RECORD_STOP", post=[("Record-File-Path", rec.path), ("Record-Completion-Cause", cause)])
    return found


def mask_recording(ch: Channel, path: str, mask: bool) -> bool:
    rec = ch.recordings.get(path)
    if rec is None:
        return False
    now = time.monotonic()
    if mask and rec.mask_started is None:
        rec.mask_started = now
    elif not mask and rec.mask_started is not None:
        rec.masked.append((rec.mask_started - rec.started, now - rec.started))
        rec.mask_started = None
    return True


@app("record_session")
def app_record_session(ch: Channel, data: str) -> None:
    argv = data.split()
    if not argv:
        return
    limit = 0.0
    if len(argv) > 1:
        try:
            limit = float(argv[1].lstrip("+"))
        except ValueError:
            limit = 0.0
    start_recording(ch, argv[0], limit)


@app("stop_record_session")
def app_stop_record_session(ch: Channel, data: str) -> None:
    stop_recording(ch, data.strip() or "all", cause="success-maxtime")


# -- hold ------------------------------------------------------------------------
def hold(ch: Channel) -> bool:
    """switch_ivr_hold(): HELD call state, CHANNEL_HOLD, hold music to the other party."""
    if not ch.up:
        return False
    if ch.held:
        return True
    ch.held = True
    ch.set_callstate("HELD")
    ch.t_last_hold = now_us()  # after the HELD call state event, before CHANNEL_HOLD (as recorded)
    ch.fire("CHANNEL_HOLD")
    partner = ch.partner
    if partner is not None and partner.up:
        music = ch.variables.get("hold_music") or ch.switch.global_var("hold_music") or "local_stream://moh"
        partner.queue_message(Message("playback", music, broadcast=True, not_before=time.monotonic() + 0.02))
    return True


def unhold(ch: Channel) -> bool:
    """switch_ivr_unhold(): UNHELD, CHANNEL_UNHOLD, ACTIVE; the other party's hold music stops."""
    if not ch.up:
        return False
    if not ch.held:
        return True
    ch.held = False
    ch.set_callstate("UNHELD")
    if ch.t_last_hold:
        ch.hold_accum += now_us() - ch.t_last_hold
    ch.fire("CHANNEL_UNHOLD")
    ch.set_callstate("ACTIVE")
    partner = ch.partner
    if partner is not None:
        for msg in [m for m in partner.messages if m.broadcast]:
            partner.messages.remove(msg)
        if partner.playing:
            partner.request_break()
    return True


# -- bridging ----------------------------------------------------------------------
def bridge_loop(a: Channel, b: Channel) -> None:
    """switch_ivr_multi_threaded_bridge() from the a-leg: CHANNEL_BRIDGE ... CHANNEL_UNBRIDGE."""
    a.fire("CHANNEL_BRIDGE", pre=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
    a.set_var("last_bridge_role", "originator")
    b.set_var("last_bridge_role", "originatee")
    a.on_bridged()
    b.on_bridged()
    b.watchers.add(a.wake)
    try:
        a.wait(None, until=lambda: (not b.up) or b.partner is not a, messages=True)
    finally:
        b.watchers.discard(a.wake)
        if not a.up and b.up and b.partner is a:
            b.hangup(a.hangup_cause or "NORMAL_CLEARING")
        a.unlink()
        cause = b.hangup_cause or "NORMAL_CLEARING"
        a.set_var("last_bridge_hangup_cause", cause)
        a.set_var("bridge_hangup_cause", cause)
        a.fire("CHANNEL_UNBRIDGE", pre=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])


def bridge_slave(b: Channel) -> None:
    """The other leg while bridged: it only waits (running queued applications, e.g. hold music)."""
    try:
        b.wait(None, until=lambda: b.partner is None, messages=True)
    finally:
        if b.partner is not None:
            b.unlink()


_DIALSTATUS = {"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER", "NO_USER_RESPONSE": "NOANSWER",
               "ORIGINATOR_CANCEL": "CANCEL", "CALL_REJECTED": "BUSY"}


@app("bridge")
def app_bridge(ch: Channel, data: str) -> None:
    from .originate import originate

    if ch.answered:
        ch.set_callstate("RING_WAIT")
    result = originate(ch.switch, data, originator=ch)
    if result.channel is None:
        cause = result.cause
        ch.set_var("originate_disposition", cause)
        ch.set_var("DIALSTATUS", _DIALSTATUS.get(cause, "CHANUNAVAIL"))
        ch.set_var("originate_failed_cause", cause)
        if not ch.up:
            return
        if ch.answered:
            ch.set_callstate("ACTIVE")
        cof = ch.variables.get("continue_on_fail") or ""
        listed = [c.strip().upper() for c in cof.split(",")]
        if true(cof) or cause in listed or str(CAUSE_Q850.get(cause, 0)) in listed:
            return
        ch.hangup(cause)
        return
    b = result.channel
    ch.set_var("originated_legs", f"{b.uuid};{b.profile.callee_id_name or 'Outbound Call'};{b.profile.destination_number}")
    ch.set_var("originate_disposition", "SUCCESS")
    ch.set_var("DIALSTATUS", "SUCCESS")
    ch.set_var("originate_causes", f"{b.uuid};NONE")
    ch.profile.callee_id_name = b.profile.callee_id_name
    ch.profile.callee_id_number = b.profile.callee_id_number
    for name in ("dialed_user", "dialed_domain"):
        if b.variables.get(name):
            ch.set_var(name, b.variables[name])
    ch.other, ch.other_type = b, "originatee"
    if ch.answered:
        ch.set_callstate("ACTIVE")
    else:
        ch.answer()
    ch.link(b, originator=True)
    b.set_program("bridged", None)
    bridge_loop(ch, b)
    if not ch.up:
        raise HangupUnwind()
    ch.check_unwind()
    if true(ch.variables.get("hangup_after_bridge")):
        ch.hangup("NORMAL_CLEARING")
    elif true(ch.variables.get("park_after_bridge")):
        park_loop(ch)


def prepare_uuid_bridge(a: Channel, b: Channel) -> None:
    """What switch_ivr_uuid_bridge() does at once: both legs get the other's profile, both are told to leave."""
    now = now_us()
    for me, peer in ((a, b), (b, a)):
        if not me.variables.get("original_destination_number"):
            me.set_var("original_destination_number", me.profile.destination_number)
            me.set_var("original_caller_id_name", me.profile.caller_id_name)
            me.set_var("original_caller_id_number", me.profile.caller_id_number)
        source = f"{now // 1_000_000}:{new_uuid()}:uuid_br:{peer.uuid}"
        me.set_var("transfer_history", source)
        me.set_var("transfer_source", source)
        me.profile.transfer_source = source
        me.profile.index += 1  # switch_channel_step_caller_profile()
        me.profile.created_us = now
        me.new_profile_times()
        me.set_var("bridge_channel", peer.name)
        me.set_var("bridge_uuid", peer.uuid)
        me.set_var("signal_bond", peer.uuid)
        me.state_number = 8  # CS_HIBERNATE until the soft-execute state picks it up
    a.set_var("uuid_bridge", b.uuid)
    # the originator shows the originatee's callee id, the originatee the originator's caller id
    a.profile.callee_id_name, a.profile.callee_id_number = b.profile.callee_id_name, b.profile.callee_id_number
    b.profile.caller_id_name, b.profile.caller_id_number = a.profile.caller_id_name, a.profile.caller_id_number
    b.cid_sorted = False  # the recordings show Channel-HIT-Dialplan false on the originatee from here on
    a.other, a.other_type = b, "originatee"
    b.other, b.other_type = a, "originator"
    request_a = BridgeRequest(peer=b, role="a")
    request_b = BridgeRequest(peer=a, role="b", a_executed=request_a.a_executed, b_ready=request_a.b_ready)
    a.request_bridge(request_a)
    b.request_bridge(request_b)


def run_uuid_bridge(ch: Channel, request: BridgeRequest) -> None:
    """The uuid_bridge pseudo-application (uuid_bridge_on_soft_execute) on one leg."""
    peer = request.peer
    ch.set_var("uuid_bridge", None)
    if request.role == "a":
        ch.set_running_state("CS_SOFT_EXECUTE")
        ch.fire("CHANNEL_EXECUTE", calling=UUID_BRIDGE_CALLING_A,
                post=[("Application", "uuid_bridge"), ("Application-Data", peer.uuid)])
        request.a_executed.set()
        peer.poke()
        ch.wait(None, until=lambda: request.b_ready.is_set() or not peer.up)
        if not peer.up:
            return
        peer.set_var("call_uuid", ch.uuid)  # the bridge makes the originator the call's leader
        ch.link(peer, originator=False)
        try:
            bridge_loop(ch, peer)
        finally:
            ch.running_state, ch.state_number = "CS_EXECUTE", 4
    else:
        ch.wait(None, until=lambda: request.a_executed.is_set() or not peer.up)
        if not peer.up:
            return
        ch.set_running_state("CS_SOFT_EXECUTE")
        ch.fire("CHANNEL_EXECUTE", calling=UUID_BRIDGE_CALLING_B,
                post=[("Application", "uuid_bridge"), ("Application-Data", peer.uuid)])
        request.b_ready.set()
        peer.poke()
        ch.running_state = "CS_EXCHANGE_MEDIA"
        ch.state_number = 5
        ch.wait(None, until=lambda: ch.partner is peer or not peer.up)
        try:
            bridge_slave(ch)
            # audio_bridge_on_exchange_media(): a bridge that simply ended hangs this leg up, still in
            # CS_EXCHANGE_MEDIA, unless park_after_bridge (a transfer or a new bridge unwinds instead)
            ch.check_unwind()
            if not true(ch.variables.get("park_after_bridge")):
                ch.hangup("NORMAL_CLEARING")
        finally:
            ch.running_state, ch.state_number = "CS_EXECUTE", 4


@app("conference")
def app_conference(ch: Channel, data: str) -> None:
    ch.switch.conferences.run_member(ch, data)


@app("socket")
def app_socket(ch: Channel, data: str) -> None:
    from .outbound import socket_application

    socket_application(ch, data)
