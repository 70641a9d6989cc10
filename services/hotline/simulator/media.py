"""How long things play: files, tone_stream://, silence_stream://, local_stream://, say:.

No audio is produced; the simulator only needs to know whether a source can be
opened (FreeSWITCH answers "FILE NOT FOUND" otherwise) and how long playing it
takes. Every finite duration is multiplied by the switch's ``media_scale``.
"""
from __future__ import annotations

import os
import re
import wave
from dataclasses import dataclass

# Paths under FreeSWITCH's standard package layout count as present (the
# prompts and music a real install ships); anything else must exist here.
FREESWITCH_ROOTS = ("/usr/share/freeswitch/", "/var/lib/freeswitch/", "/etc/freeswitch/", "/usr/local/freeswitch/")
# Where the sound packages put their files ($${sounds_dir}); relative names are looked up there.
SOUNDS_DIR = "/usr/share/freeswitch/sounds/"

# A few $${globals} of the vanilla configuration (vars.xml).
TONES = {
    "us-ring": "%(2000,4000,440,480)",
    "uk-ring": "%(400,200,400,450);%(400,2000,400,450)",
    "bong-ring": "v=-7;%(100,0,941.0,1477.0);v=-7;>=2;+=.1;%(1400,0,350,440)",
    "sit": "%(274,0,913.8);%(274,0,1370.6);%(380,0,1776.7)",
}


@dataclass(frozen=True)
class Playable:
    path: str
    found: bool
    duration_s: float | None  # None: plays until interrupted
    file_type: str | None  # Playback-File-Type header, set only for tone_stream / local_stream


def split_file_string(path: str) -> list[str]:
    """file_string://a!b!c plays a, b and c in turn."""
    if path.startswith("file_string://"):
        return [p for p in path[len("file_string://"):].split("!") if p]
    return [path]


def resolve(path: str, *, media_scale: float, local_streams: frozenset[str], sounds_installed: bool = True,
            default_file_s: float = 0.1) -> Playable:
    """What playing ``path`` means on this switch (without sounds_installed, relative names and
    files under the sounds directory are not found)."""
    path = path.strip()
    params_free = re.sub(r"^\{[^}]*\}", "", path)
    low = params_free.lower()
    if low.startswith("tone_stream://"):
        ms = tone_stream_ms(params_free[len("tone_stream://"):])
        return Playable(path, True, None if ms is None else ms / 1000.0 * media_scale, "tone_stream")
    if low.startswith("silence_stream://"):
        spec = params_free[len("silence_stream://"):].split(",")[0]
        try:
            ms = int(spec)
        except ValueError:
            return Playable(path, False, 0.0, None)
        return Playable(path, True, None if ms <= 0 else ms / 1000.0 * media_scale, None)
    if low.startswith("local_stream://"):
        name = params_free[len("local_stream://"):].split("/")[0].split("?")[0]
        if name in local_streams:
            return Playable(path, True, None, "local_stream")
        return Playable(path, False, 0.0, "local_stream")
    if low.startswith(("say:", "phrase:", "speak:")):
        words = max(1, len(params_free.split(":", 1)[1].split()))
        return Playable(path, True, 0.5 * words * media_scale, None)
    if low.startswith(("http://", "https://", "http_cache://", "shout://")):
        return Playable(path, True, default_file_s * media_scale, None)
    if not params_free.startswith("/"):
        # relative: FreeSWITCH looks it up under its sound prefix, which a real install has
        return Playable(path, sounds_installed, default_file_s * media_scale, None)
    if params_free.startswith(SOUNDS_DIR) and not sounds_installed:
        return Playable(path, False, 0.0, None)
    if os.path.isfile(params_free):
        return Playable(path, True, _wav_seconds(params_free, default_file_s) * media_scale, None)
    if params_free.startswith(FREESWITCH_ROOTS):
        return Playable(path, True, default_file_s * media_scale, None)
    return Playable(path, False, 0.0, None)


def _wav_seconds(path: str, default: float) -> float:
    try:
        with wave.open(path, "rb") as w:
            rate = w.getframerate() or 8000
            return w.getnframes() / float(rate)
    except (wave.Error, OSError, EOFError):
        return default


def tone_stream_ms(spec: str) -> int | None:
    """Length of a teletone script in ms; None for an endless one (loops=-1 / L=-1)."""
    for name, tone in TONES.items():
        spec = spec.replace("$${%s}" % name, tone)
    loops = 1
    m = re.search(r";?loops=(-?\d+)", spec)
    if m:
        loops = int(m.group(1))
        spec = spec[: m.start()] + spec[m.end():]
    total = 0
    for part in spec.split(";"):
        part = part.strip()
        if part.startswith("L="):
            try:
                loops = int(part[2:])
            except ValueError:
                pass
            continue
        m = re.match(r"%\(\s*(-?\d+)\s*,\s*(-?\d+)", part)
        if m:
            total += max(0, int(m.group(1))) + max(0, int(m.group(2)))
    if loops < 0:
        return None
    return total * max(loops, 1)
