"""The ACD's queue features, hermetic (fake clock, no I/O): ring-all, tiers,
DND, priority changes, overflow (max wait, max length, closed calendar),
routing rules with number lists, callbacks in queue, announcements."""
import pytest

from hotline.common.errors import Conflict, InvalidArgument, NotFound
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing.acd import Acd, CallState, QueueConfig, agent_leg_uuid
from hotline.routing.calendar import Calendar, Holiday, Hours
from hotline.routing.rules import NumberList, RoutingRule

from fake_clock import Clock

# 2026-11-23 was a Monday; 1_795_392_000 s is 2026-11-23 00:00 UTC.
MONDAY_UTC_US = 1_795_392_000 * 1_000_000


@pytest.fixture
def clock():
    return Clock(MONDAY_UTC_US + 10 * 3600 * 1_000_000)


@pytest.fixture
def acd(clock):
    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("support", "support"))
    acd.upsert_queue(QueueConfig("sales", "sales"))
    return acd


def ready(acd, clock, agent_id, skills=None, tiers=None, after_s=1.0):
    acd.upsert_agent(agent_id, agent_id, f"user/{agent_id}@default", skills or {"support": 5}, tiers)
    clock.advance(after_s)
    acd.set_agent_state(agent_id, ev.READY)


def events(acd, kind="queue"):
    return [m for k, m in acd.drain() if k == kind]


def queue_types(acd):
    return [ev.QueueEventType.Name(m.type) for m in events(acd)]


# -- strategies and agents ------------------------------------------------------------

def test_ring_all_rings_every_eligible_agent_and_the_first_to_answer_wins(acd, clock):
    acd.upsert_queue(QueueConfig("hunt", "support", strategy="ring-all"))
    for a in ("a1", "a2", "a3"):
        ready(acd, clock, a)
    ready(acd, clock, "s1", {"sales": 9})
    acd.enqueue("c1", "hunt")
    (offer,) = acd.next_assignments()
    assert sorted(agent.agent_id for agent, _ in offer.legs) == ["a1", "a2", "a3"]
    assert {leg for _, leg in offer.legs} == {agent_leg_uuid("c1", 1, a) for a in ("a1", "a2", "a3")}
    assert all(acd.agents[a].state == ev.RESERVED for a in ("a1", "a2", "a3"))
    assert acd.connected("c1", "a2")
    assert acd.agents["a2"].state == ev.ON_CALL
    assert acd.agents["a1"].state == acd.agents["a3"].state == ev.READY
    assert acd.agents["a1"].missed_offers == 0          # losing the race is no miss


def test_ring_all_legs_cancelled_by_the_switch_when_another_answers_are_no_miss(acd, clock):
    acd.upsert_queue(QueueConfig("hunt", "support", strategy="ring-all"))
    ready(acd, clock, "a1")
    ready(acd, clock, "a2")
    acd.enqueue("c1", "hunt")
    (offer,) = acd.next_assignments()
    legs = {agent.agent_id: leg for agent, leg in offer.legs}
    acd.agent_leg_ended("c1", "a1", legs["a1"], "LOSE_RACE")       # FreeSWITCH cancels the loser first
    assert acd.agents["a1"].state == ev.READY and acd.agents["a1"].missed_offers == 0
    assert acd.calls["c1"].state is CallState.OFFERING             # a2 still rings
    assert acd.connected("c1", "a2")


def test_ring_all_nobody_answers_every_agent_missed_it(acd, clock):
    acd.upsert_queue(QueueConfig("hunt", "support", strategy="ring-all"))
    ready(acd, clock, "a1")
    ready(acd, clock, "a2")
    acd.enqueue("c1", "hunt")
    (offer,) = acd.next_assignments()
    for agent, _ in offer.legs:
        acd.offer_failed("c1", agent.agent_id, "NO_ANSWER")
    assert acd.calls["c1"].state is CallState.WAITING
    assert [acd.agents[a].missed_offers for a in ("a1", "a2")] == [1, 1]


def test_tiers_keep_second_tier_agents_back_until_the_call_waited(acd, clock):
    acd.upsert_queue(QueueConfig("tiered", "support", tier_wait_s=30))
    ready(acd, clock, "backup", tiers={"tiered": 2})        # idle longest, but tier 2
    ready(acd, clock, "front", tiers={"tiered": 1})
    acd.enqueue("c1", "tiered")
    (offer,) = acd.next_assignments()
    assert offer.agent.agent_id == "front"
    acd.enqueue("c2", "tiered")
    assert acd.next_assignments() == []                    # only tier 2 is free: not yet
    clock.advance(31)
    (offer,) = acd.next_assignments()
    assert offer.agent.agent_id == "backup"


def test_without_tier_wait_lower_tiers_are_simply_preferred(acd, clock):
    acd.upsert_queue(QueueConfig("tiered", "support"))
    ready(acd, clock, "backup", tiers={"tiered": 3})
    ready(acd, clock, "front", tiers={"tiered": 1})
    acd.enqueue("c1", "tiered")
    assert acd.next_assignments()[0].agent.agent_id == "front"
    acd.enqueue("c2", "tiered")
    assert acd.next_assignments()[0].agent.agent_id == "backup"


def test_tiers_name_existing_queues(acd, clock):
    with pytest.raises(InvalidArgument) as err:
        acd.upsert_agent("a1", "A", "user/a1", {"support": 3}, {"nosuch": 1})
    assert err.value.field == "tiers[nosuch]"
    with pytest.raises(InvalidArgument) as err:
        acd.upsert_agent("a1", "A", "user/a1", {"support": 3}, {"support": 10})
    assert err.value.field == "tiers[support]"


def test_dnd_takes_the_agent_out_and_refuses_ready(acd, clock):
    ready(acd, clock, "a1")
    acd.set_dnd("a1", True)
    assert (acd.agents["a1"].state, acd.agents["a1"].reason) == (ev.NOT_READY, "dnd")
    with pytest.raises(Conflict):
        acd.set_agent_state("a1", ev.READY)
    acd.enqueue("c1", "support")
    assert acd.next_assignments() == []
    acd.set_dnd("a1", False)
    assert acd.agents["a1"].state == ev.READY
    assert acd.next_assignments()[0].agent.agent_id == "a1"


def test_dnd_during_a_call_applies_when_it_ends(acd, clock):
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    acd.next_assignments()
    acd.connected("c1", "a1")
    acd.set_dnd("a1", True)
    assert acd.agents["a1"].state == ev.ON_CALL
    acd.call_ended("c1")
    assert (acd.agents["a1"].state, acd.agents["a1"].reason) == (ev.NOT_READY, "dnd")


def test_no_answer_three_times_sets_the_agent_not_ready(acd, clock):
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    for n in range(3):
        (offer,) = acd.next_assignments()             # the only agent, again and again
        acd.offer_failed("c1", "a1", "NO_ANSWER")
    assert (acd.agents["a1"].state, acd.agents["a1"].reason) == (ev.NOT_READY, "no answer")


def test_every_reservation_expires(acd, clock):
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    acd.next_assignments()
    clock.advance(15 + 15 + 1)
    acd.tick()
    assert acd.agents["a1"].state == ev.READY
    assert acd.agents["a1"].missed_offers == 1
    assert acd.calls["c1"].state is CallState.WAITING


def test_delete_agent_and_queue_refuse_while_busy(acd, clock):
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    acd.next_assignments()
    with pytest.raises(Conflict):
        acd.delete_agent("a1")
    with pytest.raises(Conflict):
        acd.delete_queue("support")
    acd.call_ended("c1")
    acd.delete_queue("support")
    acd.delete_agent("a1")
    assert "a1" not in acd.agents and "support" not in acd.queues
    with pytest.raises(NotFound):
        acd.delete_queue("support")


# -- priorities -------------------------------------------------------------------------

def test_priority_changed_while_waiting_moves_the_call_ahead(acd, clock):
    acd.enqueue("c1", "support")
    clock.advance(1)
    acd.enqueue("c2", "support")
    acd.drain()
    acd.set_priority("c2", 10)
    assert acd.position(acd.calls["c2"]) == 1
    (changed,) = events(acd)
    assert (changed.type, changed.priority, changed.position) == (ev.QUEUE_PRIORITY_CHANGED, 10, 1)
    ready(acd, clock, "a1")
    assert acd.next_assignments()[0].call.call_uuid == "c2"
    with pytest.raises(InvalidArgument) as err:
        acd.set_priority("c1", 101)
    assert err.value.field == "priority"
    with pytest.raises(NotFound):
        acd.set_priority("nosuch", 1)


# -- overflow ---------------------------------------------------------------------------

def test_max_wait_overflows_to_another_queue_keeping_priority(acd, clock):
    acd.upsert_queue(QueueConfig("first", "support", max_wait_s=60, overflow="queue:sales"))
    acd.enqueue("c1", "first", priority=5)
    acd.drain()
    clock.advance(61)
    acd.tick()
    call = acd.calls["c1"]
    assert (call.queue, call.priority, call.state) == ("sales", 5, CallState.WAITING)
    overflowed, enqueued = events(acd)
    assert (overflowed.type, overflowed.queue, overflowed.reason, overflowed.destination) == (
        ev.QUEUE_OVERFLOWED, "first", "max_wait", "queue:sales")
    assert (enqueued.type, enqueued.queue) == (ev.QUEUE_ENQUEUED, "sales")


def test_max_length_overflows_to_voicemail_and_the_switch_is_told(acd, clock):
    acd.upsert_queue(QueueConfig("small", "support", max_length=1, overflow="voicemail:1000"))
    assert acd.enqueue("c1", "small").outcome == "enqueued"
    acd.take_actions()
    result = acd.enqueue("c2", "small", node_id="fs1")
    assert (result.outcome, result.destination) == ("overflowed", "voicemail:1000")
    (action,) = acd.take_actions()
    assert (action.kind, action.call_uuid, action.node_id, action.arg) == ("transfer", "c2", "fs1", "voicemail:1000")
    assert "c2" not in acd.calls
    assert acd.call_ended("c2").state is CallState.OVERFLOWED        # its CDR: overflowed


def test_a_closed_queue_sends_calls_to_its_closed_destination(acd, clock):
    acd.upsert_calendar(Calendar("office", "Europe/Paris", hours=tuple(Hours(d, "09:00", "17:00") for d in range(5)),
                                 holidays=(Holiday("2026-12-25", name="Christmas"),)))
    acd.upsert_queue(QueueConfig("office", "support", calendar="office", closed_destination="ivr:closed"))
    assert acd.enqueue("c1", "office").outcome == "enqueued"          # Monday 11:00 in Paris
    clock.now = MONDAY_UTC_US + 17 * 3600 * 1_000_000                  # 18:00 in Paris
    result = acd.enqueue("c2", "office")
    assert (result.outcome, result.destination) == ("overflowed", "ivr:closed")
    clock.now = 1_798_189_200 * 1_000_000                              # 2026-12-25 10:00 Paris, a Friday
    assert acd.enqueue("c3", "office").outcome == "overflowed"
    with pytest.raises(Conflict):
        acd.delete_calendar("office")


def test_a_caller_sent_to_an_ivr_flow_may_queue_again_from_it(acd, clock):
    acd.upsert_queue(QueueConfig("small", "support", max_length=1, overflow="ivr:menu"))
    acd.upsert_queue(QueueConfig("other", "support"))
    assert acd.enqueue("c1", "small").outcome == "enqueued"
    first = acd.calls["c1"].first_enqueued_us
    clock.now += 1_000_000
    assert acd.enqueue("c2", "small").outcome == "overflowed"         # full: c2 goes to the IVR flow
    clock.now += 5_000_000
    again = acd.enqueue("c2", "other")                                # ... and picks a queue there
    assert again.outcome == "enqueued" and acd.calls["c2"].queue == "other"
    assert acd.calls["c2"].first_enqueued_us == first + 1_000_000     # its CDR keeps the first enqueue
    assert acd.enqueue("c2", "other").outcome == "enqueued"           # asking twice is still idempotent
    assert acd.enqueue("c3", "small").outcome == "overflowed"
    acd.upsert_queue(QueueConfig("vm", "support", max_length=1, overflow="voicemail:100"))
    assert acd.enqueue("c4", "vm").outcome == "enqueued"
    assert acd.enqueue("c5", "vm").outcome == "overflowed"            # to voicemail: it cannot queue again
    with pytest.raises(Conflict):
        acd.enqueue("c5", "other")


def test_overflow_chains_stop_after_a_few_hops(acd, clock):
    acd.upsert_queue(QueueConfig("a", "support", max_length=1, overflow="queue:support"))
    acd.upsert_queue(QueueConfig("b", "support", max_length=1, overflow="queue:a"))
    acd.upsert_queue(QueueConfig("a", "support", max_length=1, overflow="queue:b"))
    acd.enqueue("x", "a")
    acd.enqueue("y", "b")
    result = acd.enqueue("c1", "a")            # a full -> b full -> a full -> ... then it waits
    assert result.outcome == "enqueued"


def test_queue_validation_names_the_field(acd):
    cases = [
        (dict(max_wait_s=30), "overflow"),
        (dict(max_wait_s=-1), "max_wait_s"),
        (dict(overflow="fax:1"), "overflow"),
        (dict(overflow="queue:q"), "overflow"),
        (dict(overflow="queue:nosuch"), "overflow"),
        (dict(calendar="nosuch", overflow="voicemail:1"), "calendar"),
        (dict(calendar="x"), "closed_destination"),
        (dict(announce_every_s=5), "announce_every_s"),
        (dict(announce_every_s=30, announcement="Hi {name}"), "announcement"),
        (dict(callback_key="12", callback_dial="sofia/gateway/gw/{number}"), "callback_key"),
        (dict(callback_key="1"), "callback_dial"),
        (dict(strategy="loudest"), "strategy"),
        (dict(tier_wait_s=-5), "tier_wait_s"),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidArgument) as err:
            acd.upsert_queue(QueueConfig("q", "support", **kwargs))
        assert err.value.field == field, kwargs
    assert "q" not in acd.queues


# -- routing rules and number lists -----------------------------------------------------

def test_rules_route_by_dnis_raise_vips_and_reject_the_blacklist(acd, clock):
    acd.upsert_list(NumberList.of("vip", ["+1 415 555 0100"]))
    acd.upsert_list(NumberList.of("blacklist", ["4155550666"]))
    acd.set_rules([
        RoutingRule("blocked", ani_list="blacklist", reject=True),
        RoutingRule("sales-line", dnis="1800*", queue="sales"),
        RoutingRule("vip", ani_list="vip", priority=50),
    ])
    vip = acd.enqueue("c1", "support", ani="14155550100", dnis="18005550000")
    assert (vip.outcome, vip.queue, vip.priority) == ("enqueued", "sales", 50)
    plain = acd.enqueue("c2", "support", ani="14155550101", dnis="5000")
    assert (plain.queue, plain.priority) == ("support", 0)
    acd.take_actions()
    blocked = acd.enqueue("c3", "support", ani="4155550666")
    assert (blocked.outcome, blocked.reject_cause) == ("rejected", "CALL_REJECTED")
    (hangup,) = acd.take_actions()
    assert (hangup.kind, hangup.arg) == ("hangup", "CALL_REJECTED")
    assert ev.QUEUE_REJECTED in [m.type for m in events(acd)]
    assert acd.call_ended("c3").state is CallState.REJECTED
    with pytest.raises(Conflict):
        acd.delete_list("vip")


def test_rules_must_name_existing_queues_and_lists(acd):
    with pytest.raises(InvalidArgument) as err:
        acd.set_rules([RoutingRule("r", dnis="1", queue="nosuch")])
    assert err.value.field == "rules[0].queue"
    with pytest.raises(InvalidArgument) as err:
        acd.set_rules([RoutingRule("ok", dnis="1", queue="sales"), RoutingRule("r", ani_list="nosuch", priority=1)])
    assert err.value.field == "rules[1].ani_list"
    assert acd.rules == ()


# -- callbacks in queue ------------------------------------------------------------------

@pytest.fixture
def callbacks(acd):
    acd.upsert_queue(QueueConfig("cb", "support", callback_key="1", callback_dial="sofia/gateway/pstn/{number}",
                                 callback_attempts=2, callback_retry_s=60))
    return acd


def test_caller_leaves_a_number_by_dtmf_and_keeps_their_place(callbacks, clock):
    acd = callbacks
    acd.enqueue("c1", "cb", ani="4155550100", node_id="fs1")
    clock.advance(1)
    acd.enqueue("c2", "cb")
    acd.take_actions()
    acd.dtmf("c1", "1")
    assert [a.arg for a in acd.take_actions()] == ["callback_number"]
    for digit in "0612345678#":
        acd.dtmf("c1", digit)
    (confirm,) = acd.take_actions()
    assert (confirm.kind, confirm.arg) == ("callback_confirm", "0612345678")
    caller_cdr = acd.call_ended("c1")                  # the caller hangs up
    assert caller_cdr.is_callback and caller_cdr.callback_number == "0612345678"
    assert acd.position(acd.calls["c1"]) == 1          # still first in line
    ready(acd, clock, "a1")
    offer = acd.next_assignments()[0]
    assert offer.call.call_uuid == "c1"
    leg = acd.callback_dialing("c1", "a1")
    assert leg and acd.calls["c1"].customer_leg_uuid == leg
    assert acd.connected("c1", "a1")
    assert acd.customer_ended("c1").state is CallState.ENDED
    types = queue_types(acd)
    assert types.count("QUEUE_CALLBACK_REQUESTED") == 1
    assert "QUEUE_CALLBACK_DIALING" in types and types[-1] == "QUEUE_CALL_ENDED"


def test_hash_alone_uses_the_callers_number_and_star_cancels(callbacks, clock):
    acd = callbacks
    acd.enqueue("c1", "cb", ani="+1 (415) 555-0100")
    acd.dtmf("c1", "1")
    acd.dtmf("c1", "*")
    assert not acd.calls["c1"].is_callback
    acd.dtmf("c1", "1")
    acd.dtmf("c1", "#")
    assert acd.calls["c1"].callback_number == "14155550100"


def test_an_invalid_number_is_refused_and_the_caller_waits_on(callbacks, clock):
    acd = callbacks
    acd.enqueue("c1", "cb", ani="anonymous")
    acd.take_actions()
    acd.dtmf("c1", "1")
    acd.dtmf("c1", "#")                                # no digits, and the ANI is no number
    assert [a.arg for a in acd.take_actions()] == ["callback_number", "callback_invalid"]
    assert not acd.calls["c1"].is_callback
    with pytest.raises(InvalidArgument) as err:
        acd.request_callback("c1", "12ab")
    assert err.value.field == "number"


def test_number_entry_times_out(callbacks, clock):
    acd = callbacks
    acd.enqueue("c1", "cb")
    acd.dtmf("c1", "1")
    acd.take_actions()
    clock.advance(21)
    acd.tick()
    assert [a.kind for a in acd.take_actions()] == ["music"]
    assert acd.calls["c1"].collecting is None


def test_an_unanswered_callback_is_retried_then_given_up(callbacks, clock):
    acd = callbacks
    ready(acd, clock, "a1")
    acd.enqueue("c1", "cb", ani="4155550100")
    acd.request_callback("c1")
    acd.call_ended("c1")
    for attempt in (1, 2):
        offer = acd.next_assignments()
        assert offer, attempt
        acd.callback_dialing("c1", "a1")
        ended = acd.callback_failed("c1", "a1", "NO_ANSWER")
        assert acd.agents["a1"].state == ev.READY and acd.agents["a1"].missed_offers == 0
        if attempt == 1:
            assert ended is None
            assert acd.next_assignments() == []        # waits callback_retry_s
            clock.advance(61)
    assert ended is not None and "c1" not in acd.calls


def test_callbacks_need_a_queue_that_offers_them(acd):
    acd.enqueue("c1", "support")
    with pytest.raises(Conflict):
        acd.request_callback("c1", "4155550100")


# -- announcements -------------------------------------------------------------------------

def test_position_and_expected_wait_are_announced_periodically(acd, clock):
    acd.upsert_queue(QueueConfig("ann", "support", announce_every_s=30))
    for n in range(20):                                  # history: 20 calls of 120 s
        ready(acd, clock, "a1") if n == 0 else None
        acd.enqueue(f"h{n}", "ann")
        acd.next_assignments()
        acd.connected(f"h{n}", "a1")
        clock.advance(120)
        acd.call_ended(f"h{n}")
    acd.enqueue("c0", "ann")
    acd.next_assignments()
    acd.connected("c0", "a1")                             # a1 busy
    acd.enqueue("c1", "ann")
    acd.enqueue("c2", "ann")
    acd.take_actions()
    acd.drain()
    clock.advance(29)
    acd.tick()
    assert acd.take_actions() == []
    clock.advance(2)
    acd.tick()
    announcements = acd.take_actions()
    assert [a.kind for a in announcements] == ["announce", "announce"]
    assert announcements[1].arg.startswith("You are caller number 2.")
    assert "minutes" in announcements[1].arg
    announced = [m for m in events(acd) if m.type == ev.QUEUE_ANNOUNCED]
    assert [m.position for m in announced] == [1, 2]
    assert all(m.ewt_s > 0 for m in announced)


def test_deleting_a_queue_drops_it_from_agents_tiers(acd, clock):
    acd.upsert_queue(QueueConfig("gone", "support"))
    ready(acd, clock, "a1", tiers={"gone": 2, "support": 1})
    acd.delete_queue("gone")
    assert acd.agents["a1"].tiers == {"support": 1}
    acd.upsert_agent("a1", "a1", "user/a1@default", {"support": 5}, acd.agents["a1"].tiers)   # still valid


def test_queue_names_are_ascii(acd):
    with pytest.raises(InvalidArgument) as err:
        acd.upsert_queue(QueueConfig("café", "support"))
    assert err.value.field == "name"


def test_an_orphan_agent_legs_late_hangup_does_not_fail_the_current_offer(acd, clock):
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    (first,) = acd.next_assignments()
    acd.offer_failed("c1", "a1", "SWITCH_UNREACHABLE", agent_missed=False)
    (second,) = acd.next_assignments()
    acd.agent_leg_ended("c1", "a1", first.agent_leg_uuid)      # the first offer's leg, killed late
    assert acd.calls["c1"].state is CallState.OFFERING
    acd.agent_leg_ended("c1", "a1", second.agent_leg_uuid)
    assert acd.calls["c1"].state is CallState.WAITING
