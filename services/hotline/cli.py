"""`hotline`: one console script, a subcommand per process role.

    hotline routing     the ACD: queues, agents, offers and bridges (+ call-event publisher)
    hotline ivr         the IVR: FreeSWITCH's `socket` application connects here
    hotline recording   records agent calls in stereo, announces finished files
    hotline cti         the gRPC CTI API for agent desktops and integrators (screen pop)
    hotline reporting   Kafka -> ClickHouse ingestion and the reporting gRPC API
    hotline all         every service in one process
    hotline demo        a simulated contact center on embedded defaults, with a live wallboard
    hotline migrate     ClickHouse schema migrations (up, down, status)
    hotline simulator   the FreeSWITCH simulator on its own (ESL on :8021)
    hotline freeswitch-check  check a FreeSWITCH configuration tree against these settings
    hotline cdr export  call detail records as CSV, streamed from the reporting API
    hotline staffing    agents needed per interval (Erlang C / Erlang A) from the reporting API
    hotline bench routing     print the ACD's in-process decision figures
    hotline bench ewt         print the expected-wait estimator's error against simulated outcomes
    hotline bench e2e         print calls/s and queue-to-bridge end to end (simulator, routing, IVR, Kafka)
    hotline bench ivr         print the IVR service's CPU per call, alone (the simulator beside it)
    hotline bench reporting   print ingest rate, real-time freshness and report latency on a generated history

Settings come from HOTLINE_* environment variables (and an optional TOML
file, --config / HOTLINE_CONFIG); see docs/configuration.md.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any, Callable, Sequence

from hotline.common import runtime

log = logging.getLogger("hotline.cli")

ROLES: dict[str, str] = {
    "routing": "run the ACD (queues, agents, offers, bridges) and publish call events and CDRs",
    "ivr": "run the IVR that FreeSWITCH's `socket` dialplan application connects to",
    "recording": "record agent calls in stereo and announce finished files",
    "cti": "serve the gRPC CTI API for agent desktops and integrators (screen pop)",
    "reporting": "ingest events into ClickHouse and serve the reporting gRPC API",
    "all": "run every service in one process (in-process bus and embedded ClickHouse unless told otherwise)",
    "demo": "simulate a contact center on embedded defaults with a live wallboard, then print the interval report",
    "migrate": "apply, revert or list ClickHouse schema migrations",
    "simulator": "run the FreeSWITCH simulator (ESL) on its own, for trying Hotline without FreeSWITCH",
    "freeswitch-check": "check a FreeSWITCH configuration tree (freeswitch/conf) against Hotline's settings",
    "cdr": "export call detail records as CSV from the reporting API (cdr export --from ... --to ...)",
    "staffing": "print the agents needed per interval (Erlang C or Erlang A) from the reporting API's history",
    "bench": "run a benchmark and print its figures (routing: the ACD's decisions in process; "
             "ewt: expected-wait accuracy against simulated outcomes; "
             "e2e: calls/s end to end through Kafka, ESL and the simulator, separate processes; "
             "ivr: the IVR service's CPU per call, alone; "
             "reporting: ingest rate, real-time freshness and report latency on a generated history)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description="Hotline contact-center platform.",
        epilog="Settings: HOTLINE_<SECTION>_<FIELD> environment variables, e.g. HOTLINE_ESL_PASSWORD; "
               "see docs/configuration.md.", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="TOML settings file (also HOTLINE_CONFIG)")
    sub = parser.add_subparsers(dest="role", required=True, metavar="ROLE")
    for role, help_text in ROLES.items():
        p = sub.add_parser(role, help=help_text, description=help_text)
        if role == "all":
            p.add_argument("--kafka", action="store_true", help="use the Kafka broker instead of the in-process bus")
            p.add_argument("--clickhouse-server", action="store_true",
                           help="use the ClickHouse server instead of embedded chdb")
        if role == "demo":
            p.add_argument("--agents", type=int, default=8, help="number of simulated agents (default 8)")
            p.add_argument("--rate", type=float, default=30.0, help="call arrivals per minute (default 30)")
            p.add_argument("--duration", type=float, default=60.0, help="seconds of arrivals (default 60)")
            p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
            p.add_argument("--talk", type=float, default=20.0, help="mean talk time in seconds (default 20)")
            p.add_argument("--no-wallboard", action="store_true", help="do not draw the live wallboard")
        if role == "migrate":
            p.add_argument("action", nargs="?", default="up", choices=("up", "down", "status"))
            p.add_argument("steps", nargs="?", type=int, default=None, help="for down: how many (default 1)")
        if role == "simulator":
            p.add_argument("--port", type=int, default=8021)
            p.add_argument("--ivr", default="127.0.0.1:9090", help="where the socket application connects")
        if role == "bench":
            p.add_argument("target", choices=("routing", "ewt", "e2e", "ivr", "reporting"), help="what to measure")
            p.add_argument("bench_args", nargs=argparse.REMAINDER, help="options of that benchmark (--help)")
        if role == "freeswitch-check":
            p.add_argument("--conf", default="freeswitch/conf",
                           help="the FreeSWITCH configuration directory (default freeswitch/conf)")
        if role == "cdr":
            _cdr_args(p)
        if role == "staffing":
            _staffing_args(p)
    return parser


def _utc_us(text: str) -> int:
    """An ISO-8601 time (UTC unless it carries an offset) as µs since the epoch."""
    import datetime

    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time such as 2026-11-01T00:00 "
                                         "(UTC unless it carries an offset such as +01:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (moment - epoch) // datetime.timedelta(microseconds=1)


def _reporting_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="from_us", type=_utc_us, required=True, metavar="TIME",
                   help="start, ISO-8601 (e.g. 2026-11-01T00:00; UTC unless it carries an offset)")
    p.add_argument("--to", dest="to_us", type=_utc_us, required=True, metavar="TIME", help="end (excluded)")
    p.add_argument("--queue", default="", help="one queue only (default: every queue)")
    p.add_argument("--reporting-address", metavar="HOST:PORT",
                   help="the reporting gRPC API (default: HOTLINE_GRPC_REPORTING)")


def _cdr_args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="cdr_action", required=True, metavar="ACTION")
    e = actions.add_parser("export", help="write the CDRs of calls that started in [--from, --to) as CSV",
                           description="Write the CDRs of calls that started in [--from, --to) as CSV "
                                       "(docs/cdr-export.md), oldest first, streamed from the reporting API.")
    _reporting_args(e)
    e.add_argument("--out", default="-", help="CSV file to write; - for standard output (the default)")
    e.add_argument("--batch-size", type=int, default=0, help="CDRs per streamed message (default 1000, at most 10000)")
    e.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="draw a progress bar on stderr (default: when stderr is a terminal)")


def _staffing_args(p: argparse.ArgumentParser) -> None:
    _reporting_args(p)
    p.add_argument("--interval", type=int, default=0, help="interval in seconds, a multiple of 900 (default 1800)")
    p.add_argument("--by-time-of-day", action="store_true",
                   help="one row per interval of the day, averaged over the days (pass a midnight as --from)")
    p.add_argument("--model", choices=("erlang-c", "erlang-a"), default="erlang-c",
                   help="erlang-a: callers abandon (patience from the history unless --patience)")
    p.add_argument("--target", type=float, default=0.0, help="target service level, 0..1 (default 0.8)")
    p.add_argument("--threshold", type=int, default=0,
                   help="service-level threshold in seconds (default: HOTLINE_REPORTING_SERVICE_LEVEL_THRESHOLD_S)")
    p.add_argument("--max-occupancy", type=float, default=0.0, help="occupancy cap, 0..1 (default 0.85)")
    p.add_argument("--shrinkage", type=float, default=0.0, help="share of paid time off the phones, 0..1 (default 0)")
    p.add_argument("--patience", type=float, default=0.0, help="Erlang A: mean patience in seconds (default: estimated)")


def wait_for_signal() -> None:
    import gevent
    import gevent.event

    stop = gevent.event.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(sig, stop.set)
    stop.wait()


def _serve(services: Sequence[Any]) -> int:
    runtime.tune_gc_for_service()
    started = []
    try:
        for service in services:
            service.start()
            started.append(service)
        log.info("running: %s", ", ".join(type(s).__name__ for s in services))
        wait_for_signal()
    finally:
        for service in reversed(started):
            try:
                service.stop()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("stopping %s failed", type(service).__name__)
    return 0


def _kafka_bus(settings: Any) -> Any:
    from hotline.common.kafka import KafkaBus

    bus = KafkaBus(settings.kafka)
    bus.ensure_topics()
    return bus


def run_role(role: str, args: argparse.Namespace, settings: Any) -> int:
    from hotline.common.grpc import channel

    if role == "routing":
        from hotline.routing.app import RoutingService
        return _serve([RoutingService(settings, _kafka_bus(settings))])
    if role == "ivr":
        from hotline.ivr.app import IvrService
        return _serve([IvrService(settings, bus=_kafka_bus(settings))])
    if role == "recording":
        from hotline.recording.app import RecordingService
        return _serve([RecordingService(settings, _kafka_bus(settings))])
    if role == "cti":
        from hotline.cti.app import CtiService
        return _serve([CtiService(settings, _kafka_bus(settings), channel(settings.grpc.routing))])
    if role == "reporting":
        from hotline.reporting.app import ReportingService
        from hotline.reporting.store import open_store
        return _serve([ReportingService(settings, _kafka_bus(settings), open_store(settings.clickhouse))])
    if role == "migrate":
        from hotline.reporting import migrations
        argv = [args.action] + ([str(args.steps)] if args.steps is not None else [])
        return migrations.main(settings, argv)
    if role == "all":
        from hotline.single import SingleProcess
        return _serve([SingleProcess(settings, use_kafka=args.kafka, clickhouse_server=args.clickhouse_server)])
    if role == "demo":
        from hotline.demo import Demo, DemoOptions
        options = DemoOptions(agents=args.agents, calls_per_minute=args.rate, duration_s=args.duration,
                              seed=args.seed, mean_talk_s=args.talk, wallboard=not args.no_wallboard)
        return Demo(settings, options).run()
    if role == "simulator":
        from hotline.simulator import Switch
        switch = Switch(password=settings.esl.require_password(), host=settings.esl.host, esl_port=args.port)
        # The public dialplan of freeswitch/: the service number goes to the IVR's socket.
        switch.add_extension(dnis="5000", apps=[("set", "outside_call=true"),
                                                ("socket", f"{args.ivr} async full")])
        return _serve([switch])
    if role == "bench":
        if args.target == "ewt":
            from hotline.routing import ewt_sim
            return ewt_sim.main(args.bench_args)
        if args.target == "reporting":
            from hotline.reporting import bench as reporting_bench
            return reporting_bench.main(args.bench_args, settings=settings)
        if args.target == "ivr":
            from hotline.ivr import bench as ivr_bench
            return ivr_bench.main(args.bench_args)
        if args.target == "e2e":
            from hotline.routing import bench_e2e
            return bench_e2e.main(args.bench_args, kafka=settings.kafka.bootstrap_servers)
        from hotline.routing import bench
        return bench.main(args.bench_args, kafka=settings.kafka.bootstrap_servers)
    if role == "freeswitch-check":
        from hotline.freeswitch import confcheck
        return confcheck.report(confcheck.check_tree(args.conf, settings=settings), args.conf)
    if role == "cdr":
        return _cdr_export(args, settings)
    if role == "staffing":
        return _staffing(args, settings)
    raise SystemExit(f"unknown role {role}")


# Request fields as the reporting commands' flags, for error messages.
_FLAGS = {"from_us": "--from", "to_us": "--to", "queue": "--queue", "batch_size": "--batch-size",
          "interval_s": "--interval", "target_service_level": "--target", "service_level_threshold_s": "--threshold",
          "max_occupancy": "--max-occupancy", "shrinkage": "--shrinkage", "patience_s": "--patience"}


def _reporting_call(command: str, args: argparse.Namespace, settings: Any, call: Callable[[Any], int]) -> int:
    """Run ``call(stub)`` against the reporting API: 0 when it succeeds, 2 for bad
    input (checked here first, or refused by the server), 1 when the API fails."""
    import grpc

    from hotline.common.errors import InvalidArgument
    from hotline.proto.reporting.v1 import reporting_pb2_grpc

    address = args.reporting_address or settings.grpc.reporting
    channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)])
    try:
        return call(reporting_pb2_grpc.ReportingStub(channel))
    except InvalidArgument as exc:
        print(f"hotline {command}: {_FLAGS.get(exc.field, exc.field)}: {exc.message}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        code = exc.code()
        print(f"hotline {command}: the reporting API at {address} answered {code.name}: {exc.details()}",
              file=sys.stderr)
        return 2 if code == grpc.StatusCode.INVALID_ARGUMENT else 1
    finally:
        channel.close()


def _cdr_export(args: argparse.Namespace, settings: Any) -> int:
    from hotline.proto.reporting.v1 import reporting_pb2
    from hotline.reporting import export

    request = reporting_pb2.ExportCdrsRequest(from_us=args.from_us, to_us=args.to_us, queue=args.queue,
                                              batch_size=args.batch_size)
    show = args.progress if args.progress is not None else sys.stderr.isatty()

    def run(stub: Any) -> int:
        export.validate_request(request)
        written, _ = export.run_export(stub, request, args.out, progress=export.Progress(sys.stderr) if show else None,
                                       stdout=sys.stdout)
        where = "standard output" if args.out == "-" else args.out
        print(f"hotline cdr export: {written:,} CDRs written to {where}", file=sys.stderr)
        return 0

    return _reporting_call("cdr export", args, settings, run)


def _staffing(args: argparse.Namespace, settings: Any) -> int:
    from hotline.proto.reporting.v1 import reporting_pb2
    from hotline.reporting import staffing

    model = reporting_pb2.ERLANG_A if args.model == "erlang-a" else reporting_pb2.ERLANG_C
    request = reporting_pb2.StaffingRequest(
        queue=args.queue, from_us=args.from_us, to_us=args.to_us, interval_s=args.interval,
        target_service_level=args.target, service_level_threshold_s=args.threshold, max_occupancy=args.max_occupancy,
        shrinkage=args.shrinkage, patience_s=args.patience, model=model, by_time_of_day=args.by_time_of_day)

    def run(stub: Any) -> int:
        staffing.validate_request(request, settings.reporting)
        report = stub.GetStaffing(request, timeout=120)
        sys.stdout.write(staffing.format_report(report, by_time_of_day=args.by_time_of_day))
        return 0

    return _reporting_call("staffing", args, settings, run)


def main(argv: Sequence[str] | None = None, *, run: Callable[..., int] = run_role) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    runtime.init()
    from hotline.common import logging as hlog
    from hotline.common import metrics, settings as settings_mod
    from hotline.common.errors import ConfigError, HotlineError

    try:
        settings = settings_mod.load(config_file=args.config)
    except ConfigError as exc:
        print(f"hotline: configuration error: {exc}", file=sys.stderr)
        return 2
    interactive = args.role in ("demo", "migrate", "freeswitch-check", "bench", "cdr", "staffing")
    hlog.configure(settings.log.level if not interactive else "WARNING",
                   json_output=settings.log.json and not interactive,
                   stream=sys.stderr if interactive else None)
    try:
        if not interactive:
            metrics.serve(settings.metrics.host, settings.metrics.port)
        return run(args.role, args, settings)
    except ConfigError as exc:
        print(f"hotline: configuration error: {exc}", file=sys.stderr)
        return 2
    except HotlineError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
