#!/usr/bin/env bash
# Times the inbox reports at a million messages, on the release server and
# SQLite: an organization seeded by SQL with BENCH_MESSAGES messages
# (default 1,000,000) in conversations of BENCH_PER_CONVERSATION messages
# (10) spread over the last BENCH_DAYS days (120), with their report rows
# and labels, as the store writes them; then, on the same running server,
# GET /health (the bare endpoint: the baseline of the ratios), GET
# /api/v1/inbox/reports for the last 30 and 90 days (whole, and by agent
# and label for 90 days) and GET /api/v1/inbox/reports.csv for 90 days by
# label — each BENCH_RUNS times (20) one after another (curl's total time:
# median, p90, max), then wrk with 4 connections for BENCH_SECONDS (10) on
# /health and on the 30-day report (requests/s).
#
# Usage: bash bench/inbox-reports.sh
# Environment: BENCH_BINARY (a server built beforehand instead of building
# the release one), BENCH_MESSAGES, BENCH_PER_CONVERSATION, BENCH_DAYS,
# BENCH_RUNS, BENCH_SECONDS, BENCH_KEEP=1 (keep the data directory).
set -euo pipefail
cd "$(dirname "$0")/.."

messages="${BENCH_MESSAGES:-1000000}"
per_conversation="${BENCH_PER_CONVERSATION:-10}"
days="${BENCH_DAYS:-120}"
runs="${BENCH_RUNS:-20}"
seconds="${BENCH_SECONDS:-10}"
conversations=$((messages / per_conversation))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/landlord-target}"
for tool in jq curl sqlite3 wrk python3; do
    command -v "$tool" >/dev/null || { echo "inbox-reports needs $tool" >&2; exit 1; }
done

if [ -n "${BENCH_BINARY:-}" ]; then
    binary="$BENCH_BINARY"
else
    echo "== building the release server"
    cargo build --release --quiet -p landlord --bin landlord
    binary="$CARGO_TARGET_DIR/release/landlord"
fi

data_dir="$(mktemp -d /tmp/landlord-inbox-reports.XXXXXX)"
db="$data_dir/landlord.db"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "== kept $data_dir"; else rm -rf "$data_dir"; fi
}
trap cleanup EXIT

cat >"$data_dir/bench.toml" <<TOML
[plans.bench]
price = 0
currency = "USD"
rate_limit_per_minute = 60000000
TOML
export LANDLORD_CONFIG="$data_dir/bench.toml" LANDLORD_DATA_DIR="$data_dir" LANDLORD_LOG_LEVEL=warn
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

start_server() {
    LANDLORD_LISTEN="127.0.0.1:$port" "$binary" serve >>"$data_dir/server.log" 2>&1 &
    server_pid=$!
    until curl -fsS "$base/health" >/dev/null 2>&1; do
        kill -0 "$server_pid" 2>/dev/null || { cat "$data_dir/server.log"; exit 1; }
        sleep 0.02
    done
}
stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
start_server
registered="$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"organization_name": "Reports", "email": "reports@example.com", "password": "reports password 1"}')"
organization="$(jq -r .data.organization.id <<<"$registered")"
owner="$(jq -r .data.user.id <<<"$registered")"
"$binary" set-plan --organization "$organization" --plan bench >/dev/null
stop_server

# ------------------------------------------------------------------ seed
# Conversation n (0 ≤ n < conversations) opens at an even spacing over the
# days, on one of two numbers, with a contact of its own; its messages
# alternate incoming and outgoing a minute apart; it is answered after
# 30 s to 30 min and resolved up to a day later (the last 200 are still
# open); its agent is one of 8 (1 in 8 unassigned); one label of 5.
echo "== seeding $messages messages in $conversations conversations over $days days"
seed_start="$(date +%s)"
now_ms="$(($(date +%s) * 1000))"
start_ms=$((now_ms - days * 86400000))
span_ms=$((days * 86400000 - 86400000))
sqlite3 -batch "$db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
INSERT INTO inbox_channels (id, organization_id, name, phone_number_id, business_account_id,
    access_token_sealed, app_secret_sealed, verify_token_sealed, access_token_hint, created_at, updated_at)
VALUES ('0000c4a2-0000-7000-8000-000000000001', '$organization', 'Support line', '106540352200001', '1', 'x', 'x', 'x', 'xxxx', $start_ms, $start_ms),
       ('0000c4a2-0000-7000-8000-000000000002', '$organization', 'Sales line', '106540352200002', '1', 'x', 'x', 'x', 'xxxx', $start_ms, $start_ms);
CREATE TEMP TABLE seq AS
WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < $conversations)
SELECT n,
       printf('0000c4a2-0000-7000-8000-%012d', 1 + n % 2) AS channel_id,
       printf('0000c0c0-0000-7000-8000-%012x', n) AS contact_id,
       printf('0000c0de-0000-7000-8000-%012x', n) AS conversation_id,
       $start_ms + n * ($span_ms / $conversations) AS opened_at,
       30000 + (n * 7919) % 1770000 AS fr_ms,
       (30000 + (n * 7919) % 1770000) + (n * 104729) % 86400000 AS res_ms,
       CASE WHEN n % 8 = 7 THEN NULL ELSE printf('0000a9e7-0000-7000-8000-%012d', n % 8) END AS agent_id,
       (n >= $conversations - 200) AS still_open
FROM s;
INSERT INTO inbox_contacts (id, organization_id, channel_id, wa_id, name, phone, created_at, updated_at)
SELECT contact_id, '$organization', channel_id, printf('44%010d', n), 'Customer ' || n, printf('+44%010d', n), opened_at, opened_at FROM seq;
INSERT INTO inbox_conversations (id, organization_id, channel_id, contact_id, number, status, assignee_id,
    last_activity_at, resolved_at, created_at, updated_at)
SELECT conversation_id, '$organization', channel_id, contact_id, n + 1,
       CASE WHEN still_open THEN 'open' ELSE 'resolved' END, NULL,
       opened_at + ($per_conversation - 1) * 60000,
       CASE WHEN still_open THEN NULL ELSE opened_at + res_ms END, opened_at, opened_at FROM seq;
INSERT INTO inbox_counters (organization_id, last_number) VALUES ('$organization', $conversations)
    ON CONFLICT (organization_id) DO UPDATE SET last_number = excluded.last_number;
INSERT INTO inbox_messages (id, organization_id, conversation_id, channel_id, direction, kind, body,
    provider_message_id, status, created_at, updated_at)
WITH RECURSIVE m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k + 1 < $per_conversation)
SELECT printf('0000e55a-%04x-7000-8000-%012x', k, n), '$organization', conversation_id, channel_id,
       CASE WHEN k % 2 = 0 THEN 'incoming' ELSE 'outgoing' END, 'text',
       'Message ' || k || ' of conversation ' || n || ': where is my order?',
       printf('wamid.%d.%d', n, k),
       CASE WHEN k % 2 = 0 THEN 'received' ELSE 'read' END,
       opened_at + k * 60000, opened_at + k * 60000
FROM seq, m;
INSERT INTO inbox_report_conversations (conversation_id, organization_id, channel_id, agent_id,
    opened_at, opened_hour, first_response_at, first_response_hour, first_response_ms,
    resolved_at, resolved_hour, resolution_ms)
SELECT conversation_id, '$organization', channel_id, agent_id,
       opened_at, opened_at - opened_at % 3600000,
       opened_at + fr_ms, (opened_at + fr_ms) - (opened_at + fr_ms) % 3600000, fr_ms,
       CASE WHEN still_open THEN NULL ELSE opened_at + res_ms END,
       CASE WHEN still_open THEN NULL ELSE (opened_at + res_ms) - (opened_at + res_ms) % 3600000 END,
       CASE WHEN still_open THEN NULL ELSE res_ms END
FROM seq;
INSERT INTO inbox_conversation_labels (conversation_id, organization_id, label)
SELECT conversation_id, '$organization',
       CASE n % 5 WHEN 0 THEN 'billing' WHEN 1 THEN 'delivery' WHEN 2 THEN 'vip' WHEN 3 THEN 'returns' ELSE 'other' END
FROM seq;
COMMIT;
SQL
seed_seconds=$(($(date +%s) - seed_start))
stored="$(sqlite3 -batch "$db" "SELECT COUNT(*) FROM inbox_messages WHERE organization_id = '$organization'")"
db_mb="$(du -m "$db" | cut -f1)"
echo "seeded in ${seed_seconds}s: $stored messages, database ${db_mb} MB"

start_server
access="$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email": "reports@example.com", "password": "reports password 1"}' | jq -r .data.access_token)"
[ -n "$access" ] && [ "$access" != null ] || { echo "no access token" >&2; exit 1; }
today="$(date -u +%F)"
from30="$(date -u -d "$today - 29 days" +%F)"
from90="$(date -u -d "$today - 89 days" +%F)"

# Runs a GET $runs times after one warm-up; prints "median p90 max bytes".
timed() { # path [bearer]
    local path="$1" auth=() out
    [ "${2:-}" = auth ] && auth=(-H "authorization: Bearer $access")
    curl -fsS -o /dev/null "${auth[@]}" "$base$path"
    out="$(for _ in $(seq "$runs"); do
        curl -fsS -o /dev/null -w '%{time_total} %{size_download}\n' "${auth[@]}" "$base$path"
    done)"
    python3 -c '
import sys
rows = [line.split() for line in sys.stdin.read().split("\n") if line.strip()]
t = sorted(float(r[0]) * 1000 for r in rows)
n = len(t)
p = lambda q: t[max(1, -(-q * n // 100)) - 1]
print(f"{p(50):.2f} {p(90):.2f} {t[-1]:.2f} {rows[-1][1]}")
' <<<"$out"
}

echo "== sequential requests, $runs each (ms: median p90 max; bytes)"
declare -A figures
for entry in \
    "health|/health|" \
    "30 days|/api/v1/inbox/reports?from=$from30&to=$today|auth" \
    "90 days|/api/v1/inbox/reports?from=$from90&to=$today|auth" \
    "90 days by agent|/api/v1/inbox/reports?from=$from90&to=$today&group_by=agent|auth" \
    "90 days by label|/api/v1/inbox/reports?from=$from90&to=$today&group_by=label|auth" \
    "CSV, 90 days by label|/api/v1/inbox/reports.csv?from=$from90&to=$today&group_by=label|auth"; do
    IFS='|' read -r name path auth <<<"$entry"
    figures[$name]="$(timed "$path" "$auth")"
    echo "$name: ${figures[$name]}"
done
health_median="$(cut -d' ' -f1 <<<"${figures[health]}")"

echo "== wrk, 4 connections, ${seconds}s"
wrk_rps() { # path [auth]
    local header=()
    [ "${2:-}" = auth ] && header=(-H "authorization: Bearer $access")
    wrk -t2 -c4 -d"${seconds}s" "${header[@]}" "$base$1" | awk '/Requests\/sec/ {print $2}'
}
health_rps="$(wrk_rps /health)"
report_rps="$(wrk_rps "/api/v1/inbox/reports?from=$from30&to=$today" auth)"
echo "health: $health_rps requests/s; 30-day report: $report_rps requests/s"
rss_mib="$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status")"

echo
echo "| request | median | p90 | max | of /health's median | response |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for name in health "30 days" "90 days" "90 days by agent" "90 days by label" "CSV, 90 days by label"; do
    read -r median p90 max bytes <<<"${figures[$name]}"
    ratio="$(python3 -c "print(f'{$median / $health_median:.0f}×')")"
    echo "| $name | $median ms | $p90 ms | $max ms | $ratio | $bytes B |"
done
echo
echo "wrk -c4: /health $health_rps requests/s, 30-day report $report_rps requests/s; server memory after: $rss_mib MiB"
echo "seed: $stored messages, $conversations conversations, ${days} days, ${seed_seconds}s, database ${db_mb} MB; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
