#!/usr/bin/env python3
"""Holds N concurrent keep-alive connections to a server and reads its
resident memory (VmRSS from /proc) before, while they are held, and after
they are closed. Used by bench/run.sh (part `connections`).

Each connection sends `GET /health` and reads the answer, so it is a real
HTTP/1.1 keep-alive connection the server has served; once every connection
is open, each sends a second request (the server then holds N live
connections that have all been used twice), and the memory is read. Then
every connection is closed and the memory is read again after a pause.

Prints one JSON object: connections asked, held, failures, RSS in KiB
(idle, held, peak while held, after), and seconds taken.

Usage: connections.py HOST PORT PID [CONNECTIONS] [SECONDS_AFTER]
"""

import asyncio
import json
import resource
import sys
import time

REQUEST = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
OPENING_AT_ONCE = 200  # stays under the listen backlog


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def one_request(reader, writer):
    """Sends GET /health and reads the whole answer; True on a 2xx."""
    writer.write(REQUEST)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 2")


async def open_one(host, port, gate, held, failures):
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout=30
            )
            if await asyncio.wait_for(one_request(reader, writer), timeout=30):
                held.append((reader, writer))
                return
            writer.close()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            pass
        failures.append(1)


async def main():
    host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    wanted = int(sys.argv[4]) if len(sys.argv) > 4 else 10_000
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 5.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    started = time.monotonic()
    idle = rss_kib(pid)
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    held, failures = [], []
    await asyncio.gather(
        *(open_one(host, port, gate, held, failures) for _ in range(wanted))
    )
    opened = time.monotonic()
    held_rss = rss_kib(pid)

    # A second request on every held connection, all at once.
    async def again(pair):
        try:
            return await asyncio.wait_for(one_request(*pair), timeout=60)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            return False

    peak = held_rss
    second = asyncio.gather(*(again(pair) for pair in held))
    while not second.done():
        peak = max(peak, rss_kib(pid))
        await asyncio.sleep(0.05)
    reused = sum(1 for ok in second.result() if ok)
    peak = max(peak, rss_kib(pid))
    held_after_reuse = rss_kib(pid)

    for _, writer in held:
        writer.close()
    await asyncio.sleep(pause)
    after = rss_kib(pid)
    print(
        json.dumps(
            {
                "asked": wanted,
                "held": len(held),
                "failures": len(failures),
                "reused": reused,
                "open_seconds": round(opened - started, 2),
                "rss_idle_kib": idle,
                "rss_held_kib": max(held_rss, held_after_reuse),
                "rss_peak_kib": peak,
                "rss_after_kib": after,
                "seconds_after": pause,
            }
        )
    )


asyncio.run(main())
