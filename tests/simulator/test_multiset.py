"""mod_dptools multiset in the simulator, as FreeSWITCH 1.10 parses it:
`[^^<delim>]var=value var2=value2`, each part handled like `set`."""
from __future__ import annotations

import pytest

from hotline.simulator.apps import app_multiset


class _Channel:
    def __init__(self) -> None:
        self.variables: dict[str, str | None] = {"old": "1"}

    def set_var(self, name: str, value: str | None) -> None:
        self.variables[name] = value


@pytest.mark.parametrize("data, expected", [
    ("a=1 b=two", {"a": "1", "b": "two"}),                         # default delimiter: a space
    ("^^;a=x y;b=2", {"a": "x y", "b": "2"}),                       # ^^<delim>: values may hold spaces
    ("^^|a=1||b=", {"a": "1", "b": None}),                          # empty parts skipped; empty value unsets
    ("^^;old=", {"old": None}),
])
def test_multiset_sets_each_part_like_set(data: str, expected: dict[str, str | None]) -> None:
    ch = _Channel()
    app_multiset(ch, data)  # type: ignore[arg-type]
    assert {k: ch.variables.get(k) for k in expected} == expected
