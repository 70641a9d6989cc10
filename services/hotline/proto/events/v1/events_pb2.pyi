from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Leg(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEG_UNSPECIFIED: _ClassVar[Leg]
    LEG_CALLER: _ClassVar[Leg]
    LEG_AGENT: _ClassVar[Leg]
    LEG_OTHER: _ClassVar[Leg]

class CallEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_EVENT_TYPE_UNSPECIFIED: _ClassVar[CallEventType]
    CALL_CREATED: _ClassVar[CallEventType]
    CALL_RINGING: _ClassVar[CallEventType]
    CALL_ANSWERED: _ClassVar[CallEventType]
    CALL_PARKED: _ClassVar[CallEventType]
    CALL_UNPARKED: _ClassVar[CallEventType]
    CALL_BRIDGED: _ClassVar[CallEventType]
    CALL_UNBRIDGED: _ClassVar[CallEventType]
    CALL_HELD: _ClassVar[CallEventType]
    CALL_UNHELD: _ClassVar[CallEventType]
    CALL_DTMF: _ClassVar[CallEventType]
    CALL_RECORD_STARTED: _ClassVar[CallEventType]
    CALL_RECORD_STOPPED: _ClassVar[CallEventType]
    CALL_HANGUP: _ClassVar[CallEventType]
    CALL_HANGUP_COMPLETE: _ClassVar[CallEventType]
    CALL_DESTROYED: _ClassVar[CallEventType]
    CALL_EXECUTE: _ClassVar[CallEventType]
    CALL_EXECUTE_COMPLETE: _ClassVar[CallEventType]
    CALL_ORIGINATED: _ClassVar[CallEventType]

class AgentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATE_UNSPECIFIED: _ClassVar[AgentState]
    LOGGED_OUT: _ClassVar[AgentState]
    NOT_READY: _ClassVar[AgentState]
    READY: _ClassVar[AgentState]
    RESERVED: _ClassVar[AgentState]
    ON_CALL: _ClassVar[AgentState]
    WRAP_UP: _ClassVar[AgentState]

class QueueEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUEUE_EVENT_TYPE_UNSPECIFIED: _ClassVar[QueueEventType]
    QUEUE_ENQUEUED: _ClassVar[QueueEventType]
    QUEUE_OFFERED: _ClassVar[QueueEventType]
    QUEUE_OFFER_FAILED: _ClassVar[QueueEventType]
    QUEUE_CONNECTED: _ClassVar[QueueEventType]
    QUEUE_ABANDONED: _ClassVar[QueueEventType]
    QUEUE_CALL_ENDED: _ClassVar[QueueEventType]
    QUEUE_OVERFLOWED: _ClassVar[QueueEventType]
    QUEUE_REJECTED: _ClassVar[QueueEventType]
    QUEUE_PRIORITY_CHANGED: _ClassVar[QueueEventType]
    QUEUE_CALLBACK_REQUESTED: _ClassVar[QueueEventType]
    QUEUE_CALLBACK_DIALING: _ClassVar[QueueEventType]
    QUEUE_CALLBACK_FAILED: _ClassVar[QueueEventType]
    QUEUE_ANNOUNCED: _ClassVar[QueueEventType]

class Disposition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPOSITION_UNSPECIFIED: _ClassVar[Disposition]
    DISPOSITION_ANSWERED: _ClassVar[Disposition]
    DISPOSITION_ABANDONED: _ClassVar[Disposition]
    DISPOSITION_ENDED_IN_IVR: _ClassVar[Disposition]
    DISPOSITION_FAILED: _ClassVar[Disposition]
    DISPOSITION_OVERFLOWED: _ClassVar[Disposition]
    DISPOSITION_CALLBACK: _ClassVar[Disposition]
    DISPOSITION_REJECTED: _ClassVar[Disposition]
    DISPOSITION_CALLBACK_FAILED: _ClassVar[Disposition]
LEG_UNSPECIFIED: Leg
LEG_CALLER: Leg
LEG_AGENT: Leg
LEG_OTHER: Leg
CALL_EVENT_TYPE_UNSPECIFIED: CallEventType
CALL_CREATED: CallEventType
CALL_RINGING: CallEventType
CALL_ANSWERED: CallEventType
CALL_PARKED: CallEventType
CALL_UNPARKED: CallEventType
CALL_BRIDGED: CallEventType
CALL_UNBRIDGED: CallEventType
CALL_HELD: CallEventType
CALL_UNHELD: CallEventType
CALL_DTMF: CallEventType
CALL_RECORD_STARTED: CallEventType
CALL_RECORD_STOPPED: CallEventType
CALL_HANGUP: CallEventType
CALL_HANGUP_COMPLETE: CallEventType
CALL_DESTROYED: CallEventType
CALL_EXECUTE: CallEventType
CALL_EXECUTE_COMPLETE: CallEventType
CALL_ORIGINATED: CallEventType
AGENT_STATE_UNSPECIFIED: AgentState
LOGGED_OUT: AgentState
NOT_READY: AgentState
READY: AgentState
RESERVED: AgentState
ON_CALL: AgentState
WRAP_UP: AgentState
QUEUE_EVENT_TYPE_UNSPECIFIED: QueueEventType
QUEUE_ENQUEUED: QueueEventType
QUEUE_OFFERED: QueueEventType
QUEUE_OFFER_FAILED: QueueEventType
QUEUE_CONNECTED: QueueEventType
QUEUE_ABANDONED: QueueEventType
QUEUE_CALL_ENDED: QueueEventType
QUEUE_OVERFLOWED: QueueEventType
QUEUE_REJECTED: QueueEventType
QUEUE_PRIORITY_CHANGED: QueueEventType
QUEUE_CALLBACK_REQUESTED: QueueEventType
QUEUE_CALLBACK_DIALING: QueueEventType
QUEUE_CALLBACK_FAILED: QueueEventType
QUEUE_ANNOUNCED: QueueEventType
DISPOSITION_UNSPECIFIED: Disposition
DISPOSITION_ANSWERED: Disposition
DISPOSITION_ABANDONED: Disposition
DISPOSITION_ENDED_IN_IVR: Disposition
DISPOSITION_FAILED: Disposition
DISPOSITION_OVERFLOWED: Disposition
DISPOSITION_CALLBACK: Disposition
DISPOSITION_REJECTED: Disposition
DISPOSITION_CALLBACK_FAILED: Disposition

class CallEvent(_message.Message):
    __slots__ = ("event_id", "node_id", "call_uuid", "leg_uuid", "leg", "type", "timestamp_us", "ani", "dnis", "other_leg_uuid", "hangup_cause", "dtmf_digit", "application", "application_data", "freeswitch_event", "record_path", "created_us", "answered_us", "bridged_us", "hangup_us", "billsec_us", "hold_accum_us", "caller_name", "agent_id", "queue")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    LEG_UUID_FIELD_NUMBER: _ClassVar[int]
    LEG_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    ANI_FIELD_NUMBER: _ClassVar[int]
    DNIS_FIELD_NUMBER: _ClassVar[int]
    OTHER_LEG_UUID_FIELD_NUMBER: _ClassVar[int]
    HANGUP_CAUSE_FIELD_NUMBER: _ClassVar[int]
    DTMF_DIGIT_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_DATA_FIELD_NUMBER: _ClassVar[int]
    FREESWITCH_EVENT_FIELD_NUMBER: _ClassVar[int]
    RECORD_PATH_FIELD_NUMBER: _ClassVar[int]
    CREATED_US_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_US_FIELD_NUMBER: _ClassVar[int]
    BRIDGED_US_FIELD_NUMBER: _ClassVar[int]
    HANGUP_US_FIELD_NUMBER: _ClassVar[int]
    BILLSEC_US_FIELD_NUMBER: _ClassVar[int]
    HOLD_ACCUM_US_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    node_id: str
    call_uuid: str
    leg_uuid: str
    leg: Leg
    type: CallEventType
    timestamp_us: int
    ani: str
    dnis: str
    other_leg_uuid: str
    hangup_cause: str
    dtmf_digit: str
    application: str
    application_data: str
    freeswitch_event: str
    record_path: str
    created_us: int
    answered_us: int
    bridged_us: int
    hangup_us: int
    billsec_us: int
    hold_accum_us: int
    caller_name: str
    agent_id: str
    queue: str
    def __init__(self, event_id: _Optional[str] = ..., node_id: _Optional[str] = ..., call_uuid: _Optional[str] = ..., leg_uuid: _Optional[str] = ..., leg: _Optional[_Union[Leg, str]] = ..., type: _Optional[_Union[CallEventType, str]] = ..., timestamp_us: _Optional[int] = ..., ani: _Optional[str] = ..., dnis: _Optional[str] = ..., other_leg_uuid: _Optional[str] = ..., hangup_cause: _Optional[str] = ..., dtmf_digit: _Optional[str] = ..., application: _Optional[str] = ..., application_data: _Optional[str] = ..., freeswitch_event: _Optional[str] = ..., record_path: _Optional[str] = ..., created_us: _Optional[int] = ..., answered_us: _Optional[int] = ..., bridged_us: _Optional[int] = ..., hangup_us: _Optional[int] = ..., billsec_us: _Optional[int] = ..., hold_accum_us: _Optional[int] = ..., caller_name: _Optional[str] = ..., agent_id: _Optional[str] = ..., queue: _Optional[str] = ...) -> None: ...

class AgentStateEvent(_message.Message):
    __slots__ = ("event_id", "agent_id", "state", "previous_state", "reason", "timestamp_us", "previous_state_since_us", "call_uuid", "queue", "call_enqueue_us", "queues")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_SINCE_US_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    CALL_ENQUEUE_US_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    agent_id: str
    state: AgentState
    previous_state: AgentState
    reason: str
    timestamp_us: int
    previous_state_since_us: int
    call_uuid: str
    queue: str
    call_enqueue_us: int
    queues: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., state: _Optional[_Union[AgentState, str]] = ..., previous_state: _Optional[_Union[AgentState, str]] = ..., reason: _Optional[str] = ..., timestamp_us: _Optional[int] = ..., previous_state_since_us: _Optional[int] = ..., call_uuid: _Optional[str] = ..., queue: _Optional[str] = ..., call_enqueue_us: _Optional[int] = ..., queues: _Optional[_Iterable[str]] = ...) -> None: ...

class QueueEvent(_message.Message):
    __slots__ = ("event_id", "call_uuid", "queue", "type", "timestamp_us", "agent_id", "ani", "dnis", "position", "wait_us", "node_id", "reason", "caller_name", "destination", "priority", "callback_number", "ewt_s", "attempt")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ANI_FIELD_NUMBER: _ClassVar[int]
    DNIS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    WAIT_US_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    EWT_S_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    call_uuid: str
    queue: str
    type: QueueEventType
    timestamp_us: int
    agent_id: str
    ani: str
    dnis: str
    position: int
    wait_us: int
    node_id: str
    reason: str
    caller_name: str
    destination: str
    priority: int
    callback_number: str
    ewt_s: int
    attempt: int
    def __init__(self, event_id: _Optional[str] = ..., call_uuid: _Optional[str] = ..., queue: _Optional[str] = ..., type: _Optional[_Union[QueueEventType, str]] = ..., timestamp_us: _Optional[int] = ..., agent_id: _Optional[str] = ..., ani: _Optional[str] = ..., dnis: _Optional[str] = ..., position: _Optional[int] = ..., wait_us: _Optional[int] = ..., node_id: _Optional[str] = ..., reason: _Optional[str] = ..., caller_name: _Optional[str] = ..., destination: _Optional[str] = ..., priority: _Optional[int] = ..., callback_number: _Optional[str] = ..., ewt_s: _Optional[int] = ..., attempt: _Optional[int] = ...) -> None: ...

class Cdr(_message.Message):
    __slots__ = ("event_id", "call_uuid", "node_id", "ani", "dnis", "caller_name", "queue", "agent_id", "disposition", "hangup_cause", "start_us", "answer_us", "enqueue_us", "connect_us", "end_us", "queue_wait_us", "talk_us", "hold_us", "offers", "menu_choice", "recording_path", "billsec_us", "overflow_destination", "callback_for", "callback_number", "ring_us", "skills", "ivr_flow")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ANI_FIELD_NUMBER: _ClassVar[int]
    DNIS_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    HANGUP_CAUSE_FIELD_NUMBER: _ClassVar[int]
    START_US_FIELD_NUMBER: _ClassVar[int]
    ANSWER_US_FIELD_NUMBER: _ClassVar[int]
    ENQUEUE_US_FIELD_NUMBER: _ClassVar[int]
    CONNECT_US_FIELD_NUMBER: _ClassVar[int]
    END_US_FIELD_NUMBER: _ClassVar[int]
    QUEUE_WAIT_US_FIELD_NUMBER: _ClassVar[int]
    TALK_US_FIELD_NUMBER: _ClassVar[int]
    HOLD_US_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    MENU_CHOICE_FIELD_NUMBER: _ClassVar[int]
    RECORDING_PATH_FIELD_NUMBER: _ClassVar[int]
    BILLSEC_US_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_FOR_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RING_US_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    IVR_FLOW_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    call_uuid: str
    node_id: str
    ani: str
    dnis: str
    caller_name: str
    queue: str
    agent_id: str
    disposition: Disposition
    hangup_cause: str
    start_us: int
    answer_us: int
    enqueue_us: int
    connect_us: int
    end_us: int
    queue_wait_us: int
    talk_us: int
    hold_us: int
    offers: int
    menu_choice: str
    recording_path: str
    billsec_us: int
    overflow_destination: str
    callback_for: str
    callback_number: str
    ring_us: int
    skills: _containers.RepeatedScalarFieldContainer[str]
    ivr_flow: str
    def __init__(self, event_id: _Optional[str] = ..., call_uuid: _Optional[str] = ..., node_id: _Optional[str] = ..., ani: _Optional[str] = ..., dnis: _Optional[str] = ..., caller_name: _Optional[str] = ..., queue: _Optional[str] = ..., agent_id: _Optional[str] = ..., disposition: _Optional[_Union[Disposition, str]] = ..., hangup_cause: _Optional[str] = ..., start_us: _Optional[int] = ..., answer_us: _Optional[int] = ..., enqueue_us: _Optional[int] = ..., connect_us: _Optional[int] = ..., end_us: _Optional[int] = ..., queue_wait_us: _Optional[int] = ..., talk_us: _Optional[int] = ..., hold_us: _Optional[int] = ..., offers: _Optional[int] = ..., menu_choice: _Optional[str] = ..., recording_path: _Optional[str] = ..., billsec_us: _Optional[int] = ..., overflow_destination: _Optional[str] = ..., callback_for: _Optional[str] = ..., callback_number: _Optional[str] = ..., ring_us: _Optional[int] = ..., skills: _Optional[_Iterable[str]] = ..., ivr_flow: _Optional[str] = ...) -> None: ...

class IvrNodeVisit(_message.Message):
    __slots__ = ("event_id", "call_uuid", "node_id", "flow", "node", "node_type", "sequence", "entered_us", "left_us", "outcome", "input", "attempts", "result")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ENTERED_US_FIELD_NUMBER: _ClassVar[int]
    LEFT_US_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    call_uuid: str
    node_id: str
    flow: str
    node: str
    node_type: str
    sequence: int
    entered_us: int
    left_us: int
    outcome: str
    input: str
    attempts: int
    result: str
    def __init__(self, event_id: _Optional[str] = ..., call_uuid: _Optional[str] = ..., node_id: _Optional[str] = ..., flow: _Optional[str] = ..., node: _Optional[str] = ..., node_type: _Optional[str] = ..., sequence: _Optional[int] = ..., entered_us: _Optional[int] = ..., left_us: _Optional[int] = ..., outcome: _Optional[str] = ..., input: _Optional[str] = ..., attempts: _Optional[int] = ..., result: _Optional[str] = ...) -> None: ...

class RecordingSaved(_message.Message):
    __slots__ = ("event_id", "call_uuid", "path", "channels", "sample_rate", "duration_ms", "size_bytes", "sha256", "started_us", "stopped_us", "agent_id", "queue")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    STARTED_US_FIELD_NUMBER: _ClassVar[int]
    STOPPED_US_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    call_uuid: str
    path: str
    channels: int
    sample_rate: int
    duration_ms: int
    size_bytes: int
    sha256: str
    started_us: int
    stopped_us: int
    agent_id: str
    queue: str
    def __init__(self, event_id: _Optional[str] = ..., call_uuid: _Optional[str] = ..., path: _Optional[str] = ..., channels: _Optional[int] = ..., sample_rate: _Optional[int] = ..., duration_ms: _Optional[int] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., started_us: _Optional[int] = ..., stopped_us: _Optional[int] = ..., agent_id: _Optional[str] = ..., queue: _Optional[str] = ...) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("event_id", "kind", "name", "deleted", "json", "timestamp_us", "changed_by")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    kind: str
    name: str
    deleted: bool
    json: str
    timestamp_us: int
    changed_by: str
    def __init__(self, event_id: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., deleted: _Optional[bool] = ..., json: _Optional[str] = ..., timestamp_us: _Optional[int] = ..., changed_by: _Optional[str] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("source_topic", "partition", "offset", "key", "payload", "error", "consumer_group", "timestamp_us")
    SOURCE_TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    source_topic: str
    partition: int
    offset: int
    key: bytes
    payload: bytes
    error: str
    consumer_group: str
    timestamp_us: int
    def __init__(self, source_topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., key: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., error: _Optional[str] = ..., consumer_group: _Optional[str] = ..., timestamp_us: _Optional[int] = ...) -> None: ...
