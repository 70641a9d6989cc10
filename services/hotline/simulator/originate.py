"""Dial strings and originate: creating the outbound leg and ringing the phone.

Used by the ``originate`` API command and by the ``bridge`` application, as
switch_ivr_originate() serves both in FreeSWITCH. Dial strings:

- ``{var=value,...}`` before the legs sets variables on every leg, ``[...]``
  before one leg on that leg only;
- legs separated by ``|`` are tried one after the other; legs separated by
  ``,`` ring at the same time: the first to answer wins, the others are hung
  up with LOSE_RACE;
- endpoints: ``user/<id>[@domain]`` (a registered phone, otherwise
  USER_NOT_REGISTERED), ``sofia/<profile>/<user>@<host>[:port]`` and
  ``sofia/gateway/<gw>/<number>`` (ring the registered phone of that user or
  number; nobody there gives NORMAL_TEMPORARY_FAILURE, as an unreachable SIP
  address does), ``error/<cause>``. Any other endpoint type fails with
  CHAN_NOT_IMPLEMENTED (no loopback/ endpoint).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent.event

from .channel import BridgeUnwind, Channel, Profile, TransferUnwind, new_uuid, str2cause

if TYPE_CHECKING:  # pragma: no cover
    from .switch import Phone, Switch

log = logging.getLogger(__name__)

DEFAULT_ORIGINATE_TIMEOUT_S = 60.0


@dataclass
class OriginateResult:
    channel: Channel | None
    cause: str


@dataclass
class Target:
    """Where an endpoint string leads."""

    endpoint: str
    channel_name: str
    destination: str
    network_addr: str = ""
    phone: "Phone | None" = None
    cause: str | None = None  # the call fails with this cause
    creates_channel: bool = True  # a failing leg still had a channel (sofia) or never got one (user/, error/)
    variables: dict[str, str] = field(default_factory=dict)


def parse_vars(text: str) -> dict[str, str]:
    """'a=1,b=2' with single-quoted values allowed to hold commas."""
    out: dict[str, str] = {}
    for item in _split_top(text, ","):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        out[name.strip()] = value
    return out


def _split_top(text: str, sep: str) -> list[str]:
    """Split on sep outside {}, [] and single quotes."""
    parts, depth, quote, cur = [], 0, False, []
    for ch in text:
        if ch == "'" and depth == 0:
            quote = not quote
        elif not quote and ch in "{[":
            depth += 1
        elif not quote and ch in "}]":
            depth -= 1
        if ch == sep and depth == 0 and not quote:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (x.strip() for x in parts) if p]


def parse_dialstring(dialstring: str) -> tuple[dict[str, str], list[list[tuple[dict[str, str], str]]]]:
    """({global vars}, [[(leg vars, endpoint), ...] per '|' group])."""
    text = dialstring.strip()
    global_vars: dict[str, str] = {}
    while text.startswith(("{", "<")):
        close = "}" if text[0] == "{" else ">"
        end = text.find(close)
        if end < 0:
            break
        global_vars.update(parse_vars(text[1:end]))
        text = text[end + 1:].strip()
    groups = []
    for group in _split_top(text, "|"):
        legs = []
        for leg in _split_top(group, ","):
            leg_vars: dict[str, str] = {}
            while leg.startswith("["):
                end = leg.find("]")
                if end < 0:
                    break
                leg_vars.update(parse_vars(leg[1:end]))
                leg = leg[end + 1:].strip()
            legs.append((leg_vars, leg))
        groups.append(legs)
    return global_vars, groups


def resolve_endpoint(switch: "Switch", endpoint: str) -> Target:
    kind, _, rest = endpoint.partition("/")
    kind = kind.lower()
    if kind == "user":
        user, _, domain = rest.partition("@")
        domain = domain or switch.domain
        phone = switch.phones.get(user)
        if phone is None:
            return Target("user", endpoint, user, cause="USER_NOT_REGISTERED", creates_channel=False)
        return Target(
            "sofia", f"sofia/internal/{user}@{phone.contact_host}:{phone.contact_port}", user,
            network_addr=phone.contact_host, phone=phone,
            variables={"dialed_user": user, "dialed_domain": domain, "sip_invite_domain": domain,
                       "presence_id": f"{user}@{domain}"},
        )
    if kind == "sofia":
        profile, _, target = rest.partition("/")
        if profile == "gateway":
            _gw, _, number = target.partition("/")
            user, host = number.split("@")[0], ""
        else:
            user, _, host = target.partition("@")
        phone = switch.phones.get(user)
        name = f"sofia/{profile}/{target}"
        if phone is None:
            return Target("sofia", name, user, network_addr=host.split(":")[0], cause="NORMAL_TEMPORARY_FAILURE")
        return Target("sofia", name, user, network_addr=phone.contact_host, phone=phone)
    if kind == "error":
        return Target("error", endpoint, rest, cause=str2cause(rest) or "NORMAL_CLEARING", creates_channel=False)
    return Target(kind, endpoint, rest, cause="CHAN_NOT_IMPLEMENTED", creates_channel=False)


def originate(switch: "Switch", dialstring: str, *, originator: Channel | None = None,
              timeout_s: float | None = None) -> OriginateResult:
    """Ring the legs of a dial string; an answered leg is returned still waiting for its program."""
    global_vars, groups = parse_dialstring(dialstring)
    cause = "DESTINATION_OUT_OF_ORDER"
    for group in groups:
        legs = []
        for leg_vars, endpoint in group:
            variables: dict[str, str] = {}
            if originator is not None:
                if originator.variables.get("export_vars"):
                    variables["export_vars"] = originator.variables["export_vars"]
                for name in (originator.variables.get("export_vars") or "").split(","):
                    name = name.strip()
                    value = originator.variables.get(name) or originator.exported_only.get(name)
                    if name and value:
                        variables[name] = value
            variables.update(global_vars)
            variables.update(leg_vars)
            legs.append((endpoint, variables))
        if len(legs) == 1:
            result = _dial_one(switch, legs[0][0], legs[0][1], originator, timeout_s)
        else:
            result = _dial_together(switch, legs, originator, timeout_s)
        if result.channel is not None:
            return result
        cause = result.cause
        if originator is not None and not originator.up:
            return OriginateResult(None, "ORIGINATOR_CANCEL")
    return OriginateResult(None, cause)


def _dial_together(switch: "Switch", legs: list[tuple[str, dict[str, str]]], originator: Channel | None,
                   timeout_s: float | None) -> OriginateResult:
    """Legs separated by ',' ring at the same time; the first to answer wins and
    the others are hung up with LOSE_RACE (switch_ivr_originate's behaviour)."""
    race: gevent.event.AsyncResult = gevent.event.AsyncResult()
    jobs = [gevent.spawn(_dial_one, switch, endpoint, variables, originator, timeout_s, race)
            for endpoint, variables in legs]
    gevent.joinall(jobs)
    results = [job.value for job in jobs if job.value is not None]
    winner = next((r for r in results if r.channel is not None), None)
    if winner is not None:
        return winner
    causes = [r.cause for r in results if r.cause != "LOSE_RACE"]
    return OriginateResult(None, causes[0] if causes else "NORMAL_TEMPORARY_FAILURE")


def _timeout(variables: dict[str, str], default: float | None) -> float:
    for name in ("leg_timeout", "originate_timeout", "call_timeout"):
        value = variables.get(name)
        if value:
            try:
                return float(value)
            except ValueError:
                pass
    return default if default is not None else DEFAULT_ORIGINATE_TIMEOUT_S


def _dial_one(switch: "Switch", endpoint: str, variables: dict[str, str], originator: Channel | None,
              timeout_s: float | None, race: gevent.event.AsyncResult | None = None) -> OriginateResult:
    target = resolve_endpoint(switch, endpoint)
    if target.cause and not target.creates_channel:
        return OriginateResult(None, target.cause)
    uuid = variables.get("origination_uuid") or new_uuid()
    if switch.get_channel(uuid) is not None:
        log.warning("originate: uuid %s already in use", uuid)
        return OriginateResult(None, "NORMAL_TEMPORARY_FAILURE")
    a = originator
    cid_number = variables.get("origination_caller_id_number") or (a.profile.caller_id_number if a else "0000000000")
    cid_name = variables.get("origination_caller_id_name") or (a.profile.caller_id_name if a else "")
    profile = Profile(
        username=a.profile.username if a else "",
        dialplan="XML" if a else "",
        caller_id_name=cid_name,
        caller_id_number=cid_number,
        orig_caller_id_name=a.profile.caller_id_name if a else "",
        orig_caller_id_number=a.profile.caller_id_number if a else cid_number,
        callee_id_name="Outbound Call",
        callee_id_number=target.destination,
        network_addr=target.network_addr,
        ani=a.profile.ani if a else cid_number,
        destination_number=target.destination,
        source="mod_sofia" if a else "src/switch_ivr_originate.c",
        context=a.profile.context if a else "default",
        rdnis=a.profile.rdnis if a else "",
    )
    b_vars = {
        "direction": "outbound",
        "is_outbound": "true",
        "uuid": uuid,
        "call_uuid": a.uuid if a else uuid,
        "session_id": str(switch.next_session_id()),
        "channel_name": target.channel_name,
        "sip_profile_name": "internal",
        "sofia_profile_name": "internal",
        "sip_destination_url": f"sip:{target.channel_name.split('/', 2)[-1]}",
    }
    if a is not None:
        b_vars["originator_codec"] = "PCMU@8000h@20i"
        b_vars["originator"] = a.uuid
        b_vars["signal_bond"] = a.uuid
        b_vars["originating_leg_uuid"] = a.uuid
    b_vars.update(target.variables)
    b_vars.update(variables)
    b_vars["originate_early_media"] = "true"
    b_vars["originate_endpoint"] = target.endpoint
    b = Channel(switch, uuid=uuid, direction="outbound", name=target.channel_name, profile=profile,
                variables=b_vars, phone_script=target.phone.script if target.phone else None)
    if a is not None:
        b.other, b.other_type = a, "originator"
    switch.add_channel(b)
    b.start(lambda: run_outbound_leg(b, target))

    watcher = gevent.event.Event()
    b.watchers.add(watcher)
    if a is not None:
        a.watchers.add(watcher)
    if race is not None:
        race.rawlink(lambda _: watcher.set())
    deadline = _timeout(variables, timeout_s)
    try:
        timer = gevent.Timeout(deadline)
        timer.start()
        try:
            while True:
                watcher.clear()
                if a is not None and (not a.up or a.pending_transfer or a.pending_bridge):
                    b.hangup("ORIGINATOR_CANCEL")
                    return OriginateResult(None, "ORIGINATOR_CANCEL")
                if not b.up:
                    return OriginateResult(None, b.hangup_cause or "NORMAL_TEMPORARY_FAILURE")
                if race is not None and race.ready() and race.value is not b:
                    b.hangup("LOSE_RACE")                 # another leg answered first
                    return OriginateResult(None, "LOSE_RACE")
                if b.answered:
                    if race is not None:
                        race.set(b)
                    return OriginateResult(b, "SUCCESS")
                watcher.wait()
        except gevent.Timeout as t:
            if t is not timer:
                raise
            b.hangup("NO_ANSWER")
            return OriginateResult(None, "NO_ANSWER")
        finally:
            timer.cancel()
    finally:
        b.watchers.discard(watcher)
        if a is not None:
            a.watchers.discard(watcher)


def present_as_callee(b: Channel, *, cid_name: str | None = None, cid_number: str | None = None) -> None:
    """An answered leg originated with no caller behind it (the originate API, conference dial)
    gets its extension now: its caller id is flipped (Channel.sort_cid()); given ones win."""
    b.sort_cid()
    if cid_name:
        b.profile.caller_id_name = cid_name
    if cid_number:
        b.profile.caller_id_number = cid_number


def run_outbound_leg(b: Channel, target: Target) -> None:
    """The outbound leg's session: CHANNEL_CREATE, ORIGINATE, ring, answer, then its program."""
    from . import apps

    b.running_state, b.state_number = "CS_INIT", 2
    b.fire("CHANNEL_CREATE")
    b.fire("CHANNEL_ORIGINATE")
    if target.cause:
        b.wait(0.04)  # the INVITE goes out and comes back as an ICMP error / 503
        b.hangup(target.cause)
        return
    phone = target.phone
    b.wait(0.01)  # INVITE, 100 Trying
    b.set_running_state("CS_CONSUME_MEDIA")
    if phone is not None and phone.script.reject_cause:
        b.hangup(str2cause(phone.script.reject_cause) or "CALL_REJECTED")
        return
    b.mark_ring_ready()
    if phone is not None and phone.script.answers:
        b.wait(phone.script.answer_after_s)
        b.answer()
    else:
        b.wait(None)  # until the originator gives up (NO_ANSWER / ORIGINATOR_CANCEL)
    b.wait(None, until=b.program.ready)
    kind, arg = b.program.get()
    if kind == "bridged":
        b.set_running_state("CS_EXCHANGE_MEDIA")
        try:
            apps.bridge_slave(b)
        except (TransferUnwind, BridgeUnwind):
            b.run_dialplan([])
            return
        if b.up:
            b.hangup("NORMAL_CLEARING")
    elif kind == "extension":
        b.set_running_state("CS_EXECUTE")
        b.run_dialplan(arg)
    elif kind == "transfer":
        dest, dialplan, context = arg
        b.run_dialplan(b.route(dest, dialplan, context))
