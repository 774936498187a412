#!/usr/bin/env python3
"""Writes the "Cost over data size" section of BENCHMARKS.md from the
figures bench/scale.sh recorded (one `key=value` a line), replacing the
section between its markers, or adding it at the end; the rest of the file
is left as it is (bench/report.py, the full report, keeps it too).

Usage: scale_report.py RESULTS BENCHMARKS.md
"""

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
        return "—" if x is None else f"{x:.2f} ms"

    def count(n):
        return f"{int(n):,}"

    def sizes(key):
        return [s for s in f.get(key, "").split() if s]

    def plans(prefix, names):
        """The plan lines of the largest size measured, one bullet each."""
        for name, what in names:
            value = f.get(f"{prefix}_plan_{name}")
            if value:
                w(f"- {what}: `{value}`")

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
            "and noisier than on a quiet machine; the shape of each curve "
            "(how a figure moves from one size to the next) is what to read."
        )
        w("")
    if f.get("scale_quick") == "1":
        w("Quick mode (`BENCH_QUICK=1`): only the two smallest sizes of each part.")
        w("")
    w(
        "Each capability is measured at several data sizes: for each size a "
        "freshly migrated database is filled by SQL, with rows as the stores "
        "write them, then the release server is started on it and loaded "
        f"over loopback by wrk (2 threads, {show('scale_connections')} "
        f"connections, {show('scale_seconds', ' s')} after a 1 s warm-up; "
        "p50 and p99 are wrk's, under that closed load, not at a fixed "
        "offered rate). The load generator shares the cores with the server. "
        "Beside each table, the plan of the statement the store runs, at "
        "the largest size (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on "
        "PostgreSQL): a `SEARCH … USING INDEX` (or an index scan) stays "
        "logarithmic in the table, a `SCAN` of the table grows with it."
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
            "key's last use, written in batches every second)."
        )
        w("")
        w("| keys | case | requests/s | p50 | p99 | not 2xx | database |")
        w("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for n in ks:
            for case, label in (
                ("hit", "cache hit"),
                ("miss", "database lookup"),
                ("unknown", "unknown, cached"),
                ("unknown_distinct", "unknown, distinct"),
            ):
                p = f"keys_{n}_{case}"
                w(
                    f"| {count(n)} | {label} | {show(p + '_rps')} | {ms(p + '_p50')} | "
                    f"{ms(p + '_p99')} | {show(p + '_non2xx')} | "
                    f"{show(f'keys_{n}_db_mb', ' MB') if case == 'hit' else ''} |"
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
        w(f.get("keys_reading", READINGS["keys"]))
        w("")

    # --------------------------------------------------------------- close
    cs = sizes("close_sizes")
    if cs:
        w("### Month close")
        w("")
        w(
            f"`landlord close-period --month {show('close_month')}` over N "
            "organizations (plan `starter`, a billing email: a priced cycle "
            "and an invoice mail each) with three usage rows each in the "
            "month and their hourly counters, inserted by SQL into a freshly "
            "migrated database (the insert is not part of the time)."
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
                per = "—" if not s or not cycles else f"{1e6 * s / cycles:.1f} µs"
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
        w(f.get("close_reading", READINGS["close"]))
        w("")

    # -------------------------------------------------------------- search
    ss = sizes("search_sizes")
    if ss:
        w("### Marketplace search")
        w("")
        w(SEARCH_INTRO)
        w("")
        w("| products | database | search | requests/s | p50 | p99 | not 2xx | results |")
        w("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            for n in ss:
                for case, what in SEARCH_CASES:
                    p = f"search_{db}_{n}_{case}"
                    if p + "_rps" not in f:
                        continue
                    w(
                        f"| {count(n)} | {label} | {what} | {show(p + '_rps')} | "
                        f"{ms(p + '_p50')} | {ms(p + '_p99')} | {show(p + '_non2xx')} | "
                        f"{show(p + '_results')} |"
                    )
        w("")
        for db, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
            if any(f"search_{db}_{ss[-1]}_plan_{c}" in f for c, _ in SEARCH_PLANS):
                w(f"Plans at {count(ss[-1])} products, {label}:")
                w("")
                plans(f"search_{db}_{ss[-1]}", SEARCH_PLANS)
                w("")
        w(f.get("search_reading", READINGS["search"]))
        w("")

    # --------------------------------------------------------------- inbox
    ms_ = sizes("inbox_sizes")
    if ms_:
        w("### Inbox: conversation list and thread")
        w("")
        w(INBOX_INTRO)
        w("")
        w("| messages | request | requests/s | p50 | p99 | not 2xx | database |")
        w("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for n in ms_:
            for case, what in INBOX_CASES:
                p = f"inbox_{n}_{case}"
                if p + "_rps" not in f:
                    continue
                w(
                    f"| {count(n)} | {what} | {show(p + '_rps')} | {ms(p + '_p50')} | "
                    f"{ms(p + '_p99')} | {show(p + '_non2xx')} | "
                    f"{show(f'inbox_{n}_db_mb', ' MB') if case == INBOX_CASES[0][0] else ''} |"
                )
        w("")
        w(f"Plans at {count(ms_[-1])} messages:")
        w("")
        plans(f"inbox_{ms_[-1]}", INBOX_PLANS)
        w("")
        w(f.get("inbox_reading", READINGS["inbox"]))
        w("")

    # --------------------------------------------------------------- audit
    if "audit_rows" in f:
        w("### Audit log and events")
        w("")
        w(AUDIT_INTRO.format(rows=count(f["audit_rows"])))
        w("")
        w("| rows | page | requests/s | p50 | p99 | not 2xx |")
        w("| ---: | --- | ---: | ---: | ---: | ---: |")
        for case, what in AUDIT_CASES:
            p = f"audit_{case}"
            if p + "_rps" not in f:
                continue
            w(
                f"| {count(f['audit_rows'])} | {what} | {show(p + '_rps')} | "
                f"{ms(p + '_p50')} | {ms(p + '_p99')} | {show(p + '_non2xx')} |"
            )
        w("")
        w("Plans:")
        w("")
        plans("audit", AUDIT_PLANS)
        w("")
        w(f.get("audit_reading", READINGS["audit"]))
        w("")

    # ------------------------------------------------------------ webhooks
    if "webhooks_endpoints" in f:
        w("### Outgoing webhooks")
        w("")
        w(WEBHOOKS_INTRO.format(endpoints=show("webhooks_endpoints")))
        w("")
        w("| endpoints | events | deliveries | took | deliveries/s | lag p50 | lag p99 | lag max |")
        w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in sizes("webhooks_cases"):
            p = f"webhooks_{n}"
            w(
                f"| {show(p + '_endpoints')} | {show(p + '_events')} | {show(p + '_delivered')} | "
                f"{show(p + '_s', ' s')} | {show(p + '_per_s')} | {show(p + '_lag_p50', ' ms')} | "
                f"{show(p + '_lag_p99', ' ms')} | {show(p + '_lag_max', ' ms')} |"
            )
        w("")
        plans("webhooks", WEBHOOKS_PLANS)
        w("")
        w(f.get("webhooks_reading", READINGS["webhooks"]))
        w("")

    skipped = f.get("scale_skipped")
    if skipped:
        w(f"Not measured in this run: {skipped}.")
        w("")
    while out[-1] == "":
        out.pop()
    w(END)
    return "\n".join(out)


CLOSE_PLANS = (
    ("organizations", "the organizations to close"),
    ("usage", "one organization's requests in the month (hourly counters)"),
    ("cycle", "whether its cycle exists"),
)

SEARCH_INTRO = (
    "`GET /api/v1/marketplace/products` of one storefront, on SQLite and on "
    "PostgreSQL: products with a title and a description of a few words "
    "drawn from a small vocabulary (one word in 1,000 products is rare), "
    "and a location spread over a country-sized box. *Full text, rare*: a "
    "word few products have; *full text, common*: a word one product in "
    "ten has (the first page is what is returned); *radius*: products "
    "within 10 km of a point."
)
SEARCH_CASES = (
    ("text_rare", "full text, rare word"),
    ("text_common", "full text, common word"),
    ("radius", "radius 10 km"),
)
SEARCH_PLANS = (
    ("text", "full text"),
    ("radius", "radius"),
)

INBOX_INTRO = (
    "The inbox of one organization among 1,000 (the messages spread evenly: "
    "N / 1,000 each), conversations of 10 messages; as its agent signed in: "
    "`GET /api/v1/inbox/conversations` (the first page, newest activity "
    "first) and `GET /api/v1/inbox/conversations/{id}/messages` of "
    "conversations taken in turn across the organization."
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
    "{rows} audit entries and {rows} events of one organization (SQLite), "
    "read by its owner: the first page, and a page deep in the list reached "
    "through the cursor (the cursor of an entry 90 % of the way down)."
)
AUDIT_CASES = (
    ("audit_first", "audit log, first page"),
    ("audit_deep", "audit log, deep page"),
    ("events_first", "events, first page"),
    ("events_deep", "events, deep page"),
)
AUDIT_PLANS = (
    ("audit_first", "audit log, first page"),
    ("audit_deep", "audit log, deep page"),
    ("events_first", "events, first page"),
    ("events_deep", "events, deep page"),
)

WEBHOOKS_INTRO = (
    "Outgoing webhooks to a local receiver answering 200 at once (an "
    "asyncio server in the script): events recorded by SQL for organizations "
    "with webhook endpoints, then the time until the receiver has every "
    "delivery (deliveries/s), and the lag of each delivery (received minus "
    "the event's time)."
)
WEBHOOKS_PLANS = ()

READINGS = {
    "keys": "",
    "close": "",
    "search": "",
    "inbox": "",
    "audit": "",
    "webhooks": "",
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
