#!/usr/bin/env python3
"""Holds N idle inbox streams (`GET /api/v1/inbox/stream`, server-sent
events) open on a server while bench/run.sh loads another endpoint. Used by
bench/run.sh (part `streams`).

Opens the streams (at most OPENING_AT_ONCE at a time), checks each answered
200 with `text/event-stream`, writes `ready` to READY_FILE and keeps
reading them (the server sends an event on connection and keep-alive
comments after) until STOP_FILE exists; then closes them all.

Prints one JSON object: streams asked, opened, failures (not 200), ended
early (the server closed them while held), seconds to open.

Usage: streams.py HOST PORT ACCESS_TOKEN N READY_FILE STOP_FILE
"""

import asyncio
import json
import os
import sys
import time

OPENING_AT_ONCE = 100


async def open_stream(host, port, token, gate, streams, failures):
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout=30
            )
            writer.write(
                (
                    "GET /api/v1/inbox/stream HTTP/1.1\r\n"
                    f"Host: {host}\r\n"
                    f"Authorization: Bearer {token}\r\n"
                    "Accept: text/event-stream\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
            if head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head.lower():
                streams.append((reader, writer))
                return
            failures.append(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            writer.close()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
            failures.append(repr(error))


async def drain(reader, ended):
    """Reads what the server sends; counts a stream the server ended."""
    try:
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                ended.append(1)
                return
    except (OSError, asyncio.CancelledError):
        return


async def main():
    host, port, token, count, ready_file, stop_file = sys.argv[1:7]
    port, count = int(port), int(count)
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    streams, failures, ended = [], [], []
    started = time.monotonic()
    await asyncio.gather(
        *(open_stream(host, port, token, gate, streams, failures) for _ in range(count))
    )
    opened_in = time.monotonic() - started
    readers = [asyncio.create_task(drain(reader, ended)) for reader, _ in streams]
    with open(ready_file, "w") as ready:
        ready.write("ready\n")
    while not os.path.exists(stop_file):
        await asyncio.sleep(0.2)
    ended_early = len(ended)
    for task in readers:
        task.cancel()
    for _, writer in streams:
        writer.close()
    print(
        json.dumps(
            {
                "asked": count,
                "opened": len(streams),
                "failures": len(failures),
                "first_failure": failures[0] if failures else None,
                "ended_early": ended_early,
                "open_seconds": round(opened_in, 2),
            }
        )
    )


if __name__ == "__main__":
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main())
