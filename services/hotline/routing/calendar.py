"""Business hours and holiday calendars of queues: is a queue open at an
instant, and when does that next change. Pure, no I/O; time zones come from
the system's IANA database (zoneinfo). Instants are µs since the Unix epoch
(UTC), as everywhere in the ACD.

What is open
------------
Every local date of the calendar's time zone has a set of wall-clock ranges:

- a holiday covering the date decides it (when several do, the first one
  listed): closed all day, or open only during its special hours;
- otherwise the weekly hours of the date's weekday; several ranges on one day
  may overlap, their union counts;
- a calendar without any weekly hours is open all day on every date that is
  not a holiday.

A range belongs to the date it opens on. ``close`` before ``open`` runs past
midnight into the next date, and ``close="24:00"`` closes at the next
midnight. A range opened on date D keeps running into D+1 even when D+1 is a
holiday: a holiday decides only the ranges that open on it (the night shift
that started on the eve of a holiday finishes). Likewise a holiday's special
hours may run past its midnight into a normal date, and the weekly hours of a
holiday's date are gone entirely, including the part that would have run into
the next date.

Ranges are half-open: open from ``open`` on, closed from ``close`` on.
Ranges that touch or overlap merge: next_change reports only instants where
the state really flips (Monday 22:00-24:00 plus Tuesday 00:00-06:00 is one
stretch, closing Tuesday 06:00).

Wall clock to instant (DST)
---------------------------
A local time x means the first instant at which the local clock reads x or
later. So on a spring-forward day a time that does not exist takes effect at
the first valid instant after it (02:30 in New York on 2024-03-10 is 03:00
EDT), a range whose both ends fall in the skipped hour is empty, and on a
fall-back day a time that occurs twice means its first occurrence (fold=0:
01:30 EDT on 2024-11-03, not 01:30 EST), so 01:00-01:45 that day lasts 45
minutes and 00:00-02:00 lasts three hours.
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import heapq
import re
import zoneinfo
from typing import Any, Iterator, Mapping

from hotline.common.errors import InvalidArgument
from hotline.routing.fields import at, record

MAX_HOURS = 100              # weekly ranges per calendar
MAX_HOLIDAYS = 1000
MAX_HOLIDAY_DAYS = 366       # one holiday entry spans at most this many dates
MAX_HORIZON_DAYS = 731
DAY_MINUTES = 24 * 60
DAY_US = 86_400_000_000

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ZONE = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_US = dt.timedelta(microseconds=1)
# Instants accepted by is_open / next_change: 1900-01-01 to 9000-01-01 UTC.
_MIN_US = (dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc) - _EPOCH) // _US
_MAX_US = (dt.datetime(9000, 1, 1, tzinfo=dt.timezone.utc) - _EPOCH) // _US


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str, field: str = "timezone") -> zoneinfo.ZoneInfo:
    """The zone named `name` (IANA, e.g. "Europe/London"), or InvalidArgument."""
    if isinstance(name, str) and _ZONE.fullmatch(name) and name in _known_zones():
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InvalidArgument(field, f"{str(name)[:64]!r} is not a known IANA time zone such as Europe/London")


def _minutes(text: Any, field: str, *, close: bool = False) -> int:
    """'HH:MM' -> minutes after midnight; '24:00' only as a closing time."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match:
        hh, mm = int(match[1]), int(match[2])
        if mm < 60 and (hh < 24 or (close and hh == 24 and mm == 0)):
            return hh * 60 + mm
    raise InvalidArgument(field, "must be HH:MM, 00:00 to 24:00" if close else "must be HH:MM, 00:00 to 23:59")


def _range(open_: Any, close: Any, open_field: str, close_field: str) -> tuple[int, int]:
    """(open, close) in minutes after the opening date's midnight; close > open,
    up to 2 days minus a minute for a range that runs past midnight."""
    start = _minutes(open_, open_field)
    end = _minutes(close, close_field, close=True)
    if end == start:
        raise InvalidArgument(close_field, "must differ from open (00:00 to 24:00 is the whole day)")
    return start, end if end > start else end + DAY_MINUTES


def _date(text: Any, field: str) -> int:
    """'YYYY-MM-DD' -> proleptic Gregorian ordinal."""
    if isinstance(text, str) and _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text).toordinal()
        except ValueError:
            pass
    raise InvalidArgument(field, "must be a date YYYY-MM-DD")


@dataclasses.dataclass(frozen=True)
class Hours:
    """Open on weekday `day` (0 = Monday .. 6 = Sunday) from `open` to `close`,
    local wall clock "HH:MM". close "24:00" is the next midnight; close before
    open runs past midnight into the next day (day 4 "22:00"-"06:00" is Friday
    night to Saturday 06:00)."""

    day: int
    open: str
    close: str

    def validate(self, field: str = "") -> None:
        self._range(field)

    def _range(self, field: str) -> tuple[int, int]:
        if isinstance(self.day, bool) or not isinstance(self.day, int) or not 0 <= self.day <= 6:
            raise InvalidArgument(at(field, "day"), "must be 0 (Monday) to 6 (Sunday)")
        return _range(self.open, self.close, at(field, "open"), at(field, "close"))

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day, "open": self.open, "close": self.close}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field: str = "") -> Hours:
        hours = cls(**record(data, field, "hours", {"day": int, "open": str, "close": str}, ("day", "open", "close")))
        hours.validate(field)
        return hours


@dataclasses.dataclass(frozen=True)
class Holiday:
    """The dates `start` to `end` ("YYYY-MM-DD", inclusive; "" = `start` only)
    are closed all day (open and close empty) or open only from `open` to
    `close` (both set, the same rules as Hours), instead of the weekly hours."""

    start: str
    end: str = ""
    name: str = ""
    open: str = ""
    close: str = ""

    def validate(self, field: str = "") -> None:
        self._spec(field)

    def _spec(self, field: str) -> tuple[int, int, tuple[tuple[int, int], ...]]:
        """(first date, last date, ranges) with dates as ordinals."""
        first = _date(self.start, at(field, "start"))
        last = first
        if not isinstance(self.end, str):
            raise InvalidArgument(at(field, "end"), "must be a date YYYY-MM-DD or empty")
        if self.end:
            last = _date(self.end, at(field, "end"))
            if last < first:
                raise InvalidArgument(at(field, "end"), "must not be before start")
            if last - first >= MAX_HOLIDAY_DAYS:
                raise InvalidArgument(at(field, "end"), f"a holiday spans at most {MAX_HOLIDAY_DAYS} days")
        if not isinstance(self.name, str) or len(self.name) > 200:
            raise InvalidArgument(at(field, "name"), "must be a string of at most 200 characters")
        if self.open == "" and self.close == "":
            return first, last, ()
        if self.open == "":
            raise InvalidArgument(at(field, "open"), "must be set when close is (or leave both empty: closed all day)")
        if self.close == "":
            raise InvalidArgument(at(field, "close"), "must be set when open is (or leave both empty: closed all day)")
        return first, last, (_range(self.open, self.close, at(field, "open"), at(field, "close")),)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "name": self.name, "open": self.open, "close": self.close}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field: str = "") -> Holiday:
        holiday = cls(**record(data, field, "holiday",
                                {"start": str, "end": str, "name": str, "open": str, "close": str}, ("start",)))
        holiday.validate(field)
        return holiday


@dataclasses.dataclass(frozen=True)
class Calendar:
    """A queue's business hours and holidays in time zone `timezone`; see the
    module docstring for the exact semantics."""

    name: str
    timezone: str = "UTC"
    hours: tuple[Hours, ...] = ()
    holidays: tuple[Holiday, ...] = ()

    def validate(self, field: str = "") -> None:
        """InvalidArgument naming the first bad field (e.g. "hours[2].open",
        prefixed with `field` and a dot when given)."""
        self._compile(field)

    def is_open(self, at_us: int) -> bool:
        """Whether the calendar is open at the instant `at_us` (µs since the
        epoch, UTC). InvalidArgument if the calendar is invalid."""
        plan = self._plan
        day = plan.local_day(_check_instant(at_us, "at_us"))
        # Ranges of D-2 and earlier end by D's midnight; D+1 matters only
        # where the clock falls back across midnight.
        return any(start <= at_us < end for d in (day - 1, day, day + 1) for start, end in plan.intervals(d))

    def next_change(self, at_us: int, horizon_days: int = 14) -> int | None:
        """The first instant after `at_us` at which the calendar opens (if it
        is closed at `at_us`) or closes (if open), within `horizon_days` days
        of `at_us` (1-731); None if the state stays the same that long."""
        if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) \
                or not 1 <= horizon_days <= MAX_HORIZON_DAYS:
            raise InvalidArgument("horizon_days", f"must be between 1 and {MAX_HORIZON_DAYS}")
        plan = self._plan
        limit = _check_instant(at_us, "at_us") + horizon_days * DAY_US
        for start, end in plan.stretches(plan.local_day(at_us) - 1, plan.local_day(limit) + 1):
            if end <= at_us:
                continue
            change = start if start > at_us else end
            return change if change <= limit else None
        return None

    # -- plain dicts (admin API, snapshots) -------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "timezone": self.timezone, "hours": [h.to_dict() for h in self.hours],
                "holidays": [h.to_dict() for h in self.holidays]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field: str = "") -> Calendar:
        """A validated Calendar from a to_dict()-shaped dict (optional fields
        may be left out); InvalidArgument naming the bad field."""
        fields = record(data, field, "calendar",
                         {"name": str, "timezone": str, "hours": list, "holidays": list}, ("name",))
        for key, limit in (("hours", MAX_HOURS), ("holidays", MAX_HOLIDAYS)):
            if len(fields.get(key, ())) > limit:
                raise InvalidArgument(at(field, key), f"at most {limit} entries")
        fields["hours"] = tuple(Hours.from_dict(h, at(field, f"hours[{i}]"))
                                for i, h in enumerate(fields.get("hours", ())))
        fields["holidays"] = tuple(Holiday.from_dict(h, at(field, f"holidays[{i}]"))
                                   for i, h in enumerate(fields.get("holidays", ())))
        calendar = cls(**fields)
        calendar.validate(field)
        return calendar

    # -- internals ------------------------------------------------------------
    @functools.cached_property
    def _plan(self) -> _Plan:
        return self._compile("")

    def _compile(self, field: str) -> _Plan:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise InvalidArgument(at(field, "name"), "must be 1-64 letters, digits, '-' or '_'")
        tz = check_timezone(self.timezone, at(field, "timezone"))
        if len(self.hours) > MAX_HOURS:
            raise InvalidArgument(at(field, "hours"), f"at most {MAX_HOURS} ranges")
        if len(self.holidays) > MAX_HOLIDAYS:
            raise InvalidArgument(at(field, "holidays"), f"at most {MAX_HOLIDAYS} holidays")
        weekly: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for i, hours in enumerate(self.hours):
            if not isinstance(hours, Hours):
                raise InvalidArgument(at(field, f"hours[{i}]"), "must be an Hours")
            span = hours._range(at(field, f"hours[{i}]"))
            weekly[hours.day].append(span)
        holidays = []
        for i, holiday in enumerate(self.holidays):
            if not isinstance(holiday, Holiday):
                raise InvalidArgument(at(field, f"holidays[{i}]"), "must be a Holiday")
            first, last, ranges = holiday._spec(at(field, f"holidays[{i}]"))
            holidays.append((first, i, last, ranges))
        return _Plan(tz, tuple(tuple(sorted(day)) for day in weekly), not self.hours, holidays)


def _check_instant(at_us: Any, field: str) -> int:
    if isinstance(at_us, bool) or not isinstance(at_us, int) or not _MIN_US <= at_us < _MAX_US:
        raise InvalidArgument(field, "must be whole µs since the epoch, between the years 1900 and 9000")
    return at_us


def _wall(tz: zoneinfo.ZoneInfo, at_us: int) -> dt.datetime:
    """The local wall-clock time (naive) at an instant."""
    return (_EPOCH + dt.timedelta(microseconds=at_us)).astimezone(tz).replace(tzinfo=None, fold=0)


def _instant(tz: zoneinfo.ZoneInfo, day: int, minute: int) -> int:
    """The first instant at which the local clock reads `minute` minutes after
    the midnight that starts date `day` (an ordinal), or later."""
    wall = dt.datetime.fromordinal(day) + dt.timedelta(minutes=minute)
    at_us = (wall.replace(tzinfo=tz) - _EPOCH) // _US         # fold=0: the first occurrence
    if _wall(tz, at_us) == wall:
        return at_us
    # The wall time was skipped: fold=0 placed it after the gap, fold=1 before;
    # the clock reaches `wall` or later first at the transition in between,
    # which tzdata puts on a whole second.
    lo = (wall.replace(tzinfo=tz, fold=1) - _EPOCH) // _US // 1_000_000
    hi = at_us // 1_000_000
    if lo >= hi or _wall(tz, lo * 1_000_000) >= wall:
        return at_us
    while hi - lo > 1:                                          # wall(lo) < wall <= wall(hi)
        mid = (lo + hi) // 2
        if _wall(tz, mid * 1_000_000) >= wall:
            hi = mid
        else:
            lo = mid
    return hi * 1_000_000


class _Plan:
    """A validated calendar, ready to answer: minutes per weekday, holidays
    sorted by first date, and a bounded cache of each date's open intervals."""

    def __init__(self, tz: zoneinfo.ZoneInfo, weekly: tuple[tuple[tuple[int, int], ...], ...], always_open: bool,
                 holidays: list[tuple[int, int, int, tuple[tuple[int, int], ...]]]) -> None:
        self.tz = tz
        self.weekly = weekly
        self.always_open = always_open
        self.holidays = sorted(holidays, key=lambda h: (h[0], h[1]))     # (first, index, last, ranges)
        self.firsts = [h[0] for h in self.holidays]
        self._cache: dict[int, tuple[tuple[int, int], ...]] = {}

    def local_day(self, at_us: int) -> int:
        return (_EPOCH + dt.timedelta(microseconds=at_us)).astimezone(self.tz).toordinal()

    def ranges(self, day: int) -> tuple[tuple[int, int], ...]:
        """The wall-clock ranges (minutes after midnight) that open on `day`."""
        lo = bisect.bisect_left(self.firsts, day - MAX_HOLIDAY_DAYS)
        hi = bisect.bisect_right(self.firsts, day)
        best: tuple[int, tuple[tuple[int, int], ...]] | None = None
        for _, index, last, ranges in self.holidays[lo:hi]:
            if last >= day and (best is None or index < best[0]):
                best = (index, ranges)
        if best is not None:
            return best[1]
        if self.always_open:
            return ((0, DAY_MINUTES),)
        return self.weekly[(day + 6) % 7]          # ordinal 1 (0001-01-01) was a Monday

    def intervals(self, day: int) -> tuple[tuple[int, int], ...]:
        """[start, end) instants of the ranges that open on `day`, empty ones dropped."""
        found = self._cache.get(day)
        if found is None:
            if len(self._cache) >= 4096:
                self._cache.clear()
            spans = ((_instant(self.tz, day, start), _instant(self.tz, day, end)) for start, end in self.ranges(day))
            found = self._cache[day] = tuple((s, e) for s, e in spans if e > s)
        return found

    def stretches(self, first: int, last: int) -> Iterator[tuple[int, int]]:
        """The merged open stretches of the ranges opening on dates first..last,
        in order, lazily. The last one may be cut short by the window's end."""
        pending: list[tuple[int, int]] = []
        current: tuple[int, int] | None = None
        for day in range(first, last + 2):
            if day <= last:
                for interval in self.intervals(day):
                    heapq.heappush(pending, interval)
                # Ranges of later dates open at or after the next midnight, so
                # everything that starts before it can be merged now.
                boundary = _instant(self.tz, day + 1, 0)
            else:
                boundary = _MAX_US * 2                  # the window is done: flush
            while pending and pending[0][0] < boundary:
                start, end = heapq.heappop(pending)
                if current is not None and start <= current[1]:
                    current = (current[0], max(current[1], end))
                    continue
                if current is not None:
                    yield current
                current = (start, end)
            if current is not None and current[1] < boundary:
                yield current
                current = None
        if current is not None:
            yield current
