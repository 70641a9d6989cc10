"""The ACD's decisions, hermetic: a fake clock, no I/O."""
import pytest

from hotline.common.errors import Conflict, InvalidArgument, NotFound
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.routing.acd import Acd, CallState, QueueConfig

from fake_clock import Clock


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def acd(clock):
    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("support", "support", wrap_up_s=5))
    acd.upsert_queue(QueueConfig("sales", "sales"))
    return acd


def ready(acd, clock, agent_id, skills=None, after_s=1.0):
    acd.upsert_agent(agent_id, agent_id, f"user/{agent_id}@default", skills or {"support": 5})
    clock.advance(after_s)
    acd.set_agent_state(agent_id, ev.READY)


def test_longest_idle_ready_agent_with_the_skill_gets_the_call(acd, clock):
    ready(acd, clock, "a1")            # idle since t+1
    ready(acd, clock, "a2")            # idle since t+2
    ready(acd, clock, "s1", {"sales": 9})  # idle longest of all would be no one: wrong skill anyway
    acd.enqueue("c1", "support")
    (assignment,) = acd.next_assignments()
    assert assignment.agent.agent_id == "a1"
    assert acd.agents["a1"].state == ev.RESERVED
    assert acd.calls["c1"].state is CallState.OFFERING


def test_idle_time_counts_from_the_end_of_the_last_call(acd, clock):
    ready(acd, clock, "a1")
    ready(acd, clock, "a2")
    acd.enqueue("c1", "support")
    (a,) = acd.next_assignments()
    acd.connected("c1", a.agent.agent_id)
    clock.advance(10)
    acd.call_ended("c1")
    clock.advance(6)
    acd.tick()                          # wrap-up (5 s) over: a1 ready again, idle since now
    acd.enqueue("c2", "support")
    (b,) = acd.next_assignments()
    assert b.agent.agent_id == "a2"


def test_no_agent_means_no_assignment_and_the_call_waits(acd, clock):
    acd.enqueue("c1", "support")
    assert acd.next_assignments() == []
    assert [c.call_uuid for c in acd.waiting("support")] == ["c1"]


def test_priority_then_arrival_order(acd, clock):
    acd.enqueue("c1", "support")
    clock.advance(1)
    acd.enqueue("c2", "support", priority=5)
    clock.advance(1)
    acd.enqueue("c3", "support")
    assert [c.call_uuid for c in acd.waiting("support")] == ["c2", "c1", "c3"]
    assert acd.position(acd.calls["c3"]) == 3
    ready(acd, clock, "a1")
    (a,) = acd.next_assignments()
    assert a.call.call_uuid == "c2"


def test_agent_who_does_not_answer_is_skipped_for_that_call(acd, clock):
    ready(acd, clock, "a1")
    ready(acd, clock, "a2")
    acd.enqueue("c1", "support")
    (first,) = acd.next_assignments()
    assert first.agent.agent_id == "a1"
    acd.offer_failed("c1", "a1", "NO_ANSWER")
    assert acd.agents["a1"].state == ev.READY and acd.agents["a1"].missed_offers == 1
    (second,) = acd.next_assignments()
    assert second.agent.agent_id == "a2"
    assert acd.calls["c1"].offers == 2


def test_once_every_eligible_agent_was_tried_the_round_starts_again(acd, clock):
    ready(acd, clock, "a1")
    ready(acd, clock, "a2")
    acd.enqueue("c1", "support")
    rung = []
    for _ in range(3):
        (offer,) = acd.next_assignments()
        rung.append(offer.agent.agent_id)
        acd.offer_failed("c1", offer.agent.agent_id, "NO_ANSWER")
    assert rung == ["a1", "a2", "a1"]
    assert acd.calls["c1"].tried == {"a1"} and acd.calls["c1"].offers == 3


def test_repeated_no_answer_sets_the_agent_not_ready(acd, clock):
    ready(acd, clock, "a1")
    for i in range(3):
        acd.enqueue(f"c{i}", "support")
        (a,) = acd.next_assignments()
        acd.offer_failed(f"c{i}", "a1", "NO_ANSWER")
        acd.call_ended(f"c{i}")
    agent = acd.agents["a1"]
    assert agent.state == ev.NOT_READY and agent.reason == "no answer"


def test_abandon_while_waiting_and_while_ringing(acd, clock):
    acd.enqueue("c1", "support")
    clock.advance(7)
    ended = acd.call_ended("c1")
    assert ended is not None and ended.connected_us == 0
    events = [m for kind, m in acd.drain() if kind == "queue"]
    assert [e.type for e in events] == [ev.QUEUE_ENQUEUED, ev.QUEUE_ABANDONED]
    assert events[-1].wait_us == 7_000_000
    ready(acd, clock, "a1")
    acd.enqueue("c2", "support")
    acd.next_assignments()
    acd.call_ended("c2")               # caller gives up while a1's phone rings
    assert acd.agents["a1"].state == ev.READY


def test_connected_call_then_wrap_up_then_ready(acd, clock):
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    acd.next_assignments()
    assert acd.connected("c1", "a1")
    assert acd.agents["a1"].state == ev.ON_CALL
    acd.call_ended("c1")
    assert acd.agents["a1"].state == ev.WRAP_UP
    acd.drain()
    clock.advance(5)
    acd.tick()
    assert acd.agents["a1"].state == ev.READY
    (leave_wrap,) = [m for kind, m in acd.drain() if kind == "agent"]
    assert leave_wrap.previous_state == ev.WRAP_UP
    assert leave_wrap.timestamp_us - leave_wrap.previous_state_since_us == 5_000_000
    assert leave_wrap.call_uuid == "c1" and leave_wrap.queue == "support"


def test_not_ready_during_a_call_applies_after_it(acd, clock):
    ready(acd, clock, "s1", {"sales": 3})
    acd.enqueue("c1", "sales")
    acd.next_assignments()
    acd.connected("c1", "s1")
    acd.set_agent_state("s1", ev.NOT_READY, "break")
    assert acd.agents["s1"].state == ev.ON_CALL
    acd.call_ended("c1")                # sales has no wrap-up
    assert acd.agents["s1"].state == ev.NOT_READY and acd.agents["s1"].reason == "break"
    acd.enqueue("c2", "sales")
    assert acd.next_assignments() == []          # not ready: not offered
    acd.set_agent_state("s1", ev.READY)
    acd.next_assignments()
    acd.connected("c2", "s1")
    with pytest.raises(Conflict):
        acd.set_agent_state("s1", ev.READY)      # on a call: cannot be made ready


def test_reconcile_ends_calls_the_switch_no_longer_has(acd, clock):
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    acd.enqueue("c2", "support")
    acd.next_assignments()
    acd.connected("c1", "a1")
    ended = acd.reconcile(live_uuids={"c2"})
    assert [c.call_uuid for c in ended] == ["c1"]
    assert acd.agents["a1"].state == ev.WRAP_UP
    assert "c2" in acd.calls


def test_validation_names_the_field(acd):
    with pytest.raises(InvalidArgument) as e:
        acd.enqueue("c1", "nope")
    assert e.value.field == "queue"
    with pytest.raises(InvalidArgument) as e:
        acd.upsert_agent("x", "x", "user/x", {"support": 11})
    assert e.value.field == "skills[support]"
    with pytest.raises(InvalidArgument) as e:
        acd.upsert_queue(QueueConfig("bad name!", "s"))
    assert e.value.field == "name"
    with pytest.raises(NotFound):
        acd.set_agent_state("ghost", ev.READY)
    with pytest.raises(InvalidArgument) as e:
        acd.upsert_agent("x", "x", "user/x", {})
        acd.set_agent_state("x", ev.ON_CALL)
    assert e.value.field == "state"


def test_reservation_that_never_resolves_expires(acd, clock):
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    acd.next_assignments()
    clock.advance(60)
    acd.tick()
    assert acd.agents["a1"].state == ev.READY
    assert acd.calls["c1"].state is CallState.WAITING


# -- strategies and skills through the ACD ------------------------------------------
def test_queue_strategy_and_requirements_with_relaxation_drive_the_choice(clock):
    from hotline.routing.selection import Relaxation, Requirement

    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("vip", "support", strategy="least-calls",
                                 requirements=(Requirement("support", 8),), relaxation=(Relaxation(30, 4),)))
    ready(acd, clock, "junior", {"support": 4})
    acd.enqueue("c1", "vip")
    assert acd.next_assignments() == []           # nobody at level 8 yet
    clock.advance(31)
    [a] = acd.next_assignments()                   # relaxed to 4 after 30 s
    assert a.agent.agent_id == "junior"


def test_each_relaxation_step_and_a_replaced_rule_apply_to_calls_already_waiting(clock):
    from hotline.routing.selection import Relaxation, Requirement

    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("vip", "support", requirements=(Requirement("support", 9),),
                                 relaxation=(Relaxation(20, 3), Relaxation(40, 6))))
    ready(acd, clock, "five", {"support": 5})
    ready(acd, clock, "two", {"support": 2})
    acd.enqueue("c1", "vip")
    assert acd.next_assignments() == []           # 9: nobody
    clock.advance(21)
    assert acd.next_assignments() == []           # 6: nobody
    clock.advance(20)
    [a] = acd.next_assignments()                   # 3: "five" ("two" is below it)
    assert a.agent.agent_id == "five"
    acd.enqueue("c2", "vip")
    assert acd.next_assignments() == []           # a new call starts at 9 again
    # The queue's rules replaced while c2 waits: the new minimum applies at once.
    acd.upsert_queue(QueueConfig("vip", "support", requirements=(Requirement("support", 2),)))
    [b] = acd.next_assignments()
    assert b.agent.agent_id == "two"


def test_agent_legs_are_named_like_uuid5_of_the_call_the_offer_and_the_agent():
    import uuid

    from hotline.routing.acd import LEG_NAMESPACE, agent_leg_uuid, customer_leg_uuid

    for i in range(300):
        call_uuid = str(uuid.UUID(int=i * 2654435761 % 2**128))
        assert agent_leg_uuid(call_uuid, i % 4, f"agent{i}") == \
            str(uuid.uuid5(LEG_NAMESPACE, f"{call_uuid}/{i % 4}/agent{i}"))
        assert customer_leg_uuid(call_uuid, i % 3) == str(uuid.uuid5(LEG_NAMESPACE, f"{call_uuid}/callback/{i % 3}"))


def test_least_calls_counts_answered_calls(clock):
    acd = Acd(clock)
    acd.upsert_queue(QueueConfig("q", "support", strategy="least-calls"))
    ready(acd, clock, "a1")
    ready(acd, clock, "a2")
    acd.enqueue("c1", "q")
    [first] = acd.next_assignments()
    assert first.agent.agent_id == "a1"
    acd.connected("c1", "a1")
    clock.advance(10)
    acd.call_ended("c1")                           # a1 has answered one call
    clock.advance(1)
    acd.tick()
    acd.enqueue("c2", "q")
    [second] = acd.next_assignments()
    assert second.agent.agent_id == "a2"


def test_bad_queue_rules_are_refused_naming_the_field(clock):
    from hotline.routing.selection import Requirement

    acd = Acd(clock)
    with pytest.raises(InvalidArgument, match="strategy"):
        acd.upsert_queue(QueueConfig("q", "support", strategy="fastest-typist"))
    with pytest.raises(InvalidArgument, match=r"requirements\[0\]"):
        acd.upsert_queue(QueueConfig("q", "support", requirements=(Requirement("sales", 3),)))
    assert "q" not in acd.queues


def test_a_clock_stepped_back_while_calls_wait_ends_them_all_the_same(acd, clock):
    # NTP may step the wall clock back: a call that waited "negative" time
    # still ends (abandoned or answered) and counts in the wait estimate.
    ready(acd, clock, "a1")
    acd.enqueue("c1", "support")
    acd.enqueue("c2", "sales")
    (a,) = acd.next_assignments()
    clock.advance(-30)
    acd.connected("c1", a.agent.agent_id)
    clock.advance(-30)
    acd.call_ended("c2")                   # abandoned, "waited" -30 s
    acd.call_ended("c1")                   # answered, talk and wait "negative"
    assert not acd.calls
    assert acd.agents["a1"].state == ev.WRAP_UP
    assert acd.ewt.estimate("support", position=1, servers=1) is not None
