"""Fixtures for the Docker acceptance tests: a real engine, real images, cleaned up.

Nothing here skips when a tool is missing: no engine, no built binary, no musl-gcc or
no static busybox is a failure (CI installs them all). Every container and image a test
creates has a unique name and is removed when the test (or the session) ends; the one
shared name, Cargo.toml's image:<version>, is put back on whatever image had it before.
"""

import json
import os
import platform
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))

import manifest  # noqa: E402
from mkimage import elf_problems  # noqa: E402

OUT = Path(os.environ.get("PAUSLE_OUT") or ROOT / "target" / "out")
VERSION = manifest.version()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# What a pod's sandbox takes away, for every program: a read-only root, every
# capability, new privileges, all but a few pids.
SANDBOX = ("--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
           "--pids-limit", "16")
# `docker stop` of a program that stops on SIGTERM takes a round trip through the
# engine (~0.2 s here); one that ignores it takes the whole grace period (10 s).
FAST = 1.0


def _host() -> dict:
    """The target this machine runs natively (uname -m armv7l is arch armv7)."""
    machine = platform.machine()
    found = [t for t in manifest.targets() if machine.startswith(t["arch"])]
    if len(found) != 1:
        raise SystemExit(f"no single target in Cargo.toml for this {machine} host")
    return found[0]


HOST = _host()


def variant(t: dict) -> tuple[str, ...]:
    """mkimage/checkimage's --variant option for a target, if it has one."""
    return ("--variant", t["oci-variant"]) if t.get("oci-variant") else ()


def binary(arch: str, program: str = "pausle") -> Path:
    """$PAUSLE_OUT/<program>-<arch>, which tools/check.sh's build stage writes."""
    path = OUT / f"{program}-{arch}"
    if not path.is_file():
        pytest.fail(f"{path} not built (tools/check.sh build, or set PAUSLE_OUT)")
    return path


def mkimage(binary: Path, oci_arch: str, out: Path, *extra: str) -> Path:
    """tools/mkimage.py, run as CI runs it."""
    cmd = [sys.executable, str(TOOLS / "mkimage.py"), "--binary", str(binary)]
    cmd += ["--arch", oci_arch, "--out", str(out), *extra]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


def checkimage(archive: Path, oci_arch: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(TOOLS / "checkimage.py"), str(archive), "--arch", oci_arch, *extra]
    return subprocess.run(cmd, capture_output=True, text=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a host process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rpartition(")")[2].split()
    return fields[0], int(fields[1])


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of every host process whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat and stat[1] == pid:
                found.append((int(entry), stat[0]))
    return found


class Docker:
    """The docker CLI, remembering what it created so that it can remove it."""

    def __init__(self) -> None:
        self.containers: list[str] = []
        self.images: list[str] = []
        self.restore: dict[str, str | None] = {}  # tag -> image id it had before

    def __call__(self, *args: str, check: bool = True, timeout: float = 120, **kw):
        r = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, **kw
        )
        if check and r.returncode != 0:
            pytest.fail(f"docker {' '.join(args)} -> {r.returncode}: {r.stderr.strip()}")
        return r

    def image_id(self, ref: str) -> str | None:
        r = self("image", "inspect", "-f", "{{.Id}}", ref, check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def load(self, archive: Path) -> str:
        """`docker load`s an archive; returns the reference it was loaded as."""
        with tarfile.open(archive) as tar:
            tags = json.load(tar.extractfile("manifest.json"))[0]["RepoTags"]
        for tag in tags:
            self.restore.setdefault(tag, self.image_id(tag))
        out = self("load", "-i", str(archive)).stdout
        self.images += tags
        assert f"Loaded image: {tags[0]}" in out, out
        return tags[0]

    def import_(self, tar: bytes, ref: str, *changes: str) -> str:
        args = [a for c in changes for a in ("--change", c)]
        self.restore.setdefault(ref, self.image_id(ref))
        cmd = ["docker", "import", *args, "-", ref]
        r = subprocess.run(cmd, input=tar, capture_output=True, timeout=120)
        self.images.append(ref)
        if r.returncode != 0:
            err = r.stderr.decode(errors="replace").strip()
            pytest.fail(f"docker import -> {r.returncode}: {err}")
        return ref

    def run(self, image: str, *options: str, command: tuple[str, ...] = ()) -> str:
        """`docker run -d` with a unique name; returns the name."""
        name = unique("pausle-test")
        self.containers.append(name)
        self("run", "-d", "--name", name, *options, image, *command)
        return name

    def inspect(self, name: str, fmt: str) -> str:
        return self("inspect", "-f", fmt, name).stdout.strip()

    def pid(self, name: str) -> int:
        pid = int(self.inspect(name, "{{.State.Pid}}"))
        if proc_stat(pid) is None:
            pytest.fail(f"container {name}'s pid {pid} is not in this host's /proc")
        return pid

    def wait_sleeping(self, name: str, timeout: float = 10) -> int:
        """Waits until the container's PID 1 is running and asleep; returns its host pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inspect(name, "{{.State.Running}}") == "true":
                pid = self.pid(name)
                if (proc_stat(pid) or ("?",))[0] == "S":
                    return pid
            time.sleep(0.05)
        state = self.inspect(name, "{{json .State}}")
        pytest.fail(f"{name} not running and asleep after {timeout}s: {state}")

    def timed(self, *args: str) -> float:
        """Runs a docker command; returns its wall time in seconds."""
        start = time.monotonic()
        self(*args)
        return time.monotonic() - start

    def exit_code(self, name: str) -> int:
        deadline = time.monotonic() + 30
        while self.inspect(name, "{{.State.Running}}") == "true":
            if time.monotonic() > deadline:
                pytest.fail(f"{name} still running")
            time.sleep(0.05)
        return int(self.inspect(name, "{{.State.ExitCode}}"))

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            self("rm", "-f", name, check=False)
        self.containers.clear()
        for ref in reversed(self.images):
            before = self.restore.pop(ref, None)
            if before is not None and self.image_id(ref) == before:
                continue  # it already was this image; leave it
            self("rmi", ref, check=False)
            if before is not None:
                self("tag", before, ref, check=False)
        self.images.clear()


@pytest.fixture(scope="session")
def engine() -> None:
    """A reachable Docker engine, or every test fails."""
    try:
        r = subprocess.run(
            ["docker", "version", "-f", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except FileNotFoundError:
        pytest.fail("the docker CLI is not installed")
    if r.returncode != 0:
        pytest.fail(f"no Docker engine: {r.stderr.strip()}")


@pytest.fixture
def docker(engine) -> Docker:
    """A Docker whose containers and images go when the test ends."""
    d = Docker()
    try:
        yield d
    finally:
        d.cleanup()


def program_archive(tmp_path_factory, program: str) -> Path:
    """mkimage.py --program's archive of the host's build of a program, named the
    program's image:<version>."""
    out = tmp_path_factory.mktemp(f"{program}-image") / f"{program}-{HOST['oci-arch']}.tar"
    return mkimage(binary(HOST["arch"], program), HOST["oci-arch"], out, "--program", program,
                   *variant(HOST))


def loaded(archive: Path, program: str):
    """The archive, `docker load`ed as the program's image:<version> until the end."""
    d = Docker()
    try:
        ref = d.load(archive)
        assert ref == f"{manifest.image(name=program)}:{VERSION}"
        yield ref
    finally:
        d.cleanup()


@pytest.fixture(scope="session")
def pausle_archive(tmp_path_factory) -> Path:
    return program_archive(tmp_path_factory, "pausle")


@pytest.fixture(scope="session")
def pausle_image(engine, pausle_archive) -> str:
    """pausle_archive, `docker load`ed: image:<version> for the whole session."""
    yield from loaded(pausle_archive, "pausle")


@pytest.fixture(scope="session")
def pong_archive(tmp_path_factory) -> Path:
    return program_archive(tmp_path_factory, "pong")


@pytest.fixture(scope="session")
def pong_image(engine, pong_archive) -> str:
    """pong_archive, `docker load`ed, for the whole session."""
    yield from loaded(pong_archive, "pong")


@pytest.fixture(scope="session")
def pause_c_binary(tmp_path_factory) -> Path:
    """bench/pause.c (the blog's `return pause();`) built with musl-gcc -Os -static."""
    out = tmp_path_factory.mktemp("pause-c") / "pause"
    try:
        subprocess.run(
            ["musl-gcc", "-Os", "-static", "-o", str(out), str(ROOT / "bench" / "pause.c")],
            check=True,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        pytest.fail("musl-gcc is not installed (Debian package musl-tools)")
    return out


@pytest.fixture
def static_busybox() -> bytes:
    """Debian busybox-static's /bin/busybox."""
    path = Path("/bin/busybox")
    if not path.is_file():
        pytest.fail("/bin/busybox missing (Debian package busybox-static)")
    data = path.read_bytes()
    if elf_problems(data, HOST["oci-arch"]):
        pytest.fail("/bin/busybox is not static (install busybox-static, not busybox)")
    return data
