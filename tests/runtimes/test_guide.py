"""docs/runtimes.md: every block is run by a test here or says why not, and the
sandbox-image snippets are what their runtimes read."""

import json
import re
import tarfile
import tomllib
from pathlib import Path

from conftest import GUIDE, REF, doccmds, guide_text

HERE = Path(__file__).parent


def test_every_block_is_run_or_says_why():
    assert doccmds.problems(GUIDE, doccmds.asked_by(HERE)) == []


# crio.conf(5), [crio.image] table (cri-o/cri-o docs/crio.conf.5.md): the options a
# sandbox-image snippet may set, and their types. pause_image "should start with a
# registry host name"; pause_command is the command run in it (default "/pause").
CRIO_IMAGE = {
    "pause_image": str,
    "pause_image_auth_file": str,
    "pause_command": str,
    "pinned_images": list,
    "global_auth_file": str,
    "default_transport": str,
}


def test_crio_snippet_matches_the_schema_and_the_image(images):
    conf = tomllib.loads(guide_text("crio"))
    assert list(conf) == ["crio"] and list(conf["crio"]) == ["image"]
    image = conf["crio"]["image"]
    for key, value in image.items():
        assert key in CRIO_IMAGE, f"[crio.image] has no option {key!r}"
        assert isinstance(value, CRIO_IMAGE[key]), key
    assert image["pause_image"] == REF and "." in REF.split("/")[0]  # a registry host
    # pause_command must be what the image runs: its entrypoint, /pausle (CRI-O's
    # default /pause is not in the image, and every sandbox would fail).
    with tarfile.open(images / "pausle.tar") as tar:
        cfg_name = json.load(tar.extractfile("manifest.json"))[0]["Config"]
        cfg = json.load(tar.extractfile(cfg_name))
        layer = json.load(tar.extractfile("manifest.json"))[0]["Layers"][0]
        with tarfile.open(fileobj=tar.extractfile(layer)) as rootfs:
            files = ["/" + m.name for m in rootfs.getmembers() if m.isfile()]
    assert cfg["config"]["Entrypoint"] == [image["pause_command"]]
    assert files == [image["pause_command"]]


def test_containerd_2x_snippet_is_toml_with_the_image():
    """Untested on a containerd 2.x (none here): at least it parses and names REF
    where containerd 2.x's CRI images plugin reads it."""
    blocks = [b for b in doccmds.blocks(GUIDE) if b.kind == "not-run" and "version = 3" in b.text]
    (block,) = blocks
    conf = tomllib.loads(block.text)
    assert conf["version"] == 3
    assert conf["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == REF


def test_guide_names_the_image_as_cargo_toml_does():
    """Every image reference in the guide is Cargo.toml's name and version."""
    refs = set(re.findall(r"ghcr\.io/[\w./-]+:[\w.-]+", GUIDE.read_text()))
    assert refs == {REF}, refs
