"""`hotline bench reporting` runs every phase on a tiny history against the
real Kafka broker and ClickHouse server: it completes, prints each figure,
and drops its database. No timing is asserted (the targets live in the
benchmark's output and docs/performance.md)."""
import dataclasses
import re

import pytest

from hotline.common.settings import Settings
from hotline.reporting import bench, benchgen, migrations, rollup, sql
from hotline.reporting.store import ServerStore

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.clickhouse]


def test_bench_reporting_runs_every_phase(kafka_bootstrap, clickhouse_address, capsys):
    host, port = clickhouse_address
    settings = Settings()
    settings = dataclasses.replace(
        settings, kafka=dataclasses.replace(settings.kafka, bootstrap_servers=kafka_bootstrap),
        clickhouse=dataclasses.replace(settings.clickhouse, host=host, port=port, backend="server"))
    code = bench.main(["--ingest-calls", "30", "--freshness-samples", "2", "--calls", "3000", "--repeat", "1"],
                      settings=settings)
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"ingest: 516 events in [\d.]+ s: [\d,]+ events/s, [\d,]+ events/s per consumer core", out)
    assert re.search(r"freshness .*2 samples: p50 [\d.]+ s, max [\d.]+ s", out)
    for name in ("real-time view", "whole center", "one queue", "every queue listed", "every agent", "one agent"):
        assert re.search(rf"{name}.* p50 +[\d.]+ ms", out), name
    database = re.search(r"database (hotline_bench_\w+)", out).group(1)
    store = ServerStore(dataclasses.replace(settings.clickhouse, database="default"))
    try:
        assert store.query(sql.render("SELECT count() FROM system.databases WHERE name = {d}", d=database)) == [(0,)]
    finally:
        store.close()


def test_generated_history_rolls_up_to_what_was_generated(clickhouse_address, unique_name):
    """The generator's dispositions reach the roll-ups whole: every call once."""
    host, port = clickhouse_address
    store = ServerStore(dataclasses.replace(Settings().clickhouse, host=host, port=port, database=unique_name,
                                            backend="server"))
    try:
        migrations.up(store)
        history = benchgen.History(calls=2000, end_us=1_790_000_100 * 1_000_000 // 900_000_000 * 900_000_000,
                                   days=2, queues=5, agents=20)
        rows = benchgen.generate(store, history)
        (first, last), = store.query("SELECT min(enqueue_us), max(enqueue_us) FROM cdrs")
        assert first == history.start_us and history.end_us - 100_000_000 < last < history.end_us
        assert rows == {"cdrs": 2000, "queue_events": rows["queue_events"], "agent_states": rows["agent_states"]}
        rollup.rebuild(store, history.start_us - 3_600_000_000, history.end_us + 3_600_000_000)
        from hotline.reporting import queries
        report = queries.interval_report(store, from_us=history.start_us - history.start_us % 86_400_000_000,
                                         to_us=history.end_us + 86_400_000_000 - history.end_us % 86_400_000_000,
                                         interval_s=86_400, group_by="none")
        (disposition_counts,) = [dict(store.query("SELECT disposition, count() FROM cdrs GROUP BY disposition"))]
        assert report.total.counts.offered == 2000
        assert report.total.counts.answered == disposition_counts["DISPOSITION_ANSWERED"]
        assert report.total.counts.abandoned == disposition_counts["DISPOSITION_ABANDONED"]
        assert rows["agent_states"] == 2 * disposition_counts["DISPOSITION_ANSWERED"]
    finally:
        store.execute(f"DROP DATABASE IF EXISTS {sql.identifier(unique_name)}")
        store.close()
