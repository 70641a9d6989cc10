"""mod_conference: the ``conference`` application and the ``conference`` API command.

One conference per name, with the vanilla configuration's "default" profile
(rate 8000, energy level 100, moh-sound $${hold_music}, alone-sound
conference/conf-alone.wav, the enter and exit tones), dynamic: it is created
by its first member and destroyed when its last member leaves. It fires the
CUSTOM conference::maintenance events FreeSWITCH 1.10 fires, with their
headers, in the order transcript 05 shows them: conference-create,
play-file (a sound that could not be opened), add-member, floor-change,
play-file-done, del-member, and conference-destroy.

What a conference does over time is done by one greenlet per conference,
like mod_conference's conference thread: it gives the floor (20 ms after a
member joins or the holder leaves, to the newest member, as
conference_thread_run() does when nobody holds it and nobody talks - there
is no audio here, so nobody ever talks), plays the queued sounds one after
the other (a lead-in of 20 frames, then the sound) and music on hold to a
member who is alone, and ends the conference. Members wait in their own
session greenlets (conference_loop_output()).

API reply texts transcript 05 shows are copied from it (``conference list``,
``-ERR Conference <name> not found``, ``+OK Call Requested: result: [SUCCESS]``);
the other texts follow mod_conference's source with 1.10's ``+OK``/``-ERR``
prefixes and are not verified against a recording.
"""
from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

import gevent
import gevent.event

from . import media
from .channel import Channel, new_uuid
from .wire import Event

if TYPE_CHECKING:  # pragma: no cover
    from .switch import Switch

log = logging.getLogger(__name__)

CONF_EVENT_MAINT = "conference::maintenance"
TICK_S = 0.02  # the conference thread's interval (20 ms), not scaled
LEADIN_FRAMES = 20  # CONF_DEFAULT_LEADIN
ALONE_SOUND = "conference/conf-alone.wav"
ENTER_SOUND = "tone_stream://%(200,0,500,600,700)"
EXIT_SOUND = "tone_stream://%(500,0,300,200,100,50,25)"
SOUND_PREFIX = media.SOUNDS_DIR + "en/us/callie"
DIAL_SYNTAX = "<endpoint_module_name>/<destination> <callerid number> <callerid name>"

# Event-Calling-File/-Function/-Line-Number. The first six are from transcript 05; the
# others are not recorded (their line numbers are approximate).
CALLING = {
    "conference-create": ("mod_conference.c", "conference_new", 3848),
    "play-file": ("conference_file.c", "conference_file_play", 268),
    "add-member": ("conference_member.c", "conference_member_add", 962),
    "floor-change": ("conference_member.c", "conference_member_set_floor_holder", 1158),
    "play-file-done": ("conference_file.c", "conference_file_close", 52),
    "del-member": ("conference_member.c", "conference_member_del", 1355),
    "conference-destroy": ("mod_conference.c", "conference_thread_run", 770),
    "member-api": ("conference_api.c", "conference_api_sub_member", 0),
}


@dataclass
class Member:
    """conference_member_t: one channel in one conference."""

    id: int
    channel: Channel
    hear: bool = True
    speak: bool = True
    moderator: bool = False
    ghost: bool = False
    running: bool = True
    kicked: bool = False


@dataclass
class FileNode:
    """conference_file_node_t: a sound the conference plays to everybody."""

    path: str
    leadin_s: float
    duration_s: Optional[float]  # None: until stopped (music on hold)
    samples_per_ms: int
    is_async: bool = False
    started: Optional[float] = None

    def ends_at(self) -> Optional[float]:
        if self.started is None or self.duration_s is None:
            return None
        return self.started + self.leadin_s + self.duration_s


def parse_data(data: str) -> tuple[str, str, set[str]]:
    """conference_function()'s argument: <name>[@<profile>][+flags{a|b}] -> (name, profile, flags)."""
    text = data.strip()
    flags: set[str] = set()
    start = text.find("+flags{")
    if start >= 0:
        end = text.find("}", start)
        flags = {f.strip().lower() for f in text[start + 7:end if end >= 0 else None].split("|") if f.strip()}
        text = text[:start]
    text = text.split("+", 1)[0]  # a PIN after '+' is not simulated
    name, _, profile = text.partition("@")
    return name.strip(), (profile.strip() or "default"), flags


class Conference:
    """conference_obj_t with its conference thread (a greenlet)."""

    def __init__(self, registry: "Conferences", name: str, domain: str, profile_name: str) -> None:
        self.registry = registry
        self.sw = registry.sw
        self.name = name
        self.domain = domain
        self.profile_name = profile_name
        self.uuid = new_uuid()
        self.members: list[Member] = []  # newest first, as mod_conference links them
        self.floor_holder: Optional[Member] = None
        self.files: collections.deque[FileNode] = collections.deque()
        self.async_file: Optional[FileNode] = None
        self.destructing = False
        self.changed = gevent.event.Event()
        self.floor_due: Optional[float] = None
        self.moh_due: Optional[float] = None
        self.greenlet: Optional[gevent.Greenlet] = None

    @property
    def count(self) -> int:
        return sum(1 for m in self.members if not m.ghost)

    @property
    def ghosts(self) -> int:
        return sum(1 for m in self.members if m.ghost)

    # -- events -------------------------------------------------------------------
    def event(self, action: str, calling: Optional[tuple[str, str, int]] = None) -> Event:
        """A conference::maintenance event with conference_event_add_data()."""
        ev = self.sw.new_event("CUSTOM", calling or CALLING[action], subclass=CONF_EVENT_MAINT)
        self.add_data(ev)
        return ev

    def add_data(self, ev: Event) -> None:
        ev.add("Conference-Name", self.name)
        ev.add("Conference-Domain", self.domain)
        ev.add("Conference-Size", self.count)
        ev.add("Conference-Ghosts", self.ghosts)
        ev.add("Conference-Profile-Name", self.profile_name)
        ev.add("Conference-Unique-ID", self.uuid)

    def add_member_data(self, ev: Event, member: Member) -> None:
        """conference_member_add_event_data() (member events are not verbose: basic channel data)."""
        self.add_data(ev)
        ev.add("Floor", "true" if member is self.floor_holder else "false")
        member.channel.set_basic_data(ev)
        ev.add("Video", "false")
        ev.add("Hear", "true" if member.hear else "false")
        ev.add("See", "true")
        ev.add("Speak", "true" if member.speak else "false")
        ev.add("Talking", "false")
        ev.add("Mute-Detect", "false")
        ev.add("Hold", "true" if member.channel.held else "false")
        ev.add("Member-ID", member.id)
        ev.add("Member-Type", "moderator" if member.moderator else "member")
        ev.add("Member-Ghost", "true" if member.ghost else "false")
        ev.add("Energy-Level", 100)
        ev.add("Current-Energy", 0)

    def member_event(self, member: Member, action: str, calling: Optional[tuple[str, str, int]] = None) -> None:
        ev = self.sw.new_event("CUSTOM", calling or CALLING.get(action, CALLING["member-api"]),
                               subclass=CONF_EVENT_MAINT)
        self.add_member_data(ev, member)
        ev.add("Action", action)
        self.sw.fire(ev)

    # -- members --------------------------------------------------------------------
    def add_member(self, member: Member) -> None:
        """conference_member_add()."""
        ch = member.channel
        self.members.insert(0, member)
        ch.read_codec = ("L16", "8000", "128000")
        ch.set_var("conference_member_id", member.id)
        ch.set_var("conference_moderator", "true" if member.moderator else "false")
        ch.set_var("conference_ghost", "true" if member.ghost else "false")
        ch.set_var("conference_uuid", self.uuid)
        if not ch.variables.get("conference_call_key"):
            ch.set_var("conference_call_key", f"conference_{self.name}_{self.domain}_{ch.profile.caller_id_number}")
        if self.count > 1:
            self.stop_async()
            self.play(ENTER_SOUND, leadin=True)
        elif self.count == 1 and not member.ghost:
            self.stop_async()
            self.play(ALONE_SOUND, leadin=True)
        self.member_event(member, "add-member")
        self.poke()

    def del_member(self, member: Member) -> None:
        """conference_member_del(): the exit or alone sound, del-member, the end of a dynamic
        conference when nobody is left."""
        if member not in self.members:
            return
        self.members.remove(member)
        ch = member.channel
        if member is self.floor_holder:
            self.set_floor_holder(None)
        ch.set_var("conference_call_key", None)
        if self.count + self.ghosts == 0:
            self.destructing = True
            self.registry.forget(self)
        else:
            self.play(EXIT_SOUND, leadin=False)
            if self.count == 1 and not member.ghost:
                self.stop_async()
                self.play(ALONE_SOUND, leadin=False)
        self.member_event(member, "del-member")
        ch.read_codec = ("PCMU", "8000", "64000")
        self.poke()

    def set_floor_holder(self, member: Optional[Member]) -> None:
        """conference_member_set_floor_holder() and its floor-change event."""
        old = self.floor_holder
        if old is member:
            return
        self.floor_holder = member
        ev = self.event("floor-change")
        ev.add("Action", "floor-change")
        ev.add("Old-ID", old.id if old is not None else "none")
        if member is not None:
            self.add_member_data(ev, member)
            ev.add("New-ID", member.id)
        else:
            ev.add("New-ID", "none")
        self.sw.fire(ev)

    def find_members(self, spec: str) -> list[Member]:
        """A member API target: <id>, all, last or non_moderator."""
        spec = spec.strip().lower()
        if spec == "all":
            return list(self.members)
        if spec == "non_moderator":
            return [m for m in self.members if not m.moderator]
        if spec == "last":
            return [max(self.members, key=lambda m: m.id)] if self.members else []
        return [m for m in self.members if str(m.id) == spec]

    # -- sounds -----------------------------------------------------------------------
    def play(self, path: str, *, leadin: bool, is_async: bool = False) -> bool:
        """conference_file_play(): queue a sound, or fire play-file with the error at once."""
        if not self.members:
            return False
        full = path if "://" in path or path.startswith("/") else f"{SOUND_PREFIX}/{path}"
        sw = self.sw
        playable = media.resolve(full, media_scale=sw.media_scale, local_streams=sw.local_streams,
                                 sounds_installed=sw.sounds_installed)
        if not playable.found:
            ev = self.event("play-file")
            ev.add("Action", "play-file")
            ev.add("File", full)
            ev.add("Async", "true" if is_async else "false")
            ev.add("Error", "File could not be played")
            sw.fire(ev)
            return False
        # the recording reports tone streams at 16 samples a millisecond (twice the tone's length)
        per_ms = 16 if playable.file_type == "tone_stream" else 8
        node = FileNode(full, LEADIN_FRAMES * TICK_S * sw.media_scale if leadin else 0.0,
                        playable.duration_s, per_ms, is_async)
        if is_async:
            self.stop_async()
            self.async_file = node
        else:
            self.files.append(node)
        self.poke()
        return True

    def close_file(self, node: FileNode) -> None:
        """conference_file_close(): play-file-done with how much was played."""
        now = time.monotonic()
        played_s = 0.0
        if node.started is not None:
            played_s = max(0.0, now - node.started - node.leadin_s)
            if node.duration_s is not None:
                played_s = min(played_s, node.duration_s)
        ms = int(round(played_s / self.sw.media_scale * 1000))
        samples = ms * node.samples_per_ms
        ev = self.event("play-file-done")
        ev.add("seconds", samples // 8000)
        ev.add("milliseconds", samples // 8)
        ev.add("samples", samples)
        ev.add("Action", "play-file-done")
        ev.add("File", node.path)
        if node.is_async:
            ev.add("Async", "true")
        self.sw.fire(ev)

    def stop_async(self) -> None:
        node, self.async_file = self.async_file, None
        if node is not None:
            self.close_file(node)

    # -- the conference thread ----------------------------------------------------------
    def poke(self) -> None:
        self.changed.set()

    def start(self) -> None:
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        try:
            while not self.destructing:
                self.changed.clear()
                wake_at = self._tick(time.monotonic())
                timeout = None if wake_at is None else max(0.0, wake_at - time.monotonic())
                self.changed.wait(timeout)
            self._end()
        except gevent.GreenletExit:
            raise
        except Exception:  # a bug here must not leave members waiting forever
            log.exception("conference %s failed", self.name)
            self._end()

    def _tick(self, now: float) -> Optional[float]:
        """One pass of conference_thread_run(); returns when something is due next."""
        due: list[float] = []
        # the floor: nobody talks here, so it only goes to the newest member when nobody holds it
        if self.floor_holder is None and self.members:
            if self.floor_due is None:
                self.floor_due = now + TICK_S
            if now >= self.floor_due:
                self.floor_due = None
                running = [m for m in self.members if m.running and m.channel.up]
                if running:
                    self.set_floor_holder(running[0])
            else:
                due.append(self.floor_due)
        else:
            self.floor_due = None
        # sounds, one after the other
        while self.files:
            node = self.files[0]
            if node.started is None:
                node.started = now
            end = node.ends_at()
            if end is not None and now >= end:
                self.files.popleft()
                self.close_file(node)
                continue
            if end is not None:
                due.append(end)
            break
        # music on hold for a member who is alone (moh-sound $${hold_music})
        if self.count == 1 and not self.files and self.async_file is None and self._moh_available():
            if self.moh_due is None:
                self.moh_due = now + TICK_S
            if now >= self.moh_due:
                self.moh_due = None
                self.play(self.sw.global_var("hold_music") or "local_stream://moh", leadin=True, is_async=True)
                if self.async_file is not None:
                    self.async_file.started = now
            else:
                due.append(self.moh_due)
        else:
            self.moh_due = None
        return min(due) if due else None

    def _moh_available(self) -> bool:
        sw = self.sw
        music = sw.global_var("hold_music") or "local_stream://moh"
        return media.resolve(music, media_scale=sw.media_scale, local_streams=sw.local_streams,
                             sounds_installed=sw.sounds_installed).found

    def _end(self) -> None:
        """The end of conference_thread_run(): files closed, members out, conference-destroy."""
        self.stop_async()
        while self.files:
            self.close_file(self.files.popleft())
        for member in list(self.members):
            member.running = False
            member.channel.hangup("NORMAL_CLEARING")
        ev = self.event("conference-destroy")
        ev.add("Action", "conference-destroy")
        self.sw.fire(ev)
        self.registry.forget(self)

    def kill(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)


class Conferences:
    """The conferences of one switch (conference_globals): the registry and member ids."""

    def __init__(self, switch: "Switch") -> None:
        self.sw = switch
        self.by_name: dict[str, Conference] = {}
        self._last_member_id = 0

    def reset(self) -> None:
        for conf in list(self.by_name.values()):
            conf.kill()
        self.by_name.clear()
        self._last_member_id = 0

    def next_member_id(self) -> int:
        self._last_member_id += 1
        return self._last_member_id

    def find(self, name: str) -> Optional[Conference]:
        conf = self.by_name.get(name)
        return conf if conf is not None and not conf.destructing else None

    def forget(self, conf: Conference) -> None:
        if self.by_name.get(conf.name) is conf:
            del self.by_name[conf.name]

    def find_or_create(self, name: str, domain: str, profile_name: str) -> Conference:
        conf = self.find(name)
        if conf is None:
            conf = Conference(self, name, domain, profile_name)
            self.by_name[name] = conf
            ev = conf.event("conference-create")
            ev.add("Action", "conference-create")
            self.sw.fire(ev)
            conf.start()
        return conf

    # -- the application ------------------------------------------------------------------
    def run_member(self, ch: Channel, data: str) -> None:
        """conference_function(): join, stay until hung up, transferred, kicked or hung up by the API."""
        name, profile_name, flags = parse_data(data)
        if not name:
            log.error("conference: no conference name in %r", data)
            return
        if not ch.answered:
            ch.answer()
        domain = ch.variables.get("conference_domain") or self.sw.domain
        conf = self.find_or_create(name, domain, profile_name)
        ch.set_var("conference_name", conf.name)
        member = Member(self.next_member_id(), ch, hear="deaf" not in flags, speak="mute" not in flags,
                        moderator="moderator" in flags, ghost="ghost" in flags)
        conf.add_member(member)
        try:
            ch.wait(None, until=lambda: not member.running)
        finally:
            conf.del_member(member)

    # -- the API ------------------------------------------------------------------------------
    def api(self, arg: Optional[str]) -> str:
        """conference_api_main_real()."""
        argv = (arg or "").split()
        if not argv:
            return f"-USAGE: <conference name> list|dial {DIAL_SYNTAX}|hup|kick|mute|unmute|deaf|undeaf\n"
        conf = self.find(argv[0])
        if conf is not None:
            if len(argv) < 2:
                return "-ERR Conference command, not specified.\nTry 'help'\n"
            return self._dispatch(conf, argv)
        if argv[0].lower() == "list":
            return self._list_all(argv)
        if len(argv) > 1 and argv[1].lower() == "dial":
            return self._dial(None, argv)
        return f"-ERR Conference {argv[0]} not found\n"

    def _list_all(self, argv: list[str]) -> str:
        out = []
        for conf in self.by_name.values():
            if conf.destructing:
                continue
            out.append(f"+OK Conference {conf.name} ({conf.count} member{'' if conf.count == 1 else 's'} rate: 8000 "
                       f"flags: {'|'.join(self._flags(conf))})\n")
            if not (len(argv) > 1 and argv[1].lower() == "summary"):
                out.append(self._member_lines(conf, self._delim(argv, 1)))
        return "".join(out) or "+OK No active conferences.\n"

    @staticmethod
    def _delim(argv: list[str], at: int) -> str:
        if len(argv) > at + 1 and argv[at].lower() == "delim":
            return argv[at + 1].strip('"') or ";"
        return ";"

    @staticmethod
    def _flags(conf: Conference) -> list[str]:
        flags = ["running", "answered"]
        if conf.count >= 1:
            flags.append("enforce_min")
        return flags + ["dynamic", "exit_sound", "enter_sound", "json_status"]

    @staticmethod
    def _member_lines(conf: Conference, delim: str) -> str:
        """conference_list(): newest member first."""
        lines = []
        for m in conf.members:
            p = m.channel.profile
            flags = [f for f, on in (("hear", m.hear), ("speak", m.speak), ("floor", m is conf.floor_holder),
                                     ("moderator", m.moderator), ("ghost", m.ghost)) if on]
            fields = [str(m.id), m.channel.name, m.channel.uuid, p.caller_id_name, p.caller_id_number,
                      "|".join(flags), "0", "0", "100"]
            lines.append(delim.join(fields) + "\n")
        return "".join(lines)

    def _dispatch(self, conf: Conference, argv: list[str]) -> str:
        """conference_api_dispatch() for the subcommands the simulator knows."""
        sub = argv[1].lower()
        if sub == "list":
            if len(argv) > 2 and argv[2].lower() == "count":
                return str(conf.count)
            return self._member_lines(conf, self._delim(argv, 2))
        if sub == "dial":
            return self._dial(conf, argv)
        actions: dict[str, Callable[[Conference, Member], str]] = {
            "hup": self._hup, "kick": self._kick, "mute": self._mute, "unmute": self._unmute,
            "deaf": self._deaf, "undeaf": self._undeaf,
        }
        action = actions.get(sub)
        if action is None:
            return f"-ERR Conference command '{argv[1]}' not found.\n"
        if len(argv) < 3:
            return f"-ERR {sub} <[member_id|all|last|non_moderator]>\n"
        members = conf.find_members(argv[2])
        if not members:
            return f"-ERR Non-Existant ID {argv[2]}\n"
        return "".join(action(conf, m) for m in members)

    def _hup(self, conf: Conference, m: Member) -> str:
        m.running = False
        conf.member_event(m, "hup-member")
        m.channel.poke()
        return f"+OK hup {m.id}\n"

    def _kick(self, conf: Conference, m: Member) -> str:
        m.running, m.kicked = False, True
        m.channel.poke()
        conf.member_event(m, "kick-member")
        return f"+OK kicked {m.id}\n"

    def _mute(self, conf: Conference, m: Member) -> str:
        m.speak = False
        conf.member_event(m, "mute-member")
        return f"+OK mute {m.id}\n"

    def _unmute(self, conf: Conference, m: Member) -> str:
        m.speak = True
        conf.member_event(m, "unmute-member")
        return f"+OK unmute {m.id}\n"

    def _deaf(self, conf: Conference, m: Member) -> str:
        m.hear = False
        conf.member_event(m, "deaf-member")
        return f"+OK deaf {m.id}\n"

    def _undeaf(self, conf: Conference, m: Member) -> str:
        m.hear = True
        conf.member_event(m, "undeaf-member")
        return f"+OK undeaf {m.id}\n"

    def _dial(self, conf: Optional[Conference], argv: list[str]) -> str:
        """conference_api_sub_dial() -> conference_outcall(): originate, answer, join the conference."""
        from .originate import originate, present_as_callee

        if len(argv) < 3:
            return f"-ERR Bad Args\ndial {DIAL_SYNTAX}"
        target = f"{conf.name}@{conf.profile_name}" if conf is not None else argv[0]
        result = originate(self.sw, argv[2], timeout_s=60.0)
        leg = result.channel
        if leg is not None:
            present_as_callee(leg, cid_number=argv[3] if len(argv) > 3 else None,
                              cid_name=argv[4] if len(argv) > 4 else None)
            leg.set_program("extension", [("conference", target)])
        return f"+OK Call Requested: result: [{result.cause}]\n"
