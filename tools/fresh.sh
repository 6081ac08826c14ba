#!/usr/bin/env bash
# tools/fresh.sh [COMMIT]: rehearse CI on a fresh machine of this kind, before a
# submission. Not part of .ci/run.
#
# 1. Bootstraps a clean Debian bookworm root file system from Debian's archive
#    (mmdebstrap --variant=minbase, apt sources exactly the machine's three suites:
#    bookworm, bookworm-updates, bookworm-security) and imports it into the host's
#    Docker. To it is added what a new machine of this kind itself comes with (the env
#    tool's machines/rust-docker.md and packages/installed-rust.txt): rustup with its
#    stable and nightly toolchains only, CPython 3.11 (pyenv) with pip and no
#    third-party package, gcc, git, Docker's engine and CLI with the engine's
#    configuration. Nothing that a session added: no other rustup toolchain, nothing
#    `cargo install` left in ~/.cargo/bin, no rust-lld link, no pip package.
#    The image is cached under a key of everything that goes into it.
# 2. Clones COMMIT (default: main of the repository this script is in) afresh, starts
#    a fresh (nearly) privileged container from the image with its OWN Docker engine (its data
#    root on a fresh volume; the host's socket is never handed in: the host's engine
#    holds images and state that a new machine would not have), and runs
#    `bash .ci/run` there as CI does: CI=true, no standard input, 90 minutes at most.
# 3. Prints .ci/run's last lines and how long it took, removes the container, its
#    volume and the clone, and exits with .ci/run's status.
#
# Shared with the host, not fresh: the kernel, and so binfmt_misc. .ci/run mounts it
# and enables the qemu-user-static entries; those registrations are the host kernel's
# (one table for the host and every container): entries that the host or another run
# left are seen inside, and the ones this run enables stay on the host afterwards.
#
# Environment: FRESH_LOG=file (default target/fresh/<commit>.log) gets .ci/run's whole
# output; FRESH_KEEP=1 keeps the container and clone for a look afterwards;
# FRESH_STAGES="build runtimes" runs only those stages of tools/check.sh (after all of
# .ci/run's installing), for a quicker loop. Only a run without it is the rehearsal.
set -euo pipefail
# All of it is one brace group, which bash reads to its closing brace before it runs
# any of it: editing this file during a run (half an hour) cannot change that run.
{

usage() { echo "usage: tools/fresh.sh [COMMIT]   (default: main)" >&2; }
case ${1:-} in -h | --help) usage; exit 0 ;; -*) usage; exit 2 ;; esac
[ $# -le 1 ] || { usage; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:-main}
commit=$(git -C "$repo" rev-parse --verify --quiet "$rev^{commit}") || {
  echo "fresh.sh: $rev is no commit of $repo" >&2
  exit 2
}
for tool in mmdebstrap docker git; do
  command -v "$tool" >/dev/null ||
    { echo "fresh.sh: $tool not found (apt-get install $tool)" >&2; exit 2; }
done
log=${FRESH_LOG:-$repo/target/fresh/${commit:0:12}.log}
mkdir -p "$(dirname "$log")"
log=$(cd "$(dirname "$log")" && pwd)/$(basename "$log")
say() { printf 'fresh.sh: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------
# What a new machine of this kind comes with.

# The machine's apt sources (its /etc/apt/sources.list.d/debian.sources), nothing else.
sources() {
  cat <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

# Debian packages of the machine kind, beyond minbase. A subset of installed-rust.txt
# (the image's 707 packages also hold Java, PostgreSQL, Node, ...): the named tools and
# what every such machine has at hand. Anything else a check needs must come from
# .ci/run, which this leaves to prove.
debs=(
  ca-certificates curl wget git gcc g++ make libc6-dev pkg-config
  mount procps iproute2 less file xz-utils unzip openssl lsb-release python3
  # rust-docker's engine, installed from Debian's packages and started before a session
  docker.io docker-compose fuse-overlayfs tini iptables
  # the shared libraries pyenv's CPython 3.11 is linked with
  libbz2-1.0 libexpat1 libffi8 liblzma5 libncursesw6 libnsl2 libreadline8
  libsqlite3-0 libssl3 libtirpc3 libuuid1 zlib1g libtcl8.6 libtk8.6
)

host_triple=$(rustc -vV | sed -n 's/^host: //p')
toolchains=("stable-$host_triple" "nightly-$host_triple") # not 1.97.1 or anything added
pyenv_version=$(cat "$HOME/.pyenv/version")
case $pyenv_version in 3.11.*) ;; *)
  echo "fresh.sh: ~/.pyenv/version is $pyenv_version, not the machine's CPython 3.11" >&2
  exit 2
  ;;
esac
# The machine's environment as CI gets it (less the coding client's variables); the
# CA variables point at the bundle that trusts the workplace's egress proxy.
image_env=(
  "PATH=/root/.cargo/bin:/root/.pyenv/plugins/pyenv-virtualenv/shims:/root/.pyenv/shims:/root/.pyenv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  HOME=/root PYENV_ROOT=/root/.pyenv RUSTUP_AUTO_INSTALL=0
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180
  SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt SSL_CERT_DIR=/etc/ssl/certs
  PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
  CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt GIT_SSL_CAINFO=/etc/ssl/certs/ca-certificates.crt
)
# The engine's configuration, as on the machine (fuse-overlayfs also works nested,
# with the data root on a volume).
daemon_json='{"data-root": "/var/lib/docker", "storage-driver": "fuse-overlayfs", "mtu": 1400, "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}}'
# The workplace's egress proxy terminates TLS: a new machine trusts its CA, and so
# must the container, or no registry answers. (Workplace plumbing, not the project's.)
egress_ca=/etc/ssl/certs/sandboxing-egress-ca.pem

# Copies $HOME's rustup (rustup, its proxies, the two toolchains) and a clean pyenv
# CPython into the root file system $1, and /usr/local's tools of the machine kind.
add_machine_tools() {
  local root=$1 t
  mkdir -p "$root/root/.cargo/bin" "$root/root/.rustup/toolchains" "$root/root/.rustup/update-hashes"
  cp -a "$HOME/.cargo/env" "$HOME/.cargo/bin/rustup" "$root/root/.cargo/"
  mv "$root/root/.cargo/rustup" "$root/root/.cargo/bin/rustup"
  # The proxies are links to rustup; a `cargo install`ed tool is a file of its own.
  for t in "$HOME"/.cargo/bin/*; do
    [ "$(readlink "$t")" = rustup ] && ln -s rustup "$root/root/.cargo/bin/${t##*/}"
  done
  cp -a "$HOME/.rustup/settings.toml" "$root/root/.rustup/"
  for t in "${toolchains[@]}"; do
    cp -a "$HOME/.rustup/toolchains/$t" "$root/root/.rustup/toolchains/"
    cp -a "$HOME/.rustup/update-hashes/$t" "$root/root/.rustup/update-hashes/"
  done
  # pyenv and its one CPython, less every distribution in its site-packages but the
  # two its own installer puts there (pip, setuptools): pip removes each one's files
  # (modules, scripts, man pages) as its RECORD lists them. Then whatever is left in
  # site-packages that no distribution owns.
  (cd "$HOME" && tar -c --exclude=.pyenv/versions --exclude=.pyenv/shims --exclude=.pyenv/.git \
    --exclude=.pyenv/test .pyenv) | tar -C "$root/root" -x
  local py=/root/.pyenv/versions/$pyenv_version/bin/python3
  (cd "$HOME" && tar -c ".pyenv/versions/$pyenv_version") | tar -C "$root/root" -x
  chroot "$root" "$py" - <<'PY'
import importlib.metadata as md
import pathlib
import shutil
import subprocess
import sys

keep = {"pip", "setuptools"}
site = pathlib.Path(next(p for p in sys.path if p.endswith("site-packages")))
names = {d.metadata["Name"].lower() for d in md.distributions(path=[str(site)])}
if names - keep:
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *sorted(names - keep)],
                   check=True)
left = {d.metadata["Name"].lower() for d in md.distributions(path=[str(site)])}
if left != keep:
    sys.exit(f"fresh.sh: site-packages still holds {sorted(left)}, want {sorted(keep)}")
owned = {"README.txt"}
for d in md.distributions(path=[str(site)]):
    owned |= {pathlib.Path(f).parts[0] for f in d.files or ()}
for p in site.iterdir():
    if p.name not in owned:
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
PY
  echo "$pyenv_version" >"$root/root/.pyenv/version"
  # /usr/local: the Docker CLI, cargo-nextest and the second git of the machine kind.
  (cd /usr/local && tar -c bin/docker bin/cargo-nextest bin/git bin/git-* bin/scalar \
    libexec/git-core share/git-core share/gitweb share/perl5) | tar -C "$root/usr/local" -x
  mkdir -p "$root/etc/docker"
  echo "$daemon_json" >"$root/etc/docker/daemon.json"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
  cp "$egress_ca" "$root/usr/local/share/ca-certificates/workplace-egress.crt"
  chroot "$root" update-ca-certificates >/dev/null 2>&1
  chroot "$root" env PYENV_ROOT=/root/.pyenv /root/.pyenv/bin/pyenv rehash
}

# The image is a pure function of this recipe and of what it copies from $HOME.
base_key() {
  {
    sources
    printf '%s\n' "${debs[@]}" "${toolchains[@]}" "$pyenv_version" "${image_env[@]}" "$daemon_json"
    declare -f add_machine_tools build_base
    for t in "${toolchains[@]}"; do "$HOME/.rustup/toolchains/$t/bin/rustc" -vV; done
    "$HOME/.pyenv/versions/$pyenv_version/bin/python3" --version
    /usr/local/bin/docker --version
    /usr/local/bin/git --version
    /usr/local/bin/cargo-nextest --version
    sha256sum "$egress_ca"
  } | sha256sum | cut -c1-16
}

build_base() {
  local image=$1 tmp e change=(--change 'CMD ["bash"]' --change 'WORKDIR /root')
  tmp=$(mktemp -d /var/tmp/pausle-fresh-base.XXXXXX)
  # shellcheck disable=SC2064 # expand now: $tmp is local
  trap "rm -rf '$tmp'" RETURN
  sources >"$tmp/debian.sources"
  mmdebstrap --mode=root --variant=minbase --quiet \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --include="$(IFS=,; echo "${debs[*]}")" \
    bookworm "$tmp/root" "$tmp/debian.sources"
  add_machine_tools "$tmp/root"
  rm -f "$tmp/root/etc/apt/sources.list"
  chroot "$tmp/root" apt-get clean
  for e in "${image_env[@]}"; do change+=(--change "ENV $e"); done
  tar -C "$tmp/root" --numeric-owner -c . | docker import "${change[@]}" - "$image" >/dev/null
}

# ---------------------------------------------------------------------------------
image=pausle-fresh-base:$(base_key)
if docker image inspect "$image" >/dev/null 2>&1; then
  say "base image $image (cached)"
else
  say "bootstrapping Debian bookworm into $image"
  build_base "$image"
fi

id=pausle-fresh-$$-${commit:0:8}
clone=$(mktemp -d /var/tmp/pausle-fresh-clone.XXXXXX)
# shellcheck disable=SC2317 # the EXIT trap calls it
cleanup() {
  if [ "${FRESH_KEEP:-}" = 1 ]; then
    say "kept: container and volume $id, clone $clone"
    return
  fi
  docker rm -f -v "$id" >/dev/null 2>&1 || true
  docker volume rm "$id" >/dev/null 2>&1 || true
  rm -rf "$clone"
  # Images of older keys are this script's own: dropped last, after the report.
  docker images --format '{{.Repository}}:{{.Tag}}' pausle-fresh-base | grep -vxF "$image" |
    xargs -r docker rmi >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "cloning $commit"
git clone -q --no-local --no-checkout \
  "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)" "$clone/pausle"
git -C "$clone/pausle" checkout -q --detach "$commit"

# Privileged, as far as this machine allows: its own engine needs mounts, cgroups,
# iptables and /dev/fuse, and .ci/run mounts binfmt_misc (the host kernel's, see
# above). Docker's --privileged asks for every capability, and the bounding set here
# lacks CAP_SYS_RESOURCE (runc: "unable to apply caps"), so the container gets what
# --privileged gives less that one: every other capability, no seccomp or AppArmor
# profile, unmasked /proc, every device allowed (/dev/fuse bound), and /sys with its
# cgroup mounts made writable inside before the engine starts. --init reaps.
privileged=(--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined
  --security-opt apparmor=unconfined --security-opt systempaths=unconfined
  --device-cgroup-rule 'a *:* rwm' --device /dev/fuse)
# A machine of this kind has one real file system (ext4) under every path. The
# container's root is the host engine's fuse-overlayfs instead, on which the kernel's
# overlayfs does not stack: podman's overlay storage fails there ("create /etc:
# operation not permitted"), and so do containerd's snapshots. So the paths where
# engines, runtimes and tests keep layers and state are bound from a fresh volume (a
# directory of the host's ext4), each with what the image had there: the tests'
# temporary directories, the runtimes' state under /run, the engines' data roots.
disk=/mnt/fresh-disk
disk_dirs=(/tmp /var/tmp /run /var/lib/docker /var/lib/containers /var/lib/containerd)
# The machine's cgroup layout: a tmpfs at /sys/fs/cgroup with a v1 hierarchy per
# controller, and beside them cgroup2 at /sys/fs/cgroup/unified holding hugetlb
# (hybrid). Docker's runc (cgroup v1, the host's cgroup namespace) binds the
# container's own cgroup of each v1 hierarchy and leaves the cgroup2 one out: plain
# v1, a layout no machine of this kind has (crun, for one, behaves differently on it).
# So every cgroup mount point the host has and the container lacks is mounted there
# as the host has it (type and options, from the host's mountinfo); in the host's
# cgroup namespace that is the host's own hierarchy, as on the machine.
# And the machine's pid_max (32768 here): since Linux 6.14 each PID namespace has its
# own, and a new one starts at the kernel's default (4194304), not its parent's.
# containers/common derives podman's default nproc ulimit from it and drops that
# default where it cannot be set (above the hard RLIMIT_NPROC, without
# CAP_SYS_RESOURCE), and with it podman's nofile default: podman behaves as on no
# machine of this kind (tests/runtimes' test_default_ulimits_are_needed_here).
pid_max=$(cat /proc/sys/kernel/pid_max)
host_cgroups=$(awk '{ for (i = 7; $i != "-"; i++); t = $(i + 1)
  if (t == "cgroup" || t == "cgroup2") print $5, t, $(i + 3) }' /proc/self/mountinfo)
docker volume create "$id" >/dev/null
docker run -d --name "$id" --hostname fresh --init "${privileged[@]}" \
  -v "$id:$disk" -v "$clone/pausle:/work/pausle" "$image" sleep infinity >/dev/null
# shellcheck disable=SC2016 # expanded in the container
docker exec -e HOST_CGROUPS="$host_cgroups" -e PID_MAX="$pid_max" "$id" sh -euc '
  disk=$1; shift
  for d; do
    mkdir -p "$d" "$disk$d"
    cp -a "$d/." "$disk$d/"
    mount --bind "$disk$d" "$d"
  done
  mount -o remount,rw /sys
  mount -o remount,rw /sys/fs/cgroup
  for d in /sys/fs/cgroup/*/; do mount -o remount,bind,rw "$d"; done
  echo "$HOST_CGROUPS" | while read -r at type opts; do
    mountpoint -q "$at" && continue
    mkdir -p "$at"
    mount -t "$type" -o "$opts" "$type" "$at"
  done
  echo "$PID_MAX" >/proc/sys/kernel/pid_max' sh "$disk" "${disk_dirs[@]}"
docker exec -d "$id" sh -c 'exec dockerd >/var/log/dockerd.log 2>&1'
for _ in $(seq 60); do
  docker exec "$id" docker info >/dev/null 2>&1 && break
  sleep 1
done
info='engine in the container: {{.ServerVersion}}, {{.Driver}}, {{.DockerRootDir}}, {{.Images}} images'
docker exec "$id" docker info --format "$info" >&2 || {
  docker exec "$id" tail -n 20 /var/log/dockerd.log >&2
  say "the container's own Docker engine did not start"
  exit 1
}

say "bash .ci/run in the container, output in $log"
start=$(date +%s)
status=0
{
  echo "== what the fresh machine has"
  docker exec "$id" sh -c 'rustup toolchain list; ls /root/.cargo/bin | tr "\n" " "; echo;
    echo "rust-lld: $(command -v rust-lld || echo none)"; python3 --version;
    python3 -m pip list 2>/dev/null | tail -n +3 | tr -s " " | tr "\n" " "; echo;
    docker version --format "docker {{.Client.Version}} / engine {{.Server.Version}}"'
  # shellcheck disable=SC2086 # FRESH_STAGES is a list of words
  timeout 5400 docker exec -e CI=true -w /work/pausle "$id" bash .ci/run ${FRESH_STAGES:-} \
    </dev/null || status=$?
} >"$log" 2>&1
secs=$(($(date +%s) - start))
echo "---- the last lines of .ci/run (all of it: $log)"
tail -n 25 "$log"
echo "---- .ci/run ${FRESH_STAGES:+(stages: $FRESH_STAGES) }exited $status after" \
  "$((secs / 60)) min $((secs % 60)) s (commit $commit, image $image)"
exit "$status"
}
