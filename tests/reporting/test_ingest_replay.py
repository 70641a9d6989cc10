"""Replaying Kafka into reporting doubles no figure.

A realistic set of events for a few calls (IVR visits, call events with the
hang-up-complete of every leg, queue events, agent states, CDRs, recordings
and a poison message) goes through the real KafkaBus to the real
ReportingService, into ClickHouse (the 18.16 server and chdb). Then the same
events are delivered again, twice over: every message published a second
time, and every topic re-read from the beginning after the consumer group's
offsets are reset to the earliest (what an operator does to rebuild
reporting: docs/ingestion.md). After each delivery, the raw tables have more
rows (the duplicates are stored) while every distinct count, every
deduplicated figure, every roll-up and the interval report stay exactly as
computed from the events by hand.
"""
from __future__ import annotations

import dataclasses
import itertools
import time
from collections import Counter

import grpc
import pytest
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec

from hotline.common import topics
from hotline.common.settings import GrpcEndpoints, ReportingSettings, Settings
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.reporting.v1 import reporting_pb2 as rp, reporting_pb2_grpc
from hotline.reporting import ingest, migrations
from hotline.reporting.app import ReportingService
from hotline.reporting.ingest import CONSUMER_GROUP, INGESTED_TOPICS

pytestmark = pytest.mark.kafka

S = 1_000_000
T0 = 1_709_283_600 * S            # 2024-03-01 09:00:00 UTC
DAY0 = T0 - T0 % (86_400 * S)


# --- the calls ------------------------------------------------------------------

@dataclasses.dataclass
class Calls:
    """Messages for a few calls, in publish order: (topic, key, message)."""
    messages: list[tuple[str, str, object]] = dataclasses.field(default_factory=list)
    _sequence: itertools.count = dataclasses.field(default_factory=lambda: itertools.count(1))

    def add(self, topic: str, key: str, message: object) -> None:
        self.messages.append((topic, key, message))

    def of(self, cls: type) -> list:
        return [m for _, _, m in self.messages if isinstance(m, cls)]

    def call_event(self, uuid: str, leg_uuid: str, leg: int, type_: int, at_us: int, **fields) -> None:
        self.add(topics.CALL_EVENTS, uuid, ev.CallEvent(
            event_id=f"core-1:{next(self._sequence)}", node_id="fs1", call_uuid=uuid, leg_uuid=leg_uuid, leg=leg,
            type=type_, timestamp_us=at_us, ani="+4930555", dnis="100", **fields))

    def ivr(self, uuid: str, start_us: int, path: list[tuple[str, str, str, str]]) -> int:
        """IVR visits along ``path`` [(node, type, outcome, input)], 2 s each; returns when the caller left."""
        at = start_us
        for sequence, (node, node_type, outcome, keyed) in enumerate(path, start=1):
            self.add(topics.IVR_EVENTS, uuid, ev.IvrNodeVisit(
                event_id=f"ivr:{uuid}:{sequence}", call_uuid=uuid, node_id="fs1", flow="main", node=node,
                node_type=node_type, sequence=sequence, entered_us=at, left_us=at + 2 * S, outcome=outcome,
                input=keyed, attempts=1 if node == "menu" else 0, result="chosen" if keyed else ""))
            at += 2 * S
        return at

    def caller_leg(self, uuid: str, start_us: int, end_us: int, *, hold_us: int = 0, bridged_us: int = 0) -> None:
        self.call_event(uuid, uuid, ev.LEG_CALLER, ev.CALL_CREATED, start_us)
        self.call_event(uuid, uuid, ev.LEG_CALLER, ev.CALL_ANSWERED, start_us + S)
        self.call_event(uuid, uuid, ev.LEG_CALLER, ev.CALL_HANGUP, end_us, hangup_cause="NORMAL_CLEARING")
        self.call_event(uuid, uuid, ev.LEG_CALLER, ev.CALL_HANGUP_COMPLETE, end_us, hangup_cause="NORMAL_CLEARING",
                        created_us=start_us, answered_us=start_us + S, bridged_us=bridged_us, hangup_us=end_us,
                        billsec_us=end_us - start_us - S, hold_accum_us=hold_us)

    def answered(self, uuid: str, queue: str, agent: str, start_s: int, wait_s: int, talk_s: int, hold_s: int,
                 wrap_s: int) -> None:
        start = T0 + start_s * S
        enqueue = self.ivr(uuid, start + S, [("greeting", "play", "next", ""), ("menu", "menu", "next", "1"),
                                             ("queue", "queue", "queued", "")])
        ring, connect = enqueue + (wait_s - 2) * S, enqueue + wait_s * S
        end = connect + talk_s * S
        self.caller_leg(uuid, start, end, hold_us=hold_s * S, bridged_us=connect)
        agent_leg = f"{uuid}-agent"
        self.call_event(uuid, agent_leg, ev.LEG_AGENT, ev.CALL_ORIGINATED, ring, agent_id=agent, queue=queue)
        self.call_event(uuid, agent_leg, ev.LEG_AGENT, ev.CALL_BRIDGED, connect, agent_id=agent, queue=queue,
                        other_leg_uuid=uuid)
        self.call_event(uuid, agent_leg, ev.LEG_AGENT, ev.CALL_HANGUP_COMPLETE, end, agent_id=agent, queue=queue,
                        other_leg_uuid=uuid, created_us=ring, answered_us=connect, bridged_us=connect, hangup_us=end,
                        billsec_us=end - connect, hangup_cause="NORMAL_CLEARING")
        for n, (kind, at) in enumerate(((ev.QUEUE_ENQUEUED, enqueue), (ev.QUEUE_OFFERED, ring),
                                        (ev.QUEUE_CONNECTED, connect), (ev.QUEUE_CALL_ENDED, end)), start=1):
            self.add(topics.QUEUE_EVENTS, uuid, ev.QueueEvent(
                event_id=f"q:{uuid}:{n}", call_uuid=uuid, queue=queue, type=kind, timestamp_us=at, agent_id=agent,
                wait_us=at - enqueue, node_id="fs1"))
        states = [(ev.READY, ev.RESERVED, DAY0, ring), (ev.RESERVED, ev.ON_CALL, ring, connect),
                  (ev.ON_CALL, ev.WRAP_UP, connect, end), (ev.WRAP_UP, ev.READY, end, end + wrap_s * S)]
        for n, (before, after, since, at) in enumerate(states, start=1):
            self.add(topics.AGENT_EVENTS, agent, ev.AgentStateEvent(
                event_id=f"as:{agent}:{uuid}:{n}", agent_id=agent, state=after, previous_state=before,
                timestamp_us=at, previous_state_since_us=since, call_uuid=uuid, queue=queue,
                call_enqueue_us=enqueue, queues=[queue]))
        self.add(topics.CDRS, uuid, ev.Cdr(
            event_id=f"cdr:{uuid}", call_uuid=uuid, node_id="fs1", ani="+4930555", dnis="100", queue=queue,
            agent_id=agent, disposition=ev.DISPOSITION_ANSWERED, start_us=start, answer_us=start + S,
            enqueue_us=enqueue, ring_us=ring, connect_us=connect, end_us=end, queue_wait_us=connect - enqueue,
            talk_us=end - connect, hold_us=hold_s * S, offers=1, menu_choice="1", skills=[queue], ivr_flow="main",
            recording_path=f"/rec/{uuid}.wav", billsec_us=end - start - S))
        self.add(topics.RECORDINGS, uuid, ev.RecordingSaved(
            event_id=f"rec:{uuid}", call_uuid=uuid, path=f"/rec/{uuid}.wav", channels=2, sample_rate=8000,
            duration_ms=talk_s * 1000, size_bytes=talk_s * 32_000, started_us=connect, stopped_us=end,
            agent_id=agent, queue=queue))

    def abandoned(self, uuid: str, queue: str, start_s: int, wait_s: int) -> None:
        start = T0 + start_s * S
        enqueue = self.ivr(uuid, start + S, [("greeting", "play", "next", ""), ("menu", "menu", "next", "2"),
                                             ("queue", "queue", "queued", "")])
        end = enqueue + wait_s * S
        self.caller_leg(uuid, start, end)
        for n, (kind, at) in enumerate(((ev.QUEUE_ENQUEUED, enqueue), (ev.QUEUE_ABANDONED, end)), start=1):
            self.add(topics.QUEUE_EVENTS, uuid, ev.QueueEvent(
                event_id=f"q:{uuid}:{n}", call_uuid=uuid, queue=queue, type=kind, timestamp_us=at,
                wait_us=at - enqueue, node_id="fs1"))
        self.add(topics.CDRS, uuid, ev.Cdr(
            event_id=f"cdr:{uuid}", call_uuid=uuid, node_id="fs1", queue=queue,
            disposition=ev.DISPOSITION_ABANDONED, start_us=start, answer_us=start + S, enqueue_us=enqueue,
            end_us=end, queue_wait_us=end - enqueue, menu_choice="2", skills=[queue], ivr_flow="main"))

    def ended_in_ivr(self, uuid: str, start_s: int, path: list[tuple[str, str, str, str]]) -> None:
        start = T0 + start_s * S
        end = self.ivr(uuid, start + S, path)
        self.caller_leg(uuid, start, end)
        self.add(topics.CDRS, uuid, ev.Cdr(
            event_id=f"cdr:{uuid}", call_uuid=uuid, node_id="fs1", disposition=ev.DISPOSITION_ENDED_IN_IVR,
            start_us=start, answer_us=start + S, end_us=end, ivr_flow="main"))


def scenario() -> Calls:
    calls = Calls()
    calls.answered("a1", "sales", "agent-1", 10, wait_s=8, talk_s=120, hold_s=15, wrap_s=30)
    calls.answered("a2", "sales", "agent-2", 400, wait_s=25, talk_s=60, hold_s=0, wrap_s=10)
    calls.answered("a3", "support", "agent-3", 1000, wait_s=4, talk_s=300, hold_s=40, wrap_s=45)
    calls.abandoned("b1", "sales", 200, wait_s=40)
    calls.abandoned("b2", "support", 1200, wait_s=3)
    calls.ended_in_ivr("d1", 50, [("greeting", "play", "next", ""), ("menu", "menu", "hangup", "")])
    calls.ended_in_ivr("c1", 60, [("greeting", "play", "next", ""), ("menu", "menu", "next", "9"),
                                  ("goodbye", "hangup", "completed", "")])
    return calls


# --- what reporting holds --------------------------------------------------------

def query(store, statement: str) -> list[tuple]:
    return [tuple(row) for row in store.query(statement)]


def distinct_and_raw(store) -> tuple[dict[str, int], dict[str, int]]:
    distinct, raw = {}, {}
    for table in ingest.TABLES:
        ((distinct[table], raw[table]),) = query(store, f"SELECT uniqExact(event_id), count() FROM {table}")
    return distinct, raw


def newest(table: str, **columns: str) -> str:
    """One row per event, with its newest copy's values (``alias=expression``)."""
    picks = ", ".join(f"argMax({expr}, ingested_us) AS {alias}" for alias, expr in columns.items())
    return f"(SELECT event_id, {picks} FROM {table} GROUP BY event_id)"


def latest(table: str, keys: str, **columns: str) -> str:
    """One roll-up row per key and bucket, from its highest version."""
    picks = ", ".join(f"argMax({expr}, version) AS {alias}" for alias, expr in columns.items())
    return f"(SELECT {keys}, bucket_us, {picks} FROM {table} GROUP BY {keys}, bucket_us)"


def figures(store) -> dict[str, list[tuple]]:
    """Deduplicated figures from the raw tables (newest copy of each event) and from the roll-ups
    (newest version of each bucket), the way the reports read them."""
    raw = {
        "cdrs": ("SELECT d, count(), sum(t), sum(w), sum(h) FROM {} GROUP BY d ORDER BY d",
                 newest("cdrs", d="disposition", t="talk_us", w="queue_wait_us", h="hold_us")),
        "cdr_legs": ("SELECT l, count(), sum(b), sum(h) FROM {} GROUP BY l ORDER BY l",
                     newest("cdr_legs", l="leg", b="billsec_us", h="hold_accum_us")),
        "agent_states": ("SELECT p, count(), sum(d) FROM {} GROUP BY p ORDER BY p",
                         newest("agent_states", p="previous_state", d="timestamp_us - previous_state_since_us")),
        "queue_events": ("SELECT ty, count() FROM {} GROUP BY ty ORDER BY ty", newest("queue_events", ty="type")),
        "ivr_visits": ("SELECT o, count(), sum(d) FROM {} GROUP BY o ORDER BY o",
                       newest("ivr_visits", o="outcome", d="left_us - entered_us")),
        "recordings": ("SELECT count(), sum(b) FROM {}", newest("recordings", b="size_bytes")),
        "call_stats_15m": ("SELECT dimension, member, sum(o), sum(a), sum(ab), sum(tk), sum(wu) FROM {} "
                           "GROUP BY dimension, member ORDER BY dimension, member",
                           latest("call_stats_15m", "dimension, member", o="offered", a="answered", ab="abandoned",
                                  tk="talk_us", wu="wrap_up_us")),
        "ivr_stats_15m": ("SELECT node, sum(v), sum(hu), sum(c) FROM {} GROUP BY node ORDER BY node",
                          latest("ivr_stats_15m", "flow, node", v="visits", hu="hangups", c="completed")),
    }
    return {name: query(store, statement.format(source)) for name, (statement, source) in raw.items()}


TABLE_OF_TOPIC = {topics.CALL_EVENTS: "call_events", topics.CDRS: "cdrs", topics.AGENT_EVENTS: "agent_states",
                  topics.QUEUE_EVENTS: "queue_events", topics.RECORDINGS: "recordings", topics.IVR_EVENTS: "ivr_visits"}


def expected_distinct(calls: Calls) -> dict[str, int]:
    """Per table, the events the scenario holds for it: one row per message, one leg CDR per
    CALL_HANGUP_COMPLETE, and the one dead letter."""
    counts = Counter(TABLE_OF_TOPIC[topic] for topic, _, _ in calls.messages)
    counts["cdr_legs"] = sum(e.type == ev.CALL_HANGUP_COMPLETE for e in calls.of(ev.CallEvent))
    counts["dead_letters"] = 1
    return dict(counts)


def expected_figures(calls: Calls) -> dict[str, object]:
    """The raw-table figures, computed from the messages (the roll-ups' are checked by hand below)."""
    cdrs = Counter()
    for c in calls.of(ev.Cdr):
        key = ev.Disposition.Name(c.disposition)
        cdrs[key, "n"] += 1
        cdrs[key, "talk"] += c.talk_us
        cdrs[key, "wait"] += c.queue_wait_us
        cdrs[key, "hold"] += c.hold_us
    legs = Counter()
    for e in calls.of(ev.CallEvent):
        if e.type == ev.CALL_HANGUP_COMPLETE:
            legs[ev.Leg.Name(e.leg), "n"] += 1
            legs[ev.Leg.Name(e.leg), "bill"] += e.billsec_us
            legs[ev.Leg.Name(e.leg), "hold"] += e.hold_accum_us
    states = Counter()
    for s in calls.of(ev.AgentStateEvent):
        states[ev.AgentState.Name(s.previous_state), "n"] += 1
        states[ev.AgentState.Name(s.previous_state), "us"] += s.timestamp_us - s.previous_state_since_us
    visits = Counter()
    for v in calls.of(ev.IvrNodeVisit):
        visits[v.outcome, "n"] += 1
        visits[v.outcome, "us"] += v.left_us - v.entered_us
    recordings = calls.of(ev.RecordingSaved)

    def rows(counter, *fields):
        keys = sorted({k for k, _ in counter})
        return [(k, *(counter[k, f] for f in fields)) for k in keys]

    return {
        "cdrs": rows(cdrs, "n", "talk", "wait", "hold"),
        "cdr_legs": rows(legs, "n", "bill", "hold"),
        "agent_states": rows(states, "n", "us"),
        "queue_events": sorted(Counter(ev.QueueEventType.Name(q.type) for q in calls.of(ev.QueueEvent)).items()),
        "ivr_visits": rows(visits, "n", "us"),
        "recordings": [(len(recordings), sum(r.size_bytes for r in recordings))],
    }


# --- the service -------------------------------------------------------------------

def wait_for(what, predicate, timeout_s=90.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def start_service(bus, store, ch_settings) -> ReportingService:
    settings = Settings(clickhouse=ch_settings, grpc=GrpcEndpoints(reporting="127.0.0.1:0"),
                        reporting=ReportingSettings(batch_size=40, batch_timeout_s=0.1))
    service = ReportingService(settings, bus, store, check_interval_s=0.2)
    service.start()
    wait_for("the consumer to start", lambda: service.consumer is not None, 30)
    return service


def processed(service) -> int:
    return service.consumer.processed if service.consumer else 0


def reset_to_earliest(bus) -> None:
    """The operator's replay: with reporting stopped, the group's offsets go back to the start
    (as ``kafka-consumer-groups.sh --group <prefix>reporting --reset-offsets --to-earliest --all-topics``)."""
    settings = bus.settings
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="hotline-test-replay")
    try:
        partitions = {TopicPartition(bus.full_name(t), p): OffsetSpec.EARLIEST
                      for t in INGESTED_TOPICS for p in range(bus.partitions)}
        group = f"{settings.topic_prefix}{CONSUMER_GROUP}"

        def reset() -> bool:     # refused while the stopped consumer is still a member of the group
            return all(r["error"].errno == 0 for r in admin.reset_group_offsets(group, partitions).values())

        wait_for("the group's offsets to be reset", reset, 60)
    finally:
        admin.close()


def interval_total(service) -> tuple:
    with grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        total = reporting_pb2_grpc.ReportingStub(channel).GetIntervalReport(rp.IntervalReportRequest(
            from_us=DAY0, to_us=DAY0 + 86_400 * S, interval_s=86_400, service_level_threshold_s=20),
            timeout=30).total
    return (total.offered, total.answered, total.abandoned, total.short_abandoned, total.answered_within_threshold,
            round(total.asa_s, 6), round(total.aht_s, 6), round(total.service_level, 6), round(total.abandon_rate, 6))


def test_replaying_every_topic_stores_duplicates_and_changes_no_figure(reporting_bus, store, ch_settings):
    bus = reporting_bus
    migrations.up(store)
    for table in ingest.TABLES:
        # Background merges fold a ReplacingMergeTree's duplicates whenever they like (that is
        # fine: no reader relies on them either way); stopped here so the stored duplicates can
        # be counted.
        store.execute(f"SYSTEM STOP MERGES {table}")
    calls = scenario()
    n = len(calls.messages)

    # 1. The first delivery, with a poison message in the middle of the CDRs.
    for i, (topic, key, message) in enumerate(calls.messages):
        bus.publish(topic, key, message)
        if i == n // 2:
            bus.publish_raw(topics.CDRS, b"poison", b"\x08\x96\x01 not a Cdr")
    bus.flush()
    service = start_service(bus, store, ch_settings)
    try:
        # every good message, and the dead letter the poison became
        wait_for("the first delivery", lambda: processed(service) >= n + 1)
        distinct, raw = distinct_and_raw(store)
        assert distinct == expected_distinct(calls)
        first = figures(store)
        assert {k: first[k] for k in expected_figures(calls)} == expected_figures(calls)
        # The roll-ups, by hand: sales offered a1, a2, b1 (answered 2, abandoned 1); support a3, b2.
        rollup = {(d, m): rest for d, m, *rest in first["call_stats_15m"]}
        assert rollup["queue", "sales"] == [3, 2, 1, (120 + 60) * S, (30 + 10) * S]
        assert rollup["queue", "support"] == [2, 1, 1, 300 * S, 45 * S]
        assert rollup["agent", "agent-1"][1:4] == [1, 0, 120 * S]
        assert first["ivr_stats_15m"] == [("goodbye", 1, 0, 1), ("greeting", 7, 0, 0), ("menu", 7, 1, 0),
                                          ("queue", 5, 0, 0)]
        report = interval_total(service)
        # offered 5, answered 3, abandoned 2 of which b2 (3 s) short; within 20 s: a1 (8 s), a3 (4 s)
        assert report == (5, 3, 2, 1, 2, round((8 + 25 + 4) / 3, 6),
                          round((120 + 30 + 60 + 10 + 300 + 45) / 3, 6), round(2 / 4, 6), round(1 / 4, 6))

        # 2. Every message published a second time (a producer retry, a re-sent batch).
        for topic, key, message in calls.messages:
            bus.publish(topic, key, message)
        bus.flush()
        wait_for("the second delivery", lambda: processed(service) >= 2 * n + 1)
        again, raw_again = distinct_and_raw(store)
        assert again == distinct
        assert [t for t in raw if raw_again[t] <= raw[t]] == ["dead_letters"]    # the duplicates are stored ...
        assert figures(store) == first                                           # ... and count once
        assert interval_total(service) == report
    finally:
        service.stop()

    # 3. Everything again from the start of every topic, by a reporting service restarted
    #    after its group's offsets were reset (the poison is dead-lettered again: the same letter).
    reset_to_earliest(bus)
    service = start_service(bus, store, ch_settings)
    try:
        # 2n good messages, the old dead letter, and the poison's new (identical) one
        wait_for("the replay from the beginning", lambda: processed(service) >= 2 * n + 2)
        replayed, raw_replayed = distinct_and_raw(store)
        assert replayed == distinct
        assert [t for t in raw if raw_replayed[t] <= raw_again[t]] == []
        assert figures(store) == first
        assert interval_total(service) == report
    finally:
        service.stop()
