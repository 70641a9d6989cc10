"""Fixtures for the FreeSWITCH simulator tests: a started switch per test."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from hotline.simulator import Switch

from .esl_client import OutboundServer


@pytest.fixture
def make_switch(tmp_path: Path) -> Iterator[Callable[..., Switch]]:
    """Build and start switches (esl_port=0); all are stopped after the test."""
    started: list[Switch] = []

    def make(**kwargs: Any) -> Switch:
        kwargs.setdefault("esl_port", 0)
        kwargs.setdefault("recordings_dir", str(tmp_path / "recordings"))
        kwargs.setdefault("media_scale", 0.1)
        sw = Switch(**kwargs)
        sw.start()
        started.append(sw)
        return sw

    yield make
    for sw in started:
        sw.stop()


@pytest.fixture
def switch(make_switch: Callable[..., Switch]) -> Switch:
    return make_switch()


@pytest.fixture
def outbound_server() -> Iterator[OutboundServer]:
    server = OutboundServer()
    yield server
    server.close()
