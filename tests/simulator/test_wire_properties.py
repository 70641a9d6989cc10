"""Properties of the wire layer: encoding, packet reading, and a server that survives any input."""
from __future__ import annotations

import socket
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.simulator import Switch
from hotline.simulator.wire import PacketReader, url_decode, url_encode

from .esl_client import EslClient

SAFE_FOR_DECODE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60).filter(
    lambda s: "%" not in s)


@given(SAFE_FOR_DECODE)
def test_url_encoding_round_trips_and_leaves_no_unsafe_byte(value: str) -> None:
    encoded = url_encode(value)
    assert url_decode(encoded) == value
    assert all(" " < ch <= "~" and ch not in '"#&+:;<=>?@[\\]^`{|} \r\n' for ch in encoded)


@given(st.lists(st.tuples(st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=12),
                          st.text(alphabet=string.ascii_letters + string.digits + " /=.", max_size=20)),
                max_size=5),
       st.text(alphabet=string.printable, max_size=40), st.integers(min_value=1, max_value=7))
def test_packet_reader_reads_what_a_client_writes_in_any_chunking(headers: list[tuple[str, str]], body: str,
                                                                  chunk: int) -> None:
    headers = [(k, v.strip()) for k, v in headers if k.lower() != "content-length"]
    wire = "sendmsg\n" + "".join(f"{k}: {v}\n" for k, v in headers)
    data = body.encode()
    wire_bytes = (wire + (f"Content-Length: {len(data)}\n" if data else "") + "\n").encode() + data + b"exit\n\n"
    pieces = [wire_bytes[i:i + chunk] for i in range(0, len(wire_bytes), chunk)]
    reader = PacketReader(lambda n: pieces.pop(0) if pieces else b"")
    first = reader.read()
    assert first is not None and first.command == "sendmsg"
    assert [(k, v) for k, v in first.headers if k != "Content-Length"] == headers
    assert first.body == body
    second = reader.read()
    assert second is not None and second.command == "exit"
    assert reader.read() is None


@pytest.mark.freeswitch
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=300))
def test_the_server_survives_any_bytes(switch: Switch, garbage: bytes) -> None:
    with socket.create_connection(("127.0.0.1", switch.esl_port), timeout=5) as sock:
        sock.sendall(garbage + b"\n\n")
    authed = EslClient.connect(switch.esl_port)
    authed.sock.sendall(garbage + b"\n\n")
    authed.close()
    client = EslClient.connect(switch.esl_port)
    assert client.api("uuid_exists nothing") == "false"
    client.close()
