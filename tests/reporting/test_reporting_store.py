"""Both store backends against their real engines: quoting round trips,
types, and what happens when the server is not there."""
import socket

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hotline.common.errors import Unavailable
from hotline.common.settings import ClickHouseSettings
from hotline.reporting import sql
from hotline.reporting.store import QueryFailed, ServerStore, open_store

NASTY = ["", "plain", "it's", "\\", "\\'", "'; DROP TABLE cdrs; --", "line\nbreak", "tab\there", "nul\0byte",
         "\x01\x1f\x7f", "é 漢字 🙂", "{queue}", "`backquote`", "\"double\"", "\\x41", "100%_like"]


def test_string_literals_read_back_exactly(store):
    for text in NASTY:
        ((back, length),) = store.query(f"SELECT {sql.literal(text)} AS s, length(s) AS n")
        assert back == text
        assert length == len(text.encode("utf-8"))


def test_bytes_literals_read_back_exactly(store):
    data = bytes(range(256))
    ((back,),) = store.query(f"SELECT hex({sql.literal(data)}) AS h")
    assert bytes.fromhex(back) == data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_string_round_trips_through_the_engine(store, text):
    ((back,),) = store.query(f"SELECT {sql.literal(text)} AS s")
    assert back == text


def test_insert_and_query_types(store):
    store.execute("CREATE TABLE t (s String, i Int64, u UInt64, n Int32, f Float64) ENGINE = MergeTree ORDER BY i")
    rows = [(text, -i, 2**64 - 1 - i, i, i / 4) for i, text in enumerate(NASTY)]
    store.insert("t", ("s", "i", "u", "n", "f"), rows)
    assert store.query("SELECT s, i, u, n, f FROM t ORDER BY n") == rows
    for text in NASTY:
        assert store.query(sql.render("SELECT count() FROM t WHERE s = {s}", s=text)) == [(1,)]
    store.insert("t", ("s", "i", "u", "n", "f"), [])          # nothing to do, no error


def test_rows_inserted_column_by_column_read_back_as_rows(store):
    store.execute("CREATE TABLE t (s String, i Int64, u UInt64, n Int32, a Array(String)) "
                  "ENGINE = MergeTree ORDER BY i")
    columns = ("s", "i", "u", "n", "a")
    rows = [(text, -i, 2**64 - 1 - i, i, [text, "x"][:i % 3]) for i, text in enumerate(NASTY)]
    store.insert_columns("t", columns, [list(values) for values in zip(*rows)])
    assert store.query("SELECT s, i, u, n, a FROM t ORDER BY n") == [r[:4] + (list(r[4]),) for r in rows]
    store.insert_columns("t", columns, [])                   # nothing to do, no error
    store.insert_columns("t", columns, [[]] * len(columns))
    with pytest.raises(ValueError):                           # a column short: refused before sending
        store.insert_columns("t", columns, [["a"], [1], [2], [3], []])
    with pytest.raises(ValueError):                           # a column missing
        store.insert_columns("t", columns, [["a"], [1], [2], [3]])
    assert store.query("SELECT count() FROM t") == [(len(rows),)]
    # A String column may hold bytes (stored as they are), even mixed with str.
    store.insert_columns("t", ("s", "i"), [["é", b"\xc3\xa9", b"\xff"], [100, 101, 102]])
    assert store.query("SELECT hex(s) FROM t WHERE i >= 100 ORDER BY i") == [("C3A9",), ("C3A9",), ("FF",)]


def test_a_refused_statement_is_a_query_failed(store):
    with pytest.raises(QueryFailed):
        store.query("SELECT * FROM no_such_table")
    assert store.ping()


def test_open_store_picks_the_backend(ch_settings):
    s = open_store(ch_settings)
    try:
        assert s.backend == ch_settings.backend
        assert s.ping()
        assert s.database == ch_settings.database
        assert ch_settings.database in s.describe()
    finally:
        if s.backend == "server":
            s.execute(f"DROP DATABASE IF EXISTS {ch_settings.database}")
        s.close()


@pytest.mark.clickhouse
def test_the_server_store_creates_its_database(clickhouse_address, unique_name):
    host, port = clickhouse_address
    s = ServerStore(ClickHouseSettings(host=host, port=port, database=unique_name))
    try:
        assert s.query(sql.render("SELECT count() FROM system.databases WHERE name = {n}", n=unique_name)) == [(1,)]
        assert s.query("SELECT currentDatabase()") == [(unique_name,)]
    finally:
        s.execute(f"DROP DATABASE IF EXISTS {unique_name}")
        s.close()


@pytest.mark.clickhouse
def test_the_server_store_reconnects_after_the_connection_broke(clickhouse_address, unique_name):
    host, port = clickhouse_address
    s = ServerStore(ClickHouseSettings(host=host, port=port, database=unique_name), pool_size=1)
    try:
        assert s.ping()
        (client,) = s._idle
        client.connection.socket.shutdown(socket.SHUT_RDWR)     # the server "went away"
        assert s.query("SELECT 2") == [(2,)]
    finally:
        s.execute(f"DROP DATABASE IF EXISTS {unique_name}")
        s.close()


def test_an_unreachable_server_is_unavailable_with_a_clear_message():
    with socket.socket() as probe:                 # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = ServerStore(ClickHouseSettings(host="127.0.0.1", port=port, database="hotline"))
    with pytest.raises(Unavailable, match=f"ClickHouse server at 127.0.0.1:{port} is not reachable"):
        s.query("SELECT 1")
    assert s.ping() is False
    s.close()
