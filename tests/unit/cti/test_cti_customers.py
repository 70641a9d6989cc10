"""The customer store: number normalisation, records, history (hermetic: SQLite in tmp_path)."""
import random

import gevent
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.common.errors import InvalidArgument
from hotline.cti.customers import CustomerStore, disposition_name, phone_key
from hotline.proto.events.v1 import events_pb2 as ev


@pytest.mark.parametrize("raw", ["+15551234567", "15551234567", "+1 555 123 4567", "+1 (555) 123-4567",
                                 "1-555-123-4567", " +1.555.123.4567 ", "1/555/1234567"])
def test_formatting_and_a_leading_plus_do_not_matter(raw):
    assert phone_key(raw) == "15551234567"


def test_no_national_rewriting_is_done():
    assert phone_key("5551234567") != phone_key("+15551234567")
    assert phone_key("0015551234567") == "0015551234567"


@pytest.mark.parametrize("raw", ["", "   ", "+", "anonymous", "++15551234567", "555-CALL-NOW", "1" * 21,
                                 "sip:1001@example.com", "１２３"])
def test_what_is_not_a_phone_number_is_rejected_naming_the_field(raw):
    with pytest.raises(InvalidArgument) as e:
        phone_key(raw)
    assert e.value.field == "phone"


@given(st.from_regex(r"[0-9]{1,20}", fullmatch=True),
       st.lists(st.sampled_from([" ", "-", "(", ")", "."]), max_size=5), st.booleans())
def test_any_formatting_of_a_number_has_the_same_key(digits, noise, plus):
    decorated = ("+" if plus else "") + "".join(n + d for n, d in zip(noise + [""] * len(digits), digits))
    assert phone_key(decorated) == digits


@pytest.fixture
def store(tmp_path):
    s = CustomerStore(str(tmp_path / "db" / "customers.sqlite3"), history_limit=3)
    yield s
    s.close()


def cdr(call_uuid, ani, start_us, **kw):
    return ev.Cdr(event_id=f"cdr:{call_uuid}", call_uuid=call_uuid, ani=ani, start_us=start_us, **kw)


def test_an_unknown_number_is_not_known_and_keeps_the_number(store):
    customer = store.lookup("+1 555 000 0000")
    assert not customer.known and customer.phone == "+1 555 000 0000" and not customer.customer_id


def test_upsert_then_lookup_by_any_spelling_of_the_number(store):
    created = store.upsert("+1 (555) 123-4567", name="Ada Lovelace", email="ada@example.com",
                           company="Analytical Engines", notes="VIP", customer_id="C-42")
    assert created.known and created.customer_id == "C-42"
    for spelling in ("15551234567", "+15551234567", "1-555-123-4567"):
        found = store.lookup(spelling)
        assert found.known and found.name == "Ada Lovelace" and found.company == "Analytical Engines"
        assert found.phone == "+1 (555) 123-4567"


def test_upsert_of_the_same_number_updates_the_record_and_keeps_its_id(store):
    first = store.upsert("+15551234567", name="Ada")
    second = store.upsert("15551234567", name="Ada Lovelace", notes="now a VIP", customer_id="ignored")
    assert second.customer_id == first.customer_id and second.name == "Ada Lovelace"
    assert store.count() == 1


def test_history_is_most_recent_first_limited_and_idempotent(store):
    store.upsert("+15551234567", name="Ada")
    for i in range(5):
        assert store.record_call(cdr(f"call-{i}", "15551234567", 1_000 + i, queue="support",
                                     agent_id="agent-1001", disposition=ev.DISPOSITION_ANSWERED))
    assert not store.record_call(cdr("call-4", "15551234567", 1_004, queue="other"))   # a replayed CDR
    history = store.lookup("+1 555 123 4567").history
    assert [h.call_uuid for h in history] == ["call-4", "call-3", "call-2"]
    assert history[0].queue == "support" and history[0].agent_id == "agent-1001"
    assert history[0].disposition == "answered" and history[0].start_us == 1_004
    assert len(store.lookup("15551234567", history_limit=10).history) == 5


def test_unknown_callers_have_history_too(store):
    store.record_call(cdr("c1", "+4930123456", 5, disposition=ev.DISPOSITION_ABANDONED))
    customer = store.lookup("4930123456")
    assert not customer.known and [h.disposition for h in customer.history] == ["abandoned"]


def test_cdrs_without_a_number_or_uuid_are_skipped(store):
    assert not store.record_call(cdr("c1", "anonymous", 5))
    assert not store.record_call(cdr("", "+15551234567", 5))
    assert store.record_calls([cdr("c2", "", 5), cdr("c3", "+15551234567", 6), cdr("c3", "+15551234567", 6)]) == 1


def test_start_time_falls_back_to_the_first_phase_that_happened(store):
    store.record_call(ev.Cdr(call_uuid="c1", ani="+15551234567", enqueue_us=77, end_us=99))
    assert store.lookup("+15551234567").history[0].start_us == 77


def test_disposition_names():
    assert disposition_name(ev.DISPOSITION_ENDED_IN_IVR) == "ended_in_ivr"
    assert disposition_name(ev.DISPOSITION_UNSPECIFIED) == ""


def test_the_store_survives_reopening(tmp_path):
    path = str(tmp_path / "c.sqlite3")
    s = CustomerStore(path)
    s.upsert("+15551234567", name="Ada")
    s.record_call(cdr("c1", "+15551234567", 5))
    s.close()
    s = CustomerStore(path)
    found = s.lookup("+15551234567")
    assert found.name == "Ada" and len(found.history) == 1
    s.close()


def test_delete_keeps_the_history(store):
    store.upsert("+15551234567", name="Ada")
    store.record_call(cdr("c1", "+15551234567", 5))
    assert store.delete("15551234567") and not store.delete("15551234567")
    found = store.lookup("+15551234567")
    assert not found.known and len(found.history) == 1


def test_seed_demo_is_plausible_and_deterministic(tmp_path):
    a = CustomerStore(str(tmp_path / "a.sqlite3"))
    b = CustomerStore(str(tmp_path / "b.sqlite3"))
    seeded = a.seed_demo(250, random.Random(7), now_us=10**15)
    b.seed_demo(250, random.Random(7), now_us=10**15)
    assert len(seeded) == 250 == a.count() and len(set(a.phones())) == 250
    assert all(c.known and c.name and "@" in c.email for c in seeded)
    assert all("555-01" in c.phone for c in seeded)               # the fictional number range
    assert any(c.history for c in seeded)
    assert all(h.start_us < 10**15 for c in seeded for h in c.history)
    assert [a.lookup(p) for p in a.phones()] == [b.lookup(p) for p in b.phones()]
    assert a.lookup(a.phones()[0]).known
    a.close()
    b.close()


def test_concurrent_greenlets_share_one_store(store):
    store.upsert("+15551234567", name="Ada")

    def work(n):
        for i in range(20):
            store.record_call(cdr(f"g{n}-{i}", "+15551234567", n * 100 + i))
            store.lookup("+15551234567")
            gevent.sleep(0)

    gevent.joinall([gevent.spawn(work, n) for n in range(10)], raise_error=True)
    assert len(store.lookup("+15551234567", history_limit=1000).history) == 200
