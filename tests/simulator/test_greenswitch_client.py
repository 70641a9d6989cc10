"""greenswitch (Hotline's ESL library) against the simulator: inbound and outbound."""
from __future__ import annotations

from typing import Any, Callable

import gevent
import greenswitch
import pytest

from hotline.simulator import CallerScript, PhoneScript, Switch
from hotline.simulator.switch import free_port

pytestmark = pytest.mark.freeswitch


def test_inbound_esl_api_events_and_refusal(switch: Switch) -> None:
    esl = greenswitch.InboundESL(host="127.0.0.1", port=switch.esl_port, password="ClueCon")
    esl.connect()
    parked: list[str] = []
    jobs: list[str] = []
    esl.register_handle("CHANNEL_PARK", lambda ev: parked.append(ev.headers["Unique-ID"]))
    esl.register_handle("BACKGROUND_JOB", lambda ev: jobs.append(ev.headers["Job-UUID"]))
    assert esl.send("event plain CHANNEL_PARK BACKGROUND_JOB").data == "+OK event listener enabled plain"
    assert esl.send("api uuid_exists x").data == "false"
    call = switch.place_call(ani="1", dnis="5001")
    job = esl.send("bgapi status").headers["Job-UUID"]
    for _ in range(50):
        if parked and jobs:
            break
        gevent.sleep(0.05)
    assert parked == [call.uuid] and jobs == [job]
    esl.stop()
    refused = greenswitch.InboundESL(host="127.0.0.1", port=switch.esl_port, password="wrong")
    with pytest.raises(ValueError):
        refused.connect()


def test_outbound_session_runs_an_ivr(make_switch: Callable[..., Switch]) -> None:
    results: dict[str, Any] = {}

    class Ivr:
        def __init__(self, session: greenswitch.esl.OutboundSession) -> None:
            self.session = session

        def run(self) -> None:
            s = self.session
            s.myevents()
            s.linger()
            s.answer()
            s.playback("tone_stream://%(300,100,440)")
            results["digit"] = s.play_and_get_digits(1, 1, 3, 3000, "#", "ivr/menu.wav", "silence_stream://100",
                                                     "menu_choice", "\\d", 3000, "")
            s.call_command("set", "hangup_after_bridge=true")
            results["bridge"] = s.bridge("{hotline_role=agent}user/1001", block=True, response_timeout=10)
            results["uuid"] = s.uuid

    port = free_port()
    server = greenswitch.OutboundESLServer(bind_address="127.0.0.1", bind_port=port, application=Ivr)
    listener = gevent.spawn(server.listen)
    for _ in range(50):
        if server._running:
            break
        gevent.sleep(0.02)
    sw = make_switch()
    sw.add_extension("5000", [("socket", f"127.0.0.1:{port} async full")])
    sw.register_phone("1001", PhoneScript(answer_after_s=0.05, hangup_after_s=0.2))
    call = sw.place_call(ani="+15551234", dnis="5000", script=CallerScript(digits="3", digit_delay_s=0.05))
    assert call.wait_hangup(15)
    assert call.wait_destroyed(5)
    server.stop()
    listener.join(timeout=5)
    assert results["digit"] == "3"
    assert results["uuid"] == call.uuid
    assert results["bridge"].headers["Application"] == "bridge"
