"""The IVR's node visits end to end: callers on the FreeSWITCH simulator go
through the IVR over the outbound socket, each node they leave is published
on ivr-events (real Kafka), ingested by reporting into ivr_visits (the real
ClickHouse server), and the caller's CDR carries the flow's name."""
from __future__ import annotations

import dataclasses

import pytest

from hotline.common import topics
from hotline.common.kafka import KafkaBus
from hotline.ivr import metrics
from hotline.ivr.events import VisitOutbox
from hotline.proto.events.v1 import events_pb2 as ev

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.freeswitch]

VISIT_COLUMNS = "sequence, node, node_type, outcome, input, attempts, result, flow, event_id"


def visits(platform, call_uuid: str, count: int) -> list[tuple]:
    """The call's visits as stored (duplicates from at-least-once delivery folded), once all are in."""
    return wait_for(lambda: (rows := platform.store.query(
        f"SELECT DISTINCT {VISIT_COLUMNS} FROM ivr_visits WHERE call_uuid = '{call_uuid}' ORDER BY sequence"))
        and len(rows) >= count and rows, timeout=30, what=f"{count} IVR visits of {call_uuid}")


def cdr(platform, call_uuid: str) -> tuple:
    rows = wait_for(lambda: platform.store.query(
        f"SELECT DISTINCT disposition, ivr_flow FROM cdrs WHERE call_uuid = '{call_uuid}'"),
        timeout=30, what="the CDR")
    return rows[0]


def check_times(platform, call_uuid: str) -> None:
    """Each node is left after it is entered, and the next one entered after that."""
    rows = platform.store.query(f"SELECT DISTINCT sequence, entered_us, left_us FROM ivr_visits "
                                f"WHERE call_uuid = '{call_uuid}' ORDER BY sequence")
    previous_left = 0
    for _, entered_us, left_us in rows:
        assert previous_left <= entered_us <= left_us
        previous_left = left_us


def test_a_caller_who_chooses_a_queue_leaves_greeting_menu_and_queue(platform):
    from hotline.simulator import CallerScript

    # Nobody serves support: the caller waits and gives up; the IVR's part ended at the hand-off.
    call = platform.switch.place_call(ani="+15550101", dnis="5000", caller_name="Ann",
                                      script=CallerScript(digits="2", digit_delay_s=0.1, patience_s=3.0))
    assert call.wait_hangup(30)
    u = call.uuid
    assert visits(platform, u, 3) == [
        (1, "greeting", "play", "next", "", 0, "", "main", f"ivr:{u}:1"),
        (2, "menu", "menu", "next", "2", 1, "chosen", "main", f"ivr:{u}:2"),
        (3, "queue", "queue", "queued", "", 0, "support", "main", f"ivr:{u}:3"),
    ]
    check_times(platform, u)
    assert cdr(platform, u) == ("DISPOSITION_ABANDONED", "main")


def test_a_caller_who_hangs_up_in_the_menu_drops_off_there(platform):
    from hotline.simulator import CallerScript

    # No key pressed; the menu waits 1.5 s per attempt (3 attempts), the caller leaves after 2.2 s.
    call = platform.switch.place_call(ani="+15550102", dnis="5000", caller_name="Ben",
                                      script=CallerScript(digits="", patience_s=2.2))
    assert call.wait_hangup(30)
    rows = visits(platform, call.uuid, 2)
    assert [r[:4] for r in rows] == [(1, "greeting", "play", "next"), (2, "menu", "menu", "hangup")]
    _, _, _, _, keyed, attempts, result, flow, _ = rows[1]
    assert (keyed, flow) == ("", "main")
    assert 1 <= attempts <= 3 and result in ("", "no-input")   # how far the caller got depends on the clock
    check_times(platform, call.uuid)
    assert cdr(platform, call.uuid) == ("DISPOSITION_ENDED_IN_IVR", "main")


@pytest.fixture
def ivr_without_fallback(platform):
    """A second IVR whose menu lets the caller go when the attempts run out, on extension 5001."""
    from hotline.ivr.app import IvrService

    settings = dataclasses.replace(platform.settings,
                                   ivr=dataclasses.replace(platform.settings.ivr, default_queue=""))
    bus = KafkaBus(settings.kafka)
    ivr = IvrService(settings, platform.routing_channel, bus=bus)
    ivr.start()
    platform.switch.add_extension(dnis="5001", apps=[("socket", f"127.0.0.1:{ivr.socket_port} async full")])
    try:
        yield ivr
    finally:
        ivr.stop()
        bus.close()


def test_a_caller_let_go_after_invalid_entries_completes_in_the_goodbye_node(platform, ivr_without_fallback):
    from hotline.simulator import CallerScript

    call = platform.switch.place_call(ani="+15550103", dnis="5001", caller_name="Cat",
                                      script=CallerScript(digits="9|8|7", digit_delay_s=0.1))
    assert call.wait_hangup(30)
    u = call.uuid
    assert visits(platform, u, 3) == [
        (1, "greeting", "play", "next", "", 0, "", "main", f"ivr:{u}:1"),
        (2, "menu", "menu", "next", "7", 3, "invalid", "main", f"ivr:{u}:2"),
        (3, "goodbye", "hangup", "completed", "", 0, "", "main", f"ivr:{u}:3"),
    ]
    check_times(platform, u)
    assert cdr(platform, u) == ("DISPOSITION_ENDED_IN_IVR", "main")


@pytest.mark.kafka
def test_a_visit_the_real_producer_refuses_is_counted_and_the_next_one_goes_through(kafka_bus):
    outbox = VisitOutbox(kafka_bus)
    outbox.start()
    before = metrics.VISITS_UNPUBLISHED._value.get()
    huge = ev.IvrNodeVisit(event_id="ivr:big:1", call_uuid="big", flow="main", node="menu", sequence=1,
                           outcome="next", input="9" * 2_000_000)   # over the producer's 1 MB request limit
    fine = ev.IvrNodeVisit(event_id="ivr:big:2", call_uuid="big", flow="main", node="queue", sequence=2,
                           outcome="queued", result="support")
    outbox.put(huge)
    outbox.put(fine)
    outbox.stop()                   # drained and flushed
    assert metrics.VISITS_UNPUBLISHED._value.get() == before + 1
    stored = [ev.IvrNodeVisit.FromString(r.value) for r in kafka_bus.read_log([topics.IVR_EVENTS])]
    assert stored == [fine]


def test_a_caller_sent_back_to_the_ivr_by_an_overflow_numbers_on(platform):
    from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc
    from hotline.simulator import CallerScript

    # Support overflows after 1 s back to the IVR (the overflow context's extension, as in
    # freeswitch/conf/dialplan/hotline-overflow.xml); nobody serves either queue.
    routing = routing_pb2_grpc.RoutingStub(platform.routing_channel)
    routing.UpsertQueue(routing_pb2.Queue(name="support", skill="support", max_wait_s=1, overflow="ivr:main"))
    platform.switch.add_extension(dnis="hotline-ivr-main", apps=[
        ("set", "hotline_ivr_flow=main"), ("socket", f"127.0.0.1:{platform.ivr.socket_port} async full")])
    # Back in the IVR, the caller presses nothing and hangs up during the menu's retries (the
    # menu's 3 attempts of 1.5 s start about 2 s into the call, after the 1 s in support).
    call = platform.switch.place_call(ani="+15550104", dnis="5000", caller_name="Dan",
                                      script=CallerScript(digits="2", digit_delay_s=0.1, patience_s=4.0))
    assert call.wait_hangup(30)
    u = call.uuid
    assert [r[:4] + r[7:] for r in visits(platform, u, 5)] == [
        (1, "greeting", "play", "next", "main", f"ivr:{u}:1"),
        (2, "menu", "menu", "next", "main", f"ivr:{u}:2"),
        (3, "queue", "queue", "queued", "main", f"ivr:{u}:3"),
        (4, "greeting", "play", "next", "main", f"ivr:{u}:4"),      # back from the overflow
        (5, "menu", "menu", "hangup", "main", f"ivr:{u}:5"),
    ]
    check_times(platform, u)
