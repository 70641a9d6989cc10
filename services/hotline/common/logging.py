"""Structured JSON logs to stdout, with the call UUID (and tenant) bound as
context. Services use ``logging.getLogger(__name__)`` with lazy ``%s``
arguments; :func:`bind` adds context for the current greenlet."""
from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import sys
from typing import Any, Iterator

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("hotline_log_context", default={})


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add fields (call_uuid=..., agent_id=...) to every log record in this block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind_forever(**fields: Any) -> None:
    """Add fields for the rest of the current greenlet's (context's) life."""
    _context.set({**_context.get(), **fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_context.get())
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ContextTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ctx = _context.get()
        if ctx:
            text += " " + " ".join(f"{k}={v}" for k, v in ctx.items())
        return text


def configure(level: str = "INFO", json_output: bool = True, stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if json_output else
                         ContextTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Chatty libraries stay at WARNING unless asked otherwise.
    for noisy in ("kafka", "clickhouse_driver", "greenswitch"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
