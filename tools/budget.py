"""Fails if any binary is larger than its program's max-binary-bytes in Cargo.toml.

Usage: budget.py BINARY...   (prints one line per binary: bytes, budget, verdict)

A binary's program is its file name up to the first "-" (pong-x86_64: pong); its
budget is [package.metadata.pausle.programs.<program>]'s, else the table's own.
"""

import sys
from pathlib import Path

import cli
from manifest import max_binary_bytes


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    over = 0
    for p in paths:
        if not Path(p).is_file():
            raise cli.Refused(f"{p}: no such file")
        budget = max_binary_bytes(Path(p).name.split("-")[0])
        size = Path(p).stat().st_size
        verdict = "ok" if size <= budget else "OVER BUDGET"
        over += size > budget
        print(f"{size:6d} / {budget} bytes  {verdict}  {p}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(cli.run("budget", main, sys.argv[1:]))
