# shellcheck shell=bash
# Sourced by up.sh, down.sh and packetpulse-stack's tests: the native run's settings and how a service is started,
# probed and stopped. Every setting can be overridden from the environment; the names are the ones the planets and
# docker-compose use. Sourcing it from any directory works: it finds the repository from its own location.

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=env.sh
source "$repo/infrastructure/local/env.sh"

# ---- settings -----------------------------------------------------------------------------------------------
# Every default of the native run is spelled here and nowhere else: up.sh, down.sh and planet_env read these
# variables. Secrets have no default anywhere (see below and docker-compose.yml).
DATA="${PACKETPULSE_DATA:-$repo/.packetpulse}"
LOGS="$DATA/logs"
PIDS="$DATA/pids"
READY_TIMEOUT="${READY_TIMEOUT:-60}"

# Infrastructure.
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

# Planets' ports.
export VENUS_PORT="${VENUS_PORT:-8000}"
export MERCURY_PORT="${MERCURY_PORT:-3000}"
export MARS_METRICS_PORT="${MARS_METRICS_PORT:-9100}"
export NEPTUNE_METRICS_PORT="${NEPTUNE_METRICS_PORT:-9101}"
export JUPITER_METRICS_PORT="${JUPITER_METRICS_PORT:-9102}"
export URANUS_METRICS_PORT="${URANUS_METRICS_PORT:-9103}"

# Secrets: none has a default. The first `make up` generates them into $SECRETS (secrets.sh, mode 0600) and
# every later run reads them from there; a variable already set in the environment wins. Without the file (a
# script other than up.sh, before the first start) they stay unset, and a planet started so refuses to run.
SECRETS="$DATA/secrets.env"
load_secrets() {
    [ -f "$SECRETS" ] || return 0
    local line key
    while IFS= read -r line; do
        # Split at the first `=` only: base64 values end in `=`, which `IFS==` would drop.
        key=${line%%=*}
        [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
        [ -n "${!key:-}" ] || export "$key=${line#*=}"
    done <"$SECRETS"
}
load_secrets

# Other planet settings that differ per run (the rest are in infrastructure/planets.env). ClickHouse's `default`
# user without a password is the one infrastructure/clickhouse/local/users.xml defines: the native ClickHouse
# listens on loopback only, like every service of the native run (compose's ClickHouse has a password).
CLICKHOUSE_USER="${CLICKHOUSE_USER:-default}"
CLICKHOUSE_PASSWORD="${CLICKHOUSE_PASSWORD:-}"
ICEBERG_CATALOG_NAME="${ICEBERG_CATALOG_NAME:-packetpulse}"
# Map tiles: OpenStreetMap's standard tiles and credit (Mercury's defaults) unless set; MERCURY_TILE_URL= (empty)
# draws the maps without tiles, for sites without internet access. (The template's braces rule out ${VAR-...}.)
if [ -z "${MERCURY_TILE_URL+set}" ]; then
    MERCURY_TILE_URL='https://tile.openstreetmap.org/{z}/{x}/{y}.png'
    MERCURY_TILE_ATTRIBUTION="${MERCURY_TILE_ATTRIBUTION-&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors}"
fi
MERCURY_TILE_ATTRIBUTION="${MERCURY_TILE_ATTRIBUTION-}"
LOG_JSON="${LOG_JSON:-false}"

# Started in this order, stopped in the reverse one.
# shellcheck disable=SC2034 # read by up.sh and down.sh
PLANETS=(venus neptune jupiter uranus mercury mars)
# shellcheck disable=SC2034 # read by up.sh and down.sh
INFRASTRUCTURE=(kafka clickhouse s3)

# ---- services -----------------------------------------------------------------------------------------------
# process_alive PID — the process runs. A killed service whose parent never reaps it (up.sh's subshell is gone, and
# PID 1 of some containers does not reap) stays a zombie, which `kill -0` still finds: read its state instead.
process_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat:0:1}" != Z ]
}
pid_alive() { [ -f "$PIDS/$1.pid" ] && process_alive "$(cat "$PIDS/$1.pid")"; }

tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
http_answers() { curl -sS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

# The services start_service started in this shell, in start order (up.sh stops just these when it fails).
STARTED=()

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
    STARTED+=("$name")
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
    if process_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 75); do
            process_alive "$pid" || break
            sleep 0.2
        done
        if process_alive "$pid"; then
            echo "down: $name (pid $pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "down: $name (pid $pid) stopped"
    fi
    rm -f "$PIDS/$name.pid"
}

# ---- planets ------------------------------------------------------------------------------------------------
# planet_env NAME — planet NAME's settings in the native run, as KEY=value lines. With infrastructure/planets.env
# (the settings that do not depend on where things run) these are all the variables the planet reads
# (tests/stack_config.rs checks it); docker-compose.yml sets the same names for the containers.
planet_env() {
    local lake=(
        "ICEBERG_CATALOG_URI=sqlite://$DATA/neptune/catalog.db"
        "ICEBERG_CATALOG_NAME=$ICEBERG_CATALOG_NAME"
        "ICEBERG_WAREHOUSE=s3://$S3_BUCKET/warehouse"
        "S3_ENDPOINT=$S3_ENDPOINT" "S3_REGION=$S3_REGION"
        "S3_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID" "S3_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY"
    )
    local clickhouse=(
        "CLICKHOUSE_URL=$CLICKHOUSE_URL" "CLICKHOUSE_USER=$CLICKHOUSE_USER" "CLICKHOUSE_PASSWORD=$CLICKHOUSE_PASSWORD"
    )
    echo "LOG_JSON=$LOG_JSON"
    # Venus: tansu 0.6's idempotent producer breaks across broker restarts (venus/README.md), hence false; tansu
    # stores records one by one, so a compressed batch only costs it the decompression (hence none).
    case $1 in
    venus) printf '%s\n' "VENUS_LISTEN=127.0.0.1:$VENUS_PORT" "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" \
        "VENUS_API_KEYS=$VENUS_API_KEYS" "VENUS_DEVICE_TOKEN_KEY=${VENUS_DEVICE_TOKEN_KEY:-}" \
        "VENUS_KAFKA_IDEMPOTENCE=false" "VENUS_KAFKA_COMPRESSION=none" ;;
    neptune) printf '%s\n' "NEPTUNE_METRICS_LISTEN=127.0.0.1:$NEPTUNE_METRICS_PORT" \
        "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" "${lake[@]}" ;;
    jupiter) printf '%s\n' "JUPITER_METRICS_LISTEN=127.0.0.1:$JUPITER_METRICS_PORT" \
        "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" "${clickhouse[@]}" "${lake[@]}" ;;
    uranus) printf '%s\n' "URANUS_METRICS_LISTEN=127.0.0.1:$URANUS_METRICS_PORT" \
        "URANUS_PROJECT_DIR=$repo/uranus/dbt" "${clickhouse[@]}" ;;
    mercury) printf '%s\n' "MERCURY_LISTEN=127.0.0.1:$MERCURY_PORT" "MERCURY_SITE_ROOT=$CARGO_TARGET_DIR/site" \
        "MERCURY_PUBLIC_URL=${MERCURY_PUBLIC_URL:-http://127.0.0.1:$MERCURY_PORT}" \
        "MERCURY_DATABASE=$DATA/mercury/users.db" \
        "MERCURY_JWT_SECRET=$MERCURY_JWT_SECRET" \
        "MERCURY_ADMIN_PASSWORD=$MERCURY_ADMIN_PASSWORD" "MERCURY_TILE_URL=$MERCURY_TILE_URL" \
        "MERCURY_TILE_ATTRIBUTION=$MERCURY_TILE_ATTRIBUTION" \
        "MERCURY_DEVICE_SIGNING_KEY=${MERCURY_DEVICE_SIGNING_KEY:-}" \
        "MERCURY_SMTP_URL=${MERCURY_SMTP_URL:-}" \
        "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS" "${clickhouse[@]}" ;;
    mars) printf '%s\n' "MARS_METRICS_LISTEN=127.0.0.1:$MARS_METRICS_PORT" \
        "MARS_VENUS_URL=ws://127.0.0.1:$VENUS_PORT/ws" "MARS_API_KEY=$MARS_API_KEY" \
        "MARS_ROUTES=$repo/mars/routes" ;;
    *) echo "planet_env: unknown planet $1" >&2; return 1 ;;
    esac
}

# planet_command NAME — the command line of planet NAME (binaries from $CARGO_TARGET_DIR/$PACKETPULSE_PROFILE).
planet_command() {
    local bin="$CARGO_TARGET_DIR/${PACKETPULSE_PROFILE:-release}/$1"
    case $1 in
    uranus) echo "$bin serve" ;;
    *) echo "$bin" ;;
    esac
}

# planet_health NAME — the URL that answers 200 once planet NAME is up.
planet_health() {
    case $1 in
    venus) echo "http://127.0.0.1:$VENUS_PORT/health" ;;
    neptune) echo "http://127.0.0.1:$NEPTUNE_METRICS_PORT/health" ;;
    jupiter) echo "http://127.0.0.1:$JUPITER_METRICS_PORT/health" ;;
    uranus) echo "http://127.0.0.1:$URANUS_METRICS_PORT/health" ;;
    mercury) echo "http://127.0.0.1:$MERCURY_PORT/health" ;;
    mars) echo "http://127.0.0.1:$MARS_METRICS_PORT/health" ;;
    esac
}

# planets_env — infrastructure/planets.env as KEY=value lines, where a variable set in the environment wins: export
# one (e.g. NEPTUNE_COMMIT_INTERVAL=10s) to change it for one run without editing the file.
planets_env() {
    local line key
    while IFS= read -r line; do
        key=${line%%=*}
        if [ -n "${!key+set}" ]; then printf '%s=%s\n' "$key" "${!key}"; else printf '%s\n' "$line"; fi
    done < <(grep -E '^[A-Z_0-9]+=' "$repo/infrastructure/planets.env")
}

# start_planet NAME — starts planet NAME with planets.env and its planet_env, in the data dir.
start_planet() {
    local name=$1 port settings
    port=$(planet_health "$name" | sed 's|http://127.0.0.1:\([0-9]*\)/.*|\1|')
    mapfile -t settings < <(planets_env; planet_env "$name")
    # shellcheck disable=SC2046 # the command line is words on purpose
    start_service "$name" "$port" "$DATA" env "${settings[@]}" $(planet_command "$name")
}
