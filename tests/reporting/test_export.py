"""The CDR export on both engines (ClickHouse 18.16 and chdb): CDRs stored by
the real ingest path (replayed copies included), streamed back in batches,
then through real gRPC on loopback, and `hotline cdr export` writing CSV
from a served reporting API."""
import contextlib
import csv

import grpc
import pytest

from hotline import cli
from hotline.common import topics
from hotline.common.bus import Record
from hotline.common.grpc import GrpcServer
from hotline.common.settings import ReportingSettings
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.reporting.v1 import reporting_pb2 as rp, reporting_pb2_grpc
from hotline.reporting import export, migrations, rollup
from hotline.reporting.api import ReportingServicer
from hotline.reporting.ingest import Ingester

S = 1_000_000
T0 = 1_793_491_200 * S            # 2026-11-01 00:00 UTC
HOUR = 3600 * S
SALES = "sales 'east'"
DISPOSITIONS = (ev.DISPOSITION_ANSWERED, ev.DISPOSITION_ABANDONED, ev.DISPOSITION_ENDED_IN_IVR,
                ev.DISPOSITION_OVERFLOWED)


def cdr(n, start_us, queue=SALES, **changes):
    fields = dict(event_id=f"cdr:{n:03d}", call_uuid=f"{n:03d}", node_id="fs1", ani=f"+49301{n:05d}", dnis="100",
                  caller_name=f"caller, {n}", queue=queue, agent_id="1001", disposition=DISPOSITIONS[n % 4],
                  hangup_cause="NORMAL_CLEARING", start_us=start_us, answer_us=start_us + S,
                  enqueue_us=start_us + 10 * S, connect_us=start_us + 20 * S, end_us=start_us + 200 * S,
                  queue_wait_us=10 * S, talk_us=180 * S, hold_us=5 * S, offers=1 + n % 3, menu_choice="1",
                  recording_path=f"/rec/{n}.wav", billsec_us=199 * S, ring_us=start_us + 12 * S,
                  skills=["english"] if n % 2 else [], ivr_flow="main")
    fields.update(changes)
    return ev.Cdr(**fields)


def ingest(store, cdrs, at_s):
    """Through the reporting consumer's handler, as if read from the cdrs topic at ``at_s``."""
    Ingester(store, clock=lambda: at_s)([Record(topics.CDRS, 0, i, c.call_uuid, c, 0) for i, c in enumerate(cdrs)])


# 23 sales calls in the first hour: five start in the same microsecond (ties across a page boundary),
# the rest spread over the hour; two support calls; calls just outside the range on both sides.
SAME_US = T0 + 600 * S
SALES_CALLS = ([cdr(n, T0 + n * 97 * S) for n in range(1, 14)] + [cdr(n, SAME_US) for n in range(14, 19)]
               + [cdr(n, T0 + 3000 * S + n * S) for n in range(19, 24)])
OTHERS = [cdr(30, T0 + 5 * S, queue="support"), cdr(31, T0 + 700 * S, queue="support"),
          cdr(40, T0 - 1), cdr(41, T0 + HOUR)]
FIXED_C5 = cdr(5, T0 + 5 * 97 * S, hangup_cause="RECOVERY_ON_TIMER_EXPIRE")   # a newer copy that differs


@pytest.fixture
def stored(store):
    migrations.up(store)
    ingest(store, SALES_CALLS + OTHERS, 1_900_000_000)
    ingest(store, SALES_CALLS[:10], 1_900_000_100)                                # replayed copies
    ingest(store, [FIXED_C5], 1_900_000_150)
    return store


def export_all(store, **fields):
    request = dict(from_us=T0, to_us=T0 + HOUR)
    request.update(fields)
    return list(export.cdr_batches(store, export.validate_request(rp.ExportCdrsRequest(**request))))


def expected(calls):
    newest = {c.event_id: c for c in calls}
    newest[FIXED_C5.event_id] = FIXED_C5
    return sorted(newest.values(), key=lambda c: (c.start_us, c.event_id))


def test_every_cdr_once_oldest_first_newest_copy(stored):
    batches = export_all(stored, batch_size=4)
    wanted = expected(SALES_CALLS + OTHERS[:2])
    assert [c for b in batches for c in b.cdrs] == wanted              # whole messages, every field
    assert [len(b.cdrs) for b in batches] == [4, 4, 4, 4, 4, 4, 1]
    assert [b.sent for b in batches] == [4, 8, 12, 16, 20, 24, 25]
    assert {b.total for b in batches} == {25}
    by_id = {c.event_id: c for b in batches for c in b.cdrs}
    assert by_id["cdr:005"].hangup_cause == "RECOVERY_ON_TIMER_EXPIRE"
    assert list(by_id["cdr:001"].skills) == ["english"] and list(by_id["cdr:002"].skills) == []


@pytest.mark.parametrize("batch_size", [1, 3, 5, 1000])
def test_any_batch_size_gives_the_same_stream(stored, batch_size):
    batches = export_all(stored, queue=SALES, batch_size=batch_size)
    assert [c for b in batches for c in b.cdrs] == expected(SALES_CALLS)
    assert all(len(b.cdrs) == batch_size for b in batches[:-1])
    assert batches[-1].sent == batches[-1].total == 23


def test_paging_within_a_crowded_window(stored):
    # Every call in one second: one window, read by keyset pages of 2 across the tie at SAME_US.
    batches = export_all(stored, from_us=SAME_US, to_us=SAME_US + 1, batch_size=2)
    assert [c.event_id for b in batches for c in b.cdrs] == [f"cdr:{n:03d}" for n in range(14, 19)]
    assert [b.sent for b in batches] == [2, 4, 5]


class CountingStore:
    """The real store, noting how many rows each query brought back."""

    def __init__(self, store):
        self.store = store
        self.rows_per_query = []

    def query(self, statement):
        rows = self.store.query(statement)
        self.rows_per_query.append(len(rows))
        return rows


def test_no_query_reads_more_than_a_batch(stored):
    counting = CountingStore(stored)
    batches = list(export.cdr_batches(counting, export.ExportQuery(T0, T0 + HOUR, "", 3)))
    assert batches[-1].sent == 25
    histogram, *pages = counting.rows_per_query
    assert histogram <= export.MAX_GRANULES
    assert max(pages) <= 3 and sum(pages) == 25


def test_everything_ever(stored):
    batches = export_all(stored, from_us=0, to_us=export.MAX_TO_US)
    assert [c for b in batches for c in b.cdrs] == expected(SALES_CALLS + OTHERS)
    assert batches[-1].sent == batches[-1].total == 27


def test_nothing_to_export_is_one_empty_batch(stored):
    assert export_all(stored, queue="nobody") == [rp.CdrBatch(total=0, sent=0)]


def test_a_cdr_arriving_during_the_export_waits_for_the_next_one(stored):
    stream = export.cdr_batches(stored, export.ExportQuery(T0, T0 + HOUR, SALES, 10))
    first = next(stream)                                   # planned: 23 CDRs as of now
    ingest(stored, [cdr(90, T0 + 1)], 1_900_000_200)       # a late CDR, in range, oldest of all
    rest = list(stream)
    assert [b.sent for b in [first, *rest]] == [10, 20, 23] and first.total == 23
    assert "cdr:090" not in {c.event_id for b in [first, *rest] for c in b.cdrs}
    assert export_all(stored, queue=SALES)[0].cdrs[0].event_id == "cdr:090"


@contextlib.contextmanager
def served(store):
    server = GrpcServer("127.0.0.1:0")
    server.add(reporting_pb2_grpc.add_ReportingServicer_to_server,
               ReportingServicer(store, ReportingSettings()), "reporting")
    port = server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield f"127.0.0.1:{port}", reporting_pb2_grpc.ReportingStub(channel)
    finally:
        channel.close()
        server.stop()


def test_export_over_grpc(stored):
    with served(stored) as (_, stub):
        batches = list(stub.ExportCdrs(rp.ExportCdrsRequest(from_us=T0, to_us=T0 + HOUR, batch_size=10), timeout=30))
        assert [c for b in batches for c in b.cdrs] == expected(SALES_CALLS + OTHERS[:2])
        assert [(b.sent, b.total) for b in batches] == [(10, 25), (20, 25), (25, 25)]
        for request, field in ((rp.ExportCdrsRequest(from_us=T0, to_us=T0), "to_us"),
                               (rp.ExportCdrsRequest(from_us=T0, to_us=T0 + 1, batch_size=20_000), "batch_size")):
            with pytest.raises(grpc.RpcError) as caught:
                list(stub.ExportCdrs(request, timeout=10))
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert caught.value.details().startswith(field + ":")


def test_cli_writes_the_csv_with_a_progress_bar(stored, tmp_path, capsys):
    out = tmp_path / "cdrs.csv"
    with served(stored) as (address, _):
        code = cli.main(["cdr", "export", "--from", "2026-11-01T00:00", "--to", "2026-11-01T01:00", "--queue", SALES,
                         "--batch-size", "10", "--reporting-address", address, "--out", str(out), "--progress"])
    assert code == 0
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    wanted = expected(SALES_CALLS)
    assert [r["event_id"] for r in rows] == [c.event_id for c in wanted]
    assert rows == [dict(zip(export.CSV_COLUMNS, export.csv_row(c))) for c in wanted]
    assert rows[0]["start_utc"] == "2026-11-01T00:01:37.000000Z" and rows[0]["queue"] == SALES
    assert not (tmp_path / "cdrs.csv.partial").exists()
    err = capsys.readouterr().err
    assert [frame.split("] ")[1].split(" ")[0] for frame in err.split("\r")[1:]] == ["10/23", "20/23", "23/23"]
    assert err.endswith(f"23 CDRs written to {out}\n")


def test_cli_bad_input_exits_2_and_writes_nothing(stored, tmp_path, capsys):
    out = tmp_path / "cdrs.csv"
    with served(stored) as (address, _):
        assert cli.main(["cdr", "export", "--from", "2026-11-01T01:00", "--to", "2026-11-01T00:00",
                         "--reporting-address", address, "--out", str(out)]) == 2
        assert "--to: to_us: must be after from_us" in capsys.readouterr().err
        assert cli.main(["cdr", "export", "--from", "2026-11-01", "--to", "2026-11-02", "--batch-size", "99999",
                         "--reporting-address", address, "--out", str(out)]) == 2
        assert "--batch-size: batch_size:" in capsys.readouterr().err
        with pytest.raises(SystemExit) as caught:
            cli.main(["cdr", "export", "--from", "yesterday", "--to", "2026-11-02", "--reporting-address", address])
        assert caught.value.code == 2
        assert "argument --from: 'yesterday' is not an ISO-8601 time" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "cdrs.csv.partial").exists()


def test_cli_without_a_reporting_api_exits_1(tmp_path, capsys):
    with contextlib.closing(__import__("socket").socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"                   # nobody listens there
    out = tmp_path / "cdrs.csv"
    assert cli.main(["cdr", "export", "--from", "2026-11-01", "--to", "2026-11-02", "--reporting-address", address,
                     "--out", str(out)]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "cdrs.csv.partial").exists()


def test_cli_staffing_prints_the_table(stored, capsys):
    # 100 calls of 180 s (150 s talk, 30 s wrap-up) at 00:15: the textbook 10 Erlangs, 14 agents.
    stored.insert("call_stats_15m", ("dimension", "member", "bucket_us", "offered", "handled", "talk_us", "wrap_up_us",
                                     "version"), [("queue", SALES, T0 + 900 * S, 100, 100, 100 * 150 * S,
                                                   100 * 30 * S, 1)])
    rollup.mark_current(stored, "call_stats_15m", [T0 + 900 * S], 1)                 # the row's recompute is current
    with served(stored) as (address, _):
        assert cli.main(["staffing", "--from", "2026-11-01T00:00", "--to", "2026-11-01T01:00",
                         "--reporting-address", address]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "model: Erlang C (callers never abandon)"
        assert [line.split()[:7] for line in lines[2:]] == [
            ["2026-11-01", "00:00", "100.0", "180.0", "10.00", "14", "14"],
            ["2026-11-01", "00:30", "0.0", "180.0", "0.00", "0", "0"]]              # the range's AHT
        assert cli.main(["staffing", "--from", "2026-11-01T00:00", "--to", "2026-11-01T01:00", "--target", "2",
                         "--reporting-address", address]) == 2
        assert "--target: target_service_level:" in capsys.readouterr().err
