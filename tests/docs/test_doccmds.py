"""README.md and docs/*.md: every command block is run by a test, as it is written, or
says why not (tools/doccmds.py's markers), and the quick ones are run here. Run:
python3 -m pytest -q tests/docs (tools/check.sh docs).

Needs what the build stage leaves in target/out (every row: one block packs them
all), the build tools (tools/image.sh builds this host's pausle and pong) and a Docker
engine. Each block runs with `bash -euo pipefail` in a scratch folder whose entries are
links to the checkout's, so it sees the checkout's paths and what it writes stays in
the scratch folder. The engine's tags for the two images are put back afterwards.
docs/runtimes.md's blocks are run by tests/runtimes, with the fixtures they need; only
its markers are checked here.
"""

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, str(ROOT / "tools"))
import doccmds  # noqa: E402
import manifest  # noqa: E402

VERSION = manifest.version()
REF = f"{manifest.image()}:{VERSION}"
PONG_REF = f"{manifest.image(name='pong')}:{VERSION}"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# The pages whose `run:` blocks another suite runs (with its fixtures); the rest are run here.
SUITES = {DOCS / "runtimes.md": ROOT / "tests" / "runtimes"}


def asked(page: Path) -> set[str]:
    return doccmds.asked_by(SUITES.get(page, HERE))


@pytest.mark.parametrize("page", doccmds.pages(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_block_is_run_or_says_why(page):
    assert doccmds.problems(page, asked(page)) == []


def test_the_check_fails_what_it_should(tmp_path):
    """Unmarked command blocks (sh, no language, console), an unknown reason, a second
    block of one name and a name no test asks for are each reported; a yaml block needs
    no marker and a known reason passes."""
    page = tmp_path / "p.md"
    page.write_text(
        "```sh\necho a\n```\n\n```\necho b\n```\n\n```console\n$ echo c\n```\n\n"
        "```yaml\nkey: v\n```\n\n<!-- not-run: needs Nix -->\n```sh\nnix build\n```\n\n"
        "<!-- not-run: too slow -->\n```sh\nsleep 9\n```\n\n"
        "<!-- run: asked -->\n```sh\ntrue\n```\n\n<!-- run: asked -->\n```sh\ntrue\n```\n\n"
        "<!-- run: orphan -->\n```sh\ntrue\n```\n"
    )
    found = doccmds.problems(page, {"asked"})
    assert [f.split(": ", 1)[0] for f in found] == [f"{page}:{n}" for n in (1, 5, 9, 23, 33, 38)], found
    assert all("neither" in f for f in found[:3])
    assert "too slow" in found[3] and "second block" in found[4] and "no test runs" in found[5]


# ---------------------------------------------------------------------------------
# Running the blocks.

@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder whose every entry links to the checkout's entry of that name."""
    d = tmp_path_factory.mktemp("doc")
    for entry in ROOT.iterdir():
        (d / entry.name).symlink_to(entry)
    return d


def block(page: Path, name: str, cwd: Path, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs the block marked `run: name` on the page, as written."""
    p = doccmds.run(page, name, cwd, timeout=timeout)
    if check and p.returncode != 0:
        pytest.fail(f"{page.name} block {name!r} exited {p.returncode}:\n{doccmds.named(page, name)}\n{p.stdout}\n{p.stderr}")
    return p


def docker(*args: str, check: bool = True) -> str:
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p.stdout.strip()


@pytest.fixture(scope="module")
def engine():
    """Docker, with the two images' tags as they were put back at the end and the
    blocks' containers removed."""
    names = ("pausle", "pong", "pausle-seccomp")  # the containers the blocks name
    there = [n for n in names if subprocess.run(["docker", "container", "inspect", n],
                                                 capture_output=True, timeout=60).returncode == 0]
    if there:
        pytest.fail(f"containers {', '.join(there)} exist already: the docs' blocks use these names")
    before = {ref: docker("image", "inspect", "-f", "{{.Id}}", ref, check=False) or None
              for ref in (REF, PONG_REF)}
    yield
    docker("rm", "-f", *names, check=False)
    for ref, image_id in before.items():
        if image_id:
            docker("tag", image_id, ref)
        else:
            docker("rmi", ref, check=False)


def test_a_failing_block_fails(tmp_path):
    """bash -euo pipefail: the first failing command ends the block with its status."""
    page = tmp_path / "p.md"
    page.write_text("<!-- run: bad -->\n```sh\necho before\nfalse | cat\necho after\n```\n")
    p = block(page, "bad", tmp_path, check=False)
    assert p.returncode == 1 and p.stdout == "before\n"


@pytest.fixture(scope="module")
def readme_image(scratch, engine) -> subprocess.CompletedProcess:
    """README's first-screen block: tools/image.sh, then a container run and stopped."""
    return block(README, "image", scratch)


def test_readme_image_runs_and_stops_with_0(readme_image):
    out = readme_image.stdout.splitlines()
    # image.sh's reference, the container id, `docker stop`'s name, `docker wait`'s status, `docker rm`'s name.
    assert out[0] == REF and out[2:] == ["pausle", "0", "pausle"], readme_image.stdout
    assert f"Loaded image: {REF}" in readme_image.stderr


def test_the_loaded_image_stops_at_once(readme_image):
    name = f"pausle-doc-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, REF)
    try:
        t = time.monotonic()
        docker("stop", name)
        took = time.monotonic() - t
        assert docker("inspect", "-f", "{{.State.ExitCode}}", name) == "0"
        assert took < 2, f"docker stop took {took:.1f} s"
    finally:
        docker("rm", "-f", name, check=False)


def test_seccomp_profile_on_docker(readme_image, scratch):
    p = block(DOCS / "kubernetes.md", "seccomp-docker", scratch)
    assert p.stdout.splitlines()[1:] == ["pausle-seccomp", "0", "pausle-seccomp"], p.stdout


def test_pong_image_answers(scratch, engine):
    p = block(DOCS / "pong.md", "pong-local", scratch)
    assert p.stdout.splitlines()[0] == PONG_REF
    statuses = [line.split()[1] for line in p.stdout.splitlines() if line.startswith("HTTP/1.1 ")]
    assert statuses == ["200", "503"], p.stdout
    assert p.stdout.rstrip().endswith("pong")  # docker stop's answer


def test_mkimage_loads_and_passes_checkimage(scratch, engine):
    p = block(DOCS / "images.md", "mkimage", scratch)
    assert f"Loaded image: {REF}" in p.stdout
    assert (scratch / "pausle-amd64.tar").is_file() and not (ROOT / "pausle-amd64.tar").exists()


def test_index_of_every_row(scratch):
    p = block(DOCS / "images.md", "index", scratch)
    index = json.loads((scratch / "oci" / "index.json").read_text())
    (entry,) = index["manifests"]
    blob = scratch / "oci" / "blobs" / "sha256" / entry["digest"].split(":")[1]
    platforms = [m["platform"]["architecture"] + "/" + m["platform"].get("variant", "")
                 for m in json.loads(blob.read_text())["manifests"]]
    assert platforms == [t["oci-arch"] + "/" + t.get("oci-variant", "") for t in manifest.targets()]
    assert p.stdout.strip().endswith(entry["digest"])  # mkindex prints the index digest


def test_table_and_budget(scratch):
    p = block(DOCS / "building.md", "table-and-budget", scratch)
    arches = [t["arch"] for t in manifest.targets()]
    lines = p.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines[:len(arches)]] == arches
    budget = lines[len(arches):]
    assert len(budget) == len(arches) * len(manifest.programs()) and all(" ok " in b for b in budget), p.stdout


def test_pong_benchmark_table_is_the_committed_one(scratch):
    p = block(DOCS / "benchmarks.md", "pong-check", scratch)
    assert "matches" in p.stdout

