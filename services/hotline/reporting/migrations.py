"""Numbered, reversible ClickHouse migrations for reporting, and the
``hotline migrate [up|down [N]|status]`` command.

Migrations run only through that command (or a deploy hook running it),
never implicitly at service start: the service checks that the schema is
current and refuses to report until it is.

Applied versions are tracked in ``schema_migrations``, an append-only log
(one row per up or down, the latest row of a version wins), which needs no
UPDATE or DELETE and reads the same on ClickHouse 18.16 and on chdb.

Rules for a new migration: the next number, an ``up`` and a ``down`` that
undoes it, SQL that runs on 18.16 and on 26.x (see docs/metrics.md), and
never edit a migration once released: add another.

Table conventions (docs/metrics.md explains why):
- ReplacingMergeTree(ingested_us): the newest copy of a row wins in merges;
  queries never rely on merges and dedupe with GROUP BY event_id / argMax.
- µs timestamps in Int64 columns; ``day`` (a Date derived in the server
  from the table's main µs column, UTC) partitions by month, so old data is
  retired with ``ALTER TABLE t DROP PARTITION 202401``; the tables the
  real-time view reads (agent_states, queue_events, call_stats_15m,
  agent_time_15m) by day since 0004: ``DROP PARTITION '2024-01-31'``.
- Proto enums are stored by name (String), so new enum values need no migration.
"""
from __future__ import annotations

import dataclasses
import logging
import sys
import time
from typing import Callable, Sequence, TextIO

from hotline.common.errors import HotlineError
from hotline.common.settings import Settings
from hotline.reporting import sql
from hotline.reporting.store import ReportStore, open_store

log = logging.getLogger(__name__)

TRACKING_TABLE = "schema_migrations"


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: tuple[str, ...]
    down: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclasses.dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    applied: bool
    changed_us: int         # when it was last applied or rolled back; 0 = never
    known: bool = True      # False: applied in the database, unknown to this build

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


class MigrationError(HotlineError):
    error_id = "migration-error"


def _day(column: str) -> str:
    return f"day Date MATERIALIZED toDate(toDateTime(intDiv({column}, 1000000), 'UTC'))"


def _engine(order_by: str) -> str:
    return f"ENGINE = ReplacingMergeTree(ingested_us) PARTITION BY toYYYYMM(day) ORDER BY ({order_by})"


# 0001: written out in full; never edited once released (add 0002 instead).
_0001_UP = (
    f"""CREATE TABLE IF NOT EXISTS call_events (
    event_id String, node_id String, call_uuid String, leg_uuid String, leg String, type String,
    timestamp_us Int64, ani String, dnis String, other_leg_uuid String, hangup_cause String,
    dtmf_digit String, application String, application_data String, freeswitch_event String,
    record_path String, created_us Int64, answered_us Int64, bridged_us Int64, hangup_us Int64,
    billsec_us Int64, hold_accum_us Int64, caller_name String,
    ingested_us UInt64,
    {_day('timestamp_us')}
) {_engine('call_uuid, timestamp_us, event_id')}""",
    f"""CREATE TABLE IF NOT EXISTS cdrs (
    event_id String, call_uuid String, node_id String, ani String, dnis String, caller_name String,
    queue String, agent_id String, disposition String, hangup_cause String,
    start_us Int64, answer_us Int64, enqueue_us Int64, connect_us Int64, end_us Int64,
    queue_wait_us Int64, talk_us Int64, hold_us Int64, offers Int32, menu_choice String,
    recording_path String, billsec_us Int64,
    ingested_us UInt64,
    {_day('start_us')}
) {_engine('queue, enqueue_us, event_id')}""",
    f"""CREATE TABLE IF NOT EXISTS agent_states (
    event_id String, agent_id String, state String, previous_state String, reason String,
    timestamp_us Int64, previous_state_since_us Int64, call_uuid String, queue String,
    ingested_us UInt64,
    {_day('timestamp_us')}
) {_engine('agent_id, timestamp_us, event_id')}""",
    f"""CREATE TABLE IF NOT EXISTS queue_events (
    event_id String, call_uuid String, queue String, type String, timestamp_us Int64,
    agent_id String, ani String, dnis String, position Int32, wait_us Int64, node_id String,
    reason String, caller_name String,
    ingested_us UInt64,
    {_day('timestamp_us')}
) {_engine('queue, timestamp_us, event_id')}""",
    f"""CREATE TABLE IF NOT EXISTS recordings (
    event_id String, call_uuid String, path String, channels Int32, sample_rate Int32,
    duration_ms Int64, size_bytes Int64, sha256 String, started_us Int64, stopped_us Int64,
    agent_id String, queue String,
    ingested_us UInt64,
    {_day('started_us')}
) {_engine('call_uuid, event_id')}""",
    f"""CREATE TABLE IF NOT EXISTS dead_letters (
    event_id String, source_topic String, source_partition Int32, source_offset Int64,
    key_hex String, payload_hex String, error String, consumer_group String, timestamp_us Int64,
    ingested_us UInt64,
    {_day('timestamp_us')}
) {_engine('source_topic, event_id')}""",
)

_0001_DOWN = tuple(f"DROP TABLE IF EXISTS {t}" for t in
                   ("dead_letters", "recordings", "queue_events", "agent_states", "cdrs", "call_events"))

# 0002: the ACD's overflow, callback and announcement fields (issue 4).
_0002_UP = (
    "ALTER TABLE queue_events ADD COLUMN destination String, ADD COLUMN priority Int32, "
    "ADD COLUMN callback_number String, ADD COLUMN ewt_s Int32, ADD COLUMN attempt Int32",
    "ALTER TABLE cdrs ADD COLUMN overflow_destination String, ADD COLUMN callback_for String, "
    "ADD COLUMN callback_number String",
)
_0002_DOWN = (
    "ALTER TABLE cdrs DROP COLUMN overflow_destination, DROP COLUMN callback_for, DROP COLUMN callback_number",
    "ALTER TABLE queue_events DROP COLUMN destination, DROP COLUMN priority, DROP COLUMN callback_number, "
    "DROP COLUMN ewt_s, DROP COLUMN attempt",
)

# 0003: reporting (issue 5): the phase and attribution fields, leg CDRs, IVR
# node visits, and the 15-minute roll-ups every historical report reads
# (docs/metrics.md, "Roll-ups"). Roll-up rows are recomputed from the
# deduplicated raw rows of their bucket; the newest `version` of a
# (key, bucket) wins, so recomputing is idempotent.
HIST_SLOTS = 62     # wait histograms: slot 0 = 0 s, slot k = (5(k-1), 5k] s for k = 1..60, slot 61 = over 300 s
HIST_STEP_S = 5
BUCKET_S = 900      # roll-up bucket: 15 minutes

_ROLLUP_ENGINE = "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(day) ORDER BY ({order_by})"

_0003_UP = (
    "ALTER TABLE cdrs ADD COLUMN ring_us Int64, ADD COLUMN skills Array(String), ADD COLUMN ivr_flow String",
    "ALTER TABLE call_events ADD COLUMN agent_id String, ADD COLUMN queue String",
    "ALTER TABLE agent_states ADD COLUMN call_enqueue_us Int64, ADD COLUMN queues Array(String)",
    # One row per channel (leg) of a call: the CHANNEL_HANGUP_COMPLETE of every leg.
    f"""CREATE TABLE IF NOT EXISTS cdr_legs (
    event_id String, call_uuid String, leg_uuid String, leg String, node_id String, agent_id String,
    queue String, ani String, dnis String, other_leg_uuid String, hangup_cause String,
    created_us Int64, answered_us Int64, bridged_us Int64, hangup_us Int64, billsec_us Int64,
    hold_accum_us Int64, record_path String,
    ingested_us UInt64,
    {_day('created_us')}
) {_engine('call_uuid, leg_uuid, event_id')}""",
    f"""CREATE TABLE IF NOT EXISTS ivr_visits (
    event_id String, call_uuid String, node_id String, flow String, node String, node_type String,
    sequence Int32, entered_us Int64, left_us Int64, outcome String, input String, attempts Int32,
    result String,
    ingested_us UInt64,
    {_day('entered_us')}
) {_engine('flow, node, entered_us, event_id')}""",
    # Calls per (dimension, member, 15-minute bucket of enqueue_us); dimension is
    # queue, agent, skill or dnis. Counts and µs sums add up across buckets.
    f"""CREATE TABLE IF NOT EXISTS call_stats_15m (
    dimension String, member String, bucket_us Int64,
    offered UInt64, answered UInt64, handled UInt64, abandoned UInt64, flowed_out UInt64,
    callbacks UInt64, rejected UInt64, failed UInt64, offers UInt64, missed UInt64,
    answered_wait_us Int64, max_answered_wait_us Int64, abandoned_wait_us Int64,
    talk_us Int64, hold_us Int64, wrap_up_us Int64,
    answer_wait_hist Array(UInt64), abandon_wait_hist Array(UInt64),
    version UInt64,
    {_day('bucket_us')}
) {_ROLLUP_ENGINE.format(order_by='dimension, member, bucket_us')}""",
    # Agent time per state per 15-minute bucket (state intervals split at bucket edges).
    f"""CREATE TABLE IF NOT EXISTS agent_time_15m (
    agent_id String, bucket_us Int64,
    logged_in_us Int64, ready_us Int64, reserved_us Int64, on_call_us Int64, wrap_up_us Int64,
    not_ready_us Int64, not_ready_reasons Array(String), not_ready_reason_us Array(Int64),
    version UInt64,
    {_day('bucket_us')}
) {_ROLLUP_ENGINE.format(order_by='agent_id, bucket_us')}""",
    # Which version of each bucket of each roll-up is current: a recompute
    # writes the bucket's rows under a new version, then this marker. Readers
    # take only rows whose (bucket_us, version) is the bucket's newest marker,
    # so they never deduplicate per key, and a bucket is switched to its new
    # rows at once (a reader never mixes two recomputes).
    f"""CREATE TABLE IF NOT EXISTS rollup_versions (
    table_name String, bucket_us Int64, version UInt64,
    {_day('bucket_us')}
) {_ROLLUP_ENGINE.format(order_by='table_name, bucket_us')}""",
    # IVR node visits per (flow, node, 15-minute bucket of entered_us).
    f"""CREATE TABLE IF NOT EXISTS ivr_stats_15m (
    flow String, node String, node_type String, bucket_us Int64,
    visits UInt64, calls UInt64, entries UInt64, hangups UInt64, queued UInt64, completed UInt64,
    errors UInt64, time_us Int64,
    version UInt64,
    {_day('bucket_us')}
) {_ROLLUP_ENGINE.format(order_by='flow, node, bucket_us')}""",
)
_0003_DOWN = (
    "DROP TABLE IF EXISTS ivr_stats_15m",
    "DROP TABLE IF EXISTS rollup_versions",
    "DROP TABLE IF EXISTS agent_time_15m",
    "DROP TABLE IF EXISTS call_stats_15m",
    "DROP TABLE IF EXISTS ivr_visits",
    "DROP TABLE IF EXISTS cdr_legs",
    "ALTER TABLE agent_states DROP COLUMN call_enqueue_us, DROP COLUMN queues",
    "ALTER TABLE call_events DROP COLUMN agent_id, DROP COLUMN queue",
    "ALTER TABLE cdrs DROP COLUMN ring_us, DROP COLUMN skills, DROP COLUMN ivr_flow",
)


# 0004: the tables the real-time view and "today" read are partitioned by day
# instead of month. With monthly partitions, once the server has merged a
# month's parts into a few big ones, "the last 24 hours of every agent" read
# the whole month (the sort keys start with the agent or queue): the real-time
# view went from 0.4 s to 2-3 s on 10 M calls. A table is copied into its
# daily-partitioned twin, the two are swapped, the old one dropped; each step
# can be run again after a failure.
_DAILY = (
    # table, version column, sort key
    ("agent_states", "ingested_us", "agent_id, timestamp_us, event_id"),
    ("queue_events", "ingested_us", "queue, timestamp_us, event_id"),
    ("call_stats_15m", "version", "dimension, member, bucket_us"),
    ("agent_time_15m", "version", "agent_id, bucket_us"),
)


def _repartition(table: str, version: str, order_by: str, partition_by: str) -> tuple[str, ...]:
    return (
        f"DROP TABLE IF EXISTS {table}_repartitioned",
        f"DROP TABLE IF EXISTS {table}_previous",
        f"CREATE TABLE {table}_repartitioned AS {table} "
        f"ENGINE = ReplacingMergeTree({version}) PARTITION BY {partition_by} ORDER BY ({order_by})",
        f"INSERT INTO {table}_repartitioned SELECT * FROM {table}",
        f"RENAME TABLE {table} TO {table}_previous, {table}_repartitioned TO {table}",
        f"DROP TABLE {table}_previous",
    )


_0004_UP = tuple(sql_ for t in _DAILY for sql_ in _repartition(*t, partition_by="day"))
_0004_DOWN = tuple(sql_ for t in _DAILY for sql_ in _repartition(*t, partition_by="toYYYYMM(day)"))

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", _0001_UP, _0001_DOWN),
    Migration(2, "acd_overflow_callbacks", _0002_UP, _0002_DOWN),
    Migration(3, "reporting_rollups", _0003_UP, _0003_DOWN),
    Migration(4, "daily_partitions", _0004_UP, _0004_DOWN),
)


def check_order(migrations: Sequence[Migration]) -> None:
    """Versions are 1, 2, 3, ... in order, names unique, every step reversible."""
    names: set[str] = set()
    for index, m in enumerate(migrations, start=1):
        if m.version != index:
            raise MigrationError(f"migration {m.label}: expected version {index} (numbered 1, 2, 3, ... in order)")
        if not m.name or m.name in names:
            raise MigrationError(f"migration {m.label}: its name must be unique and not empty")
        if not m.up or not m.down:
            raise MigrationError(f"migration {m.label}: needs both up and down statements")
        names.add(m.name)


def plan_up(applied: set[int], migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations to apply, in order."""
    return [m for m in migrations if m.version not in applied]


def plan_down(applied: set[int], migrations: Sequence[Migration], steps: int) -> list[Migration]:
    """The last ``steps`` applied migrations, newest first."""
    if steps < 0:
        raise MigrationError("down: N must be 0 or more")
    known = {m.version for m in migrations}
    unknown = sorted(applied - known)
    if unknown:
        raise MigrationError(f"the database has migration(s) {unknown} that this build does not know; "
                             "roll back with the build that applied them")
    return [m for m in reversed(migrations) if m.version in applied][:steps]


# --- against a store ---------------------------------------------------------

_TRACKING_DDL = (f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} (version UInt32, name String, applied UInt8, "
                 "at_us UInt64) ENGINE = MergeTree ORDER BY (version, at_us)")


def ensure_tracking(store: ReportStore) -> None:
    store.execute(_TRACKING_DDL)


def read_applied(store: ReportStore) -> dict[int, MigrationStatus]:
    """The latest state of every version recorded in schema_migrations."""
    exists = store.query(sql.render("SELECT count() FROM system.tables WHERE database = {db} AND name = {t}",
                                    db=store.database, t=TRACKING_TABLE))
    if not exists or not exists[0][0]:
        return {}
    rows = store.query(f"SELECT version, argMax(name, at_us) AS last_name, argMax(applied, at_us) AS last_applied, "
                       f"max(at_us) AS last_at FROM {TRACKING_TABLE} GROUP BY version ORDER BY version")
    return {int(v): MigrationStatus(int(v), str(n), bool(a), int(at)) for v, n, a, at in rows}


def status(store: ReportStore, migrations: Sequence[Migration] = MIGRATIONS) -> list[MigrationStatus]:
    recorded = read_applied(store)
    out = []
    for m in migrations:
        r = recorded.get(m.version)
        out.append(MigrationStatus(m.version, m.name, bool(r and r.applied), r.changed_us if r else 0))
    known = {m.version for m in migrations}
    out.extend(dataclasses.replace(r, known=False) for v, r in sorted(recorded.items())
               if v not in known and r.applied)
    return out


def applied_versions(store: ReportStore) -> set[int]:
    return {v for v, r in read_applied(store).items() if r.applied}


def pending(store: ReportStore, migrations: Sequence[Migration] = MIGRATIONS) -> list[Migration]:
    return plan_up(applied_versions(store), migrations)


def is_current(store: ReportStore, migrations: Sequence[Migration] = MIGRATIONS) -> bool:
    """Every migration this build knows is applied (newer ones are tolerated:
    migrations only add, so an older build keeps working during an upgrade)."""
    return not pending(store, migrations)


def _record(store: ReportStore, m: Migration, applied: bool) -> None:
    # Strictly after the version's previous row, so the latest row wins even
    # when an up and a down fall in the same microsecond.
    previous = read_applied(store).get(m.version)
    at_us = max(time.time_ns() // 1000, (previous.changed_us + 1) if previous else 0)
    store.insert(TRACKING_TABLE, ("version", "name", "applied", "at_us"), [(m.version, m.name, int(applied), at_us)])


def up(store: ReportStore, migrations: Sequence[Migration] = MIGRATIONS, *,
       on_step: Callable[[Migration], None] | None = None) -> list[Migration]:
    """Apply every pending migration in order; returns what was applied."""
    check_order(migrations)
    ensure_tracking(store)
    done = []
    for m in plan_up(applied_versions(store), migrations):
        for statement in m.up:
            store.execute(statement)
        _record(store, m, True)
        log.info("migration %s applied to %s", m.label, store.describe())
        done.append(m)
        if on_step:
            on_step(m)
    return done


def down(store: ReportStore, steps: int = 1, migrations: Sequence[Migration] = MIGRATIONS, *,
         on_step: Callable[[Migration], None] | None = None) -> list[Migration]:
    """Roll back the last ``steps`` applied migrations, newest first."""
    check_order(migrations)
    ensure_tracking(store)
    done = []
    for m in plan_down(applied_versions(store), migrations, steps):
        for statement in m.down:
            store.execute(statement)
        _record(store, m, False)
        log.info("migration %s rolled back on %s", m.label, store.describe())
        done.append(m)
        if on_step:
            on_step(m)
    return done


# --- the command ---------------------------------------------------------------

USAGE = "usage: hotline migrate [up | down [N] | status]"


def parse_args(argv: Sequence[str]) -> tuple[str, int]:
    """[] -> ("up", 0); ["down"] -> ("down", 1); ["down", "3"] -> ("down", 3); ["status"]."""
    args = list(argv)
    if not args:
        return "up", 0
    command, rest = args[0], args[1:]
    if command in ("up", "status") and not rest:
        return command, 0
    if command == "down" and len(rest) <= 1:
        if not rest:
            return "down", 1
        if rest[0].isdigit():
            return "down", int(rest[0])
        raise MigrationError(f"down: N must be a whole number, not {rest[0]!r}; {USAGE}")
    raise MigrationError(USAGE)


def _format_us(at_us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at_us / 1e6)) if at_us else "-"


def main(settings: Settings, argv: list[str], *, store: ReportStore | None = None,
         out: TextIO | None = None) -> int:
    """``hotline migrate [up|down [N]|status]``: 0 on success, 2 on bad usage, 1 on failure."""
    out = out or sys.stdout
    try:
        command, steps = parse_args(argv)
    except MigrationError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    own = store is None
    try:
        store = store or open_store(settings.clickhouse)
    except HotlineError as exc:
        print(f"migrate: {exc.message}", file=sys.stderr)
        return 1
    try:
        print(f"migrate {command}: {store.describe()}", file=out)
        if command == "up":
            done = up(store, on_step=lambda m: print(f"  applied     {m.label}", file=out))
            print(f"{len(done)} migration(s) applied; schema is current" if done
                  else "nothing to apply; schema is current", file=out)
        elif command == "down":
            done = down(store, steps, on_step=lambda m: print(f"  rolled back {m.label}", file=out))
            print(f"{len(done)} migration(s) rolled back" if done else "nothing to roll back", file=out)
        else:
            rows = status(store)
            for r in rows:
                if not r.known:
                    line = f"applied {_format_us(r.changed_us)} (unknown to this build)"
                elif r.applied:
                    line = f"applied {_format_us(r.changed_us)}"
                elif r.changed_us:
                    line = f"pending (rolled back {_format_us(r.changed_us)})"
                else:
                    line = "pending"
                print(f"  {r.label:<24} {line}", file=out)
            missing = [r for r in rows if r.known and not r.applied]
            print(f"{len(missing)} pending; schema is {'not ' if missing else ''}current", file=out)
        return 0
    except HotlineError as exc:
        print(f"migrate {command} failed: {exc.message}", file=sys.stderr)
        return 1
    finally:
        if own:
            store.close()
