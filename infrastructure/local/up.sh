#!/usr/bin/env bash
# `make up`: runs PacketPulse natively, without Docker. Installs what is missing, builds the planets in release
# mode, starts the local infrastructure and the six planets in the background with all data under
# $PACKETPULSE_DATA (default ./.packetpulse), waits until each answers, and prints the addresses. Running it
# again reuses the data and skips what already runs. `make down` stops everything by PID.
#
#   PACKETPULSE_SKIP_INSTALL=1  skip install.sh        PACKETPULSE_SKIP_BUILD=1  use the binaries already built
#   PACKETPULSE_PROFILE=debug   run debug binaries      PACKETPULSE_MARS=0        do not start the simulator
#   ports: KAFKA_PORT, CLICKHOUSE_HTTP_PORT, CLICKHOUSE_TCP_PORT, S3_PORT, VENUS_PORT, MERCURY_PORT, *_METRICS_PORT
set -euo pipefail

# shellcheck source=services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh" # sets $repo and sources env.sh
cd "$repo"
mars="${PACKETPULSE_MARS:-1}"

if [ "${PACKETPULSE_SKIP_INSTALL:-0}" != 1 ]; then
    bash infrastructure/local/install.sh
fi
if [ "${PACKETPULSE_SKIP_BUILD:-0}" != 1 ]; then
    echo "up: building the planets (release: 9 min here with the dependencies partly built, longer from scratch)"
    cargo build --release --locked -p mars -p venus -p neptune -p jupiter -p uranus -p mercury
    bash mercury/build.sh
fi
mkdir -p "$DATA/kafka" "$DATA/clickhouse" "$DATA/s3/$S3_BUCKET" "$DATA/neptune" "$DATA/mercury" "$LOGS" "$PIDS"
# The first start generates the secrets (and so the first admin's password, printed below this once).
first_start=0
if [ ! -f "$SECRETS" ]; then
    bash infrastructure/local/secrets.sh native "$SECRETS"
    first_start=1
fi
load_secrets

# If anything fails, or Ctrl-C or SIGTERM arrives, before everything is up: stop what this run started (STARTED,
# filled by start_service), last first, and nothing else. What was already running when it began (a second
# `make up` skips it) keeps running. An EXIT trap, not ERR: set -e also exits from inside functions, where an ERR
# trap does not fire. A second Ctrl-C is ignored meanwhile, so the clean-up finishes (at most 15 s a service).
outcome=failed
stop_what_this_run_started() {
    local status=$? i
    set +e
    trap '' INT TERM
    if [ ${#STARTED[@]} -eq 0 ]; then
        echo "up: $outcome; this run started nothing, so nothing is stopped" >&2
    else
        echo "up: $outcome; stopping what this run started (${STARTED[*]}), not what already ran" >&2
        for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
            stop_service "${STARTED[i]}"
        done
    fi
    exit "$status"
}
trap stop_what_this_run_started EXIT
trap 'outcome=interrupted; exit 130' INT
trap 'outcome=terminated; exit 143' TERM

start_service kafka "$KAFKA_PORT" "$DATA/kafka" \
    tansu broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine sqlite://tansu.db
start_service clickhouse "$CLICKHOUSE_HTTP_PORT" "$DATA/clickhouse" \
    "$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)" \
    --config-file="$repo/infrastructure/clickhouse/local/config.xml" -- \
    --path="$DATA/clickhouse/" --tmp_path="$DATA/clickhouse/tmp/" \
    --user_files_path="$DATA/clickhouse/user_files/" --format_schema_path="$DATA/clickhouse/format_schemas/" \
    --http_port="$CLICKHOUSE_HTTP_PORT" --tcp_port="$CLICKHOUSE_TCP_PORT"
start_service s3 "$S3_PORT" "$DATA/s3" \
    s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key="$S3_ACCESS_KEY_ID" \
    --secret-key="$S3_SECRET_ACCESS_KEY" -- "$DATA/s3"

wait_ready kafka tcp_open "$KAFKA_PORT"
wait_ready clickhouse http_ok "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping"
wait_ready s3 http_answers "http://127.0.0.1:$S3_PORT/"

# Each planet is up before the next starts: Venus creates the topics, Jupiter the silver tables Uranus reads.
for planet in "${PLANETS[@]}"; do
    [ "$planet" = mars ] && [ "$mars" = 0 ] && continue
    start_planet "$planet"
    wait_ready "$planet" http_ok "$(planet_health "$planet")"
done
trap - EXIT INT TERM

if [ "$first_start" = 1 ]; then
    admin_login="sign in as admin / $MERCURY_ADMIN_PASSWORD (generated now, shown this once; kept in $SECRETS)"
else
    admin_login="sign in as admin (its first password is MERCURY_ADMIN_PASSWORD in $SECRETS, unless changed since)"
fi
cat <<SUMMARY

PacketPulse is up (data in $DATA, logs in $LOGS):
  Dashboard (Mercury)  http://127.0.0.1:$MERCURY_PORT   $admin_login
  Gateway (Venus)      ws://127.0.0.1:$VENUS_PORT/ws   API keys: VENUS_API_KEYS in $SECRETS
  Simulator (Mars)     $([ "$mars" = 0 ] && echo "not started" || echo "$(grep -E '^MARS_VEHICLES=' infrastructure/planets.env | cut -d= -f2) vehicles, continuous")
  Metrics              Venus :$VENUS_PORT, Mars :$MARS_METRICS_PORT, Neptune :$NEPTUNE_METRICS_PORT, Jupiter :$JUPITER_METRICS_PORT, Uranus :$URANUS_METRICS_PORT, Mercury :$MERCURY_PORT (/metrics)
  Kafka (tansu)        $KAFKA_BOOTSTRAP_SERVERS
  ClickHouse           $CLICKHOUSE_URL   (native protocol on port $CLICKHOUSE_TCP_PORT)
  S3 (s3s-fs)          $S3_ENDPOINT   bucket '$S3_BUCKET', keys in $SECRETS

Stop everything with: make down   Follow the logs with: make logs
SUMMARY
