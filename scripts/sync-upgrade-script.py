#!/usr/bin/env python3
"""Keeps the module copies in the unreleased upgrade script equal to their sources.

An upgrade script (sql/booking_ext--A--B.sql) holds whole copies of the module files that are new
in version B, between the lines `-- BEGIN COPY <path>` and `-- END COPY <path>`, and copies of
the functions of older modules that B changed, between `-- BEGIN COPY <path>#<schema.function>`
and `-- END COPY <path>#<schema.function>` (from its `CREATE FUNCTION <schema.function>(` line to
the first line after it ending in `;` outside its dollar-quoted body; `#replace:<schema.function>` writes it as CREATE OR REPLACE, for a
function whose signature did not change), and of changed policies, `#policy:<name>` (from its
`CREATE POLICY <name> ON` line to the first line ending in `;`; the script drops the old one first). This script writes each copy's current text between its markers; with --check it changes nothing and exits 1
when a copy differs (scripts/lint.sh runs it so). The upgrade test (tests/upgrade.rs) proves the
result equals a fresh install either way. Released scripts (sql/released.sha256) are never
touched: the script refuses to edit one.
"""
import hashlib
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent


def function_end(text, start):
    """The line that ends the CREATE FUNCTION starting at `start`: the first line ending in `;`
    outside its dollar-quoted body (`END $$;` of a PL/pgSQL body, `$$;` of a quoted SQL body,
    the `RETURN ...;` of an SQL-standard body)."""
    quoted = False
    for i in range(start, len(text)):
        if text[i].count("$$") % 2:
            quoted = not quoted
        if not quoted and text[i].rstrip().endswith(";"):
            return i
    sys.exit(f"no end of the function at line {start + 1}")
check = "--check" in sys.argv[1:]
released = {line.split()[1] for line in (root / "sql/released.sha256").read_text().splitlines() if line.strip()}
marker = re.compile(r"^-- (BEGIN|END) COPY (\S+)$")
status = 0
for script in sorted((root / "sql").glob("booking_ext--*--*.sql")):
    lines = script.read_text().split("\n")
    out, copying = [], None
    for line in lines:
        m = marker.match(line)
        if m and m.group(1) == "BEGIN":
            copying = m.group(2)
            out.append(line)
            path, _, item = copying.partition("#")
            text = (root / path).read_text().rstrip("\n").split("\n")
            kind, _, name = item.rpartition(":")
            if kind == "policy":
                start = next((i for i, l in enumerate(text) if l.startswith(f"CREATE POLICY {name} ON ")), None)
                if start is None:
                    sys.exit(f"{script.name}: no CREATE POLICY {name} in {path}")
                end = next(i for i in range(start, len(text)) if text[i].endswith(";"))
                text = text[start:end + 1]
            elif name:
                start = next((i for i, l in enumerate(text) if l.startswith(f"CREATE FUNCTION {name}(")), None)
                if start is None:
                    sys.exit(f"{script.name}: no CREATE FUNCTION {name}( in {path}")
                end = function_end(text, start)
                text = text[start:end + 1]
                if kind == "replace":
                    text = ["CREATE OR REPLACE" + text[0][len("CREATE"):]] + text[1:]
            out.extend(text)
        elif m and m.group(1) == "END":
            if m.group(2) != copying:
                sys.exit(f"{script.name}: END COPY {m.group(2)} does not close BEGIN COPY {copying}")
            copying = None
            out.append(line)
        elif copying is None:
            out.append(line)
    if copying is not None:
        sys.exit(f"{script.name}: BEGIN COPY {copying} is never closed")
    text = "\n".join(out)
    if text == script.read_text():
        continue
    rel = str(script.relative_to(root))
    if check:
        print(f"{rel}: a module copy differs from its source (run scripts/sync-upgrade-script.py)")
        status = 1
    elif any(rel.endswith(r) or r.endswith(script.name) for r in released):
        sys.exit(f"{rel} is released and never edited")
    else:
        script.write_text(text)
        print(f"{rel}: module copies brought up to date")
sys.exit(status)
