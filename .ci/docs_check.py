#!/usr/bin/env python3
"""Checks the documentation without downloading anything.

- every page listed in docs/src/SUMMARY.md exists;
- every relative Markdown link in README.md, ARCHITECTURE.md and
  docs/src/**/*.md points to an existing file, and a `#anchor` into a
  Markdown file names one of its headings (GitHub's slugs);
- no Markdown page under docs/src, nor README.md, cites what a reader cannot
  follow: `DESIGN.md`, `§`, a seed number (`seed 0…`) or an issue number.

Prints each problem and exits 1 when there is any. Standard library only.
"""

import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "src"

# [text](target) and ![alt](target); the target ends at whitespace or ")".
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# [label]: target
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
# <img src="…"> and <a href="…">
HTML_LINK = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")
FORBIDDEN = [
    (re.compile(r"DESIGN\.md"), "cites DESIGN.md"),
    (re.compile(r"§"), "cites a section sign (§)"),
    (re.compile(r"\bseed\s+0", re.IGNORECASE), "cites a seed number"),
    (re.compile(r"\bissues?\s+#?\d", re.IGNORECASE), "cites an issue number"),
]


def without_code(text):
    """The text with fenced code blocks and inline code spans blanked
    (line numbers kept), so that examples are not read as links."""
    lines = []
    fence = None
    for line in text.split("\n"):
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            lines.append("")
            continue
        if match:
            fence = match.group(1)
            lines.append("")
            continue
        lines.append(re.sub(r"(`+)(?:(?!\1).)+?\1", "", line))
    return "\n".join(lines)


def slug(heading):
    """GitHub's anchor for a heading: markup removed, lowercased, punctuation
    dropped except hyphens and underscores, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links → their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "-_ " or category[0] in ("L", "N") or category == "Mn":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen = {}
        found = set()
        for line in without_code_keep_headings(path.read_text(encoding="utf-8")):
            match = HEADING.match(line)
            if not match:
                continue
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        cache[path] = found
    return cache[path]


def without_code_keep_headings(text):
    """Lines outside fenced code blocks (headings keep their inline code)."""
    fence = None
    for line in text.split("\n"):
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            continue
        yield line


def links(text):
    clean = without_code(text)
    for pattern in (INLINE_LINK, REFERENCE_DEF, HTML_LINK):
        for match in pattern.finditer(clean):
            line = clean.count("\n", 0, match.start()) + 1
            yield line, match.group(1)


def check_links(path, problems):
    for line, target in links(path.read_text(encoding="utf-8")):
        where = f"{path.relative_to(ROOT)}:{line}"
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # https:, mailto: and the like are not checked
        file_part, _, anchor = target.partition("#")
        if file_part.startswith("/"):
            problems.append(f"{where}: absolute link {target!r} (use a relative one)")
            continue
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            problems.append(f"{where}: link to a missing file: {target}")
            continue
        if anchor and destination.suffix == ".md":
            if anchor not in anchors(destination):
                problems.append(
                    f"{where}: no heading #{anchor} in {destination.relative_to(ROOT)}"
                )


def check_forbidden(path, problems):
    """Searched in the whole text, so that a line break inside the words
    ("seed" at the end of a line, "002" on the next) hides nothing."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    for pattern, reason in FORBIDDEN:
        for match in pattern.finditer(text):
            number = text.count("\n", 0, match.start()) + 1
            problems.append(
                f"{path.relative_to(ROOT)}:{number}: {reason}: {lines[number - 1].strip()}"
            )


def check_summary(problems):
    summary = DOCS / "SUMMARY.md"
    if not summary.exists():
        problems.append("docs/src/SUMMARY.md is missing")
        return
    for line, target in links(summary.read_text(encoding="utf-8")):
        file_part = target.partition("#")[0]
        if not file_part:
            continue  # a draft chapter: [Title]()
        if not (DOCS / file_part).is_file():
            problems.append(f"docs/src/SUMMARY.md:{line}: the page {file_part} does not exist")


def main():
    problems = []
    check_summary(problems)
    pages = sorted(DOCS.rglob("*.md"))
    for path in [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *pages]:
        if path.exists():
            check_links(path, problems)
    for path in [ROOT / "README.md", *pages]:
        if path.exists():
            check_forbidden(path, problems)
    for problem in problems:
        print(problem)
    if problems:
        print(f"docs check: {len(problems)} problem(s)")
        return 1
    print(f"docs check: {len(pages)} pages under docs/src, README.md and ARCHITECTURE.md are fine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
