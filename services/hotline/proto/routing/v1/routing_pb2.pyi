from hotline.proto.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnqueueOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENQUEUE_OUTCOME_UNSPECIFIED: _ClassVar[EnqueueOutcome]
    ENQUEUED: _ClassVar[EnqueueOutcome]
    OVERFLOWED: _ClassVar[EnqueueOutcome]
    REJECTED: _ClassVar[EnqueueOutcome]

class Strategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STRATEGY_UNSPECIFIED: _ClassVar[Strategy]
    LONGEST_IDLE: _ClassVar[Strategy]
    ROUND_ROBIN: _ClassVar[Strategy]
    RING_ALL: _ClassVar[Strategy]
    TOP_DOWN: _ClassVar[Strategy]
    LEAST_CALLS: _ClassVar[Strategy]
    LEAST_TALK_TIME: _ClassVar[Strategy]
    RANDOM: _ClassVar[Strategy]
    CUSTOM: _ClassVar[Strategy]
ENQUEUE_OUTCOME_UNSPECIFIED: EnqueueOutcome
ENQUEUED: EnqueueOutcome
OVERFLOWED: EnqueueOutcome
REJECTED: EnqueueOutcome
STRATEGY_UNSPECIFIED: Strategy
LONGEST_IDLE: Strategy
ROUND_ROBIN: Strategy
RING_ALL: Strategy
TOP_DOWN: Strategy
LEAST_CALLS: Strategy
LEAST_TALK_TIME: Strategy
RANDOM: Strategy
CUSTOM: Strategy

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
    __slots__ = ("position", "outcome", "queue", "destination", "reject_cause", "ewt_s", "priority")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    REJECT_CAUSE_FIELD_NUMBER: _ClassVar[int]
    EWT_S_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    position: int
    outcome: EnqueueOutcome
    queue: str
    destination: str
    reject_cause: str
    ewt_s: int
    priority: int
    def __init__(self, position: _Optional[int] = ..., outcome: _Optional[_Union[EnqueueOutcome, str]] = ..., queue: _Optional[str] = ..., destination: _Optional[str] = ..., reject_cause: _Optional[str] = ..., ewt_s: _Optional[int] = ..., priority: _Optional[int] = ...) -> None: ...

class SetCallPriorityRequest(_message.Message):
    __slots__ = ("call_uuid", "priority")
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    call_uuid: str
    priority: int
    def __init__(self, call_uuid: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class RequestCallbackRequest(_message.Message):
    __slots__ = ("call_uuid", "number")
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    call_uuid: str
    number: str
    def __init__(self, call_uuid: _Optional[str] = ..., number: _Optional[str] = ...) -> None: ...

class QueuedCall(_message.Message):
    __slots__ = ("call_uuid", "queue", "ani", "dnis", "priority", "enqueued_us", "state", "agent_id", "position", "callback_number", "offers")
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    ANI_FIELD_NUMBER: _ClassVar[int]
    DNIS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ENQUEUED_US_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    call_uuid: str
    queue: str
    ani: str
    dnis: str
    priority: int
    enqueued_us: int
    state: str
    agent_id: str
    position: int
    callback_number: str
    offers: int
    def __init__(self, call_uuid: _Optional[str] = ..., queue: _Optional[str] = ..., ani: _Optional[str] = ..., dnis: _Optional[str] = ..., priority: _Optional[int] = ..., enqueued_us: _Optional[int] = ..., state: _Optional[str] = ..., agent_id: _Optional[str] = ..., position: _Optional[int] = ..., callback_number: _Optional[str] = ..., offers: _Optional[int] = ...) -> None: ...

class ListCallsRequest(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: str
    def __init__(self, queue: _Optional[str] = ...) -> None: ...

class ListCallsResponse(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[QueuedCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[QueuedCall, _Mapping]]] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SkillRequirement(_message.Message):
    __slots__ = ("skill", "min_level")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    MIN_LEVEL_FIELD_NUMBER: _ClassVar[int]
    skill: str
    min_level: int
    def __init__(self, skill: _Optional[str] = ..., min_level: _Optional[int] = ...) -> None: ...

class RelaxationStep(_message.Message):
    __slots__ = ("after_s", "drop")
    AFTER_S_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    after_s: int
    drop: int
    def __init__(self, after_s: _Optional[int] = ..., drop: _Optional[int] = ...) -> None: ...

class Queue(_message.Message):
    __slots__ = ("name", "skill", "strategy", "service_level_threshold_s", "wrap_up_s", "hold_music", "ring_timeout_s", "strategy_name", "requirements", "relaxation", "max_wait_s", "max_length", "overflow", "calendar", "closed_destination", "announce_every_s", "announcement", "callback_key", "callback_dial", "callback_attempts", "callback_retry_s", "tier_wait_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_THRESHOLD_S_FIELD_NUMBER: _ClassVar[int]
    WRAP_UP_S_FIELD_NUMBER: _ClassVar[int]
    HOLD_MUSIC_FIELD_NUMBER: _ClassVar[int]
    RING_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    RELAXATION_FIELD_NUMBER: _ClassVar[int]
    MAX_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    CLOSED_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCE_EVERY_S_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENT_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_KEY_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_DIAL_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_RETRY_S_FIELD_NUMBER: _ClassVar[int]
    TIER_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    skill: str
    strategy: Strategy
    service_level_threshold_s: int
    wrap_up_s: int
    hold_music: str
    ring_timeout_s: int
    strategy_name: str
    requirements: _containers.RepeatedCompositeFieldContainer[SkillRequirement]
    relaxation: _containers.RepeatedCompositeFieldContainer[RelaxationStep]
    max_wait_s: int
    max_length: int
    overflow: str
    calendar: str
    closed_destination: str
    announce_every_s: int
    announcement: str
    callback_key: str
    callback_dial: str
    callback_attempts: int
    callback_retry_s: int
    tier_wait_s: int
    def __init__(self, name: _Optional[str] = ..., skill: _Optional[str] = ..., strategy: _Optional[_Union[Strategy, str]] = ..., service_level_threshold_s: _Optional[int] = ..., wrap_up_s: _Optional[int] = ..., hold_music: _Optional[str] = ..., ring_timeout_s: _Optional[int] = ..., strategy_name: _Optional[str] = ..., requirements: _Optional[_Iterable[_Union[SkillRequirement, _Mapping]]] = ..., relaxation: _Optional[_Iterable[_Union[RelaxationStep, _Mapping]]] = ..., max_wait_s: _Optional[int] = ..., max_length: _Optional[int] = ..., overflow: _Optional[str] = ..., calendar: _Optional[str] = ..., closed_destination: _Optional[str] = ..., announce_every_s: _Optional[int] = ..., announcement: _Optional[str] = ..., callback_key: _Optional[str] = ..., callback_dial: _Optional[str] = ..., callback_attempts: _Optional[int] = ..., callback_retry_s: _Optional[int] = ..., tier_wait_s: _Optional[int] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListQueuesResponse(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[Queue]
    def __init__(self, queues: _Optional[_Iterable[_Union[Queue, _Mapping]]] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("agent_id", "name", "contact", "skills", "tiers")
    class SkillsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class TiersEntry(_message.Message):
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
    TIERS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    name: str
    contact: str
    skills: _containers.ScalarMap[str, int]
    tiers: _containers.ScalarMap[str, int]
    def __init__(self, agent_id: _Optional[str] = ..., name: _Optional[str] = ..., contact: _Optional[str] = ..., skills: _Optional[_Mapping[str, int]] = ..., tiers: _Optional[_Mapping[str, int]] = ...) -> None: ...

class AgentStatus(_message.Message):
    __slots__ = ("agent", "state", "reason", "state_since_us", "call_uuid", "idle_since_us", "dnd", "missed_offers")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_SINCE_US_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    IDLE_SINCE_US_FIELD_NUMBER: _ClassVar[int]
    DND_FIELD_NUMBER: _ClassVar[int]
    MISSED_OFFERS_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    state: _events_pb2.AgentState
    reason: str
    state_since_us: int
    call_uuid: str
    idle_since_us: int
    dnd: bool
    missed_offers: int
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., state: _Optional[_Union[_events_pb2.AgentState, str]] = ..., reason: _Optional[str] = ..., state_since_us: _Optional[int] = ..., call_uuid: _Optional[str] = ..., idle_since_us: _Optional[int] = ..., dnd: _Optional[bool] = ..., missed_offers: _Optional[int] = ...) -> None: ...

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

class SetAgentDndRequest(_message.Message):
    __slots__ = ("agent_id", "dnd")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DND_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    dnd: bool
    def __init__(self, agent_id: _Optional[str] = ..., dnd: _Optional[bool] = ...) -> None: ...

class OpeningHours(_message.Message):
    __slots__ = ("day", "open", "close")
    DAY_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    day: int
    open: str
    close: str
    def __init__(self, day: _Optional[int] = ..., open: _Optional[str] = ..., close: _Optional[str] = ...) -> None: ...

class Holiday(_message.Message):
    __slots__ = ("start", "end", "name", "open", "close")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    name: str
    open: str
    close: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ..., name: _Optional[str] = ..., open: _Optional[str] = ..., close: _Optional[str] = ...) -> None: ...

class Calendar(_message.Message):
    __slots__ = ("name", "timezone", "hours", "holidays")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    timezone: str
    hours: _containers.RepeatedCompositeFieldContainer[OpeningHours]
    holidays: _containers.RepeatedCompositeFieldContainer[Holiday]
    def __init__(self, name: _Optional[str] = ..., timezone: _Optional[str] = ..., hours: _Optional[_Iterable[_Union[OpeningHours, _Mapping]]] = ..., holidays: _Optional[_Iterable[_Union[Holiday, _Mapping]]] = ...) -> None: ...

class ListCalendarsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCalendarsResponse(_message.Message):
    __slots__ = ("calendars",)
    CALENDARS_FIELD_NUMBER: _ClassVar[int]
    calendars: _containers.RepeatedCompositeFieldContainer[Calendar]
    def __init__(self, calendars: _Optional[_Iterable[_Union[Calendar, _Mapping]]] = ...) -> None: ...

class NumberList(_message.Message):
    __slots__ = ("name", "numbers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class ListNumberListsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNumberListsResponse(_message.Message):
    __slots__ = ("lists",)
    LISTS_FIELD_NUMBER: _ClassVar[int]
    lists: _containers.RepeatedCompositeFieldContainer[NumberList]
    def __init__(self, lists: _Optional[_Iterable[_Union[NumberList, _Mapping]]] = ...) -> None: ...

class RoutingRule(_message.Message):
    __slots__ = ("name", "dnis", "ani", "ani_list", "ani_not_list", "queue", "priority", "reject", "reject_cause", "overflow")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DNIS_FIELD_NUMBER: _ClassVar[int]
    ANI_FIELD_NUMBER: _ClassVar[int]
    ANI_LIST_FIELD_NUMBER: _ClassVar[int]
    ANI_NOT_LIST_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REJECT_FIELD_NUMBER: _ClassVar[int]
    REJECT_CAUSE_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    name: str
    dnis: str
    ani: str
    ani_list: str
    ani_not_list: str
    queue: str
    priority: int
    reject: bool
    reject_cause: str
    overflow: str
    def __init__(self, name: _Optional[str] = ..., dnis: _Optional[str] = ..., ani: _Optional[str] = ..., ani_list: _Optional[str] = ..., ani_not_list: _Optional[str] = ..., queue: _Optional[str] = ..., priority: _Optional[int] = ..., reject: _Optional[bool] = ..., reject_cause: _Optional[str] = ..., overflow: _Optional[str] = ...) -> None: ...

class RoutingRules(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RoutingRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[RoutingRule, _Mapping]]] = ...) -> None: ...

class GetRoutingRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetQueueStatusRequest(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: str
    def __init__(self, queue: _Optional[str] = ...) -> None: ...

class QueueStatus(_message.Message):
    __slots__ = ("queue", "calls_waiting", "longest_wait_us", "agents_by_state", "open", "callbacks_waiting", "ewt_s")
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
    OPEN_FIELD_NUMBER: _ClassVar[int]
    CALLBACKS_WAITING_FIELD_NUMBER: _ClassVar[int]
    EWT_S_FIELD_NUMBER: _ClassVar[int]
    queue: str
    calls_waiting: int
    longest_wait_us: int
    agents_by_state: _containers.ScalarMap[str, int]
    open: bool
    callbacks_waiting: int
    ewt_s: int
    def __init__(self, queue: _Optional[str] = ..., calls_waiting: _Optional[int] = ..., longest_wait_us: _Optional[int] = ..., agents_by_state: _Optional[_Mapping[str, int]] = ..., open: _Optional[bool] = ..., callbacks_waiting: _Optional[int] = ..., ewt_s: _Optional[int] = ...) -> None: ...
