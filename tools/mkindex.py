"""Writes one OCI image index (a multi-arch tag) from per-arch docker-archives.

Usage: mkindex.py [--program NAME] --out DIR [--archive FILE] [--tag TAG] [--partial]
                  --image amd64=pausle-amd64.tar.gz --image arm64=... [--image arm/v7=...]

Each --image is PLATFORM=ARCHIVE: PLATFORM is a row of Cargo.toml's target table,
written <oci-arch>[/<oci-variant>] (the os is linux), and ARCHIVE is a docker-archive
(.tar or .tar.gz) as nixpkgs' dockerTools.buildImage or tools/mkimage.py writes it.
Every row of the table must be given once, unless --partial; a platform that is not
a row, or one given twice, is refused. NAME is the program of Cargo.toml's table the
images are of (default pausle): each archive's config must run its `entrypoint`, so
one program's index never holds another's image. Each program has an index of its
own, under its own name: one index with two linux/amd64 manifests would have every
runtime pick the first.

--out DIR gets an OCI image layout (oci-layout, index.json, blobs/sha256/...) that
`skopeo copy --all oci:DIR:TAG docker://REGISTRY/REPO:TAG` pushes as one tag;
--archive FILE gets the same layout as one tar (skopeo's `oci-archive:FILE:TAG`).
At least one of them is needed. TAG defaults to Cargo.toml's version.

The layout: index.json names one descriptor, of the image index blob, annotated
org.opencontainers.image.ref.name=TAG and io.containerd.image.name=IMAGE:TAG (IMAGE
is the program's `image` in Cargo.toml); that index lists one OCI image manifest per
platform, in the table's order, each with its platform; each manifest has its OCI
config (converted from the docker config) and its layers, gzipped.

Reproducible: nothing comes from the clock, the host or the environment. JSON is
sorted and compact; the layers are gzipped by this file's own deflate encoder (not
the host's zlib, whose output differs between builds such as zlib-ng and madler
zlib), so each blob depends only on its input and every digest changes only when an
input archive does. The tag is only in index.json, so the index blob's digest, the
one a registry shows, is the same under any tag. Standard library only.

Prints the index digest (sha256:...) on stdout.
"""

import argparse
import binascii
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cli  # noqa: E402
from manifest import DEFAULT_PROGRAM, ROOT, metadata, program, version  # noqa: E402
from mkimage import config_variant  # noqa: E402

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
# The full name NAME:TAG, which containerd (`ctr images import`) and podman (`podman
# load`, `pull oci-archive:`) name the image by; without it both take the bare tag for
# the name (import-<date>:0.1.0, localhost/0.1.0:latest). ref.name stays the tag:
# skopeo's oci:DIR:TAG, umoci and push.sh look the image up by it.
IMAGE_NAME = "io.containerd.image.name"

# The fields of a docker image config that the OCI image config also defines; the
# others (container, container_config, docker_version, ArgsEscaped, Hostname, ...)
# are Docker's own and are dropped.
OCI_TOP = ("created", "author")
OCI_CONFIG = (
    "User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
    "Labels", "StopSignal",
)
OCI_HISTORY = ("created", "created_by", "author", "comment", "empty_layer")

# A docker tag: what `docker://REPO:TAG` accepts, so the tag pushes as it is named.
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


Refused = cli.Refused


# ---------------------------------------------------------------------------------
# Deterministic gzip: RFC 1951 deflate, one block of fixed Huffman codes, greedy
# LZ77. Its output is a function of its input alone. Smaller than zlib -9 would
# not matter here (a layer is one ~500-byte file in a 10 KiB tar, mostly zeros).

_LEN_BASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51,
             59, 67, 83, 99, 115, 131, 163, 195, 227, 258)
_LEN_EXTRA = (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4,
              4, 5, 5, 5, 5, 0)
_DIST_BASE = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385,
              513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577)
_DIST_EXTRA = (0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10,
               10, 11, 11, 12, 12, 13, 13)
_WINDOW, _MAX_MATCH, _MIN_MATCH, _CHAIN = 32768, 258, 3, 64


def _reverse(code: int, bits: int) -> int:
    return int(f"{code:0{bits}b}"[::-1], 2) if bits else 0


def _fixed_litlen(sym: int) -> tuple[int, int]:
    """RFC 1951 3.2.6: the fixed code of a literal/length symbol, bit-reversed
    (Huffman codes go out most significant bit first), and its length."""
    if sym < 144:
        return _reverse(0x30 + sym, 8), 8
    if sym < 256:
        return _reverse(0x190 + sym - 144, 9), 9
    if sym < 280:
        return _reverse(sym - 256, 7), 7
    return _reverse(0xC0 + sym - 280, 8), 8


_LITLEN = [_fixed_litlen(s) for s in range(288)]
_DIST = [(_reverse(d, 5), 5) for d in range(30)]


def deflate(data: bytes) -> bytes:
    out = bytearray()
    acc = nbits = 0

    def put(value: int, bits: int) -> None:
        nonlocal acc, nbits
        acc |= value << nbits
        nbits += bits
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8

    def put_sym(code: tuple[int, int]) -> None:
        put(*code)

    put(1, 1)  # BFINAL
    put(1, 2)  # BTYPE 01: fixed Huffman codes
    chains: dict[bytes, list[int]] = {}
    n, i = len(data), 0

    def remember(pos: int) -> None:
        if pos + _MIN_MATCH <= n:
            chains.setdefault(data[pos:pos + _MIN_MATCH], []).append(pos)

    while i < n:
        best_len = best_dist = 0
        if i + _MIN_MATCH <= n:
            limit = min(_MAX_MATCH, n - i)
            for j in reversed(chains.get(data[i:i + _MIN_MATCH], [])[-_CHAIN:]):
                if i - j > _WINDOW:
                    break
                k = _MIN_MATCH
                while k < limit and data[j + k] == data[i + k]:
                    k += 1
                if k > best_len:
                    best_len, best_dist = k, i - j
                    if k == limit:
                        break
        if best_len >= _MIN_MATCH:
            c = next(c for c in range(28, -1, -1) if _LEN_BASE[c] <= best_len)
            put_sym(_LITLEN[257 + c])
            put(best_len - _LEN_BASE[c], _LEN_EXTRA[c])
            d = next(d for d in range(29, -1, -1) if _DIST_BASE[d] <= best_dist)
            put_sym(_DIST[d])
            put(best_dist - _DIST_BASE[d], _DIST_EXTRA[d])
            for p in range(i, i + best_len):
                remember(p)
            i += best_len
        else:
            put_sym(_LITLEN[data[i]])
            remember(i)
            i += 1
    put_sym(_LITLEN[256])  # end of block
    if nbits:
        put(0, 8 - nbits)
    return bytes(out)


def gzip_deterministic(data: bytes) -> bytes:
    """RFC 1952: no name, mtime 0, XFL 0, OS 255 (unknown), then deflate, CRC-32
    and size. Checked by the host's own gunzip before it is returned."""
    body = deflate(data)
    out = (b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x00\xff" + body
           + binascii.crc32(data).to_bytes(4, "little")
           + (len(data) & 0xFFFFFFFF).to_bytes(4, "little"))
    if gzip.decompress(out) != data:
        raise AssertionError("deflate encoder produced a stream that does not round-trip")
    return out


# ---------------------------------------------------------------------------------
# Reading a docker-archive.

def _untar_layer(blob: bytes, where: str) -> bytes:
    """A layer as its uncompressed tar (diff), whatever the archive stored."""
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        raise Refused(f"{where}: zstd-compressed layer; give gzipped or plain archives")
    return blob


def read_docker_archive(path: Path) -> tuple[dict, list[bytes]]:
    """The docker image config and the uncompressed layer tars, base first."""
    if not path.is_file():
        raise Refused(f"{path}: no such file")
    try:
        tf = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as e:
        with open(path, "rb") as f:
            if f.read(4) == b"\x28\xb5\x2f\xfd":
                raise Refused(f"{path}: zstd-compressed archive; use gzip or none") from e
        raise Refused(f"{path}: not a (gzipped) tar") from e
    with tf:
        members = {}
        for m in tf.getmembers():
            name = str(PurePosixPath(m.name))
            if name.startswith("./"):
                name = name[2:]
            members[name] = m

        def read(name: str) -> bytes:
            name = str(PurePosixPath(name))
            m = members.get(name)
            f = tf.extractfile(m) if m is not None else None
            if f is None:
                raise Refused(f"{path}: no file {name!r} in the archive")
            return f.read()

        def read_json(name: str):
            try:
                return json.loads(read(name))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise Refused(f"{path}: {name}: {e}") from e

        manifest = read_json("manifest.json")
        if (not isinstance(manifest, list) or len(manifest) != 1
                or not isinstance(manifest[0], dict) or "Config" not in manifest[0]):
            raise Refused(f"{path}: manifest.json must list exactly one image")
        entry = manifest[0]
        config = read_json(entry["Config"])
        if not isinstance(config, dict):
            raise Refused(f"{path}: {entry['Config']} is not a JSON object")
        layers = [_untar_layer(read(p), f"{path}: {p}") for p in entry.get("Layers") or []]

    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if not layers or len(diff_ids) != len(layers):
        raise Refused(f"{path}: {len(layers)} layers but {len(diff_ids)} rootfs.diff_ids")
    for n, (layer, want) in enumerate(zip(layers, diff_ids)):
        got = "sha256:" + hashlib.sha256(layer).hexdigest()
        if got != want:
            raise Refused(f"{path}: layer {n} is {got}, but the config says {want}")
    return config, layers


# ---------------------------------------------------------------------------------
# Writing the layout.

def canonical(value) -> bytes:
    """Sorted keys, no whitespace, ASCII only: one byte string per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def descriptor(media_type: str, blob: bytes) -> dict:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
        "size": len(blob),
    }


def table_platforms(targets: list[dict]) -> list[str]:
    """The table's rows as PLATFORM strings, in its order."""
    return [t["oci-arch"] + (f"/{t['oci-variant']}" if t.get("oci-variant") else "")
            for t in targets]


def oci_config(docker: dict, arch: str, variant: str | None, where: str) -> dict:
    """The OCI image config for a docker config that must be for linux/arch/variant."""
    if docker.get("architecture") != arch:
        raise Refused(f"{where}: config architecture is {docker.get('architecture')!r}, "
                      f"the platform says {arch!r}")
    if docker.get("os", "linux") != "linux":
        raise Refused(f"{where}: config os is {docker.get('os')!r}, not linux")
    if config_variant(docker) not in (None, variant):
        raise Refused(f"{where}: config variant is {docker.get('variant')!r}, "
                      f"the platform says {variant!r}")
    out = {"architecture": arch, "os": "linux"}
    if variant:
        out["variant"] = variant
    out.update({k: docker[k] for k in OCI_TOP if docker.get(k) is not None})
    cfg = docker.get("config") or {}
    cfg = {k: cfg[k] for k in OCI_CONFIG if cfg.get(k) is not None}
    if cfg:
        out["config"] = cfg
    out["rootfs"] = {"type": "layers", "diff_ids": list(docker["rootfs"]["diff_ids"])}
    history = docker.get("history")
    if history:
        out["history"] = [{k: h[k] for k in OCI_HISTORY if h.get(k) is not None}
                          for h in history]
    return out


def build(images: dict[str, Path], tag: str, targets: list[dict],
          partial: bool = False, name: str | None = None,
          entrypoint: list[str] | None = None) -> tuple[dict[str, bytes], str]:
    """The layout's files (relative path -> bytes) and the index digest.
    `images` maps PLATFORM to its docker-archive; with `entrypoint`, each must run it."""
    if not TAG_RE.fullmatch(tag):
        raise Refused(f"tag {tag!r} is not a valid docker tag")
    known = table_platforms(targets)
    unknown = [p for p in images if p not in known]
    if unknown:
        raise Refused(f"platform(s) {', '.join(unknown)} not in Cargo.toml's table "
                      f"({', '.join(known)})")
    missing = [p for p in known if p not in images]
    if missing and not partial:
        raise Refused(f"no --image for {', '.join(missing)} (every row of the table is "
                      "needed; --partial allows fewer)")
    if not images:
        raise Refused("no --image given")

    blobs: dict[str, bytes] = {}

    def add(media_type: str, blob: bytes) -> dict:
        d = descriptor(media_type, blob)
        blobs["blobs/sha256/" + d["digest"].removeprefix("sha256:")] = blob
        return d

    entries = []
    for platform in known:
        if platform not in images:
            continue
        arch, _, variant = platform.partition("/")
        docker, layers = read_docker_archive(images[platform])
        runs = (docker.get("config") or {}).get("Entrypoint")
        if entrypoint is not None and runs != entrypoint:
            raise Refused(f"{images[platform]}: the image runs {runs!r}, not the program's "
                          f"entrypoint {entrypoint!r} (an image of another program?)")
        config = oci_config(docker, arch, variant or None, str(images[platform]))
        manifest = {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": add(MT_CONFIG, canonical(config)),
            "layers": [add(MT_LAYER_GZIP, gzip_deterministic(layer)) for layer in layers],
        }
        entry = add(MT_MANIFEST, canonical(manifest))
        entry["platform"] = {"architecture": arch, "os": "linux"}
        if variant:
            entry["platform"]["variant"] = variant
        entries.append(entry)

    index = add(MT_INDEX, canonical({"schemaVersion": 2, "mediaType": MT_INDEX,
                                     "manifests": entries}))
    annotations = {REF_NAME: tag}
    if name:
        annotations[IMAGE_NAME] = f"{name}:{tag}"
    top = dict(index, annotations=annotations)
    files = {
        "oci-layout": canonical({"imageLayoutVersion": "1.0.0"}),
        "index.json": canonical({"schemaVersion": 2, "mediaType": MT_INDEX,
                                 "manifests": [top]}),
        **blobs,
    }
    return files, index["digest"]


def write_dir(files: dict[str, bytes], out: Path) -> None:
    """The layout as a directory, which must not exist or be empty."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Refused(f"{out} exists and is not an empty directory")
    for name in sorted(files):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
        os.chmod(path, 0o644)
    for d in (out, out / "blobs", out / "blobs/sha256"):
        os.chmod(d, 0o755)


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """The layout as a tar: sorted entries, directories included, ustar, 0:0 with no
    names, mtime 0, modes 0755/0644."""
    dirs = {str(p) for name in files for p in PurePosixPath(name).parents if str(p) != "."}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(dirs | set(files)):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if name in dirs:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(files[name]), 0o644
                tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def write_archive(files: dict[str, bytes], out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(tar_bytes(files))
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    p.add_argument("--out", type=Path, help="OCI image layout directory to write")
    p.add_argument("--archive", type=Path, help="oci-archive (tar of the layout) to write")
    p.add_argument("--image", action="append", default=[], metavar="PLATFORM=ARCHIVE",
                   help="<oci-arch>[/<variant>]=docker-archive (.tar or .tar.gz); repeat")
    p.add_argument("--tag", help="the tag (org.opencontainers.image.ref.name); "
                                 "default: Cargo.toml's version")
    p.add_argument("--partial", action="store_true",
                   help="allow fewer platforms than the table has")
    p.add_argument("--program", default=DEFAULT_PROGRAM,
                   help="the program (Cargo.toml's programs.NAME) the images are of "
                        "(default: pausle)")
    p.add_argument("--cargo-toml", type=Path, default=ROOT / "Cargo.toml",
                   help="where the target table is (default: the repository's)")
    args = p.parse_args(argv)
    if not args.out and not args.archive:
        p.error("give --out DIR, --archive FILE, or both")

    try:
        if args.archive:
            cli.output_file(args.archive)
        if args.out and not args.out.parent.is_dir():
            raise Refused(f"{args.out}: folder {args.out.parent} does not exist")
        images: dict[str, Path] = {}
        for spec in args.image:
            platform, sep, archive = spec.partition("=")
            if not sep or not platform or not archive:
                raise Refused(f"--image {spec!r}: want PLATFORM=ARCHIVE")
            if platform in images:
                raise Refused(f"--image {platform} given twice")
            images[platform] = Path(archive)
        tag = args.tag or version(args.cargo_toml)
        try:
            prog = program(args.program, args.cargo_toml)
            targets = metadata(args.cargo_toml)["targets"]
        except KeyError as e:
            raise Refused(f"{args.cargo_toml}: no [package.metadata.pausle] table with "
                          f"targets and programs ({e})") from e
        files, digest = build(images, tag, targets, args.partial, prog["image"],
                              list(prog["entrypoint"]))
        if args.out:
            write_dir(files, args.out)
        if args.archive:
            write_archive(files, args.archive)
    except Refused as e:
        print(f"mkindex: {e}", file=sys.stderr)
        return 1
    index = json.loads(files[f"blobs/sha256/{digest.removeprefix('sha256:')}"])
    for m in index["manifests"]:
        plat = m["platform"]
        name = plat["architecture"] + (f"/{plat['variant']}" if "variant" in plat else "")
        print(f"mkindex: {name:10} {m['digest']}", file=sys.stderr)
    print(f"mkindex: index {tag} -> {digest}", file=sys.stderr)
    print(digest)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run("mkindex", main, sys.argv[1:]))
