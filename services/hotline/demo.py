"""`hotline demo`: a whole contact center in one process on embedded
defaults — the FreeSWITCH simulator with N agent phones and Poisson call
arrivals, every Hotline service (in-process bus, embedded ClickHouse,
SQLite customers), a live terminal wallboard, and the interval report at
the end. Everything goes through the same code paths as production: ESL
over TCP, gRPC over loopback, the bus pipelines, ClickHouse SQL."""
from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from typing import Any, TextIO

import gevent

from hotline.common.grpc import channel
from hotline.common.settings import Settings
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from hotline.proto.routing.v1 import routing_pb2, routing_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NUMBER = "5000"
QUEUES = ("sales", "support")


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    agents: int = 8
    calls_per_minute: float = 30.0
    duration_s: float = 60.0
    seed: int = 7
    mean_talk_s: float = 20.0
    mean_patience_s: float = 45.0
    wallboard: bool = True
    media_scale: float = 0.5          # prompts play at this fraction of their length
    drain_s: float = 90.0             # after arrivals stop, at most this long for calls to end
    report_interval_s: int = 900           # reports read 15-minute roll-ups: a multiple of 900 s


def _validate(o: DemoOptions) -> None:
    from hotline.common.errors import InvalidArgument

    if not 1 <= o.agents <= 500:
        raise InvalidArgument("--agents", "must be between 1 and 500")
    if not 0 < o.calls_per_minute <= 6000:
        raise InvalidArgument("--rate", "must be above 0 and at most 6000 calls per minute")
    if not 0 < o.duration_s <= 24 * 3600:
        raise InvalidArgument("--duration", "must be above 0 and at most a day")
    if not 0 < o.mean_talk_s <= 3600:
        raise InvalidArgument("--talk", "must be above 0 and at most an hour")


class Demo:
    def __init__(self, settings: Settings, options: DemoOptions, *, out: TextIO | None = None) -> None:
        _validate(options)
        self.options = options
        self.out = out or sys.stdout
        self.rng = random.Random(options.seed)
        self.workdir = tempfile.mkdtemp(prefix="hotline-demo-")
        self.password = secrets.token_hex(12)
        self.base_settings = settings
        self.calls: list[Any] = []
        self.started_us = 0
        self.phones: list[str] = []

    def _settings(self, esl_port: int) -> Settings:
        s = self.base_settings
        r = dataclasses.replace
        return r(s,
                 esl=r(s.esl, host="127.0.0.1", port=esl_port, password=self.password, reconnect_min_s=0.2),
                 grpc=r(s.grpc, routing="127.0.0.1:0", cti="127.0.0.1:0", reporting="127.0.0.1:0",
                        recording="127.0.0.1:0", ivr="127.0.0.1:0"),
                 ivr=r(s.ivr, socket_host="127.0.0.1", socket_port=0, menu_timeout_ms=3000),
                 clickhouse=r(s.clickhouse, backend="embedded",
                              embedded_path=os.path.join(self.workdir, "clickhouse")),
                 cti=r(s.cti, customers_db=os.path.join(self.workdir, "customers.sqlite3"),
                       tokens=s.cti.tokens or f"{secrets.token_hex(12)}:supervisor"),
                 recording=r(s.recording, directory=os.path.join(self.workdir, "recordings")),
                 routing=r(s.routing, queues="sales:sales:20:3,support:support:20:3", agents=""),
                 metrics=r(s.metrics, port=0))

    def run(self) -> int:
        from hotline.simulator import Switch
        from hotline.single import SingleProcess

        o = self.options
        switch = Switch(password=self.password, host="127.0.0.1", esl_port=0, hostname="demo",
                        recordings_dir=os.path.join(self.workdir, "recordings"), media_scale=o.media_scale)
        switch.start()
        settings = self._settings(switch.esl_port)
        platform = SingleProcess(settings)
        try:
            platform.start()
            switch.add_extension(dnis=SERVICE_NUMBER, apps=[
                ("set", "outside_call=true"), ("socket", f"127.0.0.1:{platform.ivr.socket_port} async full")])
            routing = routing_pb2_grpc.RoutingStub(platform.routing_channel)
            reporting = reporting_pb2_grpc.ReportingStub(channel(f"127.0.0.1:{platform.reporting.grpc_port}"))
            customers = self._seed_customers(platform)
            self._staff(switch, routing)
            self.started_us = int(time.time() * 1e6)
            arrivals = gevent.spawn(self._arrivals, switch, customers)
            board = gevent.spawn(self._wallboard_loop, routing, reporting, arrivals)
            arrivals.join()
            self._drain(switch)
            board.kill()
            gevent.sleep(1.5)    # let the last events reach ClickHouse
            self._draw(routing, reporting, final=True)
            self._report(reporting)
            return 0
        finally:
            platform.stop()
            switch.stop()
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- set-up ----------------------------------------------------------
    def _seed_customers(self, platform: Any) -> list[str]:
        store = platform.cti.customers
        store.seed_demo(200, self.rng)
        return store.phones()

    def _staff(self, switch: Any, routing: Any) -> None:
        from hotline.simulator import PhoneScript

        for i in range(self.options.agents):
            ext = str(1001 + i)
            skills = {QUEUES[i % 2]: 5}
            if i % 3 == 0:
                skills[QUEUES[(i + 1) % 2]] = 3
            answers = self.rng.random() > 0.05
            switch.register_phone(ext, PhoneScript(answer_after_s=self.rng.uniform(0.5, 2.5), answers=answers,
                                                    hangup_after_s=None))
            routing.UpsertAgent(routing_pb2.Agent(agent_id=f"agent-{ext}", name=f"Agent {ext}",
                                                  contact=f"user/{ext}@default", skills=skills))
            routing.SetAgentState(routing_pb2.SetAgentStateRequest(agent_id=f"agent-{ext}", state=ev.READY))
            self.phones.append(ext)

    # -- traffic ---------------------------------------------------------
    def _arrivals(self, switch: Any, customers: list[str]) -> None:
        from hotline.simulator import CallerScript

        o = self.options
        end = time.monotonic() + o.duration_s
        n = 0
        while True:
            gevent.sleep(self.rng.expovariate(o.calls_per_minute / 60.0))
            if time.monotonic() >= end:
                break
            n += 1
            if customers and self.rng.random() < 0.7:
                ani = self.rng.choice(customers)
            else:
                ani = "+1555" + "".join(self.rng.choice("0123456789") for _ in range(7))
            digit = self.rng.choices(["1", "2", "9", ""], weights=[45, 45, 5, 5])[0]
            digits = digit + ("2" if digit in ("9", "") else "")
            script = CallerScript(digits=digits, digit_delay_s=self.rng.uniform(0.3, 1.5),
                                  patience_s=self.rng.expovariate(1 / o.mean_patience_s),
                                  talk_s=max(2.0, self.rng.expovariate(1 / o.mean_talk_s)))
            self.calls.append(switch.place_call(ani=ani, dnis=SERVICE_NUMBER, caller_name=f"Caller {n}",
                                                script=script))

    def _drain(self, switch: Any) -> None:
        deadline = time.monotonic() + self.options.drain_s
        while time.monotonic() < deadline and any(not c.hungup for c in self.calls):
            gevent.sleep(0.5)
        for call in self.calls:
            if not call.hungup:
                call.hangup("NORMAL_CLEARING")
        gevent.sleep(0.5)

    # -- wallboard -------------------------------------------------------
    def _wallboard_loop(self, routing: Any, reporting: Any, arrivals: Any) -> None:
        while True:
            gevent.sleep(1.0)
            try:
                self._draw(routing, reporting)
            except Exception:  # noqa: BLE001 - the wallboard must not stop the demo
                log.exception("wallboard refresh failed")

    def _draw(self, routing: Any, reporting: Any, final: bool = False) -> None:
        if not self.options.wallboard and not final:
            return
        lines = []
        elapsed = (time.time() * 1e6 - self.started_us) / 1e6
        lines.append(f"Hotline demo — {elapsed:5.0f}s   calls placed {len(self.calls)}   "
                     f"in progress {sum(1 for c in self.calls if not c.hungup)}")
        lines.append(f"{'queue':10} {'waiting':>7} {'longest':>8} {'offered':>8} {'answered':>8} "
                     f"{'abandoned':>9} {'SL%':>6} {'ASA':>6}   agents by state")
        for queue in QUEUES:
            status = routing.GetQueueStatus(routing_pb2.GetQueueStatusRequest(queue=queue), timeout=5)
            stats = reporting.GetQueueStats(reporting_pb2.QueueStatsRequest(queue=queue), timeout=5)
            agents = " ".join(f"{k.lower()}={v}" for k, v in sorted(status.agents_by_state.items()) if v)
            lines.append(f"{queue:10} {status.calls_waiting:7d} {status.longest_wait_us / 1e6:7.0f}s "
                         f"{stats.offered:8d} {stats.answered:8d} {stats.abandoned:9d} "
                         f"{stats.service_level * 100:6.1f} {stats.asa_s:5.1f}s   {agents}")
        if self.options.wallboard and not final and self.out.isatty():
            self.out.write("\x1b[2J\x1b[H")
        self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()

    def _report(self, reporting: Any) -> None:
        o = self.options
        step = o.report_interval_s * 1_000_000
        start = self.started_us - self.started_us % step
        now_us = int(time.time() * 1e6)
        end = now_us - now_us % step + step          # reports take whole 15-minute buckets
        report = reporting.GetIntervalReport(reporting_pb2.IntervalReportRequest(
            from_us=start, to_us=end, interval_s=o.report_interval_s), timeout=30)
        w = self.out.write
        w(f"Interval report ({o.report_interval_s}s intervals; formulas in docs/metrics.md)\n")
        w(f"{'interval':20} {'queue':10} {'offered':>7} {'answered':>8} {'abandoned':>9} "
          f"{'ASA s':>6} {'AHT s':>6} {'SL%':>6}\n")
        for row in [*report.rows, report.total]:
            when = ("total" if row is report.total else datetime.datetime.fromtimestamp(
                row.interval_start_us / 1e6, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"))
            w(f"{when:20} {row.queue or 'all':10} {row.offered:7d} {row.answered:8d} {row.abandoned:9d} "
              f"{row.asa_s:6.1f} {row.aht_s:6.1f} {row.service_level * 100:6.1f}\n")
        self.out.flush()
