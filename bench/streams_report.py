#!/usr/bin/env python3
"""Writes the inbox streams section of BENCHMARKS.md (bench/run.sh part
`streams`) from the figures in RESULTS, replacing the section between its
markers, or adding it at the end; the rest of the file is left as it is.
bench/report.py calls `keep` so that a full report keeps the section.

Usage: streams_report.py RESULTS BENCHMARKS.md
"""

import os
import re
import sys

BEGIN = "<!-- streams: written by bench/streams_report.py -->"
END = "<!-- /streams -->"


def load(path):
    figures = {}
    with open(path) as lines:
        for line in lines:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                figures[key] = value
    return figures


def section(f):
    def num(key):
        try:
            return float(f[key])
        except (KeyError, ValueError):
            return None

    def show(key, unit=""):
        return f"{f[key]}{unit}" if key in f else "—"

    def ratio(a, b):
        x, y = num(a), num(b)
        return "—" if x is None or not y else f"{100 * x / y:.0f} %"

    out = [BEGIN, "## Idle inbox streams and other tenants' requests", ""]
    w = out.append
    w(
        f"`bash bench/run.sh streams` (run {show('date')}, commit `{show('commit')}`, "
        f"{show('machine_cores')} cores ({show('machine_cpu')}), load average "
        f"{show('load_average')} at the start; {show('wrk_version')}). "
        "`GET /messages/{id}` of one organization with an API key, loaded by "
        f"`wrk -t2 -c32` for {show('seconds', ' s')} on the {show('streams_build')}: "
        f"with no inbox stream open, then with {show('streams_asked')} idle "
        "streams of another organization held open (bench/streams.py; "
        "caps raised for the run), then with those streams and a presence "
        "change every 200 ms reaching all of them. Each organization's "
        "streams share one reader per instance, so the held streams cost one "
        "database read per wake-up and poll, not one each. The load "
        "generator and the stream holder share the cores with the server."
    )
    w("")
    w(
        "| database | streams held | requests/s | of without | p50 | p99 | "
        "not 2xx | server memory with streams |"
    )
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for database, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis")):
        p = f"streams_{database}"
        if f"{p}_without_rps" not in f:
            continue
        rss = num(f"{p}_rss_kib")
        memory = "—" if rss is None else f"{rss / 1024:.1f} MiB"
        for case, held in (
            ("without", "none"),
            ("with", f"{show(p + '_opened')} idle"),
            ("events", f"{show(p + '_opened')}, an event every 200 ms"),
        ):
            w(
                f"| {label} | {held} | {show(f'{p}_{case}_rps')} | "
                f"{ratio(f'{p}_{case}_rps', f'{p}_without_rps')} | "
                f"{show(f'{p}_{case}_p50', ' ms')} | {show(f'{p}_{case}_p99', ' ms')} | "
                f"{show(f'{p}_{case}_non2xx')} | {memory if case != 'without' else '—'} |"
            )
    w("")
    opened = [
        f"{label}: {show(f'streams_{d}_opened')} opened in "
        f"{show(f'streams_{d}_open_seconds', ' s')}, {show(f'streams_{d}_failures')} "
        f"refused, {show(f'streams_{d}_ended_early')} ended while held"
        for d, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL + Redis"))
        if f"streams_{d}_opened" in f
    ]
    w("Streams: " + "; ".join(opened) + ".")
    if f.get("note"):
        w("")
        w(f["note"])
    w(END)
    return "\n".join(out)


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


def existing(path):
    """The section as `path` has it now, or None."""
    if not os.path.exists(path):
        return None
    found = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), open(path).read(), re.S)
    return found.group(0) if found else None


def keep(figures, path, before):
    """After a full report: the section from the figures when they have
    it, otherwise as it was (`before`)."""
    if "streams_sqlite_without_rps" in figures:
        splice(path, section(figures))
    elif before:
        splice(path, before)


if __name__ == "__main__":
    splice(sys.argv[2], section(load(sys.argv[1])))
