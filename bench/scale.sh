#!/usr/bin/env bash
# How the cost of a request grows with the data behind it: each capability
# is measured at several data sizes, so BENCHMARKS.md shows a curve, not a
# point. For each size, a freshly migrated database is filled by SQL (rows
# written the way the stores write them), the release server is started on
# it and each case is timed over HTTP: one request at a time (p50 and the
# slowest: what one user feels), then, when a request takes under 50 ms,
# loaded with wrk (2 threads, a few connections, BENCH_SECONDS):
# requests/s, p50 and p99 (see `load`). Beside each figure, the query plan
# of the statement the store runs for it (EXPLAIN QUERY PLAN on SQLite,
# EXPLAIN of a prepared statement on PostgreSQL): an index search stays
# logarithmic, a scan or a sort of every matching row grows with the data.
# The server's start-up time on each filled database is recorded too.
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
#             three hours of usage each, on SQLite and PostgreSQL: the
#             time per organization.
#   search    the marketplace's product search, full text and radius, with
#             BENCH_PRODUCT_SIZES products (10,000 to 1,000,000), on SQLite
#             and on PostgreSQL.
#   inbox     the inbox's conversation list and one conversation's thread
#             with BENCH_MESSAGE_SIZES messages (10,000 to 1,000,000) across
#             1,000 organizations.
#   audit     the audit log and the events list of one organization, first
#             page and a deep page (through the cursor), with
#             BENCH_AUDIT_SIZES rows of each (10,000 to 1,000,000).
#   webhooks  outgoing webhooks to a fast local receiver, for each case
#             ENDPOINTS:DELIVERIES of BENCH_WEBHOOK_CASES ("1:10000
#             10:10000 100:1000 100:10000"; at most 20 endpoints per
#             organization): a burst of events making that many
#             deliveries, inserted at once — deliveries per second until
#             the last one arrives, and each delivery's lag; then one event
#             per organization at a time, on an idle server — the lag of
#             the dispatcher and the delivery jobs.
#
# Environment: BENCH_BINARY (a server built beforehand instead of building
# the release one), BENCH_QUICK=1 (only the two smallest sizes of each
# part, and webhook cases "1:1000 100:1000": to try the script; about 6
# minutes, the whole run about 25), BENCH_SECONDS (each load, default 5),
# BENCH_CONNECTIONS (wrk's connections, 8), the size lists above
# (space-separated), BENCH_CLOSE_DATABASES and BENCH_SEARCH_DATABASES
# ("sqlite postgres"), BENCH_CACHE (where the results file is kept,
# ~/.cache/landlord-bench). Figures go to $BENCH_CACHE/scale-results (a part
# run alone replaces only its own figures and says when it ran), then
# bench/scale_report.py writes the "Cost over data size" section of
# BENCHMARKS.md. At most one filled database is on the disk at a time
# (up to about 1 GB); everything is removed at the end.
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
audit_sizes="$(sizes "${BENCH_AUDIT_SIZES:-10000 100000 1000000}")"
webhook_cases="${BENCH_WEBHOOK_CASES:-1:10000 10:10000 100:1000 100:10000}"
[ "$quick" = 1 ] && [ -z "${BENCH_WEBHOOK_CASES:-}" ] && webhook_cases="1:1000 100:1000"

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
    # As bench/run.sh: a commit survives the process, not a power loss
    # (and fsync off: the data is thrown away).
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

sql() { # [statement]: runs it (or stdin) on the current database
    if [ "$database_kind" = sqlite ]; then
        sqlite3 -batch "$sqlite_file" "$@"
    elif [ $# -gt 0 ]; then
        psql -qtA -v ON_ERROR_STOP=1 "$postgres_url" -c "$1"
    else
        psql -qtA -v ON_ERROR_STOP=1 "$postgres_url"
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

# The same, with the statement's parameters ($1, $2…) bound as the store
# binds them (SQL literals), so that the planner sees what it sees at run
# time: on SQLite through the shell's parameters, on PostgreSQL through a
# prepared statement with the parameters' types (the custom plan).
plan_bound() { # postgres types, statement, literals...
    local types="$1" statement="$2" i=1 v
    shift 2
    if [ "$database_kind" = sqlite ]; then
        {
            echo ".parameter init"
            for v in "$@"; do echo "INSERT INTO temp.sqlite_parameters VALUES ('\$$i', $v);"; i=$((i + 1)); done
            echo "EXPLAIN QUERY PLAN $statement;"
        } | sqlite3 -batch "$sqlite_file" | sed 's/^[|` -]*//' | grep -v '^QUERY PLAN$' | join_lines
    else
        {
            echo "PREPARE q ($types) AS $statement;"
            echo "EXPLAIN (COSTS OFF) EXECUTE q($(IFS=,; echo "$*"));"
        } | psql -qtA "$postgres_url" | sed 's/^ *//; s/^-> *//' | join_lines
    fi
}

landlord() { env "${server_env[@]}" LANDLORD_LOG_LEVEL=warn "$binary" "$@"; }

# A plan with room: no quota or rate limit answers during a load; unknown
# keys are not cut off per address (the negative cache is what is measured).
cat >"$work/bench.toml" <<TOML
invalid_api_key_per_minute = 100000000
sensitive_rate_limit_per_minute = 10000

# The webhooks part's receiver listens on http://127.0.0.1.
[webhooks]
allow_http = true
allow_private_addresses = true

[plans.bench]
price = 0
currency = "USD"
rate_limit_per_minute = 60000000
TOML

# -------------------------------------------------------------- servers

base=""
server_log=""
startup_ms=""

start_server() { # [extra environment...]
    local port
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    server_log="$data_dir/server.log"
    local start_ns
    start_ns="$(date +%s%N)"
    env "${server_env[@]}" "$@" LANDLORD_LOG_LEVEL=warn LANDLORD_LISTEN="127.0.0.1:$port" \
        "$binary" serve >>"$server_log" 2>&1 &
    server_pid=$!
    until curl -fsS "$base/health" >/dev/null 2>&1; do
        kill -0 "$server_pid" 2>/dev/null || { cat "$server_log"; exit 1; }
        sleep 0.02
    done
    startup_ms=$((($(date +%s%N) - start_ns) / 1000000))
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

# Fields of wrk --latency's report: rps p50_ms p99_ms requests, and the
# requests not answered with a 2xx (other statuses, and socket errors:
# among them requests still unanswered after wrk's 2 s timeout).
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
        /Non-2xx/ { bad += $NF }
        # Requests not answered: refused, cut, or over wrk'"'"'s 2 s timeout.
        /Socket errors:/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
        /^Requests\/sec:/ { rps = $2 }
        END { printf "%.0f\t%.3f\t%.3f\t%d\t%d\n", rps, p50, p99, requests, bad + 0 }'
}

# Waits (30 s at most) until PostgreSQL runs no statement of the server's:
# requests a load left behind finish before the next measurement.
settle() {
    [ "$database_kind" = postgres ] || return 0
    local i
    for i in $(seq 300); do
        [ "$(psql -qtA "$postgres_url" -c "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()")" = 0 ] && return 0
        sleep 0.1
    done
}

# Times one request (a path, or "PATH<TAB>BODY" for a POST) `count` times
# in turn, for 20 s at most; prints the milliseconds of each,
# comma-separated (a request is given up after 60 s).
timed_alone() { # request, count, [curl arguments: -H header]...
    local request="$1" count="$2" path body="" i out=() until=$(($(date +%s) + 20))
    shift 2
    path="${request%%$'\t'*}"
    [[ "$request" == *$'\t'* ]] && body="${request#*$'\t'}"
    for i in $(seq "$count"); do
        # At most 20 s of requests a case (but always one).
        [ "$i" -gt 1 ] && [ "$(date +%s)" -ge "$until" ] && break
        if [ -n "$body" ]; then
            out+=("$(curl -fsS -o /dev/null -m 60 -w '%{time_total}' "$@" -X POST -H 'content-type: application/json' -d "$body" "$base$path" | awk '{printf "%.1f", $1 * 1000}')")
        else
            out+=("$(curl -fsS -o /dev/null -m 60 -w '%{time_total}' "$@" "$base$path" | awk '{printf "%.1f", $1 * 1000}')")
        fi
    done
    (IFS=,; echo "${out[*]}")
}

# One case, measured two ways. Alone: one request at a time (the first
# one cold, then up to 20 more: fewer when a request is slow), p50 and the
# slowest; this is the latency a user feels on a quiet server. Loaded: wrk
# for $seconds after a 1 s warm-up, at $connections connections (the
# requests from a file, cycled by cycle.lua, or one GET of a path):
# requests/s, p50, p99 — only when a request alone takes under 50 ms (a
# closed load of slower ones only queues them and keeps the database busy
# past the load); a slower case's requests/s is 1,000 / its p50 alone (one
# at a time). Records NAME_{first_ms,alone_p50,alone_max,alone_n,rps,p50,
# p99,requests,non2xx} and NAME_alone=1 when not loaded.
load() { # name, file-or-path, [wrk arguments: -H header]...
    local name="$1" target="$2" rps p50 p99 requests bad
    shift 2
    local args=(-t2 -c"$connections" --latency "$@")
    if [ -f "$target" ]; then
        export SCALE_REQUESTS="$target" SCALE_THREADS=2
        args+=(-s "$work/cycle.lua" "$base/")
    else
        args+=("$base$target")
    fi
    local probe="$target" first more headers=() rest=("$@")
    [ -f "$target" ] && probe="$(head -1 "$target")"
    while [ ${#rest[@]} -gt 0 ]; do
        if [ "${rest[0]}" = -H ] && [ ${#rest[@]} -gt 1 ]; then
            headers+=(-H "${rest[1]}")
            rest=("${rest[@]:2}")
        else
            rest=("${rest[@]:1}")
        fi
    done
    first="$(timed_alone "$probe" 1 "${headers[@]}")"
    local count=20
    if python3 -c "import sys; sys.exit(0 if $first > 1000 else 1)"; then count=2
    elif python3 -c "import sys; sys.exit(0 if $first > 100 else 1)"; then count=5; fi
    more="$(timed_alone "$probe" "$count" "${headers[@]}")"
    local alone_p50 alone_max
    read -r alone_p50 alone_max < <(python3 -c "
import statistics
t = [$more]
print(f'{statistics.median(t):.2f} {max(t):.2f}')")
    record "${name}_first_ms" "$first"
    record "${name}_alone_p50" "$alone_p50"
    record "${name}_alone_max" "$alone_max"
    record "${name}_alone_n" "$(($(tr -cd , <<<"$more" | wc -c) + 1))"
    if python3 -c "import sys; sys.exit(0 if $alone_p50 >= 50 else 1)"; then
        record "${name}_rps" "$(python3 -c "print(f'{1000 / $alone_p50:.1f}')")"
        record "${name}_p50" "$alone_p50"
        record "${name}_p99" "$alone_max"
        record "${name}_requests" "$((count + 1))"
        record "${name}_non2xx" 0
        record "${name}_alone" 1
        echo "   $name: alone p50 $alone_p50 ms, slowest $alone_max ms (first $first ms); too slow to load"
        return 0
    fi
    wrk -t2 -c"$connections" -d1s "${args[@]:3}" >/dev/null 2>&1 || true
    settle
    IFS=$'\t' read -r rps p50 p99 requests bad < <(wrk -d"${seconds}s" "${args[@]}" | wrk_figures)
    settle
    record "${name}_rps" "$rps"
    record "${name}_p50" "$p50"
    record "${name}_p99" "$p99"
    record "${name}_requests" "$requests"
    record "${name}_non2xx" "$bad"
    echo "   $name: alone p50 $alone_p50 ms (first $first ms); loaded $rps req/s, p50 $p50 ms, p99 $p99 ms ($bad not 2xx)"
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
        record "keys_${n}_startup_ms" "$startup_ms"
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

# ----------------------------------------------------------------- close

last_month() { date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m; }

# N organizations created the day before the month (plan `starter`, a
# billing email: a priced cycle and an invoice mail each) with three hours
# of usage each in the month, in the hourly counters billing reads (the
# raw request log is not read by the close and is left empty). Ids are
# well-formed UUIDs numbered in SQL, so the chunks of 1,000 the close
# takes in id order are contiguous.
populate_close() { # n, month start ms
    local n="$1" start="$2"
    if [ "$database_kind" = sqlite ]; then
        sql <<SQL >/dev/null
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at)
SELECT printf('00000000-0000-7000-8000-%012d', i), 'Organization ' || i,
       'billing' || i || '@example.com', 'starter', $start - 86400000, $start - 86400000
FROM s;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n),
     h(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM h WHERE j < 2)
INSERT INTO usage_hourly (organization_id, api_key_id, route, status_class, hour, requests)
SELECT printf('00000000-0000-7000-8000-%012d', i), '', 'POST /api/v1/keys/verify', 2,
       $start + ((i + j * 97) % 600) * 3600000, 1 + i % 5
FROM s, h;
COMMIT;
SQL
    else
        sql <<SQL >/dev/null
BEGIN;
INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at)
SELECT '00000000-0000-7000-8000-' || lpad(i::text, 12, '0'), 'Organization ' || i,
       'billing' || i || '@example.com', 'starter', $start - 86400000, $start - 86400000
FROM generate_series(1, $n) AS i;
INSERT INTO usage_hourly (organization_id, api_key_id, route, status_class, hour, requests)
SELECT '00000000-0000-7000-8000-' || lpad(i::text, 12, '0'), '', 'POST /api/v1/keys/verify', 2,
       $start + ((i + j * 97) % 600) * 3600000::bigint, 1 + i % 5
FROM generate_series(1, $n) AS i, generate_series(0, 2) AS j;
COMMIT;
ANALYZE;
SQL
    fi
}

close_part() {
    forget close_
    local month start end n database
    month="$(last_month)"
    start="$(($(date -u -d "$month-01" +%s) * 1000))"
    end="$(($(date -u -d "$month-01 +1 month" +%s) * 1000))"
    record close_month "$month"
    record close_sizes "$close_sizes"
    for database in ${BENCH_CLOSE_DATABASES:-sqlite postgres}; do
        for n in $close_sizes; do
            echo "== close of $month with $n organizations on $database"
            "use_$database" "close-$n"
            landlord migrate >/dev/null
            local t0 took cycles p="close_${database}_${n}"
            t0="$(now_ms)"
            populate_close "$n" "$start"
            record "${p}_insert_s" "$(python3 -c "print(f'{($(now_ms) - $t0) / 1000:.1f}')")"
            t0="$(now_ms)"
            landlord close-period --month "$month" >"$data_dir/close.out"
            took="$(python3 -c "print(f'{($(now_ms) - $t0) / 1000:.2f}')")"
            cycles="$(sql "SELECT COUNT(*) FROM billing_cycles")"
            record "${p}_s" "$took"
            record "${p}_cycles" "$cycles"
            echo "   $(cat "$data_dir/close.out") in $took s"
            local first="00000000-0000-7000-8000-000000000001" last="00000000-0000-7000-8000-000000001000"
            record "${p}_plan_organizations" "$(plan "SELECT id, name, billing_email, plan, created_at FROM organizations WHERE created_at < $end ORDER BY id")"
            record "${p}_plan_usage" "$(plan "SELECT organization_id, CAST(SUM(requests) AS BIGINT) FROM usage_hourly WHERE organization_id >= '$first' AND organization_id <= '$last' AND hour >= $start AND hour < $end GROUP BY organization_id")"
            record "${p}_plan_changes" "$(plan "SELECT organization_id, from_plan, to_plan, created_at FROM plan_changes WHERE organization_id >= '$first' AND organization_id <= '$last' AND created_at > $start ORDER BY organization_id, created_at, id")"
        done
    done
}

# ---------------------------------------------------------------- search

# N products of 100 approved stores, written as the catalog writes them
# (the searchable text is "title description categories"; on SQLite its
# FTS5 mirror too, on PostgreSQL the GIN index the server creates when it
# starts): a title of an adjective and one of 10 nouns (each noun in one
# product in 10: "kettle" is the common word), a description of a few
# words (one product in 1,000 also has "zeppelin": the rare word), a
# location spread evenly over a box of about 890 × 480 km. PostgreSQL's
# full-text index is built with the store's statement before the server
# starts (then analyzed, as autovacuum would).
products_csv() { # n, file
    python3 - "$1" "$2" <<'PY'
import csv, sys, time
n, path = int(sys.argv[1]), sys.argv[2]
now = int(time.time() * 1000) - n
adjectives = ("red blue green small large antique modern rustic folding vintage handmade "
              "wooden steel brass woollen quiet bright heavy light compact").split()
nouns = "lamp chair table kettle bicycle jacket teapot guitar blanket mirror".split()
materials = "oak pine walnut copper linen cotton leather glass ceramic bamboo".split()
towns = "leeds york bristol glasgow cardiff belfast norwich exeter carlisle dundee".split()
with open(path, "w", newline="") as f:
    out = csv.writer(f)
    for i in range(n):
        title = f"{adjectives[(i * 7) % len(adjectives)]} {nouns[i % 10]} {i}"
        description = (f"{adjectives[(i * 13) % len(adjectives)]} {materials[(i // 10) % 10]} "
                       f"from {towns[(i // 100) % 10]}" + (" zeppelin" if i % 1000 == 999 else ""))
        latitude = 50 + 8 * ((i * 7919) % 1000003) / 1000003
        longitude = -5 + 7 * ((i * 104729) % 999983) / 999983
        out.writerow((
            f"0000b0d5-0000-7000-8000-{i:012x}", f"0000ca11-0000-7000-8000-{i % 100:012x}",
            title, f"item-{i}", description, 1000 + i % 9000, "USD", 5, "active", "[]", "[]",
            f"{title} {description} ", f"{latitude:.6f}", f"{longitude:.6f}", now + i, now + i,
        ))
PY
}

search_vendors_sql() { # now ms (the temporary table s holds the ids, n their number)
    cat <<SQL
INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at)
SELECT id, 'Store ' || n, NULL, 'bench', $1, $1 FROM s;
INSERT INTO marketplace_vendors (organization_id, store_name, slug, payout_provider, payout_account,
    status, approved_at, created_at, updated_at)
SELECT id, 'Store ' || n, 'store-' || n, 'stripe', 'acct_bench', 'approved', $1, $1, $1 FROM s;
SQL
}

populate_products() { # n
    local n="$1" now csv="$work/products.csv"
    now="$(now_ms)"
    products_csv "$n" "$csv"
    local columns="id, vendor_id, title, slug, description, price, currency, stock, status, categories, images, search_text, latitude, longitude, created_at, updated_at"
    if [ "$database_kind" = sqlite ]; then
        sql <<SQL >/dev/null
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
CREATE TABLE bench_products_csv (id, vendor_id, title, slug, description, price, currency, stock, status, categories, images, search_text, latitude, longitude, created_at, updated_at);
.mode csv
.import $csv bench_products_csv
.mode list
BEGIN;
CREATE TEMP TABLE s AS WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < 99)
SELECT printf('0000ca11-0000-7000-8000-%012x', n) AS id, n FROM r;
$(search_vendors_sql "$now")
INSERT INTO marketplace_products ($columns)
SELECT id, vendor_id, title, slug, description, CAST(price AS INTEGER), currency, CAST(stock AS INTEGER), status,
       categories, images, search_text, CAST(latitude AS REAL), CAST(longitude AS REAL),
       CAST(created_at AS INTEGER), CAST(updated_at AS INTEGER) FROM bench_products_csv;
-- The catalog's FTS5 mirror (created by the migrations), each product
-- naming its row as the store's writes do.
INSERT INTO marketplace_product_search (rowid, product_id, body) SELECT rowid, id, search_text FROM marketplace_products;
UPDATE marketplace_products SET search_rowid = rowid;
DROP TABLE bench_products_csv;
COMMIT;
ANALYZE;
SQL
    else
        sql <<SQL >/dev/null
BEGIN;
CREATE TEMP TABLE s AS SELECT '0000ca11-0000-7000-8000-' || lpad(to_hex(n), 12, '0') AS id, n FROM generate_series(0, 99) AS n;
$(search_vendors_sql "$now")
\\copy marketplace_products ($columns) FROM '$csv' WITH (FORMAT csv)
COMMIT;
-- The full-text index, as the store creates it when the server starts.
CREATE INDEX IF NOT EXISTS marketplace_products_search ON marketplace_products USING GIN (to_tsvector('english', search_text));
ANALYZE;
SQL
    fi
    rm -f "$csv"
}

# The catalog's statement (the store's catalog query), with a full-text or
# a radius filter, the other filters off; on SQLite, text_window is a
# common word's search among the newest $16 products.
catalog_statement() { # sqlite|postgres, text|text_window|radius
    local columns="p.id, p.vendor_id, p.title, p.slug, p.description, p.price, p.currency, p.stock, p.reserved, p.status, p.categories, p.images, p.latitude, p.longitude, p.location_label, p.rating_sum, p.rating_count, p.created_at, p.updated_at, v.store_name AS store_name, v.slug AS store_slug"
    local within="\$8 = 0 AND \$9 = \$10 AND \$11 = \$12" search="\$14 = ''" window="" listed="p.status"
    if [ "$2" = radius ]; then
        within="\$8 = 1 AND p.latitude BETWEEN \$9 AND \$10 AND p.longitude BETWEEN \$11 AND \$12"
    elif [ "$2" = text_window ]; then
        window="WITH newest AS MATERIALIZED (SELECT id, search_rowid FROM marketplace_products WHERE +status = 'active' AND \$13 = '' ORDER BY id DESC LIMIT \$16), matched AS MATERIALIZED (SELECT rowid AS search_rowid FROM marketplace_product_search WHERE marketplace_product_search MATCH \$14 AND rowid >= (SELECT min(search_rowid) FROM newest)) "
        search="p.id IN (SELECT n.id FROM newest n JOIN matched m ON m.search_rowid = n.search_rowid)"
        listed="+p.status"
    elif [ "$1" = sqlite ]; then
        search="p.id IN (SELECT product_id FROM marketplace_product_search WHERE marketplace_product_search MATCH \$14)"
    else
        search="to_tsvector('english', p.search_text) @@ plainto_tsquery('english', \$14)"
    fi
    echo "${window}SELECT $columns FROM marketplace_products p JOIN marketplace_vendors v ON v.organization_id = p.vendor_id WHERE $listed = 'active' AND v.status = 'approved' AND \$1 = '' AND (\$2 = '' OR v.slug = \$2) AND (\$3 = 0 OR p.price >= \$4) AND (\$5 = 0 OR p.price <= \$6) AND (\$7 = '' OR p.currency = \$7) AND $within AND (\$13 = '' OR p.id < \$13) AND $search ORDER BY p.id DESC LIMIT \$15"
}

search_part() {
    forget search_
    record search_sizes "$product_sizes"
    local database n case
    local types="text, text, bigint, bigint, bigint, bigint, text, bigint, float8, float8, float8, float8, text, text, bigint"
    # 10 km around (54, -1.5): the box the store's bounding_box gives.
    local box
    box="$(python3 -c '
import math
lat, lng, r = 54.0, -1.5, 10.0
d = r / 111.195
lo, hi = lat - d, lat + d
c = math.cos(math.radians(max(abs(lo), abs(hi))))
e = r / (111.195 * c)
print(f"{lo} {hi} {lng - e} {lng + e}")')"
    read -r min_lat max_lat min_lng max_lng <<<"$box"
    for database in ${BENCH_SEARCH_DATABASES:-sqlite postgres}; do
        for n in $product_sizes; do
            echo "== marketplace search with $n products on $database"
            "use_$database" "search-$n"
            landlord migrate >/dev/null
            local t0
            t0="$(now_ms)"
            populate_products "$n"
            # The server's statements are stopped after 20 s: a search that
            # slow would otherwise keep the database busy long after its
            # load ended (it counts as an answer other than 2xx).
            [ "$database" = postgres ] && sql "ALTER DATABASE $postgres_database SET statement_timeout = '20s'" >/dev/null
            start_server
            record "search_${database}_${n}_startup_ms" "$startup_ms"
            record "search_${database}_${n}_seed_s" "$(python3 -c "print(f'{($(now_ms) - $t0) / 1000:.1f}')")"
            local path="/api/v1/marketplace/products"
            for case in "text_rare|?q=zeppelin" "text_common|?q=kettle" "radius|?latitude=54&longitude=-1.5&radius_km=10"; do
                local name="${case%%|*}" query="${case#*|}"
                record "search_${database}_${n}_${name}_results" \
                    "$(curl -fsS "$base$path$query" | jq '.data | length')"
                load "search_${database}_${n}_${name}" "$path$query"
            done
            stop_server
            local no_box=(0 0.0 0.0 0.0 0.0)
            record "search_${database}_${n}_plan_text" "$(plan_bound "$types" "$(catalog_statement "$database" text)" \
                "''" "''" 0 0 0 0 "''" "${no_box[@]}" "''" "$([ "$database" = sqlite ] && echo "'\"kettle\"'" || echo "'kettle'")" 51)"
            record "search_${database}_${n}_plan_text_rare" "$(plan_bound "$types" "$(catalog_statement "$database" text)" \
                "''" "''" 0 0 0 0 "''" "${no_box[@]}" "''" "$([ "$database" = sqlite ] && echo "'\"zeppelin\"'" || echo "'zeppelin'")" 51)"
            if [ "$database" = sqlite ]; then
                # A common word's search among the newest products (the
                # window of a page of 51).
                record "search_${database}_${n}_plan_text_window" "$(plan_bound "$types" "$(catalog_statement "$database" text_window)" \
                    "''" "''" 0 0 0 0 "''" "${no_box[@]}" "''" "'\"kettle\"'" 51 2550)"
            fi
            if [ "$database" = postgres ]; then
                # The plan a prepared statement ends up with after five runs
                # when PostgreSQL finds it no worse than the custom ones.
                record "search_${database}_${n}_plan_text_generic" "$(PGOPTIONS='-c plan_cache_mode=force_generic_plan' plan_bound "$types" "$(catalog_statement "$database" text)" \
                    "''" "''" 0 0 0 0 "''" "${no_box[@]}" "''" "'kettle'" 51)"
                record "search_${database}_${n}_indexes" "$(sql "SELECT string_agg(indexname, ', ') FROM pg_indexes WHERE tablename = 'marketplace_products'")"
            fi
            record "search_${database}_${n}_plan_radius" "$(plan_bound "$types" "$(catalog_statement "$database" radius)" \
                "''" "''" 0 0 0 0 "''" 1 "$min_lat" "$max_lat" "$min_lng" "$max_lng" "''" "''" 51)"
        done
    done
}

# ----------------------------------------------------------------- inbox

# N messages across 1,000 organizations (the measured one, registered over
# HTTP, and 999 more), in conversations of 10 messages (conversation n in
# organization n % 1000, with a WhatsApp channel per organization and a
# contact per conversation), alternating incoming and outgoing a minute
# apart, as the inbox store writes them; one conversation in 20 still open.
populate_inbox() { # n, the measured organization's id
    local n="$1" organization="$2" conversations=$(($1 / 10)) now start
    now="$(now_ms)"
    start=$((now - 90 * 86400000))
    sql <<SQL >/dev/null
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE orgs AS WITH RECURSIVE r(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM r WHERE k < 999)
SELECT k, CASE WHEN k = 0 THEN '$organization' ELSE printf('0000ca11-0000-7000-8000-%012x', k) END AS id,
       printf('0000c4a2-0000-7000-8000-%012x', k) AS channel_id FROM r;
INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at)
SELECT id, 'Organization ' || k, NULL, 'bench', $start, $start FROM orgs WHERE k > 0;
INSERT INTO inbox_channels (id, organization_id, name, phone_number_id, business_account_id,
    access_token_sealed, app_secret_sealed, verify_token_sealed, access_token_hint, created_at, updated_at)
SELECT channel_id, id, 'Support line', printf('1065403522%06d', k), '1', 'x', 'x', 'x', 'xxxx', $start, $start FROM orgs;
CREATE TEMP TABLE seq AS
WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < $conversations)
SELECT n, o.id AS organization_id, o.channel_id,
       printf('0000c0c0-0000-7000-8000-%012x', n) AS contact_id,
       printf('0000c0de-0000-7000-8000-%012x', n) AS conversation_id,
       $start + n * (90 * 86400000 / $conversations) AS opened_at
FROM s JOIN orgs o ON o.k = s.n % 1000;
INSERT INTO inbox_contacts (id, organization_id, channel_id, wa_id, name, phone, created_at, updated_at)
SELECT contact_id, organization_id, channel_id, printf('44%010d', n), 'Customer ' || n, printf('+44%010d', n), opened_at, opened_at FROM seq;
INSERT INTO inbox_conversations (id, organization_id, channel_id, contact_id, number, status, assignee_id,
    last_activity_at, resolved_at, created_at, updated_at)
SELECT conversation_id, organization_id, channel_id, contact_id, n / 1000 + 1,
       CASE WHEN n % 20 = 0 THEN 'open' ELSE 'resolved' END, NULL,
       opened_at + 9 * 60000, CASE WHEN n % 20 = 0 THEN NULL ELSE opened_at + 3600000 END, opened_at, opened_at + 9 * 60000 FROM seq;
INSERT INTO inbox_counters (organization_id, last_number)
SELECT id, ($conversations - k + 999) / 1000 FROM orgs WHERE k < $conversations;
INSERT INTO inbox_messages (id, organization_id, conversation_id, channel_id, direction, kind, body,
    provider_message_id, status, created_at, updated_at)
WITH RECURSIVE m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k + 1 < 10)
SELECT printf('0000e55a-%04x-7000-8000-%012x', k, n), organization_id, conversation_id, channel_id,
       CASE WHEN k % 2 = 0 THEN 'incoming' ELSE 'outgoing' END, 'text',
       'Message ' || k || ' of conversation ' || n || ': where is my order?',
       printf('wamid.%d.%d', n, k),
       CASE WHEN k % 2 = 0 THEN 'received' ELSE 'read' END,
       opened_at + k * 60000, opened_at + k * 60000
FROM seq, m;
COMMIT;
ANALYZE;
SQL
}

# Signs up (the owner of a new organization); sets access and organization.
sign_up() { # name
    local registered
    registered="$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"organization_name\": \"$1\", \"email\": \"$1@example.com\", \"password\": \"scale password 1\"}")"
    organization="$(jq -r .data.organization.id <<<"$registered")"
    owner="$(jq -r .data.user.id <<<"$registered")"
}
sign_in() { # name
    access="$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\": \"$1@example.com\", \"password\": \"scale password 1\"}" | jq -r .data.access_token)"
    [ -n "$access" ] && [ "$access" != null ] || { echo "no access token" >&2; exit 1; }
}

inbox_part() {
    forget inbox_
    record inbox_sizes "$message_sizes"
    local n organization owner access
    for n in $message_sizes; do
        echo "== inbox with $n messages across 1,000 organizations (SQLite)"
        use_sqlite "inbox-$n"
        start_server
        sign_up inbox
        stop_server
        local t0
        t0="$(now_ms)"
        populate_inbox "$n" "$organization"
        record "inbox_${n}_seed_s" "$(python3 -c "print(f'{($(now_ms) - $t0) / 1000:.1f}')")"
        record "inbox_${n}_db_mb" "$(du -m "$sqlite_file" | cut -f1)"
        record "inbox_${n}_messages" "$(sql "SELECT COUNT(*) FROM inbox_messages")"
        # The measured organization's conversations, in turn.
        sql "SELECT '/api/v1/inbox/conversations/' || id || '/messages' FROM inbox_conversations WHERE organization_id = '$organization' ORDER BY id" >"$work/threads"
        record "inbox_${n}_conversations" "$(wc -l <"$work/threads")"
        start_server
        record "inbox_${n}_startup_ms" "$startup_ms"
        sign_in inbox
        record "inbox_${n}_list_results" "$(curl -fsS -H "authorization: Bearer $access" "$base/api/v1/inbox/conversations" | jq '.data | length')"
        load "inbox_${n}_list" /api/v1/inbox/conversations -H "authorization: Bearer $access"
        load "inbox_${n}_thread" "$work/threads" -H "authorization: Bearer $access"
        stop_server
        local conversation
        conversation="$(sql "SELECT id FROM inbox_conversations WHERE organization_id = '$organization' ORDER BY id LIMIT 1")"
        record "inbox_${n}_plan_list" "$(plan_bound "" "SELECT c.id, c.organization_id, c.channel_id, c.contact_id, c.number, c.status, c.snoozed_until, c.assignee_id, c.team, c.last_activity_at, c.resolved_at, c.created_at, c.updated_at FROM inbox_conversations c WHERE c.organization_id = \$1 AND (\$2 = '' OR (c.status = \$2 AND NOT (c.status = 'snoozed' AND c.snoozed_until <= \$10)) OR (\$2 = 'open' AND c.status = 'snoozed' AND c.snoozed_until <= \$10)) AND (\$3 = 0 OR (\$4 = '' AND c.assignee_id IS NULL) OR c.assignee_id = \$4) AND (\$5 = '' OR EXISTS (SELECT 1 FROM inbox_conversation_labels l WHERE l.conversation_id = c.id AND l.label = \$5)) AND (\$6 = 0 OR c.last_activity_at < \$7 OR (c.last_activity_at = \$7 AND c.id < \$8)) ORDER BY c.last_activity_at DESC, c.id DESC LIMIT \$9" \
            "'$organization'" "''" 0 "''" "''" 0 0 "''" 51 "$(now_ms)")"
        record "inbox_${n}_plan_thread" "$(plan_bound "" "SELECT id, organization_id, conversation_id, channel_id, direction, kind, body, template, media, provider_message_id, status, error, sent_by, created_at, updated_at FROM inbox_messages WHERE organization_id = \$1 AND conversation_id = \$2 AND (\$3 = '' OR id < \$3) ORDER BY id DESC LIMIT \$4" \
            "'$organization'" "'$conversation'" "''" 51)"
    done
}

# ----------------------------------------------------------------- audit

# N audit entries and N events of the measured organization, oldest
# first, one a minute, by its owner, as the audit and events stores write
# them (the events already dispatched: no webhook endpoint).
populate_audit() { # n, organization, owner
    local n="$1" organization="$2" owner="$3" now start
    now="$(now_ms)"
    start=$((now - n * 60000))
    sql <<SQL >/dev/null
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE seq AS WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $n)
SELECT i, $start + i * 60000 AS at FROM s;
INSERT INTO audit_log (id, organization_id, actor_user_id, actor_api_key_id, action, target_type,
    target_id, ip, user_agent, details, created_at)
SELECT printf('0000a0d1-0000-7000-8000-%012x', i), '$organization', '$owner', NULL, 'api_key.created',
       'api_key', printf('0000cee5-0000-7000-8000-%012x', i), '127.0.0.1', 'curl/8',
       '{"name":"key ' || i || '","prefix":"sk_live_' || printf('%08x', i) || '"}', at FROM seq;
INSERT INTO events (id, organization_id, type, version, payload, created_at, dispatched)
SELECT printf('0000e7e7-0000-7000-8000-%012x', i), '$organization', 'api_key.created', 1,
       '{"organization_id":"$organization","api_key_id":"' || printf('0000cee5-0000-7000-8000-%012x', i) ||
       '","name":"key ' || i || '","prefix":"sk_live_' || printf('%08x', i) || '","created_by":"$owner"}', at, 1 FROM seq;
COMMIT;
ANALYZE;
SQL
}

audit_part() {
    forget audit_
    record audit_sizes "$audit_sizes"
    local n organization owner access
    for n in $audit_sizes; do
        echo "== audit log and events with $n rows each (SQLite)"
        use_sqlite "audit-$n"
        start_server
        sign_up audit
        stop_server
        local t0
        t0="$(now_ms)"
        populate_audit "$n" "$organization" "$owner"
        record "audit_${n}_seed_s" "$(python3 -c "print(f'{($(now_ms) - $t0) / 1000:.1f}')")"
        record "audit_${n}_db_mb" "$(du -m "$sqlite_file" | cut -f1)"
        # The deep page: after the entry 90 % of the way down, newest first.
        local deep_audit deep_event
        deep_audit="$(printf '0000a0d1-0000-7000-8000-%012x' $((n / 10)))"
        deep_event="$(printf '0000e7e7-0000-7000-8000-%012x' $((n / 10)))"
        start_server
        record "audit_${n}_startup_ms" "$startup_ms"
        sign_in audit
        record "audit_${n}_deep_results" "$(curl -fsS -H "authorization: Bearer $access" "$base/api/v1/audit-log?cursor=$deep_audit" | jq '.data | length')"
        load "audit_${n}_audit_first" /api/v1/audit-log -H "authorization: Bearer $access"
        load "audit_${n}_audit_deep" "/api/v1/audit-log?cursor=$deep_audit" -H "authorization: Bearer $access"
        load "audit_${n}_events_first" /api/v1/events -H "authorization: Bearer $access"
        load "audit_${n}_events_deep" "/api/v1/events?cursor=$deep_event" -H "authorization: Bearer $access"
        stop_server
        local audit_sql events_sql
        # The statements the stores run for a page without filters (only
        # the filters asked for are in them) and for a page after a cursor.
        audit_sql="SELECT id, action, actor_user_id, actor_api_key_id, target_type, target_id, ip, user_agent, details, created_at FROM audit_log WHERE organization_id = \$1"
        events_sql="SELECT id, organization_id, type, version, payload, created_at FROM events WHERE organization_id = \$1"
        record "audit_${n}_plan_audit_first" "$(plan_bound "" "$audit_sql ORDER BY id DESC LIMIT \$2" "'$organization'" 51)"
        record "audit_${n}_plan_audit_deep" "$(plan_bound "" "$audit_sql AND id < \$2 ORDER BY id DESC LIMIT \$3" "'$organization'" "'$deep_audit'" 51)"
        record "audit_${n}_plan_events_first" "$(plan_bound "" "$events_sql ORDER BY id DESC LIMIT \$2" "'$organization'" 51)"
        record "audit_${n}_plan_events_deep" "$(plan_bound "" "$events_sql AND id < \$2 ORDER BY id DESC LIMIT \$3" "'$organization'" "'$deep_event'" 51)"
    done
}

# -------------------------------------------------------------- webhooks

# A receiver answering 200 at once, keeping each arrival's time; GET
# /stats answers them (milliseconds since the epoch) and forgets them.
cat >"$work/receiver.py" <<'PY'
import asyncio, json, sys, time
arrivals = []
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /stats"):
                body = json.dumps(arrivals).encode()
                arrivals.clear()
            else:
                arrivals.append(time.time() * 1000)
                body = b""
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY

# Events of the organizations in organizations.txt (one id a line), as
# the events store writes them, not yet dispatched; prints the time of the
# insert (ms).
insert_events() { # events per organization, first number
    local per="$1" from="$2" at
    at="$(now_ms)"
    sql <<SQL >/dev/null
.timeout 10000
BEGIN IMMEDIATE;
CREATE TEMP TABLE o (k INTEGER, id TEXT);
$(awk '{ printf "INSERT INTO o VALUES (%d, '"'"'%s'"'"');\n", NR - 1, $1 }' "$work/organizations.txt")
INSERT INTO events (id, organization_id, type, version, payload, created_at, dispatched)
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $per)
SELECT printf('0000e7e7-%04x-7000-8000-%012x', o.k, $from + s.i), o.id, 'api_key.created', 1,
       '{"organization_id":"' || o.id || '","api_key_id":"0000cee5-0000-7000-8000-000000000001","name":"key","prefix":"sk_live_00000001","created_by":"' || o.id || '"}',
       $at, 0
FROM s, o ORDER BY s.i, o.k;
COMMIT;
SQL
    echo "$at"
}

# Waits until the receiver has `expected` arrivals since the last call
# (at most `limit` seconds); prints "arrivals first_ms last_ms p50 p99 max"
# (lags from `at`, ms).
arrivals_since() { # at, expected, limit seconds, receiver port
    python3 - "$@" <<'PY'
import json, sys, time, urllib.request
at, expected, limit, port = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
got, deadline = [], time.time() + limit
while len(got) < expected and time.time() < deadline:
    time.sleep(0.05)
    got += json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats"))
lags = sorted(t - at for t in got)
if not lags:
    print("0 0 0 0 0 0"); sys.exit()
q = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))]
print(len(lags), f"{lags[0]:.0f}", f"{lags[-1]:.0f}", f"{q(0.5):.0f}", f"{q(0.99):.0f}", f"{lags[-1]:.0f}")
PY
}

webhooks_part() {
    forget webhooks_
    record webhooks_cases "$webhook_cases"
    local receiver_port
    receiver_port="$(free_port)"
    python3 "$work/receiver.py" "$receiver_port" &
    local receiver_pid=$!
    other_pids+=("$receiver_pid")
    local case endpoints deliveries
    for case in $webhook_cases; do
        endpoints="${case%%:*}"
        deliveries="${case#*:}"
        local orgs=$(((endpoints + 19) / 20)) per_org=$((endpoints < 20 ? endpoints : 20))
        local p="webhooks_${endpoints}_${deliveries}"
        echo "== outgoing webhooks: $deliveries deliveries to $endpoints endpoint(s) in $orgs organization(s) (SQLite)"
        use_sqlite "webhooks-$endpoints-$deliveries"
        start_server
        : >"$work/organizations.txt"
        local o e organization owner access
        for o in $(seq "$orgs"); do
            sign_up "hooks$o"
            sign_in "hooks$o"
            echo "$organization" >>"$work/organizations.txt"
            for e in $(seq "$per_org"); do
                curl -fsS -o /dev/null -X POST "$base/api/v1/webhooks/endpoints" -H 'content-type: application/json' \
                    -H "authorization: Bearer $access" \
                    -d "{\"url\": \"http://127.0.0.1:$receiver_port/hook/$o/$e\"}"
            done
        done
        # What the sign-ups and endpoints themselves sent, if anything.
        sleep 2.5
        arrivals_since "$(now_ms)" 1000000 0.2 "$receiver_port" >/dev/null
        # Each event reaches its organization's endpoints.
        local events=$((deliveries / per_org))
        [ "$events" -lt 1 ] && events=1
        local per_organization=$(((events + orgs - 1) / orgs)) at figures
        local expected=$((per_organization * orgs * per_org))
        record "${p}_endpoints" "$endpoints"
        record "${p}_organizations" "$orgs"
        record "${p}_events" "$((per_organization * orgs))"
        at="$(insert_events "$per_organization" 0)"
        figures="$(arrivals_since "$at" "$expected" 300 "$receiver_port")"
        read -r got first last lag_p50 lag_p99 lag_max <<<"$figures"
        record "${p}_delivered" "$got"
        record "${p}_expected" "$expected"
        record "${p}_s" "$(python3 -c "print(f'{$last / 1000:.1f}')")"
        record "${p}_per_s" "$(python3 -c "print(f'{$got * 1000 / max($last, 1):.0f}')")"
        record "${p}_first_ms" "$first"
        record "${p}_lag_p50" "$lag_p50"
        record "${p}_lag_p99" "$lag_p99"
        record "${p}_lag_max" "$lag_max"
        echo "   burst: $got of $expected delivered in $((last / 1000)) s; lag p50 $lag_p50 ms, p99 $lag_p99 ms, first after $first ms"
        # Idle: one event per organization, 5 times, each once the last arrived.
        local i idle=()
        for i in 1 2 3 4 5; do
            at="$(insert_events 1 $((1000000 + i)))"
            read -r got first last _ _ _ < <(arrivals_since "$at" "$((orgs * per_org))" 60 "$receiver_port")
            idle+=("$last")
            sleep 0.3
        done
        record "${p}_idle_lags" "${idle[*]}"
        record "${p}_idle_lag_p50" "$(printf '%s\n' "${idle[@]}" | sort -n | sed -n 3p)"
        record "${p}_idle_lag_max" "$(printf '%s\n' "${idle[@]}" | sort -n | tail -1)"
        echo "   idle: one event to $((orgs * per_org)) endpoint(s), all delivered after ${idle[*]} ms"
        stop_server
        record "${p}_plan_undispatched" "$(plan "SELECT id, organization_id, type, created_at FROM events WHERE dispatched = 0 ORDER BY id LIMIT 500")"
        record "${p}_plan_claim" "$(plan_bound "" "UPDATE jobs SET status = 'running', locked_by = \$1, locked_until = \$2, lease_token = \$4, attempts = attempts + 1, updated_at = \$3 WHERE id IN (SELECT id FROM (SELECT id, due FROM (SELECT id, run_at AS due FROM jobs WHERE status = 'pending' AND run_at <= \$3 ORDER BY run_at LIMIT 1) AS next_due UNION ALL SELECT id, due FROM (SELECT id, locked_until AS due FROM jobs WHERE status = 'running' AND locked_until < \$3 ORDER BY locked_until LIMIT 1) AS first_lapsed) AS candidates ORDER BY due LIMIT 1) RETURNING id, kind, payload, attempts, max_attempts, lease_token" \
            "'worker'" "$(now_ms)" "$(now_ms)" "'token'")"
        record "${p}_jobs" "$(sql "SELECT status || ':' || COUNT(*) FROM jobs GROUP BY status" | paste -sd' ')"
    done
    kill "$receiver_pid" 2>/dev/null || true
    wait "$receiver_pid" 2>/dev/null || true
}

# ------------------------------------------------------------------ run

# The run's circumstances: a whole run (`all`) records them; a part run
# alone records when it ran, beside its own figures.
whole=false
for p in "${parts[@]}"; do [ "$p" = all ] && whole=true; done
if $whole; then
    forget scale_
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
fi
echo "== machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for p in "${parts[@]}"; do
    $whole || record "scale_alone_$p" "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), load average $(cut -d" " -f1-3 /proc/loadavg) at its start"
done

started="$(date +%s)"
wants keys && keys_part
wants close && close_part
wants search && search_part
wants inbox && inbox_part
wants audit && audit_part
wants webhooks && webhooks_part
drop_previous
if $whole; then
    record scale_total_s "$(($(date +%s) - started))"
    record scale_load_average_end "$(cut -d" " -f1-3 /proc/loadavg)"
fi

python3 bench/scale_report.py "$results" BENCHMARKS.md
echo "== wrote BENCHMARKS.md (Cost over data size)"
