"""podman (rootful, private storage) and its pods, by docs/runtimes.md's commands."""

import json
import os
import resource
import subprocess
import tarfile
import time

import pytest
from conftest import CONTAINERS_CONF, REF, VERSION, proc_status, wait_pausing, zombies_of

BUSYBOX = "localhost/pausle-rt-busybox:1"


def config_digest(archive) -> str:
    """The image id a docker-archive's config gives (podman's image id)."""
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile("manifest.json"))[0]["Config"].removesuffix(".json")


def test_load_names_the_image(podman, images):
    """Both archives load under Cargo.toml's image name: the docker-archive by its
    RepoTags, the oci-archive by index.json's io.containerd.image.name (without it
    podman named it localhost/0.1.0:latest)."""
    p = podman.guide("podman-load", images)
    assert p.stdout.splitlines() == [f"Loaded image: {REF}"] * 2 + [REF], p.stdout
    # The index's host manifest has the same config as the docker-archive: one image.
    assert podman.inspect(REF, "{{.Id}}") == config_digest(images / "pausle.tar")
    # `podman pull oci-archive:FILE` reads the same annotation.
    podman("rmi", REF)
    podman("pull", "-q", f"oci-archive:{images / 'pausle-oci.tar'}")
    assert podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split().count(REF) == 1


def test_default_ulimits_are_needed_here(podman, images, tmp_path):
    """The host fact the guide's containers.conf answers: without default_ulimits no
    container starts (root lacks CAP_SYS_RESOURCE; hard RLIMIT_NOFILE 20000, below
    podman's default). Should the host change, this fails and says so.

    The facts it rests on are checked first, so that a failure names the one that
    changed: root lacks CAP_SYS_RESOURCE; the hard RLIMIT_NOFILE is below podman's
    1048576; and pid_max (per PID namespace since Linux 6.14) is at most the hard
    RLIMIT_NPROC. containers/common makes podman's default ulimits `nproc=pid_max`
    only where it can set that itself; without them podman asks for no rlimit at all,
    nofile neither, and every container starts."""
    cap_eff = int(proc_status(os.getpid())["CapEff"], 16)
    assert not cap_eff >> 24 & 1, "root has CAP_SYS_RESOURCE (capability 24) here"
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert nofile < 1048576, f"hard RLIMIT_NOFILE {nofile}: podman's default fits"
    pid_max = int(open("/proc/sys/kernel/pid_max").read())
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    assert pid_max <= nproc, f"pid_max {pid_max} > hard RLIMIT_NPROC {nproc}: no default ulimits"
    podman.guide("podman-load", images)
    conf = tmp_path / "containers.conf"
    conf.write_text("\n".join(line for line in CONTAINERS_CONF.splitlines()
                              if not line.startswith("default_ulimits")))
    p = subprocess.run(["podman", "run", "--rm", "--network=none", REF, "-v"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, **podman.env, "CONTAINERS_CONF": str(conf)})
    assert p.returncode != 0 and "rlimit" in p.stderr, (p.returncode, p.stderr)
    assert podman("run", "--rm", "--network=none", REF, "-v").stdout == f"pausle {VERSION}\n"


def test_oci_dir_is_named_by_the_path(podman, images):
    """What the guide's table says of an OCI layout directory: `podman pull oci:DIR:TAG`
    and `podman load -i DIR` both name the image after the path (under localhost/),
    not by the annotations."""
    podman("pull", "-q", f"oci:{images / 'pausle-oci'}:{VERSION}")
    name = f"localhost{images}/pausle-oci:latest"  # the path as given, under localhost
    assert name in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    podman("rmi", name)
    assert podman("load", "-i", images / "pausle-oci").stdout.strip().endswith(
        f"Loaded image: localhost{images}/pausle-oci")
    podman("rmi", name)


def test_run_stop_int(podman, images):
    podman.guide("podman-load", images)
    start = time.monotonic()
    p = podman.guide("podman-run", images)
    took = time.monotonic() - start
    # run's id, stop's name, the exit code; run's id, kill's name, wait's exit code
    lines = p.stdout.split()
    assert lines[1:3] == ["pause", "0"] and lines[4:] == ["pause-int", "0"], p.stdout
    # two runs, a stop and a kill+wait: far below podman's 10 s stop timeout
    assert took < 8, f"{took:.1f}s"
    user = podman.inspect("pause", "{{.Config.User}}")
    assert user == "65535:65535"
    # `podman stop` alone, timed: TERM ends pausle at once, far inside podman's 10 s
    # grace before KILL (which would also show as exit code 137).
    podman("run", "-d", "--name", "timed", "--network=none", REF)
    wait_pausing(podman.pid("timed"))
    start = time.monotonic()
    podman("stop", "timed")
    took = time.monotonic() - start
    assert podman.inspect("timed", "{{.State.ExitCode}}") == "0"
    assert took < 2, f"podman stop took {took:.2f}s"
    print(f"podman stop: {took:.3f}s")


def test_args_and_pid_host(podman, images):
    podman.guide("podman-load", images)
    p = podman.guide("podman-args", images)
    lines = p.stdout.splitlines()
    assert lines[0] == f"pausle {VERSION}"
    assert "exit 2" in lines, p.stdout
    assert "usage" in p.stderr.lower()
    assert lines[-1] == "0"  # --pid=host: stopped by TERM, status 0


def _orphans_reaped(infra_pid: int) -> None:
    """The app's `(sleep 2 &)` is orphaned at once: it must be re-parented to pausle
    (PID 1 of the shared namespace), and once it exits, reaped: no zombie child."""
    deadline = time.monotonic() + 10
    adopted = False
    while time.monotonic() < deadline:
        kids = [int(e) for e in __import__("os").listdir("/proc") if e.isdigit()
                and proc_status(int(e)).get("PPid", "").strip() == str(infra_pid)]
        names = [proc_status(k).get("Name", "").strip() for k in kids]
        if "sleep" in names:
            adopted = True
        if adopted and "sleep" not in names:
            break
        time.sleep(0.05)
    assert adopted, "the orphan was never re-parented to the infra container"
    assert zombies_of(infra_pid) == []


def test_pod_infra_reaps_and_stops(podman, images):
    podman.guide("podman-load", images)
    podman.guide("podman-pod", images, app=BUSYBOX)
    infra = podman("pod", "inspect", "-f", "{{.InfraContainerID}}", "demo").stdout.strip()
    pid = podman.pid(infra)
    wait_pausing(pid)
    st = proc_status(pid)
    assert st["NSpid"].split()[-1] == "1", "pausle is not PID 1 of the pod"
    # podman makes the infra UID 0 whatever the image says; the pod's user namespace
    # makes that an unprivileged host UID.
    assert st["Uid"].split()[0] == "300000", st["Uid"]
    _orphans_reaped(pid)
    p = podman.guide("podman-pod-stop", images)
    assert p.stdout.split()[-2:] == ["0", "0"], p.stdout  # app, then demo-infra


def test_pod_infra_command(podman, images):
    """--infra-command /pausle: the same, started by name."""
    podman.guide("podman-load", images)
    podman("pod", "create", "--name", "demo-cmd", "--infra-image", REF,
           "--infra-command", "/pausle")
    podman("pod", "start", "demo-cmd")
    infra = podman("pod", "inspect", "-f", "{{.InfraContainerID}}", "demo-cmd").stdout.strip()
    wait_pausing(podman.pid(infra))
    podman("pod", "stop", "demo-cmd")
    assert podman.exit_code(infra) == 0


# Start loops: a few in CI (the whole stage stays within its budget); the soak the
# guide names sets more.
REPEAT = int(os.environ.get("PAUSLE_RT_REPEAT", "5"))


def test_pod_stop_all_at_once_kills_a_slow_app(podman, images):
    """Why the guide stops apps first: `pod stop` stops pausle with the others, and
    when PID 1 of the shared namespace exits the kernel SIGKILLs the rest, so an app
    that takes a moment over its TERM dies by KILL (137) instead of exiting 0."""
    podman.guide("podman-load", images)
    podman("pod", "create", "--name", "slow", "--infra-name", "slow-infra",
           "--infra-image", REF, "--share", "+pid")
    podman("run", "-d", "--pod", "slow", "--name", "slow-app", BUSYBOX, "sh", "-c",
           'trap "sleep 1; exit 0" TERM; sleep 600 & wait')
    wait_pausing(podman.pid("slow-infra"))
    podman("pod", "stop", "slow")
    assert podman.exit_code("slow-infra") == 0
    assert podman.exit_code("slow-app") == 137


@pytest.mark.parametrize("rep", range(REPEAT))
def test_pod_stop_order(podman, images, rep):
    """The guide's order (apps first) never loses the app's clean exit; repeated,
    since the failure it avoids was intermittent."""
    podman.guide("podman-load", images)
    podman.guide("podman-pod", images, app=BUSYBOX)
    p = podman.guide("podman-pod-stop", images)
    assert p.stdout.split()[-2:] == ["0", "0"], p.stdout  # app, then demo-infra
