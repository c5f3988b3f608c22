#!/usr/bin/env bash
# `make up`: runs PacketPulse natively, without Docker. Installs what is missing, starts the local
# infrastructure in the background with all data under $PACKETPULSE_DATA (default ./.packetpulse), waits until
# each service answers, and prints the addresses. Running it again reuses the data and skips what already runs.
# `make down` stops everything by PID.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
# shellcheck source=env.sh
source infrastructure/local/env.sh
# shellcheck source=services.sh
source infrastructure/local/services.sh

if [ "${PACKETPULSE_SKIP_INSTALL:-0}" != 1 ]; then
    bash infrastructure/local/install.sh
fi
mkdir -p "$DATA/kafka" "$DATA/clickhouse" "$DATA/s3/$S3_BUCKET" "$LOGS" "$PIDS"

# If anything fails before everything is up, leave nothing half-started behind.
trap 'echo "up: failed; stopping what was started" >&2; bash infrastructure/local/down.sh' ERR INT TERM

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
    s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key "$S3_ACCESS_KEY_ID" \
    --secret-key "$S3_SECRET_ACCESS_KEY" "$DATA/s3"

wait_ready kafka tcp_open "$KAFKA_PORT"
wait_ready clickhouse http_ok "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping"
wait_ready s3 http_answers "http://127.0.0.1:$S3_PORT/"
trap - ERR INT TERM

cat <<SUMMARY

PacketPulse local infrastructure is up (data in $DATA, logs in $LOGS):
  Kafka (tansu)     $KAFKA_BOOTSTRAP_SERVERS
  ClickHouse        $CLICKHOUSE_URL   (native protocol on port $CLICKHOUSE_TCP_PORT)
  S3 (s3s-fs)       $S3_ENDPOINT   bucket '$S3_BUCKET', key '$S3_ACCESS_KEY_ID' (dev default)

The planets (Mars, Venus, Neptune, Jupiter, Uranus, Mercury) are not built yet: each arrives with its own issue,
and this command will start them too. Stop everything with: make down   Follow the logs with: make logs
SUMMARY
