"""Fails if any binary is larger than Cargo.toml's max-binary-bytes.

Usage: budget.py BINARY...   (prints one line per binary: bytes, budget, verdict)
"""

import sys
from pathlib import Path

import cli
from manifest import metadata


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    budget = metadata()["max-binary-bytes"]
    over = 0
    for p in paths:
        if not Path(p).is_file():
            raise cli.Refused(f"{p}: no such file")
        size = Path(p).stat().st_size
        verdict = "ok" if size <= budget else "OVER BUDGET"
        over += size > budget
        print(f"{size:6d} / {budget} bytes  {verdict}  {p}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(cli.run("budget", main, sys.argv[1:]))
