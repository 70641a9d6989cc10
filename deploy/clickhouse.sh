#!/usr/bin/env bash
# The ClickHouse server the tests use: Debian's clickhouse-server (18.16), run
# with our own config (deploy/clickhouse/) as the clickhouse user, on loopback.
#
#   deploy/clickhouse.sh install   apt-get install clickhouse-server clickhouse-client (only if missing)
#   deploy/clickhouse.sh start     install, render the config, start in the background
#   deploy/clickhouse.sh wait      block until SELECT 1 answers over the native protocol (60 s)
#   deploy/clickhouse.sh stop      SIGTERM, then SIGKILL after 30 s
#   deploy/clickhouse.sh status    exit 0 if running and answering, 3 if stopped, 1 otherwise
#
# Ports (override with the environment): HOTLINE_CLICKHOUSE_PORT (19000, native TCP),
# HOTLINE_CLICKHOUSE_HTTP_PORT (18123). Data: .cache/clickhouse/. Logs: var/log/clickhouse/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="$ROOT/.cache/clickhouse"
ETC="$CACHE/etc"
CONFIG="$ETC/config.xml"
# The pid of the launcher: runuser, whose child is the server (18.16 writes no
# pid file of its own unless it daemonises, and then its early errors are lost).
PIDFILE="$CACHE/clickhouse.pid"
LOGDIR="$ROOT/var/log/clickhouse"
OUTLOG="$LOGDIR/stdout.log"              # what the server prints before its logger is up

HOST=127.0.0.1
PORT="${HOTLINE_CLICKHOUSE_PORT:-19000}"
HTTP_PORT="${HOTLINE_CLICKHOUSE_HTTP_PORT:-18123}"
WAIT_TIMEOUT="${HOTLINE_CLICKHOUSE_WAIT_TIMEOUT:-60}"
STOP_TIMEOUT="${HOTLINE_CLICKHOUSE_STOP_TIMEOUT:-30}"
RUN_AS=clickhouse

say() { echo "clickhouse: $*"; }
die() { echo "clickhouse: ERROR: $*" >&2; exit 1; }

log_tail() {
    local f
    for f in "$OUTLOG" "$LOGDIR/clickhouse-server.err.log" "$LOGDIR/clickhouse-server.log"; do
        if [[ -s "$f" ]]; then
            echo "---- last 25 lines of $f ----" >&2
            tail -n 25 "$f" >&2
        fi
    done
    echo "---- end of the ClickHouse logs (in $LOGDIR) ----" >&2
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"
    fi
}

# Root runs the server as the clickhouse user (the package creates it); anyone
# else runs it as themselves.
as_server_user() {
    if [[ $EUID -eq 0 ]]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi
}

cmd_install() {
    if command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null; then
        return 0
    fi
    say "installing clickhouse-server and clickhouse-client from Debian"
    if ! apt-cache policy clickhouse-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        as_root apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
    fi
    # The package's maintainer scripts may try to start a service; without an
    # init system that does nothing, and we run our own server anyway.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o DPkg::Lock::Timeout=300 clickhouse-server clickhouse-client >/dev/null \
        || die "apt-get install clickhouse-server clickhouse-client failed"
    command -v clickhouse-server >/dev/null || die "clickhouse-server is still missing after apt-get install"
    say "installed $(dpkg-query -W -f='clickhouse-server ${Version}' clickhouse-server 2>/dev/null)"
}

alive_cmd() {  # alive_cmd PID: the process exists and is part of our server
    [[ "$1" =~ ^[0-9]+$ ]] && [[ -r "/proc/$1/cmdline" ]] \
        && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "--config-file=$CONFIG"
}

launcher_pid() {
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    alive_cmd "$pid" && echo "$pid"
}

# The server process: the launcher itself when not root, else runuser's child.
server_pid() {
    local lpid pid
    lpid="$(launcher_pid)" || return 1
    if [[ "$(cat "/proc/$lpid/comm" 2>/dev/null)" == clickhouse* ]]; then
        echo "$lpid"
        return 0
    fi
    for pid in $(cat /proc/"$lpid"/task/*/children 2>/dev/null); do
        if alive_cmd "$pid"; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

is_running() { launcher_pid >/dev/null; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

who_listens() { ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1; }

probe() {
    [[ "$(clickhouse-client --host "$HOST" --port "$PORT" --connect_timeout 2 \
        --query 'SELECT 1' 2>/dev/null)" == 1 ]]
}

server_version() {
    clickhouse-client --host "$HOST" --port "$PORT" --query 'SELECT version()' 2>/dev/null || echo '?'
}

prepare_dirs() {
    mkdir -p "$ETC" "$CACHE"/{data,tmp,user_files,format_schemas} "$LOGDIR"
    sed -e "s#@DATA_DIR@#$CACHE#g" -e "s#@LOG_DIR@#$LOGDIR#g" \
        -e "s#@TCP_PORT@#$PORT#g" -e "s#@HTTP_PORT@#$HTTP_PORT#g" \
        "$HERE/clickhouse/config.xml" >"$CONFIG"
    cp "$HERE/clickhouse/users.xml" "$ETC/users.xml"
    if [[ $EUID -eq 0 ]]; then
        id "$RUN_AS" >/dev/null 2>&1 || die "user '$RUN_AS' is missing (the clickhouse-server package creates it)"
        chown -R "$RUN_AS:$RUN_AS" "$CACHE" "$LOGDIR"
        if ! runuser -u "$RUN_AS" -- test -w "$CACHE/data" -a -r "$CONFIG" -a -w "$LOGDIR"; then
            namei -m "$CACHE" >&2 || true
            die "the '$RUN_AS' user cannot reach $CACHE or $LOGDIR: every parent directory of the repository must be traversable by others (chmod o+x)"
        fi
    fi
}

cmd_start() {
    local pid
    if pid="$(launcher_pid)"; then
        if probe; then
            say "already running (pid $pid) on $HOST:$PORT"
        else
            say "already started (pid $pid), not answering yet: use '$0 wait'"
        fi
        return 0
    fi
    rm -f "$PIDFILE"
    for p in "$PORT" "$HTTP_PORT"; do
        if port_open "$p"; then
            die "port $HOST:$p is already in use by another process ($(who_listens "$p")); stop it, or choose other ports with HOTLINE_CLICKHOUSE_PORT / HOTLINE_CLICKHOUSE_HTTP_PORT"
        fi
    done
    cmd_install
    prepare_dirs
    [[ -f "$OUTLOG" ]] && mv -f "$OUTLOG" "$OUTLOG.1"
    echo "==== deploy/clickhouse.sh start at $(date -Is) ====" >"$OUTLOG"
    local runner=()
    [[ $EUID -eq 0 ]] && runner=(runuser -u "$RUN_AS" --)
    # The launcher writes its pid and becomes runuser (exec), in a session of its
    # own so that a Ctrl-C in the caller's terminal does not reach the server.
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
        "${runner[@]}" clickhouse-server --config-file="$CONFIG" \
        </dev/null >>"$OUTLOG" 2>&1 &

    for _ in $(seq 50); do
        [[ -s "$PIDFILE" ]] && break
        sleep 0.1
    done
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] || die "the server did not start (no pid file)"
    say "started clickhouse-server (launcher pid $pid) on $HOST:$PORT (http $HTTP_PORT), logs in $LOGDIR"
}

cmd_wait() {
    command -v clickhouse-client >/dev/null || die "clickhouse-client is missing: run '$0 install'"
    local deadline=$((SECONDS + WAIT_TIMEOUT))
    while ((SECONDS < deadline)); do
        if probe; then
            say "ready on $HOST:$PORT (ClickHouse $(server_version))"
            return 0
        fi
        if ! is_running; then
            echo "clickhouse: ERROR: the server is not running (it exited, or was never started)" >&2
            log_tail
            exit 1
        fi
        sleep 0.3
    done
    echo "clickhouse: ERROR: the server did not answer SELECT 1 on $HOST:$PORT within ${WAIT_TIMEOUT}s" >&2
    log_tail
    exit 1
}

cmd_stop() {
    local spid lpid
    spid="$(server_pid || true)"
    lpid="$(launcher_pid || true)"
    if [[ -z "$spid" && -z "$lpid" ]]; then
        rm -f "$PIDFILE"
        say "not running"
        return 0
    fi
    # TERM the server; runuser (the launcher) exits with it. Without a server
    # pid (it died early, or has not written it yet) TERM the launcher, which
    # passes the signal on.
    local target="${spid:-$lpid}"
    kill -TERM "$target" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while { kill -0 "$target" 2>/dev/null || { [[ -n "$lpid" ]] && kill -0 "$lpid" 2>/dev/null; }; } \
            && ((SECONDS < deadline)); do
        sleep 0.2
    done
    local p
    for p in $spid $lpid; do
        if kill -0 "$p" 2>/dev/null; then
            say "pid $p still running after ${STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    for p in $spid $lpid; do
        while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
    done
    rm -f "$PIDFILE"
    say "stopped (pid ${spid:-$lpid})"
}

cmd_status() {
    local pid
    if ! pid="$(launcher_pid)"; then
        say "stopped"
        return 3
    fi
    if probe; then
        say "running (pid $pid), answering on $HOST:$PORT, ClickHouse $(server_version)"
        return 0
    fi
    say "running (pid $pid), not answering on $HOST:$PORT"
    return 1
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    wait) cmd_wait ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|start|wait|stop|status" >&2; exit 2 ;;
esac
