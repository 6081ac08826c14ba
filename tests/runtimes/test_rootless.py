"""Rootless podman: the guide's commands as an unprivileged user with a subuid range.

The user (USER) is created if missing, with useradd's subordinate range (or one added
with usermod), and removed again if this session created it. cgroup v1 host: rootless
podman runs without cgroups here; cgroup v2 is untested (docs/runtimes.md says so).
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import REF, guide_text, need, proc_status, run

USER = "pausle-rootless"


def _has_range(path: str) -> bool:
    with open(path) as f:
        return any(line.split(":")[0] == USER for line in f)


@pytest.fixture(scope="module")
def rootless_user():
    need("newuidmap", "newgidmap", "runuser", "useradd")
    created = False
    # shadow's useradd and usermod add subordinate ranges only where /etc/subuid and
    # /etc/subgid exist already; a fresh machine may have neither.
    for path in ("/etc/subuid", "/etc/subgid"):
        if not os.path.exists(path):
            with open(path, "a"):
                pass
            os.chmod(path, 0o644)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        run("useradd", "--create-home", "--shell", "/bin/sh", USER)
        created = True
    if not (_has_range("/etc/subuid") and _has_range("/etc/subgid")):
        run("usermod", "--add-subuids", "100000-165535", "--add-subgids", "100000-165535", USER)
    try:
        yield pwd.getpwnam(USER)
    finally:
        if created:
            run("userdel", "--remove", USER, check=False)


def test_rootless_run_stop(rootless_user, images):
    # Not under pytest's tmp_path: that is root's alone (0700), the user cannot enter.
    d = Path(tempfile.mkdtemp(prefix="pausle-rootless-"))
    os.chmod(d, 0o755)
    shutil.copy(images / "pausle.tar", d)
    (d / "containers.conf").write_text(guide_text("containers-conf"))
    (d / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{d}/root"\nrunroot = "{d}/run"\n')
    (d / "xdg").mkdir(mode=0o700)
    for p in [d, *d.iterdir()]:
        os.chown(p, rootless_user.pw_uid, rootless_user.pw_gid)
    env = ["env", f"HOME={d}", f"XDG_RUNTIME_DIR={d}/xdg",
           f"CONTAINERS_CONF={d}/containers.conf", f"CONTAINERS_STORAGE_CONF={d}/storage.conf"]

    def as_user(script: str, check=True) -> subprocess.CompletedProcess:
        return run("runuser", "-u", USER, "--", *env, "bash", "-euo", "pipefail", "-c",
                   script, cwd=d, check=check)

    try:
        p = as_user(guide_text("podman-rootless"))
        lines = p.stdout.splitlines()
        assert lines[0] == f"Loaded image: {REF}"
        assert lines[-2:] == ["0", "true"], p.stdout  # exit status 0; rootless
        # Run again to see the host UID: container UID 65535 is subuid base + 65534.
        cid = as_user(f"podman run -d --network=none {REF}").stdout.strip()
        pid = int(as_user(f"podman inspect -f '{{{{.State.Pid}}}}' {cid}").stdout)
        base = next(int(line.split(":")[1]) for line in open("/etc/subuid")
                    if line.split(":")[0] == USER)
        assert proc_status(pid)["Uid"].split()[0] == str(base + 65534)
        as_user(f"podman stop {cid}")
    finally:
        as_user("podman rm -af -t 0; podman system reset -f", check=False)
        # Rootless podman keeps a pause process holding its user namespace; it is
        # ours (this test started it): end it by its pid file, so the user can go.
        pidfile = d / "xdg" / "libpod" / "tmp" / "pause.pid"
        if pidfile.is_file():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(d, ignore_errors=True)
