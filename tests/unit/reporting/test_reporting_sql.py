"""Literal quoting for ClickHouse SQL (hermetic). The same spellings are
checked against both real engines in tests/reporting/test_reporting_store.py."""
import datetime
import re

import pytest
from hypothesis import given, strategies as st

from hotline.reporting import sql


def read_clickhouse_string(text: str) -> bytes:
    """Read a single-quoted ClickHouse string literal the way the server's
    lexer does (backslash escapes), returning its bytes."""
    assert text[0] == "'" and text[-1] == "'", text
    body = text[1:-1]
    out = bytearray()
    i = 0
    simple = {"b": b"\b", "f": b"\f", "r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "a": b"\a", "v": b"\v"}
    while i < len(body):
        ch = body[i]
        if ch == "'":
            raise AssertionError(f"unescaped quote at {i} in {text!r}")
        if ch == "\\":
            nxt = body[i + 1]
            if nxt == "x":
                out += bytes([int(body[i + 2:i + 4], 16)])
                i += 4
                continue
            out += simple.get(nxt, nxt.encode())
            i += 2
            continue
        out += ch.encode("utf-8")
        i += 1
    return bytes(out)


@pytest.mark.parametrize("value, expected", [
    ("plain", "'plain'"),
    ("it's", "'it\\'s'"),
    ("back\\slash", "'back\\\\slash'"),
    ("line\nbreak\ttab\r", "'line\\x0Abreak\\x09tab\\x0D'"),
    ("nul\0", "'nul\\x00'"),
    ("del\x7f", "'del\\x7F'"),
    ("\\'", "'\\\\\\''"),
    ("accent é and 漢字", "'accent é and 漢字'"),
    ("", "''"),
    ("x' OR 1=1 --", "'x\\' OR 1=1 --'"),
])
def test_strings_are_quoted_and_escaped(value, expected):
    assert sql.literal(value) == expected


@given(st.text())
def test_any_string_reads_back_as_itself(text):
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        with pytest.raises(ValueError):
            sql.literal(text)
        return
    quoted = sql.literal(text)
    assert read_clickhouse_string(quoted) == text.encode("utf-8")
    # Nothing but the outer quotes is an unescaped quote.
    assert not re.search(r"(?<!\\)(\\\\)*'", quoted[1:-1])


@given(st.binary())
def test_any_bytes_read_back_as_themselves_and_stay_printable_ascii(data):
    quoted = sql.literal(data)
    assert read_clickhouse_string(quoted) == data
    assert all(0x20 <= ord(c) < 0x7F for c in quoted)


@pytest.mark.parametrize("value, expected", [
    (0, "0"), (42, "42"), (-7, "-7"), (2**63 - 1, "9223372036854775807"), (2**64 - 1, "18446744073709551615"),
    (True, "1"), (False, "0"), (None, "NULL"),
    (1.5, "1.5"), (-0.25, "-0.25"), (1e20, "1e+20"),
    (float("nan"), "nan"), (float("inf"), "inf"), (float("-inf"), "-inf"),
    (datetime.date(2024, 3, 1), "'2024-03-01'"),
    ([1, "a'b"], "[1, 'a\\'b']"),
])
def test_other_values(value, expected):
    assert sql.literal(value) == expected


def test_unsupported_values_are_refused():
    with pytest.raises(TypeError):
        sql.literal(datetime.datetime(2024, 3, 1))
    with pytest.raises(TypeError):
        sql.literal(object())
    with pytest.raises(TypeError):
        sql.literal({"a": 1})


@pytest.mark.parametrize("name", ["cdrs", "_x", "t9b2a", "Queue_Events"])
def test_identifiers(name):
    assert sql.identifier(name) == f"`{name}`"


@pytest.mark.parametrize("name", ["", "9lives", "a-b", "a b", "a`b", "x; DROP TABLE y", "é", "db.table"])
def test_bad_identifiers_are_refused(name):
    with pytest.raises(ValueError):
        sql.identifier(name)


def test_render_fills_values_identifiers_and_fragments():
    text = sql.render("SELECT {col} FROM {table} WHERE queue = {queue} AND n IN {nums}{extra}",
                      col=sql.Identifier("queue"), table=sql.Identifier("cdrs"), queue="a'}{b",
                      nums=[1, 2], extra=sql.Sql(" LIMIT 1"))
    assert text == "SELECT `queue` FROM `cdrs` WHERE queue = 'a\\'}{b' AND n IN [1, 2] LIMIT 1"


def test_render_refuses_a_missing_value():
    with pytest.raises(KeyError):
        sql.render("SELECT {x}")


def test_insert_values_and_in_list():
    assert sql.insert_values("t", ["a", "b"], [(1, "x"), (2, "y'")]) == \
        "INSERT INTO `t` (`a`, `b`) VALUES (1, 'x'), (2, 'y\\'')"
    assert sql.in_list(["a", 1]) == "('a', 1)"
    with pytest.raises(ValueError):
        sql.in_list([])
    with pytest.raises(ValueError):
        sql.insert_values("t", ["a"], [])
    with pytest.raises(ValueError):
        sql.insert_values("t; x", ["a"], [(1,)])
