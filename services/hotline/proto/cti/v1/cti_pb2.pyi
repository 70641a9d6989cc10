from hotline.proto.events.v1 import events_pb2 as _events_pb2
from hotline.proto.routing.v1 import routing_pb2 as _routing_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoginRequest(_message.Message):
    __slots__ = ("agent_id", "ready")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    ready: bool
    def __init__(self, agent_id: _Optional[str] = ..., ready: _Optional[bool] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class SetStateRequest(_message.Message):
    __slots__ = ("agent_id", "state", "reason")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    state: _events_pb2.AgentState
    reason: str
    def __init__(self, agent_id: _Optional[str] = ..., state: _Optional[_Union[_events_pb2.AgentState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("customer_id", "name", "phone", "email", "company", "notes", "history", "known")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    phone: str
    email: str
    company: str
    notes: str
    history: _containers.RepeatedCompositeFieldContainer[CallSummary]
    known: bool
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ..., company: _Optional[str] = ..., notes: _Optional[str] = ..., history: _Optional[_Iterable[_Union[CallSummary, _Mapping]]] = ..., known: _Optional[bool] = ...) -> None: ...

class CallSummary(_message.Message):
    __slots__ = ("call_uuid", "start_us", "queue", "agent_id", "disposition")
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    START_US_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    call_uuid: str
    start_us: int
    queue: str
    agent_id: str
    disposition: str
    def __init__(self, call_uuid: _Optional[str] = ..., start_us: _Optional[int] = ..., queue: _Optional[str] = ..., agent_id: _Optional[str] = ..., disposition: _Optional[str] = ...) -> None: ...

class CallOffered(_message.Message):
    __slots__ = ("call_uuid", "queue", "ani", "dnis", "caller_name", "customer", "wait_us")
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    ANI_FIELD_NUMBER: _ClassVar[int]
    DNIS_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    WAIT_US_FIELD_NUMBER: _ClassVar[int]
    call_uuid: str
    queue: str
    ani: str
    dnis: str
    caller_name: str
    customer: Customer
    wait_us: int
    def __init__(self, call_uuid: _Optional[str] = ..., queue: _Optional[str] = ..., ani: _Optional[str] = ..., dnis: _Optional[str] = ..., caller_name: _Optional[str] = ..., customer: _Optional[_Union[Customer, _Mapping]] = ..., wait_us: _Optional[int] = ...) -> None: ...

class CallConnected(_message.Message):
    __slots__ = ("call_uuid", "queue")
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    call_uuid: str
    queue: str
    def __init__(self, call_uuid: _Optional[str] = ..., queue: _Optional[str] = ...) -> None: ...

class CallEnded(_message.Message):
    __slots__ = ("call_uuid", "queue")
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    call_uuid: str
    queue: str
    def __init__(self, call_uuid: _Optional[str] = ..., queue: _Optional[str] = ...) -> None: ...

class AgentEvent(_message.Message):
    __slots__ = ("timestamp_us", "state_changed", "call_offered", "call_connected", "call_ended")
    TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    CALL_OFFERED_FIELD_NUMBER: _ClassVar[int]
    CALL_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    CALL_ENDED_FIELD_NUMBER: _ClassVar[int]
    timestamp_us: int
    state_changed: _events_pb2.AgentStateEvent
    call_offered: CallOffered
    call_connected: CallConnected
    call_ended: CallEnded
    def __init__(self, timestamp_us: _Optional[int] = ..., state_changed: _Optional[_Union[_events_pb2.AgentStateEvent, _Mapping]] = ..., call_offered: _Optional[_Union[CallOffered, _Mapping]] = ..., call_connected: _Optional[_Union[CallConnected, _Mapping]] = ..., call_ended: _Optional[_Union[CallEnded, _Mapping]] = ...) -> None: ...

class LookupCustomerRequest(_message.Message):
    __slots__ = ("phone",)
    PHONE_FIELD_NUMBER: _ClassVar[int]
    phone: str
    def __init__(self, phone: _Optional[str] = ...) -> None: ...
