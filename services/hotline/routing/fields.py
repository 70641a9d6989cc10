"""Field paths and plain-dict records for the routing configuration objects
(calendars, number lists, routing rules): validation errors name the exact
field, e.g. "hours[2].open" or "rules[3].ani_list"."""
from __future__ import annotations

from typing import Any, Mapping

from hotline.common.errors import InvalidArgument


def at(prefix: str, name: str) -> str:
    """The path of `name` inside `prefix` ("" at the top)."""
    return f"{prefix}.{name}" if prefix else name


def record(data: Any, field: str, what: str, kinds: Mapping[str, type], required: tuple[str, ...]) -> dict[str, Any]:
    """The fields of a plain dict, type-checked; unknown and missing fields are errors."""
    if not isinstance(data, Mapping):
        raise InvalidArgument(field or what, "must be an object")
    for key in data:
        if key not in kinds:
            raise InvalidArgument(at(field, str(key)), "is not a known field")
    for key in required:
        if key not in data:
            raise InvalidArgument(at(field, key), "is required")
    for key, value in data.items():
        kind = kinds[key]
        ok = (isinstance(value, (list, tuple)) if kind is list else
              isinstance(value, int) and not isinstance(value, bool) if kind is int else isinstance(value, kind))
        if not ok:
            noun = {str: "a string", int: "an integer", list: "a list", bool: "true or false"}[kind]
            raise InvalidArgument(at(field, key), f"must be {noun}")
    return dict(data)
