"""Fixtures for the runtime tests: podman, containerd (ctr), runc and crun, each with
private state so that the host's Docker and other tests on the machine are not touched.

Reusable by other suites (the seccomp tests), fixtures:
- `images`: a directory with pausle.tar (this host's docker-archive), pausle-oci/ and
  pausle-oci.tar (the index), busybox.tar;
- `podman` (a Podman: call it like the CLI; `.env` for CONTAINERS_CONF/STORAGE_CONF;
  every pod and container goes after each test), `podman_session` under it;
- `containerd` (a private daemon: `.ctr(...)`, `.env` for CONTAINERD_ADDRESS);
- `bundle` (make(patch=None, name="bundle") -> an OCI bundle of pausle, its config.json
  passed through patch) and `oci_runtime` (parametrized runc/crun: call it like the
  CLI, `.popen`, `.wait_running`, `.argv` with crun's work-around and a private --root);
- helpers: run, need, wait_pausing, proc_status, zombies_of, guide_sh, guide_text.

Facts of this machine (the CI machine is the same kind) that shape the fixtures:
- root lacks CAP_SYS_RESOURCE and the hard RLIMIT_NOFILE is 20000, while podman's
  default ulimits ask for nofile 1048576: every `podman run` fails with "setrlimit
  RLIMIT_NOFILE: operation not permitted" unless containers.conf's default_ulimits
  asks for less (nofile and nproc). `podman pod create` takes no --ulimit, so this
  must be the config, not a flag.
- no systemd: podman's cgroup_manager is cgroupfs and its events_logger is file.
- the cgroup layout is hybrid (v1 controllers, plus a cgroup2 mount at
  /sys/fs/cgroup/unified holding the hugetlb controller). crun 1.8.1 refuses it
  ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"); runc
  1.1.5 uses the v1 controllers. So podman runs runc, and where the layout is hybrid
  (hybrid_cgroups reads it from /proc/self/mountinfo) crun runs in a private mount
  namespace without the cgroup2 mount, where it sees a plain v1 host (CRUN_WRAP);
  test_oci asserts plain crun's behaviour on whichever layout it finds.
Nothing here skips: a missing tool is a failure (CI installs them all, .ci/run).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
GUIDE = ROOT / "docs" / "runtimes.md"
sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, str(TOOLS))

import doccmds  # noqa: E402
import manifest  # noqa: E402

OUT = Path(os.environ.get("PAUSLE_OUT") or ROOT / "target" / "out")
VERSION = manifest.version()
IMAGE = manifest.image()
REF = f"{IMAGE}:{VERSION}"
TARGETS = manifest.targets()


def _host() -> dict:
    import platform

    found = [t for t in TARGETS if platform.machine().startswith(t["arch"])]
    if len(found) != 1:
        raise SystemExit(f"no single target in Cargo.toml for this {platform.machine()} host")
    return found[0]


HOST = _host()


def need(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)} (.ci/run installs them)")


def unique(prefix: str = "rt") -> str:
    return f"pausle-{prefix}-{uuid.uuid4().hex[:8]}"


def run(*cmd, check=True, timeout=120, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def proc_status(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict; empty when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def wait_pausing(pid: int, timeout: float = 10) -> None:
    """Until the host process `pid` is pausle inside rt_sigtimedwait: asleep, with
    every signal blocked (SigBlk all ones but the kernel's unblockable KILL/STOP)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = proc_status(pid)
        if st.get("State", "").startswith("S") and int(st.get("SigBlk", "0"), 16) >= 0xfffffffe7ffbfeff:
            return
        time.sleep(0.02)
    pytest.fail(f"pid {pid} is not pausing after {timeout}s: {proc_status(pid)}")


def zombies_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_status(int(entry))
            if st.get("PPid", "").strip() == str(pid) and st.get("State", "").startswith("Z"):
                out.append(int(entry))
    return out


# ---------------------------------------------------------------------------------
# The guide: its commands are the tests' commands.

def guide_sh(name: str, cwd: Path, env: dict[str, str] | None = None,
             check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs the docs/runtimes.md block marked `run: name` with bash -euo pipefail."""
    p = doccmds.run(GUIDE, name, cwd, env, timeout)
    if check and p.returncode != 0:
        pytest.fail(f"guide block {name!r} exited {p.returncode}:\n{doccmds.named(GUIDE, name)}\n{p.stdout}\n{p.stderr}")
    return p


def guide_text(name: str) -> str:
    return doccmds.named(GUIDE, name)


# ---------------------------------------------------------------------------------
# Images: the docker-archive for this host and the OCI index (layout and archive) of
# every row, built by the repository's tools as docs/images.md says.

def _binary(arch: str) -> Path:
    path = OUT / f"pausle-{arch}"
    if not path.is_file():
        pytest.fail(f"{path} not built (tools/check.sh build, or set PAUSLE_OUT)")
    return path


def _plat(t: dict) -> str:
    return t["oci-arch"] + (f"/{t['oci-variant']}" if t.get("oci-variant") else "")


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Path:
    """A directory holding pausle.tar (docker-archive, this host's arch), pausle-oci/
    (the index as an OCI layout) and pausle-oci.tar (the same as an oci-archive), and
    busybox.tar (a static busybox rootfs for helper containers)."""
    d = tmp_path_factory.mktemp("images")
    per_arch = []
    for t in TARGETS:
        out = d / f"arch-{t['arch']}.tar"
        variant = ("--variant", t["oci-variant"]) if t.get("oci-variant") else ()
        run(sys.executable, TOOLS / "mkimage.py", "--binary", _binary(t["arch"]),
            "--arch", t["oci-arch"], *variant, "--out", out)
        per_arch += ["--image", f"{_plat(t)}={out}"]
    # The guide's own command for this host's docker-archive.
    guide_sh("image", d, {"repo": str(ROOT), "arch": HOST["arch"], "oci_arch": HOST["oci-arch"]})
    run(sys.executable, TOOLS / "mkindex.py", "--out", d / "pausle-oci",
        "--archive", d / "pausle-oci.tar", *per_arch)
    bb = Path("/bin/busybox")
    if not bb.is_file():
        pytest.fail("/bin/busybox missing (Debian package busybox-static)")
    with tarfile.open(d / "busybox.tar", "w") as tar:
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = bb.stat().st_size, 0o755
        with open(bb, "rb") as f:
            tar.addfile(info, f)
    return d


# ---------------------------------------------------------------------------------
# podman with its own storage and config.

# The guide's containers.conf; why each key is there is this file's docstring.
CONTAINERS_CONF = guide_text("containers-conf")


def run_with_env(tool: str, args, env: dict[str, str], check: bool,
                 timeout: float) -> subprocess.CompletedProcess:
    """`tool args` with the fixture's private configuration in its environment; a
    failure, when checked, fails the test with the tool's own message."""
    p = subprocess.run([tool, *map(str, args)], capture_output=True, text=True,
                       env=dict(os.environ, **env), timeout=timeout)
    if check and p.returncode != 0:
        pytest.fail(f"{tool} {' '.join(map(str, args))} -> {p.returncode}: {p.stderr.strip()}")
    return p


class Podman:
    """podman with CONTAINERS_CONF and CONTAINERS_STORAGE_CONF pointing at files of
    its own: images, containers and pods live under `dir` and nowhere else."""

    def __init__(self, dir: Path, user: str | None = None) -> None:
        self.dir = dir
        self.user = user
        dir.mkdir(parents=True, exist_ok=True)
        (dir / "containers.conf").write_text(CONTAINERS_CONF)
        (dir / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{dir}/root"\nrunroot = "{dir}/run"\n')
        self.env = {"CONTAINERS_CONF": str(dir / "containers.conf"),
                    "CONTAINERS_STORAGE_CONF": str(dir / "storage.conf")}

    def __call__(self, *args, check=True, timeout=120) -> subprocess.CompletedProcess:
        return run_with_env("podman", args, self.env, check, timeout)

    def guide(self, name: str, cwd: Path, check=True, **env) -> subprocess.CompletedProcess:
        return guide_sh(name, cwd, dict(self.env, **env), check=check)

    def inspect(self, name: str, fmt: str) -> str:
        return self("inspect", "-f", fmt, name).stdout.strip()

    def pid(self, name: str) -> int:
        return int(self.inspect(name, "{{.State.Pid}}"))

    def exit_code(self, name: str, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.inspect(name, "{{.State.Running}}") == "true":
            if time.monotonic() > deadline:
                pytest.fail(f"{name} still running after {timeout}s")
            time.sleep(0.05)
        return int(self.inspect(name, "{{.State.ExitCode}}"))

    def clear(self) -> None:
        """Every pod and container goes (images stay)."""
        for _ in range(20):
            a = self("pod", "rm", "-af", "-t", "0", check=False).returncode
            b = self("rm", "-af", "-t", "0", check=False).returncode
            if a == b == 0 and not self("ps", "-aq").stdout.strip():
                return
            time.sleep(0.25)
        pytest.fail(f"podman: containers left: {self('ps', '-a').stdout}")

    def cleanup(self) -> None:
        self("pod", "rm", "-af", "-t", "0", check=False)
        self("rm", "-af", "-t", "0", check=False)
        self("system", "reset", "-f", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def podman(podman_session) -> Podman:
    """The session's private podman; every pod and container a test made goes after it."""
    try:
        yield podman_session
    finally:
        podman_session.clear()


@pytest.fixture(scope="session")
def podman_session(tmp_path_factory, images) -> Podman:
    """A private podman with the guide's images loaded (docker-archive and index)."""
    need("podman", "conmon", "runc")
    p = Podman(tmp_path_factory.mktemp("podman"))
    try:
        p("import", "-q", "--change", 'ENTRYPOINT ["/bin/busybox"]',
          images / "busybox.tar", "localhost/pausle-rt-busybox:1")
        yield p
    finally:
        p.cleanup()


# ---------------------------------------------------------------------------------
# containerd: a private daemon, its own root, state and socket, started and stopped here.

def containerd_config(dir: Path, extra: str = "") -> str:
    return f"""\
version = 2
root = "{dir}/root"
state = "{dir}/state"
[grpc]
  address = "{dir}/containerd.sock"
[ttrpc]
  address = "{dir}/containerd.sock.ttrpc"
[debug]
  address = "{dir}/debug.sock"
[metrics]
  address = ""
{extra}"""


class Containerd:
    def __init__(self, dir: Path, extra: str = "") -> None:
        self.dir = dir
        dir.mkdir(parents=True, exist_ok=True)
        self.config = dir / "config.toml"
        self.config.write_text(containerd_config(dir, extra))
        self.sock = dir / "containerd.sock"
        self.env = {"CONTAINERD_ADDRESS": str(self.sock), "CONTAINERD_NAMESPACE": "pausle-rt"}
        self.log = open(dir / "containerd.log", "w")
        self.proc = subprocess.Popen(["containerd", "--config", str(self.config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while self.ctr("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"private containerd did not come up: {self.logtext()[-2000:]}")
            time.sleep(0.1)

    def logtext(self) -> str:
        self.log.flush()
        return (self.dir / "containerd.log").read_text()

    def ctr(self, *args, check=True, timeout=60) -> subprocess.CompletedProcess:
        return run_with_env("ctr", args, self.env, check, timeout)

    def guide(self, name: str, cwd: Path, check=True, **env) -> subprocess.CompletedProcess:
        return guide_sh(name, cwd, dict(self.env, **env), check=check)

    def stop(self) -> None:
        for line in self.ctr("tasks", "ls", "-q", check=False).stdout.split():
            self.ctr("tasks", "kill", "-s", "KILL", line, check=False)
            self.ctr("tasks", "rm", "-f", line, check=False)
        for line in self.ctr("containers", "ls", "-q", check=False).stdout.split():
            self.ctr("containers", "rm", line, check=False)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        subprocess.run(["umount", "-R", str(self.dir / "root")], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def containerd(tmp_path_factory) -> Containerd:
    """A private containerd whose config carries the guide's sandbox_image snippet."""
    need("containerd", "ctr", "containerd-shim-runc-v2", "runc")
    c = Containerd(tmp_path_factory.mktemp("containerd"), guide_text("containerd-1x"))
    try:
        yield c
    finally:
        c.stop()


# ---------------------------------------------------------------------------------
# runc and crun on an OCI bundle.

def cgroup_mounts(mountinfo: str | None = None) -> dict[str, str]:
    """Mount point -> file system type ("cgroup" or "cgroup2") of every cgroup mount
    this process sees, from /proc/self/mountinfo (proc(5): field 5 is the mount point,
    the type follows the "-" separator)."""
    if mountinfo is None:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    out = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        if fstype in ("cgroup", "cgroup2"):
            out[fields[4]] = fstype
    return out


def hybrid_cgroups() -> bool:
    """Whether the cgroup layout is hybrid the way crun 1.8.1 refuses: v1 hierarchies
    under /sys/fs/cgroup and a cgroup2 mount at /sys/fs/cgroup/unified that holds a
    controller (its cgroup.controllers is not empty)."""
    mounts = cgroup_mounts()
    unified = "/sys/fs/cgroup/unified"
    if mounts.get(unified) != "cgroup2" or "cgroup" not in mounts.values():
        return False
    return (Path(unified) / "cgroup.controllers").read_text().strip() != ""


# crun on a hybrid host: a private mount namespace (unshare -m makes its mounts
# private) without the cgroup2 mount, where crun finds a plain v1 host. Every crun
# command goes through it, so that create, kill and delete see the same layout.
# ("crun" after the script is the shell's $0; the runtime's arguments follow.)
CRUN_WRAP = ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec crun "$@"', "crun"]


class OciRuntime:
    def __init__(self, name: str, state: Path) -> None:
        self.name = name
        # --root: our own state directory, away from Docker's and other users'.
        self.argv = (CRUN_WRAP if name == "crun" and hybrid_cgroups() else [name])
        self.argv = [*self.argv, "--root", str(state)]
        self.ids: list[str] = []

    def __call__(self, *args, check=True, timeout=60) -> subprocess.CompletedProcess:
        return run(*self.argv, *args, check=check, timeout=timeout)

    def popen(self, *args) -> subprocess.Popen:
        return subprocess.Popen([*self.argv, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def state(self, cid: str) -> dict:
        return json.loads(self("state", cid).stdout)

    def wait_running(self, cid: str, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self("state", cid, check=False)
            if p.returncode == 0 and json.loads(p.stdout)["status"] == "running":
                pid = json.loads(p.stdout)["pid"]
                wait_pausing(pid)
                return pid
            time.sleep(0.02)
        pytest.fail(f"{self.name} container {cid} not running after {timeout}s")

    def cleanup(self) -> None:
        for cid in self.ids:
            self("delete", "-f", cid, check=False)


@pytest.fixture(params=["runc", "crun"])
def oci_runtime(request, tmp_path) -> OciRuntime:
    need(request.param, "unshare")
    r = OciRuntime(request.param, tmp_path / f"{request.param}-state")
    try:
        yield r
    finally:
        r.cleanup()


@pytest.fixture(scope="session")
def host_layout(images, tmp_path_factory) -> Path:
    """This host's image alone as an OCI layout, by the guide's skopeo command (umoci
    0.4.7 cannot pick one platform of an index: its tag resolves to every manifest)."""
    need("skopeo", "umoci")
    d = tmp_path_factory.mktemp("host-layout")
    guide_sh("umoci-host-layout", d, {"index": str(images / "pausle-oci")})
    return d / "pausle-host"


@pytest.fixture
def bundle(host_layout, tmp_path):
    """make(patch=None) -> an OCI bundle of pausle unpacked by the guide's umoci
    command, its config.json passed through `patch(spec) -> spec` if given."""

    def make(patch=None, name="bundle") -> Path:
        guide_sh("umoci-unpack", tmp_path, {"layout": str(host_layout), "bundle": name})
        b = tmp_path / name
        if patch:
            cfg = b / "config.json"
            cfg.write_text(json.dumps(patch(json.loads(cfg.read_text()))))
        return b

    return make
