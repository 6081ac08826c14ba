"""Every tool in tools/ on bad input: a missing or unreadable input, the wrong arch,
an output in the way or in a folder that does not exist. Each must answer with one
line on stderr and a non-zero exit, never a traceback (tools/cli.py for the Python
tools). Run: python3 -m pytest -q tests/tools (tools/check.sh tools).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))
import manifest  # noqa: E402

OUT = Path(os.environ.get("PAUSLE_OUT") or ROOT / "target" / "out")
HOST = next(t for t in manifest.targets() if t["arch"] == "x86_64")
OTHER = next(t for t in manifest.targets() if t["arch"] == "aarch64")


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    exe = [str(TOOLS / name)] if name.endswith(".sh") else [sys.executable, str(TOOLS / name)]
    return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=ROOT)


def refused(r: subprocess.CompletedProcess, *words: str) -> None:
    """Non-zero, exactly one line on stderr naming the problem, no traceback."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0, f"exit 0: {r.stdout}{r.stderr}"
    assert "Traceback" not in r.stderr + r.stdout
    assert len(lines) == 1, f"want one line on stderr, got {len(lines)}:\n{r.stderr}"
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"


def built(program: str) -> Path:
    """A real binary of the program for the host row (tools/check.sh build)."""
    path = OUT / f"{program}-{HOST['arch']}"
    if not path.is_file():
        pytest.fail(f"{path} not built (tools/check.sh build, or set PAUSLE_OUT)")
    return path


@pytest.fixture(scope="module")
def elf() -> Path:
    return built("pausle")


@pytest.fixture(scope="module")
def archive(elf, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("img") / "pausle.tar"
    r = tool("mkimage.py", "--binary", elf, "--arch", HOST["oci-arch"], "--out", out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def layout(archive, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("oci") / "layout"
    r = tool("mkindex.py", "--partial", "--out", out, "--image", f"{HOST['oci-arch']}={archive}")
    assert r.returncode == 0, r.stderr
    return out


# --- mkimage.py ---------------------------------------------------------------------

def mkimage(binary, arch, out):
    return tool("mkimage.py", "--binary", binary, "--arch", arch, "--out", out)


def test_mkimage_missing_input(tmp_path):
    refused(mkimage(tmp_path / "nope", HOST["oci-arch"], tmp_path / "o.tar"), "nope", "No such file")


def test_mkimage_unreadable_input(tmp_path):
    refused(mkimage(tmp_path, HOST["oci-arch"], tmp_path / "o.tar"), "Is a directory")


def test_mkimage_wrong_arch(elf, tmp_path):
    refused(mkimage(elf, OTHER["oci-arch"], tmp_path / "o.tar"), "e_machine")
    refused(mkimage(elf, "vax", tmp_path / "o.tar"), "vax")
    assert not (tmp_path / "o.tar").exists()


def test_mkimage_output_folder_missing(elf, tmp_path):
    refused(mkimage(elf, HOST["oci-arch"], tmp_path / "no" / "o.tar"), "does not exist")


def test_mkimage_output_is_a_directory(elf, tmp_path):
    refused(mkimage(elf, HOST["oci-arch"], tmp_path), "is a directory")


def test_mkimage_existing_output_is_replaced(elf, tmp_path):
    out = tmp_path / "o.tar"
    out.write_bytes(b"old")
    assert mkimage(elf, HOST["oci-arch"], out).returncode == 0
    assert out.read_bytes() != b"old"


# --- checkimage.py ------------------------------------------------------------------

def test_checkimage_missing_input(tmp_path):
    refused(tool("checkimage.py", tmp_path / "nope.tar", "--arch", HOST["oci-arch"]), "no such file")


def test_checkimage_unreadable_input(tmp_path):
    refused(tool("checkimage.py", tmp_path, "--arch", HOST["oci-arch"]), "no such file")


def test_checkimage_unknown_arch(archive):
    refused(tool("checkimage.py", archive, "--arch", "vax"), "vax")


def test_checkimage_wrong_arch_fails(archive):
    r = tool("checkimage.py", archive, "--arch", OTHER["oci-arch"])
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    assert "FAIL" in r.stdout


def test_checkimage_not_an_archive(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar")
    r = tool("checkimage.py", bad, "--arch", HOST["oci-arch"])
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr


# --- mkindex.py ---------------------------------------------------------------------

def mkindex(*args):
    return tool("mkindex.py", "--partial", *args)


def test_mkindex_missing_input(tmp_path):
    refused(mkindex("--out", tmp_path / "l", "--image", f"{HOST['oci-arch']}={tmp_path / 'nope'}"), "nope")


def test_mkindex_unreadable_input(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"\x1f\x8bnot gzip")
    refused(mkindex("--out", tmp_path / "l", "--image", f"{HOST['oci-arch']}={bad}"), "bad.tar")


def test_mkindex_wrong_arch(archive, tmp_path):
    refused(mkindex("--out", tmp_path / "l", "--image", f"{OTHER['oci-arch']}={archive}"), "architecture")
    refused(mkindex("--out", tmp_path / "l", "--image", f"vax={archive}"), "vax")


def test_mkindex_existing_output(archive, tmp_path):
    (tmp_path / "l").mkdir()
    (tmp_path / "l" / "x").write_text("x")
    refused(mkindex("--out", tmp_path / "l", "--image", f"{HOST['oci-arch']}={archive}"), "not an empty directory")
    refused(mkindex("--archive", tmp_path, "--image", f"{HOST['oci-arch']}={archive}"), "is a directory")


def test_mkindex_output_folder_missing(archive, tmp_path):
    image = f"{HOST['oci-arch']}={archive}"
    refused(mkindex("--out", tmp_path / "no" / "l", "--image", image), "does not exist")
    refused(mkindex("--archive", tmp_path / "no" / "a.tar", "--image", image), "does not exist")


def test_mkindex_missing_cargo_toml(archive, tmp_path):
    refused(mkindex("--cargo-toml", tmp_path / "Cargo.toml", "--out", tmp_path / "l",
                    "--image", f"{HOST['oci-arch']}={archive}"), "Cargo.toml")


# --- budget.py, manifest.py, pullsize.py ----------------------------------------------

def test_budget_missing_input(tmp_path):
    refused(tool("budget.py", tmp_path / "nope"), "nope", "no such file")


def test_budget_unreadable_input(tmp_path):
    refused(tool("budget.py", tmp_path), "no such file")


def test_manifest_unknown_key():
    refused(tool("manifest.py", "--get", "no-such-key"), "no-such-key")
    refused(tool("manifest.py", "--program", "pong", "--get", "no-such-key"), "no-such-key", "pong")


def test_manifest_programs():
    """Each program's section through the command line the shell and deploy/ use."""
    r = tool("manifest.py", "--programs")
    assert r.returncode == 0 and r.stdout.split() == ["pausle", "pong"]
    r = tool("manifest.py", "--program", "pong", "--get", "image")
    assert (r.returncode, r.stdout) == (0, "ghcr.io/pausle/pong\n")
    r = tool("manifest.py", "--get", "image")  # pausle's, as before programs
    assert (r.returncode, r.stdout) == (0, "ghcr.io/pausle/pausle\n")
    r = tool("manifest.py", "--program", "pong", "--get", "exposed-ports")
    assert (r.returncode, r.stdout) == (0, "8080/tcp\n")
    r = tool("manifest.py", "--program", "pausle", "--get", "exposed-ports")
    assert (r.returncode, r.stdout) == (0, "")
    refused(tool("manifest.py", "--program", "nope", "--get", "image"), "nope")


def test_manifest_refuses_a_short_section(tmp_path):
    """A program section without a key the tools need, or whose entrypoint is not its
    one file, is refused by name."""
    cargo = tmp_path / "Cargo.toml"
    cargo.write_text('[package]\nname = "x"\nversion = "0"\n'
                     '[package.metadata.pausle.programs.pong]\nmax-binary-bytes = 1\n')
    with pytest.raises(SystemExit, match="programs.pong lacks max-image-bytes"):
        manifest.program("pong", cargo)
    section = {k: v for k, v in manifest.program("pong").items() if k != "name"}
    section["entrypoint"] = ["/pausle"]
    cargo.write_text('[package]\nname = "x"\nversion = "0"\n[package.metadata.pausle.programs.pong]\n'
                     + "".join(f"{k} = {json.dumps(v)}\n" for k, v in section.items()))
    with pytest.raises(SystemExit, match="entrypoint must start with /pong"):
        manifest.program("pong", cargo)


@pytest.mark.parametrize("name", ["pausle", "pong"])
def test_budget_per_program(name, tmp_path):
    """Each binary against its own program's max-binary-bytes: at it passes, one byte
    over fails."""
    budget = manifest.program(name)["max-binary-bytes"]
    at, over = tmp_path / "at", tmp_path / "over"
    at.write_bytes(bytes(budget))
    over.write_bytes(bytes(budget + 1))
    r = tool("budget.py", "--program", name, at)
    assert r.returncode == 0 and f"/ {budget} bytes  ok" in r.stdout
    r = tool("budget.py", "--program", name, at, over)
    assert r.returncode == 1 and "OVER BUDGET" in r.stdout


def test_budget_unknown_program(tmp_path):
    refused(tool("budget.py", "--program", "nope", tmp_path), "no program 'nope'")


def test_budget_program_from_the_name(tmp_path):
    """Without --program, a binary's name says its program (pong-x86_64, bin/pong),
    as check.sh's build stage and the flake name them; a name of no program is
    refused."""
    (tmp_path / "bin").mkdir()
    for name in ("pong-x86_64", "bin/pong"):
        (tmp_path / name).write_bytes(bytes(manifest.max_binary_bytes("pausle") + 1))
    r = tool("budget.py", tmp_path / "pong-x86_64", tmp_path / "bin" / "pong")
    assert r.returncode == 0 and r.stdout.count("ok") == 2, r.stdout
    r = tool("budget.py", "--program", "pausle", tmp_path / "pong-x86_64")
    assert r.returncode == 1 and "OVER BUDGET" in r.stdout
    (tmp_path / "other-x86_64").write_bytes(b"x")
    refused(tool("budget.py", tmp_path / "other-x86_64"), "no program 'other'")


# --- each program's image -------------------------------------------------------------

def test_unknown_program_is_refused(elf, archive, tmp_path):
    """Every image tool refuses a program that is not in the table, before any work."""
    refused(tool("mkimage.py", "--program", "nope", "--binary", elf, "--arch", HOST["oci-arch"],
                 "--out", tmp_path / "o.tar"), "no program 'nope'")
    assert not (tmp_path / "o.tar").exists()
    refused(tool("checkimage.py", archive, "--arch", HOST["oci-arch"], "--program", "nope"),
            "no program 'nope'")
    refused(mkindex("--program", "nope", "--out", tmp_path / "l",
                    "--image", f"{HOST['oci-arch']}={archive}"), "no program 'nope'")


@pytest.fixture(scope="module")
def pong_elf() -> Path:
    return built("pong")


def test_pong_image_is_pongs(pong_elf, archive, tmp_path):
    """mkimage --program pong writes pong's image, which checkimage --program pong
    passes and pausle's checks fail; mkindex --program pong refuses pausle's image."""
    out = tmp_path / "pong.tar"
    r = tool("mkimage.py", "--program", "pong", "--binary", pong_elf, "--arch", HOST["oci-arch"],
             "--out", out)
    assert r.returncode == 0, r.stderr
    assert "-byte /pong" in r.stdout
    r = tool("checkimage.py", out, "--arch", HOST["oci-arch"], "--program", "pong")
    assert r.returncode == 0, r.stdout
    r = tool("checkimage.py", out, "--arch", HOST["oci-arch"])
    assert r.returncode == 1 and "FAIL  layer holds /pausle only" in r.stdout
    refused(mkindex("--program", "pong", "--out", tmp_path / "l",
                    "--image", f"{HOST['oci-arch']}={archive}"), "entrypoint")


def test_pullsize_missing_input(tmp_path):
    refused(tool("pullsize.py", tmp_path / "nope"), "not an OCI image layout")


def test_pullsize_not_a_layout(tmp_path, archive):
    refused(tool("pullsize.py", archive), "not an OCI image layout")


def test_pullsize_broken_layout(tmp_path):
    (tmp_path / "index.json").write_text("{")
    refused(tool("pullsize.py", tmp_path))


# --- push.sh ------------------------------------------------------------------------

def test_push_missing_layout(tmp_path):
    refused(tool("push.sh", tmp_path / "nope", f"oci:{tmp_path / 'dest'}:t"), "not an OCI layout")


def test_push_not_a_layout(tmp_path, archive):
    refused(tool("push.sh", archive, f"oci:{tmp_path / 'dest'}:t"), "not an OCI layout")


def test_push_tag_option_without_tag():
    refused(tool("push.sh", "-t"), "needs a TAG")


def test_push_wrong_tag(layout, tmp_path):
    r = tool("push.sh", "-t", "no-such-tag", layout, f"oci:{tmp_path / 'dest'}:t")
    assert r.returncode != 0 and "Traceback" not in r.stderr


# --- image.sh -----------------------------------------------------------------------
# Its real runs into Docker are docs pages' blocks (tests/docs: README's `tools/image.sh`,
# docs/pong.md's `--program pong`); here, its bad input and podman.

@pytest.mark.parametrize("args", [["--bogus"], ["--program"], ["--engine"], ["--engine", "rkt"],
                                  ["--program", ""], ["pausle"]], ids=" ".join)
def test_image_usage(args):
    r = tool("image.sh", *args)
    refused(r, "usage: tools/image.sh")
    assert r.returncode == 2


def test_image_unknown_program():
    r = tool("image.sh", "--program", "nope")
    refused(r, "no program 'nope'", "pausle")
    assert r.returncode == 2


def test_image_unsupported_arch(tmp_path):
    """On a host whose `uname -m` is no row of the table: one line, exit 1, nothing built."""
    (tmp_path / "uname").write_text("#!/bin/sh\necho mips64\n")
    (tmp_path / "uname").chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    r = subprocess.run([str(TOOLS / "image.sh")], capture_output=True, text=True, timeout=60, env=env)
    refused(r, "mips64", "no row", "x86_64")
    assert r.returncode == 1


def test_image_loads_into_podman(tmp_path):
    """--engine podman: the image lands in podman's storage (a private one here) under
    Cargo.toml's name, and image.sh prints that name."""
    conf = tmp_path / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path}/root"\nrunroot = "{tmp_path}/run"\n')
    # No systemd on the CI machine: podman's events go to a file, as tests/runtimes has it.
    (tmp_path / "containers.conf").write_text('[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(conf), CONTAINERS_CONF=str(tmp_path / "containers.conf"))
    r = subprocess.run([str(TOOLS / "image.sh"), "--engine", "podman", "--program", "pong"],
                       capture_output=True, text=True, timeout=600, env=env)
    ref = f"{manifest.image(name='pong')}:{manifest.version()}"
    assert r.returncode == 0 and r.stdout == f"{ref}\n", r.stdout + r.stderr
    listed = subprocess.run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert listed.stdout.split() == [ref], listed.stdout + listed.stderr


# --- figures.py ---------------------------------------------------------------------

def figures_page(tmp_path, kind="headline", body=""):
    page = tmp_path / "p.md"
    page.write_text(f"x\n<!-- figures: {kind} (generated by `python3 tools/figures.py`; do not edit) -->\n"
                    f"{body}<!-- figures: end -->\ny\n")
    return page


def test_figures_usage():
    r = tool("figures.py", "--bogus")
    refused(r, "usage: figures.py")
    assert r.returncode == 2


def test_figures_writes_then_checks(tmp_path):
    """A stale block fails --check with one line; written, it passes; a changed figure
    in it fails again."""
    page = figures_page(tmp_path, body="| stale |\n")
    refused(tool("figures.py", "--check", page), str(page), "regenerate")
    assert tool("figures.py", page).returncode == 0
    text = page.read_text()
    doc = json.loads((ROOT / "bench" / "results" / "results.json").read_text())
    size = next(r["binary_bytes"] for r in doc["results"] if r["name"] == "pausle")
    cell = f"| **pausle** ({doc['meta']['machine']}) | {size:,} |"
    assert cell in text and text.startswith("x\n") and text.endswith("y\n"), text
    assert tool("figures.py", "--check", page).returncode == 0
    page.write_text(text.replace(cell, cell.replace(f"{size:,}", f"{size - 1:,}")))
    refused(tool("figures.py", "--check", page), "differ")


def test_pong_readme_is_a_figures_block(tmp_path):
    """bench/run.py --pong-check-readme is figures.py's check of the pong-bench block: the
    committed page passes; a changed median in a copy of it fails, with one line."""
    assert subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--pong-check-readme"],
                          capture_output=True, text=True, timeout=60).returncode == 0
    doc = json.loads((ROOT / "bench" / "results" / "pong-results.json").read_text())
    rss = f"{doc['summary']['pong']['memory_idle']['rss_kib']['median']:,.0f}"
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    block = text[text.index("<!-- figures: pong-bench"):]
    block = block[:block.index("<!-- figures: end -->\n") + len("<!-- figures: end -->\n")]
    page = tmp_path / "p.md"
    page.write_text(block)
    assert tool("figures.py", "--check", page).returncode == 0
    row = next(line for line in block.splitlines() if line.startswith("| **pong** |"))
    assert f" {rss} |" in row, row
    page.write_text(block.replace(row, row.replace(f" {rss} |", f" {rss}0 |", 1)))
    refused(tool("figures.py", "--check", page), "differ")


def test_figures_unknown_kind(tmp_path):
    refused(tool("figures.py", "--check", figures_page(tmp_path, kind="nope")), "unknown figures block 'nope'")


def test_figures_block_without_end(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("<!-- figures: headline (generated by `python3 tools/figures.py`; do not edit) -->\n")
    refused(tool("figures.py", "--check", page), "has no <!-- figures: end -->")


def test_figures_sizes_need_the_build(tmp_path):
    env_out = tmp_path / "empty"
    env_out.mkdir()
    r = subprocess.run([sys.executable, str(TOOLS / "figures.py"), "--check", str(figures_page(tmp_path, "sizes"))],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, PAUSLE_OUT=str(env_out)))
    refused(r, "not built")
