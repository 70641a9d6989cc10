"""Fixtures for the FreeSWITCH adapter tests."""
from __future__ import annotations

import gevent
import pytest


@pytest.fixture
def hub_errors(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, type, BaseException]]:
    """Exceptions that escaped a greenlet (gevent would print them and go on):
    the adapter must never let one out."""
    errors: list[tuple[object, type, BaseException]] = []
    hub = gevent.get_hub()
    original = hub.handle_error

    def handle_error(context, type_, value, tb):  # type: ignore[no-untyped-def]
        if not issubclass(type_, gevent.GreenletExit):
            errors.append((context, type_, value))
        return original(context, type_, value, tb)

    monkeypatch.setattr(hub, "handle_error", handle_error)
    return errors
