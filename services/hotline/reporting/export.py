"""The CDR export, both ends: ExportCdrs streams call detail records out of
ClickHouse in batches, and `hotline cdr export` writes that stream as CSV.

Server side (:func:`validate_request`, :func:`cdr_batches`): the CDRs of
calls that started in [from_us, to_us) (of one queue if asked), one per
event_id (the newest copy: argMax(column, ingested_us)), oldest first
(start_us, then event_id), in batches of ``batch_size``. Memory stays
bounded however long the range:

1. one query counts the CDRs per time granule (at most MAX_GRANULES of
   them over the range) and notes the newest ``ingested_us``: the export
   is a snapshot as of that row, so ``total`` is exact even while calls
   keep arriving;
2. neighbouring granules are grouped into windows of about one batch;
3. each window is read with keyset pagination on (start_us, event_id),
   ``batch_size`` rows per query, so no query reads more than a window.

Client side (:func:`write_csv`, :class:`Progress`): one CSV line per CDR
with the Cdr fields as columns (docs/cdr-export.md), and a progress line
from each batch's ``sent`` / ``total``.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import os
from typing import Any, Iterable, Iterator, Sequence, TextIO

from google.protobuf.descriptor import FieldDescriptor

from hotline.common.errors import InvalidArgument
from hotline.proto.events.v1 import events_pb2
from hotline.proto.reporting.v1 import reporting_pb2
from hotline.reporting import formulas, sql
from hotline.reporting.store import ReportStore, Row

DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 10_000
MAX_QUEUE_NAME = 256
MAX_GRANULES = 10_000
MAX_TO_US = 4_102_444_800_000_000      # 2100-01-01T00:00Z
US = formulas.US

# The cdrs table's columns are the Cdr message's fields, by name (ingest stores them so).
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_CDR = events_pb2.Cdr.DESCRIPTOR
CDR_FIELDS: tuple[str, ...] = tuple(f.name for f in _CDR.fields)


@dataclasses.dataclass(frozen=True)
class ExportQuery:
    from_us: int
    to_us: int
    queue: str
    batch_size: int


def validate_request(request: Any) -> ExportQuery:
    """Check an ExportCdrsRequest (InvalidArgument names the field); batch_size 0 means 1000."""
    formulas.check_range(request.from_us, request.to_us)
    if request.to_us > MAX_TO_US:
        raise InvalidArgument("to_us", "must be at most 2100-01-01T00:00Z (ClickHouse's dates end in 2149)")
    if len(request.queue) > MAX_QUEUE_NAME:
        raise InvalidArgument("queue", f"is longer than {MAX_QUEUE_NAME} characters")
    batch_size = request.batch_size or DEFAULT_BATCH_SIZE
    if not 0 < batch_size <= MAX_BATCH_SIZE:
        raise InvalidArgument("batch_size", f"must be 1 to {MAX_BATCH_SIZE} CDRs per message (0 means "
                                            f"{DEFAULT_BATCH_SIZE})")
    return ExportQuery(request.from_us, request.to_us, request.queue, batch_size)


# --- planning: how many, and in which windows ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Window:
    """[from_us, to_us) of start times holding about ``rows`` CDRs."""

    from_us: int
    to_us: int
    rows: int


@dataclasses.dataclass(frozen=True)
class Plan:
    total: int
    as_of_ingested_us: int         # the snapshot: rows ingested later are not exported
    windows: tuple[Window, ...]


def granule_us(q: ExportQuery) -> int:
    """The histogram's time step: at least a second, at most MAX_GRANULES steps over the range."""
    span_us = q.to_us - q.from_us
    return max(US, -(-span_us // MAX_GRANULES))


def _raw_filter(q: ExportQuery, from_us: int, to_us: int) -> str:
    """Raw cdrs rows of [from_us, to_us) (and the queue). The ``day`` bounds (the
    partition key's column, derived from start_us) let ClickHouse skip every part
    whose days lie outside: start_us is not in the table's sort key."""
    text = sql.render("day >= {first_day} AND day <= {last_day} AND start_us >= {from_us} AND start_us < {to_us}",
                      first_day=utc_day(from_us), last_day=utc_day(to_us - 1), from_us=from_us, to_us=to_us)
    if q.queue:
        text += sql.render(" AND queue = {queue}", queue=q.queue)
    return text


_HISTOGRAM = """
SELECT intDiv(start_us - {from_us}, {granule_us}) AS granule, uniqExact(event_id), max(ingested_us)
FROM cdrs
WHERE {filter}
GROUP BY granule
ORDER BY granule
"""


def histogram_sql(q: ExportQuery) -> str:
    return sql.render(_HISTOGRAM, from_us=q.from_us, granule_us=granule_us(q),
                      filter=sql.Sql(_raw_filter(q, q.from_us, q.to_us)))


def plan_windows(q: ExportQuery, histogram: Sequence[tuple[int, int]]) -> tuple[Window, ...]:
    """Group (granule, CDRs) counts, in granule order, into windows of at least a batch
    each (the last may hold fewer); granules without CDRs are left out."""
    step = granule_us(q)
    windows: list[Window] = []
    start, rows = None, 0
    for granule, count in histogram:
        if start is None:
            start = granule
        rows += count
        if rows >= q.batch_size:
            windows.append(_window(q, start, granule + 1, rows, step))
            start, rows = None, 0
    if start is not None:
        windows.append(_window(q, start, histogram[-1][0] + 1, rows, step))
    return tuple(windows)


def _window(q: ExportQuery, first: int, end: int, rows: int, step: int) -> Window:
    return Window(q.from_us + first * step, min(q.to_us, q.from_us + end * step), rows)


def plan(store: ReportStore, q: ExportQuery) -> Plan:
    rows = store.query(histogram_sql(q))
    histogram = [(int(g), int(n)) for g, n, _ in rows]
    as_of = max((int(newest) for _, _, newest in rows), default=0)
    return Plan(sum(n for _, n in histogram), as_of, plan_windows(q, histogram))


# --- reading: keyset pages within a window ----------------------------------------------------

_PAGE = """
SELECT event_id, {columns}
FROM cdrs
WHERE {filter} AND ingested_us <= {as_of}
GROUP BY event_id{after}
ORDER BY c_start_us, event_id
LIMIT {limit}
"""
_AFTER = "\nHAVING c_start_us > {start_us} OR (c_start_us = {start_us} AND event_id > {event_id})"

# Every column but event_id, newest copy first; aliased c_<field> (an aggregate
# never takes its own source column's name: ClickHouse 18.16 refuses it).
_COLUMNS = ", ".join(f"argMax({sql.identifier(name)}, ingested_us) AS {sql.identifier('c_' + name)}"
                     for name in CDR_FIELDS[1:])


def page_sql(q: ExportQuery, window: Window, as_of: int, after: tuple[int, str] | None, limit: int) -> str:
    """Up to ``limit`` CDRs of the window, after the key ``after`` = (start_us, event_id)
    of the previous page's last CDR (None: from the window's start)."""
    from_us = window.from_us if after is None else max(window.from_us, after[0])
    after_sql = "" if after is None else sql.render(_AFTER, start_us=after[0], event_id=after[1])
    return sql.render(_PAGE, columns=sql.Sql(_COLUMNS), filter=sql.Sql(_raw_filter(q, from_us, window.to_us)),
                      as_of=as_of, after=sql.Sql(after_sql), limit=limit)


def read_window(store: ReportStore, q: ExportQuery, window: Window, as_of: int) -> Iterator[events_pb2.Cdr]:
    """The window's CDRs in order, one query per ``batch_size`` of them."""
    after: tuple[int, str] | None = None
    while True:
        page = [to_cdr(row) for row in store.query(page_sql(q, window, as_of, after, q.batch_size))]
        yield from page
        if len(page) < q.batch_size:
            return
        after = (page[-1].start_us, page[-1].event_id)


def to_cdr(row: Row) -> events_pb2.Cdr:
    """A cdrs row (event_id, then every other Cdr field in order) as the Cdr it was.

    Enums are stored by name; a number stored for a value the ingesting
    build did not know comes back as that number; an unknown name is 0."""
    cdr = events_pb2.Cdr()
    for name, value in zip(CDR_FIELDS, row):
        field = _CDR.fields_by_name[name]
        if field.enum_type is not None:
            setattr(cdr, name, _enum_number(field, value))
        elif field.is_repeated:
            getattr(cdr, name).extend(value)
        elif field.type == FieldDescriptor.TYPE_STRING:
            setattr(cdr, name, value)
        else:
            setattr(cdr, name, int(value))
    return cdr


def _enum_number(field: FieldDescriptor, stored: Any) -> int:
    known = field.enum_type.values_by_name.get(stored)
    if known is not None:
        return known.number
    text = str(stored)
    return int(text) if text.lstrip("-").isdigit() else 0


def cdr_batches(store: ReportStore, q: ExportQuery) -> Iterator[reporting_pb2.CdrBatch]:
    """ExportCdrs: CdrBatch messages of ``batch_size`` CDRs (the last may hold fewer),
    each with the export's ``total`` and the CDRs ``sent`` so far. An export with
    nothing to send is one empty batch, so the client still learns total = 0."""
    p = plan(store, q)
    if not p.total:
        yield reporting_pb2.CdrBatch(total=0, sent=0)
        return
    sent = 0
    pending: list[events_pb2.Cdr] = []
    for window in p.windows:
        for cdr in read_window(store, q, window, p.as_of_ingested_us):
            pending.append(cdr)
            if len(pending) == q.batch_size:
                sent += len(pending)
                yield reporting_pb2.CdrBatch(cdrs=pending, total=p.total, sent=sent)
                pending = []
    if pending or not sent:
        sent += len(pending)
        yield reporting_pb2.CdrBatch(cdrs=pending, total=p.total, sent=sent)


# --- the client: CSV and a progress line ---------------------------------------------------------

CSV_COLUMNS: tuple[str, ...] = CDR_FIELDS + ("start_utc",)
SKILL_SEPARATOR = ";"


def csv_row(cdr: events_pb2.Cdr) -> list[str]:
    """One CSV line: the fields in Cdr order (µs as integers, the disposition by
    name, skills joined by ';'), then the start as ISO-8601 UTC."""
    out = []
    for name in CDR_FIELDS:
        field = _CDR.fields_by_name[name]
        value = getattr(cdr, name)
        if field.enum_type is not None:
            known = field.enum_type.values_by_number.get(value)
            out.append(known.name if known is not None else str(value))
        elif field.is_repeated:
            out.append(SKILL_SEPARATOR.join(value))
        else:
            out.append(str(value))
    out.append(iso_utc(cdr.start_us))
    return out


def utc_day(t_us: int) -> datetime.date:
    """The UTC date of a µs time, as the tables' ``day`` column has it."""
    return (_EPOCH + datetime.timedelta(microseconds=t_us)).date()


def iso_utc(t_us: int) -> str:
    """µs since the epoch as e.g. 2026-11-01T09:30:00.250000Z."""
    return (_EPOCH + datetime.timedelta(microseconds=t_us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Progress:
    """A one-line progress bar (``\\r``-rewritten) from sent / total, for stderr."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def update(self, sent: int, total: int) -> None:
        share = sent / total if total else 1.0
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\rexporting CDRs [{bar}] {sent:,}/{total:,} ({share:.0%})")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def write_csv(batches: Iterable[reporting_pb2.CdrBatch], out: TextIO,
              progress: Progress | None = None) -> tuple[int, int]:
    """Write the header and every CDR of the stream; returns (written, total).
    The progress line advances once per batch."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    written, total = 0, 0
    try:
        for batch in batches:
            total = batch.total
            for cdr in batch.cdrs:
                writer.writerow(csv_row(cdr))
            written += len(batch.cdrs)
            if progress is not None:
                progress.update(batch.sent, batch.total)
    finally:
        if progress is not None:
            progress.finish()
    return written, total


def run_export(stub: Any, request: reporting_pb2.ExportCdrsRequest, out: str, *, progress: Progress | None,
               stdout: TextIO) -> tuple[int, int]:
    """Stream ExportCdrs from the reporting API into CSV at ``out`` ('-': ``stdout``).

    A file is written as ``<out>.partial`` and renamed once complete, so an
    export that fails half-way never leaves a truncated file under the name
    asked for (nor replaces a good one)."""
    batches = stub.ExportCdrs(request)
    if out == "-":
        return write_csv(batches, stdout, progress)
    partial = out + ".partial"
    try:
        with open(partial, "w", newline="", encoding="utf-8") as f:
            result = write_csv(batches, f, progress)
        os.replace(partial, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise
    return result
