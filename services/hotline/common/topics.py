"""Hotline's Kafka topics and the protobuf message each one carries.

A topic's full name is ``<prefix><name>.v1`` (prefix ``hotline.`` by default;
tests use a unique prefix each so runs never see each other's messages).
"""
from __future__ import annotations

from google.protobuf.message import Message

from hotline.proto.events.v1 import events_pb2

CALL_EVENTS = "call-events"
AGENT_EVENTS = "agent-events"
QUEUE_EVENTS = "queue-events"
CDRS = "cdrs"
RECORDINGS = "recordings"
DEAD_LETTER = "dead-letter"
CONFIG_EVENTS = "config-events"
IVR_EVENTS = "ivr-events"

MESSAGE_TYPES: dict[str, type[Message]] = {
    CALL_EVENTS: events_pb2.CallEvent,
    AGENT_EVENTS: events_pb2.AgentStateEvent,
    QUEUE_EVENTS: events_pb2.QueueEvent,
    CDRS: events_pb2.Cdr,
    RECORDINGS: events_pb2.RecordingSaved,
    DEAD_LETTER: events_pb2.DeadLetter,
    CONFIG_EVENTS: events_pb2.ConfigChange,
    IVR_EVENTS: events_pb2.IvrNodeVisit,     # one per IVR node a caller leaves, key call UUID
}

# Topics whose latest message per key is the state (log compaction on).
COMPACTED = frozenset({CONFIG_EVENTS})

VERSION = "v1"


def full_name(prefix: str, topic: str) -> str:
    if topic not in MESSAGE_TYPES:
        raise ValueError(f"unknown topic {topic!r}")
    return f"{prefix}{topic}.{VERSION}"
