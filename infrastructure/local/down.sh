#!/usr/bin/env bash
# `make down`: stops every service `make up` started, by the PIDs it recorded (SIGTERM, then SIGKILL after 15 s).
set -euo pipefail

# shellcheck source=services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh" # sets $repo
cd "$repo"

# The planets first, in the reverse of their start order (PLANETS: the simulator before the gateway, producers
# before consumers' stores), then the infrastructure, then anything else a PID file names.
order=()
for ((i = ${#PLANETS[@]} - 1; i >= 0; i--)); do
    order+=("${PLANETS[i]}")
done
order+=("${INFRASTRUCTURE[@]}")
stopped=0
for name in "${order[@]}"; do
    [ -e "$PIDS/$name.pid" ] || continue
    stop_service "$name"
    stopped=$((stopped + 1))
done
for pidfile in "$PIDS"/*.pid; do
    [ -e "$pidfile" ] || continue
    stop_service "$(basename "$pidfile" .pid)"
    stopped=$((stopped + 1))
done
echo "down: $stopped service(s) stopped; data kept in $DATA"
