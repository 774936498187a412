#!/usr/bin/env bash
# Resident memory of the release server holding many idle keep-alive
# connections, and after they close.
#
# Starts `landlord serve` on a throwaway SQLite data directory, opens N
# connections with a Python asyncio client (each sends one `GET /health`
# and reads the answer, so hyper has set up its per-connection buffers, then
# stays open and idle), reads VmRSS from /proc/<pid>/status while they are
# all open, closes them, and reads it again after a few seconds.
#
# Usage: bash bench/connections.sh [connections, default 10000]
# SERVER_BINARY=path uses that binary instead of building one.
# Prints: "connections=N idle_kib=… held_kib=… after_kib=… answered=…".
set -euo pipefail
cd "$(dirname "$0")/.."

connections="${1:-10000}"
# Each side needs one descriptor per connection (and a few more).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((connections + 100)) ]; then
    echo "the open-file limit ($(ulimit -n)) is too low for $connections connections"
    exit 1
fi

binary="${SERVER_BINARY:-}"
if [ -z "$binary" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/landlord-target}"
    echo "== building the release server"
    cargo build --release --quiet -p landlord
    binary="$CARGO_TARGET_DIR/release/landlord"
fi

data_dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$data_dir"
}
trap cleanup EXIT

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }

LANDLORD_DATA_DIR="$data_dir" LANDLORD_LOG_LEVEL=warn LANDLORD_LISTEN="127.0.0.1:$port" \
    "$binary" serve >"$data_dir/server.log" 2>&1 &
server_pid=$!
until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$data_dir/server.log"; exit 1; }
    sleep 0.01
done
sleep 1
idle="$(rss_kib)"

# The client signals "held" on stdout once every connection has been
# answered, then waits for a line on stdin before closing them all.
fifo="$data_dir/control"
mkfifo "$fifo"
cat >"$data_dir/client.py" <<'PY'
import asyncio, resource, sys

port, count = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
REQUEST = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"

async def open_one(gate):
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        return writer, head.startswith(b"HTTP/1.1 200")

async def main():
    gate = asyncio.Semaphore(500)  # connect in waves, not all at once
    opened = await asyncio.gather(*(open_one(gate) for _ in range(count)), return_exceptions=True)
    writers = [o[0] for o in opened if not isinstance(o, BaseException)]
    answered = sum(1 for o in opened if not isinstance(o, BaseException) and o[1])
    print(f"held {answered}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for writer in writers:
        writer.close()
    print("closed", flush=True)

asyncio.run(main())
PY
python3 "$data_dir/client.py" "$port" "$connections" <"$fifo" >"$data_dir/client.out" 2>&1 &
client_pid=$!
exec 3>"$fifo"
until grep -q '^held' "$data_dir/client.out" 2>/dev/null; do
    kill -0 "$client_pid" 2>/dev/null || { cat "$data_dir/client.out"; exit 1; }
    sleep 0.2
done
answered="$(awk '/^held/ {print $2}' "$data_dir/client.out")"
sleep 2
held="$(rss_kib)"
echo >&3
exec 3>&-
wait "$client_pid"
# The server returns freed memory every 10 s (malloc_trim, main.rs).
sleep 12
after="$(rss_kib)"
echo "connections=$connections idle_kib=$idle held_kib=$held after_kib=$after answered=$answered"
