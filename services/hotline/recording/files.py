"""Recording files: where they go, and what they contain. No network I/O."""
from __future__ import annotations

import datetime
import hashlib
import json
import pathlib
import wave

from hotline.proto.events.v1 import events_pb2 as ev


def recording_path(directory: str, call_uuid: str, when_us: int) -> str:
    """<directory>/YYYY/MM/DD/<call uuid>.wav (UTC date the recording began)."""
    day = datetime.datetime.fromtimestamp(when_us / 1e6, datetime.timezone.utc)
    return str(pathlib.Path(directory) / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{call_uuid}.wav")


def describe(path: str, saved: ev.RecordingSaved) -> ev.RecordingSaved:
    """Fill in channels, rate, duration, size and sha256 from the file."""
    p = pathlib.Path(path)
    digest = hashlib.sha256()
    with p.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    saved.sha256 = digest.hexdigest()
    saved.size_bytes = p.stat().st_size
    with wave.open(str(p), "rb") as w:
        saved.channels = w.getnchannels()
        saved.sample_rate = w.getframerate()
        saved.duration_ms = int(w.getnframes() * 1000 / max(1, w.getframerate()))
    return saved


def write_sidecar(path: str, saved: ev.RecordingSaved) -> str:
    """Metadata next to the audio: <file>.json."""
    from google.protobuf.json_format import MessageToDict

    sidecar = pathlib.Path(path + ".json")
    tmp = sidecar.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(MessageToDict(saved, preserving_proto_field_name=True), indent=2, sort_keys=True))
    tmp.replace(sidecar)
    return str(sidecar)
