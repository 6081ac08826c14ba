"""Docker acceptance tests for pong's image: mkimage.py --program pong's archive on a
real engine, answering HTTP through a published port, and checkimage.py telling the
two programs' images apart.

Run from the repository root: `python3 -m pytest -q tests/docker` (needs a Docker engine
and target/out/pong-<arch> for every row, or $PAUSLE_OUT; tools/check.sh build writes them).
"""

import http.client
import json
import time

import pytest

from conftest import (
    FAST,
    HOST,
    SANDBOX,
    VERSION,
    binary,
    checkimage,
    manifest,
    mkimage,
    variant,
)

PONG = manifest.program("pong")
# The container port pong listens on by default, as the image exposes it.
(PORT,) = PONG["exposed-ports"]

# A pod's sandbox, as deploy/components/pong runs it, with the image's own user: port
# 8080 needs no capability. The memory is the pod's limit.
HARDENED = (*SANDBOX, "--memory", "32m")


def published(docker, name: str) -> tuple[str, int]:
    """The host address Docker published the container's port on."""
    out = docker("port", name, PORT).stdout.split()[0]
    host, _, port = out.rpartition(":")
    return host, int(port)


def get(addr: tuple[str, int], path: str, deadline: float) -> http.client.HTTPResponse:
    """GET path, retried until the server answers (it needs a moment to listen)."""
    while True:
        conn = http.client.HTTPConnection(*addr, timeout=5)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            return r
        except (ConnectionError, http.client.HTTPException, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            conn.close()


def test_pong_answers_through_a_published_port(docker, pong_image):
    """`docker run -d -p 127.0.0.1:0:8080`, then HTTP: 200 for /, /healthz, /readyz;
    `docker stop` stops it at once (no --drain: exit 0 at SIGTERM)."""
    name = docker.run(pong_image, "-p", f"127.0.0.1:0:{PORT.split('/')[0]}", *HARDENED)
    addr = published(docker, name)
    deadline = time.monotonic() + 15
    for path in ("/", "/echo?size=3", "/healthz", "/readyz"):
        r = get(addr, path, deadline)
        print(f"GET {path}: {r.status} {dict(r.getheaders())}")
        assert r.status == 200, path
    assert docker.inspect(name, "{{.State.Running}}") == "true"
    took = docker.timed("stop", name)
    print(f"docker stop: {took:.3f}s")
    assert docker.exit_code(name) == 0
    assert took < FAST, f"docker stop took {took:.2f}s: SIGTERM was not acted on"


def test_pong_image_config(docker, pong_image):
    """What the engine reads from the image: the table's entrypoint, user and port,
    and the size of /pong alone, within pong's max-image-bytes."""
    cfg = "{{json .Config.Entrypoint}} {{.Config.User}} {{json .Config.ExposedPorts}} {{.Size}}"
    entrypoint, user, ports, size = docker("image", "inspect", "-f", cfg, pong_image).stdout.split()
    assert json.loads(entrypoint) == PONG["entrypoint"]
    assert user == PONG["user"]
    assert json.loads(ports) == {PORT: {}}
    assert int(size) == binary(HOST["arch"], "pong").stat().st_size
    assert int(size) <= PONG["max-image-bytes"]


@pytest.mark.parametrize("t", manifest.targets(), ids=[t["oci-arch"] for t in manifest.targets()])
def test_pong_archive_passes_checkimage(t, tmp_path):
    extra = ("--program", "pong", *variant(t), "--revision", "abc")
    archive = mkimage(binary(t["arch"], "pong"), t["oci-arch"], tmp_path / "pong.tar.gz", *extra)
    r = checkimage(archive, t["oci-arch"], *extra)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr


def test_checkimage_tells_the_programs_apart(tmp_path):
    """pausle's image is not pong's, nor the other way round: checkimage --program
    fails each against the other's section (file, Entrypoint, ExposedPorts)."""
    images = {
        name: mkimage(binary(HOST["arch"], name), HOST["oci-arch"], tmp_path / f"{name}.tar",
                      "--program", name, *variant(HOST))
        for name in ("pausle", "pong")
    }
    for name, other in (("pausle", "pong"), ("pong", "pausle")):
        r = checkimage(images[other], HOST["oci-arch"], "--program", name, *variant(HOST))
        print(r.stdout)
        assert r.returncode == 1
        for what in (f"FAIL  layer holds /{name} only", "FAIL  Entrypoint", "FAIL  ExposedPorts"):
            assert what in r.stdout, what
        r = checkimage(images[name], HOST["oci-arch"], "--program", name, *variant(HOST))
        assert r.returncode == 0, r.stdout


def test_pong_docker_save_passes_checkimage(docker, pong_image, tmp_path):
    saved = tmp_path / "saved.tar"
    docker("save", "-o", str(saved), pong_image)
    r = checkimage(saved, HOST["oci-arch"], "--program", "pong", *variant(HOST))
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"tags: {manifest.image(name='pong')}:{VERSION}" in r.stdout
