"""Fixtures for the seccomp profile tests (deploy/seccomp/pausle.json).

Minimal on purpose: OCI bundles for runc and crun, a Docker image by `docker import`, a
private podman store, and tests/runtimes' private containerd (its Containerd class, not a
copy). Nothing skips when a tool is missing: CI installs them all.

Host facts these fixtures work around (this machine and a CI machine of its kind):
- crun 1.8.1 refuses the hybrid cgroup layout ("cgroups in hybrid mode not supported"),
  so crun runs in a private mount namespace with the cgroup2 mount at
  /sys/fs/cgroup/unified taken away: there it sees plain cgroup v1, as runc does.
- root lacks CAP_SYS_RESOURCE and the hard RLIMIT_NOFILE is 20000, above which podman's
  default 1048576 cannot be set: a private containers.conf sets default_ulimits.
- no systemd: podman uses cgroupfs and file events.
"""

import importlib.util
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import manifest  # noqa: E402

PROFILE = ROOT / "deploy" / "seccomp" / "pausle.json"
OUT = Path(os.environ.get("PAUSLE_OUT") or ROOT / "target" / "out")
# Starts per runtime, arch and mode; CI keeps it small, a soak sets more (docs/kubernetes.md).
ROUNDS = int(os.environ.get("PAUSLE_SECCOMP_ROUNDS", "2"))

# libseccomp's name for each Cargo.toml arch, and the native one of this host.
SCMP_ARCH = {
    "x86_64": "SCMP_ARCH_X86_64", "i686": "SCMP_ARCH_X86", "aarch64": "SCMP_ARCH_AARCH64",
    "armv7": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64", "loongarch64": "SCMP_ARCH_LOONGARCH64",
}
# The arches this host's kernel runs itself, each with the gcc flags for the probe.
# A filter under qemu-user would filter qemu's own syscalls, not the guest's, so the
# profile is only tested where the kernel runs the binary natively.
NATIVE = {"x86_64": {"x86_64": [], "i686": ["-m32"]}}.get(platform.machine())


def oci_seccomp(profile: dict, machine: str = platform.machine()) -> dict:
    """The profile as config.json's linux.seccomp, the way Docker, podman and
    containerd turn a profile into one: the archMap entry of the native arch gives
    the architectures (it and its sub-arches), nothing else of archMap is passed on."""
    native = SCMP_ARCH[machine]
    arches = [a for m in profile["archMap"] if m["architecture"] == native
              for a in [m["architecture"], *m["subArchitectures"]]]
    rules = [{k: s[k] for k in ("names", "action") if k in s} for s in profile["syscalls"]]
    return {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile["defaultErrnoRet"],
            "architectures": arches, "syscalls": rules}


def unique(prefix: str) -> str:
    return f"pausle-sc-{prefix}-{uuid.uuid4().hex[:10]}"


def run(*cmd: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def wait_pausing(pid_of, timeout: float = 15) -> dict[str, str]:
    """Waits until the container's process is pausle asleep in rt_sigtimedwait (every
    signal blocked: SigBlk all ones but INT, TERM and CHLD is how the behaviour suite
    reads it too) and returns its /proc status."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while time.monotonic() < deadline:
        pid = pid_of()
        if pid:
            last = status(pid)
            if last.get("Name") == "pausle" and last.get("State", "").startswith("S") \
                    and int(last.get("SigBlk", "0"), 16) != 0:
                return last
        time.sleep(0.02)
    pytest.fail(f"pausle not pausing within {timeout}s (last status: {last.get('Name')} {last.get('State')})")


@pytest.fixture(scope="session")
def native() -> dict[str, list[str]]:
    if NATIVE is None:
        pytest.fail(f"no native arches known for a {platform.machine()} host: add them to NATIVE")
    for arch in NATIVE:
        for t in manifest.targets():
            if t["arch"] == arch and Path(f"/proc/sys/fs/binfmt_misc/qemu-{t['qemu']}").exists() \
                    and Path(f"/proc/sys/fs/binfmt_misc/qemu-{t['qemu']}").read_text().startswith("enabled"):
                pytest.fail(f"binfmt_misc routes {arch} through qemu-{t['qemu']}: not a native test")
    return NATIVE


@pytest.fixture(scope="session")
def profile() -> dict:
    return json.loads(PROFILE.read_text())


@pytest.fixture(scope="session")
def binaries(native, tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Per native arch: pausle (built by tools/check.sh build) and the probe, a static
    program that makes one call pausle never makes (getuid) and exits with its errno."""
    tmp = tmp_path_factory.mktemp("bin")
    multiarch = run("gcc", "-print-multiarch").stdout.strip()
    out = {}
    for arch, flags in native.items():
        pausle = OUT / f"pausle-{arch}"
        if not pausle.is_file():
            pytest.fail(f"{pausle} not built (tools/check.sh build, or set PAUSLE_OUT)")
        probe = tmp / f"probe-{arch}"
        run("gcc", *flags, "-isystem", f"/usr/include/{multiarch}", "-O2", "-static", "-nostdlib",
            "-fno-stack-protector", "-o", str(probe), str(Path(__file__).with_name("probe.c")))
        out[arch] = {"pausle": pausle, "probe": probe}
    return out


@pytest.fixture
def cores_busy():
    """Every core kept busy while the test runs: a runtime's races (runc's Go runtime
    making futex/rt_sigreturn/... calls at odd moments) show under load."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    yield
    for p in procs:
        p.kill()
        p.wait()


class Bundle:
    """An OCI bundle of one static binary as /pausle, for runc or crun."""

    def __init__(self, path: Path, binary: Path, runtime: str) -> None:
        self.path, self.runtime = path, runtime
        (path / "rootfs").mkdir(parents=True)
        shutil.copy(binary, path / "rootfs" / "pausle")
        run("runc", "spec", "--bundle", str(path))
        self.spec = json.loads((path / "config.json").read_text())
        p = self.spec["process"]
        p.update(args=["/pausle"], terminal=False, user={"uid": 65535, "gid": 65535})
        self.spec["root"]["readonly"] = True

    def configure(self, seccomp: dict | None, nnp: bool) -> None:
        self.spec["process"]["noNewPrivileges"] = nnp
        if seccomp is None:
            self.spec["linux"].pop("seccomp", None)
        else:
            self.spec["linux"]["seccomp"] = seccomp
        (self.path / "config.json").write_text(json.dumps(self.spec))

    def argv(self, *args: str) -> list[str]:
        cmd = [self.runtime, *args]
        if self.runtime == "crun" and args[0] in ("run", "create"):
            # crun 1.8.1 and hybrid cgroups: see the module docstring.
            return ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$@"', "sh", *cmd]
        return cmd

    def pid(self, name: str) -> int | None:
        r = run(self.runtime, "state", name, check=False)
        return json.loads(r.stdout)["pid"] if r.returncode == 0 else None

    def start_stop(self, name: str) -> tuple[int, dict[str, str]]:
        """`run` in the foreground, which reports the exit status; TERM once pausing."""
        p = subprocess.Popen(self.argv("run", "--bundle", str(self.path), name),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            st = wait_pausing(lambda: self.pid(name))
            run(self.runtime, "kill", name, "TERM")
            _, err = p.communicate(timeout=15)
            if p.returncode != 0:
                pytest.fail(f"{self.runtime} run: exit {p.returncode}: {err.strip()}")
            return p.returncode, st
        finally:
            if p.poll() is None:
                p.kill()
            run(self.runtime, "delete", "-f", name, check=False)

    def run_once(self, name: str) -> int:
        """`run` of a program that exits by itself; its exit status."""
        try:
            return run(*self.argv("run", "--bundle", str(self.path), name), check=False).returncode
        finally:
            run(self.runtime, "delete", "-f", name, check=False)


@pytest.fixture
def bundle(tmp_path):
    made = []

    def make(binary: Path, runtime: str) -> Bundle:
        b = Bundle(tmp_path / f"b{len(made)}", binary, runtime)
        made.append(b)
        return b
    return make


def rootfs_tar(binary: Path) -> bytes:
    """A tar of one file, /pausle, for `docker import` and `podman import`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("pausle")
        info.size, info.mode = binary.stat().st_size, 0o555
        tar.addfile(info, io.BytesIO(binary.read_bytes()))
    return buf.getvalue()


@pytest.fixture(scope="session")
def docker_images(binaries):
    """Per native arch, Docker images of pausle and the probe (`docker import` of a
    tar of the one file; no registry, no pull)."""
    made, images = [], {}
    for arch, bins in binaries.items():
        for what, path in bins.items():
            ref = unique(f"{what}-{arch}") + ":t"
            r = subprocess.run(["docker", "import", "--change", 'ENTRYPOINT ["/pausle"]',
                                "--change", "USER 65535:65535", "-", ref],
                               input=rootfs_tar(path), capture_output=True, timeout=60)
            if r.returncode != 0:
                pytest.fail(f"docker import: {r.stderr.decode().strip()}")
            made.append(ref)
            images[(arch, what)] = ref
    yield images
    for ref in made:
        run("docker", "rmi", "-f", ref, check=False)


class Podman:
    """podman with a private store (--root/--runroot), cgroupfs, file events, runc,
    and a containers.conf whose default_ulimits fit this host (module docstring)."""

    def __init__(self, tmp: Path) -> None:
        conf = tmp / "containers.conf"
        conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.base = ["podman", "--root", str(tmp / "root"), "--runroot", str(tmp / "run"),
                     "--tmpdir", str(tmp / "tmp"), "--runtime", "runc", "--storage-driver", "vfs"]

    def __call__(self, *args: str, check: bool = True, timeout: float = 120, **kw):
        return run(*self.base, *args, check=check, timeout=timeout, env=self.env, **kw)


@pytest.fixture(scope="session")
def podman(binaries, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("podman")
    pm = Podman(tmp)
    pm.images = {}
    for arch, bins in binaries.items():
        for what, path in bins.items():
            ref = f"localhost/{unique(what + '-' + arch)}:t"
            r = subprocess.run([*pm.base, "import", "--change", 'ENTRYPOINT ["/pausle"]',
                                "--change", "USER 65535:65535", "-", ref],
                               input=rootfs_tar(path), capture_output=True, timeout=120, env=pm.env)
            if r.returncode != 0:
                pytest.fail(f"podman import: {r.stderr.decode().strip()}")
            pm.images[(arch, what)] = ref
    yield pm
    pm("rm", "-a", "-f", check=False)
    pm("rmi", "-a", "-f", check=False)
    shutil.rmtree(tmp, ignore_errors=True)


def _runtimes_fixtures():
    """tests/runtimes/conftest.py as a plain module under its own name (both suites'
    fixture files are called conftest): its private containerd serves both."""
    spec = importlib.util.spec_from_file_location("runtimes_fixtures", ROOT / "tests" / "runtimes" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Ctr:
    """`ctr run` of one static binary as /pausle from a plain rootfs directory
    (`--rootfs`: no image, no snapshotter), read-only (as root: ctr 1.6 has no --user), on a private
    containerd; `profile` is passed with `--seccomp --seccomp-profile`."""

    def __init__(self, daemon, tmp: Path) -> None:
        self.daemon, self.tmp = daemon, tmp

    def argv(self, binary: Path, name: str, profile: Path | None, nnp: bool, *args: str) -> list[str]:
        rootfs = self.tmp / name
        rootfs.mkdir()
        shutil.copy(binary, rootfs / "pausle")
        opts = ["--rm", "--rootfs", "--read-only"]
        opts += ["--seccomp", "--seccomp-profile", str(profile)] if profile else []
        opts += [] if nnp else ["--allow-new-privs"]
        return ["ctr", "run", *opts, str(rootfs), name, "/pausle", *args]

    def pid(self, name: str) -> int | None:
        for line in self.daemon.ctr("tasks", "ls").stdout.splitlines()[1:]:
            task, pid, *_ = line.split()
            if task == name:
                return int(pid)
        return None

    def popen(self, argv: list[str]) -> subprocess.Popen:
        return subprocess.Popen(argv, env={**os.environ, **self.daemon.env}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run_once(self, argv: list[str]) -> int:
        """A program that exits by itself: `ctr run`'s exit status (128 + the signal
        when the task was killed by one)."""
        p = self.popen(argv)
        _, err = p.communicate(timeout=60)
        if err.startswith("ctr:"):
            pytest.fail(f"{' '.join(argv)}: {err.strip()}")
        return p.returncode


@pytest.fixture(scope="session")
def ctr(tmp_path_factory):
    rt = _runtimes_fixtures()
    rt.need("containerd", "ctr", "containerd-shim-runc-v2", "runc")
    daemon = rt.Containerd(tmp_path_factory.mktemp("containerd"))
    try:
        yield Ctr(daemon, tmp_path_factory.mktemp("ctr-rootfs"))
    finally:
        daemon.stop()
