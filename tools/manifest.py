"""The single table: pausle's targets and budgets, read from Cargo.toml.

Cargo.toml's [package.metadata.pausle] is the one place the arches and budgets are
written down; the flake reads it with builtins.fromTOML, CI and the tools here through
this module (or its command line). Standard library only.
"""

import sys
import tomllib

import cli
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def metadata(cargo_toml: Path = ROOT / "Cargo.toml") -> dict:
    with open(cargo_toml, "rb") as f:
        return tomllib.load(f)["package"]["metadata"]["pausle"]


def targets() -> list[dict]:
    return metadata()["targets"]


def target(key: str, value: str) -> dict:
    """The one target whose `key` is `value`, e.g. target("oci-arch", "arm64")."""
    found = [t for t in targets() if t.get(key) == value]
    if len(found) != 1:
        raise SystemExit(f"no single target with {key} = {value!r}")
    return found[0]


def image(cargo_toml: Path = ROOT / "Cargo.toml") -> str:
    """The image's name without a tag, e.g. ghcr.io/pausle/pausle: the program's own
    table's `image` where the table has per-program sections, else the table's."""
    meta = metadata(cargo_toml)
    return (meta.get("programs") or {}).get("pausle", {}).get("image") or meta["image"]


def programs(cargo_toml: Path = ROOT / "Cargo.toml") -> list[str]:
    """The crate's programs: its [[bin]] targets, pausle first."""
    with open(cargo_toml, "rb") as f:
        return [b["name"] for b in tomllib.load(f)["bin"]]


def max_binary_bytes(program: str, cargo_toml: Path = ROOT / "Cargo.toml") -> int:
    """The largest binary `program` (pausle, pong) may be: its own table's
    max-binary-bytes where it has one, else the table's."""
    meta = metadata(cargo_toml)
    own = (meta.get("programs") or {}).get(program, {})
    return own.get("max-binary-bytes", meta["max-binary-bytes"])


def version(cargo_toml: Path = ROOT / "Cargo.toml") -> str:
    with open(cargo_toml, "rb") as f:
        return tomllib.load(f)["package"]["version"]


def main(argv: list[str]) -> int:
    """`manifest.py FIELD...`: one line per target, its fields tab-separated (a
    missing optional field prints as "-"). `manifest.py --get KEY`: one scalar of
    [package.metadata.pausle] (or `version`, or `image`). `manifest.py --programs`:
    the crate's programs ([[bin]] names), one a line."""
    if argv == ["--programs"]:
        print("\n".join(programs()))
        return 0
    if argv[:1] == ["--get"] and len(argv) == 2:
        special = {"version": version, "image": image}
        if argv[1] not in special and argv[1] not in metadata():
            raise cli.Refused(f"no key {argv[1]!r} in [package.metadata.pausle]")
        print(special[argv[1]]() if argv[1] in special else metadata()[argv[1]])
        return 0
    if not argv or argv[0].startswith("-"):
        print(main.__doc__, file=sys.stderr)
        return 2
    for t in targets():
        print("\t".join(str(t.get(f, "-")) for f in argv))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run("manifest", main, sys.argv[1:]))
