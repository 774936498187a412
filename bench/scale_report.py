#!/usr/bin/env python3
"""Writes the "Cost over data size" section of BENCHMARKS.md from the
figures bench/scale.sh recorded (one `key=value` a line), replacing the
section between its markers, or adding it at the end; the rest of the file
is left as it is (bench/report.py, the full report, keeps it too).

Usage: scale_report.py RESULTS BENCHMARKS.md
"""

import math
import os
import re
import sys

BEGIN = "<!-- scale: written by bench/scale_report.py -->"
END = "<!-- /scale -->"


def load(path):
    figures = {}
    with open(path) as lines:
        for line in lines:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                figures[key] = value
    return figures


def section(f):
    out = [BEGIN, "## Cost over data size", ""]
    w = out.append

    def num(key):
        try:
            return float(f[key])
        except (KeyError, ValueError):
            return None

    def show(key, unit=""):
        return f"{f[key]}{unit}" if key in f and f[key] != "" else "—"

    def ms(key):
        x = num(key)
        if x is None:
            return "—"
        return f"{x:.2f} ms" if x < 10 else f"{x:.0f} ms" if x >= 100 else f"{x:.1f} ms"

    def count(n):
        return f"{int(n):,}"

    def sizes(key):
        return [s for s in f.get(key, "").split() if s]

    def plans(prefix, names):
        for name, what in names:
            value = f.get(f"{prefix}_plan_{name}")
            if value:
                w(f"- {what}: `{value}`")

    def case_head(first):
        w(f"| {first} | case | alone p50 | alone slowest | loaded requests/s | loaded p50 | loaded p99 | not 2xx or unanswered |")
        w("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")

    def case_row(size, label, p):
        if f.get(p + "_alone") == "1":
            loaded = ("not loaded", "—", "—", "—")
        else:
            loaded = (show(p + "_rps"), ms(p + "_p50"), ms(p + "_p99"), show(p + "_non2xx"))
        w(
            f"| {size} | {label} | {ms(p + '_alone_p50')} | {ms(p + '_alone_max')} | "
            + " | ".join(loaded) + " |"
        )

    def shape(label, points, unit="ms alone", digits=2):
        """One sentence: how the alone p50 moved from the smallest size to
        the largest, and the curve's kind."""
        pts = [(float(n), num(k)) for n, k in points if num(k)]
        if len(pts) < 2:
            return ""
        (n0, v0), (n1, v1) = pts[0], pts[-1]
        grow = v1 / v0
        exponent = math.log(grow) / math.log(n1 / n0) if n1 > n0 and grow > 0 else 0
        if exponent < 0.15:
            kind = "flat"
        elif exponent < 0.6:
            kind = "sub-linear"
        else:
            kind = "**linear**"
        if unit != "ms alone":
            # A rate: it falls as the cost grows.
            exponent = -exponent
            kind = "flat" if exponent < 0.15 else "sub-linear" if exponent < 0.6 else "**linear**"
        return (
            f"{label}: {v0:.{digits}f} → {v1:.{digits}f} {unit} (×{grow:.2f}) for "
            f"×{n1 / n0:,.0f} the data — {kind}."
        )

    load_start = f.get("scale_load_average", "—")
    busy = False
    try:
        busy = float(load_start.split()[0]) > 1.5
    except (ValueError, IndexError):
        pass
    w(
        f"`bash bench/scale.sh` (run {show('scale_date')}, commit `{show('scale_commit')}`, "
        f"{show('scale_build')}; {show('scale_machine_cores')} cores "
        f"({show('scale_machine_cpu')}), {show('scale_machine_memory')} memory; "
        f"{show('scale_wrk_version')}, {show('scale_sqlite_version')}"
        + (f", {f['scale_postgres_version']}" if "scale_postgres_version" in f else "")
        + f"; load average {load_start} at the start, "
        f"{show('scale_load_average_end')} at the end; the whole run took "
        f"{show('scale_total_s', ' s')})."
    )
    w("")
    if busy:
        w(
            "The load average was above 1.5 when the run started: other work "
            "(compiles) shared the 2 cores, so absolute figures are lower "
            "and noisier than on a quiet machine; read the shape of each "
            "curve (how a figure moves from one size to the next) rather "
            "than single values."
        )
        w("")
    alone = sorted(k for k in f if k.startswith("scale_alone_"))
    if alone:
        w(
            "Run again alone afterwards (their figures replace the whole run's): "
            + "; ".join(f"the {k[len('scale_alone_'):]} part on {f[k]}" for k in alone)
            + "."
        )
        w("")
    if f.get("scale_quick") == "1":
        w("Quick mode (`BENCH_QUICK=1`): only the two smallest sizes of each part.")
        w("")
    w(
        "Each capability is measured at several data sizes: for each size a "
        "freshly migrated database is filled by SQL, with rows as the stores "
        "write them, then the release server is started on it. Each case is "
        "measured twice over loopback. *Alone*: one request at a time, the "
        "first one cold and then up to 20 more (5 when a request takes over "
        "100 ms, 2 over a second): the p50 and the slowest, the latency one "
        "user feels on a quiet server; the curves below are read on this "
        "figure. *Loaded*: wrk, 2 threads, "
        f"{show('scale_connections')} connections for {show('scale_seconds', ' s')} "
        "after a 1 s warm-up (p50 and p99 under that closed load), only when "
        "a request alone takes under 50 ms — a slower request is *not loaded* "
        "(a closed load would only queue them), and its throughput is about "
        "1,000 / its p50 per core. The load generator shares the 2 cores "
        "with the server. Under each table, the plan of the statement the "
        "store runs, at the largest size, with its parameters bound as the "
        "store binds them (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` of a "
        "prepared statement on PostgreSQL): a `SEARCH … USING INDEX` or an "
        "index scan that stops at the page stays logarithmic, a `SCAN`, a "
        "`USE TEMP B-TREE FOR ORDER BY` over every matching row or a filter "
        "evaluated on every row grows with the data."
    )
    w("")

    # ---------------------------------------------------------------- keys
    ks = sizes("keys_sizes")
    if ks:
        w("### API-key verification")
        w("")
        w(
            "`POST /api/v1/keys/verify` on SQLite, the keys spread over 1,000 "
            "organizations on a plan that never refuses. *Cache hit*: one key "
            "verified again and again (the key cache answers; one database "
            "read a second when the entry expires). *Database lookup*: up to "
            "100,000 distinct valid keys spread over the whole table, in turn, "
            "with the key cache shortened to 1 ms for that load, so every "
            "verification reads the key and its organization. *Unknown, "
            "cached*: one unknown key again and again (the cache of unknown "
            "keys answers). *Unknown, distinct*: 100,000 distinct unknown keys "
            "in turn, each a database lookup that finds nothing. Every "
            "accepted verification is also metered (usage counters and the "
            "key's last use, written in batches every second). The alone "
            "figures are one key each (the loaded ones cycle)."
        )
        w("")
        case_head("keys")
        for n in ks:
            for case, label in KEY_CASES:
                case_row(count(n), label, f"keys_{n}_{case}")
        w("")
        w(
            "Database size: "
            + ", ".join(f"{show(f'keys_{n}_db_mb', ' MB')} at {count(n)} keys" for n in ks)
            + "."
        )
        w("")
        w(f"Plans at {count(ks[-1])} keys:")
        w("")
        plans(f"keys_{ks[-1]}", (
            ("by_hash", "the key by its hash"),
            ("organization", "its organization (the plan)"),
            ("last_used", "the key's last use, per key in each usage batch"),
        ))
        w("")
        lines = [
            shape(label, [(n, f"keys_{n}_{case}_rps") for n in ks], "requests/s loaded", 0)
            for case, label in KEY_CASES
        ]
        w(READINGS["keys"])
        w("")
        for line in lines:
            if line:
                w(f"- {line}")
        w("")

    # --------------------------------------------------------------- close
    cs = sizes("close_sizes")
    if cs:
        w("### Month close")
        w("")
        w(
            f"`landlord close-period --month {show('close_month')}` over N "
            "organizations (plan `starter`, a billing email: a priced cycle, "
            "an `invoice.created` event and an invoice mail each) with three "
            "hours of usage each in the month (the hourly counters billing "
            "reads), inserted by SQL into a freshly migrated database (the "
            "insert is not part of the time; the command's start-up is)."
        )
        w("")
        w("| organizations | database | close | per organization | cycles | insert |")
        w("| ---: | --- | ---: | ---: | ---: | ---: |")
        for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            for n in cs:
                p = f"close_{db}_{n}"
                if p + "_s" not in f:
                    continue
                s, cycles = num(p + "_s"), num(p + "_cycles")
                per = "—" if not s or not cycles else f"{1e6 * s / cycles:.0f} µs"
                w(
                    f"| {count(n)} | {label} | {show(p + '_s', ' s')} | {per} | "
                    f"{show(p + '_cycles')} | {show(p + '_insert_s', ' s')} |"
                )
        w("")
        for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            if f"close_{db}_{cs[-1]}_plan_organizations" in f:
                w(f"Plans at {count(cs[-1])} organizations, {label}:")
                w("")
                plans(f"close_{db}_{cs[-1]}", CLOSE_PLANS)
                w("")
        w(READINGS["close"])
        w("")
        for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            pts = [(n, num(f"close_{db}_{n}_s"), num(f"close_{db}_{n}_cycles")) for n in cs]
            pts = [(n, s / c * 1e6) for n, s, c in pts if s and c]
            if len(pts) >= 2:
                w(
                    f"- {label}: " + ", ".join(f"{v:.0f} µs" for _, v in pts)
                    + " per organization from "
                    + f"{count(pts[0][0])} to {count(pts[-1][0])} organizations."
                )
        w("")

    # -------------------------------------------------------------- search
    ss = sizes("search_sizes")
    if ss:
        w("### Marketplace search")
        w("")
        w(SEARCH_INTRO)
        w("")
        case_head("products")
        for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            for n in ss:
                for case, what in SEARCH_CASES:
                    p = f"search_{db}_{n}_{case}"
                    if p + "_alone_p50" not in f:
                        continue
                    case_row(count(n), f"{label}, {what} ({show(p + '_results')} results)", p)
        w("")
        for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            if any(f"search_{db}_{ss[-1]}_plan_{c}" in f for c, _ in SEARCH_PLANS):
                w(f"Plans at {count(ss[-1])} products, {label}:")
                w("")
                plans(f"search_{db}_{ss[-1]}", SEARCH_PLANS)
                w("")
        w(READINGS["search"])
        w("")
        for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            for case, what in SEARCH_CASES:
                line = shape(f"{label}, {what}", [(n, f"search_{db}_{n}_{case}_alone_p50") for n in ss])
                if line:
                    w(f"- {line}")
        w("")

    # --------------------------------------------------------------- inbox
    ms_ = sizes("inbox_sizes")
    if ms_:
        w("### Inbox: conversation list and thread")
        w("")
        w(INBOX_INTRO)
        w("")
        case_head("messages")
        for n in ms_:
            for case, what in INBOX_CASES:
                p = f"inbox_{n}_{case}"
                if p + "_alone_p50" not in f:
                    continue
                extra = f" ({show(f'inbox_{n}_list_results')} shown)" if case == "list" else ""
                case_row(count(n), what + extra, p)
        w("")
        w(
            "The measured organization's share: "
            + ", ".join(
                f"{show(f'inbox_{n}_conversations')} conversations at {count(n)} messages "
                f"({show(f'inbox_{n}_db_mb', ' MB')} database)"
                for n in ms_
            )
            + "."
        )
        w("")
        w(f"Plans at {count(ms_[-1])} messages:")
        w("")
        plans(f"inbox_{ms_[-1]}", INBOX_PLANS)
        w("")
        w(READINGS["inbox"])
        w("")
        for case, what in INBOX_CASES:
            line = shape(what, [(n, f"inbox_{n}_{case}_alone_p50") for n in ms_])
            if line:
                w(f"- {line}")
        w("")

    # --------------------------------------------------------------- audit
    aus = sizes("audit_sizes")
    if aus:
        w("### Audit log and events")
        w("")
        w(AUDIT_INTRO)
        w("")
        case_head("rows")
        for n in aus:
            for case, what in AUDIT_CASES:
                p = f"audit_{n}_{case}"
                if p + "_alone_p50" in f:
                    case_row(count(n), what, p)
        w("")
        w(f"Plans at {count(aus[-1])} rows:")
        w("")
        plans(f"audit_{aus[-1]}", AUDIT_CASES)
        w("")
        w(READINGS["audit"])
        w("")
        for case, what in AUDIT_CASES:
            line = shape(what, [(n, f"audit_{n}_{case}_alone_p50") for n in aus])
            if line:
                w(f"- {line}")
        w("")

    # ------------------------------------------------------------ webhooks
    whs = [c for c in sizes("webhooks_cases") if ":" in c]
    if whs:
        w("### Outgoing webhooks")
        w("")
        w(WEBHOOKS_INTRO)
        w("")
        w(
            "| endpoints | deliveries | delivered | took | deliveries/s | first after | "
            "lag p50 | lag p99 | idle: one event, all endpoints |"
        )
        w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for case in whs:
            p = "webhooks_" + case.replace(":", "_")
            w(
                f"| {show(p + '_endpoints')} | {count(case.split(':')[1])} | {show(p + '_delivered')} | "
                f"{show(p + '_s', ' s')} | {show(p + '_per_s')} | {show(p + '_first_ms', ' ms')} | "
                f"{show(p + '_lag_p50', ' ms')} | {show(p + '_lag_p99', ' ms')} | "
                f"{show(p + '_idle_lag_p50', ' ms')} (slowest {show(p + '_idle_lag_max', ' ms')}) |"
            )
        w("")
        last = "webhooks_" + whs[-1].replace(":", "_")
        w("Plans:")
        w("")
        plans(last, (
            ("undispatched", "the dispatcher's batch of new events"),
            ("claim", "the job worker's claim of the next job (each delivery is a job)"),
        ))
        w("")
        w(READINGS["webhooks"])
        w("")

    # ------------------------------------------------------------ start-up
    rows = []
    for part, what, key_sizes, db_key in (
        ("keys", "keys", "keys_sizes", "keys_{n}_db_mb"),
        ("inbox", "messages", "inbox_sizes", "inbox_{n}_db_mb"),
        ("audit", "audit entries and events", "audit_sizes", "audit_{n}_db_mb"),
    ):
        for n in sizes(key_sizes):
            if f"{part}_{n}_startup_ms" in f:
                rows.append(
                    f"| SQLite | {count(n)} {what} | {show(db_key.format(n=n), ' MB')} | "
                    f"{show(f'{part}_{n}_startup_ms', ' ms')} |"
                )
    for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        for n in sizes("search_sizes"):
            if f"search_{db}_{n}_startup_ms" in f:
                rows.append(
                    f"| {label} | {count(n)} products | — | {show(f'search_{db}_{n}_startup_ms', ' ms')} |"
                )
    if rows:
        w("### Server start-up")
        w("")
        w(
            "From starting `landlord serve` on a filled database to its first "
            "answer to `GET /health` (nothing to migrate)."
        )
        w("")
        w("| database | data | size | start-up |")
        w("| --- | --- | ---: | ---: |")
        for row in rows:
            w(row)
        w("")
        w(READINGS["startup"])
        w("")

    skipped = f.get("scale_skipped")
    if skipped:
        w(f"Not measured in this run: {skipped}.")
        w("")
    while out[-1] == "":
        out.pop()
    w(END)
    return "\n".join(out)


KEY_CASES = (
    ("hit", "cache hit"),
    ("miss", "database lookup"),
    ("unknown", "unknown, cached"),
    ("unknown_distinct", "unknown, distinct"),
)

CLOSE_PLANS = (
    ("organizations", "the organizations to close (read once, all of them)"),
    ("usage", "one chunk's requests in the month (hourly counters, 1,000 organizations)"),
    ("changes", "one chunk's plan changes"),
)

SEARCH_INTRO = (
    "`GET /api/v1/marketplace/products` (the public catalog, first page of "
    "50), on SQLite and on PostgreSQL: products of 100 approved stores with "
    "a title and a description of a few words from a small vocabulary, and "
    "a location spread evenly over a box of about 890 × 480 km. *Full "
    "text, rare*: `q=zeppelin`, a word one product in 1,000 has; *full "
    "text, common*: `q=kettle`, one product in 10; *radius*: "
    "`latitude=54&longitude=-1.5&radius_km=10`. The cases run in that "
    "order on each server. The number of results is the first page's. On "
    "PostgreSQL the server's statements are stopped after 20 s."
)
SEARCH_CASES = (
    ("text_rare", "full text, rare word"),
    ("text_common", "full text, common word"),
    ("radius", "radius 10 km"),
)
SEARCH_PLANS = (
    ("text_rare", "full text, rare word"),
    ("text", "full text, common word (SQLite: every match, the plan of a word with fewer than 2,000; PostgreSQL: the plan the server gets for it)"),
    ("text_window", "full text, a common word among the newest 2,550 products (SQLite)"),
    ("text_generic", "full text, the generic plan a prepared statement would be given after five runs (the server plans each search with its words instead)"),
    ("radius", "radius"),
    ("indexes", "the products' indexes"),
)

INBOX_INTRO = (
    "The inbox of one organization among 1,000 (the messages spread evenly: "
    "N / 1,000 each, in conversations of 10 messages; SQLite), read by its "
    "owner: `GET /api/v1/inbox/conversations` (the first page, latest "
    "activity first) and `GET /api/v1/inbox/conversations/{id}/messages` "
    "of its conversations in turn."
)
INBOX_CASES = (
    ("list", "conversation list, first page"),
    ("thread", "a conversation's messages"),
)
INBOX_PLANS = (
    ("list", "the conversation list"),
    ("thread", "a conversation's messages"),
)

AUDIT_INTRO = (
    "N audit entries and N events of one organization (SQLite; one a "
    "minute, its owner's), read by the owner: `GET /api/v1/audit-log` and "
    "`GET /api/v1/events`, the first page (50) and a deep page reached "
    "through the cursor (the page after the entry 90 % of the way down)."
)
AUDIT_CASES = (
    ("audit_first", "audit log, first page"),
    ("audit_deep", "audit log, deep page"),
    ("events_first", "events, first page"),
    ("events_deep", "events, deep page"),
)

WEBHOOKS_INTRO = (
    "Outgoing webhooks on SQLite to a local receiver answering 200 at once "
    "(an asyncio server in the script), endpoints created over the API (at "
    "most 20 per organization). *Burst*: events inserted by SQL at once, "
    "as the events store writes them, making the number of deliveries "
    "shown; the time until the receiver has the last one (deliveries/s) "
    "and each delivery's lag from the insert. *Idle*: then, five times, "
    "one event per organization (reaching every endpoint) on the idle "
    "server: the time until all of its deliveries arrived (median and "
    "slowest of five)."
)

READINGS = {
    "startup": (
        "Reading: flat. A start runs the migrator and, on SQLite, checks "
        "foreign keys (`PRAGMA foreign_key_check`, which reads every row "
        "of every table that has one) only when a migration ran; with "
        "nothing to migrate, a database of a gigabyte starts as fast as one "
        "of two megabytes. Before that change every start and every command "
        "that opens the database ran the check: start-up then grew with the "
        "database, to seconds on the largest ones. PostgreSQL starts in the "
        "same time at every catalog size."
    ),
    "keys": (
        "Reading: flat, as it should be. A verification finds the key through "
        "the unique index on its hash and its organization through the "
        "primary key (B-tree searches: a few page reads at any size), and the "
        "usage writer updates each key's last use by primary key. Hits and "
        "repeated unknown keys never reach the database. A database lookup "
        "costs about four times a cache hit under load (the key, its "
        "organization, and the last-use update of each distinct key in the "
        "next usage batch), the same at a thousand keys as at a million. "
        "From the smallest to the largest size, loaded:"
    ),
    "close": (
        "Reading: linear in organizations, as a close must be, and flat per "
        "organization. The organizations are read once in id order, then "
        "each chunk of 1,000 costs two range searches (its hourly counters "
        "and its plan changes, by the organization-id indexes) and "
        "multi-row inserts of its cycles, events and invoice mails; nothing "
        "re-reads what grows with the whole (on PostgreSQL the plan changes "
        "are read by a sequential scan only because the table is empty here; "
        "with rows, its `(organization_id, created_at)` index serves the "
        "range). The time per organization falls "
        "at the small sizes (the command's start-up is shared by fewer "
        "organizations) and then holds:"
    ),
    "search": (
        "Reading: *full text, common word* is flat on both databases. On "
        "SQLite a word with 2,000 matches or more is looked for among the "
        "newest 50 × page products first (the `text_window` plan: the id "
        "index walked newest first and stopped by the window's limit, the "
        "FTS5 index asked only for rows from the oldest of the window's on, "
        "each product naming its row in `search_rowid`); a word with fewer "
        "matches, or a window holding fewer than a page, takes every match. "
        "On PostgreSQL each search is an unnamed statement, planned with its "
        "words: a common word walks the primary key backwards, parsing each "
        "product's text until 51 match (the common word's plan below), a "
        "rare one goes through the GIN index and sorts its matches. Before, "
        "SQLite handed over every match (101.7 ms at a million products) "
        "and PostgreSQL's cached generic plan intersected the GIN index's "
        "matches store by store (1,357 ms). *Full text, rare word* grows "
        "with its matches (1,000 at a million products): the page holds "
        "the newest of them, and no index orders a word's matches by "
        "product. *Radius* reads the `(status, latitude, longitude)` index "
        "for the latitude band (20 km high across the whole map: 2 % of the "
        "products), tests each entry's longitude, then sorts what is left "
        "by id; it grows with the products in the band. A spatial index "
        "was built and measured at these sizes (an R*Tree on SQLite, a GiST "
        "index of points on PostgreSQL): SQLite 11.6 ms instead of 14.2 ms "
        "at a million products but slower at 10,000 (1.4 against 0.9 ms), "
        "PostgreSQL 25.0 ms instead of 8.6 ms (its planner combined both "
        "indexes); it was not kept. Either way what a radius reads grows "
        "with the products inside it (about 1,500 at a million products "
        "here), since the page holds the newest of them; a page ordered by "
        "distance would not. From the smallest to the largest size, alone:"
    ),
    "inbox": (
        "Reading: flat in the total number of messages. The list walks the "
        "organization's `(organization_id, last_activity_at, id)` index "
        "backwards and stops after the page, whatever the other "
        "organizations hold; it costs a little more as the organization's "
        "own first page fills up (up to 50 conversations). A thread reads "
        "its conversation's messages by `(conversation_id, …)` and sorts "
        "them by id (`USE TEMP B-TREE`): that sort is over the one "
        "conversation's messages (10 here), so it grows with the length of "
        "a conversation, not with the inbox. From the smallest to the "
        "largest size, alone:"
    ),
    "audit": (
        "Reading: flat. Both lists walk an `(organization_id, id)` index "
        "newest first and stop after the page (51 rows, one to know whether "
        "there is a next page); a deep page starts the walk at the cursor. "
        "Until these indexes existed, and while the statement always bound "
        "a time range, both read all of the organization's rows through "
        "the `(organization_id, created_at)` index and sorted them: 2.3 s "
        "for the first audit page and 3.1 s for the events' at 1,000,000 "
        "rows. From the smallest to the largest size, alone:"
    ),
    "webhooks": (
        "Reading: delivery runs one job at a time per instance (each a "
        "claim, the HTTP call, the attempt's row and the job's completion), "
        "so deliveries per second do not depend on how many endpoints an "
        "event fans out to, and a burst drains in its order: a delivery's "
        "lag is its place in the queue divided by that rate. On an idle "
        "server one event reaches its endpoints within the dispatcher's "
        "interval (1 s) plus one job-worker wake-up. A claim takes the "
        "earlier of two candidates, each the first row of one index walk "
        "(the next due job through `jobs_due`, the first lapsed lease "
        "through `jobs_lapsed`), so its cost does not depend on the "
        "backlog; compare deliveries/s for 1,000 and 10,000 deliveries to "
        "100 endpoints. Before, each claim gathered every due job and sorted "
        "them all to take one, and a backlog slowed its own draining. What "
        "would raise the rate: several deliveries in flight per instance."
    ),
}


def splice(path, text):
    """Puts `text` (a whole section with its markers) into `path`."""
    current = open(path).read() if os.path.exists(path) else ""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if pattern.search(current):
        current = pattern.sub(lambda _: text, current)
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    with open(path, "w") as md:
        md.write(current)


if __name__ == "__main__":
    splice(sys.argv[2], section(load(sys.argv[1])))
