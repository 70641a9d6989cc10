"""Which roll-up buckets a batch touches, and how they are grouped into
statements (hermetic: no engine; the SQL itself is tested on both engines in
tests/reporting)."""
from hotline.common import topics
from hotline.common.bus import Record
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import formulas, rollup
from hotline.reporting.formulas import BUCKET_US

S = 1_000_000
T0 = 1_709_283_600 * S          # 09:00, a bucket edge
B = BUCKET_US


def touched(*messages):
    t = rollup.Touched()
    for topic, message in messages:
        t.add(Record(topic, 0, 0, "k", message, 0))
    return t


def test_a_cdr_touches_its_enqueue_bucket():
    t = touched((topics.CDRS, ev.Cdr(queue="q", enqueue_us=T0 + 950 * S)),
                (topics.CDRS, ev.Cdr(queue="", enqueue_us=T0)),              # never queued: nothing
                (topics.CDRS, ev.Cdr(queue="q", enqueue_us=0)))
    assert t.call_buckets == {T0 + B}
    assert not (t.agent_buckets or t.ivr_buckets or t.lookup_calls)


def test_an_agent_interval_touches_every_bucket_it_overlaps():
    t = touched((topics.AGENT_EVENTS, ev.AgentStateEvent(
        agent_id="1", state=ev.READY, previous_state=ev.NOT_READY, previous_state_since_us=T0 - S,
        timestamp_us=T0 + 2 * B)))                   # [08:59:59, 09:30): 08:45, 09:00, 09:15
    assert t.agent_buckets == {T0 - B, T0, T0 + B}
    # Logged-out time counts for nothing; an event without a previous interval neither.
    t = touched((topics.AGENT_EVENTS, ev.AgentStateEvent(
        agent_id="1", state=ev.READY, previous_state=ev.LOGGED_OUT, previous_state_since_us=T0 - 5 * B,
        timestamp_us=T0)),
                (topics.AGENT_EVENTS, ev.AgentStateEvent(agent_id="1", state=ev.READY, previous_state=ev.NOT_READY,
                                                         previous_state_since_us=0, timestamp_us=T0)))
    assert t.agent_buckets == set()


def test_a_very_long_interval_is_bounded():
    t = touched((topics.AGENT_EVENTS, ev.AgentStateEvent(
        agent_id="1", state=ev.READY, previous_state=ev.NOT_READY, previous_state_since_us=T0 - 30 * 86_400 * S,
        timestamp_us=T0)))
    assert len(t.agent_buckets) == rollup.MAX_STATE_US // B
    assert min(t.agent_buckets) == T0 - rollup.MAX_STATE_US


def test_offers_and_wrap_ups_look_up_their_calls_bucket():
    t = touched((topics.QUEUE_EVENTS, ev.QueueEvent(call_uuid="c1", type=ev.QUEUE_OFFERED, timestamp_us=T0 + 10 * S)),
                (topics.QUEUE_EVENTS, ev.QueueEvent(call_uuid="c2", type=ev.QUEUE_OFFER_FAILED,
                                                    timestamp_us=T0 + 20 * S)),
                (topics.QUEUE_EVENTS, ev.QueueEvent(call_uuid="c3", type=ev.QUEUE_ENQUEUED, timestamp_us=T0)),
                (topics.AGENT_EVENTS, ev.AgentStateEvent(
                    agent_id="1", state=ev.READY, previous_state=ev.WRAP_UP, call_uuid="c4",
                    call_enqueue_us=T0 - 2 * B, previous_state_since_us=T0 + 30 * S, timestamp_us=T0 + 40 * S)))
    assert t.lookup_calls == {"c1", "c2", "c4"}
    assert (t.lookup_from_us, t.lookup_to_us) == (T0 + 10 * S, T0 + 40 * S)
    assert t.call_buckets == {T0 - 2 * B}                # the wrap-up's own call_enqueue_us
    assert t.agent_buckets == {T0}                       # the wrap-up interval itself
    text = t.lookup_sql()
    assert "call_uuid IN ('c1', 'c2', 'c4')" in text
    assert f"enqueue_us > {T0 + 10 * S - rollup.CALL_SPAN_US}" in text and f"enqueue_us <= {T0 + 40 * S}" in text


def test_ivr_visits_touch_the_bucket_they_entered():
    t = touched((topics.IVR_EVENTS, ev.IvrNodeVisit(flow="main", node="menu", entered_us=T0 + B - 1,
                                                    left_us=T0 + B + 5 * S)))
    assert t.ivr_buckets == {T0}


def test_other_topics_touch_nothing():
    t = touched((topics.RECORDINGS, ev.RecordingSaved(call_uuid="c")),
                (topics.CALL_EVENTS, ev.CallEvent(call_uuid="c", timestamp_us=T0)))
    assert not (t.call_buckets or t.agent_buckets or t.ivr_buckets or t.lookup_calls)


def test_clusters_never_span_a_large_gap_or_too_many_buckets():
    day = 86_400 * S
    assert rollup.clusters([T0 + B, T0, T0 + B]) == [[T0, T0 + B]]
    assert rollup.clusters([T0, T0 + 3 * day]) == [[T0], [T0 + 3 * day]]
    week = [T0 + i * B for i in range(rollup.MAX_BUCKETS_PER_STATEMENT + 1)]
    assert [len(c) for c in rollup.clusters(week)] == [rollup.MAX_BUCKETS_PER_STATEMENT, 1]
    assert rollup.clusters([]) == []


def test_bucket_filters_are_ranges_with_the_exact_list_when_not_contiguous():
    assert rollup._bucket_filter("b", [T0, T0 + B]) == f"b >= {T0} AND b < {T0 + 2 * B}"
    gap = rollup._bucket_filter("b", [T0, T0 + 2 * B])
    assert gap.endswith(f"IN ({T0}, {T0 + 2 * B})")


def test_versions_strictly_increase_even_with_a_stuck_clock():
    refresher = rollup.Refresher(store=None, clock=lambda: 1000.0)
    versions = [refresher.next_version() for _ in range(3)]
    assert versions == [1000 * S, 1000 * S + 1, 1000 * S + 2]


def _touched_one_by_one(batch):
    """The specification, a record at a time with the formulas' own helpers
    (how the refresher read a batch before it read whole runs of a topic)."""
    call, agent, ivr, lookups = set(), set(), set(), []
    for r in batch:
        v = r.value
        if r.topic == topics.CDRS and v.queue and v.enqueue_us > 0:
            call.add(formulas.bucket_us(v.enqueue_us))
        elif r.topic == topics.QUEUE_EVENTS and v.type in (ev.QUEUE_OFFERED, ev.QUEUE_OFFER_FAILED) and v.call_uuid:
            lookups.append((v.call_uuid, v.timestamp_us))
        elif r.topic == topics.AGENT_EVENTS:
            previous = ev.AgentState.Name(v.previous_state) if v.previous_state in ev.AgentState.values() else ""
            since, until = v.previous_state_since_us, v.timestamp_us
            if previous in formulas.AGENT_STATES and since > 0 and until > since:
                agent.update(formulas.buckets_between(max(since, until - rollup.MAX_STATE_US), until))
            if v.previous_state == ev.WRAP_UP and v.call_uuid:
                lookups.append((v.call_uuid, v.timestamp_us))
                if v.call_enqueue_us > 0:
                    call.add(formulas.bucket_us(v.call_enqueue_us))
        elif r.topic == topics.IVR_EVENTS and v.entered_us > 0:
            ivr.add(formulas.bucket_us(v.entered_us))
    times = [t for _, t in lookups]
    return (call, agent, ivr, {c for c, _ in lookups}, min(times, default=0), max(times, default=0))


def _edge_cases():
    a = lambda **f: (topics.AGENT_EVENTS, ev.AgentStateEvent(agent_id="1", **f))  # noqa: E731
    return [
        a(previous_state=ev.ON_CALL, previous_state_since_us=T0 - 1, timestamp_us=T0 + 1),      # across an edge
        a(previous_state=ev.READY, previous_state_since_us=T0, timestamp_us=T0 + B),            # exactly one bucket
        a(previous_state=ev.READY, previous_state_since_us=T0, timestamp_us=T0 + B + 1),        # just into the next
        a(previous_state=ev.READY, previous_state_since_us=T0, timestamp_us=T0),                # empty
        a(previous_state=ev.READY, previous_state_since_us=T0 + 5, timestamp_us=T0),            # backwards
        a(previous_state=ev.AGENT_STATE_UNSPECIFIED, previous_state_since_us=T0, timestamp_us=T0 + B),
        a(previous_state=99, previous_state_since_us=T0, timestamp_us=T0 + B),                  # unknown state
        a(previous_state=ev.NOT_READY, previous_state_since_us=1, timestamp_us=T0),             # over 7 days
        a(previous_state=ev.WRAP_UP, previous_state_since_us=0, timestamp_us=T0 + 3, call_uuid="w1"),
        a(previous_state=ev.WRAP_UP, previous_state_since_us=T0, timestamp_us=T0 + 9, call_uuid=""),
        (topics.QUEUE_EVENTS, ev.QueueEvent(call_uuid="", type=ev.QUEUE_OFFERED, timestamp_us=T0)),
        (topics.QUEUE_EVENTS, ev.QueueEvent(call_uuid="q1", type=ev.QUEUE_OFFER_FAILED, timestamp_us=T0 - 7)),
        (topics.CDRS, ev.Cdr(queue="q", enqueue_us=1)),
        (topics.CDRS, ev.Cdr(queue="q", enqueue_us=-5)),
        (topics.IVR_EVENTS, ev.IvrNodeVisit(entered_us=B)),
        (topics.IVR_EVENTS, ev.IvrNodeVisit(entered_us=0)),
        (topics.DEAD_LETTER, ev.DeadLetter(source_topic="cdrs")),
    ]


def test_a_batch_read_topic_by_topic_touches_what_its_records_touch_one_by_one():
    from hotline.reporting import bench
    mix = bench.event_mix(40, T0) + [(t, "k", m) for t, m in _edge_cases()]
    for order in (mix, sorted(mix, key=lambda e: e[0]), mix[::-1]):     # interleaved, in runs, reversed
        batch = [Record(topic, 0, i, key, message, 0) for i, (topic, key, message) in enumerate(order)]
        t = rollup.Touched.of_batch(batch)
        got = (t.call_buckets, t.agent_buckets, t.ivr_buckets, t.lookup_calls, t.lookup_from_us, t.lookup_to_us)
        assert got == _touched_one_by_one(batch)
        one_by_one = touched(*[(r.topic, r.value) for r in batch])
        assert (one_by_one.call_buckets, one_by_one.agent_buckets, one_by_one.lookup_calls) == got[:2] + got[3:4]
    assert t.call_buckets and t.agent_buckets and t.ivr_buckets and t.lookup_calls
