"""``hotline migrate up / down / status`` round trips on a unique database,
through the command's own entry point (it opens and closes the store)."""
from hotline.common.settings import Settings
from hotline.reporting import migrations, sql
from hotline.reporting.store import open_store

TABLES = {"call_events", "cdrs", "agent_states", "queue_events", "recordings", "dead_letters"}


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


def test_migrate_round_trip(ch_settings, capsys):
    settings = Settings(clickhouse=ch_settings)
    try:
        code, out, _ = run(settings, "status", capsys=capsys)
        assert code == 0
        assert "0001_initial" in out and "pending" in out and "1 pending; schema is not current" in out

        code, out, _ = run(settings, capsys=capsys)                       # no argument: up
        assert code == 0
        assert "applied     0001_initial" in out and "schema is current" in out
        assert tables(ch_settings) == TABLES | {"schema_migrations"}

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

        code, out, _ = run(settings, "down", capsys=capsys)
        assert code == 0 and "rolled back 0001_initial" in out
        assert tables(ch_settings) == {"schema_migrations"}

        code, out, _ = run(settings, "status", capsys=capsys)
        assert "pending (rolled back" in out and "schema is not current" in out

        code, out, _ = run(settings, "down", "3", capsys=capsys)
        assert (code, "nothing to roll back" in out) == (0, True)

        code, out, _ = run(settings, "up", capsys=capsys)                 # and back up again
        assert code == 0 and "applied     0001_initial" in out
        assert tables(ch_settings) == TABLES | {"schema_migrations"}
    finally:
        if ch_settings.backend == "server":
            s = open_store(ch_settings)
            s.execute(f"DROP DATABASE IF EXISTS {ch_settings.database}")
            s.close()


def test_migrate_status_rolls_up_the_log(store):
    migrations.up(store)
    migrations.down(store)
    migrations.up(store)
    (status,) = migrations.status(store)
    assert (status.label, status.applied, status.known) == ("0001_initial", True, True)
    assert store.query("SELECT count() FROM schema_migrations") == [(3,)]


def test_a_newer_schema_is_tolerated_and_listed(store):
    migrations.up(store)
    store.insert("schema_migrations", ("version", "name", "applied", "at_us"), [(2, "from_the_future", 1, 1)])
    assert migrations.is_current(store)
    assert [(s.label, s.known) for s in migrations.status(store)] == [("0001_initial", True),
                                                                       ("0002_from_the_future", False)]


def test_a_bad_command_line_exits_2(capsys):
    assert migrations.main(Settings(), ["down", "many"]) == 2
    assert "N must be a whole number" in capsys.readouterr().err
