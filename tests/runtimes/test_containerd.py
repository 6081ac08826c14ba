"""containerd: a private daemon started with the guide's sandbox_image snippet; ctr
imports, runs and stops pausle by the guide's commands."""

import re
import subprocess
import tomllib

from conftest import REF, guide_text, run


def test_import_names_the_image(containerd, images):
    """Both archives import under the image's name (the oci-archive by
    io.containerd.image.name; without it, import-<date>:0.1.0)."""
    p = containerd.guide("ctr-import", images)
    assert re.findall(r"^unpacking (\S+) ", p.stdout, re.M) == [REF, REF], p.stdout
    assert p.stdout.splitlines()[-1] == REF  # `ctr images ls -q`: that one name only


def test_run_kill_exit_zero(containerd, images):
    """TERM and INT each stop the task with exit status 0, as the foreground `ctr run`
    reports it."""
    containerd.guide("ctr-import", images)
    p = containerd.guide("ctr-run", images)
    assert [line for line in p.stdout.splitlines() if "exit" in line] == [
        "TERM: exit 0", "INT: exit 0"], p.stdout


def test_ctr_run_reports_a_failure(containerd, images):
    """What the block relies on: a foreground `ctr run` whose task dies by a signal
    exits non-zero (KILL, which pausle cannot catch: 128 + 9)."""
    containerd.guide("ctr-import", images)
    text = guide_text("ctr-run").replace("for sig in TERM INT", "for sig in KILL")
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", text], env=dict(
        __import__("os").environ, **containerd.env), capture_output=True, text=True, timeout=60)
    assert "exit 0" not in p.stdout, p.stdout


def test_sandbox_image_is_accepted(containerd):
    """The running daemon was started with the guide's snippet; `containerd config
    dump` of that same file shows it as the CRI plugin's sandbox image."""
    dump = run("containerd", "--config", containerd.config, "config", "dump").stdout
    cri = tomllib.loads(dump)["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == REF
    # and the daemon itself loaded the CRI plugin with it
    assert f"SandboxImage:{REF}" in containerd.logtext()


def test_sandbox_image_typo_is_not_silently_taken(tmp_path):
    """The check above can fail: a snippet under a wrong table leaves the default."""
    from conftest import containerd_config

    wrong = guide_text("containerd-1x").replace("grpc.v1.cri", "grpc.v1.crii")
    cfg = tmp_path / "config.toml"
    cfg.write_text(containerd_config(tmp_path, wrong))
    dump = run("containerd", "--config", cfg, "config", "dump").stdout
    assert tomllib.loads(dump)["plugins"]["io.containerd.grpc.v1.cri"]["sandbox_image"] != REF
