"""Docker acceptance tests: pausle as PID 1 of a real container on a real engine.

Run from the repository root: `python3 -m pytest -q tests/docker` (needs a Docker engine
on this host, target/out/pausle-<arch> or $PAUSLE_OUT, musl-gcc, busybox-static and, for
the other arches, qemu-user-static registered with binfmt_misc).
"""

import hashlib
import io
import json
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from conftest import (
    FAST,
    HOST,
    IN_CI,
    SANDBOX,
    VERSION,
    binary,
    checkimage,
    children,
    manifest,
    mkimage,
    unique,
    variant,
)

# Orphans left behind by the helper container.
ORPHANS = 50
# pausle blocks every signal (the kernel refuses SIGKILL 9 and SIGSTOP 19); while it
# sleeps in rt_sigtimedwait the kernel lifts the ones waited for (SIGINT 2, SIGTERM 15,
# SIGCHLD 17) from the visible mask, keeping them in real_blocked.
WAITING_MASK = ((1 << 64) - 1) & ~sum(1 << (sig - 1) for sig in (9, 19, 2, 15, 17))


def signal_masks(pid: int) -> dict[str, int]:
    """SigPnd, SigBlk, SigIgn and SigCgt of a process, from /proc."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = (line.partition(":\t") for line in lines)
    return {k: int(v, 16) for k, _, v in fields if k in ("SigPnd", "SigBlk", "SigIgn", "SigCgt")}


def pausle_started(docker, image: str, *options: str) -> str:
    """A running pausle container, waiting in rt_sigtimedwait; returns its name."""
    name = docker.run(image, *options)
    pid = docker.wait_sleeping(name)
    deadline = time.monotonic() + 5
    while (masks := signal_masks(pid))["SigBlk"] != WAITING_MASK and time.monotonic() < deadline:
        time.sleep(0.02)
    assert masks["SigBlk"] == WAITING_MASK, f"SigBlk {masks['SigBlk']:016x}"
    assert masks["SigIgn"] == masks["SigCgt"] == 0  # no handler, nothing ignored
    return name


# 1. The image mkimage.py writes loads, runs and stops at once, on SIGTERM and SIGINT.


def test_docker_stop_is_immediate_and_clean(docker, pausle_image):
    name = pausle_started(docker, pausle_image)
    took = docker.timed("stop", name)
    print(f"docker stop: {took:.3f}s")
    assert docker.exit_code(name) == 0
    assert took < FAST, f"docker stop took {took:.2f}s: SIGTERM was not acted on"


def test_sigint_exits_zero(docker, pausle_image):
    name = pausle_started(docker, pausle_image)
    start = time.monotonic()
    docker("kill", "-s", "INT", name)
    code = docker.exit_code(name)
    print(f"docker kill -s INT: exited {code} after {time.monotonic() - start:.3f}s")
    assert code == 0


# 2. The contrast: the blog's `return pause();` as PID 1 never sees SIGTERM (the kernel
# drops it: default disposition, namespace init) and is SIGKILLed after the grace period.


@pytest.fixture
def pause_c_image(docker, pause_c_binary, tmp_path) -> str:
    tag = f"{unique('pausle-test-pause-c')}:test"
    archive = mkimage(
        pause_c_binary, HOST["oci-arch"], tmp_path / "pause-c.tar", "--tag", tag, *variant(HOST)
    )
    return docker.load(archive)


def test_pause_c_ignores_docker_stop(docker, pause_c_image):
    name = docker.run(pause_c_image)
    docker.wait_sleeping(name)
    time.sleep(0.2)
    took = docker.timed("stop", "-t", "2", name)
    code = docker.exit_code(name)
    print(f"pause.c: docker stop -t 2: {took:.3f}s, exit code {code}")
    assert took >= 2.0
    assert code == 137  # 128 + SIGKILL


# 3. Locked down as a pod's sandbox would be, it still starts, stays up and stops cleanly.


HARDENED = (
    *SANDBOX,
    "--network",
    "none",
    "--memory",
    "6m",
    "--user",
    "65535:65535",
)


def test_hardened_container(docker, pausle_image):
    name = pausle_started(docker, pausle_image, *HARDENED)
    time.sleep(0.5)
    assert docker.inspect(name, "{{.State.Running}}") == "true"
    assert docker.inspect(name, "{{.State.OOMKilled}}") == "false"
    took = docker.timed("stop", name)
    print(f"hardened docker stop: {took:.3f}s")
    assert docker.exit_code(name) == 0
    assert took < FAST


# 4. Orphans re-parented to pausle are reaped; under pause.c they stay zombies.


@pytest.fixture
def busybox_image(docker, static_busybox) -> str:
    """Debian's static busybox, FROM scratch, with sh and sleep on PATH."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("bin")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        info = tarfile.TarInfo("bin/busybox")
        info.mode, info.size = 0o755, len(static_busybox)
        tar.addfile(info, io.BytesIO(static_busybox))
        for applet in ("sh", "sleep"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return docker.import_(buf.getvalue(), f"{unique('pausle-test-busybox')}:test", "ENV PATH=/bin")


def leave_orphans(docker, helper: str, target: str, seconds: int = 3) -> None:
    """From a helper in `target`'s PID namespace, leaves ORPHANS `sleep`s whose parent
    exits at once: the kernel re-parents them to the namespace's init. The helper itself
    stays up meanwhile (when a container without its own PID namespace ends, runc kills
    what is left in its cgroup, which would hide whether they were reaped)."""
    script = (
        f"( i=0; while [ $i -lt {ORPHANS} ]; do sleep {seconds} & i=$((i+1)); done ); "
        f"exec sleep {seconds + 10}"
    )
    docker.run(helper, "--pid", f"container:{target}", command=("sh", "-c", script))


def watch_orphans(pid: int, seconds: int) -> tuple[int, list[tuple[int, str]], float]:
    """Polls `pid`'s children: the most seen at once, and what is left once every
    sleep has ended (no child still running), with how long that took."""
    start = time.monotonic()
    most = 0
    while time.monotonic() - start < seconds + 15:
        kids = children(pid)
        most = max(most, len(kids))
        if most >= ORPHANS and not any(state != "Z" for _, state in kids):
            return most, kids, time.monotonic() - start
        time.sleep(0.05)
    pytest.fail(f"orphans not all ended: most {most}, now {children(pid)[:5]}...")


def test_orphans_are_reaped(docker, pausle_image, busybox_image):
    name = pausle_started(docker, pausle_image)
    pid = docker.pid(name)
    leave_orphans(docker, busybox_image, name)
    most, left, took = watch_orphans(pid, 3)
    print(f"pausle: {most} orphans re-parented, {len(left)} left after {took:.2f}s")
    assert most >= ORPHANS
    assert left == [], f"zombies left: {left[:5]}"
    assert docker.inspect(name, "{{.State.Running}}") == "true"
    assert docker.timed("stop", name) < FAST
    assert docker.exit_code(name) == 0


def test_pause_c_leaves_zombies(docker, pause_c_image, busybox_image):
    name = docker.run(pause_c_image)
    pid = docker.wait_sleeping(name)
    leave_orphans(docker, busybox_image, name)
    most, left, _ = watch_orphans(pid, 3)
    time.sleep(1)
    zombies = [p for p, state in children(pid) if state == "Z"]
    print(f"pause.c: {most} orphans re-parented, {len(zombies)} zombies remain")
    assert len(zombies) >= ORPHANS


# 5. The other arches' images, under the same engine through qemu-user and binfmt_misc.


def runs_natively(path: Path) -> bool:
    """Whether this kernel runs the binary by itself (i686 on x86_64, say)."""
    try:
        r = subprocess.run([path, "--version"], capture_output=True, timeout=10)
    except OSError:
        return False
    return r.returncode == 0 and r.stdout == f"pausle {VERSION}\n".encode()


def binfmt_problem(qemu: str, path: Path) -> str | None:
    """Why a container could not run this foreign binary (None if it can)."""
    entry = Path(f"/proc/sys/fs/binfmt_misc/qemu-{qemu}")
    try:
        text = entry.read_text()
    except OSError:
        if runs_natively(path):
            return None
        return (
            f"{entry} is not registered (is binfmt_misc mounted, "
            "qemu-user-static and binfmt-support installed?)"
        )
    if not text.startswith("enabled"):
        return f"{entry} is disabled (update-binfmts --enable qemu-{qemu})"
    flags = next((ln[6:] for ln in text.splitlines() if ln.startswith("flags:")), "")
    if "F" not in flags:
        return f"{entry} lacks the F flag: containers cannot reach the interpreter"
    return None


FOREIGN = [t for t in manifest.targets() if t["arch"] != HOST["arch"]]


def platform(t: dict) -> str:
    return "/".join(["linux", t["oci-arch"], *variant(t)[1:]])


@pytest.mark.parametrize("t", FOREIGN, ids=[t["oci-arch"] for t in FOREIGN])
def test_foreign_arch_under_qemu(docker, t, tmp_path):
    path = binary(t["arch"])
    problem = binfmt_problem(t["qemu"], path)
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; CI must install qemu-user-static and binfmt-support")
        pytest.skip(f"not in CI, and {problem}")
    tag = f"{unique('pausle-test-' + t['oci-arch'])}:{VERSION}"
    archive = mkimage(path, t["oci-arch"], tmp_path / "image.tar", "--tag", tag, *variant(t))
    image = docker.load(archive)
    name = docker.run(image, "--platform", platform(t))
    pid = docker.wait_sleeping(name)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    time.sleep(0.5)  # past the emulator's start-up and the guest's sigprocmask
    assert docker.inspect(name, "{{.State.Running}}") == "true"
    took = docker.timed("stop", name)
    print(f"{t['oci-arch']} under `{cmdline.strip()}`: docker stop {took:.3f}s")
    assert docker.exit_code(name) == 0
    assert took < FAST


# 6. The image itself: reproducible, and checkimage.py passes it before and after Docker.


def test_mkimage_is_reproducible(pausle_archive, tmp_path):
    src = binary(HOST["arch"])
    again = mkimage(src, HOST["oci-arch"], tmp_path / "again.tar", *variant(HOST))
    assert again.read_bytes() == pausle_archive.read_bytes()
    extra = ("--variant", "v1", "--revision", "0123abc")
    a = mkimage(src, HOST["oci-arch"], tmp_path / "a.tar.gz", *extra).read_bytes()
    b = mkimage(src, HOST["oci-arch"], tmp_path / "b.tar.gz", *extra).read_bytes()
    assert a == b
    digest = hashlib.sha256(pausle_archive.read_bytes()).hexdigest()
    print(f"sha256 {digest}  {pausle_archive.name}")


@pytest.mark.parametrize("t", manifest.targets(), ids=[t["oci-arch"] for t in manifest.targets()])
def test_archive_passes_checkimage(t, tmp_path):
    plain, labelled = variant(t), (*variant(t), "--revision", "abc")
    for name, extra in [("image.tar", plain), ("image.tar.gz", labelled)]:
        archive = mkimage(binary(t["arch"]), t["oci-arch"], tmp_path / name, *extra)
        r = checkimage(archive, t["oci-arch"], *extra)
        print(r.stdout)
        assert r.returncode == 0, r.stdout + r.stderr


def test_checkimage_rejects(pause_c_binary, tmp_path):
    """Not vacuous: a wrong arch, a missing variant and an oversized binary all fail."""
    ours = mkimage(binary(HOST["arch"]), HOST["oci-arch"], tmp_path / "ours.tar")
    other = next((t["oci-arch"] for t in manifest.targets() if t["arch"] != HOST["arch"]), None)
    if other:
        r = checkimage(ours, other)
        assert r.returncode == 1 and "FAIL  architecture" in r.stdout
    r = checkimage(ours, HOST["oci-arch"], "--variant", "v0")
    assert r.returncode == 1 and "FAIL  variant" in r.stdout
    big = mkimage(pause_c_binary, HOST["oci-arch"], tmp_path / "big.tar", *variant(HOST))
    r = checkimage(big, HOST["oci-arch"], *variant(HOST))
    assert r.returncode == 1 and "FAIL  unpacked size" in r.stdout


def test_docker_save_passes_checkimage(docker, pausle_image, pausle_archive, tmp_path):
    saved = tmp_path / "saved.tar"
    docker("save", "-o", str(saved), pausle_image)
    r = checkimage(saved, HOST["oci-arch"], *variant(HOST))
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr

    def diff_ids(archive: Path) -> list[str]:
        with tarfile.open(archive) as tar:
            m = json.load(tar.extractfile("manifest.json"))[0]
            return json.load(tar.extractfile(m["Config"]))["rootfs"]["diff_ids"]

    # Docker keeps the layer byte for byte, and reports the image at its file's size.
    assert diff_ids(saved) == diff_ids(pausle_archive)
    size = int(docker("image", "inspect", "-f", "{{.Size}}", pausle_image).stdout)
    assert size == binary(HOST["arch"]).stat().st_size
    assert size <= manifest.program("pausle")["max-image-bytes"]
