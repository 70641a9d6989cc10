"""The IVR's outbound socket asks FreeSWITCH only for the events its steps
wait for (nixevent after myevents), and every step still sees what it needs:
playback and the menu complete, retries work, the caller's hang-up is seen
in every node. Against the FreeSWITCH simulator, in process, over TCP; the
commands are the ones real FreeSWITCH 1.10 takes (mod_event_socket.c)."""
from __future__ import annotations

from typing import Any, Iterator

import gevent
import pytest

from hotline.common.errors import InvalidArgument
from hotline.freeswitch import OutboundCall, OutboundServer
from hotline.freeswitch.outbound import CALL_EVENTS, MYEVENTS
from hotline.ivr import session as session_mod
from hotline.ivr.flow import Menu
from hotline.ivr.session import IvrSession
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2
from hotline.simulator import CallerScript, Switch

pytestmark = pytest.mark.freeswitch

MENU = Menu(greeting="silence_stream://200", prompt="silence_stream://200", invalid_prompt="silence_stream://100",
            choices={"1": "sales", "2": "support"}, attempts=3, timeout_ms=1000, fallback_queue="")


def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = gevent.get_hub().loop.now() + timeout
    while gevent.get_hub().loop.now() < deadline:
        if predicate():
            return True
        gevent.sleep(0.01)
    return predicate()


class Routing:
    """Routing's Enqueue, answered in process."""

    def __init__(self) -> None:
        self.requests: list[routing_pb2.EnqueueRequest] = []

    def Enqueue(self, request: routing_pb2.EnqueueRequest, timeout: float | None = None) -> Any:  # noqa: N802
        self.requests.append(request)
        return routing_pb2.EnqueueResponse(outcome=routing_pb2.ENQUEUED, queue=request.queue, position=1)


class Ivr:
    """An OutboundServer running IvrSession on the simulator's service number."""

    def __init__(self, menu: Menu, *, media_scale: float = 0.1, control: str = "async full",
                 events: frozenset[str] | None = session_mod.EVENTS, linger: bool = True) -> None:
        self.menu = menu
        self.routing = Routing()
        self.visits: list[ev.IvrNodeVisit] = []
        self.seen: list[str] = []                 # what the call's socket received, in order
        self.calls: list[OutboundCall] = []
        self.ended = gevent.event.Event()
        self.server = OutboundServer("127.0.0.1", 0, self.handle, event_format="json", events=events,
                                     linger=linger, drain_timeout_s=2)
        port = self.server.start()
        self.switch = Switch(password="t", host="127.0.0.1", esl_port=0, hostname="fs1", media_scale=media_scale)
        self.switch.start()
        self.switch.add_extension("5000", [("socket", f"127.0.0.1:{port} {control}")])

    def handle(self, call: OutboundCall) -> None:
        self.calls.append(call)
        call.on_event(lambda event: self.seen.append(event.name))
        call.register_handle("DISCONNECT", lambda event: self.seen.append("disconnect-notice"))
        try:
            IvrSession(call, self.menu, self.routing, "fs1", visits=self.visits.append).run()
        finally:
            self.ended.set()

    def place(self, script: CallerScript) -> Any:
        return self.switch.place_call(ani="+15550001", dnis="5000", script=script)

    def stop(self) -> None:
        self.server.stop(timeout=2)
        self.switch.stop()

    def outcomes(self) -> list[tuple[str, str]]:
        return [(v.node, v.outcome) for v in self.visits]


@pytest.fixture
def ivr() -> Iterator[Ivr]:
    made: list[Ivr] = []

    def make(*args: Any, **kwargs: Any) -> Ivr:
        made.append(Ivr(*args, **kwargs))
        return made[-1]

    yield make  # type: ignore[misc]
    for i in made:
        i.stop()


def test_a_caller_who_chooses_a_queue_is_enqueued_and_the_socket_got_only_what_the_steps_need(ivr) -> None:
    i = ivr(MENU)
    caller = i.place(CallerScript(digits="1", digit_delay_s=0.02))
    assert wait_until(lambda: i.routing.requests)
    assert i.routing.requests[0].queue == "sales" and i.routing.requests[0].menu_choice == "1"
    caller.hangup()
    assert i.ended.wait(10) and wait_until(lambda: not i.server.calls)
    assert i.outcomes() == [("greeting", "next"), ("menu", "next"), ("queue", "queued")]
    got = set(i.seen) - {"disconnect-notice"}
    assert got <= CALL_EVENTS, got - CALL_EVENTS               # no CHANNEL_EXECUTE, STATE, ANSWER, DTMF, ...
    assert {"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"} <= got
    assert "disconnect-notice" in i.seen


def test_the_menu_retries_after_an_invalid_choice(ivr) -> None:
    i = ivr(MENU)
    caller = i.place(CallerScript(digits="9|2", digit_delay_s=0.02))
    assert wait_until(lambda: i.routing.requests)
    assert i.routing.requests[0].queue == "support"
    caller.hangup()
    assert i.ended.wait(10)
    menu = i.visits[1]
    assert (menu.node, menu.attempts, menu.input, menu.result) == ("menu", 2, "2", "chosen")


def test_the_menu_retries_when_nothing_is_pressed_then_lets_the_caller_go(ivr) -> None:
    i = ivr(MENU)
    caller = i.place(CallerScript(digits=""))
    assert caller.wait_hangup(15) and i.ended.wait(10)
    menu = i.visits[1]
    assert (menu.node, menu.attempts, menu.result) == ("menu", 3, "no-input")
    assert i.outcomes()[-1] == ("goodbye", "completed")


def test_a_caller_let_go_after_invalid_entries_is_hung_up(ivr) -> None:
    i = ivr(MENU)
    caller = i.place(CallerScript(digits="9|9|9", digit_delay_s=0.02))
    assert caller.wait_hangup(10) and i.ended.wait(10)
    assert i.outcomes() == [("greeting", "next"), ("menu", "next"), ("goodbye", "completed")]
    assert not i.routing.requests


def test_a_hang_up_during_the_greeting_is_seen_at_once(ivr) -> None:
    i = ivr(Menu(**{**MENU.__dict__, "greeting": "silence_stream://30000"}), media_scale=1.0)
    caller = i.place(CallerScript())
    assert caller.wait_answered(10)
    gevent.sleep(0.2)
    caller.hangup()
    assert i.ended.wait(5)                       # not the 30 s the greeting lasts
    assert i.outcomes() == [("greeting", "hangup")]
    assert i.calls[0].hangup_cause == "NORMAL_CLEARING"


def test_a_hang_up_in_the_menu_is_seen_at_once(ivr) -> None:
    i = ivr(Menu(**{**MENU.__dict__, "prompt": "silence_stream://30000"}), media_scale=1.0)
    caller = i.place(CallerScript())
    assert wait_until(lambda: i.visits)          # the greeting is over: the menu is playing
    gevent.sleep(0.2)
    caller.hangup()
    assert i.ended.wait(5)
    assert i.outcomes() == [("greeting", "next"), ("menu", "hangup")]
    assert i.visits[1].attempts == 1


def test_a_hang_up_while_parked_in_the_queue_ends_the_session(ivr) -> None:
    i = ivr(MENU)
    caller = i.place(CallerScript(digits="2", digit_delay_s=0.02))
    assert wait_until(lambda: i.routing.requests)
    gevent.sleep(0.1)
    assert not i.ended.is_set()                  # the session keeps the socket while routing has the call
    caller.hangup()
    assert i.ended.wait(5)


def test_a_single_channel_socket_gets_filters_instead_of_nixevent(ivr) -> None:
    # `socket <addr> async` (no `full`) refuses nixevent and linger: filter Event-Name is allowed there.
    i = ivr(MENU, control="async", linger=False)
    caller = i.place(CallerScript(digits="1", digit_delay_s=0.02))
    assert wait_until(lambda: i.routing.requests)
    caller.hangup()
    assert i.ended.wait(10)
    assert set(i.seen) - {"disconnect-notice"} <= CALL_EVENTS
    assert i.outcomes() == [("greeting", "next"), ("menu", "next"), ("queue", "queued")]


def test_without_a_limit_the_socket_gets_every_event_myevents_turns_on(ivr) -> None:
    i = ivr(MENU, events=None)
    caller = i.place(CallerScript(digits="1", digit_delay_s=0.02))
    assert wait_until(lambda: i.routing.requests)
    caller.hangup()
    assert i.ended.wait(10)
    assert {"CHANNEL_EXECUTE", "CHANNEL_ANSWER", "DTMF"} <= set(i.seen)


# -- the commands, without a socket ---------------------------------------------------

def call_with(control: str | None) -> OutboundCall:
    call = OutboundCall.__new__(OutboundCall)
    call.channel_data = {} if control is None else {"Control": control}
    return call


def test_a_full_socket_nixes_every_other_myevents_event_in_one_command() -> None:
    [command] = call_with("full").event_limits(["DTMF"])
    verb, *names = command.split(" ")
    assert verb == "nixevent"
    assert set(names) == MYEVENTS - CALL_EVENTS - {"DTMF"} and len(names) == len(set(names))
    assert call_with(None).event_limits([]) == ["nixevent " + " ".join(sorted(MYEVENTS - CALL_EVENTS))]


def test_a_single_channel_socket_filters_on_the_event_names_kept() -> None:
    assert call_with("single-channel").event_limits([]) == [
        f"filter Event-Name {name}" for name in sorted(CALL_EVENTS)]


def test_keeping_every_event_sends_nothing() -> None:
    assert call_with("full").event_limits(MYEVENTS) == []


@pytest.mark.parametrize("bad", ["PLAYBACK_START", "dtmf", "", "CHANNEL_EXECUTE_COMPLETE\n\nexit"])
def test_events_myevents_does_not_turn_on_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        call_with("full").event_limits([bad])
    with pytest.raises(InvalidArgument):
        OutboundServer("127.0.0.1", 0, lambda call: None, events=[bad])


def test_the_service_asks_for_the_sessions_events() -> None:
    from hotline.common import settings as settings_mod
    from hotline.common.bus import InProcessBus
    from hotline.ivr.app import IvrService

    service = IvrService(settings_mod.load({}), bus=InProcessBus())
    assert service.server.events == session_mod.EVENTS
    assert session_mod.EVENTS <= MYEVENTS


def test_the_queue_variables_are_set_with_one_multiset(ivr) -> None:
    """hotline_queue, hotline_menu_choice and the visit counter reach the channel
    (routing and the CDR read them) with one `multiset` instead of a `set` each."""
    i = ivr(MENU)
    caller = i.place(CallerScript(digits="2", digit_delay_s=0.02))
    assert wait_until(lambda: i.routing.requests)
    variables = caller.channel.variables
    assert (variables.get("hotline_queue"), variables.get("hotline_menu_choice")) == ("support", "2")
    assert variables.get(session_mod.VISITS_VARIABLE) == "3"      # greeting, menu, queue were visits 0-2
    executed = [e for e in i.seen if e == "CHANNEL_EXECUTE_COMPLETE"]
    caller.hangup()
    assert i.ended.wait(10)
    # answer, greeting, flow variable, menu, multiset, park: no per-variable `set` completes
    assert len(executed) <= 6, executed


class _Sent:
    """OutboundCall.set_many's command, captured without a socket."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None]] = []

    def execute_async(self, app: str, arg: str | None = None) -> str:
        self.sent.append((app, arg))
        return "app-uuid"


def test_set_many_picks_a_delimiter_no_value_contains() -> None:
    sink = _Sent()
    OutboundCall.set_many(sink, {"a": "x;y", "b": "2"})  # type: ignore[arg-type]
    assert sink.sent == [("multiset", "^^|a=x;y|b=2")]


@pytest.mark.parametrize("variables, field", [({"bad name": "1"}, "name"), ({"a": ";|~^`"}, "variables")])
def test_set_many_refuses_what_multiset_cannot_carry(variables: dict[str, str], field: str) -> None:
    sink = _Sent()
    with pytest.raises(InvalidArgument) as err:
        OutboundCall.set_many(sink, variables)  # type: ignore[arg-type]
    assert err.value.field == field and sink.sent == []
