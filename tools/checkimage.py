"""Checks a program's image archive (pausle's, pong's); exits 1 on any failure.

Usage: checkimage.py ARCHIVE --arch OCI_ARCH [--program NAME] [--variant V] [--revision REV]

One checker for every way the image is made: tools/mkimage.py's archive, `docker
save`'s (Docker 20.10's legacy layout or newer Docker's OCI layout; both have a
manifest.json naming the config and layers, which is all this reads) and nixpkgs'
dockerTools.buildImage's .tar.gz. Compression is detected from the bytes.

NAME is a program of Cargo.toml's table (default pausle); its section
(programs.NAME) says what the image must be. The archive must hold one image of one
layer whose only file is /NAME (an entry for the root directory is tolerated, if
neither group nor others may write to it): a static ELF for the arch (machine, class
and byte order per mkimage.ELF), executable by anyone, owned by 0:0. The config must
say linux/<arch>[/<variant>] (an empty variant is none, see mkimage.config_variant;
other keys are not read), run the program's `entrypoint` with no Cmd as its `user`,
expose exactly its `exposed-ports` (no ExposedPorts when it has none), and carry the
OCI source and version labels of Cargo.toml (and the revision, if --revision). No
/nix/store reference may appear in the config or the layer, the layer's digest must
be the config's diff_id, and the unpacked size (the layer's file bytes) must fit the
program's max-image-bytes. Standard library only.
"""

import argparse
import gzip
import hashlib
import io
import json
import posixpath
import sys
import tarfile
from pathlib import Path

import cli
from manifest import DEFAULT_PROGRAM, program, target, version
from mkimage import config_variant, elf_problems, repository, run_config

NIX_STORE = b"/nix/store"


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        self.failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'}  {what}{': ' + detail if detail else ''}")
        return ok


def _gunzip(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _name(name: str) -> str:
    """A tar member's path with any ./ or / prefix and trailing / removed."""
    name = posixpath.normpath("/" + name).lstrip("/")
    return name


def _members(data: bytes) -> list[tuple[str, tarfile.TarInfo, bytes | None]]:
    """Every member of a tar: normalised name, header, content if a regular file."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for info in tar:
            f = tar.extractfile(info) if info.isreg() else None
            out.append((_name(info.name), info, f.read() if f else None))
    return out


def check(archive: Path, arch: str, variant: str | None, revision: str | None,
          name: str = DEFAULT_PROGRAM) -> int:
    prog = program(name)
    want = run_config(prog)
    r = Report()
    print(f"checking {archive} for linux/{arch}{'/' + variant if variant else ''}")
    files = {name: content for name, _, content in _members(_gunzip(archive.read_bytes()))}

    def blob(path: str) -> bytes | None:
        return files.get(_name(path))

    raw_manifest = blob("manifest.json")
    if not r.check(raw_manifest is not None, "archive has manifest.json"):
        return 1
    manifest = json.loads(raw_manifest)
    if not r.check(
        isinstance(manifest, list) and len(manifest) == 1,
        "archive holds exactly one image",
        f"{len(manifest)} in manifest.json",
    ):
        return 1
    image = manifest[0]
    print(f"      tags: {', '.join(image.get('RepoTags') or []) or '(none)'}")

    raw_config = blob(image.get("Config", ""))
    if not r.check(raw_config is not None, "config present", image.get("Config", "")):
        return 1
    digest = hashlib.sha256(raw_config).hexdigest()
    stem = posixpath.basename(image["Config"]).removesuffix(".json")
    if len(stem) == 64:
        r.check(stem == digest, "config file named by its digest", f"sha256:{digest}")
    config = json.loads(raw_config)
    run = config.get("config") or {}
    labels = run.get("Labels") or {}

    layers = image.get("Layers") or []
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if not r.check(
        len(layers) == 1 and len(diff_ids) == 1,
        "exactly one layer",
        f"{len(layers)} in manifest, {len(diff_ids)} diff_ids",
    ):
        return 1
    raw_layer = blob(layers[0])
    if not r.check(raw_layer is not None, "layer present", layers[0]):
        return 1
    layer = _gunzip(raw_layer)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    r.check(layer_digest == diff_ids[0], "layer digest is the config's diff_id", layer_digest)

    # The layer: the root directory at most, and /NAME.
    members = _members(layer)
    others = [n or "/" for n, i, _ in members if n != name and not (n == "" and i.isdir())]
    r.check(not others, f"layer holds /{name} only", ", ".join(others[:5]) if others else "")
    # A root entry is the mode of the container's `/` wherever the layer is unpacked
    # as it is (umoci, and so a runc/crun bundle; Docker's overlay ignores it).
    for n, info, _ in members:
        if n == "" and info.isdir():
            mode = f"mode {info.mode:04o}"
            r.check(info.mode & 0o022 == 0, "root entry not group/other-writable", mode)
    entries = [(i, c) for n, i, c in members if n == name]
    if r.check(
        len(entries) == 1 and entries[0][0].isreg(),
        f"/{name} is one regular file",
        f"{len(entries)} entries" if len(entries) != 1 else "",
    ):
        info, binary = entries[0]
        mode = f"mode {info.mode:04o}"
        r.check(info.mode & 0o111 == 0o111, f"/{name} executable by all", mode)
        r.check(info.mode & 0o7022 == 0, f"/{name} not set-id nor group/other-writable", mode)
        r.check(info.uid == 0 and info.gid == 0, f"/{name} owned by 0:0", f"{info.uid}:{info.gid}")
        problems = elf_problems(binary, arch)
        r.check(not problems, f"/{name} is a static ELF for {arch}", "; ".join(problems))

    r.check(config.get("os") == "linux", "os is linux", repr(config.get("os")))
    r.check(config.get("architecture") == arch, "architecture", repr(config.get("architecture")))
    r.check(config_variant(config) == variant, "variant", repr(config.get("variant")))
    r.check(run.get("Entrypoint") == want["Entrypoint"], "Entrypoint", repr(run.get("Entrypoint")))
    r.check(not run.get("Cmd"), "no Cmd (the program's defaults apply)", repr(run.get("Cmd")))
    r.check(run.get("User") == want["User"], "User", repr(run.get("User")))
    # An empty map is none: docker save may write {} where the image had no key.
    r.check((run.get("ExposedPorts") or None) == want.get("ExposedPorts"), "ExposedPorts",
            repr(run.get("ExposedPorts")))
    for key, want in [("source", repository()), ("version", version()), ("revision", revision)]:
        label = f"org.opencontainers.image.{key}"
        if want is not None:
            r.check(labels.get(label) == want, f"label {key}", repr(labels.get(label)))
        elif label in labels:
            print(f"      label {key}: {labels[label]}")

    for what, data in [("config", raw_config), ("layer", layer)]:
        r.check(NIX_STORE not in data, f"no /nix/store in the {what}")

    size = sum(len(c) for _, _, c in members if c is not None)
    budget = prog["max-image-bytes"]
    r.check(size <= budget, "unpacked size within max-image-bytes", f"{size} / {budget} bytes")

    print(f"{'FAILED' if r.failed else 'passed'}: {archive}")
    return 1 if r.failed else 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("archive", type=Path, help="docker-archive (.tar or .tar.gz)")
    p.add_argument("--arch", required=True, help="OCI architecture (Cargo.toml's oci-arch)")
    p.add_argument("--program", default=DEFAULT_PROGRAM,
                   help="the program (Cargo.toml's programs.NAME) the image is of (default: pausle)")
    p.add_argument("--variant", help="OCI variant the config must carry (none if not given)")
    p.add_argument("--revision", help="org.opencontainers.image.revision the config must carry")
    args = p.parse_args(argv)
    target("oci-arch", args.arch)  # one of Cargo.toml's, or refused
    program(args.program)  # one of Cargo.toml's, or refused
    if not args.archive.is_file():
        raise cli.Refused(f"{args.archive}: no such file")
    args.archive.open("rb").close()  # unreadable: refused before the report starts
    try:
        return check(args.archive, args.arch, args.variant or None, args.revision, args.program)
    except (OSError, ValueError, tarfile.TarError, KeyError, AttributeError, TypeError) as e:
        # A malformed archive or JSON is a failed check, not a crash.
        print(f"FAIL  {args.archive}: unreadable: {type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(cli.run("checkimage", main, sys.argv[1:]))
