from hotline.proto.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GroupBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GROUP_BY_QUEUE: _ClassVar[GroupBy]
    GROUP_BY_AGENT: _ClassVar[GroupBy]
    GROUP_BY_SKILL: _ClassVar[GroupBy]
    GROUP_BY_DNIS: _ClassVar[GroupBy]
    GROUP_BY_NONE: _ClassVar[GroupBy]

class StaffingModel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERLANG_C: _ClassVar[StaffingModel]
    ERLANG_A: _ClassVar[StaffingModel]
GROUP_BY_QUEUE: GroupBy
GROUP_BY_AGENT: GroupBy
GROUP_BY_SKILL: GroupBy
GROUP_BY_DNIS: GroupBy
GROUP_BY_NONE: GroupBy
ERLANG_C: StaffingModel
ERLANG_A: StaffingModel

class IntervalReportRequest(_message.Message):
    __slots__ = ("queue", "from_us", "to_us", "interval_s", "service_level_threshold_s", "group_by", "short_abandon_s", "page_size", "page_token")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    FROM_US_FIELD_NUMBER: _ClassVar[int]
    TO_US_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_THRESHOLD_S_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    SHORT_ABANDON_S_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    queue: str
    from_us: int
    to_us: int
    interval_s: int
    service_level_threshold_s: int
    group_by: GroupBy
    short_abandon_s: int
    page_size: int
    page_token: str
    def __init__(self, queue: _Optional[str] = ..., from_us: _Optional[int] = ..., to_us: _Optional[int] = ..., interval_s: _Optional[int] = ..., service_level_threshold_s: _Optional[int] = ..., group_by: _Optional[_Union[GroupBy, str]] = ..., short_abandon_s: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class IntervalRow(_message.Message):
    __slots__ = ("queue", "interval_start_us", "offered", "answered", "abandoned", "answered_within_threshold", "asa_s", "aht_s", "service_level", "abandon_rate", "talk_s", "hold_s", "wrap_up_s", "short_abandoned", "abandoned_within_threshold", "flowed_out", "callbacks", "rejected", "failed", "handled", "service_level_abandons_ignored", "service_level_abandons_against", "service_level_abandons_for", "max_wait_s", "avg_abandon_wait_s")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_START_US_FIELD_NUMBER: _ClassVar[int]
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_WITHIN_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ASA_S_FIELD_NUMBER: _ClassVar[int]
    AHT_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ABANDON_RATE_FIELD_NUMBER: _ClassVar[int]
    TALK_S_FIELD_NUMBER: _ClassVar[int]
    HOLD_S_FIELD_NUMBER: _ClassVar[int]
    WRAP_UP_S_FIELD_NUMBER: _ClassVar[int]
    SHORT_ABANDONED_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_WITHIN_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FLOWED_OUT_FIELD_NUMBER: _ClassVar[int]
    CALLBACKS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    HANDLED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_ABANDONS_IGNORED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_ABANDONS_AGAINST_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_ABANDONS_FOR_FIELD_NUMBER: _ClassVar[int]
    MAX_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    AVG_ABANDON_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    queue: str
    interval_start_us: int
    offered: int
    answered: int
    abandoned: int
    answered_within_threshold: int
    asa_s: float
    aht_s: float
    service_level: float
    abandon_rate: float
    talk_s: float
    hold_s: float
    wrap_up_s: float
    short_abandoned: int
    abandoned_within_threshold: int
    flowed_out: int
    callbacks: int
    rejected: int
    failed: int
    handled: int
    service_level_abandons_ignored: float
    service_level_abandons_against: float
    service_level_abandons_for: float
    max_wait_s: float
    avg_abandon_wait_s: float
    def __init__(self, queue: _Optional[str] = ..., interval_start_us: _Optional[int] = ..., offered: _Optional[int] = ..., answered: _Optional[int] = ..., abandoned: _Optional[int] = ..., answered_within_threshold: _Optional[int] = ..., asa_s: _Optional[float] = ..., aht_s: _Optional[float] = ..., service_level: _Optional[float] = ..., abandon_rate: _Optional[float] = ..., talk_s: _Optional[float] = ..., hold_s: _Optional[float] = ..., wrap_up_s: _Optional[float] = ..., short_abandoned: _Optional[int] = ..., abandoned_within_threshold: _Optional[int] = ..., flowed_out: _Optional[int] = ..., callbacks: _Optional[int] = ..., rejected: _Optional[int] = ..., failed: _Optional[int] = ..., handled: _Optional[int] = ..., service_level_abandons_ignored: _Optional[float] = ..., service_level_abandons_against: _Optional[float] = ..., service_level_abandons_for: _Optional[float] = ..., max_wait_s: _Optional[float] = ..., avg_abandon_wait_s: _Optional[float] = ...) -> None: ...

class IntervalReport(_message.Message):
    __slots__ = ("rows", "total", "next_page_token", "total_size")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[IntervalRow]
    total: IntervalRow
    next_page_token: str
    total_size: int
    def __init__(self, rows: _Optional[_Iterable[_Union[IntervalRow, _Mapping]]] = ..., total: _Optional[_Union[IntervalRow, _Mapping]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class QueueStatsRequest(_message.Message):
    __slots__ = ("queue", "service_level_threshold_s")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_THRESHOLD_S_FIELD_NUMBER: _ClassVar[int]
    queue: str
    service_level_threshold_s: int
    def __init__(self, queue: _Optional[str] = ..., service_level_threshold_s: _Optional[int] = ...) -> None: ...

class QueueStats(_message.Message):
    __slots__ = ("queue", "offered", "answered", "abandoned", "service_level", "asa_s", "abandon_rate")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ASA_S_FIELD_NUMBER: _ClassVar[int]
    ABANDON_RATE_FIELD_NUMBER: _ClassVar[int]
    queue: str
    offered: int
    answered: int
    abandoned: int
    service_level: float
    asa_s: float
    abandon_rate: float
    def __init__(self, queue: _Optional[str] = ..., offered: _Optional[int] = ..., answered: _Optional[int] = ..., abandoned: _Optional[int] = ..., service_level: _Optional[float] = ..., asa_s: _Optional[float] = ..., abandon_rate: _Optional[float] = ...) -> None: ...

class RealtimeRequest(_message.Message):
    __slots__ = ("queues", "agents", "service_level_threshold_s", "day_start_us")
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_THRESHOLD_S_FIELD_NUMBER: _ClassVar[int]
    DAY_START_US_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedScalarFieldContainer[str]
    agents: _containers.RepeatedScalarFieldContainer[str]
    service_level_threshold_s: int
    day_start_us: int
    def __init__(self, queues: _Optional[_Iterable[str]] = ..., agents: _Optional[_Iterable[str]] = ..., service_level_threshold_s: _Optional[int] = ..., day_start_us: _Optional[int] = ...) -> None: ...

class QueueRealtime(_message.Message):
    __slots__ = ("queue", "calls_waiting", "longest_wait_s", "agents_by_state", "offered_today", "answered_today", "abandoned_today", "service_level_today", "abandon_rate_today", "asa_today_s")
    class AgentsByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    CALLS_WAITING_FIELD_NUMBER: _ClassVar[int]
    LONGEST_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    AGENTS_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    OFFERED_TODAY_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_TODAY_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_TODAY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_TODAY_FIELD_NUMBER: _ClassVar[int]
    ABANDON_RATE_TODAY_FIELD_NUMBER: _ClassVar[int]
    ASA_TODAY_S_FIELD_NUMBER: _ClassVar[int]
    queue: str
    calls_waiting: int
    longest_wait_s: float
    agents_by_state: _containers.ScalarMap[str, int]
    offered_today: int
    answered_today: int
    abandoned_today: int
    service_level_today: float
    abandon_rate_today: float
    asa_today_s: float
    def __init__(self, queue: _Optional[str] = ..., calls_waiting: _Optional[int] = ..., longest_wait_s: _Optional[float] = ..., agents_by_state: _Optional[_Mapping[str, int]] = ..., offered_today: _Optional[int] = ..., answered_today: _Optional[int] = ..., abandoned_today: _Optional[int] = ..., service_level_today: _Optional[float] = ..., abandon_rate_today: _Optional[float] = ..., asa_today_s: _Optional[float] = ...) -> None: ...

class AgentRealtime(_message.Message):
    __slots__ = ("agent_id", "state", "reason", "since_us", "time_in_state_s", "queue", "call_uuid", "queues")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SINCE_US_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_STATE_S_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    CALL_UUID_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    state: str
    reason: str
    since_us: int
    time_in_state_s: float
    queue: str
    call_uuid: str
    queues: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ..., since_us: _Optional[int] = ..., time_in_state_s: _Optional[float] = ..., queue: _Optional[str] = ..., call_uuid: _Optional[str] = ..., queues: _Optional[_Iterable[str]] = ...) -> None: ...

class Realtime(_message.Message):
    __slots__ = ("as_of_us", "newest_event_us", "queues", "agents")
    AS_OF_US_FIELD_NUMBER: _ClassVar[int]
    NEWEST_EVENT_US_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    as_of_us: int
    newest_event_us: int
    queues: _containers.RepeatedCompositeFieldContainer[QueueRealtime]
    agents: _containers.RepeatedCompositeFieldContainer[AgentRealtime]
    def __init__(self, as_of_us: _Optional[int] = ..., newest_event_us: _Optional[int] = ..., queues: _Optional[_Iterable[_Union[QueueRealtime, _Mapping]]] = ..., agents: _Optional[_Iterable[_Union[AgentRealtime, _Mapping]]] = ...) -> None: ...

class AgentReportRequest(_message.Message):
    __slots__ = ("agent_id", "from_us", "to_us", "interval_s", "page_size", "page_token")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_US_FIELD_NUMBER: _ClassVar[int]
    TO_US_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    from_us: int
    to_us: int
    interval_s: int
    page_size: int
    page_token: str
    def __init__(self, agent_id: _Optional[str] = ..., from_us: _Optional[int] = ..., to_us: _Optional[int] = ..., interval_s: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class AgentRow(_message.Message):
    __slots__ = ("agent_id", "interval_start_us", "handled", "offers", "missed", "talk_s", "hold_s", "wrap_up_s", "aht_s", "logged_in_s", "ready_s", "reserved_s", "on_call_s", "wrap_up_state_s", "not_ready_s", "not_ready_by_reason_s", "occupancy")
    class NotReadyByReasonSEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_START_US_FIELD_NUMBER: _ClassVar[int]
    HANDLED_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    TALK_S_FIELD_NUMBER: _ClassVar[int]
    HOLD_S_FIELD_NUMBER: _ClassVar[int]
    WRAP_UP_S_FIELD_NUMBER: _ClassVar[int]
    AHT_S_FIELD_NUMBER: _ClassVar[int]
    LOGGED_IN_S_FIELD_NUMBER: _ClassVar[int]
    READY_S_FIELD_NUMBER: _ClassVar[int]
    RESERVED_S_FIELD_NUMBER: _ClassVar[int]
    ON_CALL_S_FIELD_NUMBER: _ClassVar[int]
    WRAP_UP_STATE_S_FIELD_NUMBER: _ClassVar[int]
    NOT_READY_S_FIELD_NUMBER: _ClassVar[int]
    NOT_READY_BY_REASON_S_FIELD_NUMBER: _ClassVar[int]
    OCCUPANCY_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    interval_start_us: int
    handled: int
    offers: int
    missed: int
    talk_s: float
    hold_s: float
    wrap_up_s: float
    aht_s: float
    logged_in_s: float
    ready_s: float
    reserved_s: float
    on_call_s: float
    wrap_up_state_s: float
    not_ready_s: float
    not_ready_by_reason_s: _containers.ScalarMap[str, float]
    occupancy: float
    def __init__(self, agent_id: _Optional[str] = ..., interval_start_us: _Optional[int] = ..., handled: _Optional[int] = ..., offers: _Optional[int] = ..., missed: _Optional[int] = ..., talk_s: _Optional[float] = ..., hold_s: _Optional[float] = ..., wrap_up_s: _Optional[float] = ..., aht_s: _Optional[float] = ..., logged_in_s: _Optional[float] = ..., ready_s: _Optional[float] = ..., reserved_s: _Optional[float] = ..., on_call_s: _Optional[float] = ..., wrap_up_state_s: _Optional[float] = ..., not_ready_s: _Optional[float] = ..., not_ready_by_reason_s: _Optional[_Mapping[str, float]] = ..., occupancy: _Optional[float] = ...) -> None: ...

class AgentReport(_message.Message):
    __slots__ = ("rows", "total", "next_page_token")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[AgentRow]
    total: AgentRow
    next_page_token: str
    def __init__(self, rows: _Optional[_Iterable[_Union[AgentRow, _Mapping]]] = ..., total: _Optional[_Union[AgentRow, _Mapping]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class IvrReportRequest(_message.Message):
    __slots__ = ("flow", "from_us", "to_us")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    FROM_US_FIELD_NUMBER: _ClassVar[int]
    TO_US_FIELD_NUMBER: _ClassVar[int]
    flow: str
    from_us: int
    to_us: int
    def __init__(self, flow: _Optional[str] = ..., from_us: _Optional[int] = ..., to_us: _Optional[int] = ...) -> None: ...

class IvrNodeRow(_message.Message):
    __slots__ = ("flow", "node", "node_type", "visits", "calls", "hangups", "queued", "completed", "errors", "drop_off_rate", "avg_time_s")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    VISITS_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    HANGUPS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    DROP_OFF_RATE_FIELD_NUMBER: _ClassVar[int]
    AVG_TIME_S_FIELD_NUMBER: _ClassVar[int]
    flow: str
    node: str
    node_type: str
    visits: int
    calls: int
    hangups: int
    queued: int
    completed: int
    errors: int
    drop_off_rate: float
    avg_time_s: float
    def __init__(self, flow: _Optional[str] = ..., node: _Optional[str] = ..., node_type: _Optional[str] = ..., visits: _Optional[int] = ..., calls: _Optional[int] = ..., hangups: _Optional[int] = ..., queued: _Optional[int] = ..., completed: _Optional[int] = ..., errors: _Optional[int] = ..., drop_off_rate: _Optional[float] = ..., avg_time_s: _Optional[float] = ...) -> None: ...

class IvrFlowRow(_message.Message):
    __slots__ = ("flow", "calls", "contained", "abandoned", "queued", "containment_rate")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    CONTAINED_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    CONTAINMENT_RATE_FIELD_NUMBER: _ClassVar[int]
    flow: str
    calls: int
    contained: int
    abandoned: int
    queued: int
    containment_rate: float
    def __init__(self, flow: _Optional[str] = ..., calls: _Optional[int] = ..., contained: _Optional[int] = ..., abandoned: _Optional[int] = ..., queued: _Optional[int] = ..., containment_rate: _Optional[float] = ...) -> None: ...

class IvrReport(_message.Message):
    __slots__ = ("nodes", "flows")
    NODES_FIELD_NUMBER: _ClassVar[int]
    FLOWS_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[IvrNodeRow]
    flows: _containers.RepeatedCompositeFieldContainer[IvrFlowRow]
    def __init__(self, nodes: _Optional[_Iterable[_Union[IvrNodeRow, _Mapping]]] = ..., flows: _Optional[_Iterable[_Union[IvrFlowRow, _Mapping]]] = ...) -> None: ...

class StaffingRequest(_message.Message):
    __slots__ = ("queue", "from_us", "to_us", "interval_s", "target_service_level", "service_level_threshold_s", "max_occupancy", "shrinkage", "patience_s", "model", "by_time_of_day")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    FROM_US_FIELD_NUMBER: _ClassVar[int]
    TO_US_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    TARGET_SERVICE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_THRESHOLD_S_FIELD_NUMBER: _ClassVar[int]
    MAX_OCCUPANCY_FIELD_NUMBER: _ClassVar[int]
    SHRINKAGE_FIELD_NUMBER: _ClassVar[int]
    PATIENCE_S_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BY_TIME_OF_DAY_FIELD_NUMBER: _ClassVar[int]
    queue: str
    from_us: int
    to_us: int
    interval_s: int
    target_service_level: float
    service_level_threshold_s: int
    max_occupancy: float
    shrinkage: float
    patience_s: float
    model: StaffingModel
    by_time_of_day: bool
    def __init__(self, queue: _Optional[str] = ..., from_us: _Optional[int] = ..., to_us: _Optional[int] = ..., interval_s: _Optional[int] = ..., target_service_level: _Optional[float] = ..., service_level_threshold_s: _Optional[int] = ..., max_occupancy: _Optional[float] = ..., shrinkage: _Optional[float] = ..., patience_s: _Optional[float] = ..., model: _Optional[_Union[StaffingModel, str]] = ..., by_time_of_day: _Optional[bool] = ...) -> None: ...

class StaffingRow(_message.Message):
    __slots__ = ("interval_start_us", "offered", "aht_s", "traffic_erlangs", "agents_needed", "service_level", "asa_s", "occupancy", "abandon_rate", "agents_scheduled", "agents_staffed")
    INTERVAL_START_US_FIELD_NUMBER: _ClassVar[int]
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    AHT_S_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_ERLANGS_FIELD_NUMBER: _ClassVar[int]
    AGENTS_NEEDED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ASA_S_FIELD_NUMBER: _ClassVar[int]
    OCCUPANCY_FIELD_NUMBER: _ClassVar[int]
    ABANDON_RATE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    AGENTS_STAFFED_FIELD_NUMBER: _ClassVar[int]
    interval_start_us: int
    offered: float
    aht_s: float
    traffic_erlangs: float
    agents_needed: int
    service_level: float
    asa_s: float
    occupancy: float
    abandon_rate: float
    agents_scheduled: int
    agents_staffed: float
    def __init__(self, interval_start_us: _Optional[int] = ..., offered: _Optional[float] = ..., aht_s: _Optional[float] = ..., traffic_erlangs: _Optional[float] = ..., agents_needed: _Optional[int] = ..., service_level: _Optional[float] = ..., asa_s: _Optional[float] = ..., occupancy: _Optional[float] = ..., abandon_rate: _Optional[float] = ..., agents_scheduled: _Optional[int] = ..., agents_staffed: _Optional[float] = ...) -> None: ...

class StaffingReport(_message.Message):
    __slots__ = ("rows", "model", "patience_s")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PATIENCE_S_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[StaffingRow]
    model: StaffingModel
    patience_s: float
    def __init__(self, rows: _Optional[_Iterable[_Union[StaffingRow, _Mapping]]] = ..., model: _Optional[_Union[StaffingModel, str]] = ..., patience_s: _Optional[float] = ...) -> None: ...

class ExportCdrsRequest(_message.Message):
    __slots__ = ("from_us", "to_us", "queue", "batch_size")
    FROM_US_FIELD_NUMBER: _ClassVar[int]
    TO_US_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    from_us: int
    to_us: int
    queue: str
    batch_size: int
    def __init__(self, from_us: _Optional[int] = ..., to_us: _Optional[int] = ..., queue: _Optional[str] = ..., batch_size: _Optional[int] = ...) -> None: ...

class CdrBatch(_message.Message):
    __slots__ = ("cdrs", "total", "sent")
    CDRS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    cdrs: _containers.RepeatedCompositeFieldContainer[_events_pb2.Cdr]
    total: int
    sent: int
    def __init__(self, cdrs: _Optional[_Iterable[_Union[_events_pb2.Cdr, _Mapping]]] = ..., total: _Optional[int] = ..., sent: _Optional[int] = ...) -> None: ...
