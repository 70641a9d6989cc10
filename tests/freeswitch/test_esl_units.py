"""Hermetic unit tests of the adapter's small pieces (no sockets)."""
from __future__ import annotations

import random

import pytest

from hotline.common.errors import ConfigError, InvalidArgument, Unavailable
from hotline.freeswitch import CallHungUp, CommandFailed, EslConnection, EslError, EslTimeout
from hotline.freeswitch.outbound import OutboundCall, sendmsg_execute
from hotline.freeswitch.protocol import describe
from greenswitch.esl import OutboundSessionHasGoneAway


def test_backoff_delays_grow_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = EslConnection("127.0.0.1", 1, "pw", reconnect_min_s=0.5, reconnect_max_s=30, reconnect_jitter=0.2)
    monkeypatch.setattr(random, "random", lambda: 0.0)
    assert [conn.backoff_delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    monkeypatch.setattr(random, "random", lambda: 0.999999)
    assert conn.backoff_delay(0) == 0.5                      # never below the minimum
    assert conn.backoff_delay(3) == pytest.approx(4 * 0.8, abs=1e-4)


def test_sendmsg_frames_are_the_recorded_ones_plus_event_uuid() -> None:
    uuid = "0a0a0a0a-0000-4000-8000-000000000001"
    assert sendmsg_execute("answer", None, uuid) == (
        "sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\n"
        f"Event-UUID: {uuid}\n\n").encode()
    assert sendmsg_execute("playback", "tone_stream://%(300,100,440)", uuid) == (
        "sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        "execute-app-arg: tone_stream://%(300,100,440)\nevent-lock: true\n"
        f"Event-UUID: {uuid}\n\n").encode()
    # an argument with a newline cannot be a header: it travels as a text/plain body
    assert sendmsg_execute("set", "note=a\nb", uuid) == (
        "sendmsg\ncall-command: execute\nexecute-app-name: set\nevent-lock: true\n"
        f"Event-UUID: {uuid}\ncontent-type: text/plain\ncontent-length: 8\n\nnote=a\nb").encode()
    with pytest.raises(InvalidArgument):
        sendmsg_execute("answer\nhangup", None, uuid)


def test_the_password_never_appears_in_descriptions() -> None:
    assert describe("auth ClueCon") == "auth ***"
    assert describe("api status") == "api status"
    assert len(describe("api " + "x" * 200)) == 80


def test_settings_are_checked_at_construction() -> None:
    with pytest.raises(ConfigError, match="HOTLINE_ESL_PASSWORD"):
        EslConnection("127.0.0.1", 8021, "")
    with pytest.raises(ConfigError):
        EslConnection("127.0.0.1", 8021, "pw", event_format="xml")
    with pytest.raises(ConfigError):
        EslConnection("127.0.0.1", 8021, "pw", reconnect_min_s=5, reconnect_max_s=1)
    with pytest.raises(ConfigError):
        EslConnection("127.0.0.1", 8021, "pw", events=("CHANNEL_CREATE\nauth x",))
    conn = EslConnection("127.0.0.1", 8021, "pw", events=("CHANNEL_ANSWER",), event_format="json")
    assert conn.subscription_command() == "event json CHANNEL_ANSWER BACKGROUND_JOB"
    assert EslConnection("127.0.0.1", 8021, "pw", events=()).subscription_command() is None
    assert EslConnection("127.0.0.1", 8021, "pw", events=("ALL",)).subscription_command() == "event plain ALL"


def test_commands_are_single_lines() -> None:
    conn = EslConnection("127.0.0.1", 8021, "pw")
    with pytest.raises(InvalidArgument):
        conn.api("status\n\napi fsctl shutdown")
    with pytest.raises(EslError, match="not connected"):
        conn.api("status")


def test_error_kinds() -> None:
    assert issubclass(EslError, Unavailable) and issubclass(EslTimeout, EslError)
    failed = CommandFailed("-ERR No such channel!\n", "api uuid_kill x")
    assert failed.reply == "-ERR No such channel!" and failed.error_id == "esl-command-failed"
    assert "uuid_kill" in str(failed)
    gone = CallHungUp("u1", "NORMAL_CLEARING")
    assert isinstance(gone, OutboundSessionHasGoneAway)     # greenswitch-style callers still catch it
    assert (gone.uuid, gone.cause) == ("u1", "NORMAL_CLEARING")


def test_play_and_get_digits_arguments_are_single_words() -> None:
    call = OutboundCall.__new__(OutboundCall)          # no socket needed to reject bad arguments
    with pytest.raises(InvalidArgument, match="prompt"):
        call.play_and_get_digits(min_digits=1, max_digits=1, tries=1, timeout_ms=1000, terminators="#",
                                 prompt="ivr/two words.wav", invalid_prompt="silence_stream://250",
                                 var_name="choice", regexp="\\d")
