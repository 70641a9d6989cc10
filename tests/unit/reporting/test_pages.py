"""Page sizes and page tokens (hotline.reporting.pages): hermetic."""
import base64
import json

import pytest

from hotline.common.errors import InvalidArgument
from hotline.reporting import pages, queries

S = 1_000_000
Q = queries.IntervalQuery(from_us=1_709_283_600 * S, to_us=1_709_287_200 * S)


def test_page_size_defaults_and_bounds():
    assert pages.check_page_size(0) == pages.DEFAULT_PAGE_SIZE == 1000
    assert pages.check_page_size(1) == 1 and pages.check_page_size(10_000) == 10_000
    for bad in (-1, 10_001, 2**31 - 1):
        with pytest.raises(InvalidArgument) as caught:
            pages.check_page_size(bad)
        assert caught.value.field == "page_size" and str(bad) in str(caught.value)


def test_a_token_round_trips_and_names_the_row_it_continues_after():
    for after in (("sales", Q.from_us), ("", 0), ("x'\"; DROP", 2**62), ("é☎", 5)):
        token = pages.encode_token(Q, after)
        assert token.isascii() and "=" not in token
        assert pages.decode_token(Q, token) == after
    assert pages.decode_token(Q, "") is None
    page = pages.page(Q, 0, pages.encode_token(Q, ("a", 1)))
    assert (page.size, page.after, page.first) == (1000, ("a", 1), False)
    assert pages.page(Q, 7, "").first


def b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize("token", [
    "%%%", "abc", b64("just a string"), b64([1, "x", "a"]), b64([2, pages.fingerprint(Q), "a", 1]),
    b64([1, pages.fingerprint(Q), "a", "1"]), b64([1, pages.fingerprint(Q), 3, 1]),
    b64([1, pages.fingerprint(Q), "a", 1.5]), b64([1, pages.fingerprint(Q), "a", True]),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_a_malformed_token_names_page_token(token):
    with pytest.raises(InvalidArgument) as caught:
        pages.decode_token(Q, token)
    assert caught.value.field == "page_token"


def test_a_token_continues_only_its_own_request():
    token = pages.encode_token(Q, ("sales", Q.from_us))
    for other in (queries.IntervalQuery(from_us=Q.from_us, to_us=Q.to_us, threshold_s=30),
                  queries.IntervalQuery(from_us=Q.from_us, to_us=Q.to_us, group_by="agent"),
                  queries.IntervalQuery(from_us=Q.from_us, to_us=Q.to_us + 900 * S),
                  queries.AgentQuery(from_us=Q.from_us, to_us=Q.to_us)):
        with pytest.raises(InvalidArgument) as caught:
            pages.decode_token(other, token)
        assert caught.value.field == "page_token" and "different request" in str(caught.value)


def test_the_size_is_checked_before_the_token():
    with pytest.raises(InvalidArgument) as caught:
        pages.page(Q, -1, "garbage")
    assert caught.value.field == "page_size"


def test_a_page_window_takes_keys_until_the_page_is_full():
    index = [("a", 0), ("b", 3), ("c", 0), ("d", 2), ("e", 5)]
    assert queries._window(index, 1) == ("b", "b", 10)
    assert queries._window(index, 3) == ("b", "b", 10)
    assert queries._window(index, 4) == ("b", "d", 10)
    assert queries._window(index, 100) == ("b", "e", 10)
    assert queries._window([("a", 0)], 5) == (None, None, 0)
