#!/usr/bin/env bash
# Backups, rehearsed and measured, on the release build (SQLite).
#
# drill: a server on a fresh data directory takes scheduled snapshots to
#   a directory every DRILL_INTERVAL_SECS (10 s for the drill; the default
#   in production is 900 s) while DRILL_WORKERS clients create API keys
#   through the HTTP API for DRILL_SECONDS (35 s); every acknowledged key
#   (201) is recorded with its id, its created_at and the time the answer
#   arrived. Then `kill -9` the server, `landlord restore --from latest`
#   (backup.destination set) into a new directory, start a server there,
#   sign in again and read the newest key through the API. Reports the
#   newest write acknowledged before the kill, the newest write in the
#   restored database, the loss in seconds (against the interval), and
#   that every write acknowledged before the snapshot's created_at is
#   present.
# size: a migrated landlord.db grown to DRILL_DB_MB (1024) with rows in
#   real tables (audit_log and usage_records, varied content, inserted by
#   python3's sqlite3 in large transactions), then `landlord backup --to
#   DIR` and `landlord restore --from ARCHIVE --data-dir NEW`, timed (wall
#   time, archive size, compression ratio). The steps inside the backup
#   are timed separately on the same file (VACUUM INTO with sqlite3, the
#   archive's compression with zstd -3, a SHA-256 pass) to show where the
#   time goes.
#
#   bash bench/backup-drill.sh            # both
#   bash bench/backup-drill.sh drill      # or: size
#   DRILL_DB_MB=64 DRILL_SECONDS=15 bash bench/backup-drill.sh   # quick
#
# Tunables (environment): DRILL_SECONDS (35), DRILL_INTERVAL_SECS (10),
# DRILL_WORKERS (8), DRILL_DB_MB (1024), DRILL_WORK (a directory for the
# data, default a new one under /tmp; the size part needs about 4 times
# DRILL_DB_MB free; a database an earlier run left there is grown only up
# to the size), DRILL_KEEP=1 (keep it afterwards), BENCH_BINARY (a
# binary built beforehand, instead of the release build). The figures
# are printed, and appended as `name value` lines to DRILL_FIGURES when
# it is set.
set -euo pipefail
cd "$(dirname "$0")/.."

part="${1:-all}"
seconds="${DRILL_SECONDS:-35}"
interval="${DRILL_INTERVAL_SECS:-10}"
workers="${DRILL_WORKERS:-8}"
db_mb="${DRILL_DB_MB:-1024}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/landlord-target}"

case "$part" in
    all | drill | size) ;;
    *) echo "usage: bash bench/backup-drill.sh [all|drill|size]" >&2; exit 2 ;;
esac
for tool in curl jq python3 sqlite3 zstd sha256sum; do
    command -v "$tool" >/dev/null || { echo "bench/backup-drill.sh needs $tool" >&2; exit 1; }
done

if [ -n "${BENCH_BINARY:-}" ]; then
    binary="$BENCH_BINARY"
else
    echo "== building the release server"
    cargo build --release --quiet -p landlord
    binary="$CARGO_TARGET_DIR/release/landlord"
fi

work="${DRILL_WORK:-$(mktemp -d /tmp/landlord-backup-drill.XXXXXX)}"
mkdir -p "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ "${DRILL_KEEP:-}" = 1 ]; then
        echo "(kept $work)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

figure() { # name value
    printf '   %-40s %s\n' "$1" "$2"
    if [ -n "${DRILL_FIGURES:-}" ]; then echo "$1 $2" >>"$DRILL_FIGURES"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_server() { # data_dir port log [VAR=value ...]: sets server_pid
    local dir="$1" port="$2" log="$3"
    shift 3
    env "$@" LANDLORD_DATA_DIR="$dir" LANDLORD_LISTEN="127.0.0.1:$port" \
        LANDLORD_LOG_LEVEL=info "$binary" serve >>"$log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.05
    done
    echo "no server answers on port $port" >&2
    exit 1
}

now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

machine() {
    echo "   machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
        "load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------- drill

drill() {
    local data="$work/drill-data" backups="$work/drill-backups" restored="$work/drill-restored"
    mkdir -p "$data" "$backups"
    local port base
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    echo "== drill: scheduled snapshots every ${interval}s to a directory, $workers clients" \
        "creating API keys for ${seconds}s, then kill -9"
    machine
    figure drill.load_average_start "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
    start_server "$data" "$port" "$work/drill-server.log" \
        LANDLORD_BACKUP__DESTINATION="$backups" LANDLORD_BACKUP__INTERVAL_SECS="$interval"
    local registered token
    registered="$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
        -d '{"organization_name": "Drill", "email": "drill@example.com", "password": "drill password 1"}')"
    token="$(jq -r .data.access_token <<<"$registered")"

    # The load: each worker creates keys one after another on its own
    # connection and writes one line per acknowledged key, as it arrives.
    python3 - "$base" "$token" "$workers" "$work/acks.jsonl" "$work/stop" <<'PY' &
import http.client, json, os, sys, threading, time
base, token, workers, out_path, stop_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
host, port = base.removeprefix("http://").split(":")
out = open(out_path, "a", buffering=1)
lock = threading.Lock()
refused = [0]

def work(n):
    conn = None
    i = 0
    while not os.path.exists(stop_path):
        i += 1
        body = json.dumps({"name": f"drill-{n}-{i}"})
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("POST", "/api/v1/keys", body, {
                "authorization": f"Bearer {token}", "content-type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            acked = time.time() * 1000
            if response.status != 201:
                with lock:
                    refused[0] += 1
                continue
            key = json.loads(data)["data"]
            with lock:
                out.write(json.dumps({"id": key["id"], "created_at": key["created_at"],
                                      "acked_ms": int(acked)}) + "\n")
        except (OSError, http.client.HTTPException):
            conn = None
            time.sleep(0.05)

threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"   (answers other than 201 during the load: {refused[0]})")
PY
    local load_pid=$!
    sleep "$seconds"
    local loadavg_kill kill_ms
    loadavg_kill="$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
    kill -9 "$server_pid"
    kill_ms="$(now_ms)"
    wait "$server_pid" 2>/dev/null || true
    touch "$work/stop"
    wait "$load_pid"
    figure drill.load_average_at_kill "$loadavg_kill"
    echo "== snapshots at the destination when the server was killed"
    LANDLORD_DATA_DIR="$data" LANDLORD_BACKUP__DESTINATION="$backups" "$binary" backup --list |
        sed 's/^/   /'
    grep -h '"backup taken"\|backup taken' "$work/drill-server.log" | tail -3 | sed 's/^/   log: /' || true

    echo "== restore --from latest into a new directory"
    local started restore_out
    started="$(now_ms)"
    if ! restore_out="$(LANDLORD_BACKUP__DESTINATION="$backups" "$binary" restore --from latest \
        --data-dir "$restored" 2>&1)"; then
        echo "$restore_out" >&2
        exit 1
    fi
    figure drill.restore_seconds "$(python3 -c "print(round(($(now_ms) - $started) / 1000, 2))")"
    sed 's/^/   /' <<<"$restore_out"
    local snapshot
    snapshot="$(awk '/^restored / {print $2; exit}' <<<"$restore_out")"

    echo "== a server on the restored directory"
    local port2 base2 signed newest_api
    port2="$(free_port)"
    base2="http://127.0.0.1:$port2"
    start_server "$restored" "$port2" "$work/drill-restored-server.log"
    signed="$(curl -fsS -X POST "$base2/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"email": "drill@example.com", "password": "drill password 1"}')"
    newest_api="$(curl -fsS "$base2/api/v1/keys?limit=1" \
        -H "authorization: Bearer $(jq -r .data.access_token <<<"$signed")" |
        jq -r '.data[0] | "\(.name) created \(.created_at)"')"
    echo "   signed in again (the snapshot holds the database alone: sessions end);" \
        "newest key through the API: $newest_api"

    python3 - "$work/acks.jsonl" "$restored/landlord.db" "$backups/$snapshot.json" "$kill_ms" \
        "$interval" "${DRILL_FIGURES:-}" <<'PY'
import datetime, json, sqlite3, sys
acks_path, db_path, manifest_path, kill_ms, interval, figures = sys.argv[1:7]
kill_ms, interval = int(kill_ms), int(interval)

def ms(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)

def iso(millis):
    return datetime.datetime.fromtimestamp(millis / 1000, datetime.timezone.utc) \
        .isoformat(timespec="milliseconds").replace("+00:00", "Z")

def figure(name, value):
    print(f"   {name:<40} {value}")
    if figures:
        with open(figures, "a") as f:
            f.write(f"{name} {value}\n")

acks = [json.loads(line) for line in open(acks_path)]
acks = [dict(a, created_ms=ms(a["created_at"])) for a in acks if a["acked_ms"] <= kill_ms]
snapshot_ms = ms(json.load(open(manifest_path))["created_at"])
db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
present = {row[0]: row[1] for row in db.execute(
    "SELECT id, created_at FROM api_keys WHERE name LIKE 'drill-%'")}
problems = db.execute("PRAGMA integrity_check").fetchall()
newest_acked = max(a["created_ms"] for a in acks)
newest_present = max(present.values())
before = [a for a in acks if a["acked_ms"] < snapshot_ms]
missing = [a for a in before if a["id"] not in present]
after_present = [a for a in acks if a["acked_ms"] >= snapshot_ms and a["id"] in present]
print("== the drill's figures")
figure("drill.writes_acknowledged", len(acks))
figure("drill.write_rate_per_second", round(len(acks) / ((max(a["acked_ms"] for a in acks)
                                                    - min(a["acked_ms"] for a in acks)) / 1000), 1))
figure("drill.kill_at", iso(kill_ms))
figure("drill.newest_acknowledged_write", iso(newest_acked))
figure("drill.snapshot_created_at", iso(snapshot_ms))
figure("drill.newest_restored_write", iso(newest_present))
lost = (newest_acked - newest_present) / 1000
figure("drill.lost_seconds", f"{lost:.3f}")
figure("drill.lost_writes", len(acks) - sum(1 for a in acks if a["id"] in present))
figure("drill.interval_seconds", interval)
figure("drill.acknowledged_before_snapshot", len(before))
figure("drill.of_those_present", len(before) - len(missing))
figure("drill.acknowledged_after_snapshot_began_but_present", len(after_present))
figure("drill.restored_integrity_check", problems[0][0] if len(problems) == 1 else problems)
ok = not missing and lost <= interval and problems == [("ok",)]
print(f"== drill: {'PASSED' if ok else 'FAILED'} (loss {lost:.3f} s against an interval of "
      f"{interval} s; {len(missing)} acknowledged write(s) before the snapshot missing)")
sys.exit(0 if ok else 1)
PY
}

# ----------------------------------------------------------------- size

size() {
    local data="$work/size-data" backups="$work/size-backups" restored="$work/size-restored"
    mkdir -p "$data" "$backups"
    echo "== size: a migrated database grown to about ${db_mb} MB"
    machine
    LANDLORD_DATA_DIR="$data" LANDLORD_LOG_LEVEL=warn "$binary" migrate >/dev/null
    local started
    started="$(now_ms)"
    python3 - "$data/landlord.db" "$db_mb" <<'PY'
import json, os, random, sqlite3, sys, time, uuid
path, target_mb = sys.argv[1], int(sys.argv[2])
random.seed(7)
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=OFF")
now = int(time.time() * 1000)
orgs = [row[0] for row in db.execute("SELECT id FROM organizations")]
users = [row[0] for row in db.execute("SELECT id FROM users")]
keys = [row[0] for row in db.execute("SELECT id FROM api_keys")]
grown_from = os.path.getsize(path) / 1e6
if len(orgs) < 1000 or len(users) < 1000 or len(keys) < 2000:
    orgs = [str(uuid.uuid4()) for _ in range(1000)]
    users = [str(uuid.uuid4()) for _ in range(1000)]
    keys = [str(uuid.uuid4()) for _ in range(2000)]
    with db:
        db.executemany("INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at) "
                       "VALUES (?, ?, ?, 'free', ?, ?)",
                       [(o, f"Organization {i}", f"billing{i}@example.com", now, now)
                        for i, o in enumerate(orgs)])
        db.executemany("INSERT INTO users (id, email, password_hash, created_at, updated_at) "
                       "VALUES (?, ?, '$argon2id$v=19$m=19456,t=2,p=1$none$none', ?, ?)",
                       [(u, f"user{i}@example.com", now, now) for i, u in enumerate(users)])
        db.executemany("INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(k, orgs[i % 1000], f"key {i}", "sk_live_" + os.urandom(4).hex(),
                         os.urandom(32).hex(), now) for i, k in enumerate(keys)])
actions = ["api_key.created", "api_key.revoked", "member.invited", "member.removed",
           "organization.updated", "plan.changed", "webhook.created", "user.signed_in"]
agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
          "curl/8.5.0", "python-requests/2.32.3", "landlord-sdk-go/0.4.1"]
endpoints = ["/api/v1/messages", "/api/v1/messages/{id}", "/api/v1/keys/verify", "/api/v1/usage",
             "/api/v1/events", "/api/v1/webhooks/{id}/deliveries"]
def size_mb():
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(path) / 1e6
batch = 0
while size_mb() < target_mb:
    batch += 1
    t = now - random.randrange(90 * 86400 * 1000)
    audit = []
    usage = []
    for _ in range(20000):
        org = random.choice(orgs)
        t += random.randrange(1, 2000)
        details = {"name": f"key {random.randrange(10**6)}", "request_id": uuid.uuid4().hex,
                   "changes": {"plan": random.choice(["free", "starter", "pro"]),
                               "seats": random.randrange(1, 500)},
                   "note": os.urandom(random.randrange(8, 48)).hex()}
        audit.append((str(uuid.uuid4()), org, random.choice(users), random.choice(keys),
                      random.choice(actions), "api_key", str(uuid.uuid4()),
                      f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}",
                      random.choice(agents), json.dumps(details), t))
        for _ in range(4):
            usage.append((org, random.choice(keys), random.choice(endpoints),
                          random.choice(["GET", "POST", "GET", "GET"]),
                          random.choice([200, 200, 200, 201, 404, 429]), t + random.randrange(1000)))
    with db:
        db.executemany("INSERT INTO audit_log (id, organization_id, actor_user_id, actor_api_key_id, "
                       "action, target_type, target_id, ip, user_agent, details, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", audit)
        db.executemany("INSERT INTO usage_records (organization_id, api_key_id, endpoint, method, "
                       "status, created_at) VALUES (?, ?, ?, ?, ?, ?)", usage)
counts = [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("audit_log", "usage_records")]
db.close()
print(f"   {counts[0]} audit_log rows, {counts[1]} usage_records rows, "
      f"{os.path.getsize(path) / 1e6:.0f} MB (grown from {grown_from:.0f} MB)")
PY
    figure size.build_seconds "$(python3 -c "print(round(($(now_ms) - $started) / 1000, 1))")"
    local db_bytes
    db_bytes="$(stat -c %s "$data/landlord.db")"
    figure size.database_bytes "$db_bytes"
    sync

    echo "== landlord backup --to DIR"
    figure size.load_average_before_backup "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
    started="$(now_ms)"
    LANDLORD_DATA_DIR="$data" LANDLORD_LOG_LEVEL=info "$binary" backup --to "$backups" \
        >"$work/size-backup.out" 2>"$work/size-backup.log"
    local backup_ms=$(($(now_ms) - started))
    sed 's/^/   /' "$work/size-backup.out"
    grep 'backup taken' "$work/size-backup.log" | sed 's/^/   log: /' || true
    local archive archive_bytes
    archive="$(ls "$backups"/*.tar.zst)"
    archive_bytes="$(stat -c %s "$archive")"
    figure size.backup_seconds "$(python3 -c "print(round($backup_ms / 1000, 2))")"
    figure size.archive_bytes "$archive_bytes"
    figure size.compression_ratio "$(python3 -c "print(round($db_bytes / $archive_bytes, 2))")"

    echo "== landlord restore --from ARCHIVE --data-dir NEW"
    figure size.load_average_before_restore "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
    started="$(now_ms)"
    "$binary" restore --from "$archive" --data-dir "$restored" 2>&1 | sed 's/^/   /'
    figure size.restore_seconds "$(python3 -c "print(round(($(now_ms) - $started) / 1000, 2))")"

    # Where a backup's time goes: its steps, one by one, on the same file
    # with the command-line tools (the same work as the server's).
    echo "== the backup's steps, separately"
    local step
    step="$(now_ms)"
    sqlite3 "$data/landlord.db" "VACUUM INTO '$work/size-copy.db'"
    figure size.step_vacuum_into_seconds "$(python3 -c "print(round(($(now_ms) - $step) / 1000, 2))")"
    step="$(now_ms)"
    sqlite3 "$work/size-copy.db" "PRAGMA integrity_check" >/dev/null
    figure size.step_integrity_check_seconds "$(python3 -c "print(round(($(now_ms) - $step) / 1000, 2))")"
    step="$(now_ms)"
    sha256sum "$work/size-copy.db" >/dev/null
    figure size.step_sha256_seconds "$(python3 -c "print(round(($(now_ms) - $step) / 1000, 2))")"
    step="$(now_ms)"
    zstd -q -3 -T1 -f "$work/size-copy.db" -o "$work/size-copy.db.zst"
    figure size.step_zstd3_one_thread_seconds "$(python3 -c "print(round(($(now_ms) - $step) / 1000, 2))")"
    step="$(now_ms)"
    zstd -q -d -f "$work/size-copy.db.zst" -o "$work/size-copy2.db"
    figure size.step_unzstd_seconds "$(python3 -c "print(round(($(now_ms) - $step) / 1000, 2))")"
    rm -f "$work/size-copy.db" "$work/size-copy.db.zst" "$work/size-copy2.db"
    figure size.load_average_end "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
}

if [ "$part" = all ] || [ "$part" = drill ]; then drill; fi
if [ "$part" = all ] || [ "$part" = size ]; then size; fi
