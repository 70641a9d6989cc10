"""Business-hours calendars: hand-computed instants (UTC, Kolkata, New York
and London across DST changes, ranges past midnight, holidays), every
validation error by field, dict round trips, and properties against a
brute-force scan of the wall clock."""
from __future__ import annotations

import bisect
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.common.errors import InvalidArgument
from hotline.routing.calendar import DAY_US, Calendar, Holiday, Hours, check_timezone

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MIN_US = 60_000_000
WEEKDAYS = tuple(Hours(day, "09:00", "17:00") for day in range(5))


def utc(text: str) -> int:
    """µs of a UTC time written '2024-01-01T09:00'."""
    return (dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc) - EPOCH) // dt.timedelta(microseconds=1)


def iso(at_us: int | None) -> str | None:
    if at_us is None:
        return None
    return (EPOCH + dt.timedelta(microseconds=at_us)).strftime("%Y-%m-%dT%H:%M")


def changes(cal: Calendar, start: str, count: int) -> list[str | None]:
    """The next `count` transitions after a UTC time, as UTC times."""
    found, at = [], utc(start)
    for _ in range(count):
        nxt = cal.next_change(at)
        found.append(iso(nxt))
        if nxt is None:
            break
        at = nxt
    return found


# -- hand-computed ------------------------------------------------------------------
def test_weekday_hours_are_half_open_and_next_change_skips_the_weekend():
    cal = Calendar("office", "UTC", WEEKDAYS)            # 2024-01-01 is a Monday
    assert not cal.is_open(utc("2024-01-01T09:00") - 1)
    assert cal.is_open(utc("2024-01-01T09:00"))
    assert cal.is_open(utc("2024-01-01T17:00") - 1)
    assert not cal.is_open(utc("2024-01-01T17:00"))
    assert not cal.is_open(utc("2024-01-06T12:00"))      # Saturday
    assert iso(cal.next_change(utc("2024-01-01T08:00"))) == "2024-01-01T09:00"
    assert iso(cal.next_change(utc("2024-01-01T09:00"))) == "2024-01-01T17:00"   # strictly after
    assert iso(cal.next_change(utc("2024-01-05T17:00"))) == "2024-01-08T09:00"   # Friday close -> Monday
    assert iso(cal.next_change(utc("2024-01-05T17:00") - 1)) == "2024-01-05T17:00"


def test_kolkata_half_hour_offset_and_local_dates():
    cal = Calendar("in", "Asia/Kolkata", (Hours(0, "09:00", "18:00"),))
    assert changes(cal, "2024-01-01T00:00", 2) == ["2024-01-01T03:30", "2024-01-01T12:30"]
    # Sunday 20:00 UTC is already Monday 01:30 in Kolkata.
    early = Calendar("in", "Asia/Kolkata", (Hours(0, "00:00", "02:00"),))
    assert early.is_open(utc("2023-12-31T20:00"))
    assert changes(early, "2023-12-31T12:00", 2) == ["2023-12-31T18:30", "2023-12-31T20:30"]


def test_a_range_past_midnight_belongs_to_the_day_it_opens():
    night = (Hours(4, "22:00", "06:00"),)                 # Friday night to Saturday 06:00
    cal = Calendar("night", "UTC", night)
    assert not cal.is_open(utc("2024-01-05T21:59"))
    assert cal.is_open(utc("2024-01-05T22:00"))
    assert cal.is_open(utc("2024-01-06T05:59"))
    assert not cal.is_open(utc("2024-01-06T06:00"))
    assert not cal.is_open(utc("2024-01-01T03:00"))       # Monday morning: no Sunday night range
    # A holiday on Saturday does not cut the night that opened on Friday...
    saturday_off = Calendar("night", "UTC", night, (Holiday("2024-01-06"),))
    assert saturday_off.is_open(utc("2024-01-06T05:59"))
    assert changes(saturday_off, "2024-01-05T12:00", 2) == ["2024-01-05T22:00", "2024-01-06T06:00"]
    # ... while a holiday on Friday removes the whole night, Saturday morning included.
    friday_off = Calendar("night", "UTC", night, (Holiday("2024-01-05"),))
    assert not friday_off.is_open(utc("2024-01-05T23:00"))
    assert not friday_off.is_open(utc("2024-01-06T05:00"))
    assert changes(friday_off, "2024-01-05T12:00", 1) == ["2024-01-12T22:00"]


def test_a_range_past_midnight_in_kolkata():
    cal = Calendar("in", "Asia/Kolkata", (Hours(6, "20:00", "02:00"),))   # Sunday 20:00 to Monday 02:00 IST
    assert changes(cal, "2024-01-07T00:00", 2) == ["2024-01-07T14:30", "2024-01-07T20:30"]
    assert cal.is_open(utc("2024-01-07T18:30"))           # Monday 00:00 IST
    assert not cal.is_open(utc("2024-01-08T14:30"))       # Monday 20:00 IST


def test_24_00_touching_and_overlapping_ranges_merge():
    cal = Calendar("c", "UTC", (Hours(0, "22:00", "24:00"), Hours(1, "00:00", "06:00"), Hours(1, "05:00", "07:00"),
                                Hours(2, "09:00", "12:00"), Hours(2, "12:00", "17:00"), Hours(2, "10:00", "11:00")))
    assert changes(cal, "2024-01-01T12:00", 4) == ["2024-01-01T22:00", "2024-01-02T07:00",
                                                   "2024-01-03T09:00", "2024-01-03T17:00"]
    assert cal.is_open(utc("2024-01-02T00:00"))
    whole_day = Calendar("c", "UTC", (Hours(5, "00:00", "24:00"), Hours(6, "00:00", "24:00")))
    assert changes(whole_day, "2024-01-03T00:00", 2) == ["2024-01-06T00:00", "2024-01-08T00:00"]


def test_no_weekly_hours_means_open_except_holidays():
    cal = Calendar("always")
    assert cal.is_open(utc("2024-06-01T03:00"))
    assert cal.next_change(utc("2024-06-01T03:00")) is None
    london = Calendar("uk", "Europe/London", (), (Holiday("2024-12-25", "2024-12-26", "Christmas"),))
    assert london.is_open(utc("2024-12-24T23:59"))
    assert not london.is_open(utc("2024-12-25T00:00"))
    assert changes(london, "2024-12-24T12:00", 3) == ["2024-12-25T00:00", "2024-12-27T00:00", None]
    summer = Calendar("uk", "Europe/London", (), (Holiday("2024-07-04"),))     # BST: the local day starts 23:00 UTC
    assert changes(summer, "2024-07-01T00:00", 2) == ["2024-07-03T23:00", "2024-07-04T23:00"]


def test_holiday_special_hours_and_the_first_listed_holiday_wins():
    closed = Holiday("2024-12-24", "2024-12-26", name="Christmas")
    short = Holiday("2024-12-24", open="09:00", close="12:00", name="Christmas Eve")
    cal = Calendar("c", "UTC", WEEKDAYS, (closed, short))              # 24-26 Dec: closed, short never applies
    assert changes(cal, "2024-12-23T12:00", 2) == ["2024-12-23T17:00", "2024-12-27T09:00"]
    cal = Calendar("c", "UTC", WEEKDAYS, (short, closed))              # the 24th: short hours; 25, 26: closed
    assert changes(cal, "2024-12-23T18:00", 3) == ["2024-12-24T09:00", "2024-12-24T12:00", "2024-12-27T09:00"]
    # Special hours on a weekend day, running past midnight into a normal day.
    eve = Calendar("c", "UTC", WEEKDAYS, (Holiday("2024-12-28", open="20:00", close="02:00"),))
    assert changes(eve, "2024-12-27T18:00", 4) == ["2024-12-28T20:00", "2024-12-29T02:00",
                                                   "2024-12-30T09:00", "2024-12-30T17:00"]


def test_new_york_spring_forward():
    ny = "America/New_York"                               # 2024-03-10 02:00 EST -> 03:00 EDT (07:00 UTC)
    # A nonexistent opening time opens at the first valid instant after it: 03:00 EDT.
    assert changes(Calendar("c", ny, (Hours(6, "02:30", "05:00"),)), "2024-03-10T00:00", 2) == \
        ["2024-03-10T07:00", "2024-03-10T09:00"]
    # 01:00 EST to 03:30 EDT is 1 h 30 min of real time.
    assert changes(Calendar("c", ny, (Hours(6, "01:00", "03:30"),)), "2024-03-10T00:00", 2) == \
        ["2024-03-10T06:00", "2024-03-10T07:30"]
    # Both ends in the skipped hour: never open that Sunday; the next one it is.
    assert changes(Calendar("c", ny, (Hours(6, "02:10", "02:50"),)), "2024-03-10T00:00", 2) == \
        ["2024-03-17T06:10", "2024-03-17T06:50"]
    # A night that crosses the change lasts 7 hours, not 8.
    assert changes(Calendar("c", ny, (Hours(5, "22:00", "06:00"),)), "2024-03-09T12:00", 2) == \
        ["2024-03-10T03:00", "2024-03-10T10:00"]
    # Ordinary days on each side: 09:00 is 14:00 UTC in EST, 13:00 UTC in EDT.
    office = Calendar("c", ny, WEEKDAYS)
    assert changes(office, "2024-03-08T00:00", 3) == ["2024-03-08T14:00", "2024-03-08T22:00", "2024-03-11T13:00"]


def test_new_york_fall_back_uses_the_first_occurrence():
    ny = "America/New_York"                               # 2024-11-03 02:00 EDT -> 01:00 EST (06:00 UTC)
    cal = Calendar("c", ny, (Hours(6, "01:30", "01:45"),))
    assert changes(cal, "2024-11-03T00:00", 2) == ["2024-11-03T05:30", "2024-11-03T05:45"]
    assert not cal.is_open(utc("2024-11-03T06:35"))      # 01:35 EST, the second time round
    assert changes(Calendar("c", ny, (Hours(6, "00:00", "02:00"),)), "2024-11-03T00:00", 2) == \
        ["2024-11-03T04:00", "2024-11-03T07:00"]          # three hours of real time
    assert changes(Calendar("c", ny, (Hours(6, "01:00", "01:45"),)), "2024-11-03T00:00", 2) == \
        ["2024-11-03T05:00", "2024-11-03T05:45"]


def test_london_both_changes():
    london = "Europe/London"
    # 2024-03-31 01:00 GMT -> 02:00 BST: 01:30 does not exist, opens 02:00 BST = 01:00 UTC.
    assert changes(Calendar("c", london, (Hours(6, "01:30", "03:00"),)), "2024-03-30T12:00", 2) == \
        ["2024-03-31T01:00", "2024-03-31T02:00"]
    # 2024-10-27 02:00 BST -> 01:00 GMT: 01:30 is 01:30 BST = 00:30 UTC; 02:30 GMT = 02:30 UTC.
    assert changes(Calendar("c", london, (Hours(6, "01:30", "02:30"),)), "2024-10-26T12:00", 2) == \
        ["2024-10-27T00:30", "2024-10-27T02:30"]
    # A holiday on the fall-back day closes 25 hours.
    cal = Calendar("c", london, (), (Holiday("2024-10-27"),))
    assert changes(cal, "2024-10-26T12:00", 2) == ["2024-10-26T23:00", "2024-10-28T00:00"]


def test_sao_paulo_changed_at_midnight():
    sp = "America/Sao_Paulo"
    # 2018-11-04 00:00 -03 -> 01:00 -02: midnight did not exist, the day opened at 01:00.
    assert changes(Calendar("c", sp, (Hours(6, "00:00", "02:00"),)), "2018-11-03T12:00", 2) == \
        ["2018-11-04T03:00", "2018-11-04T04:00"]
    # 2018-02-18 00:00 -02 -> 2018-02-17 23:00 -03: 23:30 is its first occurrence,
    # and 24:00 the midnight that came after the repeated hour.
    assert changes(Calendar("c", sp, (Hours(5, "23:30", "24:00"),)), "2018-02-17T12:00", 2) == \
        ["2018-02-18T01:30", "2018-02-18T03:00"]


def test_horizon():
    closed_for_weeks = Calendar("c", "UTC", WEEKDAYS, (Holiday("2024-01-01", "2024-01-21", "stocktake"),))
    at = utc("2024-01-01T12:00")
    assert not closed_for_weeks.is_open(at)
    assert closed_for_weeks.next_change(at) is None
    assert iso(closed_for_weeks.next_change(at, horizon_days=30)) == "2024-01-22T09:00"
    # The horizon is inclusive: a change exactly at its end counts.
    office = Calendar("c", "UTC", WEEKDAYS)
    assert iso(office.next_change(utc("2024-01-05T09:00"), horizon_days=3)) == "2024-01-05T17:00"
    assert office.next_change(utc("2024-01-05T17:00"), horizon_days=2) is None
    assert iso(office.next_change(utc("2024-01-06T09:00"), horizon_days=2)) == "2024-01-08T09:00"


def test_a_day_skipped_by_the_time_zone_is_never_open():
    samoa = Calendar("ws", "Pacific/Apia", (Hours(4, "10:00", "12:00"),))   # Friday 2011-12-30 did not happen
    assert changes(samoa, "2011-12-28T00:00", 1) == ["2012-01-05T20:00"]


# -- validation ---------------------------------------------------------------------
@pytest.mark.parametrize("calendar,field", [
    (Calendar("has space"), "name"),
    (Calendar(""), "name"),
    (Calendar("x" * 65), "name"),
    (Calendar("c", "Mars/Olympus_Mons"), "timezone"),
    (Calendar("c", "../../etc/passwd"), "timezone"),
    (Calendar("c", ""), "timezone"),
    (Calendar("c", "UTC", (Hours(7, "09:00", "17:00"),)), "hours[0].day"),
    (Calendar("c", "UTC", (WEEKDAYS[0], Hours(-1, "09:00", "17:00"))), "hours[1].day"),
    (Calendar("c", "UTC", (Hours(True, "09:00", "17:00"),)), "hours[0].day"),      # type: ignore[arg-type]
    (Calendar("c", "UTC", (WEEKDAYS[0], WEEKDAYS[1], Hours(2, "9:00", "17:00"))), "hours[2].open"),
    (Calendar("c", "UTC", (Hours(0, "24:00", "17:00"),)), "hours[0].open"),
    (Calendar("c", "UTC", (Hours(0, "12:60", "17:00"),)), "hours[0].open"),
    (Calendar("c", "UTC", (Hours(0, 900, "17:00"),)), "hours[0].open"),          # type: ignore[arg-type]
    (Calendar("c", "UTC", (Hours(0, "09:00", "25:00"),)), "hours[0].close"),
    (Calendar("c", "UTC", (Hours(0, "09:00", "24:01"),)), "hours[0].close"),
    (Calendar("c", "UTC", (Hours(0, "09:00", "09:00"),)), "hours[0].close"),
    (Calendar("c", "UTC", (Hours(0, "09:00", "５:00"),)), "hours[0].close"),
    (Calendar("c", "UTC", ({"day": 0},)), "hours[0]"),                            # type: ignore[arg-type]
    (Calendar("c", "UTC", tuple(Hours(0, "09:00", "10:00") for _ in range(101))), "hours"),
    (Calendar("c", "UTC", (), (Holiday("2024-02-30"),)), "holidays[0].start"),
    (Calendar("c", "UTC", (), (Holiday("2024-1-1"),)), "holidays[0].start"),
    (Calendar("c", "UTC", (), (Holiday("20240101"),)), "holidays[0].start"),
    (Calendar("c", "UTC", (), (Holiday("2024-01-02"), Holiday("2024-01-02", "2024-01-01"))), "holidays[1].end"),
    (Calendar("c", "UTC", (), (Holiday("2024-01-02", "soon"),)), "holidays[0].end"),
    (Calendar("c", "UTC", (), (Holiday("2024-01-01", "2025-01-01"),)), "holidays[0].end"),   # 367 days
    (Calendar("c", "UTC", (), (Holiday("2024-01-01", open="09:00"),)), "holidays[0].close"),
    (Calendar("c", "UTC", (), (Holiday("2024-01-01", close="12:00"),)), "holidays[0].open"),
    (Calendar("c", "UTC", (), (Holiday("2024-01-01", open="noon", close="13:00"),)), "holidays[0].open"),
    (Calendar("c", "UTC", (), (Holiday("2024-01-01", open="09:00", close="09:00"),)), "holidays[0].close"),
    (Calendar("c", "UTC", (), (Holiday("2024-01-01", name="x" * 201),)), "holidays[0].name"),
    (Calendar("c", "UTC", (), ("2024-01-01",)), "holidays[0]"),                   # type: ignore[arg-type]
    (Calendar("c", "UTC", (), tuple(Holiday("2024-01-01") for _ in range(1001))), "holidays"),
])
def test_every_validation_error_names_its_field(calendar, field):
    with pytest.raises(InvalidArgument) as raised:
        calendar.validate()
    assert raised.value.field == field
    with pytest.raises(InvalidArgument) as raised:
        calendar.validate("calendars[2]")
    assert raised.value.field == f"calendars[2].{field}"
    with pytest.raises(InvalidArgument):
        calendar.is_open(0)                               # an invalid calendar never answers


def test_valid_edge_values_pass():
    Calendar("Support_24-7", "America/Argentina/Buenos_Aires",
             (Hours(0, "00:00", "24:00"), Hours(6, "23:59", "00:00"), Hours(3, "09:00", "08:59")),
             (Holiday("2024-01-01", "2024-12-31"), Holiday("2024-02-29", "", "leap", "10:00", "24:00"))).validate()
    Calendar("c", "Etc/GMT+5").validate()
    assert check_timezone("Asia/Kolkata") == ZoneInfo("Asia/Kolkata")
    with pytest.raises(InvalidArgument) as raised:
        check_timezone("Nowhere", "queues[0].timezone")
    assert raised.value.field == "queues[0].timezone"


@pytest.mark.parametrize("call,field", [
    (lambda c: c.is_open(1.5), "at_us"),
    (lambda c: c.is_open(True), "at_us"),
    (lambda c: c.is_open(10 ** 20), "at_us"),
    (lambda c: c.next_change(0, 0), "horizon_days"),
    (lambda c: c.next_change(0, 732), "horizon_days"),
    (lambda c: c.next_change("now"), "at_us"),
])
def test_bad_instants_and_horizons_are_named(call, field):
    with pytest.raises(InvalidArgument) as raised:
        call(Calendar("c", "UTC", WEEKDAYS))
    assert raised.value.field == field


# -- plain dicts --------------------------------------------------------------------
FULL = Calendar("support", "Europe/London", (Hours(0, "09:00", "17:00"), Hours(4, "22:00", "06:00")),
                (Holiday("2024-12-25", "2024-12-26", "Christmas"), Holiday("2024-12-31", "", "NYE", "09:00", "12:00")))


def test_dicts_round_trip_through_json():
    data = FULL.to_dict()
    assert data == {
        "name": "support", "timezone": "Europe/London",
        "hours": [{"day": 0, "open": "09:00", "close": "17:00"}, {"day": 4, "open": "22:00", "close": "06:00"}],
        "holidays": [{"start": "2024-12-25", "end": "2024-12-26", "name": "Christmas", "open": "", "close": ""},
                     {"start": "2024-12-31", "end": "", "name": "NYE", "open": "09:00", "close": "12:00"}]}
    again = Calendar.from_dict(json.loads(json.dumps(data)))
    assert again == FULL
    assert again.is_open(utc("2024-12-31T10:00")) and not again.is_open(utc("2024-12-25T10:00"))
    assert Calendar.from_dict({"name": "min"}) == Calendar("min")
    assert Hours.from_dict({"day": 1, "open": "08:00", "close": "12:00"}) == Hours(1, "08:00", "12:00")
    assert Holiday.from_dict({"start": "2024-05-01"}) == Holiday("2024-05-01")


@pytest.mark.parametrize("data,field", [
    ([], "calendar"),
    ({"timezone": "UTC"}, "name"),
    ({"name": "c", "colour": "red"}, "colour"),
    ({"name": 5}, "name"),
    ({"name": "c", "timezone": None}, "timezone"),
    ({"name": "c", "hours": "mon 9-5"}, "hours"),
    ({"name": "c", "hours": [{"day": 0, "open": "09:00"}]}, "hours[0].close"),
    ({"name": "c", "hours": [{"day": "0", "open": "09:00", "close": "17:00"}]}, "hours[0].day"),
    ({"name": "c", "hours": [{"day": False, "open": "09:00", "close": "17:00"}]}, "hours[0].day"),
    ({"name": "c", "hours": ["x"]}, "hours[0]"),
    ({"name": "c", "hours": [{"day": 0, "open": "09:00", "close": "17:00"}] * 101}, "hours"),
    ({"name": "c", "holidays": [{"start": "2024-01-01"}, {"end": "2024-01-01"}]}, "holidays[1].start"),
    ({"name": "c", "holidays": [{"start": "2024-01-01", "open": "09:00"}]}, "holidays[0].close"),
    ({"name": "c", "holidays": [{"start": "2024-01-01", "closed": True}]}, "holidays[0].closed"),
    ({"name": "c", "holidays": [{"start": "2024-01-01"}] * 1001}, "holidays"),
    ({"name": "c", "timezone": "Moon/Base"}, "timezone"),
])
def test_from_dict_names_the_bad_field(data, field):
    with pytest.raises(InvalidArgument) as raised:
        Calendar.from_dict(data)
    assert raised.value.field == field
    with pytest.raises(InvalidArgument) as raised:
        Calendar.from_dict(data, "queues[1].calendar")
    assert raised.value.field == f"queues[1].calendar.{field}" if field != "calendar" else "queues[1].calendar"


# -- properties ---------------------------------------------------------------------
# Zones with whole-hour, half-hour (Kolkata, Lord Howe's 30-minute DST) and
# midnight (São Paulo 2018) changes; each paired with weeks around its changes.
WEEKS = {
    "UTC": ["2024-01-01"],
    "America/New_York": ["2024-03-07", "2024-10-31", "2024-06-10"],
    "Europe/London": ["2024-03-28", "2024-10-24"],
    "Asia/Kolkata": ["2024-01-01", "2024-07-15"],
    "Australia/Lord_Howe": ["2024-04-04", "2024-10-03"],
    "America/Sao_Paulo": ["2018-11-01", "2018-02-15"],      # 00:00 skipped; 00:00 -> 23:00 the day before
}
ZONE_WEEKS = [(zone, week) for zone, weeks in WEEKS.items() for week in weeks]
STEP = 15 * MIN_US                                        # every zone above changes on a quarter hour


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def hours_st(draw, step: int = 15) -> Hours:
    start = draw(st.integers(0, 1440 // step - 1)) * step
    end = draw(st.integers(0, 1440 // step).filter(lambda e: e * step != start)) * step
    return Hours(draw(st.integers(0, 6)), hhmm(start), hhmm(end))


@st.composite
def calendars(draw, zone: str, week: str, step: int = 15) -> Calendar:
    first = dt.date.fromisoformat(week)
    holidays = []
    for _ in range(draw(st.integers(0, 2))):
        start = first + dt.timedelta(days=draw(st.integers(-1, 8)))
        end = start + dt.timedelta(days=draw(st.integers(0, 2)))
        special = draw(st.one_of(st.none(), hours_st(step)))
        holidays.append(Holiday(start.isoformat(), end.isoformat(), "h", special.open if special else "",
                                special.close if special else ""))
    hours = draw(st.lists(hours_st(step), max_size=6))
    return Calendar("p", zone, tuple(hours), tuple(holidays))


def reference_open(cal: Calendar, first_us: int, last_us: int) -> dict[int, bool]:
    """Open or closed at every quarter hour from first_us to last_us, from
    nothing but the wall clock: a local time x takes effect at the first
    instant whose wall clock reads x or later."""
    tz = ZoneInfo(cal.timezone)
    grid = list(range(first_us - 3 * DAY_US, last_us + 3 * DAY_US + 1, STEP))
    walls = [(EPOCH + dt.timedelta(microseconds=t)).astimezone(tz).replace(tzinfo=None) for t in grid]
    highest = []                                          # running maximum: bisect finds the first wall >= x
    for wall in walls:
        highest.append(max(highest[-1], wall) if highest else wall)

    def first_at(x: dt.datetime) -> int:
        return grid[bisect.bisect_left(highest, x)]

    def minutes(text: str) -> int:
        return 1440 if text == "24:00" else int(text[:2]) * 60 + int(text[3:])

    def ranges(day: dt.date) -> list[tuple[int, int]]:
        for h in cal.holidays:
            if h.start <= day.isoformat() <= (h.end or h.start):
                return [(minutes(h.open), minutes(h.close))] if h.open else []
        if not cal.hours:
            return [(0, 1440)]
        return [(minutes(h.open), minutes(h.close)) for h in cal.hours if h.day == day.weekday()]

    spans = []
    day = walls[0].date() + dt.timedelta(days=1)
    while day < walls[-1].date() - dt.timedelta(days=1):
        midnight = dt.datetime.combine(day, dt.time())
        for start, end in ranges(day):
            end += 1440 if end <= start else 0
            spans.append((first_at(midnight + dt.timedelta(minutes=start)),
                          first_at(midnight + dt.timedelta(minutes=end))))
        day += dt.timedelta(days=1)
    return {t: any(s <= t < e for s, e in spans) for t in grid if first_us <= t <= last_us}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), zone_week=st.sampled_from(ZONE_WEEKS))
def test_is_open_and_next_change_agree_with_a_scan_of_the_wall_clock(data, zone_week):
    zone, week = zone_week
    cal = data.draw(calendars(zone, week))
    start = utc(week + "T00:00")
    end = start + 7 * DAY_US
    expected = reference_open(cal, start, end)
    assert {t: cal.is_open(t) for t in expected} == expected
    flips = [t for t in expected if t > start and expected[t] != expected[t - STEP]]
    found, at = [], start
    while (at := cal.next_change(at)) is not None and at <= end:
        found.append(at)
    assert found == flips


@settings(max_examples=60, deadline=None)
@given(data=st.data(), zone=st.sampled_from(list(WEEKS)),
       offset_us=st.integers(0, 400 * DAY_US), horizon=st.integers(1, 10))
def test_next_change_is_a_change_and_nothing_changes_before_it(data, zone, offset_us, horizon):
    at = utc("2023-12-01T00:00") + offset_us              # any µs, not only quarter hours
    week = (EPOCH + dt.timedelta(microseconds=at)).date().isoformat()
    cal = data.draw(calendars(zone, week, step=1))        # any minute
    state = cal.is_open(at)
    change = cal.next_change(at, horizon)
    until = at + horizon * DAY_US if change is None else change
    assert at < until <= at + horizon * DAY_US
    if change is not None:
        assert cal.is_open(change) != state
        assert cal.is_open(change - 1) == state
    probes = data.draw(st.lists(st.integers(at + 1, until - 1), max_size=40))
    assert all(cal.is_open(t) == state for t in probes)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), zone_week=st.sampled_from(ZONE_WEEKS))
def test_dicts_round_trip(data, zone_week):
    cal = data.draw(calendars(*zone_week, step=1))
    assert Calendar.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
