#!/usr/bin/env bash
# How the cost of a request grows with the data behind it: each capability
# is measured at several data sizes, so BENCHMARKS.md shows a curve, not a
# point. For each size, a freshly migrated database is filled by SQL (rows
# written the way the stores write them), the release server is started on
# it and the capability is loaded over HTTP with wrk (2 threads, a few
# connections, BENCH_SECONDS each): requests/s, p50 and p99. Beside each
# figure, the query plan of the statement the store runs for it (EXPLAIN
# QUERY PLAN on SQLite, EXPLAIN on PostgreSQL): an index search stays
# logarithmic, a scan grows with the table.
#
#   bash bench/scale.sh [all|keys|close|search|inbox|audit|webhooks]...
#
# Parts (`all`, the default, runs them in this order):
#   keys      POST /api/v1/keys/verify with BENCH_KEY_SIZES keys (1,000,
#             100,000 and 1,000,000, spread over 1,000 organizations), on
#             SQLite: one key verified again and again (the key cache),
#             many distinct valid keys (every lookup goes to the database:
#             the key cache is shortened to 1 ms for that load), one
#             unknown key again and again (the cache of unknown keys) and
#             distinct unknown keys (each one a database lookup).
#   close     `landlord close-period` of the previous month with
#             BENCH_CLOSE_SIZES organizations (10,000, 100,000, 1,000,000),
#             three usage rows each, on SQLite and PostgreSQL: the time per
#             organization.
#   search    the marketplace's product search, full text and radius, with
#             BENCH_PRODUCT_SIZES products (10,000 to 1,000,000), on SQLite
#             and on PostgreSQL.
#   inbox     the inbox's conversation list and one conversation's thread
#             with BENCH_MESSAGE_SIZES messages (10,000 to 1,000,000) across
#             1,000 organizations.
#   audit     the audit log and the events list, first page and a deep page
#             (through the cursor), with BENCH_AUDIT_ROWS rows (1,000,000).
#   webhooks  outgoing webhook deliveries per second to a fast local
#             receiver, and how far the dispatcher lags behind with
#             BENCH_WEBHOOK_ENDPOINTS endpoints (100).
#
# Environment: BENCH_BINARY (a server built beforehand instead of building
# the release one), BENCH_QUICK=1 (only the two smallest sizes of each
# part: to try the script), BENCH_SECONDS (each load, default 5),
# BENCH_CONNECTIONS (wrk's connections, 8), the size lists above
# (space-separated), BENCH_CACHE (where the results file is kept,
# ~/.cache/landlord-bench). Figures go to $BENCH_CACHE/scale-results (a part
# run alone replaces only its own figures), then bench/scale_report.py
# writes the "Cost over data size" section of BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(all)
for p in "${parts[@]}"; do
    case "$p" in
        all | keys | close | search | inbox | audit | webhooks) ;;
        *) echo "usage: bash bench/scale.sh [all|keys|close|search|inbox|audit|webhooks]..." >&2; exit 2 ;;
    esac
done
wants() { local p; for p in "${parts[@]}"; do [ "$p" = all ] || [ "$p" = "$1" ] && return 0; done; return 1; }

seconds="${BENCH_SECONDS:-5}"
connections="${BENCH_CONNECTIONS:-8}"
quick="${BENCH_QUICK:-0}"
# The sizes of a part: its list, or its two smallest in quick mode.
sizes() { # list
    if [ "$quick" = 1 ]; then tr ' ' '\n' <<<"$1" | grep . | sort -n | head -2 | xargs; else echo "$1"; fi
}
key_sizes="$(sizes "${BENCH_KEY_SIZES:-1000 100000 1000000}")"
close_sizes="$(sizes "${BENCH_CLOSE_SIZES:-10000 100000 1000000}")"
product_sizes="$(sizes "${BENCH_PRODUCT_SIZES:-10000 100000 1000000}")"
message_sizes="$(sizes "${BENCH_MESSAGE_SIZES:-10000 100000 1000000}")"
audit_rows="${BENCH_AUDIT_ROWS:-1000000}"
[ "$quick" = 1 ] && [ -z "${BENCH_AUDIT_ROWS:-}" ] && audit_rows=100000
webhook_endpoints="${BENCH_WEBHOOK_ENDPOINTS:-100}"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/landlord-target}"
cache="${BENCH_CACHE:-$HOME/.cache/landlord-bench}"
results="$cache/scale-results"
mkdir -p "$cache"
touch "$results"

for tool in jq curl sqlite3 wrk python3; do
    command -v "$tool" >/dev/null || { echo "scale needs $tool" >&2; exit 1; }
done
pg_bin=""
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV) $(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)"); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then pg_bin="$dir"; break; fi
done

if [ -n "${BENCH_BINARY:-}" ]; then
    binary="$BENCH_BINARY"
    echo "== using $binary"
else
    echo "== building the release server"
    cargo build --release --quiet -p landlord --bin landlord
    binary="$CARGO_TARGET_DIR/release/landlord"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ------------------------------------------------------------ lifecycle

work="$(mktemp -d /tmp/landlord-scale.XXXXXX)"
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

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ------------------------------------------------------------ databases

postgres_port=""

start_postgres() {
    [ -n "$postgres_data" ] && return 0
    [ -n "$pg_bin" ] || { echo "scale needs PostgreSQL's initdb and pg_ctl" >&2; exit 1; }
    command -v psql >/dev/null || { echo "scale needs psql" >&2; exit 1; }
    echo "== starting PostgreSQL ($pg_bin)"
    mkdir -p "$work/pg"
    $is_root && chown postgres:postgres "$work/pg"
    as_postgres "$pg_bin/initdb" -D "$work/pg/data" -U landlord -A trust -E UTF8 \
        --no-sync --no-instructions >/dev/null
    postgres_port="$(free_port)"
    # As bench/run.sh: a commit survives the process, not a power loss.
    as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -s \
        -o "-p $postgres_port -k $work/pg -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c fsync=off -c max_connections=300 -c shared_buffers=256MB -c maintenance_work_mem=256MB" \
        start
    postgres_data="$work/pg/data"
    record scale_postgres_version "$(psql --version | head -1)"
}

# server_env: the environment of one Landlord instance (its database), set
# by use_sqlite / use_postgres, used by the server and the CLI alike. Each
# call starts from an empty database (the previous one is removed: at most
# one large database on the disk at a time).
server_env=()
database_kind=""
sqlite_file=""
postgres_url=""
postgres_database=""
data_dir=""

drop_previous() {
    [ -n "$data_dir" ] && rm -rf "$data_dir"
    if [ -n "$postgres_database" ]; then
        psql -q -h 127.0.0.1 -p "$postgres_port" -U landlord -d postgres \
            -c "DROP DATABASE IF EXISTS $postgres_database" >/dev/null || true
        postgres_database=""
    fi
}

use_sqlite() { # name
    drop_previous
    data_dir="$work/$1"
    mkdir -p "$data_dir"
    database_kind=sqlite
    sqlite_file="$data_dir/landlord.db"
    server_env=(LANDLORD_DATA_DIR="$data_dir" LANDLORD_CONFIG="$work/bench.toml")
}

use_postgres() { # name
    drop_previous
    data_dir="$work/$1"
    mkdir -p "$data_dir"
    start_postgres
    database_kind=postgres
    postgres_database="${1//-/_}"
    psql -q -h 127.0.0.1 -p "$postgres_port" -U landlord -d postgres \
        -c "CREATE DATABASE $postgres_database" >/dev/null
    postgres_url="postgres://landlord@127.0.0.1:$postgres_port/$postgres_database"
    server_env=(LANDLORD_DATA_DIR="$data_dir" LANDLORD_CONFIG="$work/bench.toml" DATABASE_URL="$postgres_url")
}

sql() { # statements (or stdin): runs them on the current database
    if [ "$database_kind" = sqlite ]; then
        sqlite3 -batch "$sqlite_file" "$@"
    else
        psql -qtA -v ON_ERROR_STOP=1 "$postgres_url" "$@"
    fi
}

join_lines() { awk 'NF { line = line (line == "" ? "" : " · ") $0 } END { print line }'; }

# The plan of a statement, one line (steps joined by " · "): EXPLAIN QUERY
# PLAN on SQLite, EXPLAIN on PostgreSQL. The statement is the store's, with
# its parameters written in.
plan() { # statement
    if [ "$database_kind" = sqlite ]; then
        sqlite3 -batch "$sqlite_file" "EXPLAIN QUERY PLAN $1" | sed 's/^[|` -]*//' | grep -v '^QUERY PLAN$' | join_lines
    else
        psql -qtA "$postgres_url" -c "EXPLAIN (COSTS OFF) $1" | sed 's/^ *//; s/^-> *//' | join_lines
    fi
}

landlord() { env "${server_env[@]}" LANDLORD_LOG_LEVEL=warn "$binary" "$@"; }

# A plan with room: no quota or rate limit answers during a load; unknown
# keys are not cut off per address (the negative cache is what is measured).
cat >"$work/bench.toml" <<TOML
invalid_api_key_per_minute = 100000000

[plans.bench]
price = 0
currency = "USD"
rate_limit_per_minute = 60000000
TOML

# -------------------------------------------------------------- servers

base=""
server_log=""

start_server() { # [extra environment...]
    local port
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    server_log="$data_dir/server.log"
    env "${server_env[@]}" "$@" LANDLORD_LOG_LEVEL=warn LANDLORD_LISTEN="127.0.0.1:$port" \
        "$binary" serve >>"$server_log" 2>&1 &
    server_pid=$!
    until curl -fsS "$base/health" >/dev/null 2>&1; do
        kill -0 "$server_pid" 2>/dev/null || { cat "$server_log"; exit 1; }
        sleep 0.02
    done
}

stop_server() {
    [ -n "$server_pid" ] || return 0
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# -------------------------------------------------------------- loading

# A wrk script that cycles through the requests of a file, one a line:
# "PATH" (a GET) or "PATH<TAB>JSON BODY" (a POST); each thread takes every
# other line, so the two threads never send the same request at once.
cat >"$work/cycle.lua" <<'LUA'
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  local file = os.getenv("SCALE_REQUESTS")
  local nth = tonumber(os.getenv("SCALE_THREADS") or "2")
  local lines = {}
  for line in io.lines(file) do lines[#lines + 1] = line end
  requests = {}
  for i, line in ipairs(lines) do
    if #lines < nth or (i - 1) % nth == tid then
      local path, body = line:match("^([^\t]*)\t(.*)$")
      if path then
        requests[#requests + 1] = wrk.format("POST", path, {["content-type"] = "application/json"}, body)
      else
        requests[#requests + 1] = wrk.format("GET", line)
      end
    end
  end
  n = 0
end
function request()
  n = n + 1
  if n > #requests then n = 1 end
  return requests[n]
end
LUA

# Fields of wrk --latency's report: rps p50_ms p99_ms requests non-2xx.
wrk_figures() {
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /m$/) { sub(/m$/, "", v); return v * 60000 }
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

# One load: a 1 s warm-up, then $seconds; records NAME_{rps,p50,p99,requests,non2xx}.
# The requests come from a file (cycle.lua) or are one GET of a path.
load() { # name, file-or-path, [wrk arguments...]
    local name="$1" target="$2" rps p50 p99 requests bad
    shift 2
    local args=(-t2 -c"$connections" --latency "$@")
    if [ -f "$target" ]; then
        export SCALE_REQUESTS="$target" SCALE_THREADS=2
        args+=(-s "$work/cycle.lua" "$base/")
    else
        args+=("$base$target")
    fi
    wrk -t2 -c"$connections" -d1s "${args[@]:3}" >/dev/null 2>&1 || true
    IFS=$'\t' read -r rps p50 p99 requests bad < <(wrk -d"${seconds}s" "${args[@]}" | wrk_figures)
    record "${name}_rps" "$rps"
    record "${name}_p50" "$p50"
    record "${name}_p99" "$p99"
    record "${name}_requests" "$requests"
    record "${name}_non2xx" "$bad"
    echo "   $name: $rps req/s, p50 $p50 ms, p99 $p99 ms ($bad not 2xx)"
}

# ------------------------------------------------------------------ keys

# Keys numbered 0..n-1: secret = the number in 64 hex digits, stored as the
# keys crate stores them (SHA-256 of the whole key, hex; the prefix shown
# to people); 1,000 organizations on the bench plan, key i in i % 1000.
seed_keys() { # n
    python3 - "$sqlite_file" "$1" <<'PY'
import hashlib, sqlite3, sys, time
path, n = sys.argv[1], int(sys.argv[2])
now = int(time.time() * 1000)
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = OFF")
orgs = min(1000, n)
db.executemany(
    "INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at) "
    "VALUES (?, ?, NULL, 'bench', ?, ?)",
    ((f"0000ca11-0000-7000-8000-{o:012x}", f"Organization {o}", now, now) for o in range(orgs)),
)
def rows():
    for i in range(n):
        key = f"sk_live_{i:064x}"
        yield (f"0000cee5-0000-7000-8000-{i:012x}", f"0000ca11-0000-7000-8000-{i % orgs:012x}",
               f"key {i}", key[:16], hashlib.sha256(key.encode()).hexdigest(), now)
db.executemany(
    "INSERT INTO api_keys (id, organization_id, created_by, name, prefix, key_hash, created_at) "
    "VALUES (?, ?, NULL, ?, ?, ?, ?)", rows())
db.commit()
PY
}

keys_part() {
    forget keys_
    record keys_sizes "$key_sizes"
    local n
    for n in $key_sizes; do
        echo "== key verification with $n keys (SQLite)"
        use_sqlite "keys-$n"
        landlord migrate >/dev/null
        local t0
        t0="$(now_ms)"
        seed_keys "$n"
        record "keys_${n}_seed_s" "$(python3 -c "print(f'{($(now_ms) - $t0) / 1000:.1f}')")"
        record "keys_${n}_db_mb" "$(du -m "$sqlite_file" | cut -f1)"
        # The requests: one known key; up to 100,000 distinct known keys
        # spread over the whole table; one unknown key; 100,000 distinct
        # unknown keys (well formed, numbered past the last one).
        python3 - "$n" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
path = "/api/v1/keys/verify"
def body(i):
    return f'{path}\t{{"key":"sk_live_{i:064x}"}}\n'
distinct = min(n, 100000)
step = n // distinct
with open(f"{work}/keys-hit", "w") as f:
    f.write(body(n // 2))
with open(f"{work}/keys-miss", "w") as f:
    f.writelines(body(i * step) for i in range(distinct))
with open(f"{work}/keys-unknown", "w") as f:
    f.write(body(n + 7))
with open(f"{work}/keys-unknown-distinct", "w") as f:
    f.writelines(body(n + 1000 + i) for i in range(100000))
PY
        start_server
        curl -fsS -X POST "$base/api/v1/keys/verify" -H 'content-type: application/json' \
            -d "{\"key\":\"sk_live_$(printf %064x $((n / 2)))\"}" | jq -e '.data.allowed' >/dev/null ||
            { echo "a seeded key is not accepted" >&2; exit 1; }
        load "keys_${n}_hit" "$work/keys-hit"
        load "keys_${n}_unknown" "$work/keys-unknown"
        load "keys_${n}_unknown_distinct" "$work/keys-unknown-distinct"
        stop_server
        # Every lookup to the database: the key cache kept 1 ms.
        start_server LANDLORD_API_KEY_CACHE_MS=1
        load "keys_${n}_miss" "$work/keys-miss"
        stop_server
        local hash
        hash="$(printf 'sk_live_%064x' $((n / 2)) | sha256sum | cut -d' ' -f1)"
        record "keys_${n}_plan_by_hash" "$(plan "SELECT id, organization_id, scopes, expires_at, revoked_at, rate_limit_per_minute FROM api_keys WHERE key_hash = '$hash'")"
        record "keys_${n}_plan_organization" "$(plan "SELECT * FROM organizations WHERE id = '0000ca11-0000-7000-8000-000000000001'")"
        record "keys_${n}_plan_last_used" "$(plan "UPDATE api_keys SET last_used_at = 1 WHERE id = '0000cee5-0000-7000-8000-000000000001' AND (last_used_at IS NULL OR last_used_at < 1)")"
    done
}

# ------------------------------------------------------------------ run

record scale_machine_cores "$(nproc)"
record scale_machine_cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
record scale_machine_memory "$(free -h | awk '/Mem:/ {print $2}')"
record scale_commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
record scale_date "$(date -u '+%Y-%m-%d %H:%M UTC')"
record scale_load_average "$(cut -d" " -f1-3 /proc/loadavg)"
record scale_seconds "$seconds"
record scale_connections "$connections"
record scale_wrk_version "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
record scale_sqlite_version "sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
record scale_quick "$quick"
record scale_build "${BENCH_BINARY:+server built beforehand ($BENCH_BINARY)}"
[ -n "${BENCH_BINARY:-}" ] || record scale_build "release build"
echo "== machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

started="$(date +%s)"
wants keys && keys_part
drop_previous
record scale_total_s "$(($(date +%s) - started))"
record scale_load_average_end "$(cut -d" " -f1-3 /proc/loadavg)"

python3 bench/scale_report.py "$results" BENCHMARKS.md
echo "== wrote BENCHMARKS.md (Cost over data size)"
