"""Load the real FreeSWITCH 1.10 transcripts and compare simulator output with them.

The .jsonl files (one ESL frame per line, as recorded by the shared
freeswitch-transcripts set; copies live in ./transcripts) are parsed into
frames. Values that legitimately differ between two runs (uuids, timestamps,
Core-UUID, hostnames, addresses, sequence numbers, uptime) are normalised.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .esl_client import Frame, frame_from_text

TRANSCRIPTS = Path(os.environ.get("HOTLINE_FS_TRANSCRIPTS", Path(__file__).parent / "transcripts"))

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# header -> placeholder: values that differ from run to run
VOLATILE = {
    "Core-UUID": "<core>", "FreeSWITCH-Hostname": "<host>", "FreeSWITCH-Switchname": "<host>",
    "FreeSWITCH-IPv4": "<ip4>", "FreeSWITCH-IPv6": "<ip6>", "Event-Date-Local": "<date>",
    "Event-Date-GMT": "<date>", "Event-Date-Timestamp": "<ts>", "Event-Sequence": "<seq>",
    "Content-Length": "<len>",
}

# the headers Hotline reads from events: present in the transcript => must be present in the simulator's
HOTLINE_HEADERS = (
    "Event-Name", "Unique-ID", "Other-Leg-Unique-ID", "Caller-Caller-ID-Number", "Caller-Caller-ID-Name",
    "Caller-Destination-Number", "Caller-ANI", "Hangup-Cause", "variable_billsec", "variable_duration",
    "variable_hangup_cause", "variable_answersec", "variable_waitsec", "variable_billusec",
    "variable_start_uepoch", "variable_answer_uepoch", "variable_bridge_uepoch", "variable_end_uepoch",
    "variable_hold_accum_usec", "Application", "Application-Data", "Application-UUID", "Application-Response",
    "Job-UUID", "Job-Command", "Event-Date-Timestamp", "Record-File-Path", "DTMF-Digit", "DTMF-Source",
    "Caller-Channel-Created-Time", "Caller-Channel-Answered-Time", "Caller-Channel-Hangup-Time",
    "Caller-Channel-Bridged-Time", "Caller-Channel-Progress-Time", "Channel-Call-State", "Answer-State",
    "Channel-State", "Call-Direction", "Other-Type", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID",
    "Playback-File-Path", "Playback-Status", "variable_read_result", "variable_menu_choice",
    "variable_hotline_role", "variable_record_seconds", "variable_record_ms",
)


@dataclass
class Record:
    t: float
    dir: str  # send | recv
    conn: str
    data: str

    @property
    def frame(self) -> Frame:
        return frame_from_text(self.data)

    @property
    def command(self) -> str:
        return self.data.split("\n", 1)[0]

    def event(self) -> Optional[dict[str, Any]]:
        if self.dir != "recv":
            return None
        return self.frame.event()


def available() -> bool:
    return (TRANSCRIPTS / "01-inbound-auth-and-api.jsonl").is_file()


def load(name: str) -> list[Record]:
    path = TRANSCRIPTS / f"{name}.jsonl"
    with path.open(encoding="utf-8") as f:
        return [Record(**json.loads(line)) for line in f if line.strip()]


def norm_text(text: str) -> str:
    text = UUID_RE.sub("<uuid>", text)
    text = re.sub(r"^UP \d+ years?, .* microseconds?$", "UP <uptime>", text, flags=re.M)
    return text


def norm_value(name: str, value: str) -> str:
    if name in VOLATILE:
        return VOLATILE[name]
    return norm_text(value)


def norm_headers(headers: list[tuple[str, str]] | dict[str, Any]) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, dict) else headers
    return [(k, norm_value(k, str(v))) for k, v in items]


def norm_frame(frame: Frame) -> dict[str, Any]:
    """A comparable picture of a frame: outer headers, and the body by content type."""
    out: dict[str, Any] = {"headers": norm_headers(frame.headers)}
    ct = frame.content_type
    if ct == "text/event-plain":
        event = frame.event() or {}
        body = event.pop("_body", None)
        out["event"] = norm_headers(event)
        out["event_body"] = norm_text(body) if body is not None else None
    elif ct == "text/event-json":
        event = json.loads(frame.body)
        body = event.pop("_body", None)
        out["event"] = norm_headers(event)
        out["event_body"] = norm_text(body) if body is not None else None
    else:
        out["body"] = norm_text(frame.body)
    return out


def a_leg_uuid(records: list[Record]) -> str:
    """The caller's channel: the first inbound CHANNEL_CREATE (or CHANNEL_DATA) in the transcript."""
    for rec in records:
        if rec.dir != "recv":
            continue
        frame = rec.frame
        ev = frame.event()
        if ev and ev.get("Event-Name") == "CHANNEL_CREATE" and ev.get("Call-Direction") == "inbound":
            return ev["Unique-ID"]
        if frame.get("Event-Name") == "CHANNEL_DATA":
            return frame.get("Unique-ID") or ""
    raise AssertionError("no inbound channel in transcript")


def event_key(ev: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """(event name, Application, Channel-Call-State, Answer-State, Action) as the conformance tests
    compare them (Action tells the conference::maintenance events apart)."""
    return (ev.get("Event-Name", ""), ev.get("Application", ""), ev.get("Channel-Call-State", ""),
            ev.get("Answer-State", ""), ev.get("Action", ""))
