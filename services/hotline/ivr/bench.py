"""`hotline bench ivr` (`python -m hotline.ivr.bench`): the IVR service's CPU per call, alone.

`hotline bench e2e` measures the IVR among routing, Kafka and the simulator,
and divides by the calls bridged in its window, so the IVR's row moves with
everything else on the machine. This benchmark keeps only the IVR in the
measured process:

- the IVR (``python -m hotline.ivr.bench ivr``, its own interpreter): the real
  IvrService with its outbound-socket server and VisitOutbox on the real
  Kafka broker (``--bus kafka``, default) or the in-process bus
  (``--bus memory``); routing's Enqueue is answered in-process (ENQUEUED), so
  no routing service runs;
- this process hosts the FreeSWITCH simulator, whose dialplan sends the service
  number to the IVR with ``socket ... async full``; it places ``--calls``
  calls at ``--rate`` per second; each caller presses 1 in the menu and hangs
  up ``--patience`` s after the call began (it is parked in the queue by then).

Printed: the IVR process's CPU seconds (utime + stime from /proc) from the
first measured call (one warm-up call before it) to the moment the last
call's session ended, per call, and the frames its sockets received per call
by kind (counted by the measured process, so the figure includes counting
them). ``--all-events`` (the socket takes every event myevents turns on) and
``--gather 0`` (each visit published alone) give the IVR as it was before
its socket asked for fewer events and its outbox gathered visits, for an
A/B comparison on the same tree and machine. ``--profile`` writes the IVR's
CPU-time cProfile. Visits go to the ``ivrbench.`` topics unless
HOTLINE_KAFKA_TOPIC_PREFIX says otherwise (HOTLINE_KAFKA_BOOTSTRAP_SERVERS:
the broker).

    hotline bench ivr --calls 300 --rate 25 --patience 5
    hotline bench ivr --calls 300 --rate 25 --patience 5 --all-events --gather 0
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from typing import Any, Sequence

from hotline.common.benchproc import cpu_seconds, free_port, python_argv

SERVICE_NUMBER = "5000"
QUEUE = "bench"


# -- the measured process ---------------------------------------------------------
def ivr_main(argv: Sequence[str]) -> int:
    from hotline.common import runtime

    runtime.init()
    import gevent

    from hotline.common import settings as settings_mod
    from hotline.common.bus import InProcessBus
    from hotline.freeswitch import outbound
    from hotline.ivr.app import IvrService
    from hotline.proto.routing.v1 import routing_pb2

    p = argparse.ArgumentParser(prog="hotline.ivr.bench ivr")
    p.add_argument("--bus", choices=("kafka", "memory"), default="kafka")
    p.add_argument("--all-events", action="store_true")
    p.add_argument("--gather", type=float, default=None)
    args = p.parse_args(argv)
    settings = settings_mod.load()
    if args.bus == "kafka":
        from hotline.common.kafka import KafkaBus

        bus: Any = KafkaBus(settings.kafka)
        bus.ensure_topics()
    else:
        bus = InProcessBus()

    class Routing:
        def Enqueue(self, request: Any, timeout: float | None = None) -> Any:  # noqa: N802 - gRPC's name
            return routing_pb2.EnqueueResponse(outcome=routing_pb2.ENQUEUED, queue=request.queue, position=1)

    counted = [0, 0]              # frames, sessions ended
    kinds: collections.Counter[str] = collections.Counter()
    handle_event = outbound.OutboundCall.handle_event

    def counting(self: Any, event: Any) -> None:
        counted[0] += 1
        kinds[event.name or event.content_type or "?"] += 1
        handle_event(self, event)

    outbound.OutboundCall.handle_event = counting  # type: ignore[method-assign]
    service = IvrService(settings, bus=bus)
    service.routing = Routing()   # type: ignore[assignment]
    if args.all_events:
        service.server.events = None
    if args.gather is not None:
        service.visits.gather_s = args.gather
    handle_call = service.handle_call

    def counted_call(call: Any) -> None:
        try:
            handle_call(call)
        finally:
            counted[1] += 1

    service.server.handler = service.server.application = counted_call
    service.start()
    print(json.dumps({"event": "ready", "port": service.socket_port}), flush=True)
    pool = gevent.get_hub().threadpool
    while True:
        line = pool.apply(sys.stdin.readline).strip()
        if line == "stats":
            print(json.dumps({"event": "stats", "frames": counted[0], "sessions": counted[1], "kinds": kinds}),
                  flush=True)
        else:
            break
    service.stop()
    if args.bus == "kafka":
        bus.close()
    return 0


# -- the driver ------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["ivr"]:
        return ivr_main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m hotline.ivr.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--rate", type=float, default=20.0, help="calls placed per second")
    p.add_argument("--patience", type=float, default=2.5, help="the caller hangs up this long after calling")
    p.add_argument("--bus", choices=("kafka", "memory"), default="kafka")
    p.add_argument("--media-scale", type=float, default=0.1, help="prompt lengths, as a share of the real ones")
    p.add_argument("--profile", default="", help="write the IVR's CPU-time cProfile here")
    p.add_argument("--all-events", action="store_true",
                   help="the IVR takes every event myevents turns on (as before it asked for fewer)")
    p.add_argument("--gather", type=float, default=None,
                   help="the visit outbox's gathering window in s (default: VisitOutbox's; 0: one by one)")
    args = p.parse_args(argv)

    from hotline.common import runtime

    runtime.init()
    import gevent

    from hotline.simulator import CallerScript, Switch

    switch = Switch(password="bench", host="127.0.0.1", esl_port=0, hostname="bench", media_scale=args.media_scale)
    switch.start()
    port = free_port()
    switch.add_extension(dnis=SERVICE_NUMBER, apps=[("set", "outside_call=true"),
                                                    ("socket", f"127.0.0.1:{port} async full")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_") or k.startswith("HOTLINE_TEST_")
           or k.startswith("HOTLINE_KAFKA_")}
    env.update({"HOTLINE_ESL_PASSWORD": "bench", "HOTLINE_ESL_PORT": str(switch.esl_port),
                "HOTLINE_IVR_SOCKET_HOST": "127.0.0.1", "HOTLINE_IVR_SOCKET_PORT": str(port),
                "HOTLINE_GRPC_IVR": f"127.0.0.1:{free_port()}", "HOTLINE_GRPC_ROUTING": f"127.0.0.1:{free_port()}",
                "HOTLINE_IVR_MENU": f"1={QUEUE}", "HOTLINE_IVR_DEFAULT_QUEUE": QUEUE,
                "HOTLINE_LOG_LEVEL": "WARNING", "HOTLINE_METRICS_PORT": "0",
                "HOTLINE_KAFKA_TOPIC_PREFIX": os.environ.get("HOTLINE_KAFKA_TOPIC_PREFIX", "ivrbench.")})
    ivr_args = ["ivr", "--bus", args.bus] + (["--all-events"] if args.all_events else [])
    ivr_args += ["--gather", str(args.gather)] if args.gather is not None else []
    command = python_argv("hotline.ivr.bench", ivr_args, args.profile or "")
    ivr = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert ivr.stdin is not None and ivr.stdout is not None
    try:
        ready = json.loads(ivr.stdout.readline())
        assert ready["event"] == "ready", ready

        def stats() -> dict[str, int]:
            ivr.stdin.write("stats\n")        # type: ignore[union-attr]
            ivr.stdin.flush()                  # type: ignore[union-attr]
            return json.loads(ivr.stdout.readline())  # type: ignore[union-attr]

        # one call first: imports, first gRPC/Kafka use
        warm = switch.place_call(ani="+15550000000", dnis=SERVICE_NUMBER,
                                 script=CallerScript(digits="1", digit_delay_s=0.02, patience_s=args.patience))
        print("ivr bench: warm-up call", file=sys.stderr, flush=True)
        while not warm.hungup:
            gevent.sleep(0.1)
        while stats()["sessions"] < 1:
            gevent.sleep(0.1)
        before = stats()
        cpu0, t0 = cpu_seconds(ivr.pid), time.monotonic()
        handles = []
        for n in range(args.calls):
            due = t0 + n / args.rate
            gevent.sleep(max(0.0, due - time.monotonic()))
            handles.append(switch.place_call(
                ani=f"+1555{n + 1:07d}", dnis=SERVICE_NUMBER,
                script=CallerScript(digits="1", digit_delay_s=0.02, patience_s=args.patience)))
        print(f"ivr bench: {args.calls} calls placed", file=sys.stderr, flush=True)
        deadline = time.monotonic() + args.patience + 60
        while stats()["sessions"] < before["sessions"] + args.calls and time.monotonic() < deadline:
            gevent.sleep(0.1)
        cpu1, t1 = cpu_seconds(ivr.pid), time.monotonic()
        after = stats()
        sessions = after["sessions"] - before["sessions"]
        frames = after["frames"] - before["frames"]
        cpu = cpu1 - cpu0
        print(f"IVR alone: {sessions}/{args.calls} calls at {args.rate:g}/s in {t1 - t0:.1f} s, bus {args.bus}: "
              f"CPU {cpu:.2f} s = {cpu / max(sessions, 1) * 1000:.2f} ms per call, "
              f"{frames / max(sessions, 1):.1f} frames per call", flush=True)
        kinds = {k: v - before["kinds"].get(k, 0) for k, v in after["kinds"].items()}
        print("  frames per call: " + ", ".join(f"{k} {v / max(sessions, 1):.1f}"
                                                 for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v))
    finally:
        try:
            ivr.stdin.write("stop\n")
            ivr.stdin.flush()
            ivr.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            ivr.kill()
        switch.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
