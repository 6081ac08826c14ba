"""Fails if any binary is larger than its program's max-binary-bytes in Cargo.toml.

Usage: budget.py [--program NAME] BINARY...   (NAME: a program of Cargo.toml's table,
default pausle; prints one line per binary: bytes, budget, verdict)
"""

import sys
from pathlib import Path

import cli
from manifest import DEFAULT_PROGRAM, program


def main(argv: list[str]) -> int:
    name = DEFAULT_PROGRAM
    if argv[:1] == ["--program"] and len(argv) >= 2:
        name, argv = argv[1], argv[2:]
    paths = argv
    if not paths or paths[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    budget = program(name)["max-binary-bytes"]
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
