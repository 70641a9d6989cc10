"""Writing values into ClickHouse SQL text, safely. Pure: no I/O.

ClickHouse 18.16 (Debian's server) has no query parameters, so every value
that reaches SQL text (a queue name in a WHERE clause, a row in an embedded
INSERT) goes through :func:`literal`, and every name through
:func:`identifier`. Both backends of hotline.reporting.store use these.

String literals are single-quoted. Inside them ClickHouse reads backslash
escapes (``\\\\``, ``\\'``, ``\\n``, ``\\xHH``, ...), so a backslash and a quote
are escaped, and so is every control character (as ``\\xHH``) to keep the
text printable; the rest of a ``str`` stays as it is (UTF-8 on the wire).
``bytes`` escape every byte outside printable ASCII as ``\\xHH``, so any
binary value survives the trip. The same spelling is read the same way by
18.16 and by chdb's 26.x engine.
"""
from __future__ import annotations

import datetime
import math
import re
from typing import Any, Iterable

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Identifier(str):
    """A name (database, table, column) to be written as `name` by render()."""


class Sql(str):
    """A trusted SQL fragment written by Hotline's own code, inserted as it is by render()."""


def identifier(name: str) -> str:
    """Backquote a database, table or column name. Only [A-Za-z_][A-Za-z0-9_]* is accepted,
    so a name can neither close the quotes nor surprise an older server."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a valid ClickHouse identifier (letters, digits, underscore)")
    return f"`{name}`"


# A string with nothing to escape (the usual call id, queue, agent id).
_PLAIN = re.compile(r"[^\\'\x00-\x1f\x7f\ud800-\udfff]*\Z")


def _escape_str(text: str) -> str:
    if _PLAIN.match(text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError("string contains a lone surrogate (not encodable as UTF-8)")
        else:
            out.append(ch)
    return "".join(out)


def _escape_bytes(data: bytes) -> str:
    out = []
    for byte in data:
        if byte == 0x5C:
            out.append("\\\\")
        elif byte == 0x27:
            out.append("\\'")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02X}")
    return "".join(out)


def literal(value: Any) -> str:
    """One value as a ClickHouse literal.

    str/bytes -> quoted string; bool -> 1/0; int -> digits; float -> shortest
    round-tripping form (nan, inf, -inf spelled as ClickHouse does); None ->
    NULL; date -> 'YYYY-MM-DD'; list/tuple -> array [..]. Anything else is a
    TypeError rather than a guess.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return "'" + _escape_str(value) + "'"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "'" + _escape_bytes(bytes(value)) + "'"
    if isinstance(value, datetime.datetime):
        raise TypeError("datetime values are not written as literals: keep µs in Int64/UInt64 columns")
    if isinstance(value, datetime.date):
        return "'" + value.isoformat() + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no ClickHouse literal for {type(value).__name__}")


def in_list(values: Iterable[Any]) -> str:
    """``(v1, v2, ...)`` for ``x IN ...``; at least one value is required."""
    items = [literal(v) for v in values]
    if not items:
        raise ValueError("IN () needs at least one value")
    return "(" + ", ".join(items) + ")"


def row(values: Iterable[Any]) -> str:
    """``(v1, v2, ...)``: one row of an INSERT ... VALUES."""
    return "(" + ", ".join(literal(v) for v in values) + ")"


def render(template: str, **params: Any) -> str:
    """Fill ``{name}`` placeholders: values as literals, :class:`Identifier` as
    backquoted names, :class:`Sql` fragments as they are. A placeholder
    without a value is an error, never left in the text."""
    def fill(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name not in params:
            raise KeyError(f"SQL template needs a value for {{{name}}}")
        value = params[name]
        if isinstance(value, Identifier):
            return identifier(value)
        if isinstance(value, Sql):
            return str(value)
        return literal(value)

    return _PLACEHOLDER.sub(fill, template)


def insert_values(table: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A complete ``INSERT INTO t (c1, c2) VALUES (...), (...)`` statement."""
    cols = ", ".join(identifier(c) for c in columns)
    body = ", ".join(row(r) for r in rows)
    if not body:
        raise ValueError("INSERT needs at least one row")
    return f"INSERT INTO {identifier(table)} ({cols}) VALUES {body}"

