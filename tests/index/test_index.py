"""tools/mkindex.py: one OCI image index (one tag) for every row of Cargo.toml's table,
one per program (pausle, pong: each of Cargo.toml's programs.<name>).

For each program, builds a docker-archive per row with tools/mkimage.py from
target/out/<program>-<arch> (PAUSLE_OUT overrides the directory), turns them into an
OCI layout with mkindex --program, and
checks it with the tools that will consume it: skopeo (inspect, per-arch selection,
copy --all to oci:, dir:, a local registry, the Docker daemon), umoci (unpack per
manifest) and Docker (run, stop, exit code). Needs skopeo and umoci; the Docker and
registry tests skip without a daemon or a `docker-registry` binary, and a foreign
arch runs only where binfmt_misc has its qemu; in CI (CI=true) each of those fails
instead, since .ci/run installs and enables them all.

Run: python3 -m pytest -q tests/index
"""

import gzip
import hashlib
import io
import json
import os
import platform as host_platform
import shutil
import socket
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(why):
    """A missing tool: a skip on a developer's machine, a failure in CI."""
    if IN_CI:
        pytest.fail(f"{why}; CI must provide it (.ci/run)")
    pytest.skip(why)


ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, str(TOOLS))
import manifest  # noqa: E402
import mkindex  # noqa: E402

OUT = Path(os.environ.get("PAUSLE_OUT") or ROOT / "target" / "out")
TARGETS = manifest.targets()
TAG = manifest.version()
REF = "org.opencontainers.image.ref.name"
NAME = mkindex.IMAGE_NAME  # io.containerd.image.name: NAME:TAG, what ctr and podman read
IMAGE = manifest.image()
PROGRAMS = manifest.programs()


def plat(t: dict) -> str:
    """A row's PLATFORM, as mkindex's --image takes it: <oci-arch>[/<variant>]."""
    return t["oci-arch"] + (f"/{t['oci-variant']}" if t.get("oci-variant") else "")


PLATFORMS = [plat(t) for t in TARGETS]
ROWS = pytest.mark.parametrize("target", TARGETS, ids=PLATFORMS)


def run(*cmd, check=True, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tree(d: Path) -> dict[str, bytes]:
    """Every file under d (relative path -> bytes); directories only as parents."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def index_of(layout: Path) -> tuple[str, dict]:
    """The index digest (the one descriptor index.json names) and the index."""
    top = json.loads((layout / "index.json").read_text())["manifests"]
    assert len(top) == 1
    return top[0]["digest"], json.loads(blob(layout, top[0]["digest"]))


def manifest_digests(layout: Path) -> dict[str, str]:
    """PLATFORM -> manifest digest, from the index."""
    _, index = index_of(layout)
    return {m["platform"]["architecture"]
            + (f"/{m['platform']['variant']}" if "variant" in m["platform"] else ""): m["digest"]
            for m in index["manifests"]}


def mkimage(binary: Path, target: dict, out: Path, program: str = "pausle") -> Path:
    cmd = [sys.executable, TOOLS / "mkimage.py", "--program", program, "--binary", binary,
           "--arch", target["oci-arch"], "--out", out]
    if target.get("oci-variant"):
        cmd += ["--variant", target["oci-variant"]]
    run(*cmd)
    return out


def mkindex_cli(*args, check=True) -> subprocess.CompletedProcess:
    return run(sys.executable, TOOLS / "mkindex.py", *args, check=check)


def image_args(archives: dict[str, Path]) -> list[str]:
    return [a for p, f in archives.items() for a in ("--image", f"{p}={f}")]


@pytest.fixture(scope="session", params=PROGRAMS)
def prog(request) -> dict:
    """Each program's section of the table: every test of the layout runs for each."""
    return manifest.program(request.param)


@pytest.fixture(scope="session")
def binaries(prog) -> dict[str, Path]:
    """PLATFORM -> the built binary of that row; every row must have one."""
    found = {plat(t): OUT / f"{prog['name']}-{t['arch']}" for t in TARGETS}
    missing = [str(p) for p in found.values() if not p.is_file()]
    if missing:
        pytest.fail(f"no binary for {', '.join(missing)}: build every target of Cargo.toml "
                    "first (or point PAUSLE_OUT at them)")
    return found


@pytest.fixture(scope="session")
def tools():
    missing = [t for t in ("skopeo", "umoci") if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: apt-get install -y {' '.join(missing)}")


@pytest.fixture(scope="session")
def skopeo(tmp_path_factory, tools):
    """skopeo with a policy of its own, so no /etc/containers/policy.json is needed."""
    policy = tmp_path_factory.mktemp("policy") / "policy.json"
    policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')

    def skopeo(*args, check=True):
        return run("skopeo", "--policy", policy, *args, check=check)

    return skopeo


def build_archives(binaries: dict[str, Path], d: Path, program: str) -> dict[str, Path]:
    """One docker-archive per row: gzipped for the first (as dockerTools writes it),
    plain for the rest, so mkindex reads both."""
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for n, t in enumerate(TARGETS):
        name = plat(t).replace("/", "-") + (".tar.gz" if n == 0 else ".tar")
        out[plat(t)] = mkimage(binaries[plat(t)], t, d / name, program)
    return out


@pytest.fixture(scope="session")
def archives(binaries, prog, tmp_path_factory) -> dict[str, Path]:
    return build_archives(binaries, tmp_path_factory.mktemp("archives"), prog["name"])


def mkindex_of(prog: dict, *args, check=True) -> subprocess.CompletedProcess:
    """mkindex.py for the program."""
    return mkindex_cli("--program", prog["name"], *args, check=check)


@pytest.fixture(scope="session")
def layout(archives, prog, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("layout")
    p = mkindex_of(prog, "--out", d / "oci", "--archive", d / "oci.tar", *image_args(archives))
    digest, _ = index_of(d / "oci")
    assert p.stdout.strip() == digest
    return d / "oci"


# --------------------------------------------------------------------------------
# The layout itself.

def test_reproducible(archives, binaries, prog, layout, tmp_path):
    """Twice, with the images given in reverse order: the same bytes, every file."""
    again = tmp_path / "again"
    mkindex_of(prog, "--out", again, "--archive", tmp_path / "again.tar",
               *image_args(dict(reversed(archives.items()))))
    assert tree(again) == tree(layout)
    assert (tmp_path / "again.tar").read_bytes() == (layout.parent / "oci.tar").read_bytes()
    # Rebuilding the archives too changes nothing.
    rebuilt = build_archives(binaries, tmp_path / "archives", prog["name"])
    mkindex_of(prog, "--out", tmp_path / "third", *image_args(rebuilt))
    assert tree(tmp_path / "third") == tree(layout)


def test_archive_is_the_layout(layout):
    """--archive is the directory as one deterministic tar."""
    with tarfile.open(layout.parent / "oci.tar") as tar:
        members = tar.getmembers()
        files = {m.name: tar.extractfile(m).read() for m in members if m.isfile()}
    assert files == tree(layout)
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}


def test_layout_is_sound(layout, binaries, prog):
    """Every descriptor points at a blob of its digest and size, nothing else is
    there, the JSON is canonical, and each platform's layer holds its binary."""
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    top = json.loads((layout / "index.json").read_text())
    assert top["mediaType"] == mkindex.MT_INDEX
    (desc,) = top["manifests"]
    assert desc["annotations"] == {REF: TAG, NAME: f"{prog['image']}:{TAG}"}
    assert desc["mediaType"] == mkindex.MT_INDEX
    used = set()

    def fetch(d: dict) -> bytes:
        data = blob(layout, d["digest"])
        assert sha256(data) == d["digest"] and len(data) == d["size"]
        used.add(d["digest"].removeprefix("sha256:"))
        return data

    def canonical(data: bytes) -> dict:
        value = json.loads(data)
        assert mkindex.canonical(value) == data
        return value

    index = canonical(fetch(desc))
    assert "annotations" not in index  # the tag stays out of the pushed digest
    assert [m["mediaType"] for m in index["manifests"]] == [mkindex.MT_MANIFEST] * len(TARGETS)
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": t["oci-arch"], "os": "linux",
         **({"variant": t["oci-variant"]} if t.get("oci-variant") else {})} for t in TARGETS]
    for t, m in zip(TARGETS, index["manifests"]):
        man = canonical(fetch(m))
        assert man["schemaVersion"] == 2 and man["mediaType"] == mkindex.MT_MANIFEST
        assert man["config"]["mediaType"] == mkindex.MT_CONFIG
        config = canonical(fetch(man["config"]))
        assert config["architecture"] == t["oci-arch"] and config["os"] == "linux"
        assert config.get("variant") == t.get("oci-variant")
        assert config["config"]["Entrypoint"] == prog["entrypoint"]
        assert config["config"]["User"] == prog["user"]
        assert config["config"].get("ExposedPorts") == (
            {port: {} for port in prog["exposed-ports"]} or None)
        assert config["created"] == "1970-01-01T00:00:01Z"
        (layer_desc,) = man["layers"]
        assert layer_desc["mediaType"] == mkindex.MT_LAYER_GZIP
        raw = fetch(layer_desc)
        assert raw[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0
        diff = gzip.decompress(raw)
        assert config["rootfs"] == {"type": "layers", "diff_ids": [sha256(diff)]}
        with tarfile.open(fileobj=io.BytesIO(diff)) as tar:
            (member,) = tar.getmembers()
            assert member.name == prog["name"] and member.isfile()
            assert tar.extractfile(member).read() == binaries[plat(t)].read_bytes()
    assert {p.name for p in (layout / "blobs" / "sha256").iterdir()} == used


def test_tag_is_not_in_the_index_digest(archives, prog, layout, tmp_path):
    """--tag only names the index in index.json; the index blob, and so the digest a
    registry shows, is the same under any tag."""
    p = mkindex_of(prog, "--out", tmp_path / "l", "--tag", "latest", *image_args(archives))
    assert p.stdout.strip() == index_of(layout)[0]
    top = json.loads((tmp_path / "l" / "index.json").read_text())
    assert top["manifests"][0]["annotations"] == {REF: "latest", NAME: f"{prog['image']}:latest"}


def test_each_program_has_its_own_index(tmp_path):
    """One index per program, each under its own name, none holding another's image:
    an index with two linux/amd64 manifests would have runtimes pick the first, and
    the second program would be unreachable by its tag. mkindex refuses an archive of
    another program (its config runs another entrypoint)."""
    host = TARGETS[0]
    archives, digests, names = {}, {}, {}
    for name in PROGRAMS:
        binary = OUT / f"{name}-{host['arch']}"
        if not binary.is_file():
            pytest.fail(f"no binary {binary}")
        archives[name] = mkimage(binary, host, tmp_path / f"{name}.tar", name)
        p = mkindex_cli("--program", name, "--partial", "--out", tmp_path / name,
                        *image_args({plat(host): archives[name]}))
        digests[name] = p.stdout.strip()
        top = json.loads((tmp_path / name / "index.json").read_text())
        names[name] = top["manifests"][0]["annotations"][NAME]
    assert len(set(digests.values())) == len(PROGRAMS), digests
    assert sorted(names.values()) == sorted(f"{manifest.image(name=n)}:{TAG}" for n in PROGRAMS)
    assert len(set(names.values())) == len(PROGRAMS), names
    for name in PROGRAMS:
        for other in PROGRAMS:
            if other != name:
                err = refused("--program", name, "--partial", "--out", tmp_path / f"{name}-x",
                              *image_args({plat(host): archives[other]}))
                assert "entrypoint" in err and f"{other}" in err, err
    assert "no program" in refused("--program", "nope", "--partial", "--out", tmp_path / "n",
                                   *image_args({plat(host): archives[PROGRAMS[0]]}))


def test_deflate_round_trips():
    import random

    r = random.Random(5)
    cases = [b"", b"a", b"abc" * 1000, bytes(70000), bytes(range(256)) * 40, os.urandom(5000)]
    cases += [bytes(r.randrange(k) for _ in range(r.randrange(2000))) for k in (2, 4, 50, 256)
              for _ in range(10)]
    for data in cases:
        out = mkindex.gzip_deterministic(data)
        assert gzip.decompress(out) == data
        assert mkindex.gzip_deterministic(data) == out


# --------------------------------------------------------------------------------
# What the consumers see.

def test_skopeo_sees_one_index_of_every_arch(layout, skopeo):
    raw = skopeo("inspect", "--raw", f"oci:{layout}:{TAG}").stdout.encode()
    digest, index = index_of(layout)
    assert sha256(raw) == digest
    assert list(manifest_digests(layout)) == PLATFORMS
    assert json.loads(raw) == index


def test_skopeo_reads_the_oci_archive(layout, skopeo):
    raw = skopeo("inspect", "--raw", f"oci-archive:{layout.parent / 'oci.tar'}:{TAG}").stdout
    assert sha256(raw.encode()) == index_of(layout)[0]


@ROWS
def test_skopeo_picks_each_arch(layout, skopeo, target):
    sel = ["--override-arch", target["oci-arch"], "--override-os", "linux"]
    if target.get("oci-variant"):
        sel += ["--override-variant", target["oci-variant"]]
    info = json.loads(skopeo(*sel, "inspect", f"oci:{layout}:{TAG}").stdout)
    assert info["Architecture"] == target["oci-arch"] and info["Os"] == "linux"
    # skopeo 1.9's inspect has no Variant; the config it picked says it.
    config = skopeo(*sel, "inspect", "--config", "--raw", f"oci:{layout}:{TAG}").stdout.encode()
    assert json.loads(config).get("variant") == target.get("oci-variant")
    man = json.loads(blob(layout, manifest_digests(layout)[plat(target)]))
    assert sha256(config) == man["config"]["digest"]
    assert info["Layers"] == [d["digest"] for d in man["layers"]]


def per_arch_view(layout: Path, d: Path) -> Path:
    """The same blobs with index.json naming each manifest by its PLATFORM (slash as
    '-'): umoci takes a tag to one manifest, and refuses a tag that is an index."""
    shutil.copytree(layout, d)
    _, index = index_of(layout)
    manifests = [dict(m, annotations={REF: p.replace("/", "-")})
                 for p, m in zip(PLATFORMS, index["manifests"])]
    (d / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return d


@pytest.fixture(scope="session")
def umoci_view(layout, tmp_path_factory, tools):
    return per_arch_view(layout, tmp_path_factory.mktemp("umoci") / "view")


def test_umoci_lists_the_tag(layout, tools):
    assert run("umoci", "ls", "--layout", layout).stdout.split() == [TAG]


@ROWS
def test_umoci_unpacks_each_arch(umoci_view, binaries, prog, target, tmp_path):
    """umoci reads the manifest, config and layer (checking every digest as it
    reads) and the rootfs is /<program> alone, byte for byte the binary."""
    ref = f"{umoci_view}:{plat(target).replace('/', '-')}"
    stat = run("umoci", "stat", "--json", "--image", ref).stdout
    assert len(json.loads(stat)["history"]) == 1
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--rootless", "--image", ref, bundle)
    rootfs = bundle / "rootfs"
    assert [str(p.relative_to(rootfs)) for p in rootfs.rglob("*")] == [prog["name"]]
    assert (rootfs / prog["name"]).read_bytes() == binaries[plat(target)].read_bytes()
    spec = json.loads((bundle / "config.json").read_text())
    assert spec["process"]["args"] == prog["entrypoint"]
    assert spec["process"]["user"]["uid"] == 65535


def test_umoci_catches_a_corrupt_blob(layout, umoci_view, tmp_path):
    """The check above means something: umoci refuses a layer that is not its digest."""
    bad = tmp_path / "bad"
    shutil.copytree(umoci_view, bad)
    man = json.loads(blob(bad, manifest_digests(layout)[PLATFORMS[0]]))
    layer = bad / "blobs" / "sha256" / man["layers"][0]["digest"].removeprefix("sha256:")
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 1
    layer.write_bytes(bytes(data))
    p = run("umoci", "unpack", "--rootless", "--image", f"{bad}:{PLATFORMS[0].replace('/', '-')}",
            tmp_path / "bundle", check=False)
    assert p.returncode != 0


# --------------------------------------------------------------------------------
# Pushing: the digest survives every copy.

def test_skopeo_copy_all_keeps_the_digest(layout, skopeo, tmp_path):
    """What the push does, to destinations that need no registry: oci: and dir:."""
    want = index_of(layout)[0]
    for dest in (f"oci:{tmp_path / 'oci'}:{TAG}", f"dir:{tmp_path / 'dir'}"):
        skopeo("copy", "-q", "--all", "--digestfile", tmp_path / "digest",
               f"oci:{layout}:{TAG}", dest)
        assert (tmp_path / "digest").read_text() == want, dest
        raw = skopeo("inspect", "--raw", dest).stdout.encode()
        assert sha256(raw) == want
    assert sha256((tmp_path / "dir" / "manifest.json").read_bytes()) == want
    # The copy holds the same blobs.
    assert tree(tmp_path / "oci")["blobs/sha256/" + want.removeprefix("sha256:")] == \
        blob(layout, want)


def test_push_script(layout, tmp_path):
    """tools/push.sh (the flake's push app) prints the index digest and checks it."""
    want = index_of(layout)[0]
    for dest in (f"oci:{tmp_path / 'oci'}:{TAG}", f"dir:{tmp_path / 'dir'}"):
        p = run("sh", TOOLS / "push.sh", layout, dest, "-q")
        assert p.stdout.strip().splitlines()[-1] == want
    p = run("sh", TOOLS / "push.sh", "-t", "no-such-tag", layout, f"oci:{tmp_path / 'x'}:x",
            check=False)
    assert p.returncode != 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A registry on 127.0.0.1 (Debian's docker-registry), stopped after the session."""
    exe = shutil.which("docker-registry") or shutil.which("registry")
    if not exe:
        missing("no docker-registry binary (apt-get install docker-registry)")
    d = tmp_path_factory.mktemp("registry")
    port = free_port()
    (d / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {d / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([exe, "serve", str(d / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the registry did not start")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def docker_ok() -> bool:
    return bool(shutil.which("docker")) and run("docker", "info", check=False).returncode == 0


def test_push_to_a_registry(layout, prog, skopeo, registry):
    """push.sh to a real (local) registry: the tag's digest there is the built one,
    and every platform resolves to its own manifest."""
    want = index_of(layout)[0]
    repo = f"{registry}/{prog['name']}"
    p = run("sh", TOOLS / "push.sh", layout, f"{repo}:{TAG}", "-q",
            "--dest-tls-verify=false")
    assert p.stdout.strip().splitlines()[-1] == want
    assert f"{repo}@{want}" in p.stderr
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{repo}:{TAG}")
    assert sha256(raw.stdout.encode()) == want
    for t, (p_, d) in zip(TARGETS, manifest_digests(layout).items()):
        sel = ["--override-arch", t["oci-arch"]]
        if t.get("oci-variant"):
            sel += ["--override-variant", t["oci-variant"]]
        info = json.loads(skopeo(*sel, "inspect", "--tls-verify=false",
                                 f"docker://{repo}@{want}").stdout)
        assert info["Architecture"] == t["oci-arch"], p_
    if docker_ok():
        # The daemon pulls the tag (127.0.0.0/8 is an insecure registry by default)
        # and records the same digest.
        ref = f"{repo}:{TAG}"
        try:
            run("docker", "pull", "-q", ref)
            digests = run("docker", "image", "inspect", "-f", "{{json .RepoDigests}}", ref).stdout
            assert f"{repo}@{want}" in json.loads(digests)
        finally:
            run("docker", "rmi", ref, check=False)


# --------------------------------------------------------------------------------
# Docker runs it.

HOST_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "armv7l": "armv7"}.get(
    host_platform.machine(), host_platform.machine())


@ROWS
def test_docker_runs_and_stops(layout, binaries, prog, skopeo, target):
    """skopeo loads the tag into the Docker daemon (the host's arch unless told
    otherwise); it runs, `docker stop` stops it at once, and it exits 0 (pausle at
    SIGTERM, pong too: its default --drain is 0)."""
    if not docker_ok():
        missing("no Docker daemon")
    native = target["arch"] == HOST_ARCH or (HOST_ARCH, target["oci-arch"]) == ("x86_64", "386")
    if not native and not Path(f"/proc/sys/fs/binfmt_misc/qemu-{target['qemu']}").exists():
        missing(f"{plat(target)} is foreign here and binfmt_misc has no qemu-{target['qemu']}")
    image = f"{prog['name']}-index-test:{TAG}-{plat(target).replace('/', '-')}"
    sel = [] if target["arch"] == HOST_ARCH else ["--override-arch", target["oci-arch"]] + (
        ["--override-variant", target["oci-variant"]] if target.get("oci-variant") else [])
    skopeo(*sel, "copy", "-q", f"oci:{layout}:{TAG}", f"docker-daemon:{image}")
    container = None
    try:
        info = run("docker", "image", "inspect", "-f", "{{.Architecture}} {{.Size}}", image)
        arch, size = info.stdout.split()
        assert arch == target["oci-arch"]
        assert int(size) == binaries[plat(target)].stat().st_size
        container = run("docker", "run", "-d", "--platform", f"linux/{plat(target)}",
                        image).stdout.strip()
        time.sleep(0.5)
        assert run("docker", "inspect", "-f", "{{.State.Running}}", container).stdout.strip() == "true"
        start = time.monotonic()
        run("docker", "stop", container)
        assert time.monotonic() - start < 5, "docker stop waited for the kill timeout"
        code = run("docker", "inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip()
        assert code == "0"
    finally:
        if container:
            run("docker", "rm", "-f", container, check=False)
        run("docker", "rmi", image, check=False)


# --------------------------------------------------------------------------------
# Digests move only with their binary; bad input is refused.

@ROWS
def test_one_byte_changes_only_its_arch(binaries, prog, layout, target, tmp_path):
    changed = dict(binaries)
    data = bytearray(binaries[plat(target)].read_bytes())
    data[-1] ^= 0xFF  # past the ELF header, so mkimage still takes it
    changed[plat(target)] = tmp_path / prog["name"]
    changed[plat(target)].write_bytes(bytes(data))
    archives = build_archives(changed, tmp_path / "archives", prog["name"])
    p = mkindex_of(prog, "--out", tmp_path / "l", *image_args(archives))
    assert p.stdout.strip() != index_of(layout)[0]
    before, after = manifest_digests(layout), manifest_digests(tmp_path / "l")
    for name in PLATFORMS:
        assert (before[name] != after[name]) == (name == plat(target)), name


def refused(*args) -> str:
    p = mkindex_cli(*args, check=False)
    assert p.returncode != 0, p.stdout
    assert p.stdout == ""
    return p.stderr


def refused_for(prog: dict, *args) -> str:
    return refused("--program", prog["name"], *args)


def test_refuses_bad_input(archives, prog, tmp_path):
    first, path = next(iter(archives.items()))
    out = ["--out", tmp_path / "never"]
    assert "twice" in refused_for(prog, *out, *image_args(archives), "--image", f"{first}={path}")
    for bogus in ("mips64le", f"{first}/v9", f"linux/{first}", ""):
        assert "PLATFORM" in (err := refused_for(prog, *out, *image_args(archives),
                                             "--image", f"{bogus}={path}")) \
            or "not in Cargo.toml" in err, bogus
    assert "--out" in refused_for(prog, *image_args(archives))
    assert "not a valid docker tag" in refused_for(prog, *out, "--tag", "a:b", *image_args(archives))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert "not an empty directory" in refused_for(prog, "--out", tmp_path / "full", *image_args(archives))
    assert not (tmp_path / "never").exists()


@pytest.mark.skipif(len(TARGETS) < 2, reason="needs two rows")
def test_every_row_unless_partial(archives, prog, tmp_path):
    first, path = next(iter(archives.items()))
    assert "every row" in refused_for(prog, "--out", tmp_path / "l", "--image", f"{first}={path}")
    p = mkindex_of(prog, "--out", tmp_path / "l", "--partial", "--image", f"{first}={path}")
    assert list(manifest_digests(tmp_path / "l")) == [first]
    assert p.stdout.startswith("sha256:")


@pytest.mark.skipif(len(TARGETS) < 2, reason="needs two rows")
def test_refuses_an_archive_for_another_arch(archives, prog, tmp_path):
    """The archive's config must say the platform it is given as (dockerTools writes
    the build host's arch unless told otherwise)."""
    (a, pa), (b, pb) = list(archives.items())[:2]
    swapped = dict(archives, **{a: pb, b: pa})
    assert "architecture" in refused_for(prog, "--out", tmp_path / "l", *image_args(swapped))


def test_refuses_a_layer_that_is_not_its_diff_id(archives, prog, tmp_path):
    first, path = next(iter(archives.items()))
    with tarfile.open(path, "r:*") as tar:
        files = {m.name: (m, tar.extractfile(m).read() if m.isfile() else None)
                 for m in tar.getmembers()}
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        for name, (m, data) in files.items():
            if name.endswith("layer.tar"):
                data = data[:-1] + b"\x01"
            tar.addfile(m, io.BytesIO(data) if data is not None else None)
    assert "but the config says" in refused_for(prog, "--out", tmp_path / "l",
                                            *image_args(dict(archives, **{first: bad})))


def docker_archive(path: Path, binary: bytes, config: dict) -> Path:
    """A minimal docker-archive, as dockerTools writes one (names without ./)."""
    def tar(files: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    layer = tar({"pausle": binary})
    config = dict(config, rootfs={"type": "layers", "diff_ids": [sha256(layer)]})
    cfg = json.dumps(config).encode()
    man = [{"Config": "c.json", "Layers": ["l/layer.tar"], "RepoTags": ["x:y"]}]
    path.write_bytes(tar({"c.json": cfg, "l/layer.tar": layer,
                          "manifest.json": json.dumps(man).encode()}))
    return path


def test_a_variant_row(skopeo, tmp_path):
    """A row with oci-variant: its platform and config carry the variant, skopeo
    selects it by --override-variant, and the arch alone is refused. Runs on a table
    of its own (the first real row and a made-up arm/v5 row) so it does not depend on
    which rows Cargo.toml has, and on a docker config in Docker's own shape (nulls,
    Docker-only fields), which the OCI config must drop."""
    first = TARGETS[0]
    binary = OUT / f"pausle-{first['arch']}"
    if not binary.is_file():
        pytest.fail(f"no binary {binary}")
    cargo = tmp_path / "Cargo.toml"
    # pausle's own section, as it is (JSON's strings, numbers and lists are TOML's).
    section = "\n".join(f"{k} = {json.dumps(v)}" for k, v in manifest.program("pausle").items()
                        if k != "name")
    cargo.write_text(textwrap.dedent(f"""
        [package]
        name = "pausle"
        version = "{TAG}"
        [package.metadata.pausle.programs.pausle]
        {{section}}
        [[package.metadata.pausle.targets]]
        arch = "{first['arch']}"
        oci-arch = "{first['oci-arch']}"
        [[package.metadata.pausle.targets]]
        arch = "armv5te"
        oci-arch = "arm"
        oci-variant = "v5"
        """).replace("{section}", section))
    archives = {plat(first): mkimage(binary, first, tmp_path / "first.tar")}
    docker_cfg = {"architecture": "arm", "os": "linux", "created": "1970-01-01T00:00:01Z",
                  "docker_version": "20.10", "container_config": {"Cmd": None},
                  "config": {"Entrypoint": ["/pausle"], "Cmd": None, "Env": None,
                             "User": "65535:65535", "Hostname": "", "ArgsEscaped": True},
                  "history": [{"created": "1970-01-01T00:00:01Z", "created_by": "x",
                               "empty_layer": None}]}
    archives["arm/v5"] = docker_archive(tmp_path / "arm.tar", b"not really arm", docker_cfg)
    args = ["--cargo-toml", cargo, *image_args(archives)]
    assert "not in Cargo.toml" in refused("--out", tmp_path / "x", *args, "--image",
                                          f"arm={archives['arm/v5']}")
    p = mkindex_cli("--out", tmp_path / "l", *args)
    layout = tmp_path / "l"
    assert list(manifest_digests(layout)) == [plat(first), "arm/v5"]
    _, index = index_of(layout)
    assert index["manifests"][-1]["platform"] == {"architecture": "arm", "os": "linux",
                                                  "variant": "v5"}
    sel = ["--override-arch", "arm", "--override-variant", "v5"]
    info = json.loads(skopeo(*sel, "inspect", f"oci:{layout}:{TAG}").stdout)
    assert (info["Architecture"], info["Digest"]) == ("arm", p.stdout.strip())
    man = json.loads(blob(layout, manifest_digests(layout)["arm/v5"]))
    assert info["Layers"] == [man["layers"][0]["digest"]]
    raw = skopeo(*sel, "inspect", "--config", "--raw", f"oci:{layout}:{TAG}").stdout.encode()
    assert sha256(raw) == man["config"]["digest"]
    config = json.loads(raw)
    assert config["variant"] == "v5"
    assert config["config"] == {"Entrypoint": ["/pausle"], "User": "65535:65535"}
    assert config["history"] == [{"created": "1970-01-01T00:00:01Z", "created_by": "x"}]
    assert "docker_version" not in config and "container_config" not in config
    # A config that names another variant is refused.
    docker_cfg["variant"] = "v6"
    archives["arm/v5"] = docker_archive(tmp_path / "v6.tar", b"x", docker_cfg)
    assert "variant" in refused("--out", tmp_path / "y", "--cargo-toml", cargo,
                                *image_args(archives))
