"""The simulator's cheap paths say on the wire exactly what the plain ones said.

Event.get looks headers up through an index, Event.json escapes each string with
the C function json.dumps uses, the switch hands an event only to the listeners
that may take it, and an event no listener would receive is not built at all
(it still uses up its Event-Sequence number). Each is checked against the
straightforward version it replaces.
"""
from __future__ import annotations

import json
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.simulator import CallerScript, Switch
from hotline.simulator.wire import Event

from .esl_client import EslClient, OutboundServer

NAMES = st.sampled_from(["Unique-ID", "unique-id", "Event-Name", "variable_x", "Content-Length", "_body",
                         "Caller-Caller-ID-Name", "X", "x", "Ü-Name"])
VALUES = st.text(max_size=12)  # any code point: quotes, backslashes, control characters, non-ASCII


def reference_json(ev: Event) -> str:
    """What Event.json wrote before: json.dumps of every name and value, in order, repeats kept."""
    items = [f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, ensure_ascii=False)}" for k, v in ev.headers]
    if ev.body:
        items.append(f'"Content-Length":"{len(ev.body.encode("utf-8"))}"')
        items.append(f'"_body":{json.dumps(ev.body, ensure_ascii=False)}')
    return "{" + ",".join(items) + "}"


def reference_get(headers: list[tuple[str, str]], name: str) -> Optional[str]:
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


@given(st.lists(st.tuples(NAMES, VALUES), max_size=8), st.one_of(st.none(), st.text(max_size=20)))
def test_json_is_what_json_dumps_of_each_string_gives(headers: list[tuple[str, str]], body: Optional[str]) -> None:
    ev = Event("CUSTOM")
    for k, v in headers:
        ev.add(k, v)
    ev.body = body
    assert ev.json() == reference_json(ev)
    assert ev.serialized("json") == reference_json(ev).encode("utf-8")


def test_json_keeps_a_repeated_header_name_twice() -> None:
    ev = Event("CUSTOM")
    ev.add("A", "1")
    ev.add("A", "2")
    assert ev.json() == '{"A":"1","A":"2"}'


# add / add_many / get / replace the list, in any order: get always answers like a linear scan
OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), NAMES, VALUES),
    st.tuples(st.just("many"), st.lists(st.tuples(NAMES, VALUES), max_size=3)),
    st.tuples(st.just("get"), NAMES),
    st.tuples(st.just("replace"), st.lists(st.tuples(NAMES, VALUES), max_size=4)),
    st.tuples(st.just("reorder")),
), max_size=25)


@given(OPS)
def test_get_answers_like_a_case_insensitive_scan_for_the_first_header(ops: list[tuple]) -> None:
    ev = Event("CUSTOM")
    for op in ops:
        if op[0] == "add":
            ev.add(op[1], op[2])
        elif op[0] == "many":
            ev.add_many(op[1])
        elif op[0] == "get":
            expected = reference_get(ev.headers, op[1])
            assert ev.get(op[1]) == expected
            assert ev.get(op[1], "missing") == ("missing" if expected is None else expected)
        elif op[0] == "replace":
            ev.headers = list(op[1])
        else:  # what the outbound 'connect' reply does: a new list, the same headers in another order
            ev.headers = ev.headers[::-1]
    for name in ["Unique-ID", "x", "nothing-like-it"]:
        assert ev.get(name) == reference_get(ev.headers, name)


def test_add_writes_values_as_strings() -> None:
    ev = Event("CUSTOM")
    ev.add("Number", 42)
    ev.add("Flag", True)
    ev.add("Text", "t")
    assert ev.headers == [("Number", "42"), ("Flag", "True"), ("Text", "t")]
    assert ev.get("number") == "42"


def test_add_unique_keeps_the_first() -> None:
    ev = Event("CUSTOM")
    ev.add("Hangup-Cause", "USER_BUSY")
    ev.add_unique("hangup-cause", "NORMAL_CLEARING")
    assert ev.headers == [("Hangup-Cause", "USER_BUSY")]


def test_frame_is_built_once_per_format() -> None:
    ev = Event("CUSTOM")
    ev.add("Event-Name", "CUSTOM")
    assert ev.frame("json") is ev.frame("json")
    assert ev.frame("plain") == b"Content-Length: 20\nContent-Type: text/event-plain\n\nEvent-Name: CUSTOM\n\n"


# -- delivery ---------------------------------------------------------------------


def _events(client: EslClient, name: Optional[str] = None) -> list[dict[str, str]]:
    return [ev for ev in client.events() if name is None or ev.get("Event-Name") == name]


def _call_and_wait(sw: Switch, client: EslClient) -> str:
    call = sw.place_call(ani="1000", dnis="9999", script=CallerScript())
    assert call.wait_answered(5)
    client.wait_event("CHANNEL_ANSWER", uuid=call.uuid)
    call.hangup()
    assert call.wait_destroyed(5)
    return call.uuid


@pytest.mark.freeswitch
def test_nobody_listening_builds_nothing_but_the_sequence_numbers_go_on(make_switch) -> None:
    # the same call on two switches: one listener takes everything, the other two event types;
    # the events both see carry the same Event-Sequence numbers (the skipped ones used theirs up)
    seqs = []
    for subscription in ("ALL", "CHANNEL_CREATE CHANNEL_ANSWER"):
        sw = make_switch()
        client = EslClient.connect(sw.esl_port)
        assert client.command(f"event json {subscription}").get("Reply-Text", "").startswith("+OK")
        _call_and_wait(sw, client)
        seqs.append({name: int(_events(client, name)[0]["Event-Sequence"])
                     for name in ("CHANNEL_CREATE", "CHANNEL_ANSWER")})
        if subscription != "ALL":
            assert {ev["Event-Name"] for ev in _events(client)} == {"CHANNEL_CREATE", "CHANNEL_ANSWER"}
        client.close()
    assert seqs[0] == seqs[1]
    assert seqs[0]["CHANNEL_ANSWER"] - seqs[0]["CHANNEL_CREATE"] > 1  # events between them were fired


@pytest.mark.freeswitch
def test_wants_follows_subscriptions_filters_and_myevents(switch: Switch) -> None:
    assert not switch.wants("CHANNEL_STATE", None, "some-uuid")
    client = EslClient.connect(switch.esl_port)
    assert client.command("event plain CHANNEL_ANSWER").get("Reply-Text", "").startswith("+OK")
    assert switch.wants("CHANNEL_ANSWER", None, "some-uuid")
    assert not switch.wants("CHANNEL_STATE", None, "some-uuid")
    assert client.command("filter Unique-ID nothing").get("Reply-Text", "").startswith("+OK")
    assert switch.wants("CHANNEL_ANSWER", None, "some-uuid")  # a filter is checked on the built event
    assert client.command("noevents").get("Reply-Text", "").startswith("+OK")
    assert not switch.wants("CHANNEL_ANSWER", None, "some-uuid")
    custom = EslClient.connect(switch.esl_port)
    assert custom.command("event plain CUSTOM conference::maintenance").get("Reply-Text", "").startswith("+OK")
    assert switch.wants("CUSTOM", "conference::maintenance", None)
    assert not switch.wants("CUSTOM", "sofia::register", None)
    client.close()
    custom.close()


@pytest.mark.freeswitch
def test_a_myevents_listener_gets_its_session_only_and_others_get_all(switch: Switch,
                                                                      outbound_server: OutboundServer) -> None:
    switch.add_extension("7000", [("socket", f"127.0.0.1:{outbound_server.port} async full")])
    everything = EslClient.connect(switch.esl_port)
    assert everything.command("event json ALL").get("Reply-Text", "").startswith("+OK")
    first = switch.place_call(ani="1001", dnis="7000", script=CallerScript())
    session = outbound_server.accept()
    session.command("connect")
    assert session.command("myevents json").get("Reply-Text") == "+OK Events Enabled"
    second = switch.place_call(ani="1002", dnis="9999", script=CallerScript())
    assert second.wait_answered(5)
    session.send("sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n")
    assert first.wait_answered(5)
    session.wait_event("CHANNEL_ANSWER", uuid=first.uuid)
    everything.wait_event("CHANNEL_ANSWER", uuid=second.uuid)
    everything.wait_event("CHANNEL_ANSWER", uuid=first.uuid)
    assert {ev.get("Unique-ID") for ev in _events(session)} == {first.uuid}
    assert {ev.get("Unique-ID") for ev in _events(everything, "CHANNEL_ANSWER")} == {first.uuid, second.uuid}
    first.hangup()
    second.hangup()
    session.close()
    everything.close()
