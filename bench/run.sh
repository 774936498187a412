#!/usr/bin/env bash
# Measures Landlord against its performance targets in one run and writes BENCHMARKS.md.
#
#   bash bench/run.sh [all|throughput|close|crash|connections|streams|redis-outage]
#
# Parts (each runnable alone; `all`, the default, runs them in this order):
#   throughput   the reference (bench/reference: a minimal axum server, same
#                axum and tokio versions, one route answering /health's JSON),
#                then GET /health, POST /keys/verify, GET /messages/{id}
#                with an API key and a marketplace product's public read,
#                on SQLite and then on PostgreSQL + Redis: the most
#                requests/s at 64 connections (oha), then p50/p99 at a fixed
#                offered load of half that maximum (oha -q). Then the latency
#                tail: /health and the verification again with the server
#                pinned to one core and oha to the other (taskset). On
#                SQLite, the verification and the message read once more
#                with the raw request log off (usage_raw_log = false). Also
#                the start-up time and the idle memory.
#   close        month close (`landlord close-period`) of 100,000
#                organizations with a few usage rows each, inserted by SQL
#                into a freshly migrated database, on SQLite and PostgreSQL.
#   crash        usage durability on each database: after SIGTERM, stored
#                usage equals the metered requests answered; after `kill -9`
#                under POST /keys/verify load, answered (oha's 2xx) minus
#                stored (SQL count after a restart) = usage lost, against the
#                flush interval.
#   connections  10,000 concurrent keep-alive connections: resident memory
#                (VmRSS) idle, while held and after they are closed
#                (bench/connections.py), the last 12 s after they are closed
#                (the server trims freed memory every 10 s).
#   streams      GET /messages/{id} of one organization (wrk, 32 connections)
#                with no inbox stream open, then with BENCH_STREAMS (1,000)
#                idle streams of another organization held open
#                (bench/streams.py), then with those streams and a presence
#                change every 200 ms fanned out to all of them; on SQLite
#                and on PostgreSQL + Redis. The stream caps are raised for
#                the run (bench.toml's [inbox]). Its figures go to their own
#                section of BENCHMARKS.md (bench/streams_report.py).
#   redis-outage Redis killed for 5 s under a wrk load of an API-key route
#                and started again: requests/s before, during and after,
#                per second, and whether limits are shared again
#                (bench/redis_outage.sh).
#
# PostgreSQL (initdb/pg_ctl from /usr/lib/postgresql/*/bin or the PATH, as
# the postgres user when root) and Redis are started in a temporary
# directory and stopped at the end. Figures accumulate in
# $BENCH_CACHE/results (a part run alone replaces only its own figures);
# bench/report.py turns them into BENCHMARKS.md, with the ratios and the
# targets. Tunables (environment): BENCH_SECONDS (each load, default 10),
# BENCH_ORGANIZATIONS (100000), BENCH_USAGE_PER_ORGANIZATION (3),
# BENCH_CONNECTIONS_HELD (10000), BENCH_STREAMS (1000), BENCH_FLUSH_MS (usage flush interval,
# 1000), BENCH_CLOSE_TIMEOUT (seconds, 240; past it a close is stopped and
# its rate extrapolated), BENCH_NOTE (a paragraph for BENCHMARKS.md), BENCH_USAGE_COUNT_SQL
# (how stored usage is counted), BENCH_BINARY (a server binary built
# beforehand, instead of building the release one: to try the script).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

part="${1:-all}"
case "$part" in
    all | throughput | close | crash | connections | streams | redis-outage) ;;
    *) echo "usage: bash bench/run.sh [all|throughput|close|crash|connections|streams|redis-outage]" >&2; exit 2 ;;
esac

seconds="${BENCH_SECONDS:-10}"
connections=64
organizations="${BENCH_ORGANIZATIONS:-100000}"
usage_per_organization="${BENCH_USAGE_PER_ORGANIZATION:-3}"
held_connections="${BENCH_CONNECTIONS_HELD:-10000}"
held_streams="${BENCH_STREAMS:-1000}"
flush_ms="${BENCH_FLUSH_MS:-1000}"
close_timeout="${BENCH_CLOSE_TIMEOUT:-240}"
usage_count_sql="${BENCH_USAGE_COUNT_SQL:-SELECT COALESCE(SUM(requests), 0) FROM usage_hourly}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/landlord-target}"
cache="${BENCH_CACHE:-$HOME/.cache/landlord-bench}"
results="$cache/results"
mkdir -p "$cache"
touch "$results"

# ---------------------------------------------------------------- tools

# The streams and redis-outage parts load with wrk (the others with oha).
if [ "$part" = all ] || [ "$part" = streams ] || [ "$part" = redis-outage ]; then
    if ! command -v wrk >/dev/null; then
        echo "== installing wrk"
        apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    fi
fi
if [ "$part" != streams ] && [ "$part" != redis-outage ] && ! command -v oha >/dev/null; then
    echo "== installing oha"
    cargo install oha --locked
fi
if [ "$part" = all ] || [ "$part" = redis-outage ]; then
    if ! command -v wrk >/dev/null; then
        echo "== installing wrk"
        apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    fi
    command -v redis-cli >/dev/null || { echo "bench needs redis-cli" >&2; exit 1; }
fi
for tool in jq curl python3; do
    command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install $tool)" >&2; exit 1; }
done
if ! command -v sqlite3 >/dev/null; then
    echo "== installing sqlite3"
    apt-get install -y -qq sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
fi

pg_bin=""
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV) $(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)"); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then pg_bin="$dir"; break; fi
done
[ -n "$pg_bin" ] || { echo "bench needs PostgreSQL's initdb and pg_ctl" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "bench needs redis-server" >&2; exit 1; }
command -v psql >/dev/null || { echo "bench needs psql" >&2; exit 1; }

# More descriptors: 10,000 connections on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --------------------------------------------------------------- builds

if [ -n "${BENCH_BINARY:-}" ]; then
    # A server built elsewhere (say so in BENCH_NOTE when it is not a
    # release build).
    binary="$BENCH_BINARY"
    echo "== using $binary"
else
    echo "== building the release server"
    cargo build --release --quiet -p landlord
    binary="$CARGO_TARGET_DIR/release/landlord"
fi
if [ "$part" = all ] || [ "$part" = throughput ]; then
    echo "== building the reference server (bench/reference)"
    CARGO_TARGET_DIR="$cache/reference-target" cargo build --release --quiet \
        --manifest-path bench/reference/Cargo.toml
    reference_binary="$cache/reference-target/release/landlord-bench-reference"
fi

# ------------------------------------------------------------ lifecycle

work="$(mktemp -d /tmp/landlord-bench.XXXXXX)"
chmod 755 "$work" # the postgres user reaches its directory inside
server_pid=""
other_pids=()
postgres_data=""
is_root=false
[ "$(id -u)" = 0 ] && is_root=true

cleanup() {
    local status=$?
    if [ "$status" -ne 0 ] && [ -n "${server_log:-}" ] && [ -f "$server_log" ]; then
        echo "== the server's log:"; tail -20 "$server_log"
    fi
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
    for pid in "${other_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -n "$postgres_data" ] && as_postgres "$pg_bin/pg_ctl" -D "$postgres_data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

as_postgres() {
    if $is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for_port() { # port, seconds
    python3 - "$1" "${2:-30}" <<'PY'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# Replaces (or adds) one figure of the results file.
record() {
    local key="$1" value="$2"
    grep -v "^$key=" "$results" >"$results.new" || true
    echo "$key=$value" >>"$results.new"
    mv "$results.new" "$results"
}

# Forgets the figures of a part (their keys start with the prefix).
forget() {
    grep -v "^$1" "$results" >"$results.new" || true
    mv "$results.new" "$results"
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# ------------------------------------------------------------ databases

postgres_port=""
redis_port=""
redis_next_db=0

start_postgres() {
    [ -n "$postgres_data" ] && return 0
    echo "== starting PostgreSQL ($pg_bin)"
    mkdir -p "$work/pg"
    $is_root && chown postgres:postgres "$work/pg"
    as_postgres "$pg_bin/initdb" -D "$work/pg/data" -U landlord -A trust -E UTF8 \
        --no-sync --no-instructions >/dev/null
    postgres_port="$(free_port)"
    # synchronous_commit=off matches SQLite's WAL + synchronous=NORMAL that
    # Landlord sets: a commit survives the process, not a power loss.
    as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -s \
        -o "-p $postgres_port -k $work/pg -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=300 -c shared_buffers=256MB" \
        start
    postgres_data="$work/pg/data"
}

# A new database in the cluster; prints its URL.
new_postgres_database() {
    local name="${1//-/_}"
    psql -q -h 127.0.0.1 -p "$postgres_port" -U landlord -d postgres \
        -c "CREATE DATABASE $name" >/dev/null || return 1
    echo "postgres://landlord@127.0.0.1:$postgres_port/$name"
}

start_redis() {
    [ -n "$redis_port" ] && return 0
    echo "== starting Redis"
    redis_port="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >"$work/redis.log" 2>&1 &
    other_pids+=($!)
    wait_for_port "$redis_port" 10
}

# A Redis database of its own for each server (16 by default).
new_redis_url() {
    redis_next_db=$(((redis_next_db + 1) % 16))
    redis-cli -p "$redis_port" -n "$redis_next_db" flushdb >/dev/null
    echo "redis://127.0.0.1:$redis_port/$redis_next_db"
}

# server_env: the environment of one Landlord instance (its database), set
# by use_sqlite / use_postgres, used by the server and the CLI alike.
server_env=()
database_kind=""
sqlite_file=""
postgres_url=""

use_sqlite() { # name
    local dir="$work/$1"
    mkdir -p "$dir"
    database_kind=sqlite
    sqlite_file="$dir/landlord.db"
    server_env=(LANDLORD_DATA_DIR="$dir" LANDLORD_CONFIG="$work/bench.toml")
}

use_postgres() { # name
    local dir="$work/$1"
    mkdir -p "$dir"
    start_postgres
    start_redis
    database_kind=postgres
    postgres_url="$(new_postgres_database "$1")"
    server_env=(LANDLORD_DATA_DIR="$dir" LANDLORD_CONFIG="$work/bench.toml"
        DATABASE_URL="$postgres_url" REDIS_URL="$(new_redis_url)")
}

sql() { # query: prints the first column of the result
    if [ "$database_kind" = sqlite ]; then
        sqlite3 -batch "$sqlite_file" "$1"
    else
        psql -qtA "$postgres_url" -c "$1"
    fi
}

landlord() { env "${server_env[@]}" LANDLORD_LOG_LEVEL=warn "$binary" "$@"; }

# A plan with room, so that quota and rate limit never answer: the catalog
# comes from configuration (the default plans stay).
cat >"$work/bench.toml" <<TOML
usage_flush_interval_ms = $flush_ms

[plans.bench]
price = 0
currency = "USD"
rate_limit_per_minute = 60000000

# Room for the streams part's streams (the defaults allow 10 per person).
[inbox]
max_streams_per_user = 100000
max_streams_per_organization = 100000
stream_opens_per_minute = 1000000
TOML

# -------------------------------------------------------------- servers

base=""
server_log=""
# Prefixes that pin the server and the load generator to one core each
# (`taskset -c N`) for the latency-tail loads; empty otherwise.
server_cpu=()
load_cpu=()
startup_ms=""

start_server() {
    local port
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    server_log="${server_env[0]#LANDLORD_DATA_DIR=}/server.log"
    local start_ns
    start_ns="$(date +%s%N)"
    "${server_cpu[@]}" env "${server_env[@]}" LANDLORD_LOG_LEVEL=warn LANDLORD_LISTEN="127.0.0.1:$port" \
        "$binary" serve >>"$server_log" 2>&1 &
    server_pid=$!
    until curl -fsS "$base/health" >/dev/null 2>&1; do
        kill -0 "$server_pid" 2>/dev/null || { cat "$server_log"; exit 1; }
        sleep 0.005
    done
    startup_ms=$((($(date +%s%N) - start_ns) / 1000000))
}

stop_server() { # signal (default TERM)
    kill "-${1:-TERM}" "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# An organization on the bench plan, an API key and one message; sets
# key and message_id (the checks make a few metered requests).
tenant() {
    local registered access organization
    registered="$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
        -d '{"organization_name": "Bench", "email": "bench@example.com", "password": "bench password 1"}')"
    access="$(jq -r .data.access_token <<<"$registered")"
    organization="$(jq -r .data.organization.id <<<"$registered")"
    landlord set-plan --organization "$organization" --plan bench >/dev/null
    key="$(curl -fsS -X POST "$base/api/v1/keys" -H 'content-type: application/json' \
        -H "authorization: Bearer $access" -d '{"name": "bench"}' | jq -r .data.key)"
    message_id="$(curl -fsS -X POST "$base/api/v1/messages/send" -H 'content-type: application/json' \
        -H "x-api-key: $key" \
        -d '{"channel": "email", "to": "bench@example.com", "subject": "Bench", "body": "Hello"}' |
        jq -r .data.id)"
    curl -fsS -X POST "$base/api/v1/keys/verify" -H 'content-type: application/json' \
        -d "{\"key\": \"$key\"}" | jq -e '.data.allowed' >/dev/null
    curl -fsS -H "x-api-key: $key" "$base/api/v1/messages/$message_id" | jq -e '.data.id' >/dev/null
    # The organization is also an approved store with one listed product
    # (inserted by SQL: approving a store is an operator's step).
    local now
    now="$(($(date +%s%N) / 1000000))"
    product_id="0000b0d5-0000-7000-8000-000000000001"
    sql "INSERT INTO marketplace_vendors (organization_id, store_name, slug, payout_provider, payout_account,
            status, approved_at, created_at, updated_at)
         VALUES ('$organization', 'Bench store', 'bench-store', 'stripe', 'acct_bench', 'approved', $now, $now, $now)" >/dev/null
    sql "INSERT INTO marketplace_products (id, vendor_id, title, slug, description, price, currency, stock, status,
            categories, images, search_text, created_at, updated_at)
         VALUES ('$product_id', '$organization', 'Bench lamp', 'bench-lamp', 'A brass lamp', 1500, 'USD', 5, 'active',
            '[]', '[]', 'Bench lamp A brass lamp', $now, $now)" >/dev/null
    curl -fsS "$base/api/v1/marketplace/products/$product_id" | jq -e '.data.id' >/dev/null
}

verify_args() { echo -m POST -H content-type:application/json -d "{\"key\":\"$key\"}" "$base/api/v1/keys/verify"; }

# -------------------------------------------------------------- loading

# Fields of an oha JSON report: rps p50_ms p99_ms answers.
oha_figures() {
    jq -r '[.summary.requestsPerSec, (.latencyPercentiles.p50 * 1000), (.latencyPercentiles.p99 * 1000),
        (.statusCodeDistribution | to_entries | map("\(.key):\(.value)") | join(" "))] | @tsv'
}

# Loads one target: a warm-up, the maximum at 64 connections for
# $seconds, then $seconds at half that rate. Records NAME_rps, NAME_p50,
# NAME_p99, NAME_answers and NAME_half_{rate,rps,p50,p99,answers}.
measure() { # name, oha arguments...
    local name="$1"
    shift
    local rps p50 p99 answers half
    echo "   $name: warm-up, ${seconds}s at most, ${seconds}s at half"
    "${load_cpu[@]}" oha -z 2s -c "$connections" --no-tui "$@" >/dev/null
    IFS=$'\t' read -r rps p50 p99 answers < <("${load_cpu[@]}" oha -z "${seconds}s" -c "$connections" --no-tui \
        --output-format json "$@" | oha_figures)
    record "${name}_rps" "$(printf %.0f "$rps")"
    record "${name}_p50" "$(printf %.3f "$p50")"
    record "${name}_p99" "$(printf %.3f "$p99")"
    record "${name}_answers" "$answers"
    half="$(printf %.0f "$(echo "$rps / 2" | bc -l)")"
    IFS=$'\t' read -r rps p50 p99 answers < <("${load_cpu[@]}" oha -z "${seconds}s" -c "$connections" -q "$half" \
        --latency-correction --no-tui --output-format json "$@" | oha_figures)
    record "${name}_half_rate" "$half"
    record "${name}_half_rps" "$(printf %.0f "$rps")"
    record "${name}_half_p50" "$(printf %.3f "$p50")"
    record "${name}_half_p99" "$(printf %.3f "$p99")"
    record "${name}_half_answers" "$answers"
    echo "   $name: $(grep "^${name}_rps=" "$results" | cut -d= -f2) req/s; at $half req/s p99 $(printf %.3f "$p99") ms"
}

throughput() {
    forget reference_
    forget reference_pinned_
    forget sqlite_health
    forget sqlite_verify
    forget sqlite_message
    forget postgres_health
    forget postgres_verify
    forget postgres_message
    forget sqlite_product
    forget postgres_product
    forget sqlite_pinned_
    forget postgres_pinned_
    forget sqlite_lean_
    echo "== throughput: the reference"
    local port
    port="$(free_port)"
    "$reference_binary" "127.0.0.1:$port" &
    local reference_pid=$!
    other_pids+=("$reference_pid")
    wait_for_port "$port" 10
    measure reference "http://127.0.0.1:$port/health"
    kill "$reference_pid"
    wait "$reference_pid" 2>/dev/null || true
    if pinning; then
        # The reference's own tail under the pinned load: what the load
        # generator on one core adds to any server's.
        taskset -c 1 "$reference_binary" "127.0.0.1:$port" &
        reference_pid=$!
        other_pids+=("$reference_pid")
        wait_for_port "$port" 10
        load_cpu=(taskset -c 0)
        measure reference_pinned "http://127.0.0.1:$port/health"
        load_cpu=()
        kill "$reference_pid"
        wait "$reference_pid" 2>/dev/null || true
    fi

    for database in sqlite postgres; do
        echo "== throughput on $database"
        "use_$database" "throughput-$database"
        start_server
        record "${database}_startup_ms" "$startup_ms"
        sleep 2
        record "${database}_idle_rss_kib" "$(rss_kib "$server_pid")"
        tenant
        measure "${database}_health" "$base/health"
        # shellcheck disable=SC2046 # the arguments are words on purpose
        measure "${database}_verify" $(verify_args)
        measure "${database}_message" -H "x-api-key: $key" "$base/api/v1/messages/$message_id"
        measure "${database}_product" "$base/api/v1/marketplace/products/$product_id"
        stop_server
        if [ "$database" = sqlite ]; then
            without_raw_log
        fi
        pinned_tail "$database"
    done
}

# The metered routes again with the raw request log off
# (usage_raw_log = false: the hourly counters only), on the same
# database: what writing one row per request costs.
without_raw_log() {
    echo "== throughput on sqlite, raw request log off"
    server_env+=(LANDLORD_USAGE_RAW_LOG=false)
    start_server
    # shellcheck disable=SC2046 # the arguments are words on purpose
    measure sqlite_lean_verify $(verify_args)
    measure sqlite_lean_message -H "x-api-key: $key" "$base/api/v1/messages/$message_id"
    stop_server
    unset 'server_env[${#server_env[@]}-1]'
}

pinning() { command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; }

# The latency tail of the server alone: the server pinned to the second
# core and the load generator to the first (taskset), so that neither
# takes the other's core and a p99 is the server's, not the scheduler's.
# The same loads as above (the maximum, then half of it) for /health and
# the verification, on the database's existing data.
pinned_tail() { # database
    pinning || { echo "   (no taskset or one core: the pinned loads are skipped)"; return 0; }
    echo "== latency tail on $1, server on core 1, load on core 0"
    server_cpu=(taskset -c 1)
    load_cpu=(taskset -c 0)
    start_server
    measure "${1}_pinned_health" "$base/health"
    # shellcheck disable=SC2046 # the arguments are words on purpose
    measure "${1}_pinned_verify" $(verify_args)
    stop_server
    server_cpu=()
    load_cpu=()
}

# ---------------------------------------------------------------- close

last_month() { date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m; }

# Organizations created before the month (on the `starter` plan, with a
# billing email: a priced cycle and an invoice mail each) and
# $usage_per_organization usage rows each inside the month. Ids are
# well-formed UUIDs numbered in SQL.
populate_sqlite() { # month start ms
    local start="$1"
    sqlite3 -batch "$sqlite_file" <<SQL >/dev/null
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $organizations)
INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at)
SELECT printf('00000000-0000-7000-8000-%012d', i), 'Organization ' || i,
       'billing' || i || '@example.com', 'starter', $start - 86400000, $start - 86400000
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $organizations),
     u(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM u WHERE j < $usage_per_organization)
INSERT INTO usage_records (organization_id, api_key_id, endpoint, method, status, created_at)
SELECT printf('00000000-0000-7000-8000-%012d', i),
       NULL, '/api/v1/keys/verify', 'POST', 200, $start + i * 10 + j
FROM n, u;
-- The counters billing reads, as the usage writer keeps them.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $organizations)
INSERT INTO usage_hourly (organization_id, api_key_id, route, status_class, hour, requests)
SELECT printf('00000000-0000-7000-8000-%012d', i), '', 'POST /api/v1/keys/verify', 2,
       (($start + i * 10) / 3600000) * 3600000, $usage_per_organization
FROM n;
COMMIT;
SQL
}

populate_postgres() { # month start ms
    local start="$1"
    psql -q "$postgres_url" <<SQL >/dev/null
BEGIN;
INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at)
SELECT '00000000-0000-7000-8000-' || lpad(i::text, 12, '0'), 'Organization ' || i,
       'billing' || i || '@example.com', 'starter', $start - 86400000, $start - 86400000
FROM generate_series(1, $organizations) AS i;
INSERT INTO usage_records (organization_id, api_key_id, endpoint, method, status, created_at)
SELECT '00000000-0000-7000-8000-' || lpad(i::text, 12, '0'),
       NULL, '/api/v1/keys/verify', 'POST', 200, $start + i * 10 + j
FROM generate_series(1, $organizations) AS i, generate_series(1, $usage_per_organization) AS j;
INSERT INTO usage_hourly (organization_id, api_key_id, route, status_class, hour, requests)
SELECT '00000000-0000-7000-8000-' || lpad(i::text, 12, '0'), '', 'POST /api/v1/keys/verify', 2,
       (($start + i * 10) / 3600000) * 3600000, $usage_per_organization
FROM generate_series(1, $organizations) AS i;
COMMIT;
ANALYZE;
SQL
}

close() {
    forget close_
    local month start
    month="$(last_month)"
    start="$(($(date -u -d "$month-01" +%s) * 1000))"
    record close_month "$month"
    record close_organizations "$organizations"
    record close_usage_rows "$((organizations * usage_per_organization))"
    for database in sqlite postgres; do
        echo "== close of $month, $organizations organizations, on $database"
        "use_$database" "close-$database"
        landlord migrate
        local t0 t1 output
        t0="$(date +%s%N)"
        "populate_$database" "$start"
        t1="$(date +%s%N)"
        record "close_${database}_insert_s" "$(echo "($t1 - $t0) / 1000000000" | bc -l | xargs printf %.1f)"
        t0="$(date +%s%N)"
        # Bounded: past the timeout the close is stopped, and the rate of
        # the cycles it created gives an estimate of the whole.
        local status=0
        output="$(timeout "$close_timeout" env "${server_env[@]}" LANDLORD_LOG_LEVEL=warn \
            "$binary" close-period --month "$month")" || status=$?
        t1="$(date +%s%N)"
        local took cycles
        took="$(echo "($t1 - $t0) / 1000000000" | bc -l | xargs printf %.1f)"
        cycles="$(sql "SELECT COUNT(*) FROM billing_cycles")"
        record "close_${database}_cycles" "$cycles"
        if [ "$status" -eq 124 ]; then
            record "close_${database}_timed_out" "$close_timeout"
            output="stopped after $close_timeout s"
            [ "$cycles" -gt 0 ] &&
                record "close_${database}_estimate_s" "$(echo "$took * $organizations / $cycles" | bc -l | xargs printf %.0f)"
        elif [ "$status" -ne 0 ]; then
            echo "close-period failed ($status)" >&2
            exit 1
        fi
        record "close_${database}_s" "$took"
        record "close_${database}_output" "$output"
        echo "   $output in $(grep "^close_${database}_s=" "$results" | cut -d= -f2) s"
    done
}

# ---------------------------------------------------------------- crash

stored_usage() { sql "$usage_count_sql"; }

crash() {
    forget crash_
    record crash_flush_ms "$flush_ms"
    for database in sqlite postgres; do
        echo "== usage durability on $database"
        "use_$database" "crash-$database"
        start_server
        tenant
        # What the set-up metered, once flushed.
        sleep "$(echo "2 * $flush_ms / 1000 + 0.5" | bc -l)"
        local metered answered report
        metered="$(stored_usage)"
        # Graceful: a request count (-n), so that oha waits for every answer.
        # shellcheck disable=SC2046
        report="$(oha -n 50000 -c "$connections" --no-tui --output-format json $(verify_args))"
        answered="$(jq -r '[.statusCodeDistribution | to_entries[] | select(.key | startswith("2")) | .value] | add // 0' <<<"$report")"
        metered=$((metered + answered))
        stop_server TERM
        local stored
        stored="$(stored_usage)"
        record "crash_${database}_graceful_answered" "$metered"
        record "crash_${database}_graceful_stored" "$stored"
        echo "   SIGTERM: $stored stored for $metered answered"

        # kill -9 after 3 s of a 6 s load.
        start_server
        curl -fsS -X POST "$base/api/v1/keys/verify" -H 'content-type: application/json' \
            -d "{\"key\": \"$key\"}" >/dev/null
        sleep "$(echo "2 * $flush_ms / 1000 + 0.5" | bc -l)"
        local before
        before="$(stored_usage)"
        # shellcheck disable=SC2046
        oha -z 6s -c "$connections" --no-tui --output-format json $(verify_args) >"$work/crash.json" &
        local oha_pid=$! t0 t1
        t0="$(date +%s%N)"
        sleep 3
        t1="$(date +%s%N)"
        stop_server KILL
        wait "$oha_pid" || true
        answered="$(jq -r '[.statusCodeDistribution | to_entries[] | select(.key | startswith("2")) | .value] | add // 0' <"$work/crash.json")"
        # After a restart (anything the server recovers on start counts),
        # then a graceful stop.
        start_server
        sleep "$(echo "2 * $flush_ms / 1000 + 0.5" | bc -l)"
        stop_server TERM
        stored="$(stored_usage)"
        local lost=$((answered - (stored - before)))
        local load_s rate
        load_s="$(echo "($t1 - $t0) / 1000000000" | bc -l)"
        rate="$(echo "$answered / $load_s" | bc -l)"
        record "crash_${database}_answered" "$answered"
        record "crash_${database}_stored" "$((stored - before))"
        record "crash_${database}_lost" "$lost"
        record "crash_${database}_rate" "$(printf %.0f "$rate")"
        record "crash_${database}_lost_ms" "$(echo "1000 * $lost / $rate" | bc -l | xargs printf %.0f)"
        echo "   kill -9: $answered answered, $((stored - before)) stored, $lost lost"
    done
}

# ---------------------------------------------------------- connections

held() {
    forget connections_
    record connections_asked "$held_connections"
    echo "== $held_connections keep-alive connections on SQLite"
    use_sqlite connections
    start_server
    sleep 2
    local port="${base##*:}" report
    report="$(python3 bench/connections.py 127.0.0.1 "$port" "$server_pid" "$held_connections" 12)"
    echo "   $report"
    for field in held failures reused open_seconds rss_idle_kib rss_held_kib rss_peak_kib rss_after_kib seconds_after; do
        record "connections_$field" "$(jq -r ".$field" <<<"$report")"
    done
    stop_server
}

# -------------------------------------------------------------- streams

# Fields of wrk --latency's report: rps p50_ms p99_ms requests non-2xx.
wrk_figures() {
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/) { sub(/s$/, "", v); return v * 1000 }
            return v
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /requests in/ { requests = $1 }
        /Non-2xx/ { bad = $NF }
        /^Requests\/sec:/ { rps = $2 }
        END { printf "%.0f\t%.3f\t%.3f\t%d\t%d\n", rps, p50, p99, requests, bad + 0 }'
}

# One load of GET /messages/{id}; records NAME_{rps,p50,p99,requests,non2xx}.
measure_wrk() { # name
    local name="$1" rps p50 p99 requests bad
    IFS=$'\t' read -r rps p50 p99 requests bad < <(wrk -t2 -c32 -d"${seconds}s" --latency \
        -H "x-api-key: $key" "$base/api/v1/messages/$message_id" | wrk_figures)
    record "${name}_rps" "$rps"
    record "${name}_p50" "$p50"
    record "${name}_p99" "$p99"
    record "${name}_requests" "$requests"
    record "${name}_non2xx" "$bad"
    echo "   $name: $rps req/s, p50 $p50 ms, p99 $p99 ms ($bad not 2xx)"
}

streams() {
    forget streams_
    record streams_asked "$held_streams"
    record streams_build "${BENCH_BINARY:+$(basename "$(dirname "$BENCH_BINARY")") build ($BENCH_BINARY)}"
    [ -n "${BENCH_BINARY:-}" ] || record streams_build "release build"
    record wrk_version "$(wrk -v 2>&1 | head -1)"
    for database in sqlite postgres; do
        echo "== $held_streams idle inbox streams on $database"
        "use_$database" "streams-$database"
        start_server
        tenant
        # The streams belong to another organization than the loaded key.
        local watcher port ready stop report presence_pid
        watcher="$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
            -d '{"organization_name": "Watchers", "email": "watcher@example.com", "password": "bench password 1"}' |
            jq -r .data.access_token)"
        port="${base##*:}"
        wrk -t2 -c32 -d2s -H "x-api-key: $key" "$base/api/v1/messages/$message_id" >/dev/null
        measure_wrk "streams_${database}_without"
        ready="$work/streams-$database.ready"
        stop="$work/streams-$database.stop"
        python3 bench/streams.py 127.0.0.1 "$port" "$watcher" "$held_streams" "$ready" "$stop" \
            >"$work/streams-$database.json" &
        local holder=$!
        other_pids+=("$holder")
        until [ -f "$ready" ]; do
            kill -0 "$holder" 2>/dev/null || { cat "$work/streams-$database.json"; exit 1; }
            sleep 0.2
        done
        sleep 2
        record "streams_${database}_rss_kib" "$(rss_kib "$server_pid")"
        measure_wrk "streams_${database}_with"
        # A presence change every 200 ms: each wakes the organization's
        # hub once and reaches every stream.
        (
            while :; do
                curl -fsS -o /dev/null -X POST "$base/api/v1/inbox/presence" \
                    -H 'content-type: application/json' -H "authorization: Bearer $watcher" \
                    -d '{"status": "online"}' || true
                sleep 0.2
            done
        ) &
        presence_pid=$!
        other_pids+=("$presence_pid")
        measure_wrk "streams_${database}_events"
        kill "$presence_pid" 2>/dev/null || true
        wait "$presence_pid" 2>/dev/null || true
        touch "$stop"
        wait "$holder" || true
        report="$(cat "$work/streams-$database.json")"
        echo "   $report"
        for field in opened failures ended_early open_seconds; do
            record "streams_${database}_$field" "$(jq -r ".$field" <<<"$report")"
        done
        stop_server
    done
}

# --------------------------------------------------------- redis outage

# shellcheck source=bench/redis_outage.sh
. bench/redis_outage.sh

# ------------------------------------------------------------------ run

if [ "$part" = all ]; then : >"$results"; fi
record machine_cores "$(nproc)"
record machine_cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
record machine_memory "$(free -h | awk '/Mem:/ {print $2}')"
record machine_kernel "$(uname -sr)"
command -v oha >/dev/null && record oha_version "$(oha --version | head -1)"
record commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
record date "$(date -u +%Y-%m-%d)"
record load_average "$(cut -d" " -f1-3 /proc/loadavg)"
record seconds "$seconds"
record connections "$connections"
[ -n "${BENCH_NOTE:-}" ] && record note "$BENCH_NOTE"

case "$part" in
    all) throughput; close; crash; held; streams; redis_outage ;;
    throughput) throughput ;;
    close) close ;;
    crash) crash ;;
    connections) held ;;
    streams) streams ;;
    redis-outage) redis_outage ;;
esac

if [ "$part" = streams ]; then
    # Its own section only: the other parts' figures stay as they were.
    python3 bench/streams_report.py "$results" BENCHMARKS.md
elif [ "$part" = redis-outage ]; then
    # Alone, it replaces only its own section of BENCHMARKS.md.
    python3 bench/report.py "$results" BENCHMARKS.md --section redis-outage
else
    python3 bench/report.py "$results" BENCHMARKS.md
fi
echo "== wrote BENCHMARKS.md"
