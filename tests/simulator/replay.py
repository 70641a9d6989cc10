"""Drive the simulator with a recorded scenario's client commands.

The recorded client (inbound ESL connections and the outbound socket client)
is replayed against the simulator: each command is sent when the event it
followed in the recording has arrived, with recorded uuids mapped to the
simulator's. With caller_hangs_up_as_recorded the caller hangs up where the
recording shows its CHANNEL_HANGUP (SIPp's BYE), once what preceded it has
arrived. What the simulator sends back is kept per connection so the tests
can compare it with the recording.
"""
from __future__ import annotations

import re
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from hotline.simulator import CallerScript, Switch

from .esl_client import EslClient, Frame, OutboundServer
from .transcripts import UUID_RE, Record, a_leg_uuid


# (event name, Unique-ID, Application, Job-Command, Action): what the replay waits for
Key = tuple[str, str, str, str, str]


@dataclass
class SentCommand:
    conn: str
    text: str
    expected_reply: Optional[Frame]
    actual_reply: Optional[Frame]


@dataclass
class Replay:
    sw: Switch
    records: list[Record]
    ani: str
    dnis: str
    caller_name: str
    script: CallerScript
    outbound: Optional[OutboundServer] = None
    rewrite: Callable[[str], str] = lambda text: text
    caller_hangs_up_as_recorded: bool = False
    timeout: float = 15.0
    clients: dict[str, EslClient] = field(default_factory=dict)
    uuid_map: dict[str, str] = field(default_factory=dict)
    sent: list[SentCommand] = field(default_factory=list)
    recorded_a: str = ""
    call: Any = None

    def run(self) -> None:
        self.recorded_a = a_leg_uuid(self.records)
        counts: dict[tuple[str, Key], int] = {}
        pending_wait: Optional[tuple[str, Key, int]] = None
        for index, rec in enumerate(self.records):
            if self.call is None and self._mentions_a_leg(rec):
                self.call = self.sw.place_call(ani=self.ani, dnis=self.dnis, caller_name=self.caller_name,
                                               script=self.script)
                self.uuid_map[self.recorded_a] = self.call.uuid
            if rec.conn.startswith("inbound") and rec.conn not in self.clients:
                self.clients[rec.conn] = EslClient.connect(self.sw.esl_port, password=None, name=rec.conn)
            if rec.dir == "recv":
                ev = rec.event()
                if self._is_caller_bye(ev):
                    # the caller hangs up once what came before it in the recording has happened
                    if pending_wait is not None:
                        self._wait_event(*pending_wait)
                    self.call.hangup()
                if ev is not None and not (rec.conn == "outbound-call" and ev.get("Event-Name") == "CHANNEL_PARK"):
                    # (the outbound CHANNEL_PARK is a race in FreeSWITCH itself: not waited for)
                    key = self._key(ev)
                    counts[(rec.conn, key)] = counts.get((rec.conn, key), 0) + 1
                    pending_wait = (rec.conn, key, counts[(rec.conn, key)])
                elif ev is None:
                    pending_wait = None
                continue
            # a command: wait for what preceded it, then send it and take its reply
            if pending_wait is not None:
                self._wait_event(*pending_wait)
                pending_wait = None
            if rec.conn == "outbound-call" and rec.conn not in self.clients:
                assert self.outbound is not None
                self.clients[rec.conn] = self.outbound.accept(name=rec.conn)
            client = self.clients[rec.conn]
            text = self.rewrite(self._map_uuids(rec.data))
            expected = self._expected_reply(index)
            client.send(text)
            actual = client.next_reply(self.timeout) if expected is not None else None
            self.sent.append(SentCommand(rec.conn, text, expected, actual))

    # -- helpers ---------------------------------------------------------------
    def _is_caller_bye(self, ev: Optional[dict[str, Any]]) -> bool:
        return (self.caller_hangs_up_as_recorded and ev is not None and self.call is not None
                and ev.get("Event-Name") == "CHANNEL_HANGUP" and ev.get("Unique-ID") == self.recorded_a
                and not self.call.hungup)

    def _mentions_a_leg(self, rec: Record) -> bool:
        return (rec.conn == "outbound-call") or (rec.dir == "recv" and self.recorded_a in rec.data)

    def _key(self, ev: dict[str, Any]) -> Key:
        return (ev.get("Event-Name", ""), ev.get("Unique-ID", ""), ev.get("Application", ""),
                ev.get("Job-Command", ""), ev.get("Action", ""))

    def _map_uuids(self, text: str) -> str:
        def swap(m: re.Match[str]) -> str:
            recorded = m.group(0)
            if recorded not in self.uuid_map:
                self.uuid_map[recorded] = str(uuidlib.uuid4())
            return self.uuid_map[recorded]

        return UUID_RE.sub(swap, text)

    def _expected_reply(self, index: int) -> Optional[Frame]:
        conn = self.records[index].conn
        for rec in self.records[index + 1:]:
            if rec.conn != conn:
                continue
            if rec.dir == "send":
                return None
            frame = rec.frame
            if frame.is_reply or frame.get("Event-Name") == "CHANNEL_DATA":
                return frame
        return None

    def _wait_event(self, conn: str, key: Key, nth: int) -> None:
        client = self.clients.get(conn)
        if client is None:
            return
        name, recorded_uuid, app, job_command, action = key
        mapped_values = set(self.uuid_map.values())

        def matches(f: Frame) -> bool:
            ev = f.event()
            if ev is None or ev.get("Event-Name") != name:
                return False
            found = (ev.get("Application", ""), ev.get("Job-Command", ""), ev.get("Action", ""))
            if found != (app, job_command, action):
                return False
            if not recorded_uuid:
                return True
            sim_uuid = ev.get("Unique-ID", "")
            if recorded_uuid in self.uuid_map:
                return sim_uuid == self.uuid_map[recorded_uuid]
            return sim_uuid not in mapped_values

        seen = 0
        for i, frame in enumerate(client.frames):
            if matches(frame):
                seen += 1
                if seen == nth:
                    self._learn(recorded_uuid, frame)
                    return
        start = len(client.frames)
        while seen < nth:
            try:
                frame = client.wait_for(matches, timeout=self.timeout, start=start)
            except AssertionError as exc:
                got = [(ev.get("Event-Name"), ev.get("Unique-ID", "")[:8], ev.get("Application", ""))
                       for ev in client.events()]
                raise AssertionError(f"waiting for #{nth} {key} on {conn}: {exc}; received {got}") from None
            start = client.frames.index(frame) + 1
            seen += 1
        self._learn(recorded_uuid, frame)

    def _learn(self, recorded_uuid: str, frame: Frame) -> None:
        ev = frame.event() or {}
        if recorded_uuid and recorded_uuid not in self.uuid_map and ev.get("Unique-ID"):
            self.uuid_map[recorded_uuid] = ev["Unique-ID"]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
