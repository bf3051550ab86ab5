#!/usr/bin/env bash
# The project's own Apache Kafka broker: single node, KRaft, loopback only.
#
#   deploy/kafka/kafka.sh fetch    download the broker jars from Maven Central (once; cached)
#   deploy/kafka/kafka.sh start    fetch if needed, format storage if new, start, wait until ready
#   deploy/kafka/kafka.sh stop     stop cleanly (SIGTERM, then wait for the controlled shutdown)
#   deploy/kafka/kafka.sh status   say whether it runs and where
#   deploy/kafka/kafka.sh wipe     stop and delete its data
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (19093: clear of Prometheus 9090,
# Alertmanager 9093/9094, node exporter 9100 and Grafana 3000), KAFKA_HOME (var/kafka-PORT
# under the repository: data, logs, pid), KAFKA_HEAP (512m), KAFKA_CONFIG (server.properties;
# server-sasl.properties gives a SASL/PLAIN client listener, for tests of the SASL settings).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-19093}
home=${KAFKA_HOME:-$repo/var/kafka-$port}
heap=${KAFKA_HEAP:-512m}
config=${KAFKA_CONFIG:-server.properties}
lib=$here/target/lib
pidfile=$home/kafka.pid

say() { printf 'kafka.sh: %s\n' "$*" >&2; }

fetch() {
    if [ -f "$lib/.complete" ]; then return 0; fi
    command -v mvn >/dev/null || { say "mvn not found: install Maven (apt-get install maven)"; exit 1; }
    command -v java >/dev/null || { say "java not found: install a JDK 17+"; exit 1; }
    say "fetching the Kafka broker jars from Maven Central (first run only)..."
    (cd "$here" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$lib")
    touch "$lib/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The broker is ready when its client listener accepts TCP connections.
ready() { listening "$port"; }

check_ports_free() {
    local p what
    for p in "$port" "$controller_port"; do
        what="client port (KAFKA_PORT)"
        [ "$p" = "$controller_port" ] && what="controller port (KAFKA_CONTROLLER_PORT)"
        if listening "$p"; then
            say "cannot start: 127.0.0.1:$p, the broker's $what, is already in use by another program"
            say "free it, or pick another port: KAFKA_PORT=... / KAFKA_CONTROLLER_PORT=..."
            exit 1
        fi
    done
}

start() {
    fetch
    if running; then say "already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return 0; fi
    check_ports_free
    mkdir -p "$home/data" "$home/logs"
    sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA@|$home/data|g" \
        "$here/$config" >"$home/server.properties"
    local java=(java "-Xmx$heap" "-Xms$heap" -XX:+UseG1GC -Djava.awt.headless=true
        "-Dkafka.logs.dir=$home/logs" "-Dlog4j2.configurationFile=$here/log4j2.properties"
        -cp "$lib/*")
    if [ ! -f "$home/data/meta.properties" ]; then
        local cluster
        cluster=$("${java[@]}" kafka.tools.StorageTool random-uuid)
        "${java[@]}" kafka.tools.StorageTool format --standalone -t "$cluster" \
            -c "$home/server.properties" >"$home/logs/format.log"
    fi
    nohup "${java[@]}" kafka.Kafka "$home/server.properties" >"$home/logs/stdout.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 120); do
        if ready; then say "ready on 127.0.0.1:$port (data in $home)"; return 0; fi
        if ! running; then
            say "broker exited during start; last log lines:"
            tail -20 "$home/logs/stdout.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    say "broker did not open 127.0.0.1:$port within 60 s; see $home/logs"
    exit 1
}

stop() {
    if ! running; then rm -f "$pidfile"; return 0; fi
    local pid
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "stopped"; return 0; }
        sleep 0.5
    done
    say "broker did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

case "${1:-}" in
    fetch) fetch ;;
    start) start ;;
    stop) stop ;;
    status) if running; then echo "running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; else echo "stopped"; exit 3; fi ;;
    wipe) stop; rm -rf "$home" ;;
    *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
