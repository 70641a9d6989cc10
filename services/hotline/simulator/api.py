"""API commands (mod_commands, mod_sofia's sofia/sofia_contact) for ``api`` and ``bgapi``.

Reply texts are FreeSWITCH 1.10's. Where the transcripts show one it is copied
from there; the others come from mod_commands.c (e.g. uuid_record's
"-ERR Cannot locate session!", uuid_hold's "-ERR Operation Failed",
show's "{\"row_count\": 0}" with no rows, originate's "-USAGE: ..."). A
command the simulator does not know answers ``None``, which the ESL layer
turns into "-ERR <cmd> Command not found!".
"""
from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Callable, Optional

from . import apps
from .channel import Channel, Message, str2cause
from .originate import originate, present_as_callee

if TYPE_CHECKING:  # pragma: no cover
    from .switch import Switch

log = logging.getLogger(__name__)

VERSION_LINE = "FreeSWITCH Version 1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit (git a88d069 2024-08-02 21:02:27Z 64bit)"
VERSION_SHORT = "1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit"

# mod_commands.c syntax strings (printed as "-USAGE: %s\n")
ORIGINATE_SYNTAX = "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]"
KILL_SYNTAX = "<uuid> [cause]"
UUID_BRIDGE_SYNTAX = "<uuid> <other_uuid>"
SESS_REC_SYNTAX = "<uuid> [start|stop|mask|unmask] <path> [<limit>]"
BROADCAST_SYNTAX = "<uuid> <path> [aleg|bleg|holdb|both]"
BREAK_SYNTAX = "<uuid> [all]"
TRANSFER_SYNTAX = "<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]"
HOLD_SYNTAX = "[off|toggle] <uuid> [<display>]"
GETVAR_SYNTAX = "<uuid> <var>"
SETVAR_SYNTAX = "<uuid> <var> [value]"
SETVAR_MULTI_SYNTAX = "<uuid> <var>=<value>;<var>=<value>..."
DUMP_SYNTAX = "<uuid> [format]"
RECV_DTMF_SYNTAX = "<uuid> <dtmf_data>"
SHOW_SYNTAX = ("codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]"
               "|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules"
               "|nat_map|say|interfaces|interface_types|tasks|limits|status")
NO_SUCH_CHANNEL = "-ERR No such channel!\n"

CHANNEL_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr", "dest",
    "application", "application_data", "dialplan", "context", "read_codec", "read_rate", "read_bit_rate",
    "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id", "presence_data",
    "accountcode", "callstate", "callee_name", "callee_num", "callee_direction", "call_uuid", "sent_callee_name",
    "sent_callee_num", "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
    "initial_dialplan", "initial_context",
)
CALL_LEG_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr", "dest",
    "presence_id", "presence_data", "accountcode", "callstate", "callee_name", "callee_num", "callee_direction",
    "call_uuid", "hostname", "sent_callee_name", "sent_callee_num",
)
CALL_B_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr", "dest",
    "presence_id", "presence_data", "accountcode", "callstate", "callee_name", "callee_num", "callee_direction",
    "sent_callee_name", "sent_callee_num",
)

ApiFn = Callable[["Api", Optional[str]], str]


class Api:
    """The API commands of one switch. ``execute`` returns None for an unknown command."""

    _commands: dict[str, ApiFn] = {}

    def __init__(self, switch: "Switch") -> None:
        self.sw = switch

    @classmethod
    def command(cls, *names: str) -> Callable[[ApiFn], ApiFn]:
        def register(fn: ApiFn) -> ApiFn:
            for name in names:
                cls._commands[name] = fn
            return fn

        return register

    def execute(self, name: str, arg: str | None) -> str | None:
        fn = self._commands.get(name.strip().lower())
        if fn is None:
            return None
        try:
            return fn(self, arg)
        except Exception:  # an API command must never take the connection down
            log.exception("api %s %s failed", name, arg)
            return "-ERR Operation Failed\n"

    def channel(self, uuid: str | None) -> Channel | None:
        return self.sw.get_channel(uuid.strip()) if uuid else None


command = Api.command


def _split(arg: str | None, limit: int) -> list[str]:
    """switch_separate_string(cmd, ' ', argv, limit): the last field keeps the rest."""
    if not arg or not arg.strip():
        return []
    return arg.strip().split(" ", limit - 1) if limit > 1 else [arg.strip()]


def _separate(arg: str | None, limit: int) -> list[str]:
    """switch_separate_string() with its quoting: a field in single quotes
    may hold spaces (the quotes are removed); backslash escapes a quote."""
    fields: list[str] = []
    text = (arg or "").strip()
    i = 0
    while i < len(text) and len(fields) < limit:
        while i < len(text) and text[i] == " ":
            i += 1
        if i >= len(text):
            break
        if len(fields) == limit - 1:
            rest = text[i:]
            fields.append(rest[1:-1] if len(rest) > 1 and rest[0] == rest[-1] == "'" else rest)
            break
        out, quoted = [], False
        while i < len(text) and (quoted or text[i] != " "):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in "'\"\\":
                out.append(text[i + 1])
                i += 2
                continue
            if ch == "'" and (quoted or "'" in text[i + 1:]):
                quoted = not quoted
            else:
                out.append(ch)
            i += 1
        fields.append("".join(out))
    return fields


# -- status / version -------------------------------------------------------------
def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@command("status")
def api_status(api: Api, arg: str | None) -> str:
    sw = api.sw
    up_us = int((time.time() - sw.started_at) * 1_000_000)
    us = up_us % 1000
    ms = (up_us // 1000) % 1000
    secs = up_us // 1_000_000
    years, rest = divmod(secs, 365 * 86400)
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    count = sw.session_count()
    return (
        f"UP {_plural(years, 'year')}, {_plural(days, 'day')}, {_plural(hours, 'hour')}, "
        f"{_plural(minutes, 'minute')}, {_plural(seconds, 'second')}, {_plural(ms, 'millisecond')}, "
        f"{_plural(us, 'microsecond')}\n"
        f"FreeSWITCH (Version {VERSION_SHORT}) is ready\n"
        f"{sw.sessions_since_startup} session(s) since startup\n"
        f"{count} session(s) - peak {sw.session_peak}, last 5min {sw.session_peak} \n"
        f"0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
        "1000 session(s) max\n"
        "min idle cpu 0.00/98.87\n"
        "Current Stack Size/Max 240K/8192K\n"
    )


@command("version")
def api_version(api: Api, arg: str | None) -> str:
    return VERSION_LINE + "\n"


@command("hostname")
def api_hostname(api: Api, arg: str | None) -> str:
    return api.sw.hostname


@command("global_getvar")
def api_global_getvar(api: Api, arg: str | None) -> str:
    return api.sw.global_var((arg or "").strip()) or ""


@command("eval")
def api_eval(api: Api, arg: str | None) -> str:
    text = arg or ""
    for name in ("domain", "hostname", "local_ip_v4", "recordings_dir", "sounds_dir", "hold_music"):
        text = text.replace("$${%s}" % name, api.sw.global_var(name) or "")
    return text


@command("echo")
def api_echo(api: Api, arg: str | None) -> str:
    return arg or ""


@command("reloadxml")
def api_reloadxml(api: Api, arg: str | None) -> str:
    return "+OK [Success]\n"


# -- show -----------------------------------------------------------------------
def _stamp(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000)) if us else ""


def channel_row(sw: "Switch", ch: Channel) -> dict[str, str]:
    p, ip = ch.profile, ch.initial_profile
    app = ch.current_app or ("", "")
    media = ch.media
    # the core's channels table takes dest/dialplan/context from the event of the last routing
    dest, dialplan, context = ch.routed or (p.destination_number, p.dialplan, p.context)
    read = ch.read_codec if media else ("", "", "")
    return {
        "uuid": ch.uuid, "direction": ch.direction, "created": _stamp(ch.t_created),
        "created_epoch": str(ch.t_created // 1_000_000), "name": ch.name, "state": ch.running_state,
        "cid_name": p.caller_id_name, "cid_num": p.caller_id_number, "ip_addr": p.network_addr,
        "dest": dest, "application": app[0], "application_data": app[1],
        "dialplan": dialplan, "context": context,
        "read_codec": read[0], "read_rate": read[1],
        "read_bit_rate": read[2], "write_codec": "PCMU" if media else "",
        "write_rate": "8000" if media else "", "write_bit_rate": "64000" if media else "",
        "secure": "", "hostname": sw.hostname, "presence_id": ch.variables.get("presence_id", ""),
        "presence_data": "", "accountcode": ch.variables.get("accountcode", ""), "callstate": ch.callstate,
        "callee_name": p.callee_id_name, "callee_num": p.callee_id_number,
        "callee_direction": "SEND" if p.callee_id_number else "",
        "call_uuid": ch.variables.get("call_uuid") or ch.uuid,
        "sent_callee_name": ch.variables.get("last_sent_callee_id_name", ""),
        "sent_callee_num": ch.variables.get("last_sent_callee_id_number", ""),
        "initial_cid_name": ip.caller_id_name, "initial_cid_num": ip.caller_id_number,
        "initial_ip_addr": ip.network_addr, "initial_dest": ip.destination_number,
        "initial_dialplan": ip.dialplan, "initial_context": ip.context,
    }


def _call_rows(sw: "Switch") -> list[dict[str, str]]:
    """The basic_calls view: each call leader with the leg whose call_uuid names it."""
    chans = sw.live_channels()
    rows = []
    for a in chans:
        if (a.variables.get("call_uuid") or a.uuid) != a.uuid:
            continue
        arow = channel_row(sw, a)
        row = {k: arow[k] for k in CALL_LEG_COLUMNS}
        b = next((c for c in chans if c is not a and c.variables.get("call_uuid") == a.uuid), None)
        brow = channel_row(sw, b) if b is not None else {k: "" for k in CHANNEL_COLUMNS}
        for k in CALL_B_COLUMNS:
            row["b_" + k] = brow[k]
        row["call_created_epoch"] = arow["created_epoch"]
        rows.append(row)
    return rows


def _render(rows: list[dict[str, str]], fmt: str, count_only: bool) -> str:
    if fmt == "json":
        if not rows:
            return '{"row_count": 0}\n'
        if count_only:
            return json.dumps({"row_count": len(rows)}, separators=(",", ":"))
        return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"), ensure_ascii=False)
    if fmt == "xml":
        if not rows:
            return '<result row_count="0"/>\n'
        out = [f'<result row_count="{len(rows)}">']
        for i, row in enumerate(rows, 1):
            out.append(f'  <row row_id="{i}">')
            out.extend(f"    <{k}>{v}</{k}>" for k, v in row.items())
            out.append("  </row>")
        out.append("</result>")
        return "\n".join(out) + "\n"
    if fmt not in ("delim", "csv"):
        return f"-ERR Cannot find format {fmt}\n"
    text = ""
    if rows and not count_only:
        text += ",".join(rows[0].keys()) + "\n"
        text += "".join(",".join(r.values()) + "\n" for r in rows)
    return text + f"\n{len(rows)} total.\n"


@command("show")
def api_show(api: Api, arg: str | None) -> str:
    argv = (arg or "").split()
    if not argv:
        return f"-USAGE: {SHOW_SYNTAX}\n"
    what = argv[0].lower()
    fmt, count_only = "delim", False
    if len(argv) > 2 and argv[1].lower() == "as":
        fmt = argv[2].lower()
    if len(argv) > 1 and argv[1].lower() == "count":
        count_only = True
        if len(argv) > 3 and argv[2].lower() == "as":
            fmt = argv[3].lower()
    if what == "channels":
        rows = [channel_row(api.sw, ch) for ch in api.sw.live_channels()]
    elif what in ("calls", "bridged_calls"):
        rows = _call_rows(api.sw)
        if what == "bridged_calls":
            rows = [r for r in rows if r["b_uuid"]]
    elif what == "registrations":
        rows = [{"reg_user": p.user, "realm": p.domain, "token": p.call_id, "url": p.contact_url(),
                 "expires": "3660", "network_ip": p.contact_host, "network_port": str(p.contact_port),
                 "network_proto": "udp", "hostname": api.sw.hostname, "metadata": ""}
                for p in api.sw.phones.values()]
    else:
        return f"-USAGE: {SHOW_SYNTAX}\n"
    return _render(rows, fmt, count_only)


# -- originate and bridging ----------------------------------------------------------
@command("originate")
def api_originate(api: Api, arg: str | None) -> str:
    if not arg or not arg.strip():
        return f"-USAGE {ORIGINATE_SYNTAX}\n"
    argv = arg.split()
    if len(argv) < 2 or len(argv) > 7:
        return f"-USAGE: {ORIGINATE_SYNTAX}\n"
    argv = [None if a.lower() == "undef" else a for a in argv]  # type: ignore[misc]
    dialstring, exten = argv[0], argv[1]
    dialplan = argv[2] if len(argv) > 2 and argv[2] else "XML"
    context = argv[3] if len(argv) > 3 and argv[3] else "default"
    timeout = float(argv[6]) if len(argv) > 6 and argv[6] else None
    if not dialstring or not exten:
        return f"-USAGE: {ORIGINATE_SYNTAX}\n"
    result = originate(api.sw, dialstring, timeout_s=timeout)
    b = result.channel
    if b is None:
        return f"-ERR {result.cause}\n"
    present_as_callee(b, cid_name=argv[4] if len(argv) > 4 else None,
                      cid_number=argv[5] if len(argv) > 5 else None)
    if exten.startswith("&") and len(exten) > 1:
        app_name = exten[1:]
        app_arg = ""
        if ")" in app_name:
            app_name = app_name[: app_name.index(")")]
        if "(" in app_name:
            app_name, app_arg = app_name.split("(", 1)
        b.set_program("extension", [(app_name, app_arg)])
    else:
        b.set_program("transfer", (exten, dialplan, context))
    return f"+OK {b.uuid}\n"


@command("uuid_bridge")
def api_uuid_bridge(api: Api, arg: str | None) -> str:
    argv = _split(arg, 4)
    if len(argv) < 2:
        return f"-USAGE: {UUID_BRIDGE_SYNTAX}\n"
    a, b = api.channel(argv[0]), api.channel(argv[1])
    if a is None or b is None or a is b or not a.up or not b.up:
        return "-ERR Invalid uuid\n"
    apps.prepare_uuid_bridge(a, b)
    return f"+OK {b.uuid}\n"


@command("uuid_kill")
def api_uuid_kill(api: Api, arg: str | None) -> str:
    if not arg or not arg.strip():
        return f"-USAGE: {KILL_SYNTAX}\n"
    uuid, _, cause_text = arg.strip().partition(" ")
    ch = api.channel(uuid)
    if ch is None:
        return NO_SUCH_CHANNEL
    ch.hangup(str2cause(cause_text) or "NORMAL_CLEARING")  # a channel already hung up: nothing happens
    return "+OK\n"


@command("hupall")
def api_hupall(api: Api, arg: str | None) -> str:
    argv = (arg or "").split()
    cause = str2cause(argv[0]) if argv else None
    cause = cause if cause and cause != "NONE" else "MANAGER_REQUEST"
    var = argv[1] if len(argv) > 2 else None
    val = argv[2] if len(argv) > 2 else None
    for ch in api.sw.live_channels():
        if ch.up and (var is None or ch.variables.get(var) == val):
            ch.hangup(cause)
    if var is None:
        return f"+OK hangup all channels with cause {cause}\n"
    return f"+OK hangup all channels matching [{var}]=[{val}] with cause: {cause}\n"


@command("uuid_transfer")
def api_uuid_transfer(api: Api, arg: str | None) -> str:
    """transfer_function(): -bleg moves the other leg, -both moves both; with no other leg
    either form moves the named channel alone."""
    argv = (arg or "").split()
    if len(argv) < 2:
        return f"-USAGE: {TRANSFER_SYNTAX}\n"
    ch = api.channel(argv[0])
    if ch is None or not ch.up:
        return NO_SUCH_CHANNEL
    which = "aleg"
    rest = argv[1:]
    if rest[0].lower() in ("-bleg", "-both"):
        which, rest = rest[0][1:].lower(), rest[1:]
    if not rest:
        return f"-USAGE: {TRANSFER_SYNTAX}\n"
    dest = rest[0]
    targets = [ch]
    partner = ch.partner if ch.partner is not None and ch.partner.up else None
    if partner is not None and which == "bleg":
        targets = [partner]
    elif partner is not None and which == "both":
        targets = [ch, partner]  # the named leg first: the recording shows the caller in the conference first
    for t in targets:
        t.request_transfer(dest, *transfer_target(t, rest[1] if len(rest) > 1 else None,
                                                  rest[2] if len(rest) > 2 else None))
    return "+OK\n"


def transfer_target(ch: Channel, dialplan: str | None, context: str | None) -> tuple[str, str]:
    """switch_ivr_session_transfer()'s defaults: the channel's own dialplan (XML instead of
    inline) and context."""
    if not dialplan:
        dialplan = ch.profile.dialplan if ch.profile.dialplan.lower() != "inline" else ""
    return dialplan or "XML", context or ch.profile.context or "default"


@command("uuid_park")
def api_uuid_park(api: Api, arg: str | None) -> str:
    ch = api.channel(arg)
    if ch is None or not ch.up:
        return NO_SUCH_CHANNEL
    ch.request_transfer("park", "inline", ch.profile.context or "default")
    return "+OK\n"


@command("uuid_answer")
def api_uuid_answer(api: Api, arg: str | None) -> str:
    ch = api.channel(arg)
    if ch is None or not ch.up:
        return NO_SUCH_CHANNEL
    ch.answer()
    return "+OK\n"


@command("uuid_pre_answer", "uuid_preanswer")
def api_uuid_pre_answer(api: Api, arg: str | None) -> str:
    ch = api.channel(arg)
    if ch is None or not ch.up:
        return NO_SUCH_CHANNEL
    ch.pre_answer()
    return "+OK\n"


@command("uuid_hold")
def api_uuid_hold(api: Api, arg: str | None) -> str:
    argv = (arg or "").split()
    if not argv:
        return f"-USAGE: {HOLD_SYNTAX}\n"
    mode = "on"
    if argv[0].lower() in ("off", "toggle"):
        mode, argv = argv[0].lower(), argv[1:]
    ch = api.channel(argv[0]) if argv else None
    ok = False
    if ch is not None:
        if mode == "toggle":
            mode = "off" if ch.held else "on"
        ok = apps.unhold(ch) if mode == "off" else apps.hold(ch)
    return "+OK Success\n" if ok else "-ERR Operation Failed\n"


# -- media -------------------------------------------------------------------------
@command("uuid_record")
def api_uuid_record(api: Api, arg: str | None) -> str:
    argv = _split(arg, 4)
    if len(argv) < 3:
        return f"-USAGE: {SESS_REC_SYNTAX}\n"
    uuid, action, path = argv[0], argv[1].lower(), argv[2]
    limit = 0.0
    if len(argv) > 3:
        try:
            limit = float(argv[3])
        except ValueError:
            limit = 0.0
    ch = api.channel(uuid)
    if ch is None:
        return "-ERR Cannot locate session!\n"
    if action == "start":
        if not ch.up:
            return "-ERR Cannot record session!\n"
        return "+OK Success\n" if apps.start_recording(ch, path, limit) else "-ERR Cannot record session!\n"
    if action == "stop":
        return "+OK Success\n" if apps.stop_recording(ch, path) else "-ERR Cannot stop record session!\n"
    if action == "mask":
        return "+OK Success\n" if apps.mask_recording(ch, path, True) else "-ERR Cannot mask recording session!\n"
    if action == "unmask":
        return "+OK Success\n" if apps.mask_recording(ch, path, False) else "-ERR Cannot unmask recording session!\n"
    return f"-USAGE: {SESS_REC_SYNTAX}\n"


@command("uuid_broadcast")
def api_uuid_broadcast(api: Api, arg: str | None) -> str:
    """switch_ivr_broadcast(): the path plays with playback, or "app::args" runs that application."""
    argv = _separate(arg, 3)
    if len(argv) < 2:
        return f"-USAGE: {BROADCAST_SYNTAX}\n"
    path, leg = argv[1], "aleg"
    if len(argv) > 2:
        leg = argv[2].strip().lower()
    ch = api.channel(argv[0])
    if ch is None:
        return "-ERR invalid uuid\n"
    targets = []
    if leg in ("aleg", "both", "holdb"):
        targets.append(ch)
    if leg in ("bleg", "both") and ch.partner is not None:
        targets.append(ch.partner)
    app_name, sep, app_arg = path.partition("::")
    if not sep:
        app_name, app_arg = "playback", path
    for t in targets:
        t.queue_message(Message(app_name, app_arg, broadcast=True, not_before=time.monotonic() + 0.02))
    return "+OK Message sent\n"


@command("uuid_break")
def api_uuid_break(api: Api, arg: str | None) -> str:
    if not arg or not arg.strip():
        return f"-USAGE: {BREAK_SYNTAX}\n"
    uuid, _, flag = arg.strip().partition(" ")
    ch = api.channel(uuid)
    if ch is None or not ch.up:
        return NO_SUCH_CHANNEL
    everything = "all" in flag
    chans = [ch] + ([ch.partner] if "both" in flag and ch.partner is not None else [])
    for c in chans:
        if everything:
            c.flush_messages()
        if c.playing:
            c.request_break(everything)
    return "+OK\n"


@command("uuid_recv_dtmf")
def api_uuid_recv_dtmf(api: Api, arg: str | None) -> str:
    argv = _split(arg, 2)
    if len(argv) < 2 or not argv[1].strip():
        return f"-USAGE: {RECV_DTMF_SYNTAX}\n"
    ch = api.channel(argv[0])
    if ch is None or not ch.up:
        return "-ERR Cannot locate session!\n"
    digits = argv[1].strip()
    ch.queue_dtmf(digits.split("@")[0], source="APP")
    return f"+OK {ch.uuid} received DTMF {digits}.\n"


@command("uuid_send_dtmf")
def api_uuid_send_dtmf(api: Api, arg: str | None) -> str:
    argv = _split(arg, 2)
    if len(argv) < 2:
        return f"-USAGE: {RECV_DTMF_SYNTAX}\n"
    ch = api.channel(argv[0])
    if ch is None or not ch.up:
        return "-ERR Cannot locate session!\n"
    return "+OK Success\n"


# -- variables and state --------------------------------------------------------------
@command("uuid_getvar")
def api_uuid_getvar(api: Api, arg: str | None) -> str:
    argv = _split(arg, 4)
    if len(argv) < 2:
        return f"-USAGE: {GETVAR_SYNTAX}\n"
    ch = api.channel(argv[0])
    if ch is None:
        return NO_SUCH_CHANNEL
    value = ch.get_var(argv[1].strip())
    return value if value is not None else "_undef_"


@command("uuid_setvar")
def api_uuid_setvar(api: Api, arg: str | None) -> str:
    argv = _split(arg, 3)
    if len(argv) not in (2, 3):
        return f"-USAGE: {SETVAR_SYNTAX}\n"
    ch = api.channel(argv[0])
    if ch is None:
        return NO_SUCH_CHANNEL
    if not argv[1].strip():
        return "-ERR No variable specified\n"
    ch.set_var(argv[1].strip(), argv[2] if len(argv) == 3 else None)
    return "+OK\n"


@command("uuid_setvar_multi")
def api_uuid_setvar_multi(api: Api, arg: str | None) -> str:
    argv = _split(arg, 2)
    if len(argv) < 2:
        return f"-USAGE: {SETVAR_MULTI_SYNTAX}\n"
    ch = api.channel(argv[0])
    if ch is None:
        return NO_SUCH_CHANNEL
    count = 0
    for item in argv[1].split(";"):
        name, _, value = item.partition("=")
        if name.strip():
            ch.set_var(name.strip(), value or None)
            count += 1
    return "+OK\n" if count else f"-USAGE: {SETVAR_MULTI_SYNTAX}\n"


@command("uuid_exists")
def api_uuid_exists(api: Api, arg: str | None) -> str:
    return "true" if arg and api.channel(arg) is not None else "false"


@command("uuid_dump")
def api_uuid_dump(api: Api, arg: str | None) -> str:
    argv = (arg or "").split()
    if not argv:
        return f"-USAGE: {DUMP_SYNTAX}\n"
    ch = api.channel(argv[0])
    if ch is None:
        return NO_SUCH_CHANNEL
    fmt = argv[1].lower() if len(argv) > 1 else "txt"
    ev = ch.channel_data_event(("mod_commands.c", "uuid_dump_function", 6468))
    if fmt == "json":
        return ev.json()
    if fmt == "xml":
        return ev.xml()
    return ev.plain(encode=fmt != "plain")


# -- conference ----------------------------------------------------------------------
@command("conference")
def api_conference(api: Api, arg: str | None) -> str:
    return api.sw.conferences.api(arg)


# -- sofia -------------------------------------------------------------------------
@command("sofia_contact")
def api_sofia_contact(api: Api, arg: str | None) -> str:
    target = (arg or "").strip()
    if "/" in target:
        target = target.split("/", 1)[1]
    user = target.split("@")[0]
    phone = api.sw.phones.get(user)
    if phone is None:
        return "error/user_not_registered"
    return f"sofia/internal/{phone.contact_url()}"


@command("sofia")
def api_sofia(api: Api, arg: str | None) -> str:
    argv = (arg or "").split()
    sw = api.sw
    if argv[:1] == ["status"] and len(argv) >= 4 and argv[1] == "profile" and argv[3] == "reg":
        out = ["", "Registrations:", "=" * 97]
        for p in sw.phones.values():
            out += [
                f"Call-ID:    \t{p.call_id}", f"User:       \t{p.user}@{p.domain}",
                f'Contact:    \t"" <{p.contact_url()}>', "Agent:      \tunknown",
                "Status:     \tRegistered(UDP)(unknown) EXP(2099-01-01 00:00:00) EXPSECS(3660)",
                "Ping-Status:\tReachable", "Ping-Time:\t0.00", f"Host:       \t{sw.hostname}",
                f"IP:         \t{p.contact_host}", f"Port:       \t{p.contact_port}",
                f"Auth-User:  \t{p.user}", f"Auth-Realm: \t{p.domain}", f"MWI-Account:\t{p.user}@{p.domain}", "",
            ]
        out += [f"Total items returned: {len(sw.phones)}", "=" * 97, ""]
        return "\n".join(out)
    if argv[:1] == ["status"]:
        line = "=" * 93
        return (
            f"{'Name':>20}\t{'Type':>11}\t{'Data':<40}\t{'State'}\n{line}\n"
            f"{'external':>20}\t{'profile':>11}\t{'sip:mod_sofia@' + sw.ip + ':5080':<40}\tRUNNING (0)\n"
            f"{'internal':>20}\t{'profile':>11}\t{'sip:mod_sofia@' + sw.ip + ':5060':<40}\tRUNNING (0)\n"
            f"{line}\n2 profiles 0 aliases\n"
        )
    return "-ERR Usage: sofia status [profile <name> reg]\n"
