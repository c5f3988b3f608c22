# shellcheck shell=bash
# Sourced by every script: one place for the cache paths and PATH. Safe to source repeatedly.
export PACKETPULSE_CACHE="${PACKETPULSE_CACHE:-$HOME/.cache/packetpulse}"
export PACKETPULSE_TOOLS="${PACKETPULSE_TOOLS:-$PACKETPULSE_CACHE/tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PACKETPULSE_CACHE/target}"
case ":$PATH:" in
*":$PACKETPULSE_TOOLS/bin:"*) ;;
*) export PATH="$PACKETPULSE_TOOLS/bin:$PATH" ;;
esac
