"""Migration ordering, planning and the command line (hermetic)."""
import re

import pytest

from hotline.common import topics
from hotline.proto.events.v1 import events_pb2
from hotline.reporting import ingest, migrations
from hotline.reporting.migrations import Migration, MigrationError


def m(version, name="x", up=("SELECT 1",), down=("SELECT 1",)):
    return Migration(version, name, tuple(up), tuple(down))


def test_the_shipped_migrations_are_in_order():
    migrations.check_order(migrations.MIGRATIONS)
    assert migrations.MIGRATIONS[0].label == "0001_initial"


@pytest.mark.parametrize("bad, problem", [
    ((m(2, "a"),), "expected version 1"),
    ((m(1, "a"), m(3, "b")), "expected version 2"),
    ((m(1, "a"), m(1, "b")), "expected version 2"),
    ((m(2, "b"), m(1, "a")), "expected version 1"),
    ((m(1, "a"), m(2, "a")), "unique"),
    ((m(1, ""),), "unique"),
    ((m(1, "a", down=()),), "up and down"),
    ((m(1, "a", up=()),), "up and down"),
])
def test_check_order_refuses(bad, problem):
    with pytest.raises(MigrationError, match=problem):
        migrations.check_order(bad)


def test_plan_up_applies_the_missing_ones_in_order():
    ms = (m(1, "a"), m(2, "b"), m(3, "c"))
    assert [x.version for x in migrations.plan_up(set(), ms)] == [1, 2, 3]
    assert [x.version for x in migrations.plan_up({1}, ms)] == [2, 3]
    assert migrations.plan_up({1, 2, 3}, ms) == []
    assert [x.version for x in migrations.plan_up({1, 3}, ms)] == [2]


def test_plan_down_rolls_back_newest_first():
    ms = (m(1, "a"), m(2, "b"), m(3, "c"))
    assert [x.version for x in migrations.plan_down({1, 2, 3}, ms, 1)] == [3]
    assert [x.version for x in migrations.plan_down({1, 2, 3}, ms, 2)] == [3, 2]
    assert [x.version for x in migrations.plan_down({1, 2}, ms, 5)] == [2, 1]
    assert migrations.plan_down(set(), ms, 1) == []
    assert migrations.plan_down({1}, ms, 0) == []
    with pytest.raises(MigrationError, match="does not know"):
        migrations.plan_down({1, 4}, ms, 1)


@pytest.mark.parametrize("argv, expected", [
    ([], ("up", 0)), (["up"], ("up", 0)), (["status"], ("status", 0)),
    (["down"], ("down", 1)), (["down", "3"], ("down", 3)), (["down", "0"], ("down", 0)),
])
def test_parse_args(argv, expected):
    assert migrations.parse_args(argv) == expected


@pytest.mark.parametrize("argv", [["sideways"], ["down", "x"], ["down", "-1"], ["up", "2"], ["down", "1", "2"],
                                  ["status", "now"]])
def test_parse_args_refuses(argv):
    with pytest.raises(MigrationError):
        migrations.parse_args(argv)


def test_main_reports_bad_usage_with_exit_2(capsys):
    from hotline.common.settings import Settings

    assert migrations.main(Settings(), ["sideways"]) == 2
    assert "usage: hotline migrate" in capsys.readouterr().err


def _create_statement(table):
    """(the migration that creates ``table``, its CREATE statement)."""
    for migration in migrations.MIGRATIONS:
        for statement in migration.up:
            if statement.startswith(f"CREATE TABLE IF NOT EXISTS {table} ("):
                return migration, statement
    raise AssertionError(f"no migration creates a table {table}")


def _created_columns(table):
    """The table's columns at the latest migration: as created, plus every ADD COLUMN since."""
    created_by, statement = _create_statement(table)
    found = re.match(rf"CREATE TABLE IF NOT EXISTS {table} \((.*)\) ENGINE", statement, re.S)
    parts, depth, current = [], 0, ""
    for ch in found.group(1):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    columns = [part.split()[0] for part in parts if part.strip()]
    for later in migrations.MIGRATIONS[created_by.version:]:      # columns added since
        for alter in later.up:
            if alter.startswith(f"ALTER TABLE {table} "):
                columns += re.findall(r"ADD COLUMN (\w+)", alter)
    return columns


@pytest.mark.parametrize("table", sorted(ingest.TABLES))
def test_ingest_columns_match_the_schema(table):
    pipeline = ingest.TABLES[table]
    columns = _created_columns(table)
    assert set(pipeline.columns) | {"ingested_us", "day"} == set(columns)
    assert len(pipeline.columns) == len(set(pipeline.columns))


@pytest.mark.parametrize("topic", [t for t in ingest.INGESTED_TOPICS if t != topics.DEAD_LETTER])
def test_every_proto_field_is_stored(topic):
    """Each topic's first pipeline keeps its whole message; every pipeline's
    columns are fields of that message (derived tables keep a subset)."""
    fields = {f.name for f in topics.MESSAGE_TYPES[topic].DESCRIPTOR.fields}
    first, *derived = ingest.PIPELINES_BY_TOPIC[topic]
    assert fields <= set(first.columns)
    for pipeline in derived:
        assert set(pipeline.columns) <= fields, pipeline.table


def test_dead_letters_keep_every_field():
    fields = {f.name for f in events_pb2.DeadLetter.DESCRIPTOR.fields}
    stored = {"source_topic", "partition", "offset", "key", "payload", "error", "consumer_group", "timestamp_us"}
    assert fields == stored      # stored as source_partition, source_offset, key_hex, payload_hex
    assert len(ingest.DEAD_LETTER_COLUMNS) == len(stored) + 1      # + event_id


@pytest.mark.parametrize("table", sorted(ingest.TABLES))
def test_every_ingested_table_is_partitioned_by_month_deduplicated_and_dropped_by_its_down(table):
    created_by, statement = _create_statement(table)
    assert "ReplacingMergeTree(ingested_us)" in statement
    assert "PARTITION BY toYYYYMM(day)" in statement
    assert "ingested_us UInt64" in statement     # 18.16 needs an unsigned version column
    assert f"DROP TABLE IF EXISTS {table}" in created_by.down
