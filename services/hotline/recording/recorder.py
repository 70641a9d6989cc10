"""Starts a stereo recording when a caller is bridged to an agent
(uuid_record, caller left / agent right), and when FreeSWITCH reports the
recording stopped, describes the file and publishes RecordingSaved.

Driven by the call-events and queue-events topics; commands go to
FreeSWITCH over the inbound ESL connection to the node the call is on
(CallEvent.node_id)."""
from __future__ import annotations

import logging
import os
import time

from hotline.common import topics
from hotline.common.bus import EventBus, Record
from hotline.freeswitch import CommandFailed, EslError
from hotline.freeswitch.pool import SwitchPool
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.recording import files, metrics

log = logging.getLogger(__name__)

# A bridge event older than this is a replay (after a restart): its call is
# long over, so no recording is started for it.
STALE_US = 60 * 1_000_000


class Recorder:
    def __init__(self, switches: SwitchPool, bus: EventBus, directory: str, *, stereo: bool = True) -> None:
        self.switches = switches
        self.bus = bus
        self.directory = directory
        self.stereo = stereo
        self.recording: dict[str, tuple[str, int]] = {}     # call uuid -> (path, started µs)
        self.served_by: dict[str, tuple[str, str]] = {}     # call uuid -> (agent, queue)
        self.saved: set[str] = set()

    def handle(self, batch: list[Record]) -> None:
        for record in batch:
            message = record.value
            if isinstance(message, ev.QueueEvent):
                if message.type == ev.QUEUE_CONNECTED:
                    self.served_by[message.call_uuid] = (message.agent_id, message.queue)
            elif isinstance(message, ev.CallEvent):
                if message.type == ev.CALL_BRIDGED and message.leg == ev.LEG_CALLER:
                    self.start(message)
                elif message.type == ev.CALL_RECORD_STOPPED and message.record_path:
                    self.finish(message)
                elif message.type == ev.CALL_DESTROYED and message.leg == ev.LEG_CALLER:
                    self.served_by.pop(message.call_uuid, None)

    def start(self, event: ev.CallEvent) -> None:
        call_uuid = event.leg_uuid
        if call_uuid in self.recording or time.time() * 1e6 - event.timestamp_us > STALE_US:
            return
        path = files.recording_path(self.directory, call_uuid, event.timestamp_us)
        try:
            esl = self.switches.node(event.node_id)      # the node the call's events came from
        except EslError as exc:
            log.warning("recording %s not started: %s", call_uuid, exc)
            metrics.FAILED.labels("start").inc()
            return
        try:
            if self.stereo:
                esl.api_ok(f"uuid_setvar {call_uuid} RECORD_STEREO true")
            esl.api_ok(f"uuid_setvar {call_uuid} hotline_recording_path {path}")
            esl.api_ok(f"uuid_record {call_uuid} start {path}")
        except CommandFailed as exc:
            # The call ended meanwhile ("-ERR No such channel!"): nothing to record.
            log.info("recording %s not started: %s", call_uuid, exc)
            metrics.FAILED.labels("start").inc()
            return
        except EslError:
            metrics.FAILED.labels("start").inc()
            raise   # FreeSWITCH unreachable: the pipeline retries the batch
        self.recording[call_uuid] = (path, event.timestamp_us)
        metrics.STARTED.inc()
        metrics.ACTIVE.set(len(self.recording))
        log.info("recording %s to %s", call_uuid, path)

    def finish(self, event: ev.CallEvent) -> None:
        call_uuid = event.leg_uuid
        path, started_us = self.recording.pop(call_uuid, (event.record_path, 0))
        metrics.ACTIVE.set(len(self.recording))
        if path in self.saved:
            return
        agent_id, queue = self.served_by.get(call_uuid, ("", ""))
        saved = ev.RecordingSaved(event_id=f"rec:{call_uuid}:{os.path.basename(event.record_path)}",
                                  call_uuid=call_uuid, path=event.record_path, started_us=started_us,
                                  stopped_us=event.timestamp_us, agent_id=agent_id, queue=queue)
        try:
            files.describe(event.record_path, saved)
            files.write_sidecar(event.record_path, saved)
            metrics.BYTES.inc(saved.size_bytes)
        except (OSError, EOFError, ValueError) as exc:
            # FreeSWITCH may write to a disk this process cannot see; announce what is known.
            log.warning("recording file %s not readable here: %s", event.record_path, exc)
            metrics.FAILED.labels("describe").inc()
        self.bus.publish(topics.RECORDINGS, call_uuid, saved)
        self.saved.add(path)
        metrics.SAVED.inc()
