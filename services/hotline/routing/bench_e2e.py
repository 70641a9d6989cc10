"""`hotline bench e2e`: calls per second sustained end to end, separate processes.

The second target of issue 4: at least 100 calls/s end to end through Kafka,
ESL and the FreeSWITCH simulator, with p99 queue-to-bridge under 50 ms when
an agent is free.

Processes (each its own Python interpreter, as in production):

- the driver (``python -m hotline.routing.bench_e2e driver``): hosts the
  FreeSWITCH simulator (ESL over TCP), registers N agent phones that answer
  after ``--ring`` seconds, and places calls to the service number at the
  target rate (Poisson or paced arrivals); each caller presses 1 in the IVR
  menu and hangs up ``--talk`` seconds after being bridged;
- ``hotline routing`` (the ACD, publishing to the real Kafka broker);
- ``hotline ivr`` (the simulator's dialplan hands the service number to it
  with the ``socket`` application; it answers, plays the greeting and the
  menu, and calls routing's Enqueue);
- this harness: it staffs the queue over routing's gRPC (UpsertQueue,
  UpsertAgent, SetAgentState READY), tells the driver to start, and after
  the run reads the queue-events and agent-events topics from Kafka.

A warm-up (``--warmup`` s) precedes the measured window (``--duration`` s).
A driver that falls behind its arrival schedule still ends the window on time
and reports the arrivals it could not place.
Figures, for the calls placed inside the window:

- offered, bridged, failed; bridged per second inside the window (all
  QUEUE_CONNECTED events whose timestamp falls in it);
- queue-to-bridge = QUEUE_CONNECTED.timestamp_us - QUEUE_ENQUEUED.timestamp_us
  (routing's clock), p50/p95/p99/max, over the calls for which an agent was
  free when they were enqueued (rebuilt from the agent-events and
  queue-events timelines: more READY agents than calls waiting ahead);
  the same measured to the moment the simulator bridged the caller's leg;
- CPU seconds used by each process (and the Kafka broker) during the window,
  from /proc/<pid>/stat, and the machine's busy share from /proc/stat.

A rate is sustained when calls are bridged inside the window at no less than
90 % of the target rate, at least 99 % of the window's calls are bridged
(before the drain ends), and the p99 queue-to-bridge is under 50 ms. Several rates (``--rate 25,50,100``) run one
after the other, each with fresh processes and topics, and end in a table.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from typing import Any, Iterable, Sequence, TextIO

from hotline.common import runtime
from hotline.common.benchproc import cpu_seconds, free_port, python_argv

SERVICE_NUMBER = "5000"
QUEUE = "bench"
FIRST_EXTENSION = 20000
TARGET_BRIDGED = 0.99
TARGET_P99_MS = 50.0
TARGET_THROUGHPUT = 0.9       # bridged per second inside the window, as a share of the target rate
# Events that put a call among those waiting for an agent / take it out.
_WAITING_IN = ("QUEUE_ENQUEUED", "QUEUE_OFFER_FAILED")
_WAITING_OUT = ("QUEUE_OFFERED", "QUEUE_CONNECTED", "QUEUE_ABANDONED", "QUEUE_CALL_ENDED", "QUEUE_OVERFLOWED",
                "QUEUE_REJECTED", "QUEUE_CALLBACK_REQUESTED")


@dataclasses.dataclass(frozen=True)
class Options:
    rate: float = 25.0                  # call arrivals per second
    duration_s: float = 30.0            # measured window
    warmup_s: float = 5.0
    agents: int = 0                     # 0: rate x (talk + ring + 1 s) x 1.5, so an agent is free
    talk_s: float = 5.0                 # the caller hangs up this long after the bridge
    ring_s: float = 0.0                 # agent phones answer after this long
    arrivals: str = "poisson"           # or "paced"
    seed: int = 1
    media_scale: float = 0.1            # the IVR's prompts play at this fraction of their length
    kafka: str = "127.0.0.1:19092"
    topic_prefix: str = ""              # "": bench.<random>.
    log_level: str = "INFO"             # of the routing and IVR processes
    drain_s: float = 30.0               # after the window, at most this long for calls to end
    profile_dir: str = ""               # run routing and the IVR under cProfile, .prof files here
    keep_topics: bool = False
    workdir: str = ""                   # process logs; "": a temporary directory
    service_env: tuple[tuple[str, str], ...] = ()   # more HOTLINE_* settings for routing and the IVR

    def agent_count(self) -> int:
        if self.agents:
            return self.agents
        return max(5, math.ceil(self.rate * (self.talk_s + self.ring_s + 1.0) * 1.5))

    def validate(self) -> None:
        if not 0 < self.rate <= 1000:
            raise ValueError("--rate must be above 0 and at most 1000 calls/s")
        if self.duration_s <= 0 or self.warmup_s < 0:
            raise ValueError("--duration must be above 0 and --warmup at least 0")
        if self.arrivals not in ("poisson", "paced"):
            raise ValueError("--arrivals must be poisson or paced")
        if self.talk_s <= 0 or self.ring_s < 0 or not 0 < self.media_scale <= 1:
            raise ValueError("--talk must be above 0, --ring at least 0, --media-scale in (0, 1]")
        if not 1 <= self.agent_count() <= 20000:
            raise ValueError("--agents must be between 1 and 20000")
        for name, _ in self.service_env:
            if not re.fullmatch(r"HOTLINE_[A-Z0-9_]+", name):
                raise ValueError(f"--service-env {name!r}: expected HOTLINE_<NAME>=<value>")


@dataclasses.dataclass
class ProcessCpu:
    name: str
    seconds: float            # user + system CPU inside the measured window

    def share(self, window_s: float) -> float:
        return self.seconds / window_s if window_s > 0 else 0.0


@dataclasses.dataclass
class Figures:
    target_rate: float
    window_s: float
    agents: int
    offered: int                        # calls placed inside the window
    bridged: int                        # of those, bridged to an agent
    failed: int
    failures: dict[str, int]            # why, for the failed ones
    enqueued: int
    offer_failures: int                 # QUEUE_OFFER_FAILED events of those calls
    bridged_in_window: int              # every QUEUE_CONNECTED timestamped inside the window
    free_at_enqueue: int                # calls with an agent free when enqueued (latency population)
    queue_to_bridge_ms: dict[str, float]        # p50, p95, p99, max (routing's events)
    caller_bridge_ms: dict[str, float]          # enqueue -> the simulator bridged the caller's leg
    placed_to_bridge_ms: dict[str, float]       # the caller's whole wait: IVR + queue
    arrival_lag_ms: float                       # how far the driver fell behind its arrival schedule
    cpu: list[ProcessCpu]
    machine_busy: float                         # share of all cores busy during the window
    cores: int
    offer_to_bridge: tuple[int, float] = (0, 0.0)   # routing's histogram: count, mean seconds
    skipped: int = 0                            # arrivals due in the window the driver could not place in time
    records: dict[str, int] = dataclasses.field(default_factory=dict)  # topic -> Kafka records of the whole run
    calls_placed: int = 0                       # every call of the run (warm-up, window), for records per call

    @property
    def achieved_rate(self) -> float:
        return self.bridged_in_window / self.window_s if self.window_s else 0.0

    @property
    def offered_rate(self) -> float:
        return self.offered / self.window_s if self.window_s else 0.0

    @property
    def bridged_share(self) -> float:
        return self.bridged / self.offered if self.offered else 0.0

    @property
    def other_load(self) -> float:
        """CPU used by processes outside the run (other work on the machine), in cores."""
        return max(0.0, self.machine_busy * self.cores - sum(p.share(self.window_s) for p in self.cpu))

    @property
    def sustained(self) -> bool:
        p99 = self.queue_to_bridge_ms.get("p99")
        return (self.bridged_share >= TARGET_BRIDGED and p99 is not None and p99 < TARGET_P99_MS
                and self.achieved_rate >= TARGET_THROUGHPUT * self.target_rate)


# -- small helpers -----------------------------------------------------------
def quantiles(values: Iterable[float]) -> dict[str, float]:
    """Nearest-rank p50/p95/p99 and the max; {} for no values."""
    xs = sorted(values)
    if not xs:
        return {}

    def q(p: float) -> float:
        return xs[min(len(xs) - 1, max(0, math.ceil(p * len(xs)) - 1))]

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": xs[-1], "n": float(len(xs))}


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def find_kafka_pid() -> int | None:
    """The local Kafka broker's JVM (deploy/kafka.sh runs kafka.Kafka), if any."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            continue
        if b"kafka.Kafka" in cmdline:
            return int(entry)
    return None


# -- the driver process: the simulator, the agent phones and the callers ----------
def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def driver_main(argv: Sequence[str]) -> int:
    """Runs in its own process (gevent already initialised): see the module doc."""
    import gevent

    from hotline.simulator import CallerScript, PhoneScript, Switch

    p = argparse.ArgumentParser(prog="bench_e2e driver")
    p.add_argument("--ivr", required=True, help="host:port of the IVR's socket server")
    p.add_argument("--agents", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--warmup", type=float, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--talk", type=float, required=True)
    p.add_argument("--ring", type=float, required=True)
    p.add_argument("--arrivals", choices=("poisson", "paced"), required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--media-scale", type=float, required=True)
    p.add_argument("--drain", type=float, required=True)
    args = p.parse_args(argv)

    password = os.environ["HOTLINE_ESL_PASSWORD"]
    switch = Switch(password=password, host="127.0.0.1", esl_port=0, hostname="bench",
                    media_scale=args.media_scale)
    switch.start()
    switch.add_extension(dnis=SERVICE_NUMBER, apps=[("set", "outside_call=true"),
                                                    ("socket", f"{args.ivr} async full")])
    for i in range(args.agents):
        switch.register_phone(str(FIRST_EXTENSION + i), PhoneScript(answer_after_s=args.ring, hangup_after_s=None))
    # The simulator stands in for FreeSWITCH, which has no garbage collector:
    # with Python's default thresholds its full collections over the phones and
    # channels stopped the switch for 130-180 ms at 100 calls/s, the tail of
    # every figure. The services' thresholds, and the set-up frozen out of it.
    runtime.tune_gc_for_service()
    gc.freeze()
    _emit({"event": "ready", "esl_port": switch.esl_port})
    if gevent.get_hub().threadpool.apply(sys.stdin.readline).strip() != "go":
        switch.stop()
        return 1

    rng = random.Random(args.seed)
    calls: list[tuple[str, Any]] = []
    lag = [0.0]
    skipped = [0]

    def arrivals(phase: str, seconds: float) -> None:
        start = time.monotonic()
        due, end = start, start + seconds
        while True:
            due += rng.expovariate(args.rate) if args.arrivals == "poisson" else 1.0 / args.rate
            if due >= end:
                break
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            elif time.monotonic() >= end:
                # Too far behind: the phase ends on time, the arrivals left are counted, not placed.
                skipped[0] += 1 if phase == "measure" else 0
                continue
            else:
                lag[0] = max(lag[0], -delay) if phase == "measure" else lag[0]
                gevent.sleep(0)
            n = len(calls)
            script = CallerScript(digits="1", digit_delay_s=0.02, talk_s=args.talk)
            calls.append((phase, switch.place_call(ani=f"+1555{n:07d}", dnis=SERVICE_NUMBER, script=script)))
        rest = end - time.monotonic()
        if rest > 0:
            gevent.sleep(rest)

    if args.warmup > 0:
        arrivals("warmup", args.warmup)
    _emit({"event": "measure-start", "time_us": int(time.time() * 1e6)})
    arrivals("measure", args.duration)
    _emit({"event": "measure-end", "time_us": int(time.time() * 1e6)})
    deadline = time.monotonic() + args.talk + args.drain
    while time.monotonic() < deadline and not all(handle.hungup for _, handle in calls):
        gevent.sleep(0.2)
    stuck = 0
    for _, handle in calls:
        if not handle.hungup:
            stuck += 1
            handle.hangup("NORMAL_CLEARING")
    gevent.sleep(0.5)
    records = [{"uuid": h.uuid, "phase": phase, "placed_us": h.channel.t_created,
                "bridged_us": h.channel.t_bridged if h.channel.ever_bridged else 0,
                "cause": h.hangup_cause or ""} for phase, h in calls]
    _emit({"event": "result", "calls": records, "arrival_lag_ms": lag[0] * 1000, "skipped": skipped[0],
           "stuck": stuck})
    switch.stop()
    return 0


# -- the harness ---------------------------------------------------------------
class BenchError(RuntimeError):
    pass


class _Processes:
    """The child processes of one run, their logs, and their shutdown."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self._logs: list[TextIO] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], *, pipes: bool = False) -> subprocess.Popen[Any]:
        log = open(os.path.join(self.workdir, f"{name}.log"), "w")
        self._logs.append(log)
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE if pipes else log, stderr=log,
                                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL, text=True)
        self.procs[name] = proc
        return proc

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode}; its log:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 3000) -> str:
        try:
            with open(os.path.join(self.workdir, f"{name}.log")) as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def stop(self) -> dict[str, int | None]:
        import signal

        codes: dict[str, int | None] = {}
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait(5)
        for log in self._logs:
            log.close()
        return codes


def _service_argv(role: str, profile_dir: str) -> list[str]:
    """`hotline <role>` in a fresh interpreter."""
    return python_argv("hotline.cli", [role], os.path.join(profile_dir, f"{role}.prof") if profile_dir else "")


def _wait_serving(address: str, procs: _Processes, timeout_s: float = 60.0) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from hotline.common.grpc import channel

    stub = health_pb2_grpc.HealthStub(channel(address))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        procs.check()
        try:
            if stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status == \
                    health_pb2.HealthCheckResponse.SERVING:
                return
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.2)
    raise BenchError(f"{address} not SERVING after {timeout_s:.0f} s")


def _staff(routing_address: str, agents: int) -> None:
    from hotline.common.grpc import channel
    from hotline.proto.events.v1 import events_pb2 as ev
    from hotline.proto.routing.v1 import routing_pb2 as pb
    from hotline.proto.routing.v1 import routing_pb2_grpc

    routing = routing_pb2_grpc.RoutingStub(channel(routing_address))
    routing.UpsertQueue(pb.Queue(name=QUEUE, skill=QUEUE, strategy=pb.LONGEST_IDLE, wrap_up_s=0, ring_timeout_s=15),
                        timeout=10)
    for i in range(agents):
        ext = str(FIRST_EXTENSION + i)
        routing.UpsertAgent(pb.Agent(agent_id=f"agent-{ext}", name=f"Agent {ext}", contact=f"user/{ext}@default",
                                     skills={QUEUE: 5}), timeout=10)
        routing.SetAgentState(pb.SetAgentStateRequest(agent_id=f"agent-{ext}", state=ev.READY), timeout=10)


def read_events(bootstrap: str, prefix: str, timeout_s: float = 60.0) -> tuple[list[Any], list[Any]]:
    """Every QueueEvent and AgentStateEvent on the run's topics, up to their end now."""
    from kafka import KafkaConsumer, TopicPartition

    from hotline.common import topics
    from hotline.proto.events.v1 import events_pb2 as ev

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="hotline-bench-e2e", group_id=None,
                             enable_auto_commit=False)
    try:
        kinds = {topics.full_name(prefix, topics.QUEUE_EVENTS): ev.QueueEvent,
                 topics.full_name(prefix, topics.AGENT_EVENTS): ev.AgentStateEvent}
        tps = [TopicPartition(name, p) for name in kinds for p in sorted(consumer.partitions_for_topic(name) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: dict[type, list[Any]] = {ev.QueueEvent: [], ev.AgentStateEvent: []}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise BenchError(f"reading the run's events from Kafka took over {timeout_s:.0f} s")
            for tp, records in consumer.poll(timeout_ms=1000, max_records=10000).items():
                cls = kinds[tp.topic]
                out[cls].extend(cls.FromString(r.value) for r in records)
        return out[ev.QueueEvent], out[ev.AgentStateEvent]
    finally:
        consumer.close(autocommit=False)


def count_records(bootstrap: str, prefix: str) -> dict[str, int]:
    """Records on each of the run's topics (short name -> count), from their end offsets."""
    from kafka import KafkaConsumer, TopicPartition

    from hotline.common import topics

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="hotline-bench-e2e-count", group_id=None,
                             enable_auto_commit=False)
    try:
        counts = {}
        for short in topics.MESSAGE_TYPES:
            name = topics.full_name(prefix, short)
            tps = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())]
            if tps:
                counts[short] = sum(consumer.end_offsets(tps).values())
        return counts
    finally:
        consumer.close(autocommit=False)


def _scrape_offer_to_bridge(metrics_port: int) -> tuple[int, float]:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    except OSError:
        return 0, 0.0
    count = re.search(r"^hotline_routing_offer_to_bridge_seconds_count (\S+)$", text, re.M)
    total = re.search(r"^hotline_routing_offer_to_bridge_seconds_sum (\S+)$", text, re.M)
    if not count or not total or float(count.group(1)) == 0:
        return 0, 0.0
    return int(float(count.group(1))), float(total.group(1)) / float(count.group(1))


def analyse(options: Options, calls: list[dict[str, Any]], queue_events: list[Any], agent_events: list[Any],
            window_us: tuple[int, int], *, arrival_lag_ms: float = 0.0, skipped: int = 0,
            cpu: list[ProcessCpu] | None = None,
            machine_busy: float = 0.0, offer_to_bridge: tuple[int, float] = (0, 0.0),
            records: dict[str, int] | None = None) -> Figures:
    """The figures of one run from the driver's call records and the Kafka events."""
    from hotline.proto.events.v1 import events_pb2 as ev

    type_name = ev.QueueEventType.Name
    start_us, end_us = window_us
    measured = [c for c in calls if c["phase"] == "measure"]
    by_call: dict[str, dict[str, Any]] = {c["uuid"]: {"offer_failed": 0} for c in measured}

    # One timeline of routing's decisions: who is READY, which calls wait, as each call is enqueued.
    timeline = sorted([(e.timestamp_us, 0, e) for e in agent_events] + [(e.timestamp_us, 1, e) for e in queue_events],
                      key=lambda t: (t[0], t[1]))
    ready: set[str] = set()
    waiting: set[str] = set()
    bridged_in_window = 0
    for ts, kind, e in timeline:
        if kind == 0:
            (ready.add if e.state == ev.READY else ready.discard)(e.agent_id)
            continue
        name = type_name(e.type)
        info = by_call.get(e.call_uuid)
        if name == "QUEUE_ENQUEUED" and info is not None and "enqueued_us" not in info:
            info["enqueued_us"] = ts
            info["free"] = len(ready) > len(waiting - {e.call_uuid})
        elif name == "QUEUE_CONNECTED":
            if start_us <= ts < end_us:
                bridged_in_window += 1
            if info is not None and "connected_us" not in info:
                info["connected_us"] = ts
        elif name == "QUEUE_OFFER_FAILED" and info is not None:
            info["offer_failed"] += 1
        if name in _WAITING_IN:
            waiting.add(e.call_uuid)
        elif name in _WAITING_OUT:
            waiting.discard(e.call_uuid)

    failures: dict[str, int] = {}
    q2b, caller_q2b, placed_q2b = [], [], []
    bridged = 0
    for c in measured:
        info = by_call[c["uuid"]]
        if c["bridged_us"] and "connected_us" in info:
            bridged += 1
            placed_q2b.append((c["bridged_us"] - c["placed_us"]) / 1000)
            if info.get("free"):
                q2b.append((info["connected_us"] - info["enqueued_us"]) / 1000)
                caller_q2b.append((c["bridged_us"] - info["enqueued_us"]) / 1000)
            continue
        if "enqueued_us" not in info:
            why = f"not enqueued ({c['cause'] or 'still up'})"
        elif "connected_us" not in info:
            why = f"enqueued, never bridged ({c['cause'] or 'still up'})"
        else:
            why = "routing says bridged, the caller's leg was not"
        failures[why] = failures.get(why, 0) + 1
    return Figures(
        target_rate=options.rate, window_s=(end_us - start_us) / 1e6, agents=options.agent_count(),
        offered=len(measured), bridged=bridged, failed=len(measured) - bridged, failures=failures,
        enqueued=sum(1 for i in by_call.values() if "enqueued_us" in i),
        offer_failures=sum(i["offer_failed"] for i in by_call.values()),
        bridged_in_window=bridged_in_window, free_at_enqueue=len(q2b),
        queue_to_bridge_ms=quantiles(q2b), caller_bridge_ms=quantiles(caller_q2b),
        placed_to_bridge_ms=quantiles(placed_q2b), arrival_lag_ms=arrival_lag_ms, skipped=skipped, cpu=cpu or [],
        machine_busy=machine_busy, cores=os.cpu_count() or 1, offer_to_bridge=offer_to_bridge,
        records=dict(records or {}), calls_placed=len(calls))


def run(options: Options, *, log: TextIO | None = None) -> Figures:
    """One run at options.rate: start the processes, staff, drive, measure, stop."""
    from hotline.common.kafka import KafkaBus
    from hotline.common.settings import KafkaSettings

    options.validate()
    log = log or sys.stderr
    workdir = options.workdir or tempfile.mkdtemp(prefix="hotline-bench-e2e-")
    os.makedirs(workdir, exist_ok=True)
    if options.profile_dir:
        os.makedirs(options.profile_dir, exist_ok=True)
    prefix = options.topic_prefix or f"bench.{uuid.uuid4().hex[:8]}."
    password = secrets.token_hex(12)
    agents = options.agent_count()
    ivr_port, routing_port, ivr_grpc_port, metrics_port = free_port(), free_port(), free_port(), free_port()
    bus = KafkaBus(KafkaSettings(bootstrap_servers=options.kafka, topic_prefix=prefix, client_id="hotline-bench"))
    bus.ensure_topics()
    bus.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_") or k.startswith("HOTLINE_TEST_")}
    env["HOTLINE_ESL_PASSWORD"] = password
    procs = _Processes(workdir)
    try:
        driver_profile = os.path.join(options.profile_dir, "driver.prof") if options.profile_dir else ""
        driver = procs.start("driver", python_argv("hotline.routing.bench_e2e", [
            "driver", "--ivr", f"127.0.0.1:{ivr_port}",
            "--agents", str(agents), "--rate", str(options.rate), "--warmup", str(options.warmup_s),
            "--duration", str(options.duration_s), "--talk", str(options.talk_s), "--ring", str(options.ring_s),
            "--arrivals", options.arrivals, "--seed", str(options.seed), "--media-scale", str(options.media_scale),
            "--drain", str(options.drain_s)], driver_profile), env, pipes=True)
        assert driver.stdout is not None and driver.stdin is not None

        def driver_says(expected: str) -> dict[str, Any]:
            line = driver.stdout.readline()  # type: ignore[union-attr]
            if not line:
                procs.check()
                raise BenchError(f"the driver stopped before {expected!r}:\n{procs.tail('driver')}")
            message = json.loads(line)
            if message.get("event") != expected:
                raise BenchError(f"the driver said {message.get('event')!r}, expected {expected!r}")
            return message

        esl_port = driver_says("ready")["esl_port"]
        service_env = {
            **env,
            "HOTLINE_ESL_HOST": "127.0.0.1", "HOTLINE_ESL_PORT": str(esl_port),
            "HOTLINE_ESL_RECONNECT_MIN_S": "0.2",
            "HOTLINE_KAFKA_BOOTSTRAP_SERVERS": options.kafka, "HOTLINE_KAFKA_TOPIC_PREFIX": prefix,
            "HOTLINE_GRPC_ROUTING": f"127.0.0.1:{routing_port}", "HOTLINE_GRPC_IVR": f"127.0.0.1:{ivr_grpc_port}",
            "HOTLINE_IVR_SOCKET_HOST": "127.0.0.1", "HOTLINE_IVR_SOCKET_PORT": str(ivr_port),
            "HOTLINE_IVR_MENU": f"1={QUEUE}", "HOTLINE_IVR_DEFAULT_QUEUE": QUEUE,
            "HOTLINE_ROUTING_QUEUES": "", "HOTLINE_LOG_LEVEL": options.log_level,
            **dict(options.service_env),
        }
        procs.start("routing", _service_argv("routing", options.profile_dir),
                    {**service_env, "HOTLINE_METRICS_PORT": str(metrics_port)})
        procs.start("ivr", _service_argv("ivr", options.profile_dir), {**service_env, "HOTLINE_METRICS_PORT": "0"})
        _wait_serving(f"127.0.0.1:{routing_port}", procs)
        _wait_serving(f"127.0.0.1:{ivr_grpc_port}", procs)
        _staff(f"127.0.0.1:{routing_port}", agents)
        print(f"e2e: {options.rate:g} calls/s, {agents} agents, warm-up {options.warmup_s:g} s, "
              f"window {options.duration_s:g} s (logs in {workdir}, topics {prefix}*)"
              + "".join(f", {name}={value}" for name, value in options.service_env), file=log, flush=True)

        pids = {name: p.pid for name, p in procs.procs.items()}
        pids["harness"] = os.getpid()
        kafka_pid = find_kafka_pid()
        if kafka_pid is not None:
            pids["kafka (JVM)"] = kafka_pid
        driver.stdin.write("go\n")
        driver.stdin.flush()
        start_us = driver_says("measure-start")["time_us"]
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        busy0 = machine_ticks()
        end_us = driver_says("measure-end")["time_us"]
        cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        busy1 = machine_ticks()
        result = driver_says("result")
        time.sleep(1.0)          # the last events leave routing's producer (linger 2 ms)
        offer_to_bridge = _scrape_offer_to_bridge(metrics_port)
        queue_events, agent_events = read_events(options.kafka, prefix)
        records = count_records(options.kafka, prefix)
    finally:
        codes = procs.stop()
        if not options.keep_topics:
            _delete_topics(options.kafka, prefix)
    for name in ("routing", "ivr"):
        if codes.get(name) not in (0, None):
            print(f"e2e: warning: {name} exited with {codes[name]}; see {workdir}/{name}.log", file=log)
    cpu = [ProcessCpu(name, cpu1[name] - cpu0[name]) for name in pids]
    total_ticks = busy1[1] - busy0[1]
    return analyse(options, result["calls"], queue_events, agent_events, (start_us, end_us),
                   arrival_lag_ms=result["arrival_lag_ms"], skipped=result.get("skipped", 0), cpu=cpu,
                   machine_busy=(busy1[0] - busy0[0]) / total_ticks if total_ticks else 0.0,
                   offer_to_bridge=offer_to_bridge, records=records)


def _delete_topics(bootstrap: str, prefix: str) -> None:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from hotline.common import topics

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hotline-bench-admin")
        try:
            existing = set(admin.list_topics())
            names = [n for n in (topics.full_name(prefix, t) for t in topics.MESSAGE_TYPES) if n in existing]
            if names:
                admin.delete_topics(names)
        finally:
            admin.close()
    except KafkaError:
        pass


# -- printing --------------------------------------------------------------------
def _ms(q: dict[str, float], key: str) -> str:
    return f"{q[key]:.1f}" if key in q else "-"


def report(f: Figures, out: TextIO) -> None:
    w = out.write
    verdict = "SUSTAINED" if f.sustained else "not sustained"
    w(f"target {f.target_rate:g} calls/s, {f.agents} agents, window {f.window_s:.1f} s: {verdict} "
      f"(needs >= {TARGET_THROUGHPUT:.0%} of the target bridged per second in the window, >= {TARGET_BRIDGED:.0%} "
      f"of its calls bridged, p99 queue-to-bridge < {TARGET_P99_MS:g} ms)\n")
    behind = f"; {f.skipped} due arrivals not placed: the driver fell behind" if f.skipped else ""
    w(f"  offered {f.offered} ({f.offered_rate:.1f}/s; arrivals up to {f.arrival_lag_ms:.0f} ms behind schedule"
      f"{behind}), "
      f"enqueued {f.enqueued}, bridged {f.bridged} ({f.bridged_share:.1%}), failed {f.failed}, "
      f"offers failed {f.offer_failures}\n")
    for why, n in sorted(f.failures.items()):
        w(f"    failed: {n} {why}\n")
    w(f"  achieved: {f.achieved_rate:.1f} calls bridged/s inside the window\n")
    q = f.queue_to_bridge_ms
    w(f"  queue-to-bridge ms (routing, {f.free_at_enqueue} calls with an agent free): p50 {_ms(q, 'p50')}  "
      f"p95 {_ms(q, 'p95')}  p99 {_ms(q, 'p99')}  max {_ms(q, 'max')}\n")
    c = f.caller_bridge_ms
    w(f"  enqueue to the caller's leg bridged ms (simulator): p50 {_ms(c, 'p50')}  p99 {_ms(c, 'p99')}  "
      f"max {_ms(c, 'max')}\n")
    p = f.placed_to_bridge_ms
    w(f"  call placed to bridged ms (IVR + queue): p50 {_ms(p, 'p50')}  p99 {_ms(p, 'p99')}  max {_ms(p, 'max')}\n")
    if f.offer_to_bridge[0]:
        w(f"  routing's offer-to-bridge histogram: {f.offer_to_bridge[0]} offers, mean "
          f"{f.offer_to_bridge[1] * 1000:.1f} ms (whole run)\n")
    if f.records and f.calls_placed:
        w(f"  Kafka records per call placed (whole run, {f.calls_placed} calls; agent-events include the "
          f"staffing's READY): " + ", ".join(f"{topic} {n / f.calls_placed:.1f}" for topic, n
                                             in sorted(f.records.items()) if n and topic != "config-events") + "\n")
    w(f"  CPU in the window (s, share of one core, ms per call bridged in it); machine {f.machine_busy:.0%} busy "
      f"of {f.cores} cores:\n")
    for p_ in sorted(f.cpu, key=lambda x: -x.seconds):
        per_call = f"{p_.seconds * 1000 / f.bridged_in_window:6.1f} ms/call" if f.bridged_in_window else ""
        w(f"    {p_.name:12} {p_.seconds:7.2f} s  {p_.share(f.window_s):6.0%}  {per_call}\n")
    w(f"    {'(not ours)':12} {f.other_load * f.window_s:7.2f} s  {f.other_load:6.0%}  "
      "other processes on the machine\n")
    out.flush()


def table(figures: list[Figures], out: TextIO) -> None:
    """One markdown row per rate (CPU as a share of one core)."""
    names = [p.name for p in figures[0].cpu if p.name != "harness"] if figures else []
    w = out.write
    w("\n| target/s | offered/s | achieved/s | bridged | q2b p50 ms | p95 | p99 | max | "
      + " | ".join(f"{n} CPU" for n in names) + " | others CPU | machine busy | sustained |\n")
    w("|" + "---|" * (11 + len(names)) + "\n")
    for f in figures:
        q = f.queue_to_bridge_ms
        shares = {p.name: p.share(f.window_s) for p in f.cpu}
        w(f"| {f.target_rate:g} | {f.offered_rate:.1f} | {f.achieved_rate:.1f} | {f.bridged_share:.1%} | "
          f"{_ms(q, 'p50')} | {_ms(q, 'p95')} | {_ms(q, 'p99')} | {_ms(q, 'max')} | "
          + " | ".join(f"{shares.get(n, 0):.0%}" for n in names)
          + f" | {f.other_load:.0%} | {f.machine_busy:.0%} | {'yes' if f.sustained else 'no'} |\n")
    out.flush()


def build_parser(kafka: str | None = None) -> argparse.ArgumentParser:
    d = Options()
    parser = argparse.ArgumentParser(
        prog="hotline bench e2e", description=__doc__.split("\n\n")[0],
        epilog="Needs the Kafka broker (deploy/kafka.sh start). Routing, the IVR and the simulator run as "
               "separate processes; their logs go to a temporary directory (printed).")
    parser.add_argument("--rate", default=str(d.rate),
                        help=f"target call arrivals per second; a comma list runs each in turn (default {d.rate:g})")
    parser.add_argument("--duration", type=float, default=d.duration_s, help="measured window, s (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=d.warmup_s, help="warm-up before it, s (default %(default)s)")
    parser.add_argument("--agents", type=int, default=d.agents,
                        help="agents (default: rate x (talk + ring + 1 s) x 1.5, so one is free for every call)")
    parser.add_argument("--talk", type=float, default=d.talk_s,
                        help="talk time after the bridge, s (default %(default)s)")
    parser.add_argument("--ring", type=float, default=d.ring_s,
                        help="agent phones answer after this long, s (default %(default)s)")
    parser.add_argument("--arrivals", choices=("poisson", "paced"), default=d.arrivals,
                        help="arrival process (default %(default)s)")
    parser.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    parser.add_argument("--media-scale", type=float, default=d.media_scale,
                        help="the IVR's prompts play at this fraction of their length (default %(default)s)")
    parser.add_argument("--kafka", default=kafka or d.kafka,
                        help="Kafka bootstrap servers (default: HOTLINE_KAFKA_BOOTSTRAP_SERVERS, here %(default)s)")
    parser.add_argument("--log-level", default=d.log_level,
                        help="routing's and the IVR's log level (default %(default)s)")
    parser.add_argument("--drain", type=float, default=d.drain_s,
                        help="after the window, wait at most talk + this for calls to end, s (default %(default)s)")
    parser.add_argument("--profile", default="", metavar="DIR",
                        help="run routing, the IVR and the driver under cProfile timed by CPU (much slower: use a "
                             "low rate); DIR/rate<N>/{routing,ivr,driver}.prof")
    parser.add_argument("--service-env", action="append", default=[], metavar="HOTLINE_X=VALUE",
                        help="a setting for routing and the IVR (repeatable), to compare a setting's effect, e.g. "
                             "HOTLINE_KAFKA_LINGER_MS=10 (the harness's own settings are given otherwise)")
    parser.add_argument("--keep-topics", action="store_true", help="do not delete the run's Kafka topics")
    parser.add_argument("--workdir", default="", help="where the processes' logs go (default: a temporary directory)")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, *, kafka: str | None = None) -> int:
    """kafka: the default bootstrap servers (the CLI passes its settings' HOTLINE_KAFKA_BOOTSTRAP_SERVERS)."""
    import logging

    args = build_parser(kafka).parse_args(argv)
    # kafka-python's "task ran for 0.2 s" warnings during topic set-up are not figures.
    logging.getLogger("kafka").setLevel(logging.ERROR)
    out = out or sys.stdout
    try:
        rates = [float(r) for r in args.rate.split(",") if r.strip()]
    except ValueError:
        print(f"hotline bench e2e: --rate {args.rate!r} is not a number or a comma list of numbers", file=sys.stderr)
        return 2
    service_env = tuple(tuple(item.split("=", 1)) for item in args.service_env)
    if any(len(pair) != 2 for pair in service_env):
        print("hotline bench e2e: --service-env takes HOTLINE_<NAME>=<value>", file=sys.stderr)
        return 2
    results = []
    for i, rate in enumerate(rates):
        options = Options(rate=rate, duration_s=args.duration, warmup_s=args.warmup, agents=args.agents,
                          talk_s=args.talk, ring_s=args.ring, arrivals=args.arrivals, seed=args.seed,
                          media_scale=args.media_scale, kafka=args.kafka, log_level=args.log_level,
                          drain_s=args.drain, keep_topics=args.keep_topics, service_env=service_env,  # type: ignore[arg-type]
                          profile_dir=os.path.join(args.profile, f"rate{rate:g}") if args.profile else "",
                          workdir=os.path.join(args.workdir, f"rate{rate:g}") if args.workdir else "")
        try:
            options.validate()
            figures = run(options)
        except (ValueError, BenchError) as exc:
            print(f"hotline bench e2e: {exc}", file=sys.stderr)
            return 1
        report(figures, out)
        results.append(figures)
    if len(results) > 1:
        table(results, out)
    return 0


if __name__ == "__main__":
    from hotline.common import runtime

    runtime.init()
    if sys.argv[1:2] == ["driver"]:
        from hotline.common import logging as hlog

        hlog.configure("WARNING", json_output=False, stream=sys.stderr)
        sys.exit(driver_main(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
