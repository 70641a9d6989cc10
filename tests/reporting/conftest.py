"""Fixtures for the reporting integration tests: one ReportStore per test on a
unique database, parametrised over both engines the product runs on:

- ``server``: the real ClickHouse 18.16 server (clickhouse_address fixture);
- ``embedded``: chdb (ClickHouse 26.x in-process), the single-process mode's store.

A missing engine fails the test when CI is set, and skips it elsewhere.
"""
import os

import pytest

from hotline.common.settings import ClickHouseSettings
from hotline.reporting import sql
from hotline.reporting.store import EmbeddedStore, ServerStore

BACKENDS = [pytest.param("server", marks=pytest.mark.clickhouse, id="server"),
            pytest.param("embedded", id="embedded")]


def require_chdb() -> None:
    try:
        import chdb  # noqa: F401
    except ImportError:
        message = "chdb (the embedded ClickHouse) is not installed: pip install -e '.[embedded]' (make venv-embedded)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def clickhouse_settings(request, backend: str, database: str, tmp_path) -> ClickHouseSettings:
    if backend == "server":
        host, port = request.getfixturevalue("clickhouse_address")
        return ClickHouseSettings(host=host, port=port, database=database, backend="server")
    require_chdb()
    return ClickHouseSettings(database=database, backend="embedded", embedded_path=str(tmp_path / "chdb"))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def ch_settings(request, backend, unique_name, tmp_path) -> ClickHouseSettings:
    return clickhouse_settings(request, backend, unique_name, tmp_path)


@pytest.fixture
def store(ch_settings):
    s = ServerStore(ch_settings) if ch_settings.backend == "server" else EmbeddedStore(ch_settings)
    yield s
    if ch_settings.backend == "server":
        try:
            s.execute(f"DROP DATABASE IF EXISTS {sql.identifier(ch_settings.database)}")
        finally:
            s.close()
    else:
        s.close()


@pytest.fixture
def reporting_bus(kafka_bus):
    """The test's KafkaBus once the broker serves metadata for all of its topics.

    A consumer group that joins before a just-created topic's metadata is
    known is assigned none of its partitions until a later metadata refresh
    ("No partition metadata for topic ..."), which can outlast a test's wait.
    """
    import time

    from kafka import KafkaConsumer

    from hotline.common import topics

    wanted = {kafka_bus.full_name(t) for t in topics.MESSAGE_TYPES}
    probe = KafkaConsumer(bootstrap_servers=kafka_bus.settings.bootstrap_servers, client_id="hotline-test-probe")
    try:
        deadline = time.monotonic() + 30
        while True:
            known = probe.topics()
            if wanted <= known and all(probe.partitions_for_topic(name) for name in wanted):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"Kafka has no metadata for {sorted(wanted - known)} after 30 s")
            time.sleep(0.2)
    finally:
        probe.close()
    return kafka_bus
