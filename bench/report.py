#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the figures bench/run.sh recorded (one
`key=value` a line): every figure, its ratio against the reference measured
in the same run, and the performance targets, met or not.

Usage: report.py RESULTS BENCHMARKS.md

The sections other scripts write (from the streams section's marker to the
end of the file) are kept as they are.
"""

import os
import sys


def load(path):
    figures = {}
    with open(path) as lines:
        for line in lines:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                figures[key] = value
    return figures


def main():
    f = load(sys.argv[1])
    out = []
    w = out.append

    def num(key):
        try:
            return float(f[key])
        except (KeyError, ValueError):
            return None

    def show(key, unit=""):
        return f"{f[key]}{unit}" if key in f else "—"

    def ratio(a, b):
        x, y = num(a), num(b)
        return x / y if x is not None and y else None

    def pct(r):
        return "—" if r is None else f"{100 * r:.0f} %"

    def verdict(ok):
        return "—" if ok is None else ("met" if ok else "**not met**")

    def at_least(r, bound):
        return None if r is None else r >= bound

    def under(x, bound):
        return None if x is None else x < bound

    w("# Benchmarks")
    w("")
    w(
        f"Written by `bash bench/run.sh` (last run {show('date')}, commit "
        f"`{show('commit')}`). Every figure comes from the release build, "
        "loaded by `oha` over loopback on the same machine: the load "
        "generator shares the cores with the server, so absolute figures "
        "are lower than on a separate client, and each ratio compares two "
        "loads measured in the same run."
    )
    w("")
    if "note" in f:
        w(f["note"])
        w("")
    w(
        f"Machine: {show('machine_cores')} cores ({show('machine_cpu')}), "
        f"{show('machine_memory')} memory, {show('machine_kernel')}; "
        f"{show('oha_version')}. Load average when the run started: "
        f"{show('load_average')} (anything else running on the machine "
        "takes cores from both the server and the load generator)."
    )
    w("")

    # ---------------------------------------------------------- throughput
    seconds, conns = show("seconds"), show("connections")
    w("## Throughput and latency")
    w("")
    w(
        f"Each target: a 2 s warm-up, the most requests/s at {conns} "
        f"connections for {seconds} s, then {seconds} s at a fixed offered "
        "load of half that maximum (`oha -q`, latency corrected for "
        "coordinated omission). The reference is bench/reference: a minimal "
        "axum server (the workspace's axum and tokio versions and release "
        "profile) with one route answering `/health`'s JSON. `/health` is "
        "compared with the reference, the API-key routes with `/health` on "
        "the same database. The API key's organization is on a plan whose "
        "quota and rate limit never refuse. PostgreSQL runs with "
        "`synchronous_commit=off` (as SQLite's WAL with `synchronous=NORMAL`), "
        "Redis without persistence. The load generator runs on the same 2 "
        "cores: a p99 at half load is sensitive to anything else running "
        "(a pause of the machine shows as a long tail once latency is "
        "corrected), so compare p99s of runs made on a quiet machine, and "
        "repeat `bash bench/run.sh throughput` when one looks out of line."
    )
    w("")
    w(
        "| database | route | requests/s | ratio | p50 | p99 | offered (half) | "
        "p50 at half | p99 at half | answers |"
    )
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")

    def row(database, name, label, against):
        key = name
        r = ratio(f"{key}_rps", f"{against}_rps") if against else None
        basis = {
            "reference": "of the reference",
            "reference_pinned": "of the reference",
        }.get(against, "of `/health`") if against else "reference"
        w(
            f"| {database} | {label} | {show(key + '_rps')} | "
            f"{pct(r) + ' ' + basis if against else basis} | "
            f"{show(key + '_p50', ' ms')} | {show(key + '_p99', ' ms')} | "
            f"{show(key + '_half_rate')} | {show(key + '_half_p50', ' ms')} | "
            f"{show(key + '_half_p99', ' ms')} | {show(key + '_answers')} |"
        )

    row("—", "reference", "minimal axum, `GET /health`", None)
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
        row(label, f"{db}_health", "`GET /health`", "reference")
        row(label, f"{db}_verify", "`POST /keys/verify`", f"{db}_health")
        row(label, f"{db}_message", "`GET /messages/{id}` (API key)", f"{db}_health")
        row(label, f"{db}_product", "`GET /marketplace/products/{id}`", f"{db}_health")
    w("")
    if num("sqlite_lean_verify_rps") is not None:
        w("### The raw request log's share (SQLite)")
        w("")
        w(
            "The metered routes again on the same database, with the raw "
            "request log off (`usage_raw_log = false`: the hourly counters "
            "only, which every count, quota and invoice reads). Each ratio "
            "is against the `/health` above."
        )
        w("")
        w("| route | raw log on | ratio | raw log off | ratio | change |")
        w("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, label in (
            ("verify", "`POST /keys/verify`"),
            ("message", "`GET /messages/{id}` (API key)"),
        ):
            on = ratio(f"sqlite_{name}_rps", "sqlite_health_rps")
            off = ratio(f"sqlite_lean_{name}_rps", "sqlite_health_rps")
            change = ratio(f"sqlite_lean_{name}_rps", f"sqlite_{name}_rps")
            change_text = (
                "—" if change is None else f"{(change - 1) * 100:+.0f} %"
            )
            w(
                f"| {label} | {show(f'sqlite_{name}_rps')} | {pct(on)} | "
                f"{show(f'sqlite_lean_{name}_rps')} | {pct(off)} | {change_text} |"
            )
        w("")
    w("### Latency tail, server and load generator on a core each")
    w("")
    w(
        "The same loads of `/health` and the verification, with the server "
        "pinned to the second core and `oha` to the first (`taskset -c`), on "
        "a new start of the server over the same database, so that neither "
        "takes the other's core. The server runs one worker thread (its "
        "runtime sizes itself to the cores it may use). The reference is "
        "loaded the same way: its tail at half load is what `oha` on one "
        "core adds to any server's."
    )
    w("")
    w(
        "| database | route | requests/s | ratio | p50 | p99 | offered (half) | "
        "p50 at half | p99 at half | answers |"
    )
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    row("—", "reference_pinned", "minimal axum, `GET /health`", None)
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
        row(label, f"{db}_pinned_health", "`GET /health`", "reference_pinned")
        row(label, f"{db}_pinned_verify", "`POST /keys/verify`", f"{db}_pinned_health")
    w("")
    w(
        f"Start-up to the first successful `GET /health` (migrations of a new "
        f"database included): {show('sqlite_startup_ms', ' ms')} on SQLite, "
        f"{show('postgres_startup_ms', ' ms')} on PostgreSQL. Idle resident "
        f"memory 2 s after start: "
        f"{mib(num('sqlite_idle_rss_kib'))} on SQLite, "
        f"{mib(num('postgres_idle_rss_kib'))} on PostgreSQL + Redis."
    )
    w("")

    # --------------------------------------------------------------- close
    w("## Month close")
    w("")
    w(
        f"`landlord close-period --month {show('close_month')}` over "
        f"{show('close_organizations')} organizations (plan `starter`, a "
        f"billing email: a priced cycle and an invoice mail each) with "
        f"{show('close_usage_rows')} usage rows in the month, inserted by SQL "
        "into a freshly migrated database (the insert is not timed in the "
        "close)."
    )
    w("")
    w("| database | close | cycles | insert (setup) | output |")
    w("| --- | ---: | ---: | ---: | --- |")
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        w(
            f"| {label} | {show(f'close_{db}_s', ' s')} | {show(f'close_{db}_cycles')} | "
            f"{show(f'close_{db}_insert_s', ' s')} | {show(f'close_{db}_output')}"
            + (
                f" (≈ {show(f'close_{db}_estimate_s', ' s')} for all at that rate)"
                if f"close_{db}_estimate_s" in f
                else ""
            )
            + " |"
        )
    w("")

    # --------------------------------------------------------------- crash
    w("## Usage on shutdown and on `kill -9`")
    w("")
    w(
        f"Usage flush interval: {show('crash_flush_ms', ' ms')}. Graceful: "
        "50,000 `POST /keys/verify` (oha `-n`, every answer awaited), SIGTERM, "
        "then the stored usage is counted. `kill -9`: a 6 s load of "
        "`POST /keys/verify` at "
        f"{conns} connections, the server killed after 3 s; answered = oha's "
        "2xx; stored = usage counted by SQL after a restart and a graceful "
        "stop, less what was stored before the load; lost = answered − "
        "stored, also expressed as time at the load's rate."
    )
    w("")
    w(
        "| database | SIGTERM: answered | stored | `kill -9`: answered | stored | "
        "lost | rate | lost, as traffic time |"
    )
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
        w(
            f"| {label} | {show(f'crash_{db}_graceful_answered')} | "
            f"{show(f'crash_{db}_graceful_stored')} | {show(f'crash_{db}_answered')} | "
            f"{show(f'crash_{db}_stored')} | {show(f'crash_{db}_lost')} | "
            f"{show(f'crash_{db}_rate', ' req/s')} | {show(f'crash_{db}_lost_ms', ' ms')} |"
        )
    w("")

    # --------------------------------------------------------- connections
    w("## Concurrent keep-alive connections")
    w("")
    w(
        f"{show('connections_asked')} connections opened by an asyncio "
        "client (bench/connections.py), each serving `GET /health`, then "
        "a second request on every one at once; the server's VmRSS idle, "
        f"while they are held, and {show('connections_seconds_after', ' s')} "
        "after they are closed (SQLite)."
    )
    w("")
    w("| held | failures | reused | idle | held | peak | after closing |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    w(
        f"| {show('connections_held')} | {show('connections_failures')} | "
        f"{show('connections_reused')} | {mib(num('connections_rss_idle_kib'))} | "
        f"{mib(num('connections_rss_held_kib'))} | {mib(num('connections_rss_peak_kib'))} | "
        f"{mib(num('connections_rss_after_kib'))} |"
    )
    w("")

    # -------------------------------------------------------- redis outage
    outage_start = len(out)
    w("## Redis outage under load")
    w("")
    before, during, after = (f.get("outage_seconds", "—/—/—").split("/") + ["—"] * 3)[:3]
    w(
        f"`bash bench/run.sh redis-outage`: one instance on PostgreSQL + Redis, "
        f"`GET /messages/{{id}}` with an API key (the bench plan: limits and "
        f"quota leased from Redis) loaded by wrk ({show('wrk_version')}, "
        f"{conns} connections, 2 threads) for {before} s, then Redis killed "
        f"(`kill -9`) for {during} s and started again, empty, on the same "
        f"port, then {after} s more. Answers are counted per wall-clock "
        "second (bench/per_second.lua); a phase's figure is the mean of its "
        "whole seconds (the seconds holding the kill or the restart, and "
        "the first and last partial ones, are shown but not averaged; the "
        "second after the restart is the breaker's probe interval). Last "
        f"run {show('date')}, commit `{show('commit')}`, load average "
        f"{show('load_average')} when it started (other builds shared the "
        "2 cores: compare the phases of one run, not runs)."
    )
    w("")
    w("| phase | requests/s | of before |")
    w("| --- | ---: | ---: |")
    for phase, label in (("before", "before the outage"), ("during", "Redis down"),
                         ("after", "Redis back")):
        r = ratio(f"outage_{phase}_rps", "outage_before_rps")
        w(f"| {label} | {show(f'outage_{phase}_rps')} | {pct(r)} |")
    w("")
    if "outage_per_second" in f:
        cells = [c.split(":") for c in f["outage_per_second"].split()]
        w("Per second (seconds from the kill; the phase each counts in):")
        w("")
        w("| second | " + " | ".join(c[0] for c in cells) + " |")
        w("| --- | " + " | ".join("---:" for _ in cells) + " |")
        w("| answers | " + " | ".join(c[1] for c in cells) + " |")
        w("| phase | " + " | ".join(c[2] for c in cells) + " |")
        w("")
    r = num("outage_ratio")
    w(
        f"Throughput while Redis is down: {pct(r)} of before (target ≥ 80 %: "
        f"{verdict(at_least(r, 0.80))}). Answers other than 2xx over the "
        f"run: {show('outage_non2xx')}. After the run, the breaker's gauge "
        f"`redis_breaker_open` read {show('outage_breaker_after')} (closed) "
        f"and the new Redis held {show('outage_redis_keys_after')} `landlord:` "
        "keys written by the instance after the restart: limits are shared "
        "again."
    )
    w("")
    outage_section = out[outage_start:]

    # ------------------------------------------------------------- targets
    w("## Targets")
    w("")
    w("| target | measured | |")
    w("| --- | --- | --- |")

    def target(text, measured, ok):
        w(f"| {text} | {measured} | {verdict(ok)} |")

    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
        r = ratio(f"{db}_health_rps", "reference_rps")
        target(f"`/health` ≥ 60 % of the minimal axum server ({label})", pct(r), at_least(r, 0.60))
    r = ratio("sqlite_verify_rps", "sqlite_health_rps")
    target("API-key verification ≥ 90 % of `/health` (SQLite)", pct(r), at_least(r, 0.90))
    r = ratio("sqlite_message_rps", "sqlite_health_rps")
    target("`GET /messages/{id}` ≥ 50 % of `/health` (SQLite)", pct(r), at_least(r, 0.50))
    r = ratio("sqlite_product_rps", "sqlite_health_rps")
    target("a marketplace product's read ≥ 50 % of `/health` (SQLite)", pct(r), at_least(r, 0.50))
    r = ratio("postgres_verify_rps", "postgres_health_rps")
    target("API-key verification ≥ 70 % of `/health` (PostgreSQL + Redis)", pct(r), at_least(r, 0.70))
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
        for name, text, bound in (
            ("health", "`/health`", 2.0),
            ("verify", "API-key verification", 2.0),
            ("message", "`GET /messages/{id}`", 5.0),
        ):
            x = num(f"{db}_{name}_half_p99")
            target(
                f"p99 at half the maximum < {bound:g} ms: {text} ({label})",
                show(f"{db}_{name}_half_p99", " ms"),
                under(x, bound),
            )
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
        for name, text in (("health", "`/health`"), ("verify", "API-key verification")):
            x = num(f"{db}_pinned_{name}_half_p99")
            target(
                f"p99 at half the maximum < 2 ms, pinned: {text} ({label})",
                show(f"{db}_pinned_{name}_half_p99", " ms"),
                under(x, 2.0),
            )
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        x = num(f"close_{db}_s")
        measured = show(f"close_{db}_s", " s")
        if f"close_{db}_timed_out" in f:
            x = num(f"close_{db}_estimate_s") or x
            measured = (
                f"stopped after {f[f'close_{db}_timed_out']} s with "
                f"{show(f'close_{db}_cycles')} cycles: ≈ {show(f'close_{db}_estimate_s', ' s')} "
                "for all at that rate"
            )
        target(
            f"month close of {show('close_organizations')} organizations < 60 s ({label})",
            measured,
            under(x, 60),
        )
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
        a, s = num(f"crash_{db}_graceful_answered"), num(f"crash_{db}_graceful_stored")
        target(
            f"no usage lost on graceful shutdown ({label})",
            f"{show(f'crash_{db}_graceful_stored')} stored of {show(f'crash_{db}_graceful_answered')}",
            None if a is None or s is None else a == s,
        )
        lost_ms, flush = num(f"crash_{db}_lost_ms"), num("crash_flush_ms")
        target(
            f"`kill -9` loses at most one flush interval of traffic ({label})",
            f"{show(f'crash_{db}_lost')} requests ≈ {show(f'crash_{db}_lost_ms', ' ms')} "
            f"(interval {show('crash_flush_ms', ' ms')})",
            None if lost_ms is None or flush is None else lost_ms <= flush,
        )
    held = num("connections_rss_peak_kib")
    target(
        f"{show('connections_asked')} keep-alive connections < 200 MiB resident",
        f"{show('connections_held')} held, peak {mib(held)}",
        None if held is None else held < 200 * 1024 and num("connections_held") == num("connections_asked"),
    )
    idle = num("sqlite_idle_rss_kib")
    target("idle < 30 MiB resident (SQLite)", mib(idle), None if idle is None else idle < 30 * 1024)
    start = num("sqlite_startup_ms")
    target("start-up < 1 s (SQLite)", show("sqlite_startup_ms", " ms"), under(start, 1000))
    w("")
    w(
        "Memory returned after the connections close: "
        f"{mib(num('connections_rss_after_kib'))} after, against "
        f"{mib(num('connections_rss_idle_kib'))} idle (no numeric target)."
    )
    w("")

    # The hand-written explanation of unmet targets, kept beside the script.
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ANALYSIS.md")
    if os.path.exists(analysis):
        with open(analysis) as text:
            w(text.read().rstrip("\n"))
        w("")

    if sys.argv[3:] == ["--section", "redis-outage"]:
        # Only this section: the other figures of BENCHMARKS.md stay as
        # their last run wrote them.
        splice(sys.argv[2], "## Redis outage under load", outage_section)
        return

    # What this report does not write survives it: everything from the
    # streams section's marker onward (the streams section, then the
    # sections written by the other scripts or by hand: the apps gateway,
    # backups, inbox reports, cost over data size…) is kept as it is, and
    # the streams section is replaced only when this run measured it.
    sys.dont_write_bytecode = True  # no __pycache__ in bench/
    import scale_report
    import streams_report

    tail = kept_tail(sys.argv[2], (streams_report.BEGIN, scale_report.BEGIN))
    with open(sys.argv[2], "w") as md:
        md.write("\n".join(out).rstrip("\n") + "\n")
        if tail:
            md.write("\n" + tail)
    if "streams_sqlite_without_rps" in f:
        streams_report.splice(sys.argv[2], streams_report.section(f))


def kept_tail(path, markers):
    """The end of the file at `path` from the first of `markers` found,
    or an empty string."""
    if not os.path.exists(path):
        return ""
    with open(path) as md:
        text = md.read()
    found = [text.find(m) for m in markers if m in text]
    return text[min(found):] if found else ""


def splice(path, heading, section):
    """Replaces the section starting at `heading` (up to the next `## `) in
    the file at `path`, or inserts it before the targets."""
    with open(path) as md:
        lines = md.read().split("\n")
    if heading in lines:
        start = lines.index(heading)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
            len(lines),
        )
    else:
        start = end = next(
            (i for i, line in enumerate(lines) if line.startswith("## Targets")),
            len(lines),
        )
    lines[start:end] = section
    with open(path, "w") as md:
        md.write("\n".join(lines))


def mib(kib):
    return "—" if kib is None else f"{kib / 1024:.1f} MiB"


main()
