"""``hotline migrate up / down / status`` round trips on a unique database,
through the command's own entry point (it opens and closes the store)."""
from hotline.common.settings import Settings
from hotline.reporting import migrations, sql
from hotline.reporting.store import open_store

TABLES = {"call_events", "cdrs", "agent_states", "queue_events", "recordings", "dead_letters",
          "cdr_legs", "ivr_visits", "call_stats_15m", "agent_time_15m", "ivr_stats_15m", "rollup_versions"}
# The tables 0003 adds, so rolling it back can be checked (0004 adds none: it repartitions).
ADDED_BY_0003 = {"cdr_legs", "ivr_visits", "call_stats_15m", "agent_time_15m", "ivr_stats_15m", "rollup_versions"}
DAILY = ("agent_states", "queue_events", "call_stats_15m", "agent_time_15m")


def run(settings, *argv, capsys):
    code = migrations.main(settings, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tables(ch):
    s = open_store(ch)
    try:
        rows = s.query(sql.render("SELECT name FROM system.tables WHERE database = {db}", db=ch.database))
        return {name for (name,) in rows}
    finally:
        s.close()


def columns(ch_settings, table):
    s = open_store(ch_settings)
    try:
        return {name for (name,) in s.query(
            f"SELECT name FROM system.columns WHERE database = '{ch_settings.database}' AND table = '{table}'")}
    finally:
        s.close()


def partition_key(ch_settings, table):
    s = open_store(ch_settings)
    try:
        (create,), = s.query(f"SHOW CREATE TABLE {ch_settings.database}.{table}")
    finally:
        s.close()
    return create.split("PARTITION BY ", 1)[1].split("ORDER BY", 1)[0].strip()


def test_migrate_round_trip(ch_settings, capsys):
    settings = Settings(clickhouse=ch_settings)
    labels = [m.label for m in migrations.MIGRATIONS]
    assert labels[:2] == ["0001_initial", "0002_acd_overflow_callbacks"]
    try:
        code, out, _ = run(settings, "status", capsys=capsys)
        assert code == 0
        assert all(label in out for label in labels) and "pending" in out
        assert f"{len(labels)} pending; schema is not current" in out

        code, out, _ = run(settings, capsys=capsys)                       # no argument: up
        assert code == 0 and "schema is current" in out
        assert all(f"applied     {label}" in out for label in labels)
        assert tables(ch_settings) == TABLES | {"schema_migrations"}
        assert "destination" in columns(ch_settings, "queue_events")     # 0002's columns

        code, out, _ = run(settings, "up", capsys=capsys)                 # again: nothing to do
        assert (code, "nothing to apply" in out) == (0, True)

        code, out, _ = run(settings, "status", capsys=capsys)
        assert "0001_initial             applied" in out and "0 pending; schema is current" in out

        s = open_store(ch_settings)
        try:
            assert migrations.is_current(s)
            assert [m.label for m in migrations.pending(s)] == []
        finally:
            s.close()

        assert {t: partition_key(ch_settings, t) for t in DAILY} == {t: "day" for t in DAILY}
        assert partition_key(ch_settings, "cdrs") == "toYYYYMM(day)"

        code, out, _ = run(settings, "down", capsys=capsys)               # the latest one only
        assert code == 0 and f"rolled back {labels[-1]}" in out
        assert tables(ch_settings) == TABLES | {"schema_migrations"}
        assert {t: partition_key(ch_settings, t) for t in DAILY} == {t: "toYYYYMM(day)" for t in DAILY}

        code, out, _ = run(settings, "down", capsys=capsys)               # 0003
        assert code == 0 and "rolled back 0003_reporting_rollups" in out
        assert tables(ch_settings) == (TABLES - ADDED_BY_0003) | {"schema_migrations"}
        assert "ring_us" not in columns(ch_settings, "cdrs")
        assert "destination" in columns(ch_settings, "queue_events")     # 0002 stays

        code, out, _ = run(settings, "status", capsys=capsys)
        assert "pending (rolled back" in out and "schema is not current" in out

        code, out, _ = run(settings, "down", str(len(labels)), capsys=capsys)   # all the rest
        assert code == 0 and "rolled back 0001_initial" in out
        assert tables(ch_settings) == {"schema_migrations"}

        code, out, _ = run(settings, "down", "3", capsys=capsys)
        assert (code, "nothing to roll back" in out) == (0, True)

        code, out, _ = run(settings, "up", capsys=capsys)                 # and back up again
        assert code == 0 and all(f"applied     {label}" in out for label in labels)
        assert tables(ch_settings) == TABLES | {"schema_migrations"}
        assert "destination" in columns(ch_settings, "queue_events")
    finally:
        if ch_settings.backend == "server":
            s = open_store(ch_settings)
            s.execute(f"DROP DATABASE IF EXISTS {ch_settings.database}")
            s.close()


def test_migrate_status_rolls_up_the_log(store):
    migrations.up(store)
    migrations.down(store)            # the latest migration
    migrations.up(store)
    statuses = migrations.status(store)
    assert [(s.label, s.applied, s.known) for s in statuses] == [
        (m.label, True, True) for m in migrations.MIGRATIONS]
    # one row per migration applied, one for the rollback, one for applying it again
    assert store.query("SELECT count() FROM schema_migrations") == [(len(migrations.MIGRATIONS) + 2,)]


def test_a_newer_schema_is_tolerated_and_listed(store):
    migrations.up(store)
    future = len(migrations.MIGRATIONS) + 1
    store.insert("schema_migrations", ("version", "name", "applied", "at_us"), [(future, "from_the_future", 1, 1)])
    assert migrations.is_current(store)
    assert [(s.label, s.known) for s in migrations.status(store)] == [
        *[(m.label, True) for m in migrations.MIGRATIONS], (f"{future:04d}_from_the_future", False)]


def test_a_bad_command_line_exits_2(capsys):
    assert migrations.main(Settings(), ["down", "many"]) == 2
    assert "N must be a whole number" in capsys.readouterr().err


def test_daily_partitions_keep_every_row_both_ways(store):
    """0004 copies agent_states, queue_events and the two roll-ups into daily
    partitions and back; no row is lost or doubled, the day column stays."""
    migrations.up(store, migrations.MIGRATIONS[:3])
    day_us = 86_400 * 1_000_000
    store.insert("agent_states", ("event_id", "agent_id", "state", "timestamp_us", "ingested_us"),
                 [(f"e{i}", f"a{i % 3}", "READY", 1_700_000_000_000_000 + i * day_us // 2, 1) for i in range(10)])
    store.insert("call_stats_15m", ("dimension", "member", "bucket_us", "offered", "version"),
                 [("queue", "q1", 1_700_000_100_000_000 + i * day_us, i, 7) for i in range(5)])

    def contents():
        return (store.query("SELECT event_id, agent_id, timestamp_us, day FROM agent_states ORDER BY event_id"),
                store.query("SELECT bucket_us, offered, version, day FROM call_stats_15m ORDER BY bucket_us"))

    before = contents()
    assert len(before[0]) == 10 and len(before[1]) == 5
    migrations.up(store)
    assert contents() == before
    assert len(store.query("SELECT DISTINCT partition FROM system.parts WHERE active AND table = 'agent_states' "
                           f"AND database = {sql.literal(store.database)}")) == 6     # 10 half-days
    migrations.down(store)
    assert contents() == before
