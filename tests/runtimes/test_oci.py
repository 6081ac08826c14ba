"""runc and crun directly, on a bundle umoci unpacked from the index (through the
guide's skopeo + umoci commands).

The exit status is read where a runtime reports one: a foreground `run` exits with the
container process's status (`create` + `start` report none; `state` says only
"stopped"). On a hybrid-cgroup host (this machine kind) crun runs through CRUN_WRAP
(conftest.py: a private mount namespace without the cgroup2 mount); that is said, and
checked against the layout, not skipped.
"""

import subprocess

import pytest
from conftest import (GUIDE, VERSION, OciRuntime, guide_text, hybrid_cgroups, need, proc_status,
                      run, wait_pausing)


@pytest.mark.parametrize("sig", ["TERM", "INT"])
def test_run_kill_delete(oci_runtime, bundle, sig):
    b = bundle()
    cid = f"pausle-rt-{oci_runtime.name}-{sig.lower()}"
    oci_runtime.ids.append(cid)
    fg = oci_runtime.popen("run", "--bundle", b, cid)
    pid = oci_runtime.wait_running(cid)
    assert proc_status(pid)["NSpid"].split()[-1] == "1"  # PID 1 of its namespace
    oci_runtime("kill", cid, sig)
    out, err = fg.communicate(timeout=10)
    assert fg.returncode == 0, err
    # run deletes what it ran; a second delete finds nothing
    assert oci_runtime("delete", cid, check=False).returncode != 0


def test_version_and_bad_args(oci_runtime, bundle):
    def args(*a):
        return lambda spec: dict(spec, process=dict(spec["process"], args=["/pausle", *a]))

    for n, (argv, code) in enumerate([(("-v",), 0), (("--bogus",), 2)]):
        b = bundle(args(*argv), name=f"b{n}")
        cid = f"pausle-rt-{oci_runtime.name}-args{n}"
        oci_runtime.ids.append(cid)
        p = oci_runtime("run", "--bundle", b, cid, check=False, timeout=20)
        assert p.returncode == code, p.stderr
        if code == 0:
            assert p.stdout == f"pausle {VERSION}\n"


def test_plain_crun_on_this_cgroup_layout(bundle, tmp_path):
    """Why crun runs through CRUN_WRAP where it does. The layout is read from
    /proc/self/mountinfo (hybrid_cgroups): where it is hybrid (this machine kind: v1
    controllers, a cgroup2 mount at /sys/fs/cgroup/unified holding hugetlb) plain crun
    1.8.1 refuses to start a container, and the fixture wraps it; on any other layout
    plain crun runs it, and the fixture calls crun as it is."""
    need("crun", "unshare")
    fixture = OciRuntime("crun", tmp_path / "state")
    b = bundle(lambda spec: dict(spec, process=dict(spec["process"], args=["/pausle", "-v"])))
    state = tmp_path / "plain-state"
    p = run("crun", "--root", state, "run", "--bundle", b, "pausle-rt-crun-plain",
            check=False, timeout=20)
    run("crun", "--root", state, "delete", "-f", "pausle-rt-crun-plain", check=False)
    if hybrid_cgroups():
        assert p.returncode != 0 and "hybrid mode not supported" in p.stderr, p.stderr
        assert fixture.argv[:2] == ["unshare", "-m"]
        assert "unshare -m" in guide_text("crun-run")
    else:
        assert (p.returncode, p.stdout) == (0, f"pausle {VERSION}\n"), p.stderr
        assert fixture.argv[0] == "crun"


@pytest.mark.parametrize("rt,start,stop", [("runc", "runc-run", "runc-kill"),
                                           ("crun", "crun-run", "crun-kill")])
def test_guide_commands(rt, start, stop, bundle, tmp_path):
    """The guide's foreground run and its kill from another shell, as written."""
    bundle()  # tmp_path/bundle, the guide's name
    fg = subprocess.Popen(["bash", "-euo", "pipefail", "-c", guide_text(start)],
                          cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            p = subprocess.run([rt, "state", "pausle-demo"], capture_output=True, text=True)
            if '"running"' in p.stdout:
                break
            subprocess.run(["sleep", "0.05"])
        import json

        wait_pausing(json.loads(p.stdout)["pid"])
        subprocess.run(["bash", "-euo", "pipefail", "-c", guide_text(stop)],
                       check=True, cwd=tmp_path)
        assert fg.wait(timeout=10) == 0, fg.stderr.read()
    finally:
        if fg.poll() is None:
            subprocess.run([rt, "kill", "pausle-demo", "KILL"], capture_output=True)
            fg.wait(timeout=10)
    assert GUIDE.is_file()


def test_umoci_cannot_pick_a_platform_of_the_index(images, tmp_path):
    """Why the guide goes through skopeo first: umoci 0.4.7 resolves a tag that names
    an index to every manifest in it and refuses ("tag is ambiguous"). Should a
    umoci that picks the host's platform arrive, this fails: then drop the step."""
    p = run("umoci", "unpack", "--image", f"{images / 'pausle-oci'}:{VERSION}",
            tmp_path / "b", check=False)
    assert p.returncode != 0 and "tag is ambiguous" in p.stderr, p.stderr


# create + start report no exit status; a child subreaper gets it: the container's
# process is re-parented to the nearest subreaper when the runtime's create exits.
SUBREAPER = r"""
import ctypes, json, os, subprocess, sys
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
argv, bundle, cid, sig = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sh = lambda *a: subprocess.run([*argv, *a], check=True, capture_output=True, text=True)
# The container's stdio is create's: not our pipes, which it would hold open.
subprocess.run([*argv, "create", "--bundle", bundle, cid], check=True,
               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
pid = json.loads(sh("state", cid).stdout)["pid"]
sh("start", cid)
print(json.dumps({"pid": pid}), flush=True)
sys.stdin.readline()  # the test checks it is pausing, then says go
sh("kill", cid, sig)
got, status = os.waitpid(pid, 0)
print(json.dumps({"state": json.loads(sh("state", cid).stdout)["status"],
                  "exited": os.WIFEXITED(status), "code": os.WEXITSTATUS(status)}), flush=True)
sh("delete", cid)
"""


@pytest.mark.parametrize("sig", ["TERM", "INT"])
def test_create_start_kill_delete_as_subreaper(oci_runtime, bundle, sig):
    import json
    import sys

    cid = f"pausle-rt-{oci_runtime.name}-cs-{sig.lower()}"
    oci_runtime.ids.append(cid)
    p = subprocess.Popen([sys.executable, "-c", SUBREAPER, json.dumps(oci_runtime.argv),
                          str(bundle()), cid, sig], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()
        assert first, p.stderr.read()
        wait_pausing(json.loads(first)["pid"])
        p.stdin.write("go\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=20)
        assert p.returncode == 0, err
        assert json.loads(out) == {"state": "stopped", "exited": True, "code": 0}
        # delete ran: the runtime no longer knows the container
        assert oci_runtime("state", cid, check=False).returncode != 0
    finally:
        if p.poll() is None:
            p.kill()
