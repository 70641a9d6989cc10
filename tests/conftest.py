"""Shared fixtures. gevent patches the process first: every Hotline service
runs on gevent, and so do the tests that drive them.

Integration tests use the REAL dependencies that deploy/test.sh starts and
announces through HOTLINE_TEST_* variables. Without them a test fails when
CI is set (a missing dependency must never pass as a skip there) and skips
on a developer's machine.
"""
from hotline.common import runtime

runtime.init()

import os  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

from hotline.common import settings as settings_mod  # noqa: E402


def _require_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    message = f"{what} is not available: {name} is not set (run the tests through deploy/test.sh / make test)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _require_env("HOTLINE_TEST_KAFKA_BOOTSTRAP", "the Kafka broker")


@pytest.fixture(scope="session")
def clickhouse_address() -> tuple[str, int]:
    host = _require_env("HOTLINE_TEST_CLICKHOUSE_HOST", "the ClickHouse server")
    return host, int(os.environ.get("HOTLINE_TEST_CLICKHOUSE_PORT", "19000"))


@pytest.fixture
def unique_name() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def topic_prefix(unique_name: str) -> str:
    return f"test.{unique_name}."


@pytest.fixture
def kafka_bus(kafka_bootstrap: str, topic_prefix: str):
    from hotline.common.kafka import KafkaBus

    bus = KafkaBus(settings_mod.KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix,
                                              client_id="hotline-test"))
    bus.ensure_topics()
    yield bus
    bus.close()


@pytest.fixture
def inprocess_bus():
    from hotline.common.bus import InProcessBus

    bus = InProcessBus()
    yield bus
    bus.close()
