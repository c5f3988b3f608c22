# Sourced by up.sh and down.sh: the native run's settings and how a service is started, probed and stopped.
# Every setting can be overridden from the environment; the names are the ones the planets and docker-compose use.

DATA="${PACKETPULSE_DATA:-$repo/.packetpulse}"
LOGS="$DATA/logs"
PIDS="$DATA/pids"

export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export CLICKHOUSE_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-8123}"
# Not ClickHouse's usual 9000: that port belongs to S3/MinIO in PacketPulse.
export CLICKHOUSE_TCP_PORT="${CLICKHOUSE_TCP_PORT:-19000}"
export CLICKHOUSE_URL="${CLICKHOUSE_URL:-http://127.0.0.1:$CLICKHOUSE_HTTP_PORT}"
export S3_PORT="${S3_PORT:-9000}"
export S3_ENDPOINT="${S3_ENDPOINT:-http://127.0.0.1:$S3_PORT}"
export S3_REGION="${S3_REGION:-us-east-1}"
export S3_BUCKET="${S3_BUCKET:-packetpulse}"
# DEV DEFAULTS, the same as MinIO's out-of-the-box credentials: never use them outside a local machine.
export S3_ACCESS_KEY_ID="${S3_ACCESS_KEY_ID:-minioadmin}"
export S3_SECRET_ACCESS_KEY="${S3_SECRET_ACCESS_KEY:-minioadmin}"

READY_TIMEOUT="${READY_TIMEOUT:-60}"

pid_alive() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }
http_answers() { curl -sS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

# start_service NAME PORT WORKDIR COMMAND... — starts COMMAND in WORKDIR in the background unless NAME runs.
start_service() {
    local name=$1 port=$2 workdir=$3
    shift 3
    if pid_alive "$name"; then
        echo "up: $name already running (pid $(cat "$PIDS/$name.pid"))"
        return
    fi
    if tcp_open "$port"; then
        echo "up: port $port, needed by $name, is taken by another process; stop it or set another port" >&2
        return 1
    fi
    (cd "$workdir" && exec setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null) &
    echo $! >"$PIDS/$name.pid"
    echo "up: $name started (pid $!, log $LOGS/$name.log)"
}

# wait_ready NAME PROBE ARG — polls PROBE ARG until it succeeds, the process dies, or READY_TIMEOUT passes.
wait_ready() {
    local name=$1 probe=$2 arg=$3 start=$SECONDS
    until "$probe" "$arg"; do
        if ! pid_alive "$name"; then
            echo "up: $name exited during start-up; last lines of $LOGS/$name.log:" >&2
            tail -n 30 "$LOGS/$name.log" >&2
            return 1
        fi
        if ((SECONDS - start >= READY_TIMEOUT)); then
            echo "up: $name not ready after ${READY_TIMEOUT}s; see $LOGS/$name.log" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "up: $name ready after $((SECONDS - start)) s"
}

# stop_service NAME — SIGTERM, wait up to 15 s, then SIGKILL; removes the PID file.
stop_service() {
    local name=$1 pid
    pid=$(cat "$PIDS/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 75); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "down: $name (pid $pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "down: $name (pid $pid) stopped"
    fi
    rm -f "$PIDS/$name.pid"
}
