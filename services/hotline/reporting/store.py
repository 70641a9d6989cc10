"""The ClickHouse side of reporting: one small interface, two backends.

- :class:`ServerStore`: a ClickHouse server over the native protocol
  (clickhouse-driver). Creates its database if missing, reconnects when the
  server went away, and raises :class:`~hotline.common.errors.Unavailable`
  with the address when it cannot reach it.
- :class:`EmbeddedStore`: chdb (ClickHouse's engine in-process) for the
  single-process mode; data in ``embedded_path`` or a temporary directory.

Everything Hotline sends must run unchanged on Debian's ClickHouse 18.16
server and on chdb's 26.x engine; values reach SQL text only through
:mod:`hotline.reporting.sql`.
"""
from __future__ import annotations

import abc
import datetime
import json
import logging
import shutil
import tempfile
import threading
from typing import Any, Sequence

from hotline.common.errors import ConfigError, HotlineError, Unavailable
from hotline.common.settings import ClickHouseSettings
from hotline.reporting import sql

log = logging.getLogger(__name__)

Row = tuple[Any, ...]


class QueryFailed(HotlineError):
    """The engine refused a statement (bad SQL, missing table, ...)."""

    error_id = "query-failed"


class ReportStore(abc.ABC):
    """Execute DDL, insert rows, run queries: all reporting needs of ClickHouse."""

    backend: str = ""
    database: str = ""

    @abc.abstractmethod
    def execute(self, statement: str, *, repeatable: bool = True) -> None:
        """Run a statement that returns no rows (DDL, ALTER, ...). ``repeatable=False``:
        never re-send it after a lost connection (it may have run already and must
        not run twice, e.g. a roll-up recompute: its caller retries under a new version)."""

    @abc.abstractmethod
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows (tuples in ``columns`` order) into a table of this database."""

    def insert_columns(self, table: str, columns: Sequence[str], values: Sequence[list[Any]]) -> None:
        """Insert rows given column by column: ``values`` holds one list per
        name of ``columns``, all of one length (the ingest path: the server
        store sends them as they are, without building or transposing rows)."""
        _check_columns(columns, values)
        if values and values[0]:
            self.insert(table, columns, list(zip(*values)))

    @abc.abstractmethod
    def query(self, statement: str) -> list[Row]:
        """Run a SELECT; integers come back as int, floats as float, strings as str."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the data is, for logs and messages."""

    def ping(self) -> bool:
        """True when the engine answers."""
        try:
            return self.query("SELECT 1") == [(1,)]
        except HotlineError:
            return False

    def close(self) -> None:
        return None


def open_store(ch: ClickHouseSettings) -> ReportStore:
    """The store ``ch.backend`` names: "server" or "embedded"."""
    if ch.backend == "server":
        return ServerStore(ch)
    if ch.backend == "embedded":
        return EmbeddedStore(ch)
    raise ConfigError(f"HOTLINE_CLICKHOUSE_BACKEND={ch.backend!r}: expected 'server' or 'embedded'")


def _check_columns(columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    if values and (len(values) != len(columns) or len({len(v) for v in values}) != 1):
        raise ValueError(f"insert_columns: {len(columns)} column name(s), {len(values)} column(s) of "
                         f"{sorted({len(v) for v in values})} value(s): expected one list per name, all of one length")


def _check_database(name: str) -> str:
    try:
        sql.identifier(name)
    except ValueError:
        raise ConfigError(f"HOTLINE_CLICKHOUSE_DATABASE={name!r}: expected letters, digits and underscores") from None
    return name


class ServerStore(ReportStore):
    """A ClickHouse server over the native protocol (clickhouse-driver).

    Nothing connects until the first statement, so a service starts while
    ClickHouse is down and reports NOT_SERVING meanwhile. A small pool of
    connections lets the ingest consumer insert while gRPC requests query
    (one clickhouse-driver connection runs one query at a time).
    """

    backend = "server"
    CONNECT_TIMEOUT_S = 5
    SEND_RECEIVE_TIMEOUT_S = 60

    def __init__(self, ch: ClickHouseSettings, *, pool_size: int = 4) -> None:
        from clickhouse_driver import Client, errors as ch_errors

        self._Client = Client
        self._server_exception = ch_errors.ServerException
        self._network_errors: tuple[type[BaseException], ...] = (
            ch_errors.NetworkError, ch_errors.SocketTimeoutError, ch_errors.UnexpectedPacketFromServerError,
            EOFError, OSError)
        self.settings = ch
        self.database = _check_database(ch.database)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._database_ready = False

    def describe(self) -> str:
        return f"ClickHouse server {self.settings.host}:{self.settings.port} database {self.database}"

    def _new_client(self, database: str) -> Any:
        return self._Client(host=self.settings.host, port=self.settings.port, user=self.settings.user,
                            password=self.settings.password, database=database,
                            connect_timeout=self.CONNECT_TIMEOUT_S,
                            send_receive_timeout=self.SEND_RECEIVE_TIMEOUT_S,
                            client_name="hotline-reporting")

    def _ensure_database(self) -> None:
        if self._database_ready:
            return
        bootstrap = self._new_client("default")
        try:
            bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS {sql.identifier(self.database)}")
        finally:
            bootstrap.disconnect()
        self._database_ready = True

    def _run(self, what: str, *args: Any, repeatable: bool = True, **kwargs: Any) -> Any:
        """Run client.execute with one reconnect on a broken connection.

        Repeating a statement after a network error is safe for most: DDL says
        IF (NOT) EXISTS, and a repeated raw insert is a duplicate that every
        query dedupes (docs/metrics.md, "Idempotency"). A roll-up recompute is
        not (its rows are summed under one version), so it passes
        ``repeatable=False`` and is sent at most once."""
        self._slots.acquire()
        try:
            with self._lock:
                client = self._idle.pop() if self._idle else None
            last: BaseException | None = None
            for attempt in range(2 if repeatable else 1):
                try:
                    self._ensure_database()
                    if client is None:
                        client = self._new_client(self.database)
                    result = client.execute(*args, **kwargs)
                    with self._lock:
                        self._idle.append(client)
                    return result
                except self._server_exception as exc:
                    if client is not None:
                        with self._lock:
                            self._idle.append(client)
                    raise QueryFailed(f"ClickHouse refused {what}: {_first_line(exc)}") from exc
                except self._network_errors as exc:
                    last = exc
                    if client is not None:
                        if attempt == 0:
                            log.warning("%s: connection lost (%s); reconnecting", self.describe(), exc)
                        _disconnect(client)
                    client = None
                except BaseException:
                    if client is not None:        # in an unknown state: never reuse it
                        _disconnect(client)
                    raise
            raise Unavailable(f"ClickHouse server at {self.settings.host}:{self.settings.port} "
                              f"is not reachable: {last}") from last
        finally:
            self._slots.release()

    def execute(self, statement: str, *, repeatable: bool = True) -> None:
        self._run("a statement", statement, repeatable=repeatable)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cols = ", ".join(sql.identifier(c) for c in columns)
        self._run(f"an insert into {table}", f"INSERT INTO {sql.identifier(table)} ({cols}) VALUES",
                  [tuple(r) for r in rows])

    def insert_columns(self, table: str, columns: Sequence[str], values: Sequence[list[Any]]) -> None:
        _check_columns(columns, values)
        if not values or not values[0]:
            return
        cols = ", ".join(sql.identifier(c) for c in columns)
        # columnar=True: the driver packs each list as it is (nothing transposed).
        self._run(f"an insert into {table}", f"INSERT INTO {sql.identifier(table)} ({cols}) VALUES",
                  [_utf8(v) for v in values], columnar=True)

    def query(self, statement: str) -> list[Row]:
        return [tuple(r) for r in self._run("a query", statement)]

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            _disconnect(client)


_ENCODE = str.encode


def _utf8(values: list[Any]) -> list[Any]:
    """A column of str as UTF-8 bytes, any other column as it is.

    clickhouse-driver writes a String column's bytes as they are, and encodes
    each str itself through a Python-level method call: measured 83 ns per
    str value against 26 ns per bytes value, 64 ns even for ""; encoding the
    column with one ``map`` first costs ~30 ns per value, and an all-empty
    column (an unset optional field) none. The driver encodes str as UTF-8
    too (strictly), so the same bytes reach the server."""
    if not values or type(values[0]) is not str:
        return values
    if not any(values):
        return [b""] * len(values)
    try:
        return list(map(_ENCODE, values))
    except TypeError:                 # not a str column after all: the driver checks it
        return values


def _disconnect(client: Any) -> None:
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001 - closing what may be broken already
        pass


class EmbeddedStore(ReportStore):
    """ClickHouse's engine in this process (chdb) for the single-process mode.

    chdb runs one embedded server per process, on one data directory at a
    time: open one EmbeddedStore and share it. Its calls block in C++, so
    they run on gevent's thread pool (when gevent is in use), one at a time.
    """

    backend = "embedded"

    def __init__(self, ch: ClickHouseSettings) -> None:
        try:
            from chdb import session as chdb_session
        except ImportError:
            raise ConfigError("HOTLINE_CLICKHOUSE_BACKEND=embedded needs chdb: install hotline[embedded]") from None
        self.database = _check_database(ch.database)
        self._temporary = not ch.embedded_path
        self.path = ch.embedded_path or tempfile.mkdtemp(prefix="hotline-chdb-")
        self._lock = threading.Lock()
        try:
            self._session = chdb_session.Session(self.path)
        except Exception as exc:  # noqa: BLE001 - chdb raises RuntimeError subclasses
            self._cleanup_dir()
            raise Unavailable(f"embedded ClickHouse (chdb) cannot open {self.path}: {_first_line(exc)}") from exc
        self._raw(f"CREATE DATABASE IF NOT EXISTS {sql.identifier(self.database)}", "CSV")
        self._raw(f"USE {sql.identifier(self.database)}", "CSV")

    def describe(self) -> str:
        return f"embedded ClickHouse (chdb) at {self.path} database {self.database}"

    def _raw(self, statement: str, fmt: str) -> bytes:
        if self._session is None:
            raise Unavailable("the embedded ClickHouse store is closed")

        session = self._session

        def run() -> bytes:
            result = session.query(statement, fmt)
            return bytes(result.bytes()) if result is not None else b""

        try:
            # The lock is taken by the calling greenlet (it is gevent's lock once
            # patched), the blocking call runs on a real thread meanwhile.
            with self._lock:
                return _off_the_hub(run)
        except HotlineError:
            raise
        except Exception as exc:  # noqa: BLE001 - chdb's ChdbError is a RuntimeError
            raise QueryFailed(f"embedded ClickHouse refused a statement: {_first_line(exc)}") from exc

    def execute(self, statement: str, *, repeatable: bool = True) -> None:
        self._raw(statement, "CSV")          # in process: nothing is re-sent

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        self._raw(sql.insert_values(table, columns, rows), "CSV")

    def query(self, statement: str) -> list[Row]:
        body = self._raw(statement, "JSONCompact")
        if not body.strip():
            return []
        doc = json.loads(body)
        converters = [_converter(col["type"]) for col in doc["meta"]]
        return [tuple(conv(v) for conv, v in zip(converters, values)) for values in doc["data"]]

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with self._lock:
                session.close()
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        if self._temporary:
            shutil.rmtree(self.path, ignore_errors=True)


def _off_the_hub(fn: Any) -> Any:
    """Run a blocking C call on gevent's thread pool when gevent is running this
    thread's hub, so other greenlets keep going; directly otherwise."""
    try:
        import gevent
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return fn()
    if not monkey.is_module_patched("threading"):
        return fn()
    return gevent.get_hub().threadpool.apply(fn)


def _converter(type_name: str) -> Any:
    inner = type_name
    nullable = inner.startswith("Nullable(")
    if nullable:
        inner = inner[len("Nullable("):-1]
    if inner.startswith(("Int", "UInt")):
        base: Any = int
    elif inner.startswith("Float"):
        base = float
    elif inner == "Date":
        base = datetime.date.fromisoformat
    else:
        return lambda v: v
    return lambda v: None if v is None else base(v)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
