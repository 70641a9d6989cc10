"""The CDR export's pure parts: request checks, the window plan, rows back
into Cdr messages, the CSV lines and the progress line."""
import csv
import io

import pytest

from hotline.common.errors import InvalidArgument
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.reporting.v1 import reporting_pb2 as rp
from hotline.reporting import export

S = 1_000_000
T0 = 1_793_491_200 * S            # 2026-11-01 00:00 UTC


def test_defaults_and_limits():
    q = export.validate_request(rp.ExportCdrsRequest(from_us=T0, to_us=T0 + S))
    assert q == export.ExportQuery(T0, T0 + S, "", 1000)
    assert export.validate_request(rp.ExportCdrsRequest(from_us=0, to_us=1, batch_size=10_000)).batch_size == 10_000
    assert export.validate_request(rp.ExportCdrsRequest(from_us=0, to_us=export.MAX_TO_US)).to_us == export.MAX_TO_US


@pytest.mark.parametrize("fields, field", [
    (dict(from_us=-1, to_us=T0), "from_us"),
    (dict(from_us=T0, to_us=T0), "to_us"),
    (dict(from_us=T0), "to_us"),
    (dict(from_us=T0, to_us=2 ** 62), "to_us"),
    (dict(from_us=T0, to_us=T0 + S, queue="q" * 257), "queue"),
    (dict(from_us=T0, to_us=T0 + S, batch_size=10_001), "batch_size"),
    (dict(from_us=T0, to_us=T0 + S, batch_size=-5), "batch_size"),
])
def test_bad_requests_name_the_field(fields, field):
    with pytest.raises(InvalidArgument) as caught:
        export.validate_request(rp.ExportCdrsRequest(**fields))
    assert caught.value.field == field


def test_granules_are_at_least_a_second_and_at_most_max_granules():
    assert export.granule_us(export.ExportQuery(T0, T0 + 3600 * S, "", 100)) == S
    day = export.ExportQuery(T0, T0 + 86_400 * S, "", 100)
    assert export.granule_us(day) == 8_640_000
    year = export.ExportQuery(T0, T0 + 365 * 86_400 * S, "", 100)
    assert (year.to_us - year.from_us) / export.granule_us(year) <= export.MAX_GRANULES


def test_windows_hold_about_a_batch_and_skip_empty_time():
    q = export.ExportQuery(T0, T0 + 3600 * S, "", 10)
    plan = export.plan_windows(q, [(0, 4), (1, 5), (2, 3), (50, 12), (51, 1), (3000, 2)])
    assert plan == (export.Window(T0, T0 + 3 * S, 12),              # 4 + 5 + 3 reaches 10 at granule 2
                    export.Window(T0 + 50 * S, T0 + 51 * S, 12),     # one granule over a batch on its own
                    export.Window(T0 + 51 * S, T0 + 3001 * S, 3))   # the rest, however far apart
    assert export.plan_windows(q, []) == ()
    # The last window never reaches past to_us, even when the granules do not divide the range.
    odd = export.ExportQuery(T0, T0 + 25_000 * S + 1, "", 10)
    step = export.granule_us(odd)
    last = (odd.to_us - odd.from_us) // step
    assert export.plan_windows(odd, [(last, 1)])[-1].to_us == odd.to_us


def full_cdr(**changes):
    fields = dict(event_id="cdr:c1", call_uuid="c1", node_id="fs1", ani="+4930123", dnis="100",
                  caller_name='Ann "the caller", Esq.', queue="sales 'east'", agent_id="1001",
                  disposition=ev.DISPOSITION_ANSWERED, hangup_cause="NORMAL_CLEARING", start_us=T0 + 250_000,
                  answer_us=T0 + S, enqueue_us=T0 + 30 * S, connect_us=T0 + 45 * S, end_us=T0 + 345 * S,
                  queue_wait_us=15 * S, talk_us=300 * S, hold_us=20 * S, offers=2, menu_choice="1",
                  recording_path="/rec/c1.wav", billsec_us=344 * S, overflow_destination="", callback_for="",
                  callback_number="", ring_us=T0 + 40 * S, skills=["english", "billing"], ivr_flow="main")
    fields.update(changes)
    return ev.Cdr(**fields)


def stored_row(cdr, disposition=None):
    """The row ingest stores for a Cdr: fields in order, the enum by name."""
    row = []
    for name in export.CDR_FIELDS:
        value = getattr(cdr, name)
        if name == "disposition":
            value = disposition if disposition is not None else ev.Disposition.Name(value)
        elif name == "skills":
            value = list(value)
        row.append(value)
    return tuple(row)


def test_rows_turn_back_into_the_cdr():
    cdr = full_cdr()
    assert export.to_cdr(stored_row(cdr)) == cdr
    # chdb hands 64-bit integers back as text in JSON; they still convert.
    as_text = tuple(str(v) if isinstance(v, int) else v for v in stored_row(cdr))
    assert export.to_cdr(as_text) == cdr
    # A number stored by a build that did not know the value stays that number; an unknown name is 0.
    assert export.to_cdr(stored_row(cdr, disposition="42")).disposition == 42
    assert export.to_cdr(stored_row(cdr, disposition="DISPOSITION_FROM_THE_FUTURE")).disposition == 0


def test_csv_line_has_every_field_and_the_start_in_utc():
    out = io.StringIO()
    batches = [rp.CdrBatch(cdrs=[full_cdr()], total=2, sent=1),
               rp.CdrBatch(cdrs=[full_cdr(event_id="cdr:c2", skills=[], disposition=42)], total=2, sent=2)]
    assert export.write_csv(batches, out) == (2, 2)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(export.CDR_FIELDS) + ["start_utc"]
    first = rows[0]
    assert first["caller_name"] == 'Ann "the caller", Esq.'          # quoted by the CSV, back as it was
    assert (first["disposition"], first["skills"], first["start_us"]) == (
        "DISPOSITION_ANSWERED", "english;billing", str(T0 + 250_000))
    assert first["start_utc"] == "2026-11-01T00:00:00.250000Z"
    assert (rows[1]["event_id"], rows[1]["skills"], rows[1]["disposition"]) == ("cdr:c2", "", "42")


def test_progress_line_per_batch():
    stream = io.StringIO()
    progress = export.Progress(stream)
    batches = [rp.CdrBatch(cdrs=[full_cdr()] * 3, total=5, sent=3), rp.CdrBatch(cdrs=[full_cdr()] * 2, total=5, sent=5)]
    export.write_csv(batches, io.StringIO(), progress)
    frames = stream.getvalue().split("\r")[1:]
    assert frames[0] == "exporting CDRs [" + "#" * 18 + "." * 12 + "] 3/5 (60%)"
    assert frames[1] == "exporting CDRs [" + "#" * 30 + "] 5/5 (100%)\n"
    nothing = io.StringIO()
    export.write_csv([rp.CdrBatch(total=0, sent=0)], io.StringIO(), export.Progress(nothing))
    assert nothing.getvalue() == "\rexporting CDRs [" + "#" * 30 + "] 0/0 (100%)\n"
