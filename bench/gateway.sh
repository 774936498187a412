#!/usr/bin/env bash
# The apps gateway's forwarding cost, in one run: a minimal upstream
# (bench/reference, one route answering /health's JSON) loaded directly,
# then through Landlord's gateway (a published app whose upstream it is,
# reached on {slug}.apps.localhost through the Host header), on the same
# machine and cores. Prints requests/s at BENCH_CONNECTIONS (64)
# connections for each, the ratio, then p50/p99 of each at a fixed
# offered load of half the gateway's maximum and the latency the gateway
# adds. Loads with wrk (its Lua script reads the percentiles).
#
#   bash bench/gateway.sh
#
# Tunables (environment): BENCH_SECONDS (each load, default 10),
# BENCH_CONNECTIONS (64), BENCH_BINARY / BENCH_REFERENCE (binaries built
# beforehand, instead of the release builds).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/landlord-target}"

for tool in wrk curl jq sqlite3 python3; do
    command -v "$tool" >/dev/null || { echo "bench/gateway.sh needs $tool" >&2; exit 1; }
done

if [ -n "${BENCH_BINARY:-}" ]; then
    binary="$BENCH_BINARY"
else
    echo "== building the release server"
    cargo build --release --quiet -p landlord
    binary="$CARGO_TARGET_DIR/release/landlord"
fi
if [ -n "${BENCH_REFERENCE:-}" ]; then
    reference="$BENCH_REFERENCE"
else
    echo "== building the minimal upstream (bench/reference)"
    cargo build --release --quiet --manifest-path bench/reference/Cargo.toml
    reference="$CARGO_TARGET_DIR/release/landlord-bench-reference"
fi

work="$(mktemp -d /tmp/landlord-gateway-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # url, header
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null -H "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing answers at $1" >&2
    exit 1
}

# ----------------------------------------------------------- the servers

upstream_port="$(free_port)"
"$reference" "127.0.0.1:$upstream_port" &
pids+=($!)
wait_for "http://127.0.0.1:$upstream_port/health" "x-bench: 1"

# The publisher's plan lets the whole load through (no quota, limits far
# above it): every request is forwarded, limited and metered, none refused.
cat >"$work/bench.toml" <<TOML
[apps]
allow_private_upstreams = true

[plans.free]
price = 0
currency = "USD"
rate_limit_per_minute = 100000000
gateway_rate_limit_per_minute = 100000000
TOML
port="$(free_port)"
base="http://127.0.0.1:$port"
LANDLORD_DATA_DIR="$work" LANDLORD_CONFIG="$work/bench.toml" LANDLORD_LOG_LEVEL=warn \
    LANDLORD_LISTEN="127.0.0.1:$port" "$binary" serve >>"$work/server.log" 2>&1 &
pids+=($!)
wait_for "$base/health" "x-bench: 1"

# A published app in front of the upstream: its owner creates it, an
# operator (made by SQL) publishes it.
api() { # method path token [body]
    curl -fsS -X "$1" "$base$2" -H "authorization: Bearer $3" \
        -H 'content-type: application/json' -d "${4:-{\}}"
}
register() { # email organization
    curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"organization_name\": \"$2\", \"email\": \"$1\", \"password\": \"bench password 1\"}"
}
owner="$(register dev@example.com Bench | jq -r .data.access_token)"
app_id="$(api POST /api/v1/apps "$owner" "{\"slug\": \"bench\", \"name\": \"Bench\",
    \"client_type\": \"confidential\", \"redirect_uris\": [\"http://127.0.0.1:9/cb\"],
    \"scopes\": [\"openid\"], \"upstream_url\": \"http://127.0.0.1:$upstream_port\"}" |
    jq -r .data.client_id)"
api POST "/api/v1/apps/$app_id/submit" "$owner" >/dev/null
operator_registered="$(register operator@example.com Operators)"
operator="$(jq -r .data.access_token <<<"$operator_registered")"
operator_id="$(jq -r .data.user.id <<<"$operator_registered")"
sqlite3 "$work/landlord.db" "UPDATE users SET platform_admin_at = 1 WHERE id = '$operator_id'"
api POST "/api/v1/admin/apps/$app_id/publish" "$operator" >/dev/null
host="bench.apps.localhost"
wait_for "$base/health" "host: $host"

# ------------------------------------------------------------- the loads

cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
    io.write(string.format("RESULT %.1f %.3f %.3f %d\n",
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.errors.status + summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout))
end
LUA

load() { # url host [rate]: "requests/s p50_ms p99_ms errors"
    local args=(-t2 "-c$connections" "-d${seconds}s" --latency -s "$work/report.lua" -H "host: $2")
    if [ -n "${3:-}" ]; then
        # Offered load: wrk has no rate option; a Lua delay per request
        # spreads each connection's requests evenly.
        local delay_ms
        delay_ms="$(python3 -c "print(max(1, round($connections * 1000 / $3)))")"
        sed "s/^done/delay = function() return $delay_ms end\ndone/" "$work/report.lua" \
            >"$work/paced.lua"
        args=(-t2 "-c$connections" "-d${seconds}s" --latency -s "$work/paced.lua" -H "host: $2")
    fi
    wrk "${args[@]}" "$1" | awk '/^RESULT/ {print $2, $3, $4, $5}'
}

echo "== the upstream alone, $connections connections, ${seconds}s"
read -r bare_rps bare_p50 bare_p99 bare_errors < <(load "http://127.0.0.1:$upstream_port/health" "127.0.0.1:$upstream_port")
echo "   $bare_rps requests/s (p50 $bare_p50 ms, p99 $bare_p99 ms; $bare_errors errors)"
echo "== through the gateway"
read -r gw_rps gw_p50 gw_p99 gw_errors < <(load "$base/health" "$host")
echo "   $gw_rps requests/s (p50 $gw_p50 ms, p99 $gw_p99 ms; $gw_errors errors)"
curl -fsS -H "host: $host" "$base/health" | grep -q '"status":"ok"' ||
    { echo "the gateway did not forward" >&2; exit 1; }

rate="$(python3 -c "print(int($gw_rps / 2))")"
echo "== p50/p99 at $rate requests/s offered (half the gateway's maximum)"
read -r bare_rps_q bare_p50_q bare_p99_q _ < <(load "http://127.0.0.1:$upstream_port/health" "127.0.0.1:$upstream_port" "$rate")
read -r gw_rps_q gw_p50_q gw_p99_q _ < <(load "$base/health" "$host" "$rate")
echo "   upstream alone: $bare_rps_q requests/s, p50 $bare_p50_q ms, p99 $bare_p99_q ms"
echo "   gateway:        $gw_rps_q requests/s, p50 $gw_p50_q ms, p99 $gw_p99_q ms"

python3 - "$bare_rps" "$gw_rps" "$bare_p50_q" "$bare_p99_q" "$gw_p50_q" "$gw_p99_q" <<'PY'
import sys
bare, gw, bp50, bp99, gp50, gp99 = map(float, sys.argv[1:])
ratio = gw / bare * 100
print(f"== gateway/upstream throughput: {ratio:.1f} % (target >= 50 %: "
      f"{'met' if ratio >= 50 else 'NOT met'})")
print(f"   added latency at the offered load: p50 +{gp50 - bp50:.3f} ms, p99 +{gp99 - bp99:.3f} ms")
PY
