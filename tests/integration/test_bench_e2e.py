"""`hotline bench e2e` runs end to end: the simulator driver, `hotline routing`
and `hotline ivr` as separate processes against the real Kafka broker. A
smoke test at a tiny rate: it completes and its figures add up. No timing is
asserted (performance targets live in the benchmark, docs/performance.md)."""
import pytest

from hotline.routing import bench_e2e

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.freeswitch]


def test_bench_e2e_runs_and_its_figures_add_up(kafka_bootstrap, topic_prefix, tmp_path):
    options = bench_e2e.Options(rate=5, duration_s=3, warmup_s=1, talk_s=1, drain_s=20, kafka=kafka_bootstrap,
                                topic_prefix=topic_prefix, workdir=str(tmp_path), log_level="WARNING")
    figures = bench_e2e.run(options)

    assert figures.offered > 0
    assert figures.bridged == figures.offered, figures.failures      # every call placed in the window bridged
    assert figures.failed == 0 and figures.failures == {}
    assert figures.bridged + figures.failed == figures.offered
    assert figures.enqueued == figures.offered
    assert 0 < figures.bridged_in_window <= figures.offered + options.rate * options.warmup_s + 1
    # With rate x (talk + 1 s) x 1.5 agents an agent is free for (almost) every call.
    assert 0 < figures.free_at_enqueue <= figures.bridged
    q = figures.queue_to_bridge_ms
    assert 0 < q["p50"] <= q["p95"] <= q["p99"] <= q["max"]
    assert q["n"] == figures.free_at_enqueue
    assert figures.window_s > 0
    cpu = {p.name: p.seconds for p in figures.cpu}
    assert {"driver", "routing", "ivr", "harness"} <= set(cpu)
    assert cpu["routing"] > 0 and cpu["driver"] > 0
    # Every call's events reached Kafka: at least its caller's and agent's hang-ups, its CDR, its queue events.
    assert figures.calls_placed >= figures.offered
    assert figures.records["call-events"] >= 2 * figures.calls_placed
    assert figures.records["cdrs"] == figures.calls_placed
    assert figures.records["queue-events"] >= 3 * figures.calls_placed


def test_analyse_counts_from_events():
    """The figures from hand-made driver records and routing events."""
    from hotline.proto.events.v1 import events_pb2 as ev

    opts = bench_e2e.Options(rate=2, agents=2)
    def call(uuid, phase, placed_us, bridged_us):
        return {"uuid": uuid, "phase": phase, "placed_us": placed_us, "bridged_us": bridged_us,
                "cause": "NORMAL_CLEARING"}

    calls = [call("a", "measure", 1_000_000, 1_300_000), call("b", "measure", 1_100_000, 1_800_000),
             call("c", "measure", 1_200_000, 0), call("w", "warmup", 500_000, 700_000)]
    agents = [ev.AgentStateEvent(agent_id="x", state=ev.READY, timestamp_us=100),
              ev.AgentStateEvent(agent_id="x", state=ev.RESERVED, timestamp_us=1_250_000),
              ev.AgentStateEvent(agent_id="x", state=ev.ON_CALL, timestamp_us=1_280_000)]
    queue = [ev.QueueEvent(call_uuid="a", type=ev.QUEUE_ENQUEUED, timestamp_us=1_240_000),
             ev.QueueEvent(call_uuid="a", type=ev.QUEUE_OFFERED, timestamp_us=1_250_000),
             ev.QueueEvent(call_uuid="b", type=ev.QUEUE_ENQUEUED, timestamp_us=1_260_000),   # nobody free
             ev.QueueEvent(call_uuid="a", type=ev.QUEUE_CONNECTED, timestamp_us=1_280_000),
             ev.QueueEvent(call_uuid="b", type=ev.QUEUE_OFFERED, timestamp_us=1_700_000),
             ev.QueueEvent(call_uuid="b", type=ev.QUEUE_OFFER_FAILED, timestamp_us=1_710_000),
             ev.QueueEvent(call_uuid="b", type=ev.QUEUE_OFFERED, timestamp_us=1_720_000),
             ev.QueueEvent(call_uuid="b", type=ev.QUEUE_CONNECTED, timestamp_us=1_790_000)]
    f = bench_e2e.analyse(opts, calls, queue, agents, (1_000_000, 2_000_000))
    assert (f.offered, f.bridged, f.failed, f.enqueued) == (3, 2, 1, 2)
    assert f.failures == {"not enqueued (NORMAL_CLEARING)": 1}
    assert f.offer_failures == 1
    assert f.bridged_in_window == 2
    assert f.free_at_enqueue == 1                      # only "a" found an agent free
    assert f.queue_to_bridge_ms["max"] == pytest.approx(40.0)
    assert f.caller_bridge_ms["max"] == pytest.approx(60.0)
    assert f.achieved_rate == pytest.approx(2.0)
    assert not f.sustained                             # 2 of 3 bridged
