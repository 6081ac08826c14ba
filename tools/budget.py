"""Fails if any binary is larger than its program's max-binary-bytes in Cargo.toml.

Usage: budget.py [--program NAME] BINARY...   (one line per binary: bytes, budget,
verdict)

A binary's program is NAME, or else its file name up to the first "-" (what
tools/check.sh's build stage writes, pong-x86_64: pong; the flake's bin/pausle:
pausle), which must be a program of Cargo.toml's table (programs.<name>).
"""

import sys
from pathlib import Path

import cli
from manifest import max_binary_bytes


def main(argv: list[str]) -> int:
    name = None
    if argv[:1] == ["--program"] and len(argv) >= 2:
        name, argv = argv[1], argv[2:]
    paths = argv
    if not paths or paths[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    if name is not None:
        max_binary_bytes(name)  # refused before any file if the table lacks it
    over = 0
    for p in paths:
        if not Path(p).is_file():
            raise cli.Refused(f"{p}: no such file")
        budget = max_binary_bytes(name or Path(p).name.split("-")[0])
        size = Path(p).stat().st_size
        verdict = "ok" if size <= budget else "OVER BUDGET"
        over += size > budget
        print(f"{size:6d} / {budget} bytes  {verdict}  {p}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(cli.run("budget", main, sys.argv[1:]))
