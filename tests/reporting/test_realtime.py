"""The real-time view on both engines: calls waiting and the longest wait from
the latest queue event of each call, agents by state from the latest agent
event, today's figures from the roll-ups, and the newest event stored.

NOW = 2024-03-01 11:00:00 UTC; "today" starts at 00:00 UTC.
"""
import pytest

from hotline.common import topics
from hotline.common.bus import Record
from hotline.common.errors import InvalidArgument
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import migrations, realtime, rollup
from hotline.reporting.ingest import Ingester

S = 1_000_000
MIDNIGHT = 1_709_251_200 * S
NOW = MIDNIGHT + 11 * 3600 * S


def qe(call, queue, kind, at_s, *, wait_s=0, agent=""):
    """A queue event ``at_s`` seconds before NOW, the call enqueued ``wait_s`` before it."""
    return ev.QueueEvent(event_id=f"q:{call}:{kind}:{at_s}", call_uuid=call, queue=queue, type=kind,
                         timestamp_us=NOW - at_s * S, wait_us=wait_s * S, agent_id=agent)


def agent_event(agent, new, previous, at_s, since_s, *, reason="", queues=("sales",), call="", queue=""):
    return ev.AgentStateEvent(event_id=f"as:{agent}:{at_s}", agent_id=agent, state=new, previous_state=previous,
                              reason=reason, timestamp_us=NOW - at_s * S, previous_state_since_us=NOW - since_s * S,
                              queues=list(queues), call_uuid=call, queue=queue)


QUEUE_EVENTS = [
    # w1: enqueued 120 s ago, announced 30 s ago (wait 90 s): waiting in sales since 120 s.
    qe("w1", "sales", ev.QUEUE_ENQUEUED, 120), qe("w1", "sales", ev.QUEUE_ANNOUNCED, 30, wait_s=90),
    # w2: enqueued 40 s ago, rung (OFFERED) 10 s ago: still waiting.
    qe("w2", "sales", ev.QUEUE_ENQUEUED, 40), qe("w2", "sales", ev.QUEUE_OFFERED, 10, wait_s=30, agent="1002"),
    # c1: connected: not waiting. a1: abandoned: not waiting.
    qe("c1", "sales", ev.QUEUE_ENQUEUED, 300), qe("c1", "sales", ev.QUEUE_CONNECTED, 290, wait_s=10),
    qe("a1", "sales", ev.QUEUE_ENQUEUED, 200), qe("a1", "sales", ev.QUEUE_ABANDONED, 150, wait_s=50),
    # m1: overflowed from sales to support at the same µs as its enqueue there: waiting in support for 20 s.
    qe("m1", "sales", ev.QUEUE_ENQUEUED, 80), qe("m1", "sales", ev.QUEUE_OVERFLOWED, 20, wait_s=60),
    qe("m1", "support", ev.QUEUE_ENQUEUED, 20),
    # k1: left a number for a callback 500 s after entering support 700 s ago: keeps its place (700 s).
    qe("k1", "support", ev.QUEUE_ENQUEUED, 700), qe("k1", "support", ev.QUEUE_CALLBACK_REQUESTED, 200, wait_s=500),
    # old: enqueued 7 h ago, nothing since: outside the 6-hour window, not shown.
    qe("old", "sales", ev.QUEUE_ENQUEUED, 7 * 3600),
]

AGENT_EVENTS = [
    agent_event("1001", ev.READY, ev.LOGGED_OUT, 3600, 7200),                            # READY for 1 h
    agent_event("1002", ev.READY, ev.NOT_READY, 900, 1000),
    agent_event("1002", ev.RESERVED, ev.READY, 10, 900, call="w2", queue="sales"),       # ringing for w2
    agent_event("1003", ev.NOT_READY, ev.READY, 60, 500, reason="break", queues=("sales", "support")),
    agent_event("1004", ev.LOGGED_OUT, ev.READY, 5, 400),                                # logged out: omitted
    agent_event("1005", ev.WRAP_UP, ev.ON_CALL, 45, 200, queues=("support",), call="x1", queue="support"),
]

# Today's calls (CDRs): sales a2 answered after 10 s at 09:00, a3 answered after 30 s at 10:00, a4 abandoned
# after 2 s (short) and a5 after 12 s; one call yesterday.
CDRS = [
    ev.Cdr(event_id="cdr:a2", call_uuid="a2", queue="sales", disposition=ev.DISPOSITION_ANSWERED, agent_id="1001",
           enqueue_us=MIDNIGHT + 9 * 3600 * S, queue_wait_us=10 * S, talk_us=60 * S),
    ev.Cdr(event_id="cdr:a3", call_uuid="a3", queue="sales", disposition=ev.DISPOSITION_ANSWERED, agent_id="1001",
           enqueue_us=MIDNIGHT + 10 * 3600 * S, queue_wait_us=30 * S, talk_us=60 * S),
    ev.Cdr(event_id="cdr:a4", call_uuid="a4", queue="sales", disposition=ev.DISPOSITION_ABANDONED,
           enqueue_us=MIDNIGHT + 10 * 3600 * S, queue_wait_us=2 * S),
    ev.Cdr(event_id="cdr:a5", call_uuid="a5", queue="sales", disposition=ev.DISPOSITION_ABANDONED,
           enqueue_us=MIDNIGHT + 10 * 3600 * S, queue_wait_us=12 * S),
    ev.Cdr(event_id="cdr:y1", call_uuid="y1", queue="sales", disposition=ev.DISPOSITION_ANSWERED, agent_id="1001",
           enqueue_us=MIDNIGHT - 3600 * S, queue_wait_us=1 * S, talk_us=60 * S),
]


@pytest.fixture
def loaded(store):
    migrations.up(store)
    messages = ([(topics.QUEUE_EVENTS, m) for m in QUEUE_EVENTS] + [(topics.AGENT_EVENTS, m) for m in AGENT_EVENTS]
                + [(topics.CDRS, m) for m in CDRS])
    batch = [Record(t, 0, i, "k", m, 0) for i, (t, m) in enumerate(messages)]
    ingest = Ingester(store, after_insert=rollup.Refresher(store).after_batch)
    ingest(batch)
    ingest(batch)                                  # every event twice: nothing may change
    return store


def test_queues_now(loaded):
    view = realtime.realtime(loaded, now_us=NOW)
    assert view.as_of_us == NOW
    assert view.newest_event_us == NOW - 5 * S          # 1004's log-out, the newest event stored
    queues = {q.queue: q for q in view.queues}
    assert sorted(queues) == ["sales", "support"]

    sales = queues["sales"]
    assert (sales.calls_waiting, sales.longest_wait_s) == (2, 120.0)        # w1 (120 s), w2 (40 s)
    # Agents serving sales: 1001 READY, 1002 RESERVED, 1003 NOT_READY (1004 logged out, 1005 serves support).
    assert sales.agents_by_state == {"READY": 1, "RESERVED": 1, "NOT_READY": 1}
    # Today: offered a2 a3 a4 a5 (4), answered 2, abandoned 2 of which a4 short (<= 5 s): offered' 3;
    # within 20 s: a2 only. Yesterday's y1 does not count.
    assert (sales.offered_today, sales.answered_today, sales.abandoned_today) == (4, 2, 2)
    assert sales.service_level_today == pytest.approx(1 / 3)
    assert sales.abandon_rate_today == pytest.approx(1 / 3)
    assert sales.asa_today_s == 20.0                    # (10 + 30) / 2

    support = queues["support"]
    assert (support.calls_waiting, support.longest_wait_s) == (2, 700.0)    # m1 (20 s), k1 (700 s)
    assert support.agents_by_state == {"NOT_READY": 1, "WRAP_UP": 1}
    assert (support.offered_today, support.service_level_today) == (0, 0.0)


def test_agents_now(loaded):
    view = realtime.realtime(loaded, now_us=NOW)
    agents = {a.agent_id: a for a in view.agents}
    assert sorted(agents) == ["1001", "1002", "1003", "1005"]               # 1004 logged out
    assert (agents["1001"].state, agents["1001"].since_us, agents["1001"].time_in_state_s) == (
        "READY", NOW - 3600 * S, 3600.0)
    assert (agents["1002"].state, agents["1002"].queue, agents["1002"].call_uuid) == ("RESERVED", "sales", "w2")
    assert (agents["1003"].state, agents["1003"].reason, agents["1003"].queues) == (
        "NOT_READY", "break", ("sales", "support"))
    assert (agents["1005"].state, agents["1005"].queue, agents["1005"].time_in_state_s) == ("WRAP_UP", "support", 45.0)

    only = realtime.realtime(loaded, now_us=NOW, queues=["sales", "empty"], agents=["1003"])
    assert [q.queue for q in only.queues] == ["sales", "empty"]
    assert only.queues[1] == realtime.QueueNow(queue="empty")
    assert [a.agent_id for a in only.agents] == ["1003"]
    assert only.queues[0].agents_by_state == {"READY": 1, "RESERVED": 1, "NOT_READY": 1}   # every agent counts


def test_today_starts_at_the_given_local_midnight(loaded):
    # Today from 09:15 UTC (e.g. a time zone at UTC-14:45... any multiple of 15 minutes): a2 (09:00) is yesterday.
    view = realtime.realtime(loaded, now_us=NOW, queues=["sales"], day_start_us=MIDNIGHT + 9 * 3600 * S + 900 * S)
    assert view.queues[0].offered_today == 3


def test_a_quiet_store_and_bad_arguments(store):
    migrations.up(store)
    view = realtime.realtime(store, now_us=NOW)
    assert (view.newest_event_us, view.queues, view.agents) == (0, [], [])
    for kw, field in ((dict(threshold_s=7), "service_level_threshold_s"), (dict(short_abandon_s=301), "short_abandon_s"),
                      (dict(day_start_us=MIDNIGHT + S), "day_start_us"), (dict(queues=["q" * 300]), "queues")):
        with pytest.raises(InvalidArgument) as caught:
            realtime.realtime(store, now_us=NOW, **kw)
        assert caught.value.field == field
