#!/usr/bin/env python3
"""Benchmark pausle against the usual pause programs, side by side, in one run.

    python3 bench/run.py --containers 200 --out bench/results
    python3 bench/run.py --quick --out /tmp/bench-smoke         # CI smoke test
    python3 bench/run.py --pong target/out/pong-x86_64 ...      # pong vs nginx and hyper

--pong PONG switches to the HTTP benchmark, bench/pongbench.py, which reuses this file's
helpers; `python3 bench/run.py --pong X --help` lists its options.

Contenders, each built from source in a temporary directory (no binary is committed):

  pausle       target/out/pausle-<host arch> (or --pausle PATH), as `tools/check.sh build`
               makes it
  pause-glibc  bench/pause.c (the blog's `return pause();`), gcc -Os -static -s
  pause-musl   bench/pause.c, musl-gcc -Os -static -s
  k8s-pause    bench/k8s-pause.c (Kubernetes' pause.c behaviour), musl-gcc -Os -static -s
  k8s-pause-glibc  the same, gcc -Os -static -s, as Kubernetes builds its image (not run
               unless named in --contenders)

(-s strips the C programs' symbol tables, as Kubernetes' own build does; pausle has none.)
Every binary is packed by tools/mkimage.py the same way: a FROM-scratch image holding one
file, /pausle, as its entrypoint, run as 65535:65535.

It measures, for each contender:

  binary bytes     the file's size
  image bytes      `docker image inspect` .Size, what `docker images` shows
  memory           per running container, averaged over the N: the container's memory
                   cgroup usage (v1 memory.usage_in_bytes, v2 memory.current; which one is
                   recorded) and the process's VmRSS from /proc/<pid>/status; sampled once
                   every contender's N are up and have settled
  starts/s         N / the summed wall time of its N `docker run -d`. The starts run one
                   at a time (as one client would), interleaved: N rounds of one start per
                   contender, each round's order rotated, so background load and the
                   growing number of running containers fall on all alike. One untimed
                   warm-up start per image first.
  stop time        the wall time `docker stop -t STOP_TIMEOUT` takes for its N. One docker
                   stop of N ids stops 50 at a time (the CLI's limit), so it is run as
                   ceil(N/50) calls of 50, interleaved across contenders with each round's
                   order rotated, as the starts are: tearing a container down costs more
                   while more are up, and stopping contenders one after the other favoured
                   whoever went last by 2x here. A program that ignores SIGTERM costs
                   ceil(N/50) * STOP_TIMEOUT. Exit codes are recorded: 0 is a clean exit on
                   SIGTERM, 137 is SIGKILL after the grace period.

Writes results.md, results.json and chart.png to --out and prints the table. Everything it
creates carries the label pausle-bench=1 (images are also tagged pausle-bench/*) and is
removed at the start and at the end, also on failure, Ctrl-C or SIGTERM.

Needs: docker (a local engine: memory is read from this host's /proc and /sys/fs/cgroup),
gcc with glibc's static libc (libc6-dev), musl-gcc (musl-tools), python3 >= 3.11,
matplotlib (pip) for the chart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT / "tools"))
import manifest  # noqa: E402  (tools/manifest.py: the targets table in Cargo.toml)

LABEL = "pausle-bench"
LABEL_FILTER = f"label={LABEL}=1"
REPO = "pausle-bench"  # image tags: pausle-bench/<contender>:<run id>
CLI_STOP_PARALLEL = 50  # docker CLI's parallelOperation limit (cli/command/container)

CONTENDERS = {
    # name: (source, compiler, description)
    "pausle": (None, None, "pausle, no_std Rust"),
    "pause-glibc": ("pause.c", "gcc", "blog pause.c, glibc static"),
    "pause-musl": ("pause.c", "musl-gcc", "blog pause.c, musl static"),
    "k8s-pause": ("k8s-pause.c", "musl-gcc", "Kubernetes pause.c equivalent, musl static"),
    # Not run by default: Kubernetes' own build links pause.c statically against glibc
    # (x86_64-linux-gnu-gcc -Os -static, then strip), so this is its image's size class.
    "k8s-pause-glibc": ("k8s-pause.c", "gcc", "Kubernetes pause.c equivalent, glibc static"),
}
DEFAULT = ["pausle", "pause-glibc", "pause-musl", "k8s-pause"]
CFLAGS = ["-Os", "-static", "-s"]


class Interrupted(Exception):
    pass


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, text=True, capture_output=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def docker(*args: str, check: bool = True) -> str:
    return run(["docker", *args], check=check).stdout


# --- cleanup -------------------------------------------------------------------------


def cleanup() -> None:
    """Removes every container and image this script may have made, by label and tag."""
    ids = docker("ps", "-aq", "--filter", LABEL_FILTER, check=False).split()
    if ids:
        log(f"cleanup: removing {len(ids)} container(s)")
        for i in range(0, len(ids), 100):
            docker("rm", "-f", "-v", *ids[i : i + 100], check=False)
    refs = set(docker("images", "-q", "--no-trunc", "--filter", LABEL_FILTER, check=False).split())
    tags = [
        t
        for t in docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).split()
        if t.startswith(f"{REPO}/")
    ]
    if refs or tags:
        log(f"cleanup: removing {len(refs | set(tags))} image reference(s)")
        # Tags first (never another image's), then our labelled images by id.
        for ref in [*tags, *sorted(refs)]:
            docker("rmi", "-f", ref, check=False)


# --- building and packing ------------------------------------------------------------


def host_target() -> dict:
    machine = platform.machine()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return manifest.target("arch", arch)


def build(name: str, tmp: Path, pausle: Path) -> tuple[Path, str]:
    source, cc, _ = CONTENDERS[name]
    out = tmp / name
    if source is None:
        if not pausle.is_file():
            raise SystemExit(f"{pausle}: not found; build it (tools/check.sh build) or pass --pausle")
        shutil.copyfile(pausle, out)
        shown = pausle.resolve()
        shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
        return out, f"copied from {shown}"
    src = BENCH / source
    if not src.is_file():
        raise SystemExit(f"{src}: missing")
    if shutil.which(cc) is None:
        raise SystemExit(f"{cc}: not found (apt-get install {'musl-tools' if cc == 'musl-gcc' else 'gcc libc6-dev'})")
    cmd = [cc, *CFLAGS, "-o", str(out), str(src)]
    run(cmd)
    return out, f"{cc} {' '.join(CFLAGS)} bench/{source}"


def retag_archive(src: Path, dst: Path, tag: str) -> None:
    """Copies a docker-archive, tagging it `tag` and adding the label pausle-bench=1 to its
    config (so cleanup finds it by label; a label changes no layer, so no size). The
    config is stored under its new digest; any OCI index is dropped, docker loads from
    manifest.json."""
    with tarfile.open(src) as tin:
        members = {m.name: (m, tin.extractfile(m).read() if m.isfile() else None) for m in tin}
    (mf_member, mf_bytes) = members["manifest.json"]
    mf = json.loads(mf_bytes)
    if len(mf) != 1:
        raise RuntimeError(f"{src}: expected one image, found {len(mf)}")
    cfg_name = mf[0]["Config"]
    cfg = json.loads(members[cfg_name][1])
    cfg.setdefault("config", {})
    cfg["config"]["Labels"] = {**(cfg["config"].get("Labels") or {}), LABEL: "1"}
    cfg_bytes = json.dumps(cfg, separators=(",", ":")).encode()
    new_cfg_name = hashlib.sha256(cfg_bytes).hexdigest() + ".json"
    mf[0]["Config"] = new_cfg_name
    mf[0]["RepoTags"] = [tag]
    drop = {"manifest.json", "repositories", "index.json", "oci-layout", cfg_name}
    with tarfile.open(dst, "w") as tout:
        for name, (m, data) in members.items():
            if name in drop:
                continue
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
        for name, data in ((new_cfg_name, cfg_bytes), ("manifest.json", json.dumps(mf).encode())):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tout.addfile(ti, io.BytesIO(data))


def pack(binary: Path, tmp: Path, oci_arch: str, tag: str, wait: float) -> None:
    mkimage = ROOT / "tools" / "mkimage.py"
    deadline = time.monotonic() + wait
    while not mkimage.is_file():
        if time.monotonic() > deadline:
            raise SystemExit(f"{mkimage}: missing")
        time.sleep(5)
    raw, tagged = tmp / f"{binary.name}.raw.tar", tmp / f"{binary.name}.tar"
    run([sys.executable, str(mkimage), "--binary", str(binary), "--arch", oci_arch, "--out", str(raw)])
    retag_archive(raw, tagged, tag)
    docker("load", "-i", str(tagged))


# --- measuring -----------------------------------------------------------------------


def start(image: str, name: str, network: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    cid = docker(
        "run", "-d", "--pull", "never", "--label", f"{LABEL}=1", "--label", f"{LABEL}.contender={name}",
        "--network", network, image,
    ).strip()
    return cid, time.perf_counter() - t0


def inspect(ids: list[str]) -> list[dict]:
    out = []
    for i in range(0, len(ids), 100):
        out += json.loads(docker("inspect", *ids[i : i + 100]))
    return out


def cgroup_memory(pid: int, cid: str) -> tuple[int | None, str | None]:
    """The container's memory cgroup usage in bytes and the file it came from."""
    candidates = []
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):  # v1
            candidates.append(Path("/sys/fs/cgroup/memory" + path) / "memory.usage_in_bytes")
        elif controllers == "":  # v2 unified
            candidates.append(Path("/sys/fs/cgroup" + path) / "memory.current")
    # In case this script runs in a cgroup namespace: the usual places, by container id.
    for d in ("docker", "system.slice/docker-{}.scope"):
        sub = d.format(cid) if "{}" in d else f"{d}/{cid}"
        candidates += [
            Path("/sys/fs/cgroup/memory") / sub / "memory.usage_in_bytes",
            Path("/sys/fs/cgroup") / sub / "memory.current",
        ]
    for f in candidates:
        try:
            return int(f.read_text()), str(f)
        except (OSError, ValueError):
            continue
    return None, None


def proc_kib(path: str, key: str) -> int | None:
    """A `Key:   N kB` line of a /proc file (status, smaps_rollup), in KiB."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def vmrss_kib(pid: int) -> int | None:
    return proc_kib(f"/proc/{pid}/status", "VmRSS")


def cgroup_version() -> str:
    return "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1"


def mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


def describe(name: str, image: str, binary: Path) -> dict:
    return {
        "name": name,
        "description": CONTENDERS[name][2],
        "image": image,
        "binary_bytes": binary.stat().st_size,
        "binary_sha256": hashlib.sha256(binary.read_bytes()).hexdigest(),
        "image_bytes": json.loads(docker("image", "inspect", image))[0]["Size"],
    }


def start_all(images: dict[str, str], args) -> dict[str, list[tuple[str, float]]]:
    """N rounds of one `docker run -d` per contender, one at a time. Each round's order
    is rotated, so background load and the growing number of running containers fall
    on every contender alike."""
    names = list(images)
    for name in names:  # warm-up, untimed: the first start of an image pays cold caches
        cid, _ = start(images[name], name, args.network)
        docker("rm", "-f", cid)
    started: dict[str, list[tuple[str, float]]] = {n: [] for n in names}
    log(f"starting {args.containers} containers for each of {len(names)} contenders, interleaved")
    for i in range(args.containers):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            started[name].append(start(images[name], name, args.network))
        if (i + 1) % 50 == 0:
            log(f"  {i + 1}/{args.containers} rounds")
    return started


def measure(name: str, started: list[tuple[str, float]], args) -> dict:
    ids = [c for c, _ in started]
    lat = [s for _, s in started]
    r: dict = {
        "containers": len(ids),
        "start_seconds": sum(lat),
        "starts_per_second": len(ids) / sum(lat),
        "start_latency_ms": {
            "median": 1000 * statistics.median(lat),
            "p95": 1000 * percentile(lat, 95),
            "max": 1000 * max(lat),
        },
    }
    info = inspect(ids)
    running = [c for c in info if c["State"]["Running"]]
    r["running"] = len(running)
    if len(running) != len(ids):
        bad = next(c for c in info if not c["State"]["Running"])
        raise RuntimeError(
            f"{name}: only {len(running)}/{len(ids)} containers running; e.g. {bad['Id'][:12]} "
            f"exited {bad['State']['ExitCode']}: {docker('logs', bad['Id'], check=False)[-300:]}"
        )
    mem, rss, files = [], [], set()
    for c in running:
        pid = c["State"]["Pid"]
        m, f = cgroup_memory(pid, c["Id"])
        mem.append(m)
        rss.append(vmrss_kib(pid))
        if f:
            files.add(Path(f).name)
    r |= {
        "cgroup_version": cgroup_version(),
        "cgroup_file": ",".join(sorted(files)) or None,
        "cgroup_memory_bytes_avg": mean(mem),
        "cgroup_memory_bytes_max": max((m for m in mem if m is not None), default=None),
        "vmrss_kib_avg": mean(rss),
    }
    return r


def stop_all(groups: dict[str, list[str]], args) -> dict[str, dict]:
    """Stops every contender's N in batches of 50 (what one `docker stop` of all N does: the
    CLI stops 50 at a time), one `docker stop -t T` per batch, the batches interleaved across
    contenders like the starts. Tearing a container down costs more while more are up, so
    stopping the contenders one after the other would favour whichever goes last; rotating
    the batches gives each the same mix. A contender's stop time is the sum of its batches'."""
    names = list(groups)
    took = {n: 0.0 for n in names}
    errors = []
    rounds = math.ceil(max(len(ids) for ids in groups.values()) / CLI_STOP_PARALLEL)
    log(f"stopping: {rounds} round(s) of one docker stop -t {args.stop_timeout} per contender")
    for i in range(rounds):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            batch = groups[name][i * CLI_STOP_PARALLEL : (i + 1) * CLI_STOP_PARALLEL]
            if not batch:
                continue
            t0 = time.perf_counter()
            p = run(["docker", "stop", "-t", str(args.stop_timeout), *batch], check=False)
            took[name] += time.perf_counter() - t0
            if p.returncode != 0:
                errors.append(f"{name}: docker stop failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    out = {}
    for name, ids in groups.items():
        codes: dict[str, int] = {}
        for c in inspect(ids):
            k = str(c["State"]["ExitCode"]) if not c["State"]["Running"] else "running"
            codes[k] = codes.get(k, 0) + 1
        if "running" in codes:
            errors.append(f"{name}: still running after docker stop: {codes}")
        out[name] = {"stop_seconds": took[name], "exit_codes": dict(sorted(codes.items()))}
        for j in range(0, len(ids), 100):
            docker("rm", "-f", "-v", *ids[j : j + 100], check=False)
    if errors:
        raise RuntimeError("; ".join(errors))
    return out


# --- reporting -----------------------------------------------------------------------


def fmt_kib(b: float | None) -> str:
    return "n/a" if b is None else f"{b / 1024:,.0f}"


def table(results: list[dict], n: int, stop_timeout: int) -> str:
    mem_file = next((r["cgroup_file"] for r in results if r.get("cgroup_file")), "cgroup")
    cg = results[0].get("cgroup_version", "")
    head = [
        "contender", "binary (bytes)", "image (bytes)", f"cgroup memory/container (KiB, {cg} {mem_file})",
        "VmRSS/container (KiB)", "starts/s", f"stop all {n}, -t {stop_timeout} (s)", "exit codes",
    ]
    rows = [
        [
            f"**{r['name']}**" if r["name"] == "pausle" else r["name"],
            f"{r['binary_bytes']:,}",
            f"{r['image_bytes']:,}",
            fmt_kib(r["cgroup_memory_bytes_avg"]),
            "n/a" if r["vmrss_kib_avg"] is None else f"{r['vmrss_kib_avg']:,.0f}",
            f"{r['starts_per_second']:.2f}",
            f"{r['stop_seconds']:.1f}",
            ", ".join(f"{k}: {v}" for k, v in r["exit_codes"].items()),
        ]
        for r in results
    ]
    align = ["---"] + ["---:"] * (len(head) - 2) + ["---"]
    lines = [head, align, *rows]
    return "\n".join("| " + " | ".join(row) + " |" for row in lines) + "\n"


def chart(results: list[dict], meta: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = [r["name"] for r in results]
    colors = ["#d1495b" if n == "pausle" else c for n, c in zip(names, ["#30638e", "#00798c", "#edae49", "#66a182"] * 2)]
    n, t = meta["containers"], meta["stop_timeout"]
    panels = [
        ("binary size (bytes, log)", [r["binary_bytes"] for r in results], "log", "{:,.0f}"),
        ("image size (bytes, log)", [r["image_bytes"] for r in results], "log", "{:,.0f}"),
        ("memory per container (KiB)", None, None, None),
        ("containers started per second\n(docker run -d, one at a time)", [r["starts_per_second"] for r in results], None, "{:.2f}"),
        (f"time to stop all {n} (s)\ndocker stop -t {t}", [r["stop_seconds"] for r in results], None, "{:.1f}"),
    ]
    fig, grid = plt.subplots(2, 3, figsize=(13.5, 7.8))
    axes = list(grid.flat)
    y = range(len(names))
    for ax, (title, vals, scale, f) in zip(axes, panels):
        ax.set_title(title, fontsize=10)
        ax.set_yticks(list(y), names)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        if vals is None:  # grouped: cgroup usage and VmRSS
            cg = [(r["cgroup_memory_bytes_avg"] or 0) / 1024 for r in results]
            rss = [r["vmrss_kib_avg"] or 0 for r in results]
            h = 0.38
            b1 = ax.barh([i - h / 2 for i in y], cg, h, color=colors)
            b2 = ax.barh([i + h / 2 for i in y], rss, h, color=colors, alpha=0.45, hatch="//")
            for bars, vs in ((b1, cg), (b2, rss)):
                for b, v in zip(bars, vs):
                    ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {v:,.0f}", va="center", fontsize=8)
            ax.legend(
                [Patch(color="#888"), Patch(facecolor="#888", alpha=0.45, hatch="//")],
                [f"memory cgroup ({meta['cgroup_version']})", "process VmRSS"],
                fontsize=8, loc="upper right",
            )
            ax.set_xlim(0, max(cg + rss) * 1.3)
            continue
        bars = ax.barh(list(y), vals, color=colors)
        if scale:
            ax.set_xscale(scale)
            ax.set_xlim(min(vals) / 2, max(vals) * 30)
        else:
            ax.set_xlim(0, max(vals) * 1.35)
        for b, v, r in zip(bars, vals, results):
            label = f" {f.format(v)}"
            if title.startswith("time to stop"):
                label += "  exit " + ", ".join(f"{k}\u00d7{c}" for k, c in r["exit_codes"].items())
            ax.text(b.get_width(), b.get_y() + b.get_height() / 2, label, va="center", fontsize=8)
    note = axes[-1]
    note.axis("off")
    note.text(
        0, 1,
        "\n".join([
            f"{n} containers per contender, all {n * len(results)} up at once.",
            f"Started by docker run -d --network {meta['network']},",
            "  one at a time, contenders interleaved.",
            "Memory: mean per running container.",
            f"Stopped by docker stop -t {t}, {CLI_STOP_PARALLEL} at a time",
            "  (as the CLI does), contenders interleaved.",
            "Exit 0: stopped at SIGTERM.",
            "Exit 137: ignored SIGTERM as PID 1,",
            f"  SIGKILLed after the {t} s grace.",
            "",
            f"Docker {meta['docker_server']}, {meta['storage_driver']}, cgroup {meta['cgroup_version']}",
            f"{meta['cpus']} CPUs, {meta['machine']}, Linux {meta['kernel']}",
            f"{meta['date']}:",
            meta["command"],
        ]),
        va="top", fontsize=8.5, family="monospace", wrap=True,
    )
    fig.suptitle(f"pausle vs. other pause programs: {n} containers each", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: list[dict], meta: dict) -> str:
    n, t = meta["containers"], meta["stop_timeout"]
    out = [
        f"# pausle benchmark, {meta['date']}\n",
        f"Command: `{meta['command']}`\n",
        f"Host: {meta['cpus']} CPUs, {meta['machine']}, Linux {meta['kernel']}; Docker engine "
        f"{meta['docker_server']} (storage {meta['storage_driver']}, cgroup {meta['cgroup_version']}, "
        f"{meta['cgroup_driver']} driver). N = {n} containers per contender, started one at a "
        f"time with `docker run -d --network {meta['network']}`, the contenders interleaved (round "
        f"robin, rotated each round), so all {n * len(results)} run at once; starts/s is N over the "
        f"summed time of a contender's own starts. They are stopped the same way: "
        f"`docker stop -t {t}` of {CLI_STOP_PARALLEL} ids at a time (what one `docker stop` of all "
        f"{n} does: the CLI stops {CLI_STOP_PARALLEL} at once), interleaved across contenders; stop "
        f"time is the sum of a contender's own calls. "
        f"Whole run: {meta['wall_seconds']:.0f} s.\n",
        table(results, n, t),
        "Builds: "
        + "; ".join(f"{r['name']}: {r['build']}" for r in results)
        + ". Every image is FROM scratch with the one binary, packed by tools/mkimage.py.\n",
        "Memory is the mean over the running containers, sampled once all were up. "
        "Exit code 0: stopped at SIGTERM; 137: ignored SIGTERM (a pause() PID 1 with no handler "
        "does), killed after the grace period.\n",
        "![chart](chart.png)\n",
    ]
    return "\n".join(out)


# --- main ----------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--containers", "-n", type=int, help="containers per contender (default 200; --quick: 5)")
    ap.add_argument("--stop-timeout", "-t", type=int, help="docker stop grace in seconds (default 10; --quick: 2)")
    ap.add_argument("--contenders", default=",".join(DEFAULT), help=f"comma-separated, from {','.join(CONTENDERS)} (default {','.join(DEFAULT)})")
    ap.add_argument("--pausle", type=Path, help="the pausle binary (default target/out/pausle-<host arch>)")
    ap.add_argument("--out", type=Path, default=BENCH / "results", help="output directory (default bench/results)")
    ap.add_argument("--network", default="none", help="docker run --network (default none)")
    ap.add_argument("--settle", type=float, help="seconds to wait after the starts before sampling memory (default 2; --quick: 0.5)")
    ap.add_argument("--quick", action="store_true", help="CI smoke test: N=5, -t 2, no chart if matplotlib is missing")
    ap.add_argument("--wait-mkimage", type=float, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.containers = a.containers or (5 if a.quick else 200)
    a.stop_timeout = a.stop_timeout if a.stop_timeout is not None else (2 if a.quick else 10)
    a.settle = a.settle if a.settle is not None else (0.5 if a.quick else 2.0)
    a.contenders = [c.strip() for c in a.contenders.split(",") if c.strip()]
    for c in a.contenders:
        if c not in CONTENDERS:
            ap.error(f"unknown contender {c!r}; choose from {', '.join(CONTENDERS)}")
    if a.containers < 1 or a.stop_timeout < 0:
        ap.error("--containers must be >= 1, --stop-timeout >= 0")
    return a


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def pong_mode(argv: list[str]) -> int:
    """bench/pongbench.py, with this module as its `run` (one copy of the helpers)."""
    sys.modules.setdefault("run", sys.modules[__name__])
    import pongbench

    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--pong", type=Path)
    known, rest = pre.parse_known_args(argv)
    return pongbench.main(known.pong, rest, argv)


def main(argv: list[str]) -> int:
    if any(a.split("=")[0] in ("--pong", "--pong-readme", "--pong-check-readme") for a in argv):
        return pong_mode(argv)
    args = parse(argv)
    target = host_target()
    pausle = args.pausle or ROOT / "target" / "out" / f"pausle-{target['arch']}"
    if shutil.which("docker") is None:
        raise SystemExit("docker: not found")
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    ver = json.loads(docker("version", "--format", "{{json .}}"))
    dinfo = json.loads(docker("info", "--format", "{{json .}}"))
    run_id = f"{os.getpid()}-{int(time.time())}"
    now = dt.datetime.now(dt.timezone.utc)
    meta = {
        "date": now.strftime("%Y-%m-%d"),
        "datetime_utc": now.isoformat(timespec="seconds"),
        "command": shlex.join(["python3", "bench/run.py", *argv]),
        "containers": args.containers,
        "stop_timeout": args.stop_timeout,
        "network": args.network,
        "settle_seconds": args.settle,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "docker_server": ver.get("Server", {}).get("Version"),
        "docker_client": ver.get("Client", {}).get("Version"),
        "storage_driver": dinfo.get("Driver"),
        "cgroup_driver": dinfo.get("CgroupDriver"),
        "cgroup_version": cgroup_version(),
        "oci_arch": target["oci-arch"],
        "git_revision": run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], check=False).stdout.strip() or None,
    }
    results: list[dict] = []
    t_all = time.perf_counter()
    try:
        cleanup()
        with tempfile.TemporaryDirectory(prefix="pausle-bench-") as tmpd:
            tmp = Path(tmpd)
            images = {}
            for name in args.contenders:
                binary, how = build(name, tmp, pausle)
                tag = f"{REPO}/{name}:{run_id}"
                pack(binary, tmp, target["oci-arch"], tag, args.wait_mkimage)
                images[name] = (tag, binary, how)
                log(f"{name}: {binary.stat().st_size} bytes ({how}) -> {tag}")
            results = [describe(n, images[n][0], images[n][1]) | {"build": images[n][2]} for n in args.contenders]
            started = start_all({n: images[n][0] for n in args.contenders}, args)
            time.sleep(args.settle)
            for r in results:
                r |= measure(r["name"], started[r["name"]], args)
            stopped = stop_all({n: [c for c, _ in started[n]] for n in started}, args)
            for r in results:
                r |= stopped[r["name"]]
                log(
                    f"{r['name']}: {r['binary_bytes']} B, {r['starts_per_second']:.2f} starts/s, "
                    f"{fmt_kib(r['cgroup_memory_bytes_avg'])} KiB cgroup, {r['vmrss_kib_avg']:.0f} KiB RSS, "
                    f"stop {r['stop_seconds']:.1f} s, exit codes {r['exit_codes']}"
                )
    except (KeyboardInterrupt, Interrupted) as e:
        log(f"interrupted ({str(e) or 'SIGINT'}); cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, on_signal)
    meta["wall_seconds"] = round(time.perf_counter() - t_all, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    try:
        chart(results, meta, args.out / "chart.png")
    except ImportError:
        if not args.quick:
            raise
        log("matplotlib not installed: no chart.png (pip install matplotlib)")
    md = markdown(results, meta)
    (args.out / "results.md").write_text(md)
    print(table(results, args.containers, args.stop_timeout), end="")
    log(f"wrote {args.out}/results.md, results.json, chart.png in {meta['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
