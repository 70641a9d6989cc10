#!/usr/bin/env bash
# The Apache Kafka broker the tests use: KRaft, one node that is both broker and
# controller, on loopback, from jars that Maven fetches from Maven Central
# (deploy/kafka/pom.xml), running on the machine's Java 17.
#
#   deploy/kafka.sh install   fetch the jars into .cache/kafka/libs (once; cached)
#   deploy/kafka.sh start     install, format .cache/kafka/data if needed, start in the background
#   deploy/kafka.sh wait      block until the broker answers a Metadata request (120 s)
#   deploy/kafka.sh stop      SIGTERM, then SIGKILL after 30 s
#   deploy/kafka.sh status    exit 0 if running and answering, 3 if stopped, 1 otherwise
#
# Ports (override with the environment): HOTLINE_KAFKA_PORT (19092, PLAINTEXT),
# HOTLINE_KAFKA_CONTROLLER_PORT (19093). Logs: var/log/kafka.log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="$ROOT/.cache/kafka"
LIBS="$CACHE/libs"
DATA="$CACHE/data"
PIDFILE="$CACHE/kafka.pid"
PROPS="$CACHE/server.properties"
LOG4J="$CACHE/log4j2.properties"
LOGDIR="$ROOT/var/log"
LOG="$LOGDIR/kafka.log"
POM="$HERE/kafka/pom.xml"

HOST=127.0.0.1
PORT="${HOTLINE_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${HOTLINE_KAFKA_CONTROLLER_PORT:-19093}"
WAIT_TIMEOUT="${HOTLINE_KAFKA_WAIT_TIMEOUT:-120}"
STOP_TIMEOUT="${HOTLINE_KAFKA_STOP_TIMEOUT:-30}"
HEAP="${HOTLINE_KAFKA_HEAP:--Xms256m -Xmx512m}"

say() { echo "kafka: $*"; }
die() { echo "kafka: ERROR: $*" >&2; exit 1; }

log_tail() {
    if [[ -s "$LOG" ]]; then
        echo "---- last 40 lines of $LOG ----" >&2
        tail -n 40 "$LOG" >&2
        echo "---- end of $LOG ----" >&2
    else
        echo "(no log at $LOG)" >&2
    fi
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"
    fi
}

# Java 17+ and Maven: on this machine kind they are there; install them from
# Debian if a machine lacks them.
ensure_tools() {
    local missing=()
    command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || missing+=(maven)
    if ((${#missing[@]})); then
        say "installing ${missing[*]} from Debian"
        if ! apt-cache policy "${missing[@]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            as_root apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
        fi
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
    fi
    local major
    major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    [[ "${major:-0}" -ge 17 ]] 2>/dev/null || die "Kafka needs Java 17 or newer; java on PATH is version ${major:-unknown}"
}

pom_stamp() { sha256sum "$POM" | cut -c1-16; }

installed() { [[ -f "$LIBS/.installed-$(pom_stamp)" ]]; }

kafka_version() {
    local jar
    jar="$(ls "$LIBS"/kafka_2.13-*.jar 2>/dev/null | head -n1)"
    jar="${jar##*/kafka_2.13-}"
    echo "${jar%.jar}"
}

cmd_install() {
    if installed; then
        return 0
    fi
    ensure_tools
    say "fetching the broker's jars from Maven Central into $LIBS"
    mkdir -p "$CACHE"
    local tmp="$CACHE/libs.tmp.$$"
    rm -rf "$tmp"
    local mvnlog="$CACHE/maven.log"
    if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
        rm -rf "$tmp"
        tail -n 30 "$mvnlog" >&2
        die "Maven could not fetch the Kafka jars (full output in $mvnlog)"
    fi
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "Maven ran but no kafka_2.13 jar is in $tmp"
    touch "$tmp/.installed-$(pom_stamp)"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    say "installed Kafka $(kafka_version) ($(ls "$LIBS"/*.jar | wc -l) jars)"
}

# The pid in the pid file, if that process is alive and is our broker.
running_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

who_listens() { ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1; }

python_bin() {
    if [[ -x "$ROOT/.venv/bin/python" ]]; then echo "$ROOT/.venv/bin/python"
    elif command -v python3 >/dev/null; then command -v python3
    else die "python3 is needed to probe the broker"
    fi
}

# One Kafka Metadata request (v4, all topics) over a plain socket; succeeds when
# the broker answers with at least one broker in the cluster.
probe() {
    "$(python_bin)" - "$HOST" "$PORT" <<'PY' 2>/dev/null
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
client = b"hotline-deploy"
# request header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id
body = struct.pack(">hhih", 3, 4, 42, len(client)) + client
body += struct.pack(">i?", -1, False)  # topics = null (all), allow_auto_topic_creation
with socket.create_connection((host, port), timeout=3) as s:
    s.settimeout(5)
    s.sendall(struct.pack(">i", len(body)) + body)
    buf = b""
    while len(buf) < 4:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(1)
        buf += chunk
    size = struct.unpack(">i", buf[:4])[0]
    while len(buf) < 4 + size:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(1)
        buf += chunk
corr, _throttle, brokers = struct.unpack(">iii", buf[4:16])
sys.exit(0 if corr == 42 and brokers >= 1 else 1)
PY
}

write_config() {
    mkdir -p "$CACHE" "$DATA" "$LOGDIR"
    cat >"$PROPS" <<EOF
# Generated by deploy/kafka.sh; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA
# settings for tests on one node
auto.create.topics.enable=true
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=16777216
EOF
    cat >"$LOG4J" <<'EOF'
# Generated by deploy/kafka.sh: everything to stdout, which the script sends to var/log/kafka.log.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.zk.name = org.apache.zookeeper
logger.zk.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
EOF
}

# The JVM command line, in the array JAVA.
java_cmd() {
    # shellcheck disable=SC2206
    local heap=($HEAP)
    JAVA=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*")
}

format_storage() {
    if [[ -f "$DATA/meta.properties" ]]; then
        return 0
    fi
    # a fresh cluster id: 16 random bytes, base64url without padding (Kafka's Uuid format)
    local cluster_id
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    say "formatting $DATA (cluster id $cluster_id)"
    local out
    java_cmd
    if ! out="$("${JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" 2>&1)"; then
        echo "$out" >&2
        die "formatting the Kafka storage in $DATA failed"
    fi
    echo "$out" >>"$LOG"
}

cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        if probe; then
            say "already running (pid $pid) on $HOST:$PORT"
        else
            say "already started (pid $pid), not answering yet: use '$0 wait'"
        fi
        return 0
    fi
    rm -f "$PIDFILE"
    for p in "$PORT" "$CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "port $HOST:$p is already in use by another process ($(who_listens "$p")); stop it, or choose other ports with HOTLINE_KAFKA_PORT / HOTLINE_KAFKA_CONTROLLER_PORT"
        fi
    done
    cmd_install
    write_config
    mkdir -p "$LOGDIR"
    [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.1"
    echo "==== deploy/kafka.sh start at $(date -Is), Kafka $(kafka_version) ====" >"$LOG"
    format_storage
    # The child writes its own pid, then becomes the JVM (exec), in a session of
    # its own so that a Ctrl-C in the caller's terminal does not reach it.
    java_cmd
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "${JAVA[@]}" kafka.Kafka "$PROPS" \
        </dev/null >>"$LOG" 2>&1 &

    for _ in $(seq 50); do
        [[ -s "$PIDFILE" ]] && break
        sleep 0.1
    done
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] || die "the broker did not start (no pid file)"
    say "started Kafka $(kafka_version) (pid $pid) on $HOST:$PORT, log $LOG"
}

cmd_wait() {
    local deadline=$((SECONDS + WAIT_TIMEOUT))
    while ((SECONDS < deadline)); do
        if probe; then
            say "ready on $HOST:$PORT"
            return 0
        fi
        if ! running_pid >/dev/null; then
            echo "kafka: ERROR: the broker is not running (it exited, or was never started)" >&2
            log_tail
            exit 1
        fi
        sleep 0.5
    done
    echo "kafka: ERROR: the broker did not answer a Metadata request on $HOST:$PORT within ${WAIT_TIMEOUT}s" >&2
    log_tail
    exit 1
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PIDFILE"
        say "not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "still running after ${STOP_TIMEOUT}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$PIDFILE"
    say "stopped (pid $pid)"
}

cmd_status() {
    local pid
    if ! pid="$(running_pid)"; then
        say "stopped"
        return 3
    fi
    if probe; then
        say "running (pid $pid), answering on $HOST:$PORT, Kafka $(kafka_version)"
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
