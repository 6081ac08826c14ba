"""The single table: the targets, and each program's budgets and image, from Cargo.toml.

Cargo.toml's [package.metadata.pausle] is the one place the arches, the programs
(`programs.<name>`: pausle, pong) and their budgets are written down; the flake reads
it with builtins.fromTOML, CI and the tools here through this module (or its command
line). Standard library only.
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


# What every [package.metadata.pausle.programs.<name>] section says.
PROGRAM_KEYS = (
    "max-binary-bytes", "max-image-bytes", "image", "entrypoint", "user", "exposed-ports",
    "behaviour-test",
)
# The program the tools serve when not told another: the crate's own name.
DEFAULT_PROGRAM = "pausle"


def programs(cargo_toml: Path = ROOT / "Cargo.toml") -> list[str]:
    """The programs' names, in the table's order: each is a [[bin]] of the crate."""
    return list(metadata(cargo_toml).get("programs") or {})


def program(name: str = DEFAULT_PROGRAM, cargo_toml: Path = ROOT / "Cargo.toml") -> dict:
    """[package.metadata.pausle.programs.<name>], with its `name`. Refused (SystemExit
    with the reason) for a program the table lacks or a section short of a key; its
    entrypoint must start with /<name>, the image's one file."""
    table = metadata(cargo_toml).get("programs") or {}
    if name not in table:
        raise SystemExit(f"no program {name!r} in Cargo.toml (programs: {', '.join(table)})")
    section = table[name]
    missing = [k for k in PROGRAM_KEYS if k not in section]
    if missing:
        raise SystemExit(f"Cargo.toml: programs.{name} lacks {', '.join(missing)}")
    if section["entrypoint"][:1] != [f"/{name}"]:
        raise SystemExit(f"Cargo.toml: programs.{name}.entrypoint must start with /{name}, "
                         f"the image's one file")
    return dict(section, name=name)


def max_binary_bytes(name: str, cargo_toml: Path = ROOT / "Cargo.toml") -> int:
    """The largest binary program `name` (pausle, pong) may be, on every target."""
    return program(name, cargo_toml)["max-binary-bytes"]


def image(cargo_toml: Path = ROOT / "Cargo.toml", name: str = DEFAULT_PROGRAM) -> str:
    """A program's image name without a tag, e.g. ghcr.io/pausle/pausle."""
    return program(name, cargo_toml)["image"]


def version(cargo_toml: Path = ROOT / "Cargo.toml") -> str:
    with open(cargo_toml, "rb") as f:
        return tomllib.load(f)["package"]["version"]


def main(argv: list[str]) -> int:
    """`manifest.py FIELD...`: one line per target, its fields tab-separated (a
    missing optional field prints as "-"). `manifest.py [--program NAME] --get KEY`:
    `version`, or one key of the program's section (default pausle); a list prints
    one item per line. `manifest.py --programs`: the programs' names, one per line."""
    if argv == ["--programs"]:
        print("\n".join(programs()))
        return 0
    name = DEFAULT_PROGRAM
    if argv[:1] == ["--program"] and len(argv) >= 2:
        name, argv = argv[1], argv[2:]
        program(name)  # refused if the table has no such program
    if argv[:1] == ["--get"] and len(argv) == 2:
        if argv[1] == "version":
            print(version())
            return 0
        section = program(name)
        if argv[1] not in section or argv[1] == "name":
            raise cli.Refused(f"no key {argv[1]!r} in [package.metadata.pausle.programs.{name}]")
        value = section[argv[1]]
        for item in value if isinstance(value, list) else [value]:
            print(item)
        return 0
    if not argv or argv[0].startswith("-"):
        print(main.__doc__, file=sys.stderr)
        return 2
    for t in targets():
        print("\t".join(str(t.get(f, "-")) for f in argv))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run("manifest", main, sys.argv[1:]))
