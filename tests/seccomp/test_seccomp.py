"""deploy/seccomp/pausle.json under every runtime here: Docker, podman, containerd, runc, crun.

For each arch the kernel runs natively (x86_64 and i686 on an x86_64 host), in both
modes (noNewPrivileges, where the runtime installs the filter just before execve, and
without, where it does so before dropping privileges), pausle starts under the profile
(its /proc status says Seccomp 2, filter mode), pauses, and stops on TERM with exit
status 0; and the probe, a static program that makes one call pausle never makes, gets
EPERM under the profile and not without it. Start loops run while every core is busy.
containerd reads the file as runtime-spec JSON, not Docker's format: it ignores archMap,
so its filter covers the node's native arch only (see test_containerd_*).
PAUSLE_SECCOMP_ROUNDS sets the starts per case (CI: 2; docs/kubernetes.md has the soak command).
"""

import pytest
from conftest import PROFILE, ROUNDS, SCMP_ARCH, manifest, oci_seccomp, run, unique, wait_pausing

EPERM = 1
ALLOWED = 200  # the probe's exit status when its call is allowed
MODES = pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "privileged-exec"])
ARCHES = pytest.mark.parametrize("arch", ["x86_64", "i686"])


def test_profile_covers_every_arch_of_the_table(profile):
    """archMap has one entry per arch of Cargo.toml's table (the runtimes take the
    native one only), the default refuses with EPERM, and nothing is listed twice."""
    native = {m["architecture"] for m in profile["archMap"]}
    want = {SCMP_ARCH[t["arch"]] for t in manifest.targets()}
    assert want <= native, f"archMap lacks {sorted(want - native)}"
    assert "architectures" not in profile, "archMap and architectures exclude each other"
    assert (profile["defaultAction"], profile["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", EPERM)
    names = [n for s in profile["syscalls"] for n in s["names"]]
    assert len(names) == len(set(names)), "a syscall listed twice"
    assert {s["action"] for s in profile["syscalls"]} == {"SCMP_ACT_ALLOW"}
    for call in ("getuid", "getuid32", "mount", "ptrace", "socket", "clone", "clone3", "fsopen"):
        assert call not in names, f"{call} must stay refused"


@pytest.mark.parametrize("runtime", ["runc", "crun"])
@MODES
@ARCHES
def test_oci_runtime_starts_and_stops(runtime, nnp, arch, binaries, profile, bundle, cores_busy):
    b = bundle(binaries[arch]["pausle"], runtime)
    b.configure(oci_seccomp(profile), nnp)
    for _ in range(ROUNDS):
        code, st = b.start_stop(unique(runtime))
        assert code == 0
        assert st["Seccomp"] == "2", "the filter is not on pausle"
        assert st["NoNewPrivs"] == ("1" if nnp else "0")


@pytest.mark.parametrize("runtime", ["runc", "crun"])
@MODES
@ARCHES
def test_oci_runtime_refuses_another_call(runtime, nnp, arch, binaries, profile, bundle):
    b = bundle(binaries[arch]["probe"], runtime)
    b.configure(oci_seccomp(profile), nnp)
    assert b.run_once(unique(runtime)) == EPERM
    b.configure(None, nnp)
    assert b.run_once(unique(runtime)) == ALLOWED, "the probe's call must work without the profile"


def docker_opts(nnp: bool) -> list[str]:
    return ["--security-opt", f"seccomp={PROFILE}"] + (["--security-opt", "no-new-privileges"] if nnp else [])


@MODES
@ARCHES
def test_docker_starts_and_stops(nnp, arch, docker_images, cores_busy):
    for _ in range(ROUNDS):
        name = unique("docker")
        try:
            run("docker", "run", "-d", "--name", name, *docker_opts(nnp), docker_images[(arch, "pausle")])
            st = wait_pausing(lambda: int(run("docker", "inspect", "-f", "{{.State.Pid}}", name).stdout))
            assert st["Seccomp"] == "2"
            run("docker", "stop", "-t", "10", name)
            assert run("docker", "inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
        finally:
            run("docker", "rm", "-f", name, check=False)


@MODES
@ARCHES
def test_docker_refuses_another_call(nnp, arch, docker_images):
    image = docker_images[(arch, "probe")]
    assert run("docker", "run", "--rm", *docker_opts(nnp), image, check=False).returncode == EPERM
    assert run("docker", "run", "--rm", image, check=False).returncode == ALLOWED


@MODES
@ARCHES
def test_podman_starts_and_stops(nnp, arch, podman, cores_busy):
    for _ in range(ROUNDS):
        name = unique("podman")
        try:
            podman("run", "-d", "--name", name, *docker_opts(nnp), podman.images[(arch, "pausle")])
            st = wait_pausing(lambda: int(podman("inspect", "-f", "{{.State.Pid}}", name).stdout))
            assert st["Seccomp"] == "2"
            podman("stop", "-t", "10", name)
            assert podman("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
        finally:
            podman("rm", "-f", name, check=False)


@ARCHES
def test_podman_refuses_another_call(arch, podman):
    image = podman.images[(arch, "probe")]
    assert podman("run", "--rm", *docker_opts(True), image, check=False).returncode == EPERM
    assert podman("run", "--rm", image, check=False).returncode == ALLOWED


SIGSYS = 31  # the kernel's signal for a call a filter kills (x86 numbering)


@MODES
def test_containerd_starts_and_stops(nnp, binaries, profile, ctr, cores_busy):
    """`ctr run --seccomp-profile` (and a kubelet's Localhost profile through containerd's
    CRI, which loads it with the same containerd function) on the native arch: pausle
    runs under the filter and stops on TERM with exit status 0."""
    for _ in range(ROUNDS):
        name = unique("ctr")
        p = ctr.popen(ctr.argv(binaries["x86_64"]["pausle"], name, PROFILE, nnp))
        try:
            st = wait_pausing(lambda: ctr.pid(name))
            assert st["Seccomp"] == "2", "the filter is not on pausle"
            assert st["NoNewPrivs"] == ("1" if nnp else "0")
            ctr.daemon.ctr("tasks", "kill", "-s", "TERM", name)
            _, err = p.communicate(timeout=15)
            assert p.returncode == 0, err
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_containerd_refuses_another_call(binaries, ctr):
    probe = binaries["x86_64"]["probe"]
    assert ctr.run_once(ctr.argv(probe, unique("ctr"), PROFILE, True)) == EPERM
    assert ctr.run_once(ctr.argv(probe, unique("ctr"), None, True)) == ALLOWED


def test_containerd_ignores_archmap(binaries, ctr):
    """What containerd does differently: it unmarshals the file into the runtime spec's
    linux.seccomp, where archMap is no field, so the filter has no `architectures` and
    libseccomp takes the native arch alone. A compat-arch binary (i686 on x86_64, armv7
    on aarch64) is then killed by SIGSYS at its first call, where Docker and podman,
    which read archMap, run it. Should containerd learn archMap, this fails: then the
    guide's warning goes."""
    i686 = binaries["i686"]["pausle"]
    assert ctr.run_once(ctr.argv(i686, unique("ctr"), PROFILE, True, "-v")) == 128 + SIGSYS
    assert ctr.run_once(ctr.argv(i686, unique("ctr"), None, True, "-v")) == 0


def test_versions_tested():
    """Every runtime is there and says its version (`-s` prints them; docs/kubernetes.md records
    the ones last tested)."""
    for cmd in (["runc", "--version"], ["crun", "--version"], ["podman", "--version"],
                ["containerd", "--version"],
                ["docker", "version", "-f", "{{.Server.Version}}"]):
        out = run(*cmd).stdout.strip()
        assert out, f"{' '.join(cmd)} printed no version"
        print(" ".join(cmd), "->", out.splitlines()[0])
