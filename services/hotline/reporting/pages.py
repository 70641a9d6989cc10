"""Pages of the long reports (Google AIP-158 pagination): page sizes and
page tokens. Pure: no I/O.

A report is read in pages of at most ``page_size`` rows, in the report's
order (member, then interval start). A page token is opaque to clients: it
names the last row sent (member, interval start) — the next page starts
after it, so a page never repeats or skips a row even when a
recompute adds rows meanwhile — and a fingerprint of the request it
continues, so a token used with other request fields (another range, another
threshold, ...) is refused instead of paging a different report. Only
``page_size`` may change from one page to the next.

Every bad value raises InvalidArgument naming the field (``page_size`` or
``page_token``).
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from typing import Any

from hotline.common.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 1000      # page_size 0
MAX_PAGE_SIZE = 10_000        # ~1.4 MB of IntervalRows: well under gRPC's 4 MB message limit
_TOKEN_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Page:
    """Which page to read: at most ``size`` rows after ``after`` (member,
    interval start); ``after`` None is the first page."""

    size: int = DEFAULT_PAGE_SIZE
    after: tuple[str, int] | None = None

    @property
    def first(self) -> bool:
        return self.after is None


def check_page_size(value: int) -> int:
    """0 means the default (1000); 1 .. 10000 rows; anything else is refused."""
    if value == 0:
        return DEFAULT_PAGE_SIZE
    if value < 0 or value > MAX_PAGE_SIZE:
        raise InvalidArgument("page_size", f"must be between 1 and {MAX_PAGE_SIZE} rows, or 0 for the default "
                                           f"({DEFAULT_PAGE_SIZE}), not {value}")
    return value


def fingerprint(query: Any) -> str:
    """A short digest of a report query's fields (a frozen dataclass): a token
    carries it so that it only continues the report it came from."""
    fields = [type(query).__name__] + [[f.name, getattr(query, f.name)] for f in dataclasses.fields(query)]
    return hashlib.blake2b(json.dumps(fields).encode(), digest_size=8).hexdigest()


def encode_token(query: Any, after: tuple[str, int]) -> str:
    body = json.dumps([_TOKEN_VERSION, fingerprint(query), after[0], after[1]], separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_token(query: Any, token: str) -> tuple[str, int] | None:
    """The row a page token continues after; "" (the first page) is None."""
    if not token:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidArgument("page_token", "is not a page token of this service (pass next_page_token "
                                            "unchanged, or leave it empty for the first page)") from None
    if (not isinstance(body, list) or len(body) != 4 or body[0] != _TOKEN_VERSION
            or not isinstance(body[2], str) or type(body[3]) is not int or not isinstance(body[1], str)):
        raise InvalidArgument("page_token", "is not a page token of this service (pass next_page_token "
                                            "unchanged, or leave it empty for the first page)")
    if body[1] != fingerprint(query):
        raise InvalidArgument("page_token", "belongs to a different request: every field but page_size must "
                                            "stay as it was for the first page")
    return body[2], body[3]


def page(query: Any, page_size: int, page_token: str) -> Page:
    """A request's page_size and page_token, checked (the size first)."""
    size = check_page_size(page_size)
    return Page(size=size, after=decode_token(query, page_token))
