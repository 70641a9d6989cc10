from hotline.proto.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Strategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STRATEGY_UNSPECIFIED: _ClassVar[Strategy]
    LONGEST_IDLE: _ClassVar[Strategy]
STRATEGY_UNSPECIFIED: Strategy
LONGEST_IDLE: Strategy

class EnqueueRequest(_message.Message):
    __slots__ = ("call_uuid", "queue", "ani", "dnis", "caller_name", "node_id", "priority", "menu_choice", "answered_us")
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    ANI_FIELD_NUMBER: _ClassVar[int]
    DNIS_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    MENU_CHOICE_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_US_FIELD_NUMBER: _ClassVar[int]
    call_uuid: str
    queue: str
    ani: str
    dnis: str
    caller_name: str
    node_id: str
    priority: int
    menu_choice: str
    answered_us: int
    def __init__(self, call_uuid: _Optional[str] = ..., queue: _Optional[str] = ..., ani: _Optional[str] = ..., dnis: _Optional[str] = ..., caller_name: _Optional[str] = ..., node_id: _Optional[str] = ..., priority: _Optional[int] = ..., menu_choice: _Optional[str] = ..., answered_us: _Optional[int] = ...) -> None: ...

class EnqueueResponse(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class Queue(_message.Message):
    __slots__ = ("name", "skill", "strategy", "service_level_threshold_s", "wrap_up_s", "hold_music", "ring_timeout_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_THRESHOLD_S_FIELD_NUMBER: _ClassVar[int]
    WRAP_UP_S_FIELD_NUMBER: _ClassVar[int]
    HOLD_MUSIC_FIELD_NUMBER: _ClassVar[int]
    RING_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    skill: str
    strategy: Strategy
    service_level_threshold_s: int
    wrap_up_s: int
    hold_music: str
    ring_timeout_s: int
    def __init__(self, name: _Optional[str] = ..., skill: _Optional[str] = ..., strategy: _Optional[_Union[Strategy, str]] = ..., service_level_threshold_s: _Optional[int] = ..., wrap_up_s: _Optional[int] = ..., hold_music: _Optional[str] = ..., ring_timeout_s: _Optional[int] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListQueuesResponse(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[Queue]
    def __init__(self, queues: _Optional[_Iterable[_Union[Queue, _Mapping]]] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("agent_id", "name", "contact", "skills")
    class SkillsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    name: str
    contact: str
    skills: _containers.ScalarMap[str, int]
    def __init__(self, agent_id: _Optional[str] = ..., name: _Optional[str] = ..., contact: _Optional[str] = ..., skills: _Optional[_Mapping[str, int]] = ...) -> None: ...

class AgentStatus(_message.Message):
    __slots__ = ("agent", "state", "reason", "state_since_us", "call_uuid", "idle_since_us")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_SINCE_US_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    IDLE_SINCE_US_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    state: _events_pb2.AgentState
    reason: str
    state_since_us: int
    call_uuid: str
    idle_since_us: int
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., state: _Optional[_Union[_events_pb2.AgentState, str]] = ..., reason: _Optional[str] = ..., state_since_us: _Optional[int] = ..., call_uuid: _Optional[str] = ..., idle_since_us: _Optional[int] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentStatus]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentStatus, _Mapping]]] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class SetAgentStateRequest(_message.Message):
    __slots__ = ("agent_id", "state", "reason")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    state: _events_pb2.AgentState
    reason: str
    def __init__(self, agent_id: _Optional[str] = ..., state: _Optional[_Union[_events_pb2.AgentState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetQueueStatusRequest(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: str
    def __init__(self, queue: _Optional[str] = ...) -> None: ...

class QueueStatus(_message.Message):
    __slots__ = ("queue", "calls_waiting", "longest_wait_us", "agents_by_state")
    class AgentsByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    CALLS_WAITING_FIELD_NUMBER: _ClassVar[int]
    LONGEST_WAIT_US_FIELD_NUMBER: _ClassVar[int]
    AGENTS_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    queue: str
    calls_waiting: int
    longest_wait_us: int
    agents_by_state: _containers.ScalarMap[str, int]
    def __init__(self, queue: _Optional[str] = ..., calls_waiting: _Optional[int] = ..., longest_wait_us: _Optional[int] = ..., agents_by_state: _Optional[_Mapping[str, int]] = ...) -> None: ...
