"""Writes a program's container image (pausle's, pong's) as a docker-archive, without
Nix or Docker.

Usage: mkimage.py [--program NAME] --binary target/out/NAME-x86_64 --arch amd64
                  [--variant V] --out NAME-amd64.tar [--revision GITREV] [--tag NAME:TAG]

The archive is what `docker load` reads and `docker save` (20.10) and nixpkgs'
dockerTools.buildImage write: manifest.json, repositories, the config as
<sha256>.json and the one layer as <id>/layer.tar (a --out ending in .gz is
gzipped, as dockerTools' is). NAME is a program of Cargo.toml's table (default
pausle), whose section says the rest: the layer holds one file, /NAME, mode 0555
(what a file copied from the Nix store has), owned by 0:0; the config runs its
`entrypoint` (no Cmd) as its `user`, exposes its `exposed-ports` (none for pausle,
no ExposedPorts key at all then) and carries the OCI labels.

Reproducible: nothing comes from the clock, the host or the environment. Entries
are sorted, owned by 0:0 with numeric ids and no names, stamped with dockerTools'
fixed times (see EPOCH, CREATED), written as plain ustar (no pax records), and the
JSON is sorted and compact; the same inputs give the same bytes. Standard library
only. tools/checkimage.py checks the result (and any other build of the image).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tomllib
from pathlib import Path

import cli
from manifest import DEFAULT_PROGRAM, ROOT, program, target, version

# dockerTools.buildImage's defaults: `created ? "1970-01-01T00:00:01Z"` for the
# config, and GNU tar's --mtime="@$SOURCE_DATE_EPOCH" for every tar entry, which
# stdenv's setup.sh defaults to 315532800 (1980-01-01T00:00:00Z, zip's floor).
CREATED = "1970-01-01T00:00:01Z"
EPOCH = 315532800

MODE = 0o555

# What an ELF for each OCI architecture (GOARCH) says in its header: e_machine
# (/usr/include/elf.h), class (bits) and byte order. A new target in Cargo.toml whose
# oci-arch is not here is refused until it is added.
ELF = {
    "386": (3, 32, "little"),  # EM_386
    "amd64": (62, 64, "little"),  # EM_X86_64
    "arm": (40, 32, "little"),  # EM_ARM
    "arm64": (183, 64, "little"),  # EM_AARCH64
    "loong64": (258, 64, "little"),  # EM_LOONGARCH
    "mips64le": (8, 64, "little"),  # EM_MIPS
    "ppc64le": (21, 64, "little"),  # EM_PPC64
    "riscv64": (243, 64, "little"),  # EM_RISCV
    "s390x": (22, 64, "big"),  # EM_S390
}


def repository() -> str:
    """Cargo.toml's package.repository: the OCI source label."""
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["package"]["repository"]


def run_config(prog: dict) -> dict:
    """What the image config's `config` says besides the labels, from the program's
    section (manifest.program): Entrypoint, User and, if it has any, ExposedPorts.
    tools/checkimage.py checks an image against this."""
    run = {"Entrypoint": list(prog["entrypoint"]), "User": prog["user"]}
    if prog["exposed-ports"]:
        run["ExposedPorts"] = {port: {} for port in prog["exposed-ports"]}
    return run


def config_variant(config: dict) -> str | None:
    """The platform variant an image config names, None for none. An empty string is
    none: current dockerTools.buildImage writes `"variant": ""` for every platform
    without one (its default, the build host's GOARM, is empty off 32-bit arm).
    tools/checkimage.py and tools/mkindex.py both read the variant through this."""
    return config.get("variant") or None


def elf_problems(data: bytes, oci_arch: str) -> list[str]:
    """Why `data` is not a static ELF executable for `oci_arch` (empty if it is)."""
    target("oci-arch", oci_arch)  # one of Cargo.toml's, or exit
    if oci_arch not in ELF:
        return [f"no ELF header description for {oci_arch} in tools/mkimage.py"]
    machine, bits, order = ELF[oci_arch]
    if data[:4] != b"\x7fELF":
        return ["not an ELF file"]
    if len(data) < 52 or data[4] not in (1, 2) or data[5] not in (1, 2):
        return ["truncated or malformed ELF header"]
    wide, data_order = data[4] == 2, "little" if data[5] == 1 else "big"
    if (64 if wide else 32, data_order) != (bits, order):
        return [f"ELF is {64 if wide else 32}-bit {data_order}-endian, want {bits}-bit {order}"]

    def field(offset: int, size: int) -> int:
        return int.from_bytes(data[offset : offset + size], order)

    problems = []
    e_type, e_machine = field(16, 2), field(18, 2)
    if e_machine != machine:
        problems.append(f"ELF e_machine is {e_machine}, want {machine}")
    if e_type not in (2, 3):  # ET_EXEC, ET_DYN
        problems.append(f"ELF e_type is {e_type}, not an executable")
    phoff = field(32, 8) if wide else field(28, 4)
    phentsize, phnum = (field(54, 2), field(56, 2)) if wide else (field(42, 2), field(44, 2))
    if phnum == 0 or phoff + phentsize * phnum > len(data):
        problems.append("ELF program headers missing or out of the file")
    elif any(field(phoff + i * phentsize, 4) == 3 for i in range(phnum)):  # PT_INTERP
        problems.append("ELF has an interpreter (dynamically linked)")
    return problems


def _tar(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    """A tar of (name, content or None for a directory, mode), in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if content is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buf.getvalue()


def _json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def build(
    binary: bytes,
    oci_arch: str,
    variant: str | None = None,
    revision: str | None = None,
    tag: str | None = None,
    name: str = DEFAULT_PROGRAM,
) -> bytes:
    """The docker-archive's bytes (uncompressed), of program `name`'s image."""
    prog = program(name)
    layer = _tar([(prog["name"], binary, MODE)])
    diff_id = hashlib.sha256(layer).hexdigest()

    labels = {
        "org.opencontainers.image.source": repository(),
        "org.opencontainers.image.version": version(),
    }
    if revision:
        labels["org.opencontainers.image.revision"] = revision
    config = {
        "architecture": oci_arch,
        "os": "linux",
        "config": dict(run_config(prog), Labels=labels),
        "created": CREATED,
        "history": [{"created": CREATED}],
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
    }
    if variant:
        config["variant"] = variant
    config_bytes = _json(config)
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"

    # The layer's directory is named by its content, as good an id as any: `docker
    # load` goes by manifest.json, and `repositories` (for older readers) points here.
    tag = tag or f"{prog['image']}:{version()}"
    name, _, tag_name = tag.rpartition(":")
    if not name or "/" in tag_name:
        raise SystemExit(f"--tag must be NAME:TAG, not {tag!r}")
    manifest = [{"Config": config_name, "Layers": [f"{diff_id}/layer.tar"], "RepoTags": [tag]}]
    repositories = {name: {tag_name: diff_id}}

    files = {
        config_name: config_bytes,
        f"{diff_id}/": None,
        f"{diff_id}/layer.tar": layer,
        "manifest.json": _json(manifest),
        "repositories": _json(repositories),
    }
    # Read-only, as dockerTools leaves its image directory before tarring it.
    return _tar([(n, files[n], 0o555 if files[n] is None else 0o444) for n in sorted(files)])


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--program", default=DEFAULT_PROGRAM,
                   help="the program (Cargo.toml's programs.NAME) the image is of (default: pausle)")
    p.add_argument("--binary", required=True, type=Path, help="the program's binary to package")
    p.add_argument("--arch", required=True, help="OCI architecture (Cargo.toml's oci-arch)")
    p.add_argument("--variant", help="OCI architecture variant (e.g. v8), omitted if not given")
    p.add_argument("--out", required=True, type=Path, help="archive to write (.tar or .tar.gz)")
    p.add_argument("--revision", help="git revision: the org.opencontainers.image.revision label")
    p.add_argument("--tag", help="image reference to load as (default: the program's image:version)")
    args = p.parse_args(argv)

    program(args.program)  # one of Cargo.toml's, or refused
    cli.output_file(args.out)
    target("oci-arch", args.arch)  # one of Cargo.toml's, or refused
    binary = args.binary.read_bytes()
    problems = elf_problems(binary, args.arch)
    if problems:
        print(f"mkimage: {args.binary}: " + "; ".join(problems), file=sys.stderr)
        return 1
    data = build(binary, args.arch, args.variant, args.revision, args.tag, args.program)
    if args.out.name.endswith(".gz"):
        buf = io.BytesIO()
        # No name and mtime 0 in the gzip header, as `pigz -n`.
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            gz.write(data)
        data = buf.getvalue()
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(data)} bytes, {len(binary)}-byte /{args.program}, {args.arch}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run("mkimage", main, sys.argv[1:]))
