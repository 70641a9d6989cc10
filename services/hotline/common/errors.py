"""Domain errors. They know nothing about transport: each carries a stable
error id and details, and one gRPC interceptor (hotline.common.grpc) maps the
kinds to status codes."""
from __future__ import annotations

from typing import Any


class HotlineError(Exception):
    """Base of every error Hotline raises on purpose."""

    error_id = "hotline-error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidArgument(HotlineError):
    """A request field is missing or invalid. `field` names it (dotted path)."""

    error_id = "invalid-argument"

    def __init__(self, field: str, problem: str, **details: Any) -> None:
        super().__init__(f"{field}: {problem}", field=field, **details)
        self.field = field


class NotFound(HotlineError):
    error_id = "not-found"


class Conflict(HotlineError):
    """The request is valid but the current state does not allow it."""

    error_id = "conflict"


class Unauthenticated(HotlineError):
    error_id = "unauthenticated"


class PermissionDenied(HotlineError):
    error_id = "permission-denied"


class Unavailable(HotlineError):
    """A dependency (FreeSWITCH, Kafka, ClickHouse) is not reachable right now."""

    error_id = "unavailable"


class ConfigError(HotlineError):
    """A setting is missing or invalid; raised once at start-up."""

    error_id = "config-error"
