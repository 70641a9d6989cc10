"""The IVR's record of the nodes a caller passes through (pure)."""
import itertools

import pytest

from hotline.common.errors import InvalidArgument
from hotline.ivr import events
from hotline.ivr.flow import (COMPLETED, ERROR, GOODBYE, GREETING, HANGUP, MENU, NEXT, QUEUE, QUEUED, Journey, Menu,
                              MenuRun, NodeVisit)


def journey():
    ticks = itertools.count(100, 10)          # 100, 110, 120, ... µs
    return Journey(lambda: next(ticks))


def test_a_queued_caller_leaves_three_nodes_numbered_in_order():
    j = journey()
    j.enter(GREETING)
    greeting = j.leave(NEXT)
    j.enter(MENU)
    j.note(attempts=1)
    menu = j.leave(NEXT, input="2", attempts=2, result="chosen")
    j.enter(QUEUE)
    queue = j.leave(QUEUED, result="support")
    assert [greeting, menu, queue] == [
        NodeVisit("greeting", "play", 1, 100, 110, "next"),
        NodeVisit("menu", "menu", 2, 120, 130, "next", input="2", attempts=2, result="chosen"),
        NodeVisit("queue", "queue", 3, 140, 150, "queued", result="support")]
    assert j.close(HANGUP) is None                # nothing open: the call left the IVR whole
    assert j.visits == [greeting, menu, queue]


def test_a_hangup_mid_node_closes_that_node_with_what_the_caller_did_so_far():
    j = journey()
    j.enter(GREETING)
    j.leave(NEXT)
    j.enter(MENU)
    j.note(attempts=1)
    j.note(input="7", result="invalid")
    j.note(attempts=2)
    assert j.current == "menu"
    visit = j.close(HANGUP)
    assert visit == NodeVisit("menu", "menu", 2, 120, 130, "hangup", input="7", attempts=2, result="invalid")
    assert j.current is None


def test_a_let_go_caller_completes_in_the_goodbye_node():
    j = journey()
    for node, outcome in ((GREETING, NEXT), (MENU, NEXT), (GOODBYE, COMPLETED)):
        j.enter(node)
        j.leave(outcome)
    assert [(v.node, v.node_type, v.sequence, v.outcome) for v in j.visits] == [
        ("greeting", "play", 1, "next"), ("menu", "menu", 2, "next"), ("goodbye", "hangup", 3, "completed")]


def test_misuse_is_refused():
    j = journey()
    with pytest.raises(RuntimeError, match="no IVR node is open"):
        j.leave(NEXT)
    j.enter(GREETING)
    with pytest.raises(RuntimeError, match="still open"):
        j.enter(MENU)
    with pytest.raises(ValueError, match="unknown IVR outcome"):
        j.leave("wandered-off")
    assert j.leave(ERROR).outcome == "error"


def test_a_visit_becomes_an_ivr_node_visit_with_a_stable_event_id():
    visit = NodeVisit("menu", "menu", 2, 120, 130, "hangup", input="7", attempts=2, result="invalid")
    message = events.to_message(visit, call_uuid="c-1", node_id="fs1", flow="main")
    assert message.event_id == "ivr:c-1:2"
    assert (message.call_uuid, message.node_id, message.flow, message.node, message.node_type, message.sequence,
            message.entered_us, message.left_us, message.outcome, message.input, message.attempts,
            message.result) == ("c-1", "fs1", "main", "menu", "menu", 2, 120, 130, "hangup", "7", 2, "invalid")


def test_menu_run_remembers_the_last_input():
    menu = Menu("g", "p", "i", {"1": "sales"}, attempts=3)
    run = MenuRun(menu)
    run.next_attempt()
    run.feed("7")
    run.next_attempt()
    run.feed(None)                               # no input keeps the last digits keyed
    assert (run.last_input, run.last_problem) == ("7", "no-input")


def test_the_flow_has_a_name_checked_like_every_field():
    assert Menu("g", "p", "i", {"1": "sales"}).name == "main"
    Menu("g", "p", "i", {"1": "sales"}, name="after-hours.v2").validate()
    for bad in ("", "two words", "x" * 65, "a=b"):
        with pytest.raises(InvalidArgument) as caught:
            Menu("g", "p", "i", {"1": "sales"}, name=bad).validate()
        assert caught.value.field == "menu.name"


def test_a_caller_back_in_the_ivr_numbers_on_from_their_earlier_visits():
    ticks = itertools.count(100, 10)
    j = Journey(lambda: next(ticks), first_sequence=4)      # three visits before the overflow sent them back
    assert j.next_sequence == 4
    j.enter(GREETING)
    assert j.leave(NEXT).sequence == 4
    j.enter(MENU)
    assert j.close(HANGUP).sequence == 5
    assert events.visit_event_id("c-1", j.visits[-1].sequence) == "ivr:c-1:5"
