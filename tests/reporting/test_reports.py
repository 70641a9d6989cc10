"""The historical reports on hand-computed data, on both engines (ClickHouse
18.16 server and chdb 26.x): raw events go through the real Ingester into the
raw tables, the roll-ups are recomputed by the Refresher (as after every
ingested batch) or by rebuild(), and every figure of the interval, agent and
IVR reports is checked against arithmetic written out here.

T0 = 2024-03-01 09:00:00 UTC. Buckets: 09:00, 09:15, 09:30, 09:45.
Thresholds: service level T = 20 s, short abandon S = 5 s unless stated.
"""
import pytest

from hotline.common import topics
from hotline.common.bus import Record
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import migrations, queries, rollup
from hotline.reporting.ingest import Ingester

S = 1_000_000
T0 = 1_709_283_600 * S
HOUR = 3600 * S
A, AB = ev.DISPOSITION_ANSWERED, ev.DISPOSITION_ABANDONED


def cdr(uuid, disposition, enqueue_s, *, wait_s=0, talk_s=0, hold_s=0, agent="", queue="sales", dnis="800",
        skills=("en",), callback_for=""):
    enq = T0 + enqueue_s * S
    c = ev.Cdr(event_id=f"cdr:{uuid}", call_uuid=uuid, node_id="fs1", ani="+4930", dnis=dnis, queue=queue,
               disposition=disposition, start_us=enq - 30 * S, answer_us=enq - 29 * S, enqueue_us=enq,
               queue_wait_us=wait_s * S, hold_us=hold_s * S, skills=list(skills), callback_for=callback_for)
    if disposition == A:
        c.agent_id = agent
        c.connect_us = enq + wait_s * S
        c.talk_us = talk_s * S
        c.end_us = c.connect_us + c.talk_us
    else:
        c.end_us = enq + wait_s * S
    return c


def offered(uuid, agent, at_s, *, failed="", queue="sales"):
    kind = ev.QUEUE_OFFER_FAILED if failed else ev.QUEUE_OFFERED
    return ev.QueueEvent(event_id=f"q:{uuid}:{agent}:{at_s}:{kind}", call_uuid=uuid, queue=queue, type=kind,
                         agent_id=agent, timestamp_us=T0 + at_s * S, reason=failed)


def wrap(uuid, agent, from_s, wrap_s, enqueue_s):
    return ev.AgentStateEvent(event_id=f"as:{uuid}:{agent}:wrap", agent_id=agent, state=ev.READY,
                              previous_state=ev.WRAP_UP, timestamp_us=T0 + (from_s + wrap_s) * S,
                              previous_state_since_us=T0 + from_s * S, call_uuid=uuid,
                              call_enqueue_us=T0 + enqueue_s * S)


def state(agent, at_s, new, previous, since_s, reason=""):
    return ev.AgentStateEvent(event_id=f"as:{agent}:{at_s}", agent_id=agent, state=new, previous_state=previous,
                              reason=reason, timestamp_us=T0 + at_s * S, previous_state_since_us=T0 + since_s * S,
                              queues=["sales"])


def visit(uuid, seq, node, node_type, outcome, entered_s, left_s, flow="main"):
    return ev.IvrNodeVisit(event_id=f"ivr:{uuid}:{seq}", call_uuid=uuid, flow=flow, node=node, node_type=node_type,
                           sequence=seq, entered_us=T0 + entered_s * S, left_us=T0 + left_s * S, outcome=outcome)


CDRS = [
    # --- sales, bucket 09:00 ---------------------------------------------------------
    cdr("a1", A, 10, wait_s=0, talk_s=100, hold_s=10, agent="1001"),          # wait 0: slot 0
    cdr("a2", A, 100, wait_s=20, talk_s=200, agent="1002", skills=("en", "billing")),   # exactly 20 s: within
    cdr("a3", A, 200, wait_s=25, talk_s=60, agent="1001"),                     # 25 s: not within 20
    cdr("b1", AB, 300, wait_s=3),                                              # short abandon
    cdr("b2", AB, 400, wait_s=5),                                              # exactly 5 s: short
    cdr("b3", AB, 500, wait_s=15),                                             # abandoned within 20, not short
    cdr("b4", AB, 600, wait_s=40),                                             # abandoned after 20
    cdr("o1", ev.DISPOSITION_OVERFLOWED, 650, wait_s=60),                      # flowed out
    cdr("k1", ev.DISPOSITION_CALLBACK, 700, wait_s=30),                        # left a number
    cdr("r1", ev.DISPOSITION_REJECTED, 710),
    cdr("f1", ev.DISPOSITION_FAILED, 720),
    cdr("i1", ev.DISPOSITION_ENDED_IN_IVR, 730),                               # not offered
    # the callback for k1: handled work (talk 90 s), not a new offered call
    cdr("k1-cb", A, 700, wait_s=300, talk_s=90, agent="1002", callback_for="k1"),
    # --- sales, bucket 09:15 ---------------------------------------------------------
    cdr("a4", A, 1000, wait_s=310, talk_s=50, agent="1001", dnis="801"),      # over 300 s: last slot
    # --- sales, bucket 09:30 ---------------------------------------------------------
    cdr("a5", A, 1900, wait_s=5, talk_s=30, agent="1002"),
    # --- outside [T0, T0 + 1 h) ------------------------------------------------------
    cdr("a0", A, -10, wait_s=8, talk_s=50, agent="1001"),
    cdr("a9", A, 3600, wait_s=1, talk_s=10, agent="1001"),
    # --- support, bucket 09:00 -------------------------------------------------------
    cdr("s1", A, 120, wait_s=45, talk_s=300, hold_s=30, agent="1003", queue="support", dnis="900"),
    cdr("s2", AB, 130, wait_s=3, queue="support", dnis="900"),
]

QUEUE_EVENTS = [
    offered("a1", "1001", 10),
    offered("a2", "1001", 105), offered("a2", "1001", 115, failed="NO_ANSWER"), offered("a2", "1002", 116),
    offered("a3", "1001", 205), offered("a3", "1002", 205), offered("a3", "1002", 225, failed="LOSE_RACE"),
    offered("a4", "1001", 1300),
    offered("a5", "1002", 1901),
    offered("k1", "1002", 990),                  # the callback offered to 1002 (the original call's uuid)
    offered("s1", "1003", 160, queue="support"),
]

WRAPS = [
    wrap("a1", "1001", 120, 20, 10),             # 20 s after a1
    wrap("a2", "1002", 320, 40, 100),            # 40 s after a2
    wrap("k1", "1002", 1100, 10, 700),           # 10 s after the callback (call uuid k1)
    wrap("a5", "1002", 1940, 5, 1900),           # 5 s after a5
    wrap("s1", "1003", 470, 15, 120),            # 15 s after s1
]

# Agent 2001's day (no calls in the CDRs): intervals [since, at) in the previous state.
STATES = [
    state("2001", -600, ev.READY, ev.LOGGED_OUT, -3600),             # logged-out time: not counted
    state("2001", 300, ev.NOT_READY, ev.READY, -600, reason="break"),    # READY 600 s at 08:45, 300 s at 09:00
    state("2001", 1200, ev.READY, ev.NOT_READY, 300),                # NOT_READY break: 600 at 09:00, 300 at 09:15
    state("2001", 1500, ev.RESERVED, ev.READY, 1200),                # READY 300 at 09:15
    state("2001", 1510, ev.ON_CALL, ev.RESERVED, 1500),              # RESERVED 10 at 09:15
    state("2001", 2000, ev.WRAP_UP, ev.ON_CALL, 1510),               # ON_CALL 290 at 09:15, 200 at 09:30
    state("2001", 2060, ev.NOT_READY, ev.WRAP_UP, 2000, reason="training"),   # WRAP_UP 60 at 09:30
    state("2001", 2400, ev.LOGGED_OUT, ev.NOT_READY, 2060),          # NOT_READY training 340 at 09:30
    state("2001", 4000, ev.READY, ev.LOGGED_OUT, 2400),              # still READY: open, not in roll-ups
]

VISITS = [
    visit("v1", 1, "greeting", "play", "next", 0, 3), visit("v1", 2, "menu", "menu", "next", 3, 10),
    visit("v1", 3, "queue", "queue", "queued", 10, 11),
    visit("v2", 1, "greeting", "play", "next", 100, 103), visit("v2", 2, "menu", "menu", "hangup", 103, 108),
    visit("v3", 1, "greeting", "play", "next", 200, 203), visit("v3", 2, "menu", "menu", "next", 203, 209),
    visit("v3", 3, "goodbye", "play", "completed", 209, 212),
    visit("v4", 1, "greeting", "play", "hangup", 950, 951),                # bucket 09:15
    visit("v5", 1, "greeting", "play", "next", 300, 303), visit("v5", 2, "menu", "menu", "error", 303, 305),
    visit("w1", 1, "greeting", "play", "completed", 400, 405, flow="sales-ivr"),
    visit("x1", 1, "greeting", "play", "next", -100, -97),                 # before the range
]


def batch():
    messages = ([(topics.CDRS, m) for m in CDRS] + [(topics.QUEUE_EVENTS, m) for m in QUEUE_EVENTS]
                + [(topics.AGENT_EVENTS, m) for m in WRAPS + STATES] + [(topics.IVR_EVENTS, m) for m in VISITS])
    return [Record(topic, 0, i, "k", m, 0) for i, (topic, m) in enumerate(messages)]


def load(store, *, copies=1):
    """Migrate, ingest the batch (``copies`` times: at-least-once delivery) and refresh the roll-ups."""
    migrations.up(store)
    for table in ("cdrs", "queue_events", "agent_states", "ivr_visits", *rollup.ROLLUP_TABLES):
        store.execute(f"SYSTEM STOP MERGES {table}")       # keep every copy and version: queries must dedupe
    refresher = rollup.Refresher(store)
    ingest = Ingester(store, after_insert=refresher.after_batch)
    for _ in range(copies):
        ingest(batch())
    return refresher


def interval(store, **kw):
    args = dict(from_us=T0, to_us=T0 + HOUR, interval_s=1800, threshold_s=20, short_abandon_s=5)
    args.update(kw)
    return queries.interval_report(store, **args)


def figures(f):
    """The figures of one IntervalFigures, rounded for comparison."""
    c = f.counts
    return dict(member=f.member, start=f.interval_start_us, offered=c.offered, answered=c.answered,
                handled=c.handled, abandoned=c.abandoned, short=c.short_abandoned, within=c.answered_within,
                ab_within=c.abandoned_within, flowed=c.flowed_out, callbacks=c.callbacks, rejected=c.rejected,
                failed=c.failed, sl_ignored=round(f.service_level_abandons_ignored, 9),
                sl_against=round(f.service_level_abandons_against, 9), sl_for=round(f.service_level_abandons_for, 9),
                abandon_rate=round(f.abandon_rate, 9), asa=round(f.asa_s, 9), aht=round(f.aht_s, 9),
                max_wait=f.max_wait_s, avg_abandon_wait=round(f.avg_abandon_wait_s, 9), talk=c.talk_us / S,
                hold=c.hold_us / S, wrap=c.wrap_up_us / S)


def r(x):
    return round(x, 9)


# sales 09:00-09:30 (buckets 09:00 and 09:15): a1 a2 a3 a4 b1 b2 b3 b4 o1 k1 r1 f1 offered (12; i1 ended
# in the IVR, k1-cb is a callback); answered a1 a2 a3 a4 = 4; handled = 4 + k1-cb = 5; abandoned b1..b4 = 4,
# short (<= 5 s) b1 b2 = 2; answered within 20 s: a1 (0 s), a2 (20 s) = 2; abandoned <= 20 s: b1 b2 b3 = 3,
# so after the short ones 1 (b3). offered' = 12 - 2 = 10.
SALES_1 = dict(
    member="sales", start=T0, offered=12, answered=4, handled=5, abandoned=4, short=2, within=2, ab_within=1,
    flowed=1, callbacks=1, rejected=1, failed=1,
    sl_ignored=r(2 / (10 - 1)), sl_against=r(2 / 10), sl_for=r((2 + 1) / 10),
    abandon_rate=r((4 - 2) / (12 - 2)),
    asa=r((0 + 20 + 25 + 310) / 4),                           # 88.75
    aht=r(((100 + 200 + 60 + 50 + 90) + (20 + 40 + 10)) / 5),  # (talk 500 + wrap-up 70) / 5 = 114
    max_wait=310.0, avg_abandon_wait=r((3 + 5 + 15 + 40) / 4),  # 15.75
    talk=500.0, hold=10.0, wrap=70.0)
# sales 09:30-10:00: a5 answered after 5 s, talk 30, wrap-up 5.
SALES_2 = dict(
    member="sales", start=T0 + 1800 * S, offered=1, answered=1, handled=1, abandoned=0, short=0, within=1,
    ab_within=0, flowed=0, callbacks=0, rejected=0, failed=0, sl_ignored=1.0, sl_against=1.0, sl_for=1.0,
    abandon_rate=0.0, asa=5.0, aht=35.0, max_wait=5.0, avg_abandon_wait=0.0, talk=30.0, hold=0.0, wrap=5.0)
# support 09:00-09:30: s1 answered after 45 s (talk 300, hold 30, wrap 15), s2 a short abandon (3 s):
# offered' = 1, nothing within 20 s.
SUPPORT_1 = dict(
    member="support", start=T0, offered=2, answered=1, handled=1, abandoned=1, short=1, within=0, ab_within=0,
    flowed=0, callbacks=0, rejected=0, failed=0, sl_ignored=0.0, sl_against=0.0, sl_for=0.0, abandon_rate=0.0,
    asa=45.0, aht=315.0, max_wait=45.0, avg_abandon_wait=3.0, talk=300.0, hold=30.0, wrap=15.0)
# The total: counts added up (offered 15, offered' 15 - 3 = 12, within 3, abandons within 1 after short).
TOTAL = dict(
    member="", start=T0, offered=15, answered=6, handled=7, abandoned=5, short=3, within=3, ab_within=1,
    flowed=1, callbacks=1, rejected=1, failed=1, sl_ignored=r(3 / (12 - 1)), sl_against=r(3 / 12),
    sl_for=r(4 / 12), abandon_rate=r((5 - 3) / (15 - 3)),
    asa=r((355 + 5 + 45) / 6), aht=r((500 + 70 + 35 + 315) / 7), max_wait=310.0,
    avg_abandon_wait=r((63 + 3) / 5), talk=830.0, hold=40.0, wrap=90.0)


def test_interval_report_by_queue(store):
    load(store)
    report = interval(store)
    assert [figures(f) for f in report.rows] == [SALES_1, SALES_2, SUPPORT_1]
    assert figures(report.total) == TOTAL

    # One member, one custom interval (the whole hour): the sum of its rows.
    sales = interval(store, member="sales", interval_s=3600)
    assert [(f.member, f.interval_start_us, f.counts.offered, f.counts.answered) for f in sales.rows] == [
        ("sales", T0, 13, 5)]
    assert sales.total.member == "sales" and sales.total.counts == sales.rows[0].counts
    assert interval(store, member="nobody").rows == []


def test_thresholds_read_the_wait_histograms(store):
    load(store)
    # T = 25 s: a3 (25 s) is now answered in time; abandons <= 25 s are still b1 b2 b3.
    (first, _), = [interval(store, member="sales", threshold_s=25).rows]
    assert (first.counts.answered_within, first.counts.abandoned_within) == (3, 1)
    assert first.service_level_abandons_against == pytest.approx(3 / 10)
    # T = 300 s: a4 (310 s) is in the last slot, over 300: not within; b4 (40 s) now abandoned within.
    (first, _), = [interval(store, member="sales", threshold_s=300).rows]
    assert (first.counts.answered_within, first.counts.abandoned_within) == (3, 2)
    assert first.service_level_abandons_ignored == pytest.approx(3 / (10 - 2))
    assert first.service_level_abandons_for == pytest.approx((3 + 2) / 10)
    # T = 0: only a1 (no wait at all).
    (first, _), = [interval(store, member="sales", threshold_s=0).rows]
    assert first.counts.answered_within == 1
    # No short abandons (-1): offered' = 12, every abandon counts; abandons <= 20 s: b1 b2 b3.
    (first, _), = [interval(store, member="sales", short_abandon_s=-1).rows]
    assert (first.counts.short_abandoned, first.counts.abandoned_within) == (0, 3)
    assert first.abandon_rate == pytest.approx(4 / 12)
    assert first.service_level_abandons_ignored == pytest.approx(2 / (12 - 3))
    assert first.service_level_abandons_against == pytest.approx(2 / 12)
    assert first.service_level_abandons_for == pytest.approx(5 / 12)
    # Short abandons up to 15 s: b1 b2 b3 are short, none is left within 20 s.
    (first, _), = [interval(store, member="sales", short_abandon_s=15).rows]
    assert (first.counts.short_abandoned, first.counts.abandoned_within) == (3, 0)
    assert first.abandon_rate == pytest.approx(1 / 9)


def test_interval_report_by_agent_skill_and_dnis(store):
    load(store)
    by_agent = {f.member: f for f in interval(store, group_by="agent", interval_s=3600).rows}
    assert sorted(by_agent) == ["1001", "1002", "1003"]        # 2001 took no call
    a = by_agent["1001"]                                       # answered a1 (0 s), a3 (25 s), a4 (310 s)
    assert (a.counts.offered, a.counts.answered, a.counts.handled, a.counts.answered_within) == (3, 3, 3, 1)
    assert a.asa_s == pytest.approx((0 + 25 + 310) / 3)
    assert a.aht_s == pytest.approx((100 + 60 + 50 + 20) / 3)  # talk 210 + its own wrap-up 20
    b = by_agent["1002"]                                       # a2 (20 s), a5 (5 s) and the callback k1-cb
    assert (b.counts.offered, b.counts.answered, b.counts.handled, b.counts.answered_within) == (2, 2, 3, 2)
    assert b.aht_s == pytest.approx(((200 + 30 + 90) + (40 + 5 + 10)) / 3)

    by_skill = {f.member: f for f in interval(store, group_by="skill", interval_s=3600).rows}
    assert by_skill["billing"].counts.offered == 1 and by_skill["billing"].counts.answered_within == 1
    assert by_skill["en"].counts.offered == 15                 # every call requires "en" (a2 counts in both)

    by_dnis = {f.member: f for f in interval(store, group_by="dnis", interval_s=3600).rows}
    assert sorted(by_dnis) == ["800", "801", "900"]
    assert (by_dnis["801"].counts.offered, by_dnis["801"].max_wait_s) == (1, 310.0)      # a4 only
    assert by_dnis["800"].counts.offered == 12 and by_dnis["900"].counts.offered == 2


def test_agent_report(store):
    load(store)
    report = queries.agent_report(store, from_us=T0, to_us=T0 + HOUR, interval_s=1800)
    rows = {(f.agent_id, f.interval_start_us): f for f in report.rows}
    assert sorted(rows) == [("1001", T0), ("1002", T0), ("1002", T0 + 1800 * S), ("1003", T0),
                            ("2001", T0), ("2001", T0 + 1800 * S)]

    # 1001, 09:00-09:30: handled a1 a3 a4; rung for a1 a2 a3 a4 (4), missed a2 (NO_ANSWER).
    c = rows[("1001", T0)].counts
    assert (c.handled, c.offers, c.missed, c.talk_us, c.hold_us, c.wrap_up_us) == (
        3, 4, 1, 210 * S, 10 * S, 20 * S)
    assert rows[("1001", T0)].aht_s == pytest.approx((210 + 20) / 3)
    # 1002, 09:00-09:30: handled a2 and the callback; rung for a2, a3 (lost the race: no miss) and k1.
    c = rows[("1002", T0)].counts
    assert (c.handled, c.offers, c.missed, c.talk_us, c.wrap_up_us) == (2, 3, 0, 290 * S, 50 * S)

    # 2001's state time, intervals split at the bucket edges (08:45's 600 s READY is before the range):
    # 09:00-09:30: READY 300 + 300, NOT_READY break 600 + 300, RESERVED 10, ON_CALL 290.
    first = rows[("2001", T0)]
    c = first.counts
    assert (c.logged_in_us, c.ready_us, c.reserved_us, c.on_call_us, c.wrap_up_state_us, c.not_ready_us) == (
        1800 * S, 600 * S, 10 * S, 290 * S, 0, 900 * S)
    assert c.not_ready_by_reason_us == (("break", 900 * S),)
    assert first.occupancy == pytest.approx((10 + 290) / (600 + 10 + 290))
    # 09:30-10:00: ON_CALL 200, WRAP_UP 60, NOT_READY training 340; then logged out (not counted),
    # then READY from 10:06:40 (still open: not in the roll-ups).
    second = rows[("2001", T0 + 1800 * S)]
    c = second.counts
    assert (c.logged_in_us, c.ready_us, c.on_call_us, c.wrap_up_state_us, c.not_ready_us) == (
        600 * S, 0, 200 * S, 60 * S, 340 * S)
    assert c.not_ready_by_reason_us == (("training", 340 * S),)
    assert second.occupancy == 1.0

    # The call agents' wrap-up events are WRAP_UP intervals too: 1001 20 s, 1002 40 + 10 + 5 s, 1003 15 s.
    assert rows[("1001", T0)].counts.wrap_up_state_us == rows[("1001", T0)].counts.logged_in_us == 20 * S
    t = report.total.counts
    assert (t.logged_in_us, t.ready_us, t.reserved_us, t.on_call_us, t.wrap_up_state_us) == (
        (2400 + 90) * S, 600 * S, 10 * S, 490 * S, (60 + 90) * S)
    assert t.not_ready_by_reason_us == (("break", 900 * S), ("training", 340 * S))
    assert report.total.occupancy == pytest.approx((10 + 490 + 150) / (600 + 10 + 490 + 150))
    # handled: 1001 3, 1002 2 + 1 (a5 after 09:30), 1003 1; offers: 1001 4, 1002 3 + 1, 1003 1; missed: a2's.
    assert (t.handled, t.offers, t.missed) == (3 + 2 + 1 + 1, 4 + 3 + 1 + 1, 1)

    one = queries.agent_report(store, from_us=T0, to_us=T0 + HOUR, interval_s=3600, agent_id="2001")
    assert [(f.agent_id, f.counts.not_ready_us) for f in one.rows] == [("2001", 1240 * S)]


def test_ivr_report(store):
    load(store)
    report = queries.ivr_report(store, from_us=T0, to_us=T0 + HOUR)
    nodes = {(n.counts.flow, n.counts.node): n for n in report.nodes}
    assert sorted(nodes) == [("main", "goodbye"), ("main", "greeting"), ("main", "menu"), ("main", "queue"),
                             ("sales-ivr", "greeting")]
    g = nodes[("main", "greeting")]               # v1 v2 v3 v5 at 09:00, v4 at 09:15 (hung up)
    assert (g.counts.node_type, g.counts.visits, g.counts.calls, g.counts.entries, g.counts.hangups) == (
        "play", 5, 5, 5, 1)
    assert g.drop_off_rate == pytest.approx(1 / 5)
    assert g.avg_time_s == pytest.approx((3 + 3 + 3 + 1 + 3) / 5)
    m = nodes[("main", "menu")]                   # v1 next, v2 hangup, v3 next, v5 error
    assert (m.counts.visits, m.counts.hangups, m.counts.errors, m.counts.entries) == (4, 1, 1, 0)
    assert (m.drop_off_rate, m.avg_time_s) == (0.25, 5.0)   # (7 + 5 + 6 + 2) / 4
    assert (nodes[("main", "queue")].counts.queued, nodes[("main", "goodbye")].counts.completed) == (1, 1)

    flows = {f.flow: f for f in report.flows}
    main = flows["main"]                          # 5 calls entered; v3 contained; v2 v4 hung up; v1 queued
    assert (main.calls, main.contained, main.abandoned, main.queued) == (5, 1, 2, 1)
    assert main.containment_rate == pytest.approx(1 / 5)
    assert (flows["sales-ivr"].calls, flows["sales-ivr"].containment_rate) == (1, 1.0)

    only = queries.ivr_report(store, from_us=T0, to_us=T0 + HOUR, flow="sales-ivr")
    assert [f.flow for f in only.flows] == ["sales-ivr"] and len(only.nodes) == 1


def snapshot(store):
    return (interval(store), interval(store, group_by="agent"), interval(store, group_by="skill"),
            queries.agent_report(store, from_us=T0, to_us=T0 + HOUR, interval_s=900),
            queries.ivr_report(store, from_us=T0, to_us=T0 + HOUR))


def test_duplicates_and_recomputes_change_nothing(store):
    refresher = load(store, copies=2)                       # every event stored twice
    assert store.query("SELECT count() FROM cdrs") == [(2 * len(CDRS),)]
    before = snapshot(store)
    assert [figures(f) for f in before[0].rows] == [SALES_1, SALES_2, SUPPORT_1]

    refresher.after_batch(batch())                          # the same buckets recomputed again
    rollup.rebuild(store, T0 - HOUR, T0 + 2 * HOUR)        # and every bucket of the range
    assert snapshot(store) == before
    # Each recompute wrote new versions: superseded rows exist, readers take the newest.
    versions = store.query("SELECT max(c) FROM (SELECT count() AS c FROM call_stats_15m "
                           "GROUP BY dimension, member, bucket_us)")
    assert versions[0][0] >= 3


def test_rebuild_alone_gives_the_same_reports(store):
    migrations.up(store)
    Ingester(store)(batch())                                # no refresher: raw rows only
    assert interval(store).rows == []
    assert rollup.rebuild(store, T0 - HOUR + 1, T0 + 2 * HOUR - 1) == 12    # rounded out to whole buckets
    assert [figures(f) for f in interval(store).rows] == [SALES_1, SALES_2, SUPPORT_1]
    assert figures(interval(store).total) == TOTAL


def test_a_corrected_cdr_moves_its_call(store):
    """The newest copy of a CDR wins; the member it left has no stale row."""
    migrations.up(store)
    refresher = rollup.Refresher(store)
    ingest = Ingester(store, after_insert=refresher.after_batch, clock=iter([100.0, 200.0]).__next__)
    ingest([Record(topics.CDRS, 0, 0, "k", cdr("z1", A, 2800, wait_s=4, talk_s=10, agent="1001", queue="old"), 0)])
    assert [(f.member, f.counts.offered) for f in interval(store).rows] == [("old", 1)]
    ingest([Record(topics.CDRS, 0, 1, "k", cdr("z1", A, 2800, wait_s=4, talk_s=10, agent="1001", queue="new"), 0)])
    assert [(f.member, f.counts.offered) for f in interval(store).rows] == [("new", 1)]
    assert interval(store).total.counts.offered == 1


def test_late_offers_and_wrap_ups_refresh_their_calls_bucket(store):
    """Events arriving after their call's CDR land in the CDR's enqueue bucket."""
    migrations.up(store)
    refresher = rollup.Refresher(store)
    ingest = Ingester(store, after_insert=refresher.after_batch)
    a1, a4 = CDRS[0], CDRS[13]
    ingest([Record(topics.CDRS, 0, 0, "k", a1, 0), Record(topics.CDRS, 0, 1, "k", a4, 0)])
    # a4's offer comes 300 s after it was enqueued, in a later bucket; its wrap-up event carries no enqueue time.
    late_wrap = wrap("a4", "1001", 1400, 30, 1000)
    late_wrap.call_enqueue_us = 0
    ingest([Record(topics.QUEUE_EVENTS, 0, 2, "k", offered("a4", "1001", 1300), 0),
            Record(topics.AGENT_EVENTS, 0, 3, "k", late_wrap, 0),
            Record(topics.AGENT_EVENTS, 0, 4, "k", WRAPS[0], 0)])
    report = queries.agent_report(store, from_us=T0, to_us=T0 + HOUR, interval_s=900, agent_id="1001")
    calls = {f.interval_start_us: (f.counts.handled, f.counts.offers, f.counts.wrap_up_us) for f in report.rows}
    assert calls[T0] == (1, 0, 20 * S)                      # a1 and its wrap-up
    assert calls[T0 + 900 * S] == (1, 1, 30 * S)            # a4, enqueued 09:16:40: its offer and wrap-up


@pytest.mark.parametrize("kw, field", [
    (dict(from_us=T0 + S), "from_us"),
    (dict(to_us=T0 + HOUR + S), "to_us"),
    (dict(to_us=T0), "to_us"),
    (dict(from_us=-900 * S), "from_us"),
    (dict(interval_s=600), "interval_s"),
    (dict(interval_s=0), "interval_s"),
    (dict(threshold_s=21), "service_level_threshold_s"),
    (dict(threshold_s=305), "service_level_threshold_s"),
    (dict(short_abandon_s=-5), "short_abandon_s"),
    (dict(short_abandon_s=7), "short_abandon_s"),
    (dict(group_by="site"), "group_by"),
    (dict(member="q" * 300), "queue"),
])
def test_bad_arguments_name_the_field_and_store_nothing(store, kw, field):
    from hotline.common.errors import InvalidArgument

    migrations.up(store)
    with pytest.raises(InvalidArgument) as caught:
        interval(store, **kw)
    assert caught.value.field == field
    assert store.query("SELECT count() FROM call_stats_15m") == [(0,)]
