"""Composition root of the recording service."""
from __future__ import annotations

from hotline.common import topics
from hotline.common.bus import EventBus
from hotline.common.grpc import GrpcServer
from hotline.common.settings import Settings
from hotline.freeswitch.pool import SwitchPool
from hotline.recording.recorder import Recorder


class RecordingService:
    def __init__(self, settings: Settings, bus: EventBus, switches: SwitchPool | None = None) -> None:
        self.settings = settings
        self.bus = bus
        # Commands only (api, answered on the same connection): no event
        # subscription, so FreeSWITCH does not send this connection every
        # BACKGROUND_JOB of routing's originates.
        self.switches = switches or SwitchPool.from_settings(settings.esl, ())
        self.recorder = Recorder(self.switches, bus, settings.recording.directory, stereo=settings.recording.stereo)
        # No API of its own yet: the gRPC server carries health and reflection.
        self.grpc = GrpcServer(settings.grpc.recording)
        self.switches.on_connected(lambda *_: self.grpc.set_all_serving(True))
        self.switches.on_disconnected(lambda *_: self.grpc.set_all_serving(self.switches.connected))
        self.consumer = None
        self.grpc_port: int | None = None

    def start(self) -> None:
        self.grpc_port = self.grpc.start()
        self.switches.start()
        self.consumer = self.bus.consume("recording", [topics.CALL_EVENTS, topics.QUEUE_EVENTS],
                                         self.recorder.handle, batch_timeout_s=0.05)

    def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop()
        self.switches.stop()
        self.grpc.stop()
