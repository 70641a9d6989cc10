from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IntervalReportRequest(_message.Message):
    __slots__ = ("queue", "from_us", "to_us", "interval_s", "service_level_threshold_s")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    FROM_US_FIELD_NUMBER: _ClassVar[int]
    TO_US_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_THRESHOLD_S_FIELD_NUMBER: _ClassVar[int]
    queue: str
    from_us: int
    to_us: int
    interval_s: int
    service_level_threshold_s: int
    def __init__(self, queue: _Optional[str] = ..., from_us: _Optional[int] = ..., to_us: _Optional[int] = ..., interval_s: _Optional[int] = ..., service_level_threshold_s: _Optional[int] = ...) -> None: ...

class IntervalRow(_message.Message):
    __slots__ = ("queue", "interval_start_us", "offered", "answered", "abandoned", "answered_within_threshold", "asa_s", "aht_s", "service_level", "abandon_rate", "talk_s", "hold_s", "wrap_up_s")
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
    def __init__(self, queue: _Optional[str] = ..., interval_start_us: _Optional[int] = ..., offered: _Optional[int] = ..., answered: _Optional[int] = ..., abandoned: _Optional[int] = ..., answered_within_threshold: _Optional[int] = ..., asa_s: _Optional[float] = ..., aht_s: _Optional[float] = ..., service_level: _Optional[float] = ..., abandon_rate: _Optional[float] = ..., talk_s: _Optional[float] = ..., hold_s: _Optional[float] = ..., wrap_up_s: _Optional[float] = ...) -> None: ...

class IntervalReport(_message.Message):
    __slots__ = ("rows", "total")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[IntervalRow]
    total: IntervalRow
    def __init__(self, rows: _Optional[_Iterable[_Union[IntervalRow, _Mapping]]] = ..., total: _Optional[_Union[IntervalRow, _Mapping]] = ...) -> None: ...

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
