"""deploy/seccomp/pausle.json under every runtime here: Docker, podman, runc, crun.

For each arch the kernel runs natively (x86_64 and i686 on an x86_64 host), in both
modes (noNewPrivileges, where the runtime installs the filter just before execve, and
without, where it does so before dropping privileges), pausle starts under the profile
(its /proc status says Seccomp 2, filter mode), pauses, and stops on TERM with exit
status 0; and the probe, a static program that makes one call pausle never makes, gets
EPERM under the profile and not without it. Start loops run while every core is busy.
PAUSLE_SECCOMP_ROUNDS sets the starts per case (CI: 2; README has the soak command).
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


def test_versions_tested():
    """Every runtime is there and says its version (`-s` prints them; README records
    the ones last tested)."""
    for cmd in (["runc", "--version"], ["crun", "--version"], ["podman", "--version"],
                ["docker", "version", "-f", "{{.Server.Version}}"]):
        out = run(*cmd).stdout.strip()
        assert out, f"{' '.join(cmd)} printed no version"
        print(" ".join(cmd), "->", out.splitlines()[0])
