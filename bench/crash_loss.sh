#!/usr/bin/env bash
# Measures the usage a `kill -9` loses: loads POST /keys/verify (metered)
# on the release server, kills the server with SIGKILL in the middle of the
# load, restarts it on the same data and compares the requests answered
# 200 with the requests stored. README (Metering, "Crash loss") states the
# bound: one `usage_flush_interval_ms` of answered usage.
#
# Usage: bash bench/crash_loss.sh [seconds of load before the kill, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."

before_kill="${1:-5}"
connections=64
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/landlord-target}"
for tool in oha jq curl; do
    command -v "$tool" >/dev/null || { echo "crash_loss needs $tool"; exit 1; }
done

cargo build --release --quiet
binary="$CARGO_TARGET_DIR/release/landlord"
data_dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$data_dir"
}
trap cleanup EXIT

cat > "$data_dir/bench.toml" <<TOML
[plans.bench]
price = 0
currency = "USD"
rate_limit_per_minute = 60000000
TOML
export LANDLORD_CONFIG="$data_dir/bench.toml" LANDLORD_DATA_DIR="$data_dir" LANDLORD_LOG_LEVEL=warn
interval_ms="${LANDLORD_USAGE_FLUSH_INTERVAL_MS:-1000}"

start_server() {
    LANDLORD_LISTEN="127.0.0.1:$port" "$binary" serve >>"$data_dir/server.log" 2>&1 &
    server_pid=$!
    until curl -fsS "$base/health" >/dev/null 2>&1; do
        kill -0 "$server_pid" 2>/dev/null || { cat "$data_dir/server.log"; exit 1; }
        sleep 0.01
    done
}

start_server
registered="$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"organization_name": "Crash", "email": "crash@example.com", "password": "crash password 1"}')"
access="$(jq -r .data.access_token <<<"$registered")"
organization="$(jq -r .data.organization.id <<<"$registered")"
"$binary" set-plan --organization "$organization" --plan bench >/dev/null
key="$(curl -fsS -X POST "$base/api/v1/keys" -H 'content-type: application/json' \
    -H "authorization: Bearer $access" -d '{"name": "crash"}' | jq -r .data.key)"

echo "== POST /keys/verify at $connections connections; kill -9 after ${before_kill}s"
oha -z "$((before_kill + 5))s" -c "$connections" --no-tui --output-format json \
    -m POST -H 'content-type: application/json' -d "{\"key\": \"$key\"}" \
    "$base/api/v1/keys/verify" >"$data_dir/load.json" 2>/dev/null &
load_pid=$!
sleep "$before_kill"
kill -9 "$server_pid"
server_pid=""
wait "$load_pid" || true

answered="$(jq -r '.statusCodeDistribution["200"] // 0' "$data_dir/load.json")"
rps="$(jq -r '.summary.requestsPerSec' "$data_dir/load.json")"
start_server
stored="$(curl -fsS "$base/api/v1/billing/usage" -H "authorization: Bearer $access" | jq -r .data.used)"
lost=$((answered - stored))
lost_ms="$(python3 -c "print(round($lost / ($answered / $before_kill) * 1000))")"
echo "answered=$answered stored=$stored lost=$lost (~${lost_ms} ms of traffic; bound ${interval_ms} ms; load rps over the whole run $rps)"
