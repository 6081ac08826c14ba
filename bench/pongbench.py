"""pong against nginx and a plain hyper server, on one machine, in one run.

    python3 bench/run.py --pong target/out/pong-x86_64 --out bench/results
    python3 bench/run.py --pong target/out/pong-x86_64 --quick --out /tmp/smoke   # CI

This is bench/run.py's `--pong` mode: run.py's own helpers (processes, logging, Docker
labels and cleanup, percentiles, host description) do the plumbing; this module only
adds what an HTTP server needs. Contenders:

  pong        the binary given to --pong (tools/check.sh build makes target/out/pong-<arch>)
  nginx       Debian's nginx with bench/nginx-null.conf: one worker, no access log,
              keep-alive as long as the client likes, `return 200`
  hyper       bench/hyper_null.rs: hyper 1.x on tokio's current-thread runtime, 200 with an
              empty body (`cargo build --profile bench-hyper --example hyper-null`)

Method (this host has 2 cores): every server runs pinned to CPU 0 (sched_setaffinity in
the child before exec: what `taskset -c 0` does, without taskset's own exec in the start
time), the load generators under `taskset -c 1`. Each round starts every contender fresh
on a fresh port, in a rotated order, and measures it; a figure is the median over the
rounds, with the min-max spread beside it.

  start       exec to the first 200 on the new port (connect retried until it answers)
  statuses    a fixed set of requests (GET, HEAD, POST with a body, a query, HTTP/1.0, no
              Host); pong's statuses must equal nginx's
  throughput  wrk -t1 -c64 -d<D>: requests/s, and requests per CPU-second of the server
              (utime+stime of its processes from /proc/<pid>/stat over the run); a socket
              error or a non-2xx/3xx answer fails the run (--quick: every status counted by
              bench/wrk-status.lua, anything but 200 fails)
  latency     oha -q <rate> --latency-correction -c 1,16,64 -z <D>: p50, p99, p99.9;
              pong also with ?size=1024 and ?delay=1ms (not at -c 1: one connection
              cannot carry <rate> requests/s of 1 ms each)
  memory      VmRSS and Pss (smaps_rollup) of the serving process: idle after the first
              200, with 64 keep-alive connections open (each has had one answer), and with
              10,000. The runner raises its own and each server's soft RLIMIT_NOFILE to the
              hard limit (setrlimit; the shell's `ulimit -n <hard>`); nginx raises its
              worker's with worker_rlimit_nofile.
  host floor  once per round, before the contenders: a thread on CPU 0 that only sleeps to
              1 ms ticks for <D> seconds, and how late each wake-up is (p50, p99, p99.9,
              max): the scheduling hiccups of the host itself, which no server can beat
  size        the binary's bytes; with its shared libraries (ldd); and the bytes of a
              FROM-scratch image holding exactly those files (docker import, `docker image
              inspect` .Size, what `docker images` shows)

--profile: where each server's CPU goes under the same wrk load: `perf record -e
cpu-clock` of its processes over a <D>-second wrk run (perf from Debian's linux-perf; a
software clock, so it works where the hardware counters are not exposed), summed per
DSO by `perf report --sort dso`: the kernel, the server's own code, its libraries. It
adds "profile" to the pong-results.json in --out (made by a full run) and rewrites
pong-results.md from it; the rest of the file is left as it was.

--quick (CI): one round, start + statuses + a short wrk per contender, nothing else.
Needs: wrk, nginx (Debian), cargo, oha (cargo install --locked oha; not with --quick),
docker (sizes; not with --quick), matplotlib for the chart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import run as base

ROOT, BENCH = base.ROOT, base.BENCH
SERVER_CPU, LOAD_CPU = 0, 1
CONTENDERS = ["pong", "nginx", "hyper"]
CONNS = [1, 16, 64]
IDLE_CONNS = 10_000
# Requests the status check sends, each on its own connection: (label, bytes).
PROBES = [
    ("GET /", b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"),
    ("HEAD /", b"HEAD / HTTP/1.1\r\nHost: bench\r\n\r\n"),
    ("POST /x, 5-byte body", b"POST /x HTTP/1.1\r\nHost: bench\r\nContent-Length: 5\r\n\r\nhello"),
    ("GET /a/b?c=d", b"GET /a/b?c=d HTTP/1.1\r\nHost: bench\r\n\r\n"),
    ("GET / HTTP/1.0", b"GET / HTTP/1.0\r\n\r\n"),
    ("GET / HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n"),
]
REQ = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


class BenchError(Exception):
    """A contender misbehaved or a tool is missing: one line, exit 1."""


# --- the servers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit, for this process and what it starts."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def pin_server() -> None:  # runs in the child, between fork and exec
    os.sched_setaffinity(0, {SERVER_CPU})


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        # Fields after the command (which may hold spaces), from ") ": utime is 14, stime 15.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def pss_kib(pid: int) -> int | None:
    return base.proc_kib(f"/proc/{pid}/smaps_rollup", "Pss")


def status_of(sock: socket.socket, timeout: float = 5.0) -> tuple[int, bytes]:
    """Reads one response head; returns its status code and what followed the head."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError(f"connection closed before a response head ({buf[:80]!r})")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    if not m:
        raise BenchError(f"not an HTTP/1.x status line: {head[:80]!r}")
    return int(m.group(1)), rest


class Server:
    """One contender's server, started fresh on its own port."""

    def __init__(self, name: str, binary: Path, tmp: Path):
        self.name, self.binary, self.tmp = name, binary, tmp
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.stderr = tmp / f"{name}-{self.port}.stderr"

    def command(self) -> list[str]:
        if self.name == "nginx":
            d = self.tmp / f"nginx-{self.port}"
            (d / "tmp").mkdir(parents=True)
            conf = (BENCH / "nginx-null.conf").read_text()
            conf, n = re.subn(r"listen 127\.0\.0\.1:8080\b", f"listen 127.0.0.1:{self.port}", conf)
            if n != 1:
                raise BenchError("bench/nginx-null.conf: expected one `listen 127.0.0.1:8080`")
            (d / "nginx.conf").write_text(conf)
            return [str(self.binary), "-p", str(d), "-c", str(d / "nginx.conf"), "-e", "stderr"]
        return [str(self.binary), "--port", str(self.port)]

    def start(self, timeout: float = 10.0) -> float:
        """Starts the server; returns the seconds from exec to its first 200."""
        cmd = self.command()
        err = self.stderr.open("w")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err, preexec_fn=pin_server)
        deadline = t0 + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                    s.sendall(REQ)
                    status, _ = status_of(s, timeout)
                    took = time.perf_counter() - t0
                    break
            except (ConnectionRefusedError, ConnectionResetError):
                if self.proc.poll() is not None or time.perf_counter() > deadline:
                    raise BenchError(f"{self.name}: no answer on port {self.port} ({shlex.join(cmd)}): {self.log()}")
                time.sleep(0.0002)
        if status != 200:
            raise BenchError(f"{self.name}: first answer was {status}, not 200")
        return took

    def log(self) -> str:
        code = self.proc.poll() if self.proc else None
        text = self.stderr.read_text(errors="replace").strip()[-300:] if self.stderr.exists() else ""
        return (f"exited {code}; " if code is not None else "") + (text or "no stderr")

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name}: died: {self.log()}")

    def pids(self) -> list[int]:
        pids, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            pids.append(p)
            todo += children(p)
        return pids

    def worker(self) -> int:
        """The process that serves: nginx's one worker, else the server itself."""
        if self.name != "nginx":
            return self.proc.pid
        kids = children(self.proc.pid)
        if len(kids) != 1:
            raise BenchError(f"nginx: expected one worker process, found {len(kids)}")
        return kids[0]

    def memory(self) -> dict:
        w = self.worker()
        m = {"rss_kib": base.vmrss_kib(w), "pss_kib": pss_kib(w)}
        if self.name == "nginx":  # the master as well: what the whole nginx costs
            pids = self.pids()
            m["all_rss_kib"] = sum(base.vmrss_kib(p) or 0 for p in pids)
            m["all_pss_kib"] = sum(pss_kib(p) or 0 for p in pids)
        return m

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nginx: fast shutdown; pong: exit 0
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def statuses(srv: Server) -> dict[str, int]:
    out = {}
    for label, req in PROBES:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(req)
            out[label] = status_of(s)[0]
    return out


def hold(srv: Server, n: int, batch: int = 200) -> list[socket.socket]:
    """Opens n keep-alive connections, each with one 200 answered, and keeps them open."""
    socks: list[socket.socket] = []
    try:
        while len(socks) < n:
            new = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(min(batch, n - len(socks)))]
            socks += new
            for s in new:
                s.sendall(REQ)
            for s in new:
                status, rest = status_of(s)
                if status != 200 or rest:
                    raise BenchError(f"{srv.name}: connection {len(socks)} answered {status} (+{len(rest)} bytes)")
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


# --- load generators -----------------------------------------------------------------


def on_load_cpu(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(LOAD_CPU), *cmd]


def wrk(srv: Server, duration: float, count: bool) -> dict:
    cmd = ["wrk", "-t1", "-c64", f"-d{duration:g}s", f"http://127.0.0.1:{srv.port}/"]
    if count:
        cmd[1:1] = ["-s", str(BENCH / "wrk-status.lua")]
    pids = srv.pids()
    c0 = cpu_ticks(pids)
    p = base.run(on_load_cpu(cmd), check=False)
    cpu = (cpu_ticks(pids) - c0) / os.sysconf("SC_CLK_TCK")
    srv.alive()
    out = p.stdout
    if p.returncode != 0 or "Requests/sec" not in out:
        raise BenchError(f"{srv.name}: wrk failed ({p.returncode}): {(p.stderr or out).strip()[-300:]}")
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    reqs, secs = int(m.group(1)), float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r = {
        "requests": reqs,
        "seconds": secs,
        "rps": reqs / secs,
        "server_cpu_seconds": cpu,
        "rps_per_cpu_second": reqs / cpu if cpu > 0 else None,
        "socket_errors": dict(zip(["connect", "read", "write", "timeout"], map(int, errs.groups()))) if errs else {},
        "non_2xx_3xx": int(non2xx.group(1)) if non2xx else 0,
    }
    if count:
        r["statuses"] = {k: int(v) for k, v in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
    bad = {k: v for k, v in r["socket_errors"].items() if v}
    if bad or r["non_2xx_3xx"] or (count and set(r["statuses"]) != {"200"}):
        raise BenchError(f"{srv.name}: wrk saw errors: socket {bad}, non-2xx/3xx {r['non_2xx_3xx']}, statuses {r.get('statuses')}")
    return r


def oha(srv: Server, conns: int, rate: int, duration: float, query: str = "") -> dict:
    cmd = [
        "oha", "--no-tui", "--output-format", "json", "-c", str(conns), "-q", str(rate), "--latency-correction",
        "-z", f"{duration:g}s", f"http://127.0.0.1:{srv.port}/{query}",
    ]
    p = base.run(on_load_cpu(cmd), check=False)
    srv.alive()
    if p.returncode != 0:
        raise BenchError(f"{srv.name}: oha failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    j = json.loads(p.stdout)
    codes = {str(k): v for k, v in j.get("statusCodeDistribution", {}).items()}
    errors = j.get("errorDistribution", {})
    # oha counts the requests still in flight when -z runs out as errors (aborted); they
    # are not the server's. Anything else is.
    errors = {k: v for k, v in errors.items() if "aborted due to deadline" not in k}
    if errors or set(codes) != {"200"}:
        raise BenchError(f"{srv.name}: oha {query or '/'} -c {conns}: statuses {codes}, errors {errors}")
    pct = j["latencyPercentiles"]
    return {
        "requests": sum(codes.values()),
        "rps": j["summary"]["requestsPerSec"],
        "p50_ms": 1000 * pct["p50"],
        "p99_ms": 1000 * pct["p99"],
        "p99.9_ms": 1000 * pct["p99.9"],
    }


# What the host's scheduler alone adds to a wake-up on the server CPU: a process that
# only sleeps to absolute 1 ms ticks records how late each wake-up comes. A latency
# tail of this size is the host's (a VM's stolen time, the other load), not a server's.
FLOOR_PROBE = r"""
import sys, time
n = int(float(sys.argv[1]) * 1000)
late, t = [], time.monotonic_ns()
for _ in range(n):
    t += 1_000_000
    d = t - time.monotonic_ns()
    if d > 0:
        time.sleep(d / 1e9)
    late.append(time.monotonic_ns() - t)
late.sort()
print(*(late[int(q * (n - 1))] / 1e6 for q in (0.5, 0.99, 0.999, 1.0)))
"""


def host_floor(duration: float) -> dict:
    p = subprocess.run([sys.executable, "-c", FLOOR_PROBE, f"{duration:g}"], capture_output=True,
                       text=True, preexec_fn=pin_server, check=False)
    if p.returncode != 0:
        raise BenchError(f"host floor probe failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    p50, p99, p999, top = map(float, p.stdout.split())
    return {"p50_ms": p50, "p99_ms": p99, "p99.9_ms": p999, "max_ms": top}


# --- sizes ---------------------------------------------------------------------------


def libraries(binary: Path) -> list[Path]:
    p = base.run(["ldd", str(binary)], check=False)
    libs = re.findall(r"(/\S+) \(0x", p.stdout)  # "libc.so.6 => /lib/.. (0x..)" and the loader
    return sorted({Path(x).resolve() for x in libs})


def image_bytes(name: str, files: list[Path], run_id: str) -> int:
    """Imports a FROM-scratch image holding exactly these files and returns its .Size."""
    with tempfile.TemporaryDirectory(prefix="pong-bench-img-") as d:
        tar = Path(d) / "rootfs.tar"
        with tarfile.open(tar, "w") as t:
            for f in files:
                info = t.gettarinfo(str(f), arcname=str(f).lstrip("/"))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with f.open("rb") as fh:
                    t.addfile(info, fh)
        tag = f"{base.REPO}/{name}:{run_id}"
        base.docker("import", "--change", f"LABEL {base.LABEL}=1", str(tar), tag)
        size = json.loads(base.docker("image", "inspect", tag))[0]["Size"]
        base.docker("rmi", "-f", tag, check=False)
        return size


def sizes(name: str, binary: Path, run_id: str) -> dict:
    libs = libraries(binary)
    files = [binary.resolve(), *libs]
    if name == "nginx":
        files.append(BENCH / "nginx-null.conf")
    return {
        "binary_bytes": binary.stat().st_size,
        "binary_sha256": hashlib.sha256(binary.read_bytes()).hexdigest(),
        "libraries": [str(x) for x in libs],
        "with_libraries_bytes": sum(f.stat().st_size for f in [binary.resolve(), *libs]),
        "image_bytes": image_bytes(name, files, run_id),
        "image_files": len(files),
    }


# --- one round -----------------------------------------------------------------------


def measure(name: str, binary: Path, tmp: Path, args) -> dict:
    srv = Server(name, binary, tmp)
    r: dict = {}
    try:
        r["start_ms"] = 1000 * srv.start()
        if not args.quick:
            r["memory_idle"] = srv.memory()
        r["statuses"] = statuses(srv)
        r["wrk"] = wrk(srv, args.duration, count=args.quick)
        if args.quick:
            return r
        socks = hold(srv, 64)
        try:
            r["memory_64"] = srv.memory()
        finally:
            for s in socks:
                s.close()
        r["latency"] = {str(c): oha(srv, c, args.rate, args.latency_duration) for c in CONNS}
        if name == "pong":
            r["latency_size_1024"] = {str(c): oha(srv, c, args.rate, args.latency_duration, "?size=1024") for c in CONNS}
            r["latency_delay_1ms"] = {str(c): oha(srv, c, args.rate, args.latency_duration, "?delay=1ms") for c in CONNS[1:]}
        socks = hold(srv, args.idle_conns)
        try:
            r["memory_idle_conns"] = srv.memory() | {"connections": len(socks)}
            r["statuses_with_idle_conns"] = statuses(srv)["GET /"]
            if r["statuses_with_idle_conns"] != 200:
                raise BenchError(f"{name}: GET / answered {r['statuses_with_idle_conns']} with {len(socks)} connections open")
        finally:
            for s in socks:
                s.close()
        srv.alive()
        return r
    finally:
        srv.stop()


def watched_wrk(srv: Server, watcher: list[str], duration: float, interrupt: bool) -> tuple[dict, str]:
    """wrk against `srv` while `watcher` (perf, strace) is attached to it: wrk's result and
    the watcher's stderr. `interrupt`: the watcher runs until SIGINT (else it ends itself)."""
    tool = subprocess.Popen(watcher, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # attached before the load starts
    w = wrk(srv, duration, count=False)
    if interrupt:
        tool.send_signal(signal.SIGINT)
    _, err = tool.communicate()
    # strace prints its count and then dies of the SIGINT it was sent, as it should.
    if tool.returncode not in ((0, -signal.SIGINT) if interrupt else (0,)):
        raise BenchError(f"{srv.name}: {watcher[0]} failed ({tool.returncode}): {err.strip()[-300:]}")
    return w, err


def perf_shares(srv: Server, duration: float, tmp: Path) -> dict:
    """Percent of the server's CPU samples per DSO over a wrk run (see --profile)."""
    data = tmp / f"perf-{srv.name}.data"
    w, _ = watched_wrk(srv, ["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-o", str(data),
                             "-p", ",".join(map(str, srv.pids())), "--", "sleep", f"{duration + 1:g}"],
                       duration, interrupt=False)
    rep = base.run(["perf", "report", "-i", str(data), "--stdio", "--sort", "dso"], check=False)
    shares: dict[str, float] = {}
    for pct, dso in re.findall(r"^\s*([\d.]+)%\s+(\S+)\s*$", rep.stdout, re.M):
        shares[dso] = shares.get(dso, 0.0) + float(pct)
    if rep.returncode != 0 or not shares:
        raise BenchError(f"{srv.name}: perf report gave no samples: {(rep.stderr or rep.stdout).strip()[-300:]}")
    own = srv.binary.resolve().name
    kernel = sum(v for k, v in shares.items() if k.startswith("[kernel"))
    mine = shares.get(own, 0.0)
    return {"rps": w["rps"], "rps_per_cpu_second": w["rps_per_cpu_second"], "kernel_pct": kernel,
            "own_pct": mine, "other_pct": max(0.0, 100.0 - kernel - mine), "dsos": shares}


def syscalls_per_request(srv: Server, duration: float) -> dict:
    """`strace -c -f` of the server over a wrk run: each system call's count per request
    (strace slows the server down; only the counts are kept)."""
    w, err = watched_wrk(srv, ["strace", "-c", "-f", *[a for p in srv.pids() for a in ("-p", str(p))]],
                         duration, interrupt=True)
    calls = {name: int(n) for n, name in re.findall(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", err, re.M)
             if name != "total"}
    if not calls:
        raise BenchError(f"{srv.name}: strace -c counted nothing: {err.strip()[-300:]}")
    return {name: n / w["requests"] for name, n in sorted(calls.items(), key=lambda kv: -kv[1])}


def profile(bins: dict[str, Path], args, full_argv: list[str]) -> int:
    need("perf", "apt-get install linux-perf")
    need("strace", "apt-get install strace")
    src = args.out / "pong-results.json"
    if not src.exists():
        raise BenchError(f"{src}: missing; --profile adds to a full run's results")
    doc = json.loads(src.read_text())
    prof = {"command": shlex.join(["python3", "bench/run.py", *full_argv]), "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "duration": args.duration, "strace_duration": min(args.duration, 3), "contenders": {}}
    with tempfile.TemporaryDirectory(prefix="pong-profile-") as d:
        for n in args.contenders:
            srv = Server(n, bins[n], Path(d))
            try:
                srv.start()
                prof["contenders"][n] = r = perf_shares(srv, args.duration, Path(d))
                r["syscalls_per_request"] = syscalls_per_request(srv, prof["strace_duration"])
                srv.alive()
            finally:
                srv.stop()
            base.log(f"  {n}: kernel {r['kernel_pct']:.1f}%, own code {r['own_pct']:.1f}%, libraries and the rest {r['other_pct']:.1f}%")
    doc["profile"] = prof
    src.write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "pong-results.md").write_text(markdown(doc))
    base.log(f"added the profile to {src} and rewrote pong-results.md")
    return 0


def profile_text(doc: dict) -> str:
    prof = doc["profile"]
    names = [n for n in doc["meta"]["contenders"] if n in prof["contenders"]]
    return "\n".join([
        "## Where the server's CPU goes\n",
        f"`{prof['command']}` ({prof['date']}): `perf record -e cpu-clock` of the server's processes "
        f"over a `wrk -t1 -c64 -d{prof['duration']:g}s` run, the samples summed per DSO (`perf report "
        "--sort dso`); then the system calls per request, from `strace -c -f` of the server over a "
        f"{prof['strace_duration']:g}-second wrk run (strace slows it; only the counts are kept). The kernel's share is its TCP "
        "path for those calls.\n",
        md_table(["contender", "kernel (%)", "own code (%)", "libraries and the rest (%)", "req per server CPU-s",
                  "system calls per request (those above 0.01)"],
                 [[bold(n), f"{c['kernel_pct']:.1f}", f"{c['own_pct']:.1f}", f"{c['other_pct']:.1f}",
                   f"{c['rps_per_cpu_second'] or 0:,.0f}",
                   ", ".join(f"{k} {v:.2f}" for k, v in c["syscalls_per_request"].items() if v >= 0.01)]
                  for n in names for c in [prof["contenders"][n]]]),
    ])


# --- summary -------------------------------------------------------------------------


def spread(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "rounds": xs}


def summarise(rounds: list[dict]) -> dict:
    """Per-round values of every numeric leaf, gathered by their path, then median/min/max."""
    flat: dict[tuple, list[float]] = {}

    def walk(d, path):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, path + (k,))
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None:
                flat.setdefault(path + (k,), []).append(v)

    for r in rounds:
        walk(r, ())
    out: dict = {}
    for path, xs in flat.items():
        if len(xs) != len(rounds) or path[0].startswith("statuses"):
            continue
        d = out
        for k in path[:-1]:
            d = d.setdefault(k, {})
        d[path[-1]] = spread(xs)
    return out


def med(s: dict, *path: str) -> float | None:
    for k in path:
        if not isinstance(s, dict) or k not in s:
            return None
        s = s[k]
    return s["median"]


def goals(summary: dict[str, dict]) -> dict:
    if "pong" not in summary or "nginx" not in summary:
        return {}
    p, n = summary["pong"], summary["nginx"]
    g: dict = {}
    a, b = med(p, "wrk", "rps_per_cpu_second"), med(n, "wrk", "rps_per_cpu_second")
    if a and b:
        g["rps_per_cpu_second_pong_over_nginx"] = {"ratio": a / b, "goal": ">= 1", "met": a >= b}
    for c in CONNS:
        a, b = med(p, "latency", str(c), "p99_ms"), med(n, "latency", str(c), "p99_ms")
        if a and b:
            g[f"p99_c{c}_pong_over_nginx"] = {"ratio": a / b, "goal": "<= 1", "met": a <= b}
    a, b = med(p, "memory_idle", "rss_kib"), med(n, "memory_idle", "rss_kib")
    if a and b:
        g["idle_rss_pong_over_nginx_worker"] = {"ratio": a / b, "goal": "<= 0.1", "met": a <= b / 10}
    for c in CONNS[1:]:
        base50, base99 = med(p, "latency", str(c), "p50_ms"), med(p, "latency", str(c), "p99_ms")
        d50, d99 = med(p, "latency_delay_1ms", str(c), "p50_ms"), med(p, "latency_delay_1ms", str(c), "p99_ms")
        if None not in (base50, base99, d50, d99):
            g[f"delay_1ms_p50_offset_c{c}_ms"] = {"offset": d50 - base50, "goal": "<= 1.2", "met": d50 - base50 <= 1.2}
            g[f"delay_1ms_p99_offset_c{c}_ms"] = {"offset": d99 - base99, "goal": "<= 2", "met": d99 - base99 <= 2.0}
    return g


# --- reporting -----------------------------------------------------------------------


def cell(s: dict, path: str, f: str = "{:,.0f}", spread_: bool = True) -> str:
    d = s
    for k in path.split("/"):
        if not isinstance(d, dict) or k not in d:
            return "n/a"
        d = d[k]
    if len(d["rounds"]) == 1 or not spread_:
        return f.format(d["median"])
    return f"{f.format(d['median'])} ({f.format(d['min'])}–{f.format(d['max'])})"


def med_cell(s: dict, path: str, f: str = "{:,.0f}") -> str:
    return cell(s, path, f, spread_=False)


def md_table(head: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["---:"] * (len(head) - 1)
    return "\n".join("| " + " | ".join(r) + " |" for r in [head, align, *rows]) + "\n"


def bold(name: str) -> str:
    return f"**{name}**" if name == "pong" else name


def readme_table(doc: dict) -> str:
    """docs/benchmarks.md's table: the headline figures, medians over the rounds."""
    meta, S = doc["meta"], doc["summary"]
    rows = []
    for name in meta["contenders"]:
        s, z = S[name], doc["sizes"].get(name, {})
        rows.append([
            bold(name),
            f"{z['binary_bytes']:,}" if z else "n/a",
            f"{z['image_bytes']:,}" if z else "n/a",
            med_cell(s, "start_ms", "{:.1f}"),
            med_cell(s, "wrk/rps"),
            med_cell(s, "wrk/rps_per_cpu_second"),
            " / ".join(med_cell(s, f"latency/64/{q}_ms", "{:.2f}") for q in ("p50", "p99", "p99.9")),
            med_cell(s, "memory_idle/rss_kib"),
            med_cell(s, "memory_idle_conns/rss_kib"),
        ])
    head = [
        "contender", "binary (bytes)", "image (bytes)", "start (ms)", "req/s", "req per server CPU-s",
        f"p50 / p99 / p99.9 at {meta['rate']}/s, 64 conns (ms)", "RSS idle (KiB)", f"RSS, {meta['idle_conns']:,} conns (KiB)",
    ]
    return md_table(head, rows)


def readme_block(doc: dict) -> str:
    m = doc["meta"]
    lines = [
        f"Measured on {m['date']} with `{m['command']}` ({m['wall_seconds'] / 60:.0f} min). "
        f"Host: {m['cpus']} CPUs, {m['machine']}, Linux {m['kernel']}; servers on CPU {SERVER_CPU}, "
        f"wrk and oha on CPU {LOAD_CPU}; medians of {m['rounds']} interleaved rounds "
        "([bench/results/pong-results.md](../bench/results/pong-results.md) has the spreads):\n",
        readme_table(doc),
    ]
    if doc.get("host_floor"):
        lines.append(floor_text(doc))
    if doc["goals"]:
        lines.append("Goals, as ratios from this run:\n")
        lines.append(goals_text(doc["goals"]))
    if doc.get("profile"):
        c = doc["profile"]["contenders"]
        lines.append("Where the server's CPU goes under wrk (`--profile`, perf): its own code "
                     + ", ".join(f"{n} {c[n]['own_pct']:.1f}%" for n in m["contenders"] if n in c)
                     + "; the rest is the kernel's TCP path for one read and one writev per request.\n")
    lines.append("![pong benchmark chart](../bench/results/pong-chart.png)\n")
    return "\n".join(lines)


def floor_text(doc: dict) -> str:
    f, m = doc["host_floor"], doc["meta"]
    q = " / ".join(f"{f[k]['median']:.3f}" for k in ("p50_ms", "p99_ms", "p99.9_ms", "max_ms"))
    return (f"The host's own floor (ms): a thread on CPU {SERVER_CPU} that only sleeps to 1 ms ticks "
            f"for {m['latency_duration']:g} s each round wakes late by p50 / p99 / p99.9 / max {q} "
            f"(medians; max over the rounds {f['max_ms']['max']:.1f}). A latency tail of that size is "
            "the host's scheduling (a VM's stolen time), whatever serves.\n")


def goals_text(g: dict) -> str:
    out = []
    for k, v in g.items():
        val = f"{v['ratio']:.3g}" if "ratio" in v else f"{v['offset']:.3f} ms"
        out.append(f"- `{k}`: {val} (goal {v['goal']}): {'met' if v['met'] else '**not met**'}")
    return "\n".join(out) + "\n"


def markdown(doc: dict) -> str:
    m, S, Z = doc["meta"], doc["summary"], doc["sizes"]
    names = m["contenders"]
    out = [
        f"# pong against nginx and hyper, {m['date']}\n",
        f"Command: `{m['command']}`\n",
        f"Host: {m['cpus']} CPUs, {m['machine']}, Linux {m['kernel']}. Every server pinned to CPU "
        f"{SERVER_CPU}, the load generators (`taskset -c {LOAD_CPU}`) to CPU {LOAD_CPU}. {m['rounds']} "
        f"round(s), contenders in a rotated order each round, each started fresh; figures are the "
        f"median (min–max) over the rounds. Fd limit: soft RLIMIT_NOFILE raised to the hard limit "
        f"({m['nofile_hard']:,}) for the runner and every server; nginx also `worker_rlimit_nofile`. "
        f"Whole run: {m['wall_seconds']:.0f} s. Tools: {m['tools']}.\n",
        "## Throughput and start\n",
        f"`wrk -t1 -c64 -d{m['duration']:g}s` (keep-alive). Server CPU: utime+stime of all its "
        "processes over the run, from /proc/<pid>/stat. Start: exec to the first 200 on a fresh port.\n",
        md_table(
            ["contender", "req/s", "server CPU-s", "req per server CPU-s", "start (ms)"],
            [[bold(n), cell(S[n], "wrk/rps"), cell(S[n], "wrk/server_cpu_seconds", "{:.2f}"),
              cell(S[n], "wrk/rps_per_cpu_second"), cell(S[n], "start_ms", "{:.2f}")] for n in names],
        ),
    ]
    if any("latency" in S[n] for n in names):
        out += [
            "## Latency at a fixed rate\n",
            f"`oha -q {m['rate']} --latency-correction -z {m['latency_duration']:g}s -c C` (ms):\n",
            md_table(
                ["contender", *[f"c={c} p50 / p99 / p99.9" for c in CONNS]],
                [[bold(n), *[" / ".join(med_cell(S[n], f"latency/{c}/{q}_ms", "{:.3f}")
                                        for q in ("p50", "p99", "p99.9")) for c in CONNS]] for n in names],
            ),
        ]
        if doc.get("host_floor"):
            out.append(floor_text(doc))
        if "latency_delay_1ms" in S.get("pong", {}):
            rows = []
            for label, key in (("GET /", "latency"), ("?size=1024", "latency_size_1024"), ("?delay=1ms", "latency_delay_1ms")):
                rows.append([label, *[" / ".join(med_cell(S["pong"], f"{key}/{c}/{q}_ms", "{:.3f}")
                                                 for q in ("p50", "p99", "p99.9")) for c in CONNS]])
            out += [
                "pong's parameters at the same rate (ms; `delay` not at c=1, where one connection "
                f"cannot carry {m['rate']} requests/s of 1 ms each):\n",
                md_table(["pong", *[f"c={c} p50 / p99 / p99.9" for c in CONNS]], rows),
            ]
        out += [
            "## Memory\n",
            "VmRSS / Pss (KiB) of the serving process (nginx: its worker; the master in "
            "parentheses of the JSON, `all_*`), idle after the first 200, with 64 keep-alive "
            f"connections open and with {m['idle_conns']:,}, each having had one answer:\n",
            md_table(
                ["contender", "idle RSS", "idle Pss", "64 conns RSS", "64 conns Pss", f"{m['idle_conns']:,} RSS", f"{m['idle_conns']:,} Pss"],
                [[bold(n), *[cell(S[n], f"{k}/{q}") for k in ("memory_idle", "memory_64", "memory_idle_conns") for q in ("rss_kib", "pss_kib")]] for n in names],
            ),
        ]
    if Z:
        out += [
            "## Size\n",
            "Binary; binary with the shared libraries `ldd` lists; a FROM-scratch image of "
            "exactly those files (nginx: and its config), `docker image inspect` .Size.\n",
            md_table(
                ["contender", "binary (bytes)", "with libraries (bytes)", "image (bytes)", "libraries"],
                [[bold(n), f"{Z[n]['binary_bytes']:,}", f"{Z[n]['with_libraries_bytes']:,}", f"{Z[n]['image_bytes']:,}",
                  ", ".join(Path(x).name for x in Z[n]["libraries"]) or "none (static)"] for n in names if n in Z],
            ),
            PUBLISHED,
        ]
    if doc["goals"]:
        out += ["## Goals\n", goals_text(doc["goals"])]
    if doc.get("profile"):
        out.append(profile_text(doc))
    st = doc["statuses"]
    out += [
        "## Statuses\n",
        md_table(["request", *names], [[label, *[str(st[n][label]) for n in names]] for label, _ in PROBES]),
    ]
    if m.get("chart"):
        out.append("![chart](pong-chart.png)\n")
    return "\n".join(out)


PUBLISHED = (
    "For scale, the Go backends that cannot be built here, as their publishers describe them: "
    "fortio's server (Istio's benchmark backend) calls its image \"3Mb\" (fortio/fortio README.md: "
    "\"small (3Mb docker image, minimal dependencies)\"); agnhost "
    "(Kubernetes' e2e backend) publishes no size: its image is one multi-command Go binary "
    "on `alpine:3.21` (kubernetes/kubernetes test/images/agnhost/BASEIMAGE).\n"
)


def chart(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m, S, Z = doc["meta"], doc["summary"], doc["sizes"]
    names = m["contenders"]
    color = {"pong": "#d1495b", "nginx": "#30638e", "hyper": "#edae49"}
    y = list(range(len(names)))

    def get(n, path):
        d = S[n]
        for k in path.split("/"):
            d = d.get(k, {}) if isinstance(d, dict) else {}
        return d if "median" in d else None

    def bars(ax, title, path, f, log=False):
        ax.set_title(title, fontsize=10)
        vals = [get(n, path) for n in names]
        med_ = [v["median"] if v else 0 for v in vals]
        err = [[(v["median"] - v["min"]) if v else 0 for v in vals], [(v["max"] - v["median"]) if v else 0 for v in vals]]
        b = ax.barh(y, med_, xerr=err, color=[color[n] for n in names], capsize=3)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        if log:
            ax.set_xscale("log")
        else:  # thousands as "125k": six-digit tick labels run into each other
            ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k" if x >= 1000 else f"{x:g}")
        top = max(max(med_), max(v["max"] for v in vals if v) if any(vals) else 0, 1e-9)
        ax.set_xlim(min([x for x in med_ if x > 0] or [1]) / 3 if log else 0, top * (30 if log else 1.45))
        for bar, v in zip(b, med_):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, "  " + f.format(v), va="center", fontsize=8)

    def grouped(ax, title, groups, f, log=True, unit="", room=40):
        """groups: [(label, path-template with {n})]; one cluster per contender."""
        ax.set_title(title, fontsize=10)
        h = 0.8 / len(groups)
        shades = [1.0, 0.6, 0.3][: len(groups)]
        vals_all = []
        for gi, (label, tmpl) in enumerate(groups):
            vals = []
            for n in names:
                v = get(n, tmpl) if not callable(tmpl) else tmpl(n)
                vals.append(v["median"] if isinstance(v, dict) else (v or 0))
            vals_all += [v for v in vals if v]
            pos = [i - 0.4 + h * (gi + 0.5) for i in y]
            b = ax.barh(pos, vals, h, color=[color[n] for n in names], alpha=shades[gi], label=label)
            for bar, v in zip(b, vals):
                if v:
                    ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + f.format(v) + unit, va="center", fontsize=7)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        if vals_all:
            if log:
                ax.set_xscale("log")
                ax.set_xlim(min(vals_all) / 3, max(vals_all) * room)
            else:
                ax.set_xlim(0, max(vals_all) * 1.5)
        ax.legend(fontsize=7, loc="lower right")

    fig, grid = plt.subplots(3, 3, figsize=(16, 12))
    ax = list(grid.flat)
    bars(ax[0], f"throughput, req/s\n(wrk -t1 -c64, {m['duration']:g} s)", "wrk/rps", "{:,.0f}")
    bars(ax[1], "requests per server CPU-second\n(utime+stime over the wrk run)", "wrk/rps_per_cpu_second", "{:,.0f}")
    bars(ax[2], "start: exec to first 200 (ms, log)", "start_ms", "{:.2f}", log=True)
    have_latency = any(get(n, "latency/64/p99_ms") for n in names)
    floor = doc.get("host_floor", {})
    for i, c in enumerate(CONNS):
        if have_latency:
            grouped(ax[3 + i], f"latency at {m['rate']}/s, {c} conn{'s' if c > 1 else ''}\n(ms, log; oha --latency-correction)"
                    + ("\nlines: the host floor p99 (dashed), p99.9 (dotted)" if floor else ""),
                    [(q, f"latency/{c}/{q}_ms") for q in ("p50", "p99", "p99.9")], "{:.3f}", room=400)
            for q, style in (("p99_ms", "--"), ("p99.9_ms", ":")):
                if q in floor:
                    ax[3 + i].axvline(floor[q]["median"], color="0.3", ls=style, lw=1)
        else:
            ax[3 + i].axis("off")
    if have_latency:
        grouped(ax[6], "memory, VmRSS (KiB, log)\nnginx: its worker", [
            ("idle", "memory_idle/rss_kib"), ("64 conns", "memory_64/rss_kib"),
            (f"{m['idle_conns']:,} conns", "memory_idle_conns/rss_kib")], "{:,.0f}", room=400)
    else:
        ax[6].axis("off")
    if Z:
        grouped(ax[7], "size (bytes, log)", [
            ("binary", lambda n: Z.get(n, {}).get("binary_bytes")),
            ("with shared libraries", lambda n: Z.get(n, {}).get("with_libraries_bytes")),
            ("FROM-scratch image", lambda n: Z.get(n, {}).get("image_bytes"))], "{:,.0f}", room=400)
    else:
        ax[7].axis("off")
    pong_params(ax[8], S.get("pong", {}), m)
    fig.text(0.01, 0.005, (
        f"Servers on CPU {SERVER_CPU}, wrk/oha on CPU {LOAD_CPU}; {m['rounds']} interleaved round(s); bars: median, "
        f"whiskers: min-max over the rounds. {m['cpus']} CPUs, {m['machine']}, Linux {m['kernel']}.\n"
        f"{m['date']}: {m['command']}"), fontsize=8, family="monospace", va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pong_params(ax, p: dict, m: dict) -> None:
    """pong's own parameters at the same rate: p50 and p99 per connection count, linear ms."""
    rows = [("GET /", "latency"), ("?size=1024", "latency_size_1024"), ("?delay=1ms", "latency_delay_1ms")]
    if "latency_delay_1ms" not in p:
        ax.axis("off")
        return
    ax.set_title(f"pong's parameters at {m['rate']}/s (ms)\nsolid p50, light p99", fontsize=10)
    labels, p50, p99 = [], [], []
    for c in CONNS[1:]:
        for label, key in rows:
            labels.append(f"{label}, c={c}")
            p50.append(p[key][str(c)]["p50_ms"]["median"])
            p99.append(p[key][str(c)]["p99_ms"]["median"])
    y = list(range(len(labels)))
    ax.barh(y, p99, color="#d1495b", alpha=0.35)
    ax.barh(y, p50, color="#d1495b")
    for i, (a, b) in enumerate(zip(p50, p99)):
        ax.text(b, i, f"  {a:.2f} / {b:.2f}", va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(p99) * 1.5)
    ax.grid(axis="x", alpha=0.3)


# --- docs/benchmarks.md --------------------------------------------------------------


def readme(check: bool, results: Path) -> int:
    """Writes (or, with check, compares) docs/benchmarks.md's block from pong-results.json.
    The block is tools/figures.py's `pong-bench` (readme_block), beside the page's other
    generated figures: one mechanism for every generated block."""
    sys.path.insert(0, str(ROOT / "tools"))
    import cli
    import figures

    figures.PONG_RESULTS = results / "pong-results.json"
    page = ROOT / "docs" / "benchmarks.md"
    return cli.run("bench/run.py --pong-readme", figures.main, ["--check"] * check + [str(page)])


# --- main ----------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench/run.py --pong PONG", description="pong against nginx and hyper")
    ap.add_argument("--contenders", default=",".join(CONTENDERS), help=f"comma-separated, from {','.join(CONTENDERS)}")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 5; --quick: 1)")
    ap.add_argument("--duration", type=float, help="wrk seconds per run (default 10; --quick: 2)")
    ap.add_argument("--rate", type=int, default=1000, help="oha's fixed rate, requests/s (default 1000)")
    ap.add_argument("--latency-duration", type=float, default=10, help="oha seconds per run (default 10)")
    ap.add_argument("--idle-conns", type=int, default=IDLE_CONNS, help=f"idle keep-alive connections (default {IDLE_CONNS:,})")
    ap.add_argument("--hyper", type=Path, help="a built hyper-null (default: cargo build --profile bench-hyper --example hyper-null)")
    ap.add_argument("--nginx", type=Path, help="the nginx binary (default: nginx on PATH or /usr/sbin/nginx)")
    ap.add_argument("--out", type=Path, default=BENCH / "results", help="output directory (default bench/results)")
    ap.add_argument("--profile", action="store_true", help="perf profile of each server under wrk, added to --out's pong-results.json")
    ap.add_argument("--quick", action="store_true", help="CI smoke: one round, start, statuses and a short wrk per contender")
    a = ap.parse_args(argv)
    a.rounds = a.rounds or (1 if a.quick else 5)
    a.duration = a.duration or (2 if a.quick else 10)
    a.contenders = [c.strip() for c in a.contenders.split(",") if c.strip()]
    for c in a.contenders:
        if c not in CONTENDERS:
            ap.error(f"unknown contender {c!r}; choose from {', '.join(CONTENDERS)}")
    if a.profile and a.quick:
        ap.error("--profile and --quick do not go together")
    if a.rounds < 1 or a.duration <= 0 or a.rate < 1 or a.latency_duration <= 0 or a.idle_conns < 1:
        ap.error("--rounds, --duration, --rate, --latency-duration and --idle-conns must be positive")
    return a


def need(tool: str, how: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BenchError(f"{tool}: not found ({how})")
    return path


def binaries(args, pong: Path | None) -> dict[str, Path]:
    out = {}
    for name in args.contenders:
        if name == "pong":
            if pong is None or not pong.is_file() or not os.access(pong, os.X_OK):
                raise BenchError(f"{pong}: no pong binary there (tools/check.sh build makes target/out/pong-<arch>)")
            out[name] = pong
        elif name == "nginx":
            path = args.nginx or shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
            if path is None:
                raise BenchError("nginx: not found (apt-get install nginx-light)")
            out[name] = Path(path)
        elif name == "hyper":
            if args.hyper:
                out[name] = args.hyper
            else:
                base.log("hyper: cargo build --profile bench-hyper --example hyper-null")
                base.run([need("cargo", "rustup or apt-get install cargo"), "build", "-q", "--profile", "bench-hyper", "--example", "hyper-null"], cwd=ROOT)
                out[name] = ROOT / "target" / "bench-hyper" / "examples" / "hyper-null"
            if not out[name].is_file():
                raise BenchError(f"{out[name]}: no hyper-null binary")
    return out


def tool_versions(args) -> str:
    v = []
    p = base.run(["wrk", "--version"], check=False)
    v.append((p.stdout + p.stderr).split("[")[0].strip().replace("\n", " "))
    if not args.quick:
        v.append(base.run(["oha", "--version"]).stdout.strip())
    return ", ".join(v)


def main(pong: Path | None, argv: list[str], full_argv: list[str]) -> int:
    if argv[:1] in (["--pong-readme"], ["--pong-check-readme"]):
        out = Path(argv[1]) if len(argv) > 1 else BENCH / "results"
        return readme(argv[0] == "--pong-check-readme", out)
    args = parse(argv)
    try:
        return bench(pong, args, full_argv)
    except BenchError as e:
        print(f"bench/run.py --pong: {e}", file=sys.stderr)
        return 1


def bench(pong: Path | None, args, full_argv: list[str]) -> int:
    need("wrk", "apt-get install wrk")
    need("taskset", "util-linux")
    if len(os.sched_getaffinity(0) | {SERVER_CPU, LOAD_CPU}) > len(os.sched_getaffinity(0)):
        raise BenchError(f"needs CPUs {SERVER_CPU} and {LOAD_CPU}; this process may use {sorted(os.sched_getaffinity(0))}")
    if args.profile:
        raise_nofile()
        return profile(binaries(args, pong), args, full_argv)
    if not args.quick:
        need("oha", "cargo install --locked oha")
        need("docker", "a local Docker engine, for the image sizes")
    hard = raise_nofile()
    if not args.quick and hard < args.idle_conns + 1000:
        raise BenchError(f"RLIMIT_NOFILE hard limit {hard} is below {args.idle_conns} connections + 1000; raise it (ulimit -Hn) or pass --idle-conns")
    bins = binaries(args, pong)
    now = time.gmtime()
    meta = {
        "date": time.strftime("%Y-%m-%d", now),
        "command": shlex.join(["python3", "bench/run.py", *full_argv]),
        "contenders": args.contenders,
        "rounds": args.rounds,
        "duration": args.duration,
        "rate": args.rate,
        "latency_duration": args.latency_duration,
        "idle_conns": args.idle_conns,
        "quick": args.quick,
        "nofile_hard": hard,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "tools": tool_versions(args),
        "binaries": {n: (str(p.resolve().relative_to(ROOT)) if p.resolve().is_relative_to(ROOT) else str(p)) for n, p in bins.items()},
    }
    run_id = f"pong-{os.getpid()}-{int(time.time())}"
    rounds: dict[str, list[dict]] = {n: [] for n in args.contenders}
    floor: list[dict] = []
    t_all = time.perf_counter()
    sizes_: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="pong-bench-") as d:
        tmp = Path(d)
        if not args.quick:
            for n in args.contenders:
                sizes_[n] = sizes(n, bins[n], run_id)
        for i in range(args.rounds):
            k = i % len(args.contenders)
            order = args.contenders[k:] + args.contenders[:k]
            base.log(f"round {i + 1}/{args.rounds}: {', '.join(order)}")
            if not args.quick:
                floor.append(host_floor(args.latency_duration))
                base.log("  host floor: wake-up late by p99 {p99_ms:.3f} ms, max {max_ms:.3f} ms".format(**floor[-1]))
            for n in order:
                r = measure(n, bins[n], tmp, args)
                rounds[n].append(r)
                w = r["wrk"]
                base.log(f"  {n}: start {r['start_ms']:.2f} ms, {w['rps']:,.0f} req/s, "
                         f"{w['rps_per_cpu_second'] or 0:,.0f} req/CPU-s" +
                         (f", p99@64 {r['latency']['64']['p99_ms']:.3f} ms, idle RSS {r['memory_idle']['rss_kib']} KiB" if "latency" in r else ""))
            if "pong" in rounds and "nginx" in rounds:
                p_st, n_st = rounds["pong"][-1]["statuses"], rounds["nginx"][-1]["statuses"]
                diff = {k: (p_st[k], n_st[k]) for k in p_st if p_st[k] != n_st[k]}
                if diff:
                    raise BenchError(f"pong's statuses differ from nginx's (pong, nginx): {diff}")
    meta["wall_seconds"] = round(time.perf_counter() - t_all, 1)
    summary = {n: summarise(rs) for n, rs in rounds.items()}
    doc = {
        "meta": meta,
        "summary": summary,
        "goals": goals(summary),
        "host_floor": summarise(floor) if floor else {},
        "sizes": sizes_,
        "statuses": {n: rs[-1]["statuses"] for n, rs in rounds.items()},
        "rounds": rounds,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        chart(doc, args.out / "pong-chart.png")
        meta["chart"] = "pong-chart.png"
    except ImportError:
        if not args.quick:
            raise
        base.log("matplotlib not installed: no pong-chart.png (pip install matplotlib)")
    (args.out / "pong-results.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "pong-results.md").write_text(markdown(doc))
    print(readme_table(doc), end="")
    if doc["goals"]:
        print(goals_text(doc["goals"]), end="")
    wrote = ["pong-results.md", "pong-results.json", *([meta["chart"]] if meta.get("chart") else [])]
    base.log(f"wrote {', '.join(wrote)} to {args.out} in {meta['wall_seconds']} s")
    return 0
