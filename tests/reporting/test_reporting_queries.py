"""The per-call facts query on both engines: duplicates (at-least-once) count
once, the newest copy of a CDR wins, wrap-up joins its call."""
from hotline.common import topics
from hotline.common.bus import Record
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import formulas, migrations, queries
from hotline.reporting.ingest import Ingester

S = 1_000_000
T0 = 1_709_283_600 * S


def records(messages):
    return [Record(topic, 0, i, "k", m, 0) for i, (topic, m) in enumerate(messages)]


def test_duplicates_count_once_and_the_newest_copy_wins(store):
    migrations.up(store)
    # Keep every copy as a separate part, so the query (not a merge) has to dedupe.
    for table in ("cdrs", "agent_states"):
        store.execute(f"SYSTEM STOP MERGES {table}")
    first = ev.Cdr(event_id="cdr:a", call_uuid="a", queue="q", disposition=ev.DISPOSITION_ANSWERED,
                   start_us=T0, enqueue_us=T0, connect_us=T0 + 5 * S, queue_wait_us=5 * S, talk_us=60 * S,
                   hold_us=7 * S, end_us=T0 + 65 * S)
    newer = ev.Cdr()
    newer.CopyFrom(first)
    newer.talk_us = 70 * S                                   # e.g. a corrected CDR, same event id
    ivr = ev.Cdr(event_id="cdr:b", call_uuid="b", queue="q", disposition=ev.DISPOSITION_ENDED_IN_IVR,
                 start_us=T0, enqueue_us=T0 + S)
    left_wrap = ev.AgentStateEvent(event_id="as:1", agent_id="1001", state=ev.READY, previous_state=ev.WRAP_UP,
                                   timestamp_us=T0 + 95 * S, previous_state_since_us=T0 + 65 * S,
                                   call_uuid="a", queue="q")
    other_agent = ev.AgentStateEvent(event_id="as:2", agent_id="1002", state=ev.NOT_READY,
                                     previous_state=ev.WRAP_UP, timestamp_us=T0 + 75 * S,
                                     previous_state_since_us=T0 + 65 * S, call_uuid="a", queue="q")
    clock = iter([100.0, 100.0, 200.0])
    ingest = Ingester(store, clock=lambda: next(clock))
    batch = records([(topics.CDRS, first), (topics.CDRS, ivr), (topics.AGENT_EVENTS, left_wrap),
                     (topics.AGENT_EVENTS, other_agent)])
    ingest(batch)
    ingest(batch)                                            # a replay of the same batch
    ingest(records([(topics.CDRS, newer)]))                  # a newer copy, ingested later

    assert store.query("SELECT count() FROM cdrs") == [(5,)]
    assert store.query("SELECT count() FROM agent_states") == [(4,)]
    facts = queries.fetch_call_facts(store, T0, T0 + 3600 * S)
    assert facts == [formulas.CallFacts(queue="q", disposition=formulas.ANSWERED, enqueue_us=T0,
                                        connect_us=T0 + 5 * S, queue_wait_us=5 * S, talk_us=70 * S, hold_us=7 * S,
                                        wrap_up_us=(30 + 10) * S)]   # two agents' wrap-ups, each once
    assert queries.fetch_call_facts(store, T0, T0 + 3600 * S, queue="q") == facts
    assert queries.fetch_call_facts(store, T0, T0 + 3600 * S, queue="q'; DROP TABLE cdrs; --") == []
    assert queries.fetch_call_facts(store, T0 + S, T0 + 3600 * S) == []
    assert store.query("SELECT count() FROM cdrs") == [(5,)]
