"""The interval and agent reports read page by page (page_size, page_token),
on both engines, on test_reports.py's hand-computed history: for every page
size and every grouping, the pages' rows put together are exactly the
report's rows in order, the total row (last page only) is the report's
total, total_size counts them; over gRPC the same, and a bad page_size or
page_token is INVALID_ARGUMENT naming the field."""
import dataclasses

import grpc
import pytest

import test_reports as hc
from test_reports_grpc import as_figures, serve
from hotline.common.errors import InvalidArgument
from hotline.proto.reporting.v1 import reporting_pb2 as rp, reporting_pb2_grpc
from hotline.reporting import pages, queries

S = 1_000_000
T0, HOUR = hc.T0, hc.HOUR


def plain(rows):
    """Rows as plain tuples: a page's lines and the report's figures have the same fields in the same order."""
    return [dataclasses.astuple(r) if dataclasses.is_dataclass(r) else tuple(r) for r in rows]


def all_pages(read, size):
    """Every page of a report: (rows, totals, total_sizes, pages read)."""
    rows, totals, sizes, after, count = [], [], [], None, 0
    while True:
        page = read(pages.Page(size=size, after=after))
        count += 1
        assert len(page.rows) <= size
        rows += page.rows
        totals.append(page.total)
        sizes.append(getattr(page, "total_size", None))
        if page.next_after is None:
            return rows, totals, sizes, count
        assert len(page.rows) == size                  # only the last page is short
        after = page.next_after


INTERVAL_QUERIES = [
    dict(),                                                      # every queue, 30 min
    dict(interval_s=900),
    dict(member="sales", interval_s=900),                        # one member: pages by interval
    dict(group_by="none", interval_s=900),                       # the whole center: pages by interval
    dict(group_by="agent", interval_s=900),
    dict(group_by="skill", interval_s=900),
    dict(group_by="dnis", interval_s=3600, threshold_s=25, short_abandon_s=-1),
    dict(member="nobody"),                                       # an empty report
]


@pytest.mark.parametrize("fields", INTERVAL_QUERIES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
def test_interval_pages_put_together_are_the_report(store, fields):
    hc.load(store)
    q = queries.IntervalQuery(from_us=T0 - HOUR, to_us=T0 + 2 * HOUR, **fields)
    whole = queries.interval_report(store, q)
    for size in (1, 2, 3, 1000):
        rows, totals, sizes, count = all_pages(lambda p: queries.interval_page(store, q, p), size)
        assert plain(rows) == plain(whole.rows), size
        assert totals[-1] == whole.total and totals[:-1] == [None] * (count - 1)
        assert set(sizes) == {len(whole.rows)}
        assert count == max(1, -(-len(whole.rows) // size))


@pytest.mark.parametrize("fields", [dict(), dict(interval_s=900), dict(agent_id="2001", interval_s=900),
                                    dict(agent_id="nobody")], ids=["all", "15min", "one", "nobody"])
def test_agent_pages_put_together_are_the_report(store, fields):
    hc.load(store)
    q = queries.AgentQuery(from_us=T0 - HOUR, to_us=T0 + 2 * HOUR, **fields)
    whole = queries.agent_report(store, q)
    for size in (1, 2, 5, 1000):
        rows, totals, _, count = all_pages(lambda p: queries.agent_page(store, q, p), size)
        assert plain(rows) == plain(whole.rows), size
        assert totals[-1] == whole.total and totals[:-1] == [None] * (count - 1)
        assert count == max(1, -(-len(whole.rows) // size))


def test_a_page_continues_after_its_token_row_even_when_rows_were_added(store):
    """Keyset pages: the next page starts after the last row sent, not at an offset."""
    hc.load(store)
    q = queries.IntervalQuery(from_us=T0, to_us=T0 + HOUR, interval_s=900)
    first = queries.interval_page(store, q, pages.Page(size=2))
    rest = queries.interval_page(store, q, pages.Page(size=1000, after=first.next_after))
    assert [(r.member, r.interval_start_us) for r in rest.rows] == [
        (r.member, r.interval_start_us) for r in queries.interval_report(store, q).rows[2:]]
    # A cursor between rows (a row it named is gone): the page starts at the next row.
    between = queries.interval_page(store, q, pages.Page(size=1000, after=("sales", T0 + 2 * 900 * S + 1)))
    assert all((r.member, r.interval_start_us) > ("sales", T0 + 2 * 900 * S) for r in between.rows)


@pytest.fixture
def stub(store):
    hc.load(store)
    server, channel = serve(store, hc.T0 + 2 * 3600 * S)
    yield reporting_pb2_grpc.ReportingStub(channel)
    channel.close()
    server.stop()


def test_interval_and_agent_pages_over_grpc(stub):
    request = dict(from_us=T0, to_us=T0 + HOUR, interval_s=900)
    whole = stub.GetIntervalReport(rp.IntervalReportRequest(**request), timeout=30)
    assert not whole.next_page_token and whole.total_size == len(whole.rows) > 3
    got, token, replies = [], "", []
    while True:
        reply = stub.GetIntervalReport(rp.IntervalReportRequest(**request, page_size=2, page_token=token), timeout=30)
        replies.append(reply)
        got += reply.rows
        token = reply.next_page_token
        if not token:
            break
    assert [as_figures(r) for r in got] == [as_figures(r) for r in whole.rows]
    assert replies[-1].HasField("total") and as_figures(replies[-1].total) == as_figures(whole.total)
    assert not any(r.HasField("total") for r in replies[:-1])
    assert {r.total_size for r in replies} == {len(whole.rows)}

    agents = stub.GetAgentReport(rp.AgentReportRequest(from_us=T0, to_us=T0 + HOUR, interval_s=900), timeout=30)
    first = stub.GetAgentReport(rp.AgentReportRequest(from_us=T0, to_us=T0 + HOUR, interval_s=900, page_size=3),
                                timeout=30)
    second = stub.GetAgentReport(rp.AgentReportRequest(from_us=T0, to_us=T0 + HOUR, interval_s=900, page_size=100,
                                                       page_token=first.next_page_token), timeout=30)
    assert list(first.rows) + list(second.rows) == list(agents.rows)
    assert second.total == agents.total and not first.HasField("total") and not second.next_page_token


def test_bad_pages_are_invalid_argument_naming_the_field(stub):
    request = dict(from_us=T0, to_us=T0 + HOUR, interval_s=900)
    token = stub.GetIntervalReport(rp.IntervalReportRequest(**request, page_size=1), timeout=30).next_page_token
    agent_token = stub.GetAgentReport(rp.AgentReportRequest(**request, page_size=1), timeout=30).next_page_token
    assert token and agent_token
    bad = [
        ("GetIntervalReport", rp.IntervalReportRequest(**request, page_size=-1), "page_size"),
        ("GetIntervalReport", rp.IntervalReportRequest(**request, page_size=10_001), "page_size"),
        ("GetIntervalReport", rp.IntervalReportRequest(**request, page_token="not a token!"), "page_token"),
        ("GetIntervalReport", rp.IntervalReportRequest(**request, page_token="W10"), "page_token"),   # "[]"
        ("GetIntervalReport", rp.IntervalReportRequest(**request, page_token=token[:-3]), "page_token"),
        # A token continues its own request only: another threshold, range or report is refused.
        ("GetIntervalReport", rp.IntervalReportRequest(**request, service_level_threshold_s=30, page_token=token),
         "page_token"),
        ("GetIntervalReport", rp.IntervalReportRequest(**{**request, "to_us": T0 + 2 * HOUR}, page_token=token),
         "page_token"),
        ("GetIntervalReport", rp.IntervalReportRequest(**request, page_token=agent_token), "page_token"),
        ("GetAgentReport", rp.AgentReportRequest(**request, page_size=-5), "page_size"),
        ("GetAgentReport", rp.AgentReportRequest(**request, page_token=token), "page_token"),
        # The request's own fields are checked before its page.
        ("GetIntervalReport", rp.IntervalReportRequest(from_us=T0, to_us=T0 + HOUR, interval_s=600,
                                                       page_size=-1), "interval_s"),
    ]
    for rpc, message, field in bad:
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, rpc)(message, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (rpc, message)
        assert caught.value.details().startswith(field + ":"), (caught.value.details(), message)
    # page_size may change from one page to the next.
    ok = stub.GetIntervalReport(rp.IntervalReportRequest(**request, page_size=50, page_token=token), timeout=30)
    assert ok.rows and ok.HasField("total") and not ok.next_page_token


def test_a_page_query_checks_its_fields_first(store):
    with pytest.raises(InvalidArgument) as caught:
        queries.interval_page(store, queries.IntervalQuery(from_us=T0 + 1, to_us=T0 + HOUR), pages.Page())
    assert caught.value.field == "from_us"


def test_agent_pages_cover_agents_the_index_does_not_know(store):
    """The index counts state time only: agents with calls but no state time
    (and intervals it over- or under-counts) still come, in order, in full pages."""
    from hotline.reporting import migrations, rollup
    from test_reporting_queries import call_row, mark

    migrations.up(store)
    b = 900 * S
    store.insert("call_stats_15m", rollup.CALL_STATS_COLUMNS, [
        call_row(agent, T0 + k * b, 1, offered=1, answered=1, dimension="agent")
        for agent, k in (("a1", 0), ("a1", 1), ("a3", 0), ("a5", 3), ("a5", 2))])
    store.insert("agent_time_15m", rollup.AGENT_TIME_COLUMNS, [
        ("a2", T0, 600 * S, 600 * S, 0, 0, 0, 0, [], [], 1),
        ("a4", T0 + b, 900 * S, 0, 0, 0, 0, 900 * S, ["lunch"], [900 * S], 1),
        ("a4", T0 + 3 * b, 0, 0, 0, 0, 0, 0, [], [], 1)])                    # all zero: no row
    mark(store, "call_stats_15m", *[(T0 + k * b, 1) for k in range(4)])
    mark(store, "agent_time_15m", *[(T0 + k * b, 1) for k in range(4)])
    q = queries.AgentQuery(from_us=T0, to_us=T0 + 4 * b, interval_s=900)
    whole = queries.agent_report(store, q)
    assert [(r.agent_id, (r.interval_start_us - T0) // b) for r in whole.rows] == [
        ("a1", 0), ("a1", 1), ("a2", 0), ("a3", 0), ("a4", 1), ("a5", 2), ("a5", 3)]
    for size in (1, 2, 3, 7, 8):
        rows, totals, _, count = all_pages(lambda p: queries.agent_page(store, q, p), size)
        assert plain(rows) == plain(whole.rows), size
        assert totals[-1] == whole.total and count == max(1, -(-len(whole.rows) // size))
    assert whole.total.counts.not_ready_by_reason_us == (("lunch", 900 * S),)
