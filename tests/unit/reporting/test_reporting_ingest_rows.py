"""Events to rows, one pipeline per table (hermetic). Report requests are
checked in test_formulas_requests.py."""
from hotline.common import topics
from hotline.common.bus import Record
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import ingest


def record(topic, message, offset=0):
    return Record(topic, 0, offset, "k", message, 0)


def named_rows(tables, table):
    pipeline, rows = tables[table]
    return [dict(zip(pipeline.columns + ("ingested_us",), row)) for row in rows]


def test_a_cdr_becomes_one_row_with_enum_names():
    cdr = ev.Cdr(event_id="cdr:1", call_uuid="1", queue="sales", disposition=ev.DISPOSITION_ABANDONED,
                 enqueue_us=5, queue_wait_us=7, offers=2, skills=["fr", "billing"], ivr_flow="main")
    tables = ingest.rows_by_table([record(topics.CDRS, cdr)], ingested_us=99)
    assert list(tables) == ["cdrs"]
    (named,) = named_rows(tables, "cdrs")
    assert named["disposition"] == "DISPOSITION_ABANDONED"
    assert (named["event_id"], named["queue"], named["enqueue_us"], named["offers"]) == ("cdr:1", "sales", 5, 2)
    assert (named["skills"], named["ivr_flow"]) == (["fr", "billing"], "main")
    assert named["ingested_us"] == 99
    assert named["connect_us"] == 0


def test_unknown_enum_numbers_are_kept_as_numbers():
    state = ev.AgentStateEvent(event_id="a", state=42, previous_state=ev.WRAP_UP)
    (named,) = named_rows(ingest.rows_by_table([record(topics.AGENT_EVENTS, state)], 1), "agent_states")
    assert (named["state"], named["previous_state"]) == ("42", "WRAP_UP")


def test_a_batch_is_grouped_per_table():
    batch = [record(topics.CALL_EVENTS, ev.CallEvent(event_id="e1", type=ev.CALL_ANSWERED, leg=ev.LEG_CALLER)),
             record(topics.CDRS, ev.Cdr(event_id="cdr:1")),
             record(topics.CALL_EVENTS, ev.CallEvent(event_id="e2")),
             record(topics.QUEUE_EVENTS, ev.QueueEvent(event_id="q1", type=ev.QUEUE_ABANDONED)),
             record(topics.RECORDINGS, ev.RecordingSaved(event_id="r1", channels=2)),
             record(topics.IVR_EVENTS, ev.IvrNodeVisit(event_id="ivr:c:1", sequence=1))]
    tables = ingest.rows_by_table(batch, 1)
    assert {t: len(rows) for t, (_, rows) in tables.items()} == {
        "call_events": 2, "cdrs": 1, "queue_events": 1, "recordings": 1, "ivr_visits": 1}
    first = named_rows(tables, "call_events")[0]
    assert (first["type"], first["leg"]) == ("CALL_ANSWERED", "LEG_CALLER")


def test_every_leg_hangup_complete_is_also_a_leg_cdr():
    caller = ev.CallEvent(event_id="core:9", call_uuid="c1", leg_uuid="c1", leg=ev.LEG_CALLER,
                          type=ev.CALL_HANGUP_COMPLETE, created_us=1, answered_us=2, bridged_us=3, hangup_us=9,
                          billsec_us=7, hold_accum_us=4, hangup_cause="NORMAL_CLEARING", ani="+1", dnis="100")
    agent = ev.CallEvent(event_id="core:10", call_uuid="c1", leg_uuid="a1", leg=ev.LEG_AGENT,
                         type=ev.CALL_HANGUP_COMPLETE, other_leg_uuid="c1", agent_id="1001", queue="sales",
                         created_us=2, hangup_us=9)
    hangup = ev.CallEvent(event_id="core:8", call_uuid="c1", leg_uuid="c1", type=ev.CALL_HANGUP, hangup_us=9)
    tables = ingest.rows_by_table([record(topics.CALL_EVENTS, m) for m in (hangup, caller, agent)], 5)
    assert len(tables["call_events"][1]) == 3          # every event is a call event
    legs = named_rows(tables, "cdr_legs")              # only the two hang-up-complete ones are legs
    assert [(r["event_id"], r["leg_uuid"], r["leg"]) for r in legs] == [
        ("core:9", "c1", "LEG_CALLER"), ("core:10", "a1", "LEG_AGENT")]
    assert {k: legs[0][k] for k in ("created_us", "answered_us", "bridged_us", "hangup_us", "billsec_us",
                                    "hold_accum_us", "hangup_cause", "ani", "dnis", "ingested_us")} == {
        "created_us": 1, "answered_us": 2, "bridged_us": 3, "hangup_us": 9, "billsec_us": 7, "hold_accum_us": 4,
        "hangup_cause": "NORMAL_CLEARING", "ani": "+1", "dnis": "100", "ingested_us": 5}
    assert (legs[1]["agent_id"], legs[1]["queue"], legs[1]["other_leg_uuid"]) == ("1001", "sales", "c1")


def test_an_ivr_visit_becomes_one_row():
    visit = ev.IvrNodeVisit(event_id="ivr:c1:2", call_uuid="c1", node_id="fs1", flow="main", node="menu",
                            node_type="menu", sequence=2, entered_us=10, left_us=25, outcome="next", input="2",
                            attempts=2, result="chosen")
    (named,) = named_rows(ingest.rows_by_table([record(topics.IVR_EVENTS, visit)], 3), "ivr_visits")
    assert named == {"event_id": "ivr:c1:2", "call_uuid": "c1", "node_id": "fs1", "flow": "main", "node": "menu",
                     "node_type": "menu", "sequence": 2, "entered_us": 10, "left_us": 25, "outcome": "next",
                     "input": "2", "attempts": 2, "result": "chosen", "ingested_us": 3}


def test_a_topic_reporting_does_not_store_is_skipped():
    change = ev.ConfigChange(event_id="cfg:1", kind="queue", name="sales")
    assert topics.CONFIG_EVENTS not in ingest.INGESTED_TOPICS
    assert ingest.rows_by_table([record(topics.CONFIG_EVENTS, change)], 1) == {}


def test_ingested_topics_are_every_pipeline_topic_once():
    assert sorted(ingest.INGESTED_TOPICS) == sorted({p.topic for p in ingest.PIPELINES})
    assert topics.IVR_EVENTS in ingest.INGESTED_TOPICS
    assert [p.table for p in ingest.PIPELINES_BY_TOPIC[topics.CALL_EVENTS]] == ["call_events", "cdr_legs"]
    assert len(ingest.TABLES) == len(ingest.PIPELINES)          # one pipeline per table


def test_a_dead_letter_keeps_its_bytes_as_hex_and_is_identified_by_its_source():
    letter = ev.DeadLetter(source_topic="cdrs", partition=2, offset=17, key=b"k\xff", payload=b"\x00garbage",
                           error="cannot decode", consumer_group="reporting", timestamp_us=5)
    (_, rows), = ingest.rows_by_table([record(topics.DEAD_LETTER, letter)], 1).values()
    named = dict(zip(ingest.DEAD_LETTER_COLUMNS, rows[0]))
    assert named == {"event_id": "reporting:cdrs:2:17", "source_topic": "cdrs", "source_partition": 2,
                     "source_offset": 17, "key_hex": "6bff", "payload_hex": "0067617262616765",
                     "error": "cannot decode", "consumer_group": "reporting", "timestamp_us": 5}
    assert bytes.fromhex(named["payload_hex"]) == b"\x00garbage"


def _every_kind_of_record():
    """The benchmark's realistic mix (every topic, answered and abandoned
    calls), plus what it lacks: a dead letter, a recording, enum numbers this
    build does not know, empty repeated fields."""
    from hotline.reporting import bench
    batch = [record(topic, message, i) for i, (topic, _, message) in enumerate(bench.event_mix(12, 10**15))]
    batch += [record(topics.DEAD_LETTER, ev.DeadLetter(source_topic="cdrs", partition=1, offset=2, key=b"\x00k",
                                                       payload=b"\xff", error="bad", consumer_group="g")),
              record(topics.RECORDINGS, ev.RecordingSaved(event_id="r1", call_uuid="c", channels=2, sha256="ab")),
              record(topics.AGENT_EVENTS, ev.AgentStateEvent(event_id="a9", state=42, previous_state=77)),
              record(topics.CDRS, ev.Cdr(event_id="cdr:empty", disposition=99)),
              record(topics.CALL_EVENTS, ev.CallEvent(event_id="x", type=ev.CALL_HANGUP_COMPLETE, leg=9))]
    return batch


def test_columns_are_the_rows_transposed_for_every_table():
    batch = _every_kind_of_record()
    rows = ingest.rows_by_table(batch, 77)
    columns = ingest.columns_by_table(batch, 77)
    assert list(columns) == list(rows)
    assert set(columns) == set(ingest.TABLES)          # the mix feeds every table
    for table, (pipeline, values) in columns.items():
        assert pipeline is rows[table][0]
        assert len(values) == len(pipeline.columns) + 1
        assert [tuple(r) for r in zip(*values)] == rows[table][1], table
        assert all(type(v) is list for v in values)
        assert values[-1] == [77] * len(rows[table][1])


def test_columns_of_a_pipeline_without_a_column_builder_are_its_rows_transposed():
    letters = [ev.DeadLetter(source_topic="q", partition=i, offset=i * 2, consumer_group="g") for i in range(3)]
    pipeline = ingest.TABLES["dead_letters"]
    assert pipeline.to_columns is None
    values = pipeline.column_values(letters, 5)
    assert [tuple(r) for r in zip(*values)] == pipeline.rows(letters, 5)
    assert values[0] == ["g:q:0:0", "g:q:1:2", "g:q:2:4"]


def test_a_table_whose_filter_accepts_nothing_has_no_columns():
    answered = ev.CallEvent(event_id="e1", type=ev.CALL_ANSWERED)
    assert ingest.TABLES["cdr_legs"].column_values([answered], 1) == []
    assert list(ingest.columns_by_table([record(topics.CALL_EVENTS, answered)], 1)) == ["call_events"]
