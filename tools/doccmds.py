"""The command blocks of a Markdown page, by name: what a test runs is what the page shows.

A fenced block is named by an HTML comment on the line just before its fence:

    <!-- run: podman-stop -->          a test runs this block (tests/ look it up by name)
    <!-- not-run: needs a cluster -->  no test runs it; the reason is one of NOT_RUN

Every command block of a checked page (a fence whose language is one of COMMAND_LANGS,
or none) must carry one of the two; other blocks (yaml, toml, ...) may, when a test
reads them. `problems` says which do not, and which names no test asks for. The pages
are README.md and docs/*.md (`pages`); tests/docs checks them all and runs the quick
blocks, tests/runtimes runs docs/runtimes.md's. Standard library only.

Usage: doccmds.py list FILE        one line per block: line, kind, name or reason
       doccmds.py show FILE NAME   the text of the block named NAME
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The reasons a block may not be run by CI, each a fact of the CI machine.
NOT_RUN = {
    "needs a cluster": "a Kubernetes node or cluster; CI has none",
    "needs a registry": "a registry on the network; CI reaches none but a local one",
    "needs Nix": "a Nix build; CI can only evaluate the flake",
    "long-running": "minutes: a whole CI run, suite, soak or full benchmark; the suites run "
                    "in their own check.sh stages, the rest by hand",
    "untested runtime": "a runtime version this machine does not have (named in the text)",
}

# Fence languages that are shell commands; a fence without one counts as commands too.
COMMAND_LANGS = {"", "sh", "bash", "shell", "console"}

MARK = re.compile(r"^<!--\s*(run|not-run):\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    kind: str | None  # "run", "not-run" or None (unmarked)
    label: str  # the run name, or the not-run reason


def blocks(path: Path) -> list[Block]:
    lines = Path(path).read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2), i
        mark = MARK.match(lines[i - 1]) if i else None
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        found.append(Block(start + 1, lang, "\n".join(body) + "\n",
                           mark.group(1) if mark else None, mark.group(2) if mark else ""))
    return found


def pages(root: Path) -> list[Path]:
    """The checked pages: README.md and every docs/*.md."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def asked_by(suite: Path) -> set[str]:
    """Block names a test suite asks for: every quoted literal in its Python source
    (its fixtures and tests look blocks up by literal name)."""
    names = set()
    for f in Path(suite).glob("*.py"):
        names |= set(re.findall(r'"([a-z0-9][a-z0-9-]*)"', f.read_text()))
    return names


def named(path: Path, name: str) -> str:
    """The text of the one block marked `run: name`."""
    hits = [b for b in blocks(path) if b.kind == "run" and b.label == name]
    if len(hits) != 1:
        raise LookupError(f"{path}: {len(hits)} blocks marked 'run: {name}', want 1")
    return hits[0].text


def run(path: Path, name: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs the block marked `run: name` as written: `bash -euo pipefail`, in `cwd`,
    with `env` added to this process's environment; its output captured."""
    return subprocess.run(["bash", "-euo", "pipefail", "-c", named(path, name)], cwd=cwd,
                          env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                          timeout=timeout)


def problems(path: Path, asked: set[str]) -> list[str]:
    """Unmarked command blocks, unknown reasons, duplicate names, and names nobody asks
    for."""
    out, seen = [], set()
    for b in blocks(path):
        where = f"{path}:{b.line}"
        if b.kind is None:
            if b.lang in COMMAND_LANGS:
                out.append(f"{where}: command block has neither a run: nor a not-run: marker")
        elif b.kind == "not-run" and b.label not in NOT_RUN:
            out.append(f"{where}: not-run reason {b.label!r} is not one of {sorted(NOT_RUN)}")
        elif b.kind == "run":
            if b.label in seen:
                out.append(f"{where}: a second block named {b.label!r}")
            seen.add(b.label)
            if b.label not in asked:
                out.append(f"{where}: no test runs block {b.label!r}")
    return out


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "list":
            for b in blocks(Path(argv[1])):
                print(f"{b.line}\t{b.kind or 'UNMARKED'}\t{b.label}")
            return 0
        if len(argv) == 3 and argv[0] == "show":
            sys.stdout.write(named(Path(argv[1]), argv[2]))
            return 0
    except (OSError, LookupError) as e:
        print(f"doccmds: {e}", file=sys.stderr)
        return 1
    print(__doc__.split("\n\n")[-1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
