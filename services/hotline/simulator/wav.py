"""Recordings the simulator writes: real RIFF/PCM WAV files.

16-bit PCM at 8000 Hz like FreeSWITCH's default recording of a PCMU call; two
channels when the channel variable RECORD_STEREO is true (left = the recorded
channel, right = the other party), one otherwise. The content is a quiet tone
per side so a human or a test can tell the sides apart; masked spans
(uuid_record mask/unmask) are silent.
"""
from __future__ import annotations

import math
import os
import struct
import wave

RATE = 8000
_AMPLITUDE = 1200  # about -29 dBFS: quiet
_LEFT_HZ = 440.0
_RIGHT_HZ = 660.0


def _second(channels: int) -> bytes:
    """One second of the tone pair; both tones repeat exactly within a second."""
    out = bytearray()
    two_pi = 2.0 * math.pi
    for n in range(RATE):
        left = int(_AMPLITUDE * math.sin(two_pi * _LEFT_HZ * n / RATE))
        right = int(_AMPLITUDE * math.sin(two_pi * _RIGHT_HZ * n / RATE))
        if channels == 2:
            out += struct.pack("<hh", left, right)
        else:
            out += struct.pack("<h", (left + right) // 2)
    return bytes(out)


_SECOND = {1: _second(1), 2: _second(2)}


def write_recording(path: str, duration_s: float, stereo: bool, masked: list[tuple[float, float]]) -> tuple[int, int]:
    """Write the file; returns (samples per channel, file size in bytes)."""
    frames = max(int(round(duration_s * RATE)), 160)  # at least one 20 ms frame
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    channels = 2 if stereo else 1
    width = 2 * channels
    mask_ranges = [(int(a * RATE), int(b * RATE)) for a, b in masked]
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(RATE)
        for start in range(0, frames, RATE):
            end = min(start + RATE, frames)
            block = bytearray(_SECOND[channels][: (end - start) * width])
            for a, b in mask_ranges:
                lo, hi = max(a, start), min(b, end)
                if lo < hi:
                    block[(lo - start) * width:(hi - start) * width] = bytes((hi - lo) * width)
            w.writeframes(bytes(block))
    return frames, os.path.getsize(path)
