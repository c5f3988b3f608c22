#!/usr/bin/env bash
# `make down`: stops every service `make up` started, by the PIDs it recorded (SIGTERM, then SIGKILL after 15 s).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
# shellcheck source=services.sh
source infrastructure/local/services.sh

stopped=0
for pidfile in "$PIDS"/*.pid; do
    [ -e "$pidfile" ] || continue
    stop_service "$(basename "$pidfile" .pid)"
    stopped=$((stopped + 1))
done
echo "down: $stopped service(s) stopped; data kept in $DATA"
