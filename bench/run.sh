#!/usr/bin/env bash
# Benchmarks the release server and writes BENCHMARKS.md.
#
# Builds `landlord --release`, starts it on a throwaway SQLite data
# directory, and measures with `oha` (installed with `cargo install oha`
# when missing):
#   - time from process start to the first successful GET /health
#   - idle resident memory
#   - GET /health throughput and latency at 64 connections (the bare route)
#   - POST /keys/verify (API-key authentication from the cache, rate limit,
#     quota and metering) at 64 connections, on an organization whose plan
#     has room; then, after SIGTERM, that the stored usage count equals the
#     number of metered requests answered
#
# Usage: bash bench/run.sh [seconds of the /health run, default 10]
#                          [requests of the /keys/verify run, default 150000]
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-10}"
verify_requests="${2:-150000}"
connections=64
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/landlord-target}"

if ! command -v oha >/dev/null; then
    echo "== installing oha"
    cargo install oha --locked
fi
for tool in jq curl; do
    command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install $tool)"; exit 1; }
done

echo "== building the release server"
cargo build --release --quiet
binary="$CARGO_TARGET_DIR/release/landlord"

data_dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
cleanup() {
    status=$?
    if [ "$status" -ne 0 ] && [ -f "$data_dir/server.log" ]; then
        echo "== the server's log:"; tail -20 "$data_dir/server.log"
    fi
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$data_dir"
}
trap cleanup EXIT

# A plan with room: the catalog comes from configuration.
cat > "$data_dir/bench.toml" <<TOML
[plans.bench]
price = 0
currency = "USD"
rate_limit_per_minute = 60000000
TOML
export LANDLORD_CONFIG="$data_dir/bench.toml" LANDLORD_DATA_DIR="$data_dir" LANDLORD_LOG_LEVEL=warn

echo "== starting the server on $base"
start_ns="$(date +%s%N)"
LANDLORD_LISTEN="127.0.0.1:$port" "$binary" serve >"$data_dir/server.log" 2>&1 &
server_pid=$!
until curl -fsS "$base/health" >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$data_dir/server.log"; exit 1; }
    sleep 0.005
done
ready_ns="$(date +%s%N)"
startup_ms=$(( (ready_ns - start_ns) / 1000000 ))

sleep 2
idle_rss_kib="$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")"

# Runs oha against a URL and prints "rps p50_ms p99_ms".
load() {
    oha -z "${duration}s" -c "$connections" --no-tui --output-format json "$@" \
        | jq -r '[.summary.requestsPerSec, (.latencyPercentiles.p50 * 1000), (.latencyPercentiles.p99 * 1000), (.statusCodeDistribution | to_entries | map("\(.key):\(.value)") | join(" "))] | @tsv'
}

echo "== an organization on the bench plan, with an API key"
registered="$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"organization_name": "Bench", "email": "bench@example.com", "password": "bench password 1"}')"
access="$(jq -r .data.access_token <<<"$registered")"
organization="$(jq -r .data.organization.id <<<"$registered")"
"$binary" set-plan --organization "$organization" --plan bench >/dev/null
key="$(curl -fsS -X POST "$base/api/v1/keys" -H 'content-type: application/json' \
    -H "authorization: Bearer $access" -d '{"name": "bench"}' | jq -r .data.key)"
verify_body="{\"key\": \"$key\"}"
verify=(-m POST -H 'content-type: application/json' -d "$verify_body" "$base/api/v1/keys/verify")
curl -fsS -X POST "$base/api/v1/keys/verify" -H 'content-type: application/json' -d "$verify_body" | jq -e '.data.allowed' >/dev/null

# Counts the 200 answers of an oha JSON report.
ok_count() { jq -r '.statusCodeDistribution["200"] // 0'; }
metered=1   # the check above

echo "== GET /health: warm-up, then ${duration}s at $connections connections"
oha -z 2s -c "$connections" --no-tui "$base/health" >/dev/null
read -r health_rps health_p50 health_p99 health_codes < <(load "$base/health")

# Metered runs use a request count (-n), not a duration: oha then waits for
# every answer, so "answered" is exact (a duration run abandons the requests
# in flight at its deadline, which the server may still have answered).
echo "== POST /keys/verify: warm-up, then $verify_requests requests at $connections connections"
warm="$(oha -n 20000 -c "$connections" --no-tui --output-format json "${verify[@]}" | ok_count)"
metered=$((metered + warm))
sleep 2 # let the usage writer catch up, as the health run did
verify_json="$(oha -n "$verify_requests" -c "$connections" --no-tui --output-format json "${verify[@]}")"
read -r verify_rps verify_p50 verify_p99 verify_codes < <(jq -r '[.summary.requestsPerSec, (.latencyPercentiles.p50 * 1000), (.latencyPercentiles.p99 * 1000), (.statusCodeDistribution | to_entries | map("\(.key):\(.value)") | join(" "))] | @tsv' <<<"$verify_json")
metered=$((metered + $(ok_count <<<"$verify_json")))

kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""
stored="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM usage_records").fetchone()[0])' "$data_dir/landlord.db")"
if [ "$stored" -eq "$metered" ]; then usage_verdict="equal: none lost"; else usage_verdict="DIFFERENT"; fi

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
cores="$(nproc)"
memory="$(free -h | awk '/Mem:/ {print $2}')"
printf -v health_rps_fmt "%.0f" "$health_rps"
printf -v health_p50_fmt "%.3f" "$health_p50"
printf -v health_p99_fmt "%.3f" "$health_p99"
idle_rss_mib="$(awk -v k="$idle_rss_kib" 'BEGIN {printf "%.1f", k/1024}')"
printf -v verify_rps_fmt "%.0f" "$verify_rps"
printf -v verify_p50_fmt "%.3f" "$verify_p50"
printf -v verify_p99_fmt "%.3f" "$verify_p99"
ratio="$(awk -v a="$verify_rps" -v b="$health_rps" 'BEGIN {printf "%.0f", 100 * a / b}')"

cat > BENCHMARKS.md <<MD
# Benchmarks

Written by \`bash bench/run.sh\` on $(date -u +%Y-%m-%d). Every figure comes from
one run of the release server on an embedded SQLite file, loaded by \`oha\`
over loopback on the same machine (the load generator shares the cores).

Machine: $cores cores ($cpu), $memory memory, $(uname -sr).

## Start-up and idle

| figure | value |
| --- | --- |
| start of the process to the first successful \`GET /health\` (migrations on a new database included) | $startup_ms ms |
| idle resident memory (VmRSS, 2 s after start) | $idle_rss_mib MiB |

## Throughput at $connections connections

\`GET /health\` ran for ${duration} s; \`POST /keys/verify\` for $verify_requests requests.

| route | requests/s | p50 | p99 | answers |
| --- | ---: | ---: | ---: | --- |
| \`GET /health\` (bare) | $health_rps_fmt | $health_p50_fmt ms | $health_p99_fmt ms | $health_codes |
| \`POST /keys/verify\` (API key: auth, rate limit, quota, metering) | $verify_rps_fmt | $verify_p50_fmt ms | $verify_p99_fmt ms | $verify_codes |

API-key request throughput is **$ratio %** of the bare route's in the same run.

## No usage record lost

After SIGTERM (graceful shutdown flushes the usage writer), the database
held **$stored** usage records for **$metered** metered requests answered
(the warm-up, the load run and one check): $usage_verdict.

Targets (DESIGN.md §12): API-key requests at least 60 % of the bare
route's throughput with p99 under 3 ms at 64 connections; no usage record
lost; idle under 30 MiB; start-up under 1 s on SQLite.
MD
echo "== wrote BENCHMARKS.md"
cat BENCHMARKS.md
