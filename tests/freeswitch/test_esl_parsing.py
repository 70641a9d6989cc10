"""Parsing conformance: every frame real FreeSWITCH 1.10 wrote in the
transcripts parses into the right Content-Type, headers and body. Hermetic
(no sockets)."""
from __future__ import annotations

import difflib
import json
from urllib.parse import unquote

import pytest
from greenswitch.esl import ESLEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_fakes import NAMES, conn_script, event_plain, frame, load, raw_headers
from hotline.freeswitch import EslEvent, ProtocolError, parse_frame
from hotline.freeswitch.protocol import FrameReader

EVENT_TYPES = ("text/event-plain", "text/event-json")


def recv_frames(name: str) -> list[str]:
    return [r.data for r in load(name) if r.dir == "recv"]


@pytest.mark.parametrize("name", NAMES)
def test_every_recorded_frame_parses(name: str) -> None:
    for data in recv_frames(name):
        outer = raw_headers(data)
        event = parse_frame(data)
        assert event.content_type == outer["Content-Type"]
        head, _, raw_body = data.partition("\n\n")
        if event.content_type == "text/event-plain":
            inner_head, _, inner_body = raw_body.partition("\n\n")
            lines = [line for line in inner_head.split("\n") if line]
            # each line is one header, only its value is url-decoded; a repeated header: the first wins
            first: dict[str, str] = {}
            for line in lines:
                key, value = line.split(": ", 1)
                first.setdefault(key, unquote(value))
            assert event.headers == first
            assert event.name and event.get("Core-UUID")
            if "Content-Length" in event.headers:
                assert event.body == inner_body[:int(event.headers["Content-Length"])]
        elif event.content_type == "text/event-json":
            assert event.name and event.get("Core-UUID")
            assert "_body" not in event.headers
        elif event.name == "CHANNEL_DATA":          # the outbound connect reply
            assert event.content_type == "command/reply"
            assert all(event.headers[k] == unquote(v) for k, v in outer.items())
        else:
            # replies, api responses, notices: headers verbatim, body exactly Content-Length bytes
            assert event.headers == outer
            if "Content-Length" in outer:
                assert event.body == raw_body
            else:
                assert event.body is None


def test_values_keep_their_newlines():
    """greenswitch unquotes the whole event first, so encoded newlines split values into lines."""
    data = next(d for d in recv_frames("02-ivr-call-to-agent-plain") if "Event-Name: CHANNEL_DATA" in d)
    event = parse_frame(data)
    assert event.get("Reply-Text") == "+OK\n"
    sdp = event.var("switch_r_sdp")
    assert sdp.startswith("v=0\r\no=user1 ") and sdp.endswith("a=rtpmap:0 PCMU/8000\r\n")
    assert event.get("Channel-Name") == "sofia/external/sipp@127.0.0.1:5070"
    assert event.get("Caller-Caller-ID-Number") == "sipp"
    assert event.get("Caller-Destination-Number") == "5000"
    assert event.uuid == "ef7c3eb7-cd13-4901-b151-3ff813bc50c8"
    assert event.get("Socket-Mode") == "async" and event.get("Control") == "full"


def test_greenswitch_parser_breaks_on_an_encoded_newline():
    """The defect the subclass fixes, shown on greenswitch's own ESLEvent."""
    text = "Event-Name: CUSTOM\nvariable_note: first%0AUnique-ID: forged\nUnique-ID: real\n"
    assert ESLEvent(text).headers.get("variable_note") != "first\nUnique-ID: forged"
    ours = EslEvent()
    ours.parse_data(text)
    assert ours.headers["variable_note"] == "first\nUnique-ID: forged"
    assert ours.uuid == "real"


def test_background_job_bodies_and_job_uuids():
    frames = [parse_frame(d) for d in recv_frames("01-inbound-auth-and-api")]
    job_replies = [f.get("Job-UUID") for f in frames if f.content_type == "command/reply" and f.get("Job-UUID")]
    jobs = [f for f in frames if f.name == "BACKGROUND_JOB"]
    assert [j.get("Job-UUID") for j in jobs] == job_replies
    assert [j.content_type for j in jobs] == ["text/event-plain", "text/event-plain", "text/event-json"]
    status, originate, version = jobs
    assert status.get("Job-Command") == "status"
    assert status.body.startswith("UP 0 years") and len(status.body.encode()) == 370
    assert originate.body == "-ERR NORMAL_TEMPORARY_FAILURE\n"
    assert originate.get("Job-Command-Arg") == "sofia/internal/9999@127.0.0.1:5999 &park()"
    assert version.body.startswith("FreeSWITCH Version 1.10.12-release") and version.body.endswith("64bit)\n")
    # json events carry the same header names as the plain ones
    assert set(version.headers) == set(status.headers)
    assert version.get("FreeSWITCH-IPv6") == status.get("FreeSWITCH-IPv6") == "fd00::2"
    assert version.timestamp_us() == 1795419893183971


def test_json_events_have_the_plain_header_names():
    """The plain and json recordings of scenario 2, aligned event by event."""
    def events(name: str, conn: str) -> list[EslEvent]:
        return [e for e in (parse_frame(r.data) for r in conn_script(name, conn) if r.dir == "recv")
                if e.content_type in EVENT_TYPES]

    def key(e: EslEvent) -> tuple[str | None, ...]:
        return (e.name, e.get("Application"), e.get("Answer-State"), e.get("Channel-Call-State"),
                e.get("Channel-State"), e.get("Call-Direction"))

    compared = 0
    for conn in ("inbound-events", "outbound-call"):
        plain = events("02-ivr-call-to-agent-plain", conn)
        js = events("02-ivr-call-to-agent-json", conn)
        assert {e.content_type for e in plain} == {"text/event-plain"}
        matcher = difflib.SequenceMatcher(a=[key(e) for e in plain], b=[key(e) for e in js], autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                a, b = plain[block.a + k], js[block.b + k]
                # channel variables differ between two runs of a call; the event's own headers do not
                assert {h for h in a.headers if not h.startswith("variable_")} == \
                       {h for h in b.headers if not h.startswith("variable_")}, a.name
                compared += 1
    assert compared >= 60
    json_inbound = events("02-ivr-call-to-agent-json", "inbound-events")
    assert {e.content_type for e in json_inbound} == {"text/event-json"}


def test_disconnect_notices_have_their_bodies():
    notices = [parse_frame(d) for name in NAMES for d in recv_frames(name)
               if "text/disconnect-notice" in d.split("\n\n")[0]]
    goodbyes = [n for n in notices if n.get("Content-Disposition") != "linger"]
    lingers = [n for n in notices if n.get("Content-Disposition") == "linger"]
    assert goodbyes and lingers
    for n in goodbyes:
        assert n.body == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    for n in lingers:
        assert n.get("Controlled-Session-UUID") and n.get("Linger-Time") == "-1" and n.body == ""


def test_api_responses():
    frames = [parse_frame(d) for d in recv_frames("03-acd-park-originate-bridge")]
    bodies = [f.body for f in frames if f.content_type == "api/response"]
    assert "+OK Message sent\n" in bodies
    assert "5434ceaa-7a0e-4f48-a136-3973c6d45930" in bodies   # uuid_getvar: no newline
    assert any(b.startswith('{"row_count":2,"rows":[') for b in bodies)


# -- the stream reader ------------------------------------------------------------

class ChunkedSocket:
    """recv() hands out the stream in the given chunk sizes."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos = data, sizes or [1 << 20], 0

    def recv(self, n: int) -> bytes:
        size = self.sizes[self.pos % len(self.sizes)] if self.pos < len(self.data) else 0
        chunk = self.data[self.pos:self.pos + min(size, n)]
        self.pos += len(chunk)
        return chunk


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=20))
def test_reader_is_indifferent_to_how_tcp_splits_the_stream(sizes: list[int]) -> None:
    records = [r for r in load("02-ivr-call-to-agent-plain") if r.dir == "recv" and r.conn == "outbound-call"]
    stream = "".join(r.data for r in records).encode("utf-8")
    reader = FrameReader(ChunkedSocket(stream, sizes))  # type: ignore[arg-type]
    parsed = []
    while (event := reader.read_frame()) is not None:
        parsed.append(event)
    expected = [parse_frame(r.data) for r in records]
    assert [(e.content_type, e.headers, e.body) for e in parsed] == \
           [(e.content_type, e.headers, e.body) for e in expected]


header_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"variable_[a-z_]{1,12}", fullmatch=True), header_values, max_size=8),
       st.text(max_size=50))
def test_plain_event_values_round_trip(variables: dict[str, str], body: str) -> None:
    headers = {"Event-Name": "CHANNEL_EXECUTE", "Unique-ID": "u1", **variables}
    event = parse_frame(event_plain(headers, body))
    assert {k: v for k, v in event.headers.items() if k != "Content-Length"} == headers
    assert event.body == (body or None)


@pytest.mark.parametrize("data", [
    b"Content-Type: api/response\nContent-Length: 3\n\n-ERR this is longer\n",       # tail is not a frame
    b"\xff\xfe garbage \x80\x81\n\n",                                                   # not UTF-8
    b"this is not a header\n\n",                                                        # no colon
    b"Reply-Text: +OK\n\n",                                                             # no Content-Type
    b"Content-Type: api/response\nContent-Length: -5\n\n",                              # bad length
    b"Content-Type: text/event-json\nContent-Length: 2\n\n[]",                          # json not an object
    b"Content-Type: api/response\nContent-Length: 10\n\nshort",                         # stream ends early
])
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    reader = FrameReader(ChunkedSocket(data, [7]))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        while reader.read_frame() is not None:
            pass


def test_frame_builder_matches_freeswitch_layout():
    # sanity check of the test helper against a recorded frame
    recorded = [d for d in recv_frames("01-inbound-auth-and-api") if "row_count" in d][0]
    assert frame({"Content-Type": "api/response"}, '{"row_count": 0}\n').decode() == recorded


# -- text/event-json: the fast path must give what the exact per-member path gives --------

def reference_json_event(payload: bytes) -> tuple[dict[str, str], str | None]:
    """The exact meaning, spelled out member by member (the parser's former
    implementation): a repeated key keeps its first value and place; arrays
    as plain events spell them; null is empty; other values as str()."""
    def value(v: object) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, list):
            return "ARRAY::" + "|:".join(value(x) for x in v)
        return "" if v is None else str(v)

    def first_wins(pairs: list[tuple[str, object]]) -> dict[str, object]:
        obj: dict[str, object] = {}
        for k, v in pairs:
            obj.setdefault(k, v)
        return obj

    obj = json.loads(payload.decode("utf-8", "replace"), object_pairs_hook=first_wins)
    headers = {k: value(v) for k, v in obj.items() if k != "_body"}
    body = obj.get("_body")
    return headers, None if body is None else value(body)


def json_frame(members: str) -> bytes:
    payload = members.encode("utf-8")
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(payload), payload)


def test_every_recorded_json_event_parses_as_the_exact_path_says() -> None:
    checked = repeated = 0
    for name in NAMES:
        for data in recv_frames(name):
            head, _, body = data.partition("\n\n")
            if "text/event-json" not in head:
                continue
            payload = body.encode("utf-8")
            event = parse_frame(data)
            headers, inner_body = reference_json_event(payload)
            assert event.headers == headers and list(event.headers) == list(headers)
            assert event.body == inner_body
            keys = [k for k, _ in json.loads(payload, object_pairs_hook=lambda pairs: pairs)]
            repeated += len(keys) != len(set(keys))
            checked += 1
    assert checked >= 40 and repeated == 2        # both CHANNEL_HANGUP_COMPLETEs repeat Hangup-Cause


def test_a_repeated_json_key_keeps_its_first_value_and_place() -> None:
    event = parse_frame(json_frame('{"Event-Name":"CHANNEL_HANGUP_COMPLETE","Hangup-Cause":"NORMAL_CLEARING",'
                                   '"Unique-ID":"u1","Hangup-Cause":"ORIGINATOR_CANCEL","Unique-ID":"u2"}'))
    assert event.get("Hangup-Cause") == "NORMAL_CLEARING" and event.uuid == "u1"
    assert list(event.headers) == ["Event-Name", "Hangup-Cause", "Unique-ID"]
    # whitespace before a colon changes nothing
    spaced = parse_frame(json_frame('{ "Event-Name" : "X" , "k" :\t"first" ,\n"k"\r\n: "second" }'))
    assert spaced.headers == {"Event-Name": "X", "k": "first"}


def test_json_values_holding_quotes_and_colons_stay_whole() -> None:
    tricky = {"Event-Name": "CUSTOM", "variable_a": '"x": 1', "variable_b": 'say "hi": ok', "variable_c": '":',
              'odd"key:': '{"k":"v"}', "variable_d": "line\nnext\ttab \\ back"}
    event = parse_frame(json_frame(json.dumps(tricky)))
    assert event.headers == tricky
    # and repeated keys among such values are still found
    members = json.dumps(tricky)[:-1] + ', "variable_a": "second", "odd\\"key:": "second"}'
    assert parse_frame(json_frame(members)).headers == tricky


def test_json_arrays_and_other_values_read_as_plain_events_spell_them() -> None:
    event = parse_frame(json_frame('{"Event-Name":"CHANNEL_CREATE","variable_list":["a","b",["c"],7,null],'
                                   '"Event-Sequence":605,"n":1.5,"t":true,"f":false,"z":null,"o":{"k":"v"},'
                                   '"e":[]}'))
    assert event.headers == {"Event-Name": "CHANNEL_CREATE", "variable_list": "ARRAY::a|:b|:ARRAY::c|:7|:",
                             "Event-Sequence": "605", "n": "1.5", "t": "True", "f": "False", "z": "",
                             "o": "{'k': 'v'}", "e": "ARRAY::"}
    assert all(type(v) is str for v in event.headers.values())


def test_json_body_is_the_event_body_never_a_header() -> None:
    job = parse_frame(json_frame('{"Event-Name":"BACKGROUND_JOB","Job-UUID":"j1","Content-Length":"6",'
                                 '"_body":"+OK u\\n"}'))
    assert job.body == "+OK u\n" and "_body" not in job.headers and job.get("Content-Length") == "6"
    assert parse_frame(json_frame('{"Event-Name":"X"}')).body is None
    assert parse_frame(json_frame('{"Event-Name":"X","_body":null}')).body is None
    assert parse_frame(json_frame('{"Event-Name":"X","_body":["a","b"]}')).body == "ARRAY::a|:b"
    assert parse_frame(json_frame('{"Event-Name":"X","_body":"first","_body":"second"}')).body == "first"


@pytest.mark.parametrize(("members", "says"), [
    ('{"Event-Name":"X",', "not JSON"),
    ('{"Event-Name":"X"} trailing', "not JSON"),
    ("", "not JSON"),
    ('["Event-Name","X"]', "not a JSON object but list"),
    ('"Event-Name"', "not a JSON object but str"),
    ("null", "not a JSON object but NoneType"),
    ("[" * 100_000 + "]" * 100_000, "not JSON"),
])
def test_bad_json_events_are_a_clear_protocol_error(members: str, says: str) -> None:
    with pytest.raises(ProtocolError, match="text/event-json body is " + says):
        parse_frame(json_frame(members))
    reader = FrameReader(ChunkedSocket(json_frame(members), [4096]))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        reader.read_frame()


json_keys = st.sampled_from(["Event-Name", "Unique-ID", "_body", '":', 'a":"b', "k k", "é", "Hangup-Cause"])
json_scalars = st.one_of(st.text(max_size=12), st.none(), st.booleans(), st.integers(), st.sampled_from(['":', '\\":']))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(json_keys, json_values), max_size=10),
       st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : "), (",\n", "\t:\r\n")]))
def test_json_event_parse_matches_the_exact_path(pairs: list[tuple[str, object]],
                                                 separators: tuple[str, str]) -> None:
    comma, colon = separators
    members = "{" + comma.join(json.dumps(k) + colon + json.dumps(v, separators=(comma, colon))
                               for k, v in pairs) + "}"
    event = parse_frame(json_frame(members))
    headers, body = reference_json_event(members.encode("utf-8"))
    assert event.headers == headers and list(event.headers) == list(headers)
    assert event.body == body
