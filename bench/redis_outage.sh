# The `redis-outage` part of bench/run.sh (sourced by it; uses its helpers).
#
# One instance on PostgreSQL + a Redis of its own, loaded by wrk on an
# API-key route (`GET /messages/{id}`, the bench plan: limits and quota
# leased from Redis) for BEFORE + OUTAGE + AFTER seconds; after BEFORE
# seconds Redis is killed (`kill -9`), OUTAGE seconds later it is started
# again on the same port (empty, as after a crash). bench/per_second.lua
# counts wrk's answers per wall-clock second; each second is put in its
# phase (the seconds holding the kill or the restart, and the first and
# last partial ones, are shown but not averaged; the second after the
# restart is left to the breaker's probe, which runs every second).
# Afterwards: the breaker's gauge on /metrics and the landlord keys the
# instance wrote to the new Redis show that the limits are shared again.
# Tunables: BENCH_OUTAGE_BEFORE (8), BENCH_OUTAGE_SECONDS (5),
# BENCH_OUTAGE_AFTER (8).

outage_redis_pid=""

outage_redis_start() { # port
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >>"$work/outage-redis.log" 2>&1 &
    outage_redis_pid=$!
    other_pids+=("$outage_redis_pid")
    wait_for_port "$1" 10
}

redis_outage() {
    forget outage_
    local before="${BENCH_OUTAGE_BEFORE:-8}" outage="${BENCH_OUTAGE_SECONDS:-5}"
    local after="${BENCH_OUTAGE_AFTER:-8}"
    local total=$((before + outage + after))
    echo "== Redis outage: ${outage} s without Redis inside a ${total} s load (PostgreSQL + Redis)"
    local dir="$work/outage" port
    mkdir -p "$dir"
    port="$(free_port)"
    outage_redis_start "$port"
    start_postgres
    database_kind=postgres
    postgres_url="$(new_postgres_database outage)"
    server_env=(LANDLORD_DATA_DIR="$dir" LANDLORD_CONFIG="$work/bench.toml"
        DATABASE_URL="$postgres_url" REDIS_URL="redis://127.0.0.1:$port")
    start_server
    tenant
    local target="$base/api/v1/messages/$message_id"
    wrk -t2 -c"$connections" -d2s -H "x-api-key: $key" "$target" >/dev/null

    wrk -t2 -c"$connections" -d"${total}s" -s bench/per_second.lua \
        -H "x-api-key: $key" "$target" >"$dir/wrk.txt" &
    local wrk_pid=$! started killed restarted
    started="$(date +%s.%N)"
    sleep "$before"
    killed="$(date +%s.%N)"
    kill -9 "$outage_redis_pid"
    wait "$outage_redis_pid" 2>/dev/null || true
    echo "   Redis killed after ${before} s"
    sleep "$outage"
    outage_redis_start "$port"
    restarted="$(date +%s.%N)"
    echo "   Redis restarted on port $port after ${outage} s"
    wait "$wrk_pid"

    local breaker shared_keys
    breaker="$(curl -fsS "$base/metrics" |
        awk -v series="redis_breaker_open{redis=\"127.0.0.1:$port\"}" '$1 == series {print $2}')"
    shared_keys="$(redis-cli -p "$port" --scan --pattern 'landlord:*' | wc -l)"
    stop_server
    kill "$outage_redis_pid" 2>/dev/null || true

    local figures
    figures="$(python3 - "$dir/wrk.txt" "$started" "$killed" "$restarted" <<'PY'
import math
import sys
lines, started, killed, restarted = sys.argv[1], *map(float, sys.argv[2:5])
seconds = []
with open(lines) as text:
    for line in text:
        parts = line.split()
        if len(parts) == 4 and parts[0] == "second":
            seconds.append(tuple(int(x) for x in parts[1:]))
last = max(s for s, _, _ in seconds)
phases = {"before": [], "during": [], "after": []}
rows, failed = [], 0
for second, answers, bad in seconds:
    failed += bad
    if second < started + 1 or second == last:
        phase = "partial"
    elif second + 1 <= killed:
        phase = "before"
    elif second < killed:
        phase = "kill"
    elif second + 1 <= restarted:
        phase = "during"
    elif second < restarted + 1:
        phase = "restart"
    else:
        phase = "after"
    phases.get(phase, []).append(answers)
    rows.append(f"{second - math.floor(killed):+d}:{answers}:{phase}")
mean = lambda xs: sum(xs) / len(xs) if xs else 0
b, d, a = (mean(phases[p]) for p in ("before", "during", "after"))
print(f"outage_before_rps={b:.0f}")
print(f"outage_during_rps={d:.0f}")
print(f"outage_after_rps={a:.0f}")
print(f"outage_ratio={d / b if b else 0:.3f}")
print(f"outage_after_ratio={a / b if b else 0:.3f}")
print(f"outage_non2xx={failed}")
print("outage_per_second=" + " ".join(rows))
PY
)"
    local line
    while IFS= read -r line; do record "${line%%=*}" "${line#*=}"; done <<<"$figures"
    record outage_seconds "$before/$outage/$after"
    record outage_breaker_after "${breaker:-absent}"
    record outage_redis_keys_after "$shared_keys"
    record wrk_version "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    echo "   before $(grep '^outage_before_rps=' "$results" | cut -d= -f2) req/s," \
        "during $(grep '^outage_during_rps=' "$results" | cut -d= -f2)," \
        "after $(grep '^outage_after_rps=' "$results" | cut -d= -f2);" \
        "breaker after: ${breaker:-absent}; landlord keys in the new Redis: $shared_keys"
}
