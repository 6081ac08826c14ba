"""tools/checkimage.py and tools/mkindex.py on the archive the flake builds.

No Nix here, so the archive is made the way current nixpkgs' dockerTools.buildImage
makes it (pkgs/build-support/docker/default.nix, mkPureLayer and buildImage), with
the same GNU tar commands: the layer packed from its directory (`tar -C layer ... .`,
so it has a `./` root entry carrying that directory's mode), the config as
builtins.toJSON writes it and jq extends it (`"variant": ""` when the platform has
none, a stray `"preferLocalBuild": true`, `config.Env` added) named by its own
digest, and the whole archive gzipped. The flake sets the root's mode to 0555
(nix/image.nix's extraCommands); dockerTools on its own leaves it 0775.

Run: python3 -m pytest -q tests/index
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

# test_index puts tools/ on sys.path, and has the index and umoci helpers.
from test_index import (OUT, PLATFORMS, ROWS, TAG, TARGETS, TOOLS, image_args, mkindex_cli,
                        per_arch_view, plat, run)
import mkimage  # noqa: E402  (tools/, on sys.path through test_index)

# stdenv's SOURCE_DATE_EPOCH, the mtime of every entry dockerTools writes.
EPOCH = "@315532800"


def gnu_tar(src: Path, *extra: str) -> bytes:
    """`tar -C src ... -c .` with the flags dockerTools packs with."""
    return subprocess.run(
        ["tar", "-C", src, "--hard-dereference", "--sort=name", f"--mtime={EPOCH}",
         "--owner=0", "--group=0", *extra, "-cf", "-", "."],
        check=True, capture_output=True).stdout


def jq_json(value) -> bytes:
    """jq's output: two-space indent, one trailing newline."""
    return (json.dumps(value, indent=2) + "\n").encode()


def dockertools_archive(path: Path, target: dict, root_mode: int) -> Path:
    """A docker-archive of target's binary, shaped as current buildImage writes it
    (with the row's oci-variant passed, "" for a row without)."""
    work = path.with_suffix(".d")
    layer = work / "layer"
    layer.mkdir(parents=True)
    shutil.copyfile(OUT / f"pausle-{target['arch']}", layer / "pausle")
    os.chmod(layer / "pausle", 0o555)
    os.chmod(layer, root_mode)  # mkPureLayer's `chmod ug+w layer`, then extraCommands
    layer_tar = gnu_tar(layer)
    os.chmod(layer, 0o755)

    # baseJson: builtins.toJSON, keys sorted.
    base = {
        "architecture": target["oci-arch"],
        "config": {"Entrypoint": ["/pausle"], "Labels": {
            "org.opencontainers.image.source": mkimage.repository(),
            "org.opencontainers.image.version": TAG}, "User": "65535:65535"},
        "created": "1970-01-01T00:00:01Z",
        "os": "linux",
        "preferLocalBuild": True,
        "variant": target.get("oci-variant", ""),
    }

    image = work / "image"
    layer_json = jq_json(dict(base, checksum="tarsum+sha256:0"))
    layer_id = hashlib.sha256(layer_json).hexdigest()
    (image / layer_id).mkdir(parents=True)
    (image / layer_id / "layer.tar").write_bytes(layer_tar)
    (image / layer_id / "json").write_bytes(layer_json)
    (image / layer_id / "VERSION").write_bytes(b"1.0")
    config = dict(base, config=dict(base["config"], Env=[]))
    config["rootfs"] = {"diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()],
                        "type": "layers"}
    config["history"] = [{"created": base["created"]}]
    config_bytes = jq_json(config)
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    (image / config_name).write_bytes(config_bytes)
    (image / "manifest.json").write_bytes(jq_json(
        [{"RepoTags": [f"pausle:{TAG}"], "Layers": [f"{layer_id}/layer.tar"],
          "Config": config_name}]))
    (image / "repositories").write_bytes(
        json.dumps({"pausle": {TAG: layer_id}}).encode())
    for p in [image, *image.rglob("*")]:  # `chmod -R a-w image`
        os.chmod(p, stat.S_IMODE(p.stat().st_mode) & ~0o222)
    outer = gnu_tar(image, "--xform", "s:^./::")
    for p in [image, *image.rglob("*")]:
        os.chmod(p, stat.S_IMODE(p.stat().st_mode) | 0o200)
    path.write_bytes(gzip.compress(outer, mtime=0))
    return path


def checkimage(archive: Path, target: dict) -> subprocess.CompletedProcess:
    extra = ["--variant", target["oci-variant"]] if target.get("oci-variant") else []
    return run(sys.executable, TOOLS / "checkimage.py", archive, "--arch", target["oci-arch"],
               *extra, check=False)


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    """PLATFORM -> the flake's archive of that row (root 0555)."""
    missing = [t["arch"] for t in TARGETS if not (OUT / f"pausle-{t['arch']}").is_file()]
    if missing:
        pytest.fail(f"no binary for {', '.join(missing)} in {OUT}: build every target first")
    d = tmp_path_factory.mktemp("dockertools")
    return {plat(t): dockertools_archive(d / f"{plat(t).replace('/', '-')}.tar.gz", t, 0o555)
            for t in TARGETS}


def test_the_shape_is_current_dockertools(archives):
    """What the checkers are given really has the parts of the real format."""
    for p, path in archives.items():
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        with tarfile.open(path) as tar:
            names = tar.getnames()
            man = json.load(tar.extractfile("manifest.json"))[0]
            raw = tar.extractfile(man["Config"]).read()
            layer = tar.extractfile(man["Layers"][0]).read()
        assert man["Config"] == hashlib.sha256(raw).hexdigest() + ".json"
        config = json.loads(raw)
        assert config["preferLocalBuild"] is True
        assert "variant" in config and config["variant"] == (p.partition("/")[2])
        assert "repositories" in names
        with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
            assert [(m.name, m.mode) for m in tar.getmembers()] == [(".", 0o555),
                                                                    ("./pausle", 0o555)]


@ROWS
def test_checkimage_passes_it(archives, target):
    r = checkimage(archives[plat(target)], target)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok    root entry not group/other-writable: mode 0555" in r.stdout


def test_mkindex_takes_it(archives, tmp_path):
    """mkindex reads every row's archive; an empty variant is none and the keys the
    OCI config does not define (preferLocalBuild) are dropped."""
    layout = tmp_path / "oci"
    mkindex_cli("--out", layout, *image_args(archives))
    top = json.loads((layout / "index.json").read_text())["manifests"][0]
    blob = lambda d: json.loads((layout / "blobs/sha256" / d.removeprefix("sha256:")).read_bytes())  # noqa: E731
    index = blob(top["digest"])
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": t["oci-arch"], "os": "linux",
         **({"variant": t["oci-variant"]} if t.get("oci-variant") else {})} for t in TARGETS]
    for t, m in zip(TARGETS, index["manifests"]):
        config = blob(blob(m["digest"])["config"]["digest"])
        assert config.get("variant") == t.get("oci-variant")
        assert "preferLocalBuild" not in config


def test_a_writable_root_fails_checkimage(tmp_path):
    """The check means something: dockerTools' own 0775, or a root others may write."""
    t = TARGETS[0]
    for mode in (0o775, 0o757):
        r = checkimage(dockertools_archive(tmp_path / f"{mode:o}.tar.gz", t, mode), t)
        assert r.returncode == 1, r.stdout
        assert f"FAIL  root entry not group/other-writable: mode {mode:04o}" in r.stdout


def test_mkimage_writes_no_writable_root(tmp_path):
    """tools/mkimage.py's layer has no root entry that could be writable."""
    t = TARGETS[0]
    out = tmp_path / "m.tar"
    run(sys.executable, TOOLS / "mkimage.py", "--binary", OUT / f"pausle-{t['arch']}",
        "--arch", t["oci-arch"], *(["--variant", t["oci-variant"]] if t.get("oci-variant") else []),
        "--out", out)
    with tarfile.open(out) as tar:
        man = json.load(tar.extractfile("manifest.json"))[0]
        layer = tar.extractfile(man["Layers"][0]).read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        roots = [m for m in tar.getmembers() if m.name in (".", "./", "/", "")]
    assert all(m.mode & 0o022 == 0 for m in roots), [oct(m.mode) for m in roots]


@pytest.mark.parametrize("mode", [0o555, 0o775], ids=["0555", "0775"])
def test_umoci_unpacks_the_root_mode(mode, tmp_path):
    """umoci unpacks the layer itself: the bundle's / has the root entry's mode, so
    the flake's 0555 gives a read-only /, where dockerTools' 0775 would give a
    group-writable one (which checkimage therefore refuses)."""
    if not shutil.which("umoci"):
        pytest.fail("missing umoci: apt-get install -y umoci")
    t = TARGETS[0]
    archive = dockertools_archive(tmp_path / "a.tar.gz", t, mode)
    # mkindex refuses a missing row unless --partial; one row is enough here, and
    # per_arch_view names the first manifest by the first row's platform.
    mkindex_cli("--out", tmp_path / "oci", "--partial", "--image", f"{PLATFORMS[0]}={archive}")
    view = per_arch_view(tmp_path / "oci", tmp_path / "view")
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--rootless", "--image", f"{view}:{PLATFORMS[0].replace('/', '-')}",
        bundle)
    assert stat.S_IMODE((bundle / "rootfs").stat().st_mode) == mode
    assert stat.S_IMODE((bundle / "rootfs" / "pausle").stat().st_mode) == 0o555
