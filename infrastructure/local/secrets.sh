#!/usr/bin/env bash
# Secrets are generated, never built in: no planet has a default for one, and every planet refuses an empty or
# publicly known value. This script makes them, from the operating system's random source, once.
#
#   bash infrastructure/local/secrets.sh native FILE    the native run's secrets (make up does this on its first
#                                                       start): FILE, mode 0600, left alone when it exists
#   bash infrastructure/local/secrets.sh compose FILE   a .env for docker compose (make secrets): .env.example with
#                                                       every secret filled in; refuses to overwrite FILE
#
# To rotate a secret, edit it in the file (or delete the file: every secret is made anew; Mercury's user database
# and the lake keep their data, but its first admin is only created while it has no user) and restart: see the
# Security section of README.md.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# random N — N random bytes as URL-safe base64 (no ':' or ',', so a key fits VENUS_API_KEYS' name:key list).
random() {
    python3 -c 'import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])))' "$1"
}

# device_key_pair — Mercury's Ed25519 device-signing key as "PRIVATE PUBLIC": the private key base64 PKCS#8 DER
# (MERCURY_DEVICE_SIGNING_KEY), the public key base64 raw 32 bytes (VENUS_DEVICE_TOKEN_KEY: Venus needs no more).
device_key_pair() {
    local der
    der=$(mktemp)
    openssl genpkey -algorithm ed25519 -outform DER -out "$der" 2>/dev/null
    printf '%s %s\n' "$(base64 -w0 <"$der")" \
        "$(openssl pkey -inform DER -in "$der" -pubout -outform DER | tail -c 32 | base64 -w0)"
    rm -f "$der"
}

# write_private FILE — stdin into FILE, readable by its owner only, replacing it in one step.
write_private() {
    local file=$1
    mkdir -p "$(dirname "$file")"
    (
        umask 077
        cat >"$file.tmp"
    )
    mv "$file.tmp" "$file"
}

native() {
    local file=$1 mars_key device_private device_public
    if [ -f "$file" ]; then
        echo "secrets: $file exists; keeping it"
        return
    fi
    mars_key=$(random 24)
    read -r device_private device_public < <(device_key_pair)
    write_private "$file" <<SECRETS
# The native run's secrets, made by infrastructure/local/secrets.sh on $(date -u +%Y-%m-%dT%H:%MZ). Keep this file
# private (mode 0600). A variable set in the environment of \`make up\` wins over its line here.
S3_ACCESS_KEY_ID=packetpulse-$(random 6)
S3_SECRET_ACCESS_KEY=$(random 30)
VENUS_API_KEYS=mars:$mars_key
MARS_API_KEY=$mars_key
MERCURY_JWT_SECRET=$(random 48)
MERCURY_ADMIN_PASSWORD=$(random 15)
MERCURY_DEVICE_SIGNING_KEY=$device_private
VENUS_DEVICE_TOKEN_KEY=$device_public
SECRETS
    echo "secrets: generated $file"
}

compose() {
    local file=$1 mars_key line device_private device_public
    if [ -e "$file" ]; then
        echo "secrets: $file exists; not overwriting it (edit it, or move it away and run make secrets again)" >&2
        exit 1
    fi
    mars_key=$(random 24)
    read -r device_private device_public < <(device_key_pair)
    while IFS= read -r line; do
        case $line in
        S3_ACCESS_KEY_ID=*) echo "S3_ACCESS_KEY_ID=packetpulse-$(random 6)" ;;
        S3_SECRET_ACCESS_KEY=* | POSTGRES_PASSWORD=* | CLICKHOUSE_PASSWORD=*) echo "${line%%=*}=$(random 30)" ;;
        VENUS_API_KEYS=*) echo "VENUS_API_KEYS=mars:$mars_key" ;;
        MARS_API_KEY=*) echo "MARS_API_KEY=$mars_key" ;;
        MERCURY_JWT_SECRET=* | SQLPAD_COOKIE_SECRET=* | SQLPAD_PASSPHRASE=*) echo "${line%%=*}=$(random 48)" ;;
        MERCURY_ADMIN_PASSWORD=* | SQLPAD_ADMIN_PASSWORD=*) echo "${line%%=*}=$(random 15)" ;;
        MERCURY_DEVICE_SIGNING_KEY=*) echo "MERCURY_DEVICE_SIGNING_KEY=$device_private" ;;
        VENUS_DEVICE_TOKEN_KEY=*) echo "VENUS_DEVICE_TOKEN_KEY=$device_public" ;;
        *) echo "$line" ;;
        esac
    done <"$repo/.env.example" | write_private "$file"
    echo "secrets: wrote $file for docker compose; Mercury's first admin password is its MERCURY_ADMIN_PASSWORD"
}

case ${1:-} in
native | compose)
    [ $# -eq 2 ] || {
        echo "usage: $0 native|compose FILE" >&2
        exit 2
    }
    "$1" "$2"
    ;;
*)
    echo "usage: $0 native|compose FILE" >&2
    exit 2
    ;;
esac
