#!/usr/bin/env bash
# The project's test command (`make test` runs it once the venv exists):
#   1. installs (first run only; cached) and starts the real dependencies, Kafka
#      and ClickHouse, side by side, and waits until both answer; installs
#      promtool (PromQL checks of the dashboards) if missing;
#   2. announces them to the tests through HOTLINE_TEST_* variables;
#   3. checks that the generated protobuf stubs match protos/;
#   4. runs pytest with this script's arguments (all tests by default);
#   5. always stops both dependencies on the way out, and exits with pytest's code.
# A dependency that does not come up fails the run with its log tail: tests
# never silently skip here. Logs: var/log/ (kafka.log, clickhouse/, *-setup.log).
#
#   deploy/test.sh                                   # everything
#   deploy/test.sh tests/integration -k kafka -x     # any pytest arguments
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
LOGDIR="$ROOT/var/log"
PY="$ROOT/.venv/bin/python"

note() { echo "== $*"; }
fail() { echo "== ERROR: $*" >&2; exit 1; }

[[ -x "$PY" && -x "$ROOT/.venv/bin/pytest" ]] \
    || fail "the project's venv is missing ($ROOT/.venv): run 'make test' (or 'make venv' first)"
mkdir -p "$LOGDIR"

stop_dependencies() {
    local rc=$?
    trap - EXIT INT TERM
    # a setup still running in the background (interrupted run) goes first
    local job
    for job in $(jobs -p); do
        pkill -TERM -P "$job" 2>/dev/null || true   # the start/wait script inside the job
        kill -TERM "$job" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    note "stopping Kafka and ClickHouse"
    { "$ROOT/deploy/kafka.sh" stop >>"$LOGDIR/kafka-setup.log" 2>&1 \
        || echo "== ERROR: stopping Kafka failed (see $LOGDIR/kafka-setup.log)" >&2; } &
    { "$ROOT/deploy/clickhouse.sh" stop >>"$LOGDIR/clickhouse-setup.log" 2>&1 \
        || echo "== ERROR: stopping ClickHouse failed (see $LOGDIR/clickhouse-setup.log)" >&2; } &
    wait
    exit "$rc"
}
trap stop_dependencies EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 0. ports ------------------------------------------------------------------
# The defaults (19092/19093, 19000/18123) unless set in the environment. A default
# port held by some other process (not our own server, which start reuses) is
# replaced for this run by a free one, said out loud: the tests learn the real
# ports from HOTLINE_TEST_*, and a stray server must not fail CI.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
choose_port() {  # choose_port VAR DEFAULT SCRIPT
    local var=$1 default=$2 script=$3 port
    [[ -n "${!var:-}" ]] && return 0
    if port_busy "$default" && { "$ROOT/deploy/$script" status >/dev/null 2>&1; (($? == 3)); }; then
        port="$(free_port)"
        note "127.0.0.1:$default is taken by another process ($(ss -Hltnp "sport = :$default" 2>/dev/null | grep -o 'users:.*' | head -n1)); using $port for this run ($var)"
        export "$var=$port"
    fi
}
choose_port HOTLINE_KAFKA_PORT 19092 kafka.sh
choose_port HOTLINE_KAFKA_CONTROLLER_PORT 19093 kafka.sh
choose_port HOTLINE_CLICKHOUSE_PORT 19000 clickhouse.sh
choose_port HOTLINE_CLICKHOUSE_HTTP_PORT 18123 clickhouse.sh

# --- 1. the dependencies, in parallel ---------------------------------------
note "starting Kafka and ClickHouse (first run installs them; logs in var/log/)"
started=$SECONDS
( "$ROOT/deploy/kafka.sh" start && "$ROOT/deploy/kafka.sh" wait ) >"$LOGDIR/kafka-setup.log" 2>&1 &
kafka_job=$!
( "$ROOT/deploy/clickhouse.sh" start && "$ROOT/deploy/clickhouse.sh" wait ) >"$LOGDIR/clickhouse-setup.log" 2>&1 &
clickhouse_job=$!
"$ROOT/deploy/promtool.sh" install >"$LOGDIR/promtool-path" 2>"$LOGDIR/promtool-setup.log" &
promtool_job=$!
wait "$kafka_job"; kafka_rc=$?
wait "$clickhouse_job"; clickhouse_rc=$?
wait "$promtool_job"; promtool_rc=$?
sed 's/^/   /' "$LOGDIR/kafka-setup.log" "$LOGDIR/clickhouse-setup.log" "$LOGDIR/promtool-setup.log"
if ((kafka_rc != 0 || clickhouse_rc != 0 || promtool_rc != 0)); then
    ((kafka_rc != 0)) && echo "== ERROR: Kafka did not start (exit $kafka_rc); details above and in $LOGDIR/kafka.log" >&2
    ((clickhouse_rc != 0)) && echo "== ERROR: ClickHouse did not start (exit $clickhouse_rc); details above and in $LOGDIR/clickhouse/" >&2
    ((promtool_rc != 0)) && echo "== ERROR: promtool could not be installed (exit $promtool_rc); details above" >&2
    fail "a test dependency is not available; the tests were not run"
fi
note "dependencies ready in $((SECONDS - started)) s"

# --- 2. announce them --------------------------------------------------------
export HOTLINE_TEST_KAFKA_BOOTSTRAP="127.0.0.1:${HOTLINE_KAFKA_PORT:-19092}"
export HOTLINE_TEST_CLICKHOUSE_HOST=127.0.0.1
export HOTLINE_TEST_CLICKHOUSE_PORT="${HOTLINE_CLICKHOUSE_PORT:-19000}"
export HOTLINE_TEST_PROMTOOL="$(tail -n1 "$LOGDIR/promtool-path")"

# --- 3. generated code matches protos/ ----------------------------------------
note "checking the generated protobuf code"
"$PY" scripts/protos.py --check || fail "generated stubs differ from protos/: run 'make protos' and commit the result"

# --- 4. the tests ---------------------------------------------------------------
note "pytest $*"
"$ROOT/.venv/bin/pytest" "$@"
rc=$?
note "pytest exited with $rc"
exit "$rc"
