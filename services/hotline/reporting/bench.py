"""`hotline bench reporting`: how fast reporting ingests, how fresh its
real-time view is, and how fast its reports answer on a large history.

Three phases, each printing its figures (issue 5's targets beside them):

1. **Ingest**: a realistic event mix (per call: call events of the caller
   and agent legs, IVR node visits, queue events, agent state events, the
   CDR: about 17 events) is published to real Kafka topics first; then one
   consumer pipeline (decode -> batch -> insert into the ClickHouse server ->
   refresh roll-ups -> commit) drains them. Figures: events/s on the wall
   clock and per consumer core (events ÷ CPU seconds of this process while
   it consumed). Target: at least 50,000 events/s per core.
2. **Freshness**: with the pipeline running at the service's settings, a
   call is enqueued (a QueueEvent published with the current time) and the
   real-time query is polled until the call shows as waiting: the delay from
   the event's time. Target: under 2 s.
3. **Reports on a large history**: ``--calls`` calls (10 million by default)
   over 30 days are generated inside ClickHouse (hotline.reporting.benchgen),
   the roll-ups are rebuilt, and each report is run ``--repeat`` times:
   today's real-time queue panel, 30-minute interval reports over the
   month, agent reports over today and the month. A report is timed as
   GetIntervalReport / GetAgentReport serve it (queries, figures, reply
   messages; no transport), page by page: the long ones (every queue's
   month, every agent's day) twice, to their first page (1,000 rows, the
   default) and to their last (pages of 10,000). Target: each under 500 ms.

Needs Kafka and the ClickHouse server (deploy/kafka.sh start,
deploy/clickhouse.sh start); writes into its own database, dropped at the
end unless ``--keep``.
"""
from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
import uuid
from typing import Any, Callable, Iterator

import gevent

from hotline.common import runtime, topics
from hotline.common.kafka import KafkaBus
from hotline.common.settings import Settings
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.reporting import api, benchgen, migrations, pages, queries, realtime, rollup, sql
from hotline.reporting.ingest import INGESTED_TOPICS, Ingester
from hotline.reporting.store import ReportStore, ServerStore

US = 1_000_000


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# -- the event mix ---------------------------------------------------------

Event = tuple[str, str, Any]         # (topic, key, message)


def call_events(n: int, at_us: int, queues: int = 50, agents: int = 500) -> Iterator[Event]:
    """Every event one answered (nine in ten) or abandoned call produces."""
    call = f"bench-{n}"
    agent_leg = f"bench-{n}-a"
    queue = f"queue{n % queues}"
    agent = f"agent{(n * 7) % agents}"
    answered = n % 10 != 0
    enq = at_us + 20 * US
    wait = (n % 40) * US
    connect, end = enq + wait, enq + wait + (60 + n % 300) * US
    seq = iter(range(1, 100))

    def ce(leg_uuid: str, leg: int, type_: int, t: int, **extra: Any) -> Event:
        return (topics.CALL_EVENTS, call, ev.CallEvent(
            event_id=f"core:{n}:{next(seq)}", node_id="bench", call_uuid=call, leg_uuid=leg_uuid, leg=leg,
            type=type_, timestamp_us=t, ani=f"+1555{n:07d}", dnis="8005551000", caller_name="Bench",
            freeswitch_event=ev.CallEventType.Name(type_), **extra))

    yield ce(call, ev.LEG_CALLER, ev.CALL_CREATED, at_us)
    yield ce(call, ev.LEG_CALLER, ev.CALL_ANSWERED, at_us + US)
    for i, (node, outcome) in enumerate((("greeting", "next"), ("menu", "next"), ("queue", "queued")), 1):
        yield (topics.IVR_EVENTS, call, ev.IvrNodeVisit(
            event_id=f"ivr:{call}:{i}", call_uuid=call, node_id="bench", flow="main", node=node,
            node_type="menu" if node == "menu" else "play", sequence=i, entered_us=at_us + i * 5 * US,
            left_us=at_us + (i + 1) * 5 * US, outcome=outcome, input="1" if node == "menu" else "",
            attempts=1))
    yield ce(call, ev.LEG_CALLER, ev.CALL_PARKED, enq)
    yield (topics.QUEUE_EVENTS, call, ev.QueueEvent(
        event_id=f"qe:{call}:1", call_uuid=call, queue=queue, type=ev.QUEUE_ENQUEUED, timestamp_us=enq,
        position=1, node_id="bench", ewt_s=30))
    if answered:
        yield (topics.QUEUE_EVENTS, call, ev.QueueEvent(
            event_id=f"qe:{call}:2", call_uuid=call, queue=queue, type=ev.QUEUE_OFFERED, timestamp_us=connect - US,
            agent_id=agent, node_id="bench"))
        yield ce(agent_leg, ev.LEG_AGENT, ev.CALL_CREATED, connect - US, agent_id=agent, queue=queue)
        yield ce(agent_leg, ev.LEG_AGENT, ev.CALL_ANSWERED, connect, agent_id=agent, queue=queue)
        yield ce(call, ev.LEG_CALLER, ev.CALL_BRIDGED, connect, other_leg_uuid=agent_leg)
        yield (topics.QUEUE_EVENTS, call, ev.QueueEvent(
            event_id=f"qe:{call}:3", call_uuid=call, queue=queue, type=ev.QUEUE_CONNECTED, timestamp_us=connect,
            agent_id=agent, wait_us=wait, node_id="bench"))
        for i, (state, previous, t, since) in enumerate((
                (ev.ON_CALL, ev.RESERVED, connect, connect - US), (ev.WRAP_UP, ev.ON_CALL, end, connect),
                (ev.READY, ev.WRAP_UP, end + 10 * US, end)), 1):
            yield (topics.AGENT_EVENTS, agent, ev.AgentStateEvent(
                event_id=f"as:{call}:{i}", agent_id=agent, state=state, previous_state=previous, timestamp_us=t,
                previous_state_since_us=since, call_uuid=call, queue=queue, call_enqueue_us=enq, queues=[queue]))
        yield ce(agent_leg, ev.LEG_AGENT, ev.CALL_HANGUP_COMPLETE, end, agent_id=agent, queue=queue,
                 hangup_cause="NORMAL_CLEARING", created_us=connect - US, answered_us=connect, bridged_us=connect,
                 hangup_us=end, billsec_us=end - connect)
    else:
        yield (topics.QUEUE_EVENTS, call, ev.QueueEvent(
            event_id=f"qe:{call}:2", call_uuid=call, queue=queue, type=ev.QUEUE_ABANDONED, timestamp_us=end,
            wait_us=end - enq, node_id="bench"))
    yield ce(call, ev.LEG_CALLER, ev.CALL_HANGUP_COMPLETE, end, hangup_cause="NORMAL_CLEARING",
             created_us=at_us, answered_us=at_us + US, bridged_us=connect if answered else 0, hangup_us=end,
             billsec_us=end - at_us - US)
    yield (topics.CDRS, call, ev.Cdr(
        event_id=f"cdr:{call}", call_uuid=call, node_id="bench", ani=f"+1555{n:07d}", dnis="8005551000",
        queue=queue, agent_id=agent if answered else "",
        disposition=ev.DISPOSITION_ANSWERED if answered else ev.DISPOSITION_ABANDONED,
        hangup_cause="NORMAL_CLEARING", start_us=at_us, answer_us=at_us + US, enqueue_us=enq,
        connect_us=connect if answered else 0, end_us=end, queue_wait_us=wait if answered else end - enq,
        talk_us=end - connect if answered else 0, offers=1 if answered else 0, ring_us=connect - US if answered else 0,
        skills=[f"skill{n % 20}"], ivr_flow="main", billsec_us=end - at_us - US))


def event_mix(calls: int, start_us: int, spacing_us: int = 250_000) -> list[Event]:
    out: list[Event] = []
    for n in range(calls):
        out.extend(call_events(n, start_us + n * spacing_us))
    return out


# -- phases ------------------------------------------------------------------

@dataclasses.dataclass
class IngestFigures:
    events: int
    wall_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s else 0.0

    @property
    def per_core_s(self) -> float:
        return self.events / self.cpu_s if self.cpu_s else 0.0


def _pipeline(store: ReportStore) -> Callable[[list[Any]], None]:
    """The reporting service's handler: rows into ClickHouse, then the roll-ups."""
    return Ingester(store, after_insert=rollup.Refresher(store).after_batch)


def run_ingest(bus: Any, store: ReportStore, calls: int, *, batch_size: int, say: Callable[[str], None]
               ) -> tuple[IngestFigures, Any]:
    start_us = int(time.time() * US) - calls * 250_000 - 3600 * US
    events = event_mix(calls, start_us)
    say(f"publishing {len(events):,} events ({calls:,} calls) to Kafka ...")
    for topic, key, message in events:
        bus.publish(topic, key, message)
    bus.flush(120)
    handler = _pipeline(store)
    # The consumer runs from here on with the reporting service's collector thresholds (cli._serve).
    runtime.tune_gc_for_service()
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    consumer = bus.consume("bench-reporting", INGESTED_TOPICS, handler, batch_size=batch_size,
                           batch_timeout_s=0.5)
    last_progress = wall0
    while consumer.processed < len(events):
        gevent.sleep(0.05)
        if time.perf_counter() - last_progress > 10:
            last_progress = time.perf_counter()
            say(f"  {consumer.processed:,} of {len(events):,} ingested")
        if time.perf_counter() - wall0 > 600:
            raise RuntimeError(f"ingest stalled at {consumer.processed:,} of {len(events):,} events")
    figures = IngestFigures(len(events), time.perf_counter() - wall0, cpu_seconds() - cpu0)
    return figures, consumer


def run_freshness(bus: Any, store: ReportStore, samples: int, say: Callable[[str], None]) -> list[float]:
    """Seconds from a QueueEvent's timestamp until the real-time query shows the call waiting."""
    delays = []
    for i in range(samples):
        call = f"fresh-{uuid.uuid4()}"
        queue = f"fresh{i % 3}"
        now_us = int(time.time() * US)
        bus.publish(topics.QUEUE_EVENTS, call, ev.QueueEvent(
            event_id=f"qe:{call}:1", call_uuid=call, queue=queue, type=ev.QUEUE_ENQUEUED, timestamp_us=now_us,
            position=1, node_id="bench"))
        bus.flush(10)
        while True:
            view = realtime.realtime(store, queues=[queue], now_us=int(time.time() * US))
            waiting = {q.queue: q.calls_waiting for q in view.queues}
            if waiting.get(queue, 0) > (i // 3):
                break
            if time.time() * US - now_us > 30 * US:
                raise RuntimeError("the enqueued call did not show in the real-time view within 30 s")
            gevent.sleep(0.02)
        delays.append(time.time() - now_us / US)
        gevent.sleep(0.2)
    return delays


@dataclasses.dataclass
class Timing:
    seconds: list[float]
    result: Any                                     # the last run's

    @property
    def size(self) -> str:
        """Rows and pages of a paged report's replies ("" for anything else)."""
        if not (isinstance(self.result, list) and self.result and hasattr(self.result[0], "next_page_token")):
            return ""
        rows = sum(len(r.rows) for r in self.result)
        of = f" of {self.result[0].total_size:,}" if hasattr(self.result[0], "total_size") else ""
        return f"{rows:,} rows{of} in {len(self.result)} page(s)"


def time_it(fn: Callable[[], Any], repeat: int) -> Timing:
    fn()                                            # warm: first-touch of the parts
    out = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t0)
    return Timing(out, result)


def run_reports(store: ReportStore, calls: int, repeat: int, say: Callable[[str], None], *,
                generate: bool = True) -> dict[str, Timing]:
    now_us = int(time.time() * US)
    end_us = now_us - now_us % (900 * US)
    history = benchgen.History(calls=calls, end_us=end_us)
    if generate:
        t0 = time.perf_counter()
        rows = benchgen.generate(store, history, progress=say)
        say(f"generated {rows} in {time.perf_counter() - t0:.1f} s; rebuilding the roll-ups ...")
        t0 = time.perf_counter()
        rollup.rebuild(store, history.start_us - 3600 * US, end_us + 3600 * US)
        say(f"roll-ups rebuilt in {time.perf_counter() - t0:.1f} s")
    day_us = 86_400 * US
    month_from = history.start_us - history.start_us % day_us
    month_to = end_us - end_us % day_us + day_us
    today = month_to - day_us
    month_queues = queries.IntervalQuery(from_us=month_from, to_us=month_to, interval_s=1800)
    today_agents = queries.AgentQuery(from_us=today, to_us=month_to, interval_s=1800)
    return {
        "real-time view (today, every queue and agent)": time_it(
            lambda: realtime.realtime(store, now_us=int(time.time() * US)), repeat),
        "30-min interval report, month, whole center (1 page)": time_it(
            lambda: interval_pages(store, dataclasses.replace(month_queues, group_by="none"),
                                   pages.MAX_PAGE_SIZE), repeat),
        "30-min interval report, month, one queue (1 page)": time_it(
            lambda: interval_pages(store, dataclasses.replace(month_queues, member="queue7"),
                                   pages.MAX_PAGE_SIZE), repeat),
        "30-min interval report, month, every queue listed: first page": time_it(
            lambda: interval_pages(store, month_queues, pages.DEFAULT_PAGE_SIZE, first_only=True), repeat),
        "30-min interval report, month, every queue listed: every page": time_it(
            lambda: interval_pages(store, month_queues, pages.MAX_PAGE_SIZE), repeat),
        "agent report, today, every agent, 30-min: first page": time_it(
            lambda: agent_pages(store, today_agents, pages.DEFAULT_PAGE_SIZE, first_only=True), repeat),
        "agent report, today, every agent, 30-min: every page": time_it(
            lambda: agent_pages(store, today_agents, pages.MAX_PAGE_SIZE), repeat),
        "agent report, month, one agent, daily (1 page)": time_it(
            lambda: agent_pages(store, queries.AgentQuery(from_us=month_from, to_us=month_to, interval_s=86_400,
                                                          agent_id="agent42"), pages.MAX_PAGE_SIZE), repeat),
    }


def interval_pages(store: ReportStore, q: queries.IntervalQuery, page_size: int, *, first_only: bool = False
                   ) -> list[Any]:
    """The replies GetIntervalReport sends for the report (its first page
    only, or every page): queries, figures and reply messages, no transport."""
    return _pages(lambda page: api.interval_reply(queries.interval_page(store, q, page), q), q, page_size,
                  first_only)


def agent_pages(store: ReportStore, q: queries.AgentQuery, page_size: int, *, first_only: bool = False
                ) -> list[Any]:
    return _pages(lambda page: api.agent_reply(queries.agent_page(store, q, page), q), q, page_size, first_only)


def _pages(read: Callable[[pages.Page], Any], q: Any, page_size: int, first_only: bool) -> list[Any]:
    replies, token = [], ""
    while True:
        reply = read(pages.page(q, page_size, token))
        replies.append(reply)
        token = reply.next_page_token
        if first_only or not token:
            return replies


def main(argv: list[str] | None = None, *, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    parser = argparse.ArgumentParser(prog="hotline bench reporting", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ingest-calls", type=int, default=20_000, help="calls in the ingest phase (~17 events each)")
    parser.add_argument("--batch-size", type=int, default=5000, help="consumer batch size in the ingest phase")
    parser.add_argument("--freshness-samples", type=int, default=20)
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls in the generated history")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--phases", default="ingest,freshness,reports")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's database")
    parser.add_argument("--reuse", metavar="DATABASE", default="",
                        help="time the reports on a database kept by an earlier run (--keep): no generation")
    args = parser.parse_args(argv)
    phases = set(args.phases.split(","))
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731

    tag = uuid.uuid4().hex[:8]
    database = args.reuse or f"hotline_bench_{tag}"
    ch = dataclasses.replace(settings.clickhouse, backend="server", database=database)
    store = ServerStore(ch)
    bus = None
    try:
        migrations.up(store)
        print(f"reporting benchmark: ClickHouse {store.query('SELECT version()')[0][0]} at "
              f"{ch.host}:{ch.port}, database {database}")
        consumer = None
        if phases & {"ingest", "freshness"}:
            bus = KafkaBus(dataclasses.replace(settings.kafka, topic_prefix=f"bench{tag}."))
            bus.ensure_topics()
        if "ingest" in phases:
            figures, consumer = run_ingest(bus, store, args.ingest_calls, batch_size=args.batch_size, say=say)
            print(f"ingest: {figures.events:,} events in {figures.wall_s:.1f} s: {figures.per_s:,.0f} events/s, "
                  f"{figures.per_core_s:,.0f} events/s per consumer core ({figures.cpu_s:.1f} CPU s)   "
                  f"target >= 50,000 per core")
        if "freshness" in phases:
            if consumer is None:
                consumer = bus.consume("bench-reporting", INGESTED_TOPICS, _pipeline(store),
                                       batch_size=settings.reporting.batch_size,
                                       batch_timeout_s=settings.reporting.batch_timeout_s)
            delays = run_freshness(bus, store, args.freshness_samples, say)
            print(f"freshness (event time -> visible in the real-time view), {len(delays)} samples: "
                  f"p50 {quantile(delays, 0.5):.2f} s, max {max(delays):.2f} s   target < 2 s")
        if consumer is not None:
            consumer.stop()
        if "reports" in phases:
            timings = run_reports(store, args.calls, args.repeat, say, generate=not args.reuse)
            print(f"reports on {args.calls:,} calls over 30 days ({args.repeat} runs each, after one warm-up):")
            for name, timing in timings.items():
                values = timing.seconds
                print(f"  {name:<64} p50 {quantile(values, 0.5) * 1000:7.1f} ms, "
                      f"max {max(values) * 1000:7.1f} ms   target < 500 ms   {timing.size}")
        return 0
    finally:
        if bus is not None:
            bus.close()
        if not args.keep and not args.reuse:
            store.execute(f"DROP DATABASE IF EXISTS {sql.identifier(database)}")
        store.close()


if __name__ == "__main__":
    raise SystemExit(main())
